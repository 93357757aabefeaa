import MesosRecordIO
import Synchronization

/// Typed scheduler events read from a SUBSCRIBE response body, decoded on several cores while keeping the
/// stream's order.
///
/// The consuming task reads the body and frames it as RecordIO itself. The records that one arriving chunk
/// completes form a batch. A small batch is decoded on the consuming task, one event per `next()`, as
/// ``SchedulerEventSequence`` does. A large one (a master catching up, a burst of offers) is split: the
/// consuming task decodes the first part one event at a time, as it hands the events out, while up to
/// `decodingConcurrency` helper tasks decode the rest on other cores; by the time the consumer reaches the rest
/// it is usually ready. The split follows the consumer: when it reaches the helpers' part before it is ready, the
/// helpers get less of the next batch; when the helpers finished first, they get more.
///
/// This costs one hand-off to another thread per large batch and none per event, adds no latency (the first event
/// of a batch is decoded as soon as its bytes are in), and reads nothing ahead of the consumer beyond the chunk
/// being decoded: a slow consumer stops pulling from the transport, which then stops reading from the socket.
///
/// Errors are the same as ``SchedulerEventSequence``'s and come in order: the events before a malformed record
/// or a transport failure are delivered first. Cancelling the consuming task ends the sequence with
/// ``MesosError/Code/cancelled``; dropping the iterator drops the transport's body, which closes the connection.
///
/// The sequence is iterated once.
public struct ParallelSchedulerEventSequence<Upstream: AsyncSequence & Sendable>: AsyncSequence, Sendable
where Upstream.Element == ArraySlice<UInt8> {
    /// A typed event.
    public typealias Element = SchedulerEvent

    private let upstream: Upstream
    private let codec: MesosCodec
    private let maximumRecordSize: Int
    private let concurrency: Int

    /// Creates the sequence.
    ///
    /// - Parameters:
    ///   - upstream: The response body's chunks.
    ///   - codec: The encoding the master answered in.
    ///   - maximumRecordSize: The largest event accepted, in bytes.
    ///   - decodingConcurrency: How many helper tasks may decode parts of one batch beside the consuming task (at
    ///     least 1).
    public init(upstream: Upstream, codec: MesosCodec, maximumRecordSize: Int, decodingConcurrency: Int) {
        self.upstream = upstream
        self.codec = codec
        self.maximumRecordSize = maximumRecordSize
        self.concurrency = Swift.max(1, decodingConcurrency)
    }

    /// Returns the iterator; nothing is read before its first `next()`.
    public func makeAsyncIterator() -> Iterator {
        Iterator(
            chunks: self.upstream.makeAsyncIterator(),
            framer: RecordIODecoder(maximumRecordSize: self.maximumRecordSize),
            codec: self.codec,
            helpers: self.concurrency
        )
    }

    /// Hands out the events in stream order.
    public struct Iterator: AsyncIteratorProtocol {
        private var chunks: Upstream.AsyncIterator
        private var framer: RecordIODecoder
        private let codec: MesosCodec
        private let helpers: Int
        /// The consuming task's recurring strings (the helpers keep their own, one table per part).
        private var state = MesosStreamDecodingState()
        /// The records of the current batch that this task decodes, one per `next()`.
        private var own: [ArraySlice<UInt8>] = []
        private var ownIndex = 0
        /// The helpers' parts of the current batch, in stream order, after `own`.
        private var parts: [HelperPart] = []
        /// Events of a helper's part being handed out.
        private var decoded: [SchedulerEvent] = []
        private var decodedIndex = 0
        /// The error that ends the stream once the events before it are out.
        private var failure: MesosError?
        /// The upstream ended or failed: nothing more is read.
        private var exhausted = false
        /// The stream is over: `next()` returns `nil`.
        private var finished = false
        /// The share of a large batch the helpers decode, in 1/16ths (between 4 and 14).
        private(set) var helperSixteenths = 8
        /// Batches handed to helpers so far (for tests).
        private(set) var splitBatches = 0
        /// Chunks pulled from the upstream so far (for tests).
        private(set) var chunksPulled = 0

        /// A batch smaller than this is decoded on the consuming task alone: a hand-off costs more than it gives.
        static var minimumSplit: Int { 12 }

        init(chunks: Upstream.AsyncIterator, framer: RecordIODecoder, codec: MesosCodec, helpers: Int) {
            self.chunks = chunks
            self.framer = framer
            self.codec = codec
            self.helpers = helpers
        }

        /// Returns the next event, or `nil` when the stream ended cleanly.
        ///
        /// - Throws: ``MesosError``.
        public mutating func next() async throws(MesosError) -> SchedulerEvent? {
            while true {
                if self.decodedIndex < self.decoded.count {
                    defer { self.decodedIndex += 1 }
                    return self.decoded[self.decodedIndex]
                }
                if self.ownIndex < self.own.count {
                    let record = self.own[self.ownIndex]
                    self.ownIndex += 1
                    do {
                        return try self.codec.decodeEvent(record, state: &self.state)
                    } catch {
                        self.end()
                        throw error
                    }
                }
                if !self.parts.isEmpty {
                    let part = self.parts.removeFirst()
                    // Reaching a part that is not ready yet means the helpers had too much of this batch.
                    self.adjustShare(helpersWereFirst: part.isDone)
                    let batch = await part.task.value
                    self.decoded = batch.events
                    self.decodedIndex = 0
                    if let failure = batch.failure {
                        // The events before the bad record go out first; what follows it is dropped.
                        self.parts.removeAll()
                        self.failure = failure
                        self.exhausted = true
                    }
                    continue
                }
                self.decoded = []
                self.decodedIndex = 0
                if let failure = self.failure {
                    self.end()
                    throw failure
                }
                if self.finished || self.exhausted {
                    self.end()
                    return nil
                }
                try await self.readBatch()
            }
        }

        /// Reads until at least one record is complete, then takes every complete record at hand as the next batch
        /// and splits it between this task and the helpers when it is large.
        private mutating func readBatch() async throws(MesosError) {
            var records: [ArraySlice<UInt8>] = []
            do {
                while records.isEmpty {
                    while let record = try self.framer.next() {
                        records.append(record)
                    }
                    if !records.isEmpty { break }
                    let chunk: ArraySlice<UInt8>?
                    do {
                        chunk = try await self.chunks.next()
                    } catch {
                        throw eventStreamError(error)
                    }
                    guard let chunk else {
                        self.exhausted = true
                        if Task.isCancelled {
                            throw MesosError(code: .cancelled, message: "Reading the event stream was cancelled")
                        }
                        _ = try self.framer.finish()
                        return
                    }
                    self.chunksPulled += 1
                    self.framer.append(chunk)
                }
            } catch {
                let failure = eventStreamError(error)
                self.exhausted = true
                if records.isEmpty {
                    self.end()
                    throw failure
                }
                // The whole records before the bad bytes are delivered first.
                self.failure = failure
            }
            self.split(records)
        }

        /// Keeps the batch's first part for this task and starts the helpers on the rest.
        private mutating func split(_ records: [ArraySlice<UInt8>]) {
            self.ownIndex = 0
            guard records.count >= Self.minimumSplit else {
                self.own = records
                return
            }
            let helped = records.count * self.helperSixteenths / 16
            let kept = records.count - helped
            self.own = Array(records[..<kept])
            let helpers = Swift.min(self.helpers, Swift.max(1, helped / (Self.minimumSplit / 2)))
            let codec = self.codec
            var start = kept
            for index in 0..<helpers {
                let end = index == helpers - 1 ? records.count : start + helped / helpers
                let part = Array(records[start..<end])
                let done = HelperPart.Flag()
                let task = Task {
                    defer { done.value.store(true, ordering: .releasing) }
                    return Self.decode(part, codec: codec)
                }
                self.parts.append(HelperPart(task: task, done: done))
                start = end
            }
            self.splitBatches += 1
        }

        private mutating func adjustShare(helpersWereFirst: Bool) {
            if helpersWereFirst {
                self.helperSixteenths = Swift.min(14, self.helperSixteenths + 1)
            } else {
                self.helperSixteenths = Swift.max(4, self.helperSixteenths - 1)
            }
        }

        /// Drops everything buffered: the stream is over.
        private mutating func end() {
            self.finished = true
            self.exhausted = true
            self.own = []
            self.ownIndex = 0
            self.parts.removeAll()
            self.decoded = []
            self.decodedIndex = 0
            self.failure = nil
        }

        /// Decodes a helper's part; the first record that fails ends it with that error.
        private static func decode(_ records: [ArraySlice<UInt8>], codec: MesosCodec) -> DecodedBatch {
            var events: [SchedulerEvent] = []
            events.reserveCapacity(records.count)
            var strings = RecurringStrings()
            for record in records {
                do {
                    events.append(try codec.decodeEvent(record, strings: &strings))
                } catch {
                    return DecodedBatch(events: events, failure: error)
                }
            }
            return DecodedBatch(events: events, failure: nil)
        }
    }
}

/// A helper's part of a batch: its decoding task and whether it has finished.
struct HelperPart: Sendable {
    /// Set by the helper when its part is decoded.
    final class Flag: Sendable {
        let value = Atomic<Bool>(false)
    }

    let task: Task<DecodedBatch, Never>
    let done: Flag

    /// The part is decoded (the consumer will not wait for it).
    var isDone: Bool { self.done.value.load(ordering: .acquiring) }
}

/// The events of one part, and the error that cut it short, if any.
struct DecodedBatch: Sendable {
    var events: [SchedulerEvent]
    var failure: MesosError?
}

extension AsyncSequence where Element == ArraySlice<UInt8>, Self: Sendable {
    /// Reads this byte stream as a scheduler event stream, decoding large batches on up to
    /// `decodingConcurrency` helper tasks beside the consuming one.
    ///
    /// - Parameters:
    ///   - codec: The encoding of the events.
    ///   - maximumRecordSize: The largest event accepted, in bytes.
    ///   - decodingConcurrency: Helper tasks per large batch (at least 1).
    /// - Returns: A sequence of typed events, in stream order.
    public func schedulerEvents(
        codec: MesosCodec,
        maximumRecordSize: Int = RecordIODecoder.defaultMaximumRecordSize,
        decodingConcurrency: Int
    ) -> ParallelSchedulerEventSequence<Self> {
        ParallelSchedulerEventSequence(
            upstream: self, codec: codec, maximumRecordSize: maximumRecordSize, decodingConcurrency: decodingConcurrency)
    }
}
