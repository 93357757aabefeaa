#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A purpose-built JSON decoder for the scheduler events that dominate a Mesos stream: OFFERS (with their
/// offers, resources, attributes, URLs, domains and allocation info), HEARTBEAT and RESCIND.
///
/// It fills the same generated types swift-protobuf does and must give an EQUAL value for every input it
/// accepts; for anything else (other event types, fields it does not decode, `null`, escaped keys, quoted
/// or non-finite numbers, numeric enums, duplicate keys, deep nesting) it returns `nil` and the caller
/// decodes with swift-protobuf. Keys that are not fields of the message are skipped, as swift-protobuf does
/// with `ignoreUnknownFields`, after validating their values strictly.
enum FastEventJSONDecoder {
    /// Decodes one event, or returns `nil` when the input is outside the fast path.
    static func decode(_ bytes: ArraySlice<UInt8>) -> Mesos_V1_Scheduler_Event? {
        var strings = RecurringStrings()
        return Self.decode(bytes, strings: &strings)
    }

    /// Decodes one event, sharing the recurring strings (ids, hostnames) with the events decoded before with the
    /// same `strings`; `nil` when the input is outside the fast path.
    static func decode(_ bytes: ArraySlice<UInt8>, strings: inout RecurringStrings) -> Mesos_V1_Scheduler_Event? {
        bytes.withUnsafeBufferPointer { buffer -> Mesos_V1_Scheduler_Event? in
            do {
                var reader = try FastJSONReader(buffer)
                swap(&reader.strings, &strings)
                defer { swap(&reader.strings, &strings) }
                let event = try reader.event()
                try reader.finish()
                return event
            } catch {
                return nil
            }
        }
    }
}

/// Marks field `bit` as seen, giving up on a repeated key (swift-protobuf's merge rules are not replayed).
@inline(__always)
private func mark(_ seen: inout UInt32, _ bit: UInt32) throws(FastJSONFallback) {
    let mask: UInt32 = 1 << bit
    guard seen & mask == 0 else { throw FastJSONFallback() }
    seen |= mask
}

extension FastJSONReader {
    /// Whether `key` is one of `names` (known fields the fast path does not decode).
    private func key(_ key: FastJSONKey, isAnyOf names: [StaticString]) -> Bool {
        for name in names where self.key(key, is: name) {
            return true
        }
        return false
    }

    // MARK: - Event

    mutating func event() throws(FastJSONFallback) -> Mesos_V1_Scheduler_Event {
        var message = Mesos_V1_Scheduler_Event()
        var seen: UInt32 = 0
        try self.beginObject()
        var first = true
        while let key = try self.nextKey(&first) {
            if self.key(key, is: "type") {
                try mark(&seen, 0)
                message.type = try self.eventType()
            } else if self.key(key, is: "offers") {
                try mark(&seen, 1)
                message.offers = try self.offersEvent()
            } else if self.key(key, is: "rescind") {
                try mark(&seen, 2)
                message.rescind = try self.rescind()
            } else if self.key(key, isAnyOf: Self.eventUnhandled) {
                throw FastJSONFallback()
            } else {
                try self.skipValue()
            }
        }
        return message
    }

    private static let eventUnhandled: [StaticString] = [
        "subscribed", "update", "message", "failure", "error", "inverse_offers", "inverseOffers",
        "rescind_inverse_offer", "rescindInverseOffer", "update_operation_status", "updateOperationStatus",
    ]

    private static let eventTypeNames: [String] = [
        "UNKNOWN", "SUBSCRIBED", "OFFERS", "RESCIND", "UPDATE", "MESSAGE", "FAILURE", "ERROR", "HEARTBEAT",
        "INVERSE_OFFERS", "RESCIND_INVERSE_OFFER", "UPDATE_OPERATION_STATUS",
    ]

    private mutating func eventType() throws(FastJSONFallback) -> Mesos_V1_Scheduler_Event.TypeEnum {
        let name = try self.string()
        guard let number = Self.eventTypeNames.firstIndex(of: name),
            let value = Mesos_V1_Scheduler_Event.TypeEnum(rawValue: number)
        else {
            throw FastJSONFallback()
        }
        return value
    }

    private mutating func offersEvent() throws(FastJSONFallback) -> Mesos_V1_Scheduler_Event.Offers {
        var message = Mesos_V1_Scheduler_Event.Offers()
        var seen: UInt32 = 0
        try self.beginObject()
        var first = true
        while let key = try self.nextKey(&first) {
            if self.key(key, is: "offers") {
                try mark(&seen, 0)
                try self.beginArray()
                var firstElement = true
                while try self.nextElement(&firstElement) {
                    message.offers.append(try self.offer())
                }
            } else {
                try self.skipValue()
            }
        }
        return message
    }

    private mutating func rescind() throws(FastJSONFallback) -> Mesos_V1_Scheduler_Event.Rescind {
        var message = Mesos_V1_Scheduler_Event.Rescind()
        var seen: UInt32 = 0
        try self.beginObject()
        var first = true
        while let key = try self.nextKey(&first) {
            if self.key(key, is: "offer_id") || self.key(key, is: "offerId") {
                try mark(&seen, 0)
                message.offerID.value = try self.idValue()
            } else {
                try self.skipValue()
            }
        }
        return message
    }

    // MARK: - Offer

    private mutating func offer() throws(FastJSONFallback) -> Mesos_V1_Offer {
        var message = Mesos_V1_Offer()
        var seen: UInt32 = 0
        try self.beginObject()
        var first = true
        while let key = try self.nextKey(&first) {
            if self.key(key, is: "id") {
                try mark(&seen, 0)
                message.id.value = try self.idValue()
            } else if self.key(key, is: "framework_id") || self.key(key, is: "frameworkId") {
                try mark(&seen, 1)
                message.frameworkID.value = try self.idValue(recurring: true)
            } else if self.key(key, is: "agent_id") || self.key(key, is: "agentId") {
                try mark(&seen, 2)
                message.agentID.value = try self.idValue(recurring: true)
            } else if self.key(key, is: "hostname") {
                try mark(&seen, 3)
                message.hostname = try self.recurringString()
            } else if self.key(key, is: "resources") {
                try mark(&seen, 4)
                // The offer's resources: shared when the same text came before (an agent's resources stay the
                // same from offer to offer until tasks start or end there).
                let run = self.arrayText()
                var slot = 0
                if let run {
                    let found = self.strings.resourceRuns.lookUp(run)
                    if let hit = found.hit {
                        message.resources = hit
                        self.index = self.offset(after: run)
                        continue
                    }
                    slot = found.slot
                }
                var resources: [Mesos_V1_Resource] = []
                resources.reserveCapacity(8)  // usually a handful: one allocation instead of growing 1, 2, 4, 8
                try self.beginArray()
                var firstElement = true
                while try self.nextElement(&firstElement) {
                    // Decoded where it stays: a resource is a large value (~400 bytes), not worth moving.
                    resources.append(Mesos_V1_Resource())
                    try self.resource(into: &resources[resources.count &- 1])
                }
                if let run, self.index == self.offset(after: run) {
                    self.strings.resourceRuns.store(resources, bytes: run, at: slot)
                }
                message.resources = resources
            } else if self.key(key, is: "executor_ids") || self.key(key, is: "executorIds") {
                try mark(&seen, 5)
                var ids: [Mesos_V1_ExecutorID] = []
                try self.beginArray()
                var firstElement = true
                while try self.nextElement(&firstElement) {
                    var id = Mesos_V1_ExecutorID()
                    id.value = try self.idValue()
                    ids.append(id)
                }
                message.executorIds = ids
            } else if self.key(key, is: "attributes") {
                try mark(&seen, 6)
                // An agent's attributes never change: shared when the same text came before.
                let run = self.arrayText()
                var slot = 0
                if let run {
                    let found = self.strings.attributeRuns.lookUp(run)
                    if let hit = found.hit {
                        message.attributes = hit
                        self.index = self.offset(after: run)
                        continue
                    }
                    slot = found.slot
                }
                var attributes: [Mesos_V1_Attribute] = []
                try self.beginArray()
                var firstElement = true
                while try self.nextElement(&firstElement) {
                    attributes.append(try self.attribute())
                }
                if let run, self.index == self.offset(after: run) {
                    self.strings.attributeRuns.store(attributes, bytes: run, at: slot)
                }
                message.attributes = attributes
            } else if self.key(key, is: "url") {
                try mark(&seen, 7)
                message.url = try self.url()
            } else if self.key(key, is: "allocation_info") || self.key(key, is: "allocationInfo") {
                try mark(&seen, 8)
                message.allocationInfo = try self.allocationInfo()
            } else if self.key(key, is: "domain") {
                try mark(&seen, 9)
                message.domain = try self.domain()
            } else if self.key(key, is: "unavailability") {
                throw FastJSONFallback()
            } else {
                try self.skipValue()
            }
        }
        return message
    }

    /// The `value` of an id message (`OfferID`, `FrameworkID`, `AgentID`, `ExecutorID`): an object whose
    /// only field is `value`. Returns `nil` semantics are not needed: a missing `value` falls back.
    /// With `recurring` (framework and agent ids), the value is shared through ``FastJSONReader/strings``.
    private mutating func idValue(recurring: Bool = false) throws(FastJSONFallback) -> String {
        var value: String?
        try self.beginObject()
        var first = true
        while let key = try self.nextKey(&first) {
            if self.key(key, is: "value") {
                guard value == nil else { throw FastJSONFallback() }
                value = recurring ? try self.recurringString() : try self.string()
            } else {
                try self.skipValue()
            }
        }
        // An id without `value` would be an id message with no field set; not worth a special case.
        guard let value else { throw FastJSONFallback() }
        return value
    }

    private mutating func url() throws(FastJSONFallback) -> Mesos_V1_URL {
        var message = Mesos_V1_URL()
        var seen: UInt32 = 0
        try self.beginObject()
        var first = true
        while let key = try self.nextKey(&first) {
            if self.key(key, is: "scheme") {
                try mark(&seen, 0)
                message.scheme = try self.string()
            } else if self.key(key, is: "address") {
                try mark(&seen, 1)
                message.address = try self.address()
            } else if self.key(key, is: "path") {
                try mark(&seen, 2)
                message.path = try self.string()
            } else if self.key(key, is: "query") {
                try mark(&seen, 3)
                var query: [Mesos_V1_Parameter] = []
                try self.beginArray()
                var firstElement = true
                while try self.nextElement(&firstElement) {
                    query.append(try self.parameter())
                }
                message.query = query
            } else if self.key(key, is: "fragment") {
                try mark(&seen, 4)
                message.fragment = try self.string()
            } else {
                try self.skipValue()
            }
        }
        return message
    }

    private mutating func address() throws(FastJSONFallback) -> Mesos_V1_Address {
        var message = Mesos_V1_Address()
        var seen: UInt32 = 0
        try self.beginObject()
        var first = true
        while let key = try self.nextKey(&first) {
            if self.key(key, is: "hostname") {
                try mark(&seen, 0)
                message.hostname = try self.recurringString()
            } else if self.key(key, is: "ip") {
                try mark(&seen, 1)
                message.ip = try self.recurringString()
            } else if self.key(key, is: "port") {
                try mark(&seen, 2)
                message.port = try self.int32()
            } else {
                try self.skipValue()
            }
        }
        return message
    }

    private mutating func parameter() throws(FastJSONFallback) -> Mesos_V1_Parameter {
        var message = Mesos_V1_Parameter()
        var seen: UInt32 = 0
        try self.beginObject()
        var first = true
        while let key = try self.nextKey(&first) {
            if self.key(key, is: "key") {
                try mark(&seen, 0)
                message.key = try self.string()
            } else if self.key(key, is: "value") {
                try mark(&seen, 1)
                message.value = try self.string()
            } else {
                try self.skipValue()
            }
        }
        return message
    }

    private mutating func allocationInfo() throws(FastJSONFallback) -> Mesos_V1_Resource.AllocationInfo {
        var message = Mesos_V1_Resource.AllocationInfo()
        var seen: UInt32 = 0
        try self.beginObject()
        var first = true
        while let key = try self.nextKey(&first) {
            if self.key(key, is: "role") {
                try mark(&seen, 0)
                message.role = try self.string()
            } else {
                try self.skipValue()
            }
        }
        return message
    }

    private mutating func domain() throws(FastJSONFallback) -> Mesos_V1_DomainInfo {
        var message = Mesos_V1_DomainInfo()
        var seen: UInt32 = 0
        try self.beginObject()
        var first = true
        while let key = try self.nextKey(&first) {
            if self.key(key, is: "fault_domain") || self.key(key, is: "faultDomain") {
                try mark(&seen, 0)
                message.faultDomain = try self.faultDomain()
            } else {
                try self.skipValue()
            }
        }
        return message
    }

    private mutating func faultDomain() throws(FastJSONFallback) -> Mesos_V1_DomainInfo.FaultDomain {
        var message = Mesos_V1_DomainInfo.FaultDomain()
        var seen: UInt32 = 0
        try self.beginObject()
        var first = true
        while let key = try self.nextKey(&first) {
            if self.key(key, is: "region") {
                try mark(&seen, 0)
                var region = Mesos_V1_DomainInfo.FaultDomain.RegionInfo()
                if let name = try self.nameOnly() { region.name = name }
                message.region = region
            } else if self.key(key, is: "zone") {
                try mark(&seen, 1)
                var zone = Mesos_V1_DomainInfo.FaultDomain.ZoneInfo()
                if let name = try self.nameOnly() { zone.name = name }
                message.zone = zone
            } else {
                try self.skipValue()
            }
        }
        return message
    }

    /// An object whose only field is `name` (absent: `nil`).
    private mutating func nameOnly() throws(FastJSONFallback) -> String? {
        var name: String?
        try self.beginObject()
        var first = true
        while let key = try self.nextKey(&first) {
            if self.key(key, is: "name") {
                guard name == nil else { throw FastJSONFallback() }
                name = try self.string()
            } else {
                try self.skipValue()
            }
        }
        return name
    }

    // MARK: - Resource, Attribute, Value

    private mutating func resource(into message: inout Mesos_V1_Resource) throws(FastJSONFallback) {
        var seen: UInt32 = 0
        try self.beginObject()
        var first = true
        while let key = try self.nextKey(&first) {
            if self.key(key, is: "name") {
                try mark(&seen, 0)
                message.name = try self.string()
            } else if self.key(key, is: "type") {
                try mark(&seen, 1)
                message.type = try self.valueType()
            } else if self.key(key, is: "scalar") {
                try mark(&seen, 2)
                message.scalar = try self.scalar()
            } else if self.key(key, is: "ranges") {
                try mark(&seen, 3)
                message.ranges = try self.ranges()
            } else if self.key(key, is: "set") {
                try mark(&seen, 4)
                message.set = try self.set()
            } else if self.key(key, is: "role") {
                try mark(&seen, 5)
                message.role = try self.string()
            } else if self.key(key, is: "allocation_info") || self.key(key, is: "allocationInfo") {
                try mark(&seen, 6)
                message.allocationInfo = try self.allocationInfo()
            } else if self.key(key, is: "reservations") {
                try mark(&seen, 7)
                var reservations: [Mesos_V1_Resource.ReservationInfo] = []
                try self.beginArray()
                var firstElement = true
                while try self.nextElement(&firstElement) {
                    reservations.append(try self.reservation())
                }
                message.reservations = reservations
            } else if self.key(key, isAnyOf: Self.resourceUnhandled) {
                throw FastJSONFallback()
            } else {
                try self.skipValue()
            }
        }
    }

    private static let resourceUnhandled: [StaticString] = [
        "disk", "reservation", "revocable", "shared", "provider_id", "providerId",
    ]

    private mutating func reservation() throws(FastJSONFallback) -> Mesos_V1_Resource.ReservationInfo {
        var message = Mesos_V1_Resource.ReservationInfo()
        var seen: UInt32 = 0
        try self.beginObject()
        var first = true
        while let key = try self.nextKey(&first) {
            if self.key(key, is: "principal") {
                try mark(&seen, 0)
                message.principal = try self.string()
            } else if self.key(key, is: "labels") {
                try mark(&seen, 1)
                message.labels = try self.labels()
            } else if self.key(key, is: "role") {
                try mark(&seen, 2)
                message.role = try self.string()
            } else if self.key(key, is: "type") {
                try mark(&seen, 3)
                switch try self.string() {
                case "UNKNOWN": message.type = .unknown
                case "STATIC": message.type = .`static`
                case "DYNAMIC": message.type = .dynamic
                default: throw FastJSONFallback()
                }
            } else {
                try self.skipValue()
            }
        }
        return message
    }

    private mutating func labels() throws(FastJSONFallback) -> Mesos_V1_Labels {
        var message = Mesos_V1_Labels()
        var seen: UInt32 = 0
        try self.beginObject()
        var first = true
        while let key = try self.nextKey(&first) {
            if self.key(key, is: "labels") {
                try mark(&seen, 0)
                var labels: [Mesos_V1_Label] = []
                try self.beginArray()
                var firstElement = true
                while try self.nextElement(&firstElement) {
                    var label = Mesos_V1_Label()
                    var labelSeen: UInt32 = 0
                    try self.beginObject()
                    var firstKey = true
                    while let labelKey = try self.nextKey(&firstKey) {
                        if self.key(labelKey, is: "key") {
                            try mark(&labelSeen, 0)
                            label.key = try self.string()
                        } else if self.key(labelKey, is: "value") {
                            try mark(&labelSeen, 1)
                            label.value = try self.string()
                        } else {
                            try self.skipValue()
                        }
                    }
                    labels.append(label)
                }
                message.labels = labels
            } else {
                try self.skipValue()
            }
        }
        return message
    }

    private mutating func attribute() throws(FastJSONFallback) -> Mesos_V1_Attribute {
        var message = Mesos_V1_Attribute()
        var seen: UInt32 = 0
        try self.beginObject()
        var first = true
        while let key = try self.nextKey(&first) {
            if self.key(key, is: "name") {
                try mark(&seen, 0)
                message.name = try self.string()
            } else if self.key(key, is: "type") {
                try mark(&seen, 1)
                message.type = try self.valueType()
            } else if self.key(key, is: "scalar") {
                try mark(&seen, 2)
                message.scalar = try self.scalar()
            } else if self.key(key, is: "ranges") {
                try mark(&seen, 3)
                message.ranges = try self.ranges()
            } else if self.key(key, is: "text") {
                try mark(&seen, 4)
                var text = Mesos_V1_Value.Text()
                if let value = try self.valueOnlyString() { text.value = value }
                message.text = text
            } else if self.key(key, is: "set") {
                try mark(&seen, 5)
                message.set = try self.set()
            } else {
                try self.skipValue()
            }
        }
        return message
    }

    private mutating func valueType() throws(FastJSONFallback) -> Mesos_V1_Value.TypeEnum {
        switch try self.string() {
        case "SCALAR": return .scalar
        case "RANGES": return .ranges
        case "SET": return .set
        case "TEXT": return .text
        default: throw FastJSONFallback()
        }
    }

    private mutating func scalar() throws(FastJSONFallback) -> Mesos_V1_Value.Scalar {
        var message = Mesos_V1_Value.Scalar()
        var seen: UInt32 = 0
        try self.beginObject()
        var first = true
        while let key = try self.nextKey(&first) {
            if self.key(key, is: "value") {
                try mark(&seen, 0)
                message.value = try self.double()
            } else {
                try self.skipValue()
            }
        }
        return message
    }

    private mutating func ranges() throws(FastJSONFallback) -> Mesos_V1_Value.Ranges {
        var message = Mesos_V1_Value.Ranges()
        var seen: UInt32 = 0
        try self.beginObject()
        var first = true
        while let key = try self.nextKey(&first) {
            if self.key(key, is: "range") {
                try mark(&seen, 0)
                var ranges: [Mesos_V1_Value.Range] = []
                try self.beginArray()
                var firstElement = true
                while try self.nextElement(&firstElement) {
                    ranges.append(try self.range())
                }
                message.range = ranges
            } else {
                try self.skipValue()
            }
        }
        return message
    }

    private mutating func range() throws(FastJSONFallback) -> Mesos_V1_Value.Range {
        var message = Mesos_V1_Value.Range()
        var seen: UInt32 = 0
        try self.beginObject()
        var first = true
        while let key = try self.nextKey(&first) {
            if self.key(key, is: "begin") {
                try mark(&seen, 0)
                message.begin = try self.uint64()
            } else if self.key(key, is: "end") {
                try mark(&seen, 1)
                message.end = try self.uint64()
            } else {
                try self.skipValue()
            }
        }
        return message
    }

    private mutating func set() throws(FastJSONFallback) -> Mesos_V1_Value.Set {
        var message = Mesos_V1_Value.Set()
        var seen: UInt32 = 0
        try self.beginObject()
        var first = true
        while let key = try self.nextKey(&first) {
            if self.key(key, is: "item") {
                try mark(&seen, 0)
                var items: [String] = []
                try self.beginArray()
                var firstElement = true
                while try self.nextElement(&firstElement) {
                    items.append(try self.string())
                }
                message.item = items
            } else {
                try self.skipValue()
            }
        }
        return message
    }

    /// An object whose only field is `value`, a string (absent: `nil`).
    private mutating func valueOnlyString() throws(FastJSONFallback) -> String? {
        var value: String?
        try self.beginObject()
        var first = true
        while let key = try self.nextKey(&first) {
            if self.key(key, is: "value") {
                guard value == nil else { throw FastJSONFallback() }
                value = try self.string()
            } else {
                try self.skipValue()
            }
        }
        return value
    }
}
