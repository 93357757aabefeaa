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
                if resources.isEmpty, let run = self.run(ofTag: 0x2A, end: end) {
                    // The offer's resources, as one run of fields: shared when the same bytes came before.
                    let (hit, slot) = self.strings.resourceRuns.lookUp(run)
                    if let hit {
                        resources = hit
                        self.position = self.offset(after: run)
                        continue
                    }
                    // An offer usually holds a handful of resources: one allocation instead of growing 1, 2, 4, 8
                    // (counting them first costs more than the spare room).
                    resources.reserveCapacity(8)
                    try self.resources(into: &resources, wireType: wireType, runEnd: self.offset(after: run), end: end)
                    self.strings.resourceRuns.store(resources, bytes: run, at: slot)
                } else {
                    try self.resources(into: &resources, wireType: wireType, runEnd: self.position, end: end)
                }
            case 6:
                executorIDs.append(try self.id(Mesos_V1_ExecutorID.self, wireType, end: end))
            case 7:
                if attributes.isEmpty, let run = self.run(ofTag: 0x3A, end: end) {
                    // An agent's attributes never change: shared when the same bytes came before.
                    let (hit, slot) = self.strings.attributeRuns.lookUp(run)
                    if let hit {
                        attributes = hit
                        self.position = self.offset(after: run)
                        continue
                    }
                    let runEnd = self.offset(after: run)
                    attributes.append(try self.attribute(end: try self.delimited(wireType, end: end)))
                    while self.position < runEnd {
                        guard let (_, wireType) = try self.tag(end: runEnd) else { break }
                        attributes.append(try self.attribute(end: try self.delimited(wireType, end: runEnd)))
                    }
                    self.strings.attributeRuns.store(attributes, bytes: run, at: slot)
                } else {
                    attributes.append(try self.attribute(end: try self.delimited(wireType, end: end)))
                }
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

    /// Decodes the resource whose tag was just read, then (up to `runEnd`) the resources of the fields that follow
    /// it in the same run; `end` is the offer's end.
    private mutating func resources(
        into resources: inout [Mesos_V1_Resource], wireType: UInt64, runEnd: Int, end: Int
    ) throws(FastProtobufFallback) {
        var wireType = wireType
        while true {
            // Decoded where it stays: a resource is a large value (~400 bytes), not worth moving.
            let stop = try self.delimited(wireType, end: end)
            resources.append(Mesos_V1_Resource())
            try self.resource(into: &resources[resources.count &- 1], end: stop, otherFields: .decline)
            guard self.position < runEnd, let (_, next) = try self.tag(end: runEnd) else { return }
            wireType = next
        }
    }

    /// The bytes of the run of length-delimited fields with the one-byte tag `tag` (all of them consecutive) that
    /// starts with the tag just read, or `nil` when that tag took more than one byte or a length does not fit
    /// before `end` (then the fields are decoded one by one, and the error found there).
    private func run(ofTag tag: UInt8, end: Int) -> UnsafeBufferPointer<UInt8>? {
        let start = self.position &- 1
        guard start >= 0, self.base.load(fromByteOffset: start, as: UInt8.self) == tag else { return nil }
        var position = start
        while position < end, self.base.load(fromByteOffset: position, as: UInt8.self) == tag {
            position &+= 1
            var length: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                guard position < end, shift < 64 else { return nil }
                let byte = self.base.load(fromByteOffset: position, as: UInt8.self)
                position &+= 1
                length |= UInt64(byte & 0x7F) &<< shift
                if byte & 0x80 == 0 { break }
                shift &+= 7
            }
            guard length <= UInt64(end &- position) else { return nil }
            position &+= Int(length)
        }
        return UnsafeBufferPointer(
            start: (self.base + start).assumingMemoryBound(to: UInt8.self), count: position &- start)
    }

    /// The offset just past `run` (from ``run(ofTag:end:)``).
    private func offset(after run: UnsafeBufferPointer<UInt8>) -> Int {
        UnsafeRawPointer(run.baseAddress!) - self.base + run.count
    }
}
