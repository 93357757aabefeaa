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

/// Typed executor events read from the raw bytes of an executor SUBSCRIBE response body.
///
/// It frames the bytes as RecordIO and decodes each record with a ``MesosCodec``. Failures surface as
/// ``MesosError``, exactly as in ``SchedulerEventSequence``.
public struct ExecutorEventSequence<Upstream: AsyncSequence>: AsyncSequence
where Upstream.Element == ArraySlice<UInt8> {
    /// A typed event.
    public typealias Element = ExecutorEvent

    private let records: RecordIOSequence<Upstream>
    private let codec: MesosCodec

    /// Creates the sequence.
    ///
    /// - Parameters:
    ///   - upstream: The response body's chunks.
    ///   - codec: The encoding the agent answered in.
    ///   - maximumRecordSize: The largest event accepted, in bytes.
    public init(upstream: Upstream, codec: MesosCodec, maximumRecordSize: Int = RecordIODecoder.defaultMaximumRecordSize) {
        self.records = RecordIOSequence(upstream: upstream, maximumRecordSize: maximumRecordSize)
        self.codec = codec
    }

    /// Returns an iterator over the events.
    public func makeAsyncIterator() -> Iterator {
        Iterator(records: self.records.makeAsyncIterator(), codec: self.codec)
    }

    /// Decodes one record per call.
    public struct Iterator: AsyncIteratorProtocol {
        private var records: RecordIOSequence<Upstream>.Iterator
        private let codec: MesosCodec

        init(records: RecordIOSequence<Upstream>.Iterator, codec: MesosCodec) {
            self.records = records
            self.codec = codec
        }

        /// Returns the next event, or `nil` when the stream ended cleanly.
        ///
        /// - Throws: ``MesosError``.
        public mutating func next() async throws(MesosError) -> ExecutorEvent? {
            let record: ArraySlice<UInt8>?
            do {
                record = try await self.records.next()
            } catch {
                throw eventStreamError(error)
            }
            return try record.map { record throws(MesosError) in try self.codec.decodeExecutorEvent(record) }
        }
    }
}

extension ExecutorEventSequence: Sendable where Upstream: Sendable {}

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
