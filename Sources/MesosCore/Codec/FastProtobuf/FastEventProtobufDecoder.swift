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

/// The scheduler events themselves; the primitives and the shared messages are in FastProtobufReader.swift
/// and FastProtobufReader+Messages.swift.
extension FastProtobufReader {
    // MARK: - Event

    /// A scheduler `Event` (HEARTBEAT, OFFERS, RESCIND).
    mutating func event(end: Int) throws(FastProtobufFallback) -> Mesos_V1_Scheduler_Event {
        var message = Mesos_V1_Scheduler_Event()
        var seen: UInt32 = 0
        while let (field, wireType) = try self.tag(end: end) {
            switch field {
            case 1:
                try Self.mark(&seen, 0)
                message.type = try self.enumValue(Mesos_V1_Scheduler_Event.TypeEnum.self, wireType, end: end)
            case 3:
                try Self.mark(&seen, 1)
                message.offers = try self.offersEvent(end: try self.delimited(wireType, end: end))
            case 4:
                try Self.mark(&seen, 2)
                let stop = try self.delimited(wireType, end: end)
                var rescind = Mesos_V1_Scheduler_Event.Rescind()
                var rescindSeen: UInt32 = 0
                while let (field, wireType) = try self.tag(end: stop) {
                    guard field == 1 else { throw FastProtobufFallback() }
                    try Self.mark(&rescindSeen, 0)
                    rescind.offerID = try self.id(Mesos_V1_OfferID.self, wireType, end: stop)
                }
                message.rescind = rescind
            default:
                throw FastProtobufFallback()
            }
        }
        return message
    }

    /// The `Offers` of an OFFERS event, its array allocated once.
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

    /// An `Offer`.
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
                try Self.mark(&seen, 0)
                message.id = try self.id(Mesos_V1_OfferID.self, wireType, end: end)
            case 2:
                try Self.mark(&seen, 1)
                message.frameworkID = try self.recurringID(Mesos_V1_FrameworkID.self, wireType, end: end)
            case 3:
                try Self.mark(&seen, 2)
                message.agentID = try self.recurringID(Mesos_V1_AgentID.self, wireType, end: end)
            case 4:
                try Self.mark(&seen, 3)
                message.hostname = try self.recurringString(wireType, end: end)
            case 5:
                // Decoded where it stays: a resource is a large value (~400 bytes), not worth moving.
                let stop = try self.delimited(wireType, end: end)
                resources.append(Mesos_V1_Resource())
                try self.resource(into: &resources[resources.count &- 1], end: stop, otherFields: .decline)
            case 6:
                executorIDs.append(try self.id(Mesos_V1_ExecutorID.self, wireType, end: end))
            case 7:
                attributes.append(try self.attribute(end: try self.delimited(wireType, end: end)))
            case 8:
                try Self.mark(&seen, 4)
                message.url = try self.url(end: try self.delimited(wireType, end: end))
            case 10:
                try Self.mark(&seen, 5)
                message.allocationInfo = try self.allocationInfo(end: try self.delimited(wireType, end: end))
            case 11:
                try Self.mark(&seen, 6)
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
}
