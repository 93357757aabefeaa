/// The messages both fast protobuf decoders read: ids, resources and their values, reservations, labels,
/// attributes, URLs and addresses, domains.
extension FastProtobufReader {
    /// What a shared message decoder does with the message fields of a ``Mesos_V1_Resource`` it does not read
    /// itself (disk, the old `reservation`, revocable, shared, provider id).
    package enum OtherFields {
        /// Declines them: the caller falls back (the scheduler decoder hands the whole record on).
        case decline
        /// Has swift-protobuf parse each such field's bytes (what a repeated element's own parse would give).
        case parseWithSwiftProtobuf
    }

    // MARK: - Ids and strings

    /// The `value` (field 1) of an id message, `nil` when absent.
    @inlinable
    package mutating func idValue(end: Int) throws(FastProtobufFallback) -> String? {
        var value: String?
        while let (field, wireType) = try self.tag(end: end) {
            guard field == 1, value == nil else { throw FastProtobufFallback() }
            value = try self.string(wireType, end: end)
        }
        return value
    }

    /// An id message field (`OfferID`, `TaskID`, …) of wire type `wireType`.
    @inlinable
    package mutating func id<ID: FastProtobufID>(
        _ type: ID.Type, _ wireType: UInt64, end: Int
    ) throws(FastProtobufFallback) -> ID {
        ID(fastValue: try self.idValue(end: try self.delimited(wireType, end: end)))
    }

    /// An id field whose values recur (framework and agent ids), its value through ``strings``.
    mutating func recurringID<ID: FastProtobufID>(
        _ type: ID.Type, _ wireType: UInt64, end: Int
    ) throws(FastProtobufFallback) -> ID {
        ID(fastValue: try self.recurringIDValue(end: try self.delimited(wireType, end: end)))
    }

    /// A message whose only decoded field is a string `name`/`value`/`role` at number 1, `nil` when absent.
    @inlinable
    package mutating func onlyString(end: Int) throws(FastProtobufFallback) -> String? {
        try self.idValue(end: end)
    }

    /// A string of a field whose values recur (framework and agent ids, hostnames): shared through
    /// ``strings`` when it is longer than the 15 bytes `String` stores inline.
    mutating func recurringString(_ wireType: UInt64, end: Int) throws(FastProtobufFallback) -> String {
        let stop = try self.delimited(wireType, end: end)
        let count = stop &- self.position
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

    /// The `value` of an id whose values recur (framework and agent ids), through ``strings``.
    mutating func recurringIDValue(end: Int) throws(FastProtobufFallback) -> String? {
        var value: String?
        while let (field, wireType) = try self.tag(end: end) {
            guard field == 1, value == nil else { throw FastProtobufFallback() }
            value = try self.recurringString(wireType, end: end)
        }
        return value
    }

    // MARK: - Resource

    /// A `Resource`, decoded where it stays (a resource is a large value, ~400 bytes, not worth moving).
    ///
    /// - Parameter otherFields: What to do with the message fields not read here.
    package mutating func resource(
        into message: inout Mesos_V1_Resource, end: Int, otherFields: OtherFields
    ) throws(FastProtobufFallback) {
        var seen: UInt32 = 0
        var reservations: [Mesos_V1_Resource.ReservationInfo] = []
        while let (field, wireType) = try self.tag(end: end) {
            switch field {
            case 1:
                try Self.mark(&seen, 0)
                message.name = try self.string(wireType, end: end)
            case 2:
                try Self.mark(&seen, 1)
                message.type = try self.enumValue(Mesos_V1_Value.TypeEnum.self, wireType, end: end)
            case 3:
                try Self.mark(&seen, 2)
                message.scalar = try self.scalar(end: try self.delimited(wireType, end: end))
            case 4:
                try Self.mark(&seen, 3)
                message.ranges = try self.ranges(end: try self.delimited(wireType, end: end))
            case 5:
                try Self.mark(&seen, 4)
                message.set = try self.set(end: try self.delimited(wireType, end: end))
            case 6:
                try Self.mark(&seen, 5)
                message.role = try self.string(wireType, end: end)
            case 11:
                try Self.mark(&seen, 6)
                message.allocationInfo = try self.allocationInfo(end: try self.delimited(wireType, end: end))
            case 13:
                reservations.append(try self.reservation(end: try self.delimited(wireType, end: end)))
            case 7, 8, 9, 10, 12:
                guard otherFields == .parseWithSwiftProtobuf else { throw FastProtobufFallback() }
                try self.otherResourceField(field, into: &message, wireType, end: end, seen: &seen)
            default:
                throw FastProtobufFallback()
            }
        }
        if !reservations.isEmpty { message.reservations = reservations }
    }

    /// One of a resource's message fields 7, 8, 9, 10 or 12, parsed by swift-protobuf.
    private mutating func otherResourceField(
        _ field: UInt64, into message: inout Mesos_V1_Resource, _ wireType: UInt64, end: Int, seen: inout UInt32
    ) throws(FastProtobufFallback) {
        switch field {
        case 7:
            try Self.mark(&seen, 7)
            message.disk = try self.message(Mesos_V1_Resource.DiskInfo.self, wireType, end: end)
        case 8:
            try Self.mark(&seen, 8)
            message.reservation = try self.message(Mesos_V1_Resource.ReservationInfo.self, wireType, end: end)
        case 9:
            try Self.mark(&seen, 9)
            message.revocable = try self.message(Mesos_V1_Resource.RevocableInfo.self, wireType, end: end)
        case 10:
            try Self.mark(&seen, 10)
            message.shared = try self.message(Mesos_V1_Resource.SharedInfo.self, wireType, end: end)
        default:
            try Self.mark(&seen, 11)
            message.providerID = try self.message(Mesos_V1_ResourceProviderID.self, wireType, end: end)
        }
    }

    /// A `Resource.ReservationInfo`.
    mutating func reservation(end: Int) throws(FastProtobufFallback) -> Mesos_V1_Resource.ReservationInfo {
        var message = Mesos_V1_Resource.ReservationInfo()
        var seen: UInt32 = 0
        while let (field, wireType) = try self.tag(end: end) {
            switch field {
            case 1:
                try Self.mark(&seen, 0)
                message.principal = try self.string(wireType, end: end)
            case 2:
                try Self.mark(&seen, 1)
                message.labels = try self.labels(end: try self.delimited(wireType, end: end))
            case 3:
                try Self.mark(&seen, 2)
                message.role = try self.string(wireType, end: end)
            case 4:
                try Self.mark(&seen, 3)
                message.type = try self.enumValue(Mesos_V1_Resource.ReservationInfo.TypeEnum.self, wireType, end: end)
            default:
                throw FastProtobufFallback()
            }
        }
        return message
    }

    /// A `Resource.AllocationInfo` (its role).
    mutating func allocationInfo(end: Int) throws(FastProtobufFallback) -> Mesos_V1_Resource.AllocationInfo {
        var message = Mesos_V1_Resource.AllocationInfo()
        if let role = try self.onlyString(end: end) {
            message.role = role
        }
        return message
    }

    /// `Labels`: key/value pairs.
    package mutating func labels(end: Int) throws(FastProtobufFallback) -> Mesos_V1_Labels {
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
                    try Self.mark(&seen, 0)
                    label.key = try self.string(wireType, end: stop)
                case 2:
                    try Self.mark(&seen, 1)
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

    /// An `Attribute` (an agent's name and typed value).
    mutating func attribute(end: Int) throws(FastProtobufFallback) -> Mesos_V1_Attribute {
        var message = Mesos_V1_Attribute()
        var seen: UInt32 = 0
        while let (field, wireType) = try self.tag(end: end) {
            switch field {
            case 1:
                try Self.mark(&seen, 0)
                message.name = try self.string(wireType, end: end)
            case 2:
                try Self.mark(&seen, 1)
                message.type = try self.enumValue(Mesos_V1_Value.TypeEnum.self, wireType, end: end)
            case 3:
                try Self.mark(&seen, 2)
                message.scalar = try self.scalar(end: try self.delimited(wireType, end: end))
            case 4:
                try Self.mark(&seen, 3)
                message.ranges = try self.ranges(end: try self.delimited(wireType, end: end))
            case 5:
                try Self.mark(&seen, 4)
                var text = Mesos_V1_Value.Text()
                if let value = try self.onlyString(end: try self.delimited(wireType, end: end)) { text.value = value }
                message.text = text
            case 6:
                try Self.mark(&seen, 5)
                message.set = try self.set(end: try self.delimited(wireType, end: end))
            default:
                throw FastProtobufFallback()
            }
        }
        return message
    }

    /// A `Value.Scalar`.
    mutating func scalar(end: Int) throws(FastProtobufFallback) -> Mesos_V1_Value.Scalar {
        var message = Mesos_V1_Value.Scalar()
        var seen: UInt32 = 0
        while let (field, wireType) = try self.tag(end: end) {
            guard field == 1 else { throw FastProtobufFallback() }
            try Self.mark(&seen, 0)
            message.value = try self.double(wireType, end: end)
        }
        return message
    }

    /// `Value.Ranges`.
    mutating func ranges(end: Int) throws(FastProtobufFallback) -> Mesos_V1_Value.Ranges {
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
                    try Self.mark(&seen, 0)
                    range.begin = try self.uint64(wireType, end: stop)
                case 2:
                    try Self.mark(&seen, 1)
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

    /// A `Value.Set`.
    mutating func set(end: Int) throws(FastProtobufFallback) -> Mesos_V1_Value.Set {
        var message = Mesos_V1_Value.Set()
        var items: [String] = []
        while let (field, wireType) = try self.tag(end: end) {
            guard field == 1 else { throw FastProtobufFallback() }
            items.append(try self.string(wireType, end: end))
        }
        if !items.isEmpty { message.item = items }
        return message
    }

    // MARK: - URL, address, domain

    /// A `URL`.
    mutating func url(end: Int) throws(FastProtobufFallback) -> Mesos_V1_URL {
        var message = Mesos_V1_URL()
        var seen: UInt32 = 0
        var query: [Mesos_V1_Parameter] = []
        while let (field, wireType) = try self.tag(end: end) {
            switch field {
            case 1:
                try Self.mark(&seen, 0)
                message.scheme = try self.string(wireType, end: end)
            case 2:
                try Self.mark(&seen, 1)
                message.address = try self.address(end: try self.delimited(wireType, end: end))
            case 3:
                try Self.mark(&seen, 2)
                message.path = try self.string(wireType, end: end)
            case 4:
                query.append(try self.parameter(end: try self.delimited(wireType, end: end)))
            case 5:
                try Self.mark(&seen, 3)
                message.fragment = try self.string(wireType, end: end)
            default:
                throw FastProtobufFallback()
            }
        }
        if !query.isEmpty { message.query = query }
        return message
    }

    /// An `Address` (its hostname and ip through ``strings``).
    mutating func address(end: Int) throws(FastProtobufFallback) -> Mesos_V1_Address {
        var message = Mesos_V1_Address()
        var seen: UInt32 = 0
        while let (field, wireType) = try self.tag(end: end) {
            switch field {
            case 1:
                try Self.mark(&seen, 0)
                message.hostname = try self.recurringString(wireType, end: end)
            case 2:
                try Self.mark(&seen, 1)
                message.ip = try self.recurringString(wireType, end: end)
            case 3:
                try Self.mark(&seen, 2)
                message.port = try self.int32(wireType, end: end)
            default:
                throw FastProtobufFallback()
            }
        }
        return message
    }

    /// A `Parameter` (a key and a value).
    mutating func parameter(end: Int) throws(FastProtobufFallback) -> Mesos_V1_Parameter {
        var message = Mesos_V1_Parameter()
        var seen: UInt32 = 0
        while let (field, wireType) = try self.tag(end: end) {
            switch field {
            case 1:
                try Self.mark(&seen, 0)
                message.key = try self.string(wireType, end: end)
            case 2:
                try Self.mark(&seen, 1)
                message.value = try self.string(wireType, end: end)
            default:
                throw FastProtobufFallback()
            }
        }
        return message
    }

    /// A `DomainInfo` (its fault domain's region and zone names).
    mutating func domain(end: Int) throws(FastProtobufFallback) -> Mesos_V1_DomainInfo {
        var message = Mesos_V1_DomainInfo()
        var seen: UInt32 = 0
        while let (field, wireType) = try self.tag(end: end) {
            guard field == 1 else { throw FastProtobufFallback() }
            try Self.mark(&seen, 0)
            let stop = try self.delimited(wireType, end: end)
            var faultDomain = Mesos_V1_DomainInfo.FaultDomain()
            var faultSeen: UInt32 = 0
            while let (field, wireType) = try self.tag(end: stop) {
                switch field {
                case 1:
                    try Self.mark(&faultSeen, 0)
                    var region = Mesos_V1_DomainInfo.FaultDomain.RegionInfo()
                    let stopRegion = try self.delimited(wireType, end: stop)
                    if let name = try self.onlyString(end: stopRegion) { region.name = name }
                    faultDomain.region = region
                case 2:
                    try Self.mark(&faultSeen, 1)
                    var zone = Mesos_V1_DomainInfo.FaultDomain.ZoneInfo()
                    let stopZone = try self.delimited(wireType, end: stop)
                    if let name = try self.onlyString(end: stopZone) { zone.name = name }
                    faultDomain.zone = zone
                default:
                    throw FastProtobufFallback()
                }
            }
            message.faultDomain = faultDomain
        }
        return message
    }
}

// MARK: - Ids from an optional value

/// The generated id messages (`OfferID`, `TaskID`, …): a single string `value`.
@usableFromInline
package protocol FastProtobufID {
    /// An id with no value.
    init()
    /// The id's value.
    var value: String { get set }
}

extension FastProtobufID {
    /// An id whose `value` is set only when `value` is not `nil` (as decoding an id message without it gives).
    @inlinable
    package init(fastValue value: String?) {
        self.init()
        if let value { self.value = value }
    }
}

extension Mesos_V1_OfferID: FastProtobufID {}
extension Mesos_V1_TaskID: FastProtobufID {}
extension Mesos_V1_FrameworkID: FastProtobufID {}
extension Mesos_V1_AgentID: FastProtobufID {}
extension Mesos_V1_ExecutorID: FastProtobufID {}
