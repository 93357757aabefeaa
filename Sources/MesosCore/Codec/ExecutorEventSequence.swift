import MesosRecordIO

extension MesosCodec {
    /// Parses one record of an executor event stream into a typed event.
    ///
    /// Unknown fields and unknown enum values are skipped; an event whose type this library does not know
    /// becomes ``ExecutorEvent/unknown(_:)``.
    ///
    /// - Parameter bytes: One RecordIO record of the stream.
    /// - Returns: The typed event.
    /// - Throws: ``MesosError/Code/decodingFailed``.
    public func decodeExecutorEvent(_ bytes: ArraySlice<UInt8>) throws(MesosError) -> ExecutorEvent {
        ExecutorEvent(try self.decode(ExecutorEventMessage.self, from: bytes))
    }

    /// Serializes an executor call.
    ///
    /// - Parameter call: The call.
    /// - Returns: The request body.
    /// - Throws: ``MesosError/Code/encodingFailed``.
    public func encode(call: ExecutorCall) throws(MesosError) -> [UInt8] {
        try self.encode(call)
    }
}

extension ExecutorEvent: MesosStreamEvent {
    /// Decodes one record with ``MesosCodec/decodeExecutorEvent(_:)``.
    public static func decode(_ record: ArraySlice<UInt8>, codec: MesosCodec) throws(MesosError) -> ExecutorEvent {
        try codec.decodeExecutorEvent(record)
    }
}

/// Typed executor events read from the raw bytes of an executor SUBSCRIBE response body (failures as in
/// ``SchedulerEventSequence``).
public typealias ExecutorEventSequence<Upstream: AsyncSequence> = MesosEventSequence<Upstream, ExecutorEvent>
where Upstream.Element == ArraySlice<UInt8>


extension AsyncSequence where Element == ArraySlice<UInt8> {
    /// Reads this byte stream as an executor event stream.
    ///
    /// - Parameters:
    ///   - codec: The encoding of the events.
    ///   - maximumRecordSize: The largest event accepted, in bytes.
    /// - Returns: A sequence of typed events.
    public func executorEvents(
        codec: MesosCodec,
        maximumRecordSize: Int = RecordIODecoder.defaultMaximumRecordSize
    ) -> ExecutorEventSequence<Self> {
        ExecutorEventSequence(upstream: self, codec: codec, maximumRecordSize: maximumRecordSize)
    }
}
