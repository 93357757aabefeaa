import MesosRecordIO

/// An event type that one RecordIO record of an event stream decodes into (scheduler and executor events).
public protocol MesosStreamEvent: Sendable {
    /// Decodes one record.
    ///
    /// - Parameters:
    ///   - record: One RecordIO record of the stream.
    ///   - codec: The encoding the server answered in.
    /// - Returns: The typed event.
    /// - Throws: ``MesosError/Code/decodingFailed``.
    static func decode(_ record: ArraySlice<UInt8>, codec: MesosCodec) throws(MesosError) -> Self

    /// Decodes one record of a stream with what the stream's reader keeps from one record to the next.
    ///
    /// - Parameters:
    ///   - record: One RecordIO record of the stream.
    ///   - codec: The encoding the server answered in.
    ///   - state: The reader's decoding state, the same for every record of one stream.
    /// - Returns: The typed event.
    /// - Throws: ``MesosError/Code/decodingFailed``.
    static func decode(
        _ record: ArraySlice<UInt8>, codec: MesosCodec, state: inout MesosStreamDecodingState
    ) throws(MesosError) -> Self
}

extension MesosStreamEvent {
    /// Decodes one record with ``decode(_:codec:)``: an event type that keeps nothing between records.
    public static func decode(
        _ record: ArraySlice<UInt8>, codec: MesosCodec, state: inout MesosStreamDecodingState
    ) throws(MesosError) -> Self {
        try Self.decode(record, codec: codec)
    }
}

/// What a reader of one event stream keeps from one record to the next: the strings that recur from event to
/// event (framework and agent ids, hostnames), so that decoding them again shares the string already made.
/// Keep one per stream and pass it to every record's decoding; it is not shared between threads.
public struct MesosStreamDecodingState: Sendable {
    var strings = RecurringStrings()

    /// A state for a new stream.
    public init() {}
}

extension SchedulerEvent: MesosStreamEvent {
    /// Decodes one record with ``MesosCodec/decodeEvent(_:)``.
    public static func decode(_ record: ArraySlice<UInt8>, codec: MesosCodec) throws(MesosError) -> SchedulerEvent {
        try codec.decodeEvent(record)
    }

    /// Decodes one record with ``MesosCodec/decodeEvent(_:state:)``.
    public static func decode(
        _ record: ArraySlice<UInt8>, codec: MesosCodec, state: inout MesosStreamDecodingState
    ) throws(MesosError) -> SchedulerEvent {
        try codec.decodeEvent(record, state: &state)
    }
}

/// Typed scheduler events read from the raw bytes of a SUBSCRIBE response body.
public typealias SchedulerEventSequence<Upstream: AsyncSequence> = MesosEventSequence<Upstream, SchedulerEvent>
where Upstream.Element == ArraySlice<UInt8>

/// Typed events read from the raw bytes of a SUBSCRIBE response body (the scheduler's or the executor's).
///
/// It frames the bytes as RecordIO and decodes each record with a ``MesosCodec``. Every failure surfaces as a
/// ``MesosError``: framing problems as ``MesosError/Code/malformedStream``,
/// ``MesosError/Code/recordTooLarge`` or ``MesosError/Code/streamTruncated``, undecodable records as
/// ``MesosError/Code/decodingFailed``, and errors thrown by the byte source as
/// ``MesosError/Code/transportFailure`` (unless they already are a `MesosError`).
public struct MesosEventSequence<Upstream: AsyncSequence, Event: MesosStreamEvent>: AsyncSequence
where Upstream.Element == ArraySlice<UInt8> {
    /// A typed event.
    public typealias Element = Event

    private let records: RecordIOSequence<Upstream>
    private let codec: MesosCodec

    /// Creates the sequence.
    ///
    /// - Parameters:
    ///   - upstream: The response body's chunks.
    ///   - codec: The encoding the server answered in.
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
        private var state = MesosStreamDecodingState()

        init(records: RecordIOSequence<Upstream>.Iterator, codec: MesosCodec) {
            self.records = records
            self.codec = codec
        }

        /// Returns the next event, or `nil` when the stream ended cleanly.
        ///
        /// - Throws: ``MesosError``.
        public mutating func next() async throws(MesosError) -> Event? {
            let record: ArraySlice<UInt8>?
            do {
                record = try await self.records.next()
            } catch {
                throw eventStreamError(error)
            }
            guard let record else {
                return nil
            }
            return try Event.decode(record, codec: self.codec, state: &self.state)
        }
    }
}

extension MesosEventSequence: Sendable where Upstream: Sendable {}

/// What a failure while reading an event stream becomes: framing errors as their ``MesosError`` codes,
/// cancellation as ``MesosError/Code/cancelled``, anything else from the byte source as
/// ``MesosError/Code/transportFailure`` (a ``MesosError`` passes through).
func eventStreamError(_ error: any Error) -> MesosError {
    switch error {
    case let error as RecordIOError:
        return MesosError.recordIO(error)
    case let error as MesosError:
        return error
    case is CancellationError:
        return MesosError(code: .cancelled, message: "Reading the event stream was cancelled")
    default:
        return MesosError(code: .transportFailure, message: "Reading the event stream failed: \(error)", cause: error)
    }
}

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
