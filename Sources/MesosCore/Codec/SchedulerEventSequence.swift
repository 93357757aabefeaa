import MesosRecordIO

/// Typed scheduler events read from the raw bytes of a SUBSCRIBE response body.
///
/// It frames the bytes as RecordIO and decodes each record with a ``MesosCodec``. Every failure surfaces as a
/// ``MesosError``: framing problems as ``MesosError/Code/malformedStream``,
/// ``MesosError/Code/recordTooLarge`` or ``MesosError/Code/streamTruncated``, undecodable records as
/// ``MesosError/Code/decodingFailed``, and errors thrown by the byte source as
/// ``MesosError/Code/transportFailure`` (unless they already are a `MesosError`).
public struct SchedulerEventSequence<Upstream: AsyncSequence>: AsyncSequence
where Upstream.Element == ArraySlice<UInt8> {
    /// A typed event.
    public typealias Element = SchedulerEvent

    private let records: RecordIOSequence<Upstream>
    private let codec: MesosCodec

    /// Creates the sequence.
    ///
    /// - Parameters:
    ///   - upstream: The response body's chunks.
    ///   - codec: The encoding the master answered in.
    ///   - maximumRecordSize: The largest event accepted, in bytes.
    public init(
        upstream: Upstream,
        codec: MesosCodec,
        maximumRecordSize: Int = RecordIODecoder.defaultMaximumRecordSize
    ) {
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
        public mutating func next() async throws -> SchedulerEvent? {
            let record: ArraySlice<UInt8>?
            do {
                record = try await self.records.next()
            } catch let error as RecordIOError {
                throw MesosError.recordIO(error)
            } catch let error as MesosError {
                throw error
            } catch is CancellationError {
                throw MesosError(code: .cancelled, message: "Reading the event stream was cancelled")
            } catch {
                throw MesosError(code: .transportFailure, message: "Reading the event stream failed: \(error)", cause: error)
            }
            guard let record else {
                return nil
            }
            return try self.codec.decodeEvent(record)
        }
    }
}

extension SchedulerEventSequence: Sendable where Upstream: Sendable {}

extension AsyncSequence where Element == ArraySlice<UInt8> {
    /// Reads this byte stream as a scheduler event stream.
    ///
    /// - Parameters:
    ///   - codec: The encoding of the events.
    ///   - maximumRecordSize: The largest event accepted, in bytes.
    /// - Returns: A sequence of typed events.
    public func schedulerEvents(
        codec: MesosCodec,
        maximumRecordSize: Int = RecordIODecoder.defaultMaximumRecordSize
    ) -> SchedulerEventSequence<Self> {
        SchedulerEventSequence(upstream: self, codec: codec, maximumRecordSize: maximumRecordSize)
    }
}
