/// An asynchronous sequence of RecordIO records read from an asynchronous sequence of byte chunks.
///
/// Create one with ``_Concurrency/AsyncSequence/recordIORecords(maximumRecordSize:)``. Each element is the data
/// of one record, without its length prefix. The sequence ends when the upstream ends at a record boundary; if
/// the upstream ends inside a record it throws ``RecordIOError/truncated(expected:received:offset:)``.
public struct RecordIOSequence<Upstream: AsyncSequence>: AsyncSequence
where Upstream.Element == ArraySlice<UInt8> {
    /// One record's bytes.
    public typealias Element = ArraySlice<UInt8>

    private let upstream: Upstream
    private let maximumRecordSize: Int

    /// Creates a sequence that frames `upstream`.
    ///
    /// - Parameters:
    ///   - upstream: Chunks of the stream, as they arrive.
    ///   - maximumRecordSize: The largest record accepted.
    public init(upstream: Upstream, maximumRecordSize: Int = RecordIODecoder.defaultMaximumRecordSize) {
        self.upstream = upstream
        self.maximumRecordSize = maximumRecordSize
    }

    /// Returns an iterator over the records.
    public func makeAsyncIterator() -> Iterator {
        Iterator(upstream: self.upstream.makeAsyncIterator(), maximumRecordSize: self.maximumRecordSize)
    }

    /// Pulls chunks from the upstream only when no complete record is buffered.
    public struct Iterator: AsyncIteratorProtocol {
        private var upstream: Upstream.AsyncIterator
        private var decoder: RecordIODecoder
        private var finished = false

        init(upstream: Upstream.AsyncIterator, maximumRecordSize: Int) {
            self.upstream = upstream
            self.decoder = RecordIODecoder(maximumRecordSize: maximumRecordSize)
        }

        /// Returns the next record, or `nil` at the end of the stream.
        ///
        /// - Throws: ``RecordIOError`` for malformed or truncated input, or whatever the upstream throws.
        public mutating func next() async throws -> ArraySlice<UInt8>? {
            while true {
                if self.finished {
                    return nil
                }
                if let record = try self.decoder.next() {
                    return record
                }
                guard let chunk = try await self.upstream.next() else {
                    self.finished = true
                    let rest = try self.decoder.finish()
                    // `next()` was drained, so nothing can be left over here.
                    assert(rest.isEmpty)
                    return nil
                }
                self.decoder.append(chunk)
            }
        }
    }
}

extension RecordIOSequence: Sendable where Upstream: Sendable {}

extension AsyncSequence where Element == ArraySlice<UInt8> {
    /// Frames this byte stream as RecordIO and yields each record's data.
    ///
    /// - Parameter maximumRecordSize: The largest record accepted, in bytes.
    /// - Returns: A sequence of records.
    public func recordIORecords(
        maximumRecordSize: Int = RecordIODecoder.defaultMaximumRecordSize
    ) -> RecordIOSequence<Self> {
        RecordIOSequence(upstream: self, maximumRecordSize: maximumRecordSize)
    }
}
