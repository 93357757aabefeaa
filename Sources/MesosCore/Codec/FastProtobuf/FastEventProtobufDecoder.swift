/// A purpose-built protobuf (binary) decoder for the scheduler events that dominate a Mesos stream: OFFERS
/// (offers with resources, reservations, attributes, executor ids, URLs, allocation info and domains),
/// HEARTBEAT and RESCIND.
///
/// Like its JSON sibling it fills the generated types and must give a value EQUAL to swift-protobuf's for
/// every input it accepts. It is strict: any field it does not decode (whether the schema knows it or not, since
/// swift-protobuf would keep an unknown one in `unknownFields`), a repeated singular field (swift-protobuf would
/// merge), an unexpected wire type, an unknown enum value, invalid UTF-8, a truncated or over-long varint all make
/// it return `nil`, and the caller decodes the record with swift-protobuf, which then accepts or reports it.
enum FastEventProtobufDecoder {
    /// Decodes one event, or returns `nil` when the input is outside the fast path.
    static func decode(_ bytes: ArraySlice<UInt8>) -> Mesos_V1_Scheduler_Event? {
        var strings = RecurringStrings()
        return Self.decode(bytes, strings: &strings)
    }

    /// Decodes one event, sharing the recurring strings (ids, hostnames) with the events decoded before with the
    /// same `strings`; `nil` when the input is outside the fast path.
    static func decode(_ bytes: ArraySlice<UInt8>, strings: inout RecurringStrings) -> Mesos_V1_Scheduler_Event? {
        bytes.withUnsafeBytes { buffer -> Mesos_V1_Scheduler_Event? in
            guard let base = buffer.baseAddress else {
                return Mesos_V1_Scheduler_Event()
            }
            var reader = FastProtobufReader(base: base, count: buffer.count)
            swap(&reader.strings, &strings)
            defer { swap(&reader.strings, &strings) }
            do {
                return try reader.event(end: buffer.count)
            } catch {
                return nil
            }
        }
    }
}

/// Thrown inside the fast path when the input is outside it; never escapes ``FastEventProtobufDecoder``.
struct FastProtobufFallback: Error {}

/// The wire types the fast path reads.
private enum WireType {
    static let varint: UInt64 = 0
    static let fixed64: UInt64 = 1
    static let lengthDelimited: UInt64 = 2
}

/// Marks field `bit` as seen, giving up on a repeated singular field.
@inline(__always)
private func mark(_ seen: inout UInt32, _ bit: UInt32) throws(FastProtobufFallback) {
    let mask: UInt32 = 1 << bit
    guard seen & mask == 0 else { throw FastProtobufFallback() }
    seen |= mask
}

/// A cursor over protobuf bytes; every message decoder reads up to the `end` offset it is given.
struct FastProtobufReader {
    private let base: UnsafeRawPointer
    private let count: Int
    private var position = 0
    /// Shared strings of the fields that recur across offers and events.
    var strings = RecurringStrings()

    init(base: UnsafeRawPointer, count: Int) {
        self.base = base
        self.count = count
    }

    // MARK: - Primitives

    /// A varint of at most 10 bytes, ending before `end` (swift-protobuf's rule: bits beyond 64 are dropped).
    @inline(__always)
    private mutating func varint(end: Int) throws(FastProtobufFallback) -> UInt64 {
        guard self.position < end else { throw FastProtobufFallback() }
        var byte = self.base.load(fromByteOffset: self.position, as: UInt8.self)
        self.position &+= 1
        if byte & 0x80 == 0 {
            return UInt64(byte)
        }
        var value = UInt64(byte & 0x7F)
        var shift: UInt64 = 7
        while true {
            guard self.position < end, shift <= 63 else { throw FastProtobufFallback() }
            byte = self.base.load(fromByteOffset: self.position, as: UInt8.self)
            self.position &+= 1
            value |= UInt64(byte & 0x7F) &<< shift
            if byte & 0x80 == 0 {
                return value
            }
            shift &+= 7
        }
    }

    /// The next field's number and wire type, or `nil` at `end`. Like swift-protobuf, a tag takes at most five
    /// bytes and the fifth must not exceed 15 (longer, over-long encodings are declined).
    @inline(__always)
    private mutating func tag(end: Int) throws(FastProtobufFallback) -> (field: UInt64, wireType: UInt64)? {
        guard self.position < end else { return nil }
        var tag: UInt64 = 0
        var shift: UInt64 = 0
        for index in 0..<5 {
            guard self.position < end else { throw FastProtobufFallback() }
            let byte = self.base.load(fromByteOffset: self.position, as: UInt8.self)
            self.position &+= 1
            if index == 4, byte > 15 { throw FastProtobufFallback() }
            tag |= UInt64(byte & 0x7F) &<< shift
            if byte & 0x80 == 0 {
                guard tag >> 3 != 0 else { throw FastProtobufFallback() }
                return (tag >> 3, tag & 7)
            }
            shift &+= 7
        }
        throw FastProtobufFallback()
    }

    /// How many times field `number` occurs from the position to `end`, without moving: the exact capacity for
    /// a repeated field. It stops counting at anything malformed (the decoding that follows then declines it).
    private func occurrences(of number: UInt64, end: Int) -> Int {
        var scan = self
        var found = 0
        do {
            while let (field, wireType) = try scan.tag(end: end) {
                if field == number { found &+= 1 }
                switch wireType {
                case WireType.varint:
                    _ = try scan.varint(end: end)
                case WireType.fixed64:
                    guard end - scan.position >= 8 else { return found }
                    scan.position &+= 8
                case WireType.lengthDelimited:
                    scan.position = try scan.delimited(wireType, end: end)
                case 5:
                    guard end - scan.position >= 4 else { return found }
                    scan.position &+= 4
                default:
                    return found
                }
            }
        } catch {
            return found
        }
        return found
    }

    /// Checks the wire type, reads a length and returns where the delimited value ends.
    @inline(__always)
    private mutating func delimited(_ wireType: UInt64, end: Int) throws(FastProtobufFallback) -> Int {
        guard wireType == WireType.lengthDelimited else { throw FastProtobufFallback() }
        let length = try self.varint(end: end)
        guard length <= UInt64(end - self.position) else { throw FastProtobufFallback() }
        return self.position + Int(length)
    }

    private mutating func string(_ wireType: UInt64, end: Int) throws(FastProtobufFallback) -> String {
        let stop = try self.delimited(wireType, end: end)
        return try self.string(to: stop)
    }

    /// The string of the bytes from the position to `stop`, which becomes the position.
    @inline(__always)
    private mutating func string(to stop: Int) throws(FastProtobufFallback) -> String {
        let bytes = UnsafeBufferPointer(
            start: (self.base + self.position).assumingMemoryBound(to: UInt8.self), count: stop - self.position)
        self.position = stop
        // ASCII (nearly every Mesos string) is valid UTF-8 as it stands: skip the generic validating initializer.
        if Self.isASCII(bytes) {
            return String(decoding: bytes, as: UTF8.self)
        }
        guard let string = String(validating: bytes, as: UTF8.self) else { throw FastProtobufFallback() }
        return string
    }

    /// A string of a field whose values recur (framework and agent ids, hostnames): shared through
    /// ``strings`` when it is longer than the 15 bytes `String` stores inline.
    private mutating func recurringString(_ wireType: UInt64, end: Int) throws(FastProtobufFallback) -> String {
        let stop = try self.delimited(wireType, end: end)
        let count = stop - self.position
        guard count > 15 else {
            return try self.string(to: stop)
        }
        let bytes = UnsafeBufferPointer(
            start: (self.base + self.position).assumingMemoryBound(to: UInt8.self), count: count)
        let (hit, slot) = self.strings.lookUp(bytes)
        if let hit {
            self.position = stop
            return hit
        }
        let string = try self.string(to: stop)
        self.strings.store(string, at: slot)
        return string
    }

    /// Whether every byte is below 0x80, eight bytes at a time.
    private static func isASCII(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        let count = bytes.count
        var index = 0
        var high: UInt64 = 0
        while index &+ 8 <= count {
            high |= UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self)
            index &+= 8
        }
        while index < count {
            high |= UInt64(base[index])
            index &+= 1
        }
        return high & 0x8080_8080_8080_8080 == 0
    }

    private mutating func uint64(_ wireType: UInt64, end: Int) throws(FastProtobufFallback) -> UInt64 {
        guard wireType == WireType.varint else { throw FastProtobufFallback() }
        return try self.varint(end: end)
    }

    private mutating func int32(_ wireType: UInt64, end: Int) throws(FastProtobufFallback) -> Int32 {
        Int32(truncatingIfNeeded: try self.uint64(wireType, end: end))
    }

    private mutating func double(_ wireType: UInt64, end: Int) throws(FastProtobufFallback) -> Double {
        guard wireType == WireType.fixed64, end - self.position >= 8 else { throw FastProtobufFallback() }
        let bits = self.base.loadUnaligned(fromByteOffset: self.position, as: UInt64.self)
        self.position &+= 8
        return Double(bitPattern: UInt64(littleEndian: bits))
    }

    /// A closed (proto2) enum: a value the generated type does not know falls back (swift-protobuf would keep
    /// it as an unknown field).
    private mutating func enumValue<Value: RawRepresentable>(
        _ type: Value.Type, _ wireType: UInt64, end: Int
    ) throws(FastProtobufFallback) -> Value where Value.RawValue == Int {
        let raw = try self.int32(wireType, end: end)
        guard let value = Value(rawValue: Int(raw)) else { throw FastProtobufFallback() }
        return value
    }

    // MARK: - Event

    mutating func event(end: Int) throws(FastProtobufFallback) -> Mesos_V1_Scheduler_Event {
        var message = Mesos_V1_Scheduler_Event()
        var seen: UInt32 = 0
        while let (field, wireType) = try self.tag(end: end) {
            switch field {
            case 1:
                try mark(&seen, 0)
                message.type = try self.enumValue(Mesos_V1_Scheduler_Event.TypeEnum.self, wireType, end: end)
            case 3:
                try mark(&seen, 1)
                message.offers = try self.offersEvent(end: try self.delimited(wireType, end: end))
            case 4:
                try mark(&seen, 2)
                let stop = try self.delimited(wireType, end: end)
                var rescind = Mesos_V1_Scheduler_Event.Rescind()
                var rescindSeen: UInt32 = 0
                while let (field, wireType) = try self.tag(end: stop) {
                    guard field == 1 else { throw FastProtobufFallback() }
                    try mark(&rescindSeen, 0)
                    rescind.offerID = Mesos_V1_OfferID(try self.idValue(end: try self.delimited(wireType, end: stop)))
                }
                message.rescind = rescind
            default:
                throw FastProtobufFallback()
            }
        }
        return message
    }

    private mutating func offersEvent(end: Int) throws(FastProtobufFallback) -> Mesos_V1_Scheduler_Event.Offers {
        var message = Mesos_V1_Scheduler_Event.Offers()
        var offers: [Mesos_V1_Offer] = []
        offers.reserveCapacity(self.occurrences(of: 1, end: end))
        while let (field, wireType) = try self.tag(end: end) {
            guard field == 1 else { throw FastProtobufFallback() }
            offers.append(try self.offer(end: try self.delimited(wireType, end: end)))
        }
        message.offers = offers
        return message
    }

    // MARK: - Offer

    private mutating func offer(end: Int) throws(FastProtobufFallback) -> Mesos_V1_Offer {
        var message = Mesos_V1_Offer()
        var seen: UInt32 = 0
        var resources: [Mesos_V1_Resource] = []
        // An offer usually holds a handful of resources: one allocation instead of growing 1, 2, 4, 8 (counting
        // them first costs more than the spare room).
        resources.reserveCapacity(8)
        var executorIDs: [Mesos_V1_ExecutorID] = []
        var attributes: [Mesos_V1_Attribute] = []
        while let (field, wireType) = try self.tag(end: end) {
            switch field {
            case 1:
                try mark(&seen, 0)
                message.id = Mesos_V1_OfferID(try self.idValue(end: try self.delimited(wireType, end: end)))
            case 2:
                try mark(&seen, 1)
                message.frameworkID = Mesos_V1_FrameworkID(
                    try self.recurringIDValue(end: try self.delimited(wireType, end: end)))
            case 3:
                try mark(&seen, 2)
                message.agentID = Mesos_V1_AgentID(try self.recurringIDValue(end: try self.delimited(wireType, end: end)))
            case 4:
                try mark(&seen, 3)
                message.hostname = try self.recurringString(wireType, end: end)
            case 5:
                // Decoded where it stays: a resource is a large value (~400 bytes), not worth moving.
                let stop = try self.delimited(wireType, end: end)
                resources.append(Mesos_V1_Resource())
                try self.resource(into: &resources[resources.count &- 1], end: stop)
            case 6:
                executorIDs.append(Mesos_V1_ExecutorID(try self.idValue(end: try self.delimited(wireType, end: end))))
            case 7:
                attributes.append(try self.attribute(end: try self.delimited(wireType, end: end)))
            case 8:
                try mark(&seen, 4)
                message.url = try self.url(end: try self.delimited(wireType, end: end))
            case 10:
                try mark(&seen, 5)
                message.allocationInfo = try self.allocationInfo(end: try self.delimited(wireType, end: end))
            case 11:
                try mark(&seen, 6)
                message.domain = try self.domain(end: try self.delimited(wireType, end: end))
            default:
                throw FastProtobufFallback()
            }
        }
        if !resources.isEmpty { message.resources = resources }
        if !executorIDs.isEmpty { message.executorIds = executorIDs }
        if !attributes.isEmpty { message.attributes = attributes }
        return message
    }

    /// The `value` (field 1) of an id message, `nil` when absent.
    private mutating func idValue(end: Int) throws(FastProtobufFallback) -> String? {
        var value: String?
        while let (field, wireType) = try self.tag(end: end) {
            guard field == 1, value == nil else { throw FastProtobufFallback() }
            value = try self.string(wireType, end: end)
        }
        return value
    }

    /// The `value` of an id whose values recur (framework and agent ids), through ``strings``.
    private mutating func recurringIDValue(end: Int) throws(FastProtobufFallback) -> String? {
        var value: String?
        while let (field, wireType) = try self.tag(end: end) {
            guard field == 1, value == nil else { throw FastProtobufFallback() }
            value = try self.recurringString(wireType, end: end)
        }
        return value
    }

    /// A message whose only decoded field is a string `name`/`value`/`role` at number 1, `nil` when absent.
    private mutating func onlyString(end: Int) throws(FastProtobufFallback) -> String? {
        try self.idValue(end: end)
    }

    private mutating func url(end: Int) throws(FastProtobufFallback) -> Mesos_V1_URL {
        var message = Mesos_V1_URL()
        var seen: UInt32 = 0
        var query: [Mesos_V1_Parameter] = []
        while let (field, wireType) = try self.tag(end: end) {
            switch field {
            case 1:
                try mark(&seen, 0)
                message.scheme = try self.string(wireType, end: end)
            case 2:
                try mark(&seen, 1)
                message.address = try self.address(end: try self.delimited(wireType, end: end))
            case 3:
                try mark(&seen, 2)
                message.path = try self.string(wireType, end: end)
            case 4:
                query.append(try self.parameter(end: try self.delimited(wireType, end: end)))
            case 5:
                try mark(&seen, 3)
                message.fragment = try self.string(wireType, end: end)
            default:
                throw FastProtobufFallback()
            }
        }
        if !query.isEmpty { message.query = query }
        return message
    }

    private mutating func address(end: Int) throws(FastProtobufFallback) -> Mesos_V1_Address {
        var message = Mesos_V1_Address()
        var seen: UInt32 = 0
        while let (field, wireType) = try self.tag(end: end) {
            switch field {
            case 1:
                try mark(&seen, 0)
                message.hostname = try self.recurringString(wireType, end: end)
            case 2:
                try mark(&seen, 1)
                message.ip = try self.recurringString(wireType, end: end)
            case 3:
                try mark(&seen, 2)
                message.port = try self.int32(wireType, end: end)
            default:
                throw FastProtobufFallback()
            }
        }
        return message
    }

    private mutating func parameter(end: Int) throws(FastProtobufFallback) -> Mesos_V1_Parameter {
        var message = Mesos_V1_Parameter()
        var seen: UInt32 = 0
        while let (field, wireType) = try self.tag(end: end) {
            switch field {
            case 1:
                try mark(&seen, 0)
                message.key = try self.string(wireType, end: end)
            case 2:
                try mark(&seen, 1)
                message.value = try self.string(wireType, end: end)
            default:
                throw FastProtobufFallback()
            }
        }
        return message
    }

    private mutating func allocationInfo(end: Int) throws(FastProtobufFallback) -> Mesos_V1_Resource.AllocationInfo {
        var message = Mesos_V1_Resource.AllocationInfo()
        if let role = try self.onlyString(end: end) {
            message.role = role
        }
        return message
    }

    private mutating func domain(end: Int) throws(FastProtobufFallback) -> Mesos_V1_DomainInfo {
        var message = Mesos_V1_DomainInfo()
        var seen: UInt32 = 0
        while let (field, wireType) = try self.tag(end: end) {
            guard field == 1 else { throw FastProtobufFallback() }
            try mark(&seen, 0)
            let stop = try self.delimited(wireType, end: end)
            var faultDomain = Mesos_V1_DomainInfo.FaultDomain()
            var faultSeen: UInt32 = 0
            while let (field, wireType) = try self.tag(end: stop) {
                switch field {
                case 1:
                    try mark(&faultSeen, 0)
                    var region = Mesos_V1_DomainInfo.FaultDomain.RegionInfo()
                    if let name = try self.onlyString(end: try self.delimited(wireType, end: stop)) { region.name = name }
                    faultDomain.region = region
                case 2:
                    try mark(&faultSeen, 1)
                    var zone = Mesos_V1_DomainInfo.FaultDomain.ZoneInfo()
                    if let name = try self.onlyString(end: try self.delimited(wireType, end: stop)) { zone.name = name }
                    faultDomain.zone = zone
                default:
                    throw FastProtobufFallback()
                }
            }
            message.faultDomain = faultDomain
        }
        return message
    }

    // MARK: - Resource

    private mutating func resource(
        into message: inout Mesos_V1_Resource, end: Int
    ) throws(FastProtobufFallback) {
        var seen: UInt32 = 0
        var reservations: [Mesos_V1_Resource.ReservationInfo] = []
        while let (field, wireType) = try self.tag(end: end) {
            switch field {
            case 1:
                try mark(&seen, 0)
                message.name = try self.string(wireType, end: end)
            case 2:
                try mark(&seen, 1)
                message.type = try self.enumValue(Mesos_V1_Value.TypeEnum.self, wireType, end: end)
            case 3:
                try mark(&seen, 2)
                message.scalar = try self.scalar(end: try self.delimited(wireType, end: end))
            case 4:
                try mark(&seen, 3)
                message.ranges = try self.ranges(end: try self.delimited(wireType, end: end))
            case 5:
                try mark(&seen, 4)
                message.set = try self.set(end: try self.delimited(wireType, end: end))
            case 6:
                try mark(&seen, 5)
                message.role = try self.string(wireType, end: end)
            case 11:
                try mark(&seen, 6)
                message.allocationInfo = try self.allocationInfo(end: try self.delimited(wireType, end: end))
            case 13:
                reservations.append(try self.reservation(end: try self.delimited(wireType, end: end)))
            default:
                throw FastProtobufFallback()
            }
        }
        if !reservations.isEmpty { message.reservations = reservations }
    }

    private mutating func reservation(end: Int) throws(FastProtobufFallback) -> Mesos_V1_Resource.ReservationInfo {
        var message = Mesos_V1_Resource.ReservationInfo()
        var seen: UInt32 = 0
        while let (field, wireType) = try self.tag(end: end) {
            switch field {
            case 1:
                try mark(&seen, 0)
                message.principal = try self.string(wireType, end: end)
            case 2:
                try mark(&seen, 1)
                message.labels = try self.labels(end: try self.delimited(wireType, end: end))
            case 3:
                try mark(&seen, 2)
                message.role = try self.string(wireType, end: end)
            case 4:
                try mark(&seen, 3)
                message.type = try self.enumValue(Mesos_V1_Resource.ReservationInfo.TypeEnum.self, wireType, end: end)
            default:
                throw FastProtobufFallback()
            }
        }
        return message
    }

    private mutating func labels(end: Int) throws(FastProtobufFallback) -> Mesos_V1_Labels {
        var message = Mesos_V1_Labels()
        var labels: [Mesos_V1_Label] = []
        while let (field, wireType) = try self.tag(end: end) {
            guard field == 1 else { throw FastProtobufFallback() }
            let stop = try self.delimited(wireType, end: end)
            var label = Mesos_V1_Label()
            var seen: UInt32 = 0
            while let (field, wireType) = try self.tag(end: stop) {
                switch field {
                case 1:
                    try mark(&seen, 0)
                    label.key = try self.string(wireType, end: stop)
                case 2:
                    try mark(&seen, 1)
                    label.value = try self.string(wireType, end: stop)
                default:
                    throw FastProtobufFallback()
                }
            }
            labels.append(label)
        }
        if !labels.isEmpty { message.labels = labels }
        return message
    }

    // MARK: - Attribute and Value

    private mutating func attribute(end: Int) throws(FastProtobufFallback) -> Mesos_V1_Attribute {
        var message = Mesos_V1_Attribute()
        var seen: UInt32 = 0
        while let (field, wireType) = try self.tag(end: end) {
            switch field {
            case 1:
                try mark(&seen, 0)
                message.name = try self.string(wireType, end: end)
            case 2:
                try mark(&seen, 1)
                message.type = try self.enumValue(Mesos_V1_Value.TypeEnum.self, wireType, end: end)
            case 3:
                try mark(&seen, 2)
                message.scalar = try self.scalar(end: try self.delimited(wireType, end: end))
            case 4:
                try mark(&seen, 3)
                message.ranges = try self.ranges(end: try self.delimited(wireType, end: end))
            case 5:
                try mark(&seen, 4)
                var text = Mesos_V1_Value.Text()
                if let value = try self.onlyString(end: try self.delimited(wireType, end: end)) { text.value = value }
                message.text = text
            case 6:
                try mark(&seen, 5)
                message.set = try self.set(end: try self.delimited(wireType, end: end))
            default:
                throw FastProtobufFallback()
            }
        }
        return message
    }

    private mutating func scalar(end: Int) throws(FastProtobufFallback) -> Mesos_V1_Value.Scalar {
        var message = Mesos_V1_Value.Scalar()
        var seen: UInt32 = 0
        while let (field, wireType) = try self.tag(end: end) {
            guard field == 1 else { throw FastProtobufFallback() }
            try mark(&seen, 0)
            message.value = try self.double(wireType, end: end)
        }
        return message
    }

    private mutating func ranges(end: Int) throws(FastProtobufFallback) -> Mesos_V1_Value.Ranges {
        var message = Mesos_V1_Value.Ranges()
        var ranges: [Mesos_V1_Value.Range] = []
        while let (field, wireType) = try self.tag(end: end) {
            guard field == 1 else { throw FastProtobufFallback() }
            let stop = try self.delimited(wireType, end: end)
            var range = Mesos_V1_Value.Range()
            var seen: UInt32 = 0
            while let (field, wireType) = try self.tag(end: stop) {
                switch field {
                case 1:
                    try mark(&seen, 0)
                    range.begin = try self.uint64(wireType, end: stop)
                case 2:
                    try mark(&seen, 1)
                    range.end = try self.uint64(wireType, end: stop)
                default:
                    throw FastProtobufFallback()
                }
            }
            ranges.append(range)
        }
        if !ranges.isEmpty { message.range = ranges }
        return message
    }

    private mutating func set(end: Int) throws(FastProtobufFallback) -> Mesos_V1_Value.Set {
        var message = Mesos_V1_Value.Set()
        var items: [String] = []
        while let (field, wireType) = try self.tag(end: end) {
            guard field == 1 else { throw FastProtobufFallback() }
            items.append(try self.string(wireType, end: end))
        }
        if !items.isEmpty { message.item = items }
        return message
    }
}

extension Mesos_V1_OfferID {
    fileprivate init(_ value: String?) {
        self.init()
        if let value { self.value = value }
    }
}

extension Mesos_V1_FrameworkID {
    fileprivate init(_ value: String?) {
        self.init()
        if let value { self.value = value }
    }
}

extension Mesos_V1_AgentID {
    fileprivate init(_ value: String?) {
        self.init()
        if let value { self.value = value }
    }
}

extension Mesos_V1_ExecutorID {
    fileprivate init(_ value: String?) {
        self.init()
        if let value { self.value = value }
    }
}
