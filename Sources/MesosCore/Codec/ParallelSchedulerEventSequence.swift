import MesosRecordIO

/// Typed scheduler events read from a SUBSCRIBE response body, decoded on several cores while keeping the
/// stream's order.
///
/// A reader task frames the bytes as RecordIO; the records completed by each arriving chunk form a batch, and
/// each batch is decoded by its own task while the reader goes on with the next chunk. The consumer receives
/// the events in stream order. At most `2 × decodingConcurrency` batches are ahead of the consumer: when it is
/// slow, the reader stops pulling from the transport (which then stops reading from the socket), so memory
/// stays bounded. Batching by chunk adds no latency: an event is handed on as soon as its chunk has arrived.
///
/// Errors are the same as ``SchedulerEventSequence``'s and come in order: the events before a malformed record
/// or a transport failure are delivered first. Dropping the iterator or cancelling the consuming task stops the
/// reader, which closes the connection.
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
    ///   - decodingConcurrency: How many batches may be decoded at once (at least 1).
    public init(upstream: Upstream, codec: MesosCodec, maximumRecordSize: Int, decodingConcurrency: Int) {
        self.upstream = upstream
        self.codec = codec
        self.maximumRecordSize = maximumRecordSize
        self.concurrency = Swift.max(1, decodingConcurrency)
    }

    /// Starts the reader and returns the iterator.
    public func makeAsyncIterator() -> Iterator {
        let queue = DecodedBatchQueue(capacity: 2 * self.concurrency)
        let upstream = self.upstream
        let codec = self.codec
        let maximumRecordSize = self.maximumRecordSize
        let reader = Task {
            await Self.read(upstream, into: queue, codec: codec, maximumRecordSize: maximumRecordSize)
        }
        return Iterator(pipeline: Pipeline(queue: queue, reader: reader))
    }

    /// The reader: frames records, starts one decoding task per non-empty batch, queues the tasks in order.
    private static func read(
        _ upstream: Upstream,
        into queue: DecodedBatchQueue,
        codec: MesosCodec,
        maximumRecordSize: Int
    ) async {
        var decoder = RecordIODecoder(maximumRecordSize: maximumRecordSize)
        var chunks = upstream.makeAsyncIterator()
        do {
            while let chunk = try await chunks.next() {
                decoder.append(chunk)
                var batch: [ArraySlice<UInt8>] = []
                while let record = try decoder.next() {
                    batch.append(record)
                }
                if batch.isEmpty {
                    continue
                }
                let decoding = Task { Self.decode(batch, codec: codec) }
                guard await queue.push(decoding) else {
                    decoding.cancel()
                    return  // The consumer has gone: dropping `chunks` closes the connection.
                }
            }
            try decoder.finish()
            queue.finish(nil)
        } catch {
            queue.finish(eventStreamError(error))
        }
    }

    /// Decodes a batch; the first record that fails ends it with that error.
    private static func decode(_ batch: [ArraySlice<UInt8>], codec: MesosCodec) -> DecodedBatch {
        var events: [SchedulerEvent] = []
        events.reserveCapacity(batch.count)
        // The batch's events share their recurring strings (ids, hostnames): fewer allocations.
        var strings = RecurringStrings()
        for record in batch {
            do {
                events.append(try codec.decodeEvent(record, strings: &strings))
            } catch {
                return DecodedBatch(events: events, failure: error)
            }
        }
        return DecodedBatch(events: events, failure: nil)
    }

    /// Stops the reader when the iterator goes away.
    final class Pipeline: Sendable {
        let queue: DecodedBatchQueue
        let reader: Task<Void, Never>

        init(queue: DecodedBatchQueue, reader: Task<Void, Never>) {
            self.queue = queue
            self.reader = reader
        }

        deinit {
            self.queue.cancel()
            self.reader.cancel()
        }
    }

    /// Hands out the events in stream order.
    public struct Iterator: AsyncIteratorProtocol {
        /// The reader and its queue (internal: tests observe the queue).
        let pipeline: Pipeline
        private var events: [SchedulerEvent] = []
        private var index = 0
        private var failure: MesosError?
        private var finished = false

        init(pipeline: Pipeline) {
            self.pipeline = pipeline
        }

        /// Returns the next event, or `nil` when the stream ended cleanly.
        ///
        /// - Throws: ``MesosError``.
        public mutating func next() async throws -> SchedulerEvent? {
            while true {
                if self.index < self.events.count {
                    defer { self.index += 1 }
                    return self.events[self.index]
                }
                if let failure = self.failure {
                    self.failure = nil
                    self.finished = true
                    throw failure
                }
                if self.finished {
                    return nil
                }
                let pipeline = self.pipeline
                // Cancelling the consumer stops the reader (closing the connection) and ends the wait.
                let item = await withTaskCancellationHandler {
                    await pipeline.queue.pop()
                } onCancel: {
                    pipeline.queue.cancel()
                    pipeline.reader.cancel()
                }
                switch item {
                case .batch(let task):
                    let batch = await task.value
                    self.events = batch.events
                    self.index = 0
                    self.failure = batch.failure
                case .end(let failure):
                    self.events = []
                    self.index = 0
                    self.finished = true
                    if let failure {
                        throw failure
                    }
                    return nil
                }
            }
        }
    }
}

/// The events of one batch, and the error that cut it short, if any.
struct DecodedBatch: Sendable {
    var events: [SchedulerEvent]
    var failure: MesosError?
}

/// A bounded FIFO of decoding tasks between the reader (one producer) and the iterator (one consumer).
final class DecodedBatchQueue: Sendable {
    enum Item: Sendable {
        case batch(Task<DecodedBatch, Never>)
        case end(MesosError?)
    }

    private struct State {
        var items = FIFOQueue<Task<DecodedBatch, Never>>()
        var end: MesosError??
        var cancelled = false
        var consumer: CheckedContinuation<Item, Never>?
        var producer: CheckedContinuation<Bool, Never>?
        /// Waiting in ``producerBlocked()``.
        var blockedWatchers: [CheckedContinuation<Void, Never>] = []

        var count: Int { self.items.count }
    }

    private let capacity: Int
    private let state = LockedValue(State())

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    /// Queues a batch, waiting while the queue is full. Returns `false` once the consumer has gone.
    func push(_ task: Task<DecodedBatch, Never>) async -> Bool {
        enum Step {
            case handedOver(CheckedContinuation<Item, Never>)
            case queued
            case full
            case cancelled
        }
        let step = self.state.withLock { state -> Step in
            if state.cancelled { return .cancelled }
            if let consumer = state.consumer {
                state.consumer = nil
                return .handedOver(consumer)
            }
            if state.count < self.capacity {
                state.items.append(task)
                return .queued
            }
            return .full
        }
        switch step {
        case .handedOver(let consumer):
            consumer.resume(returning: .batch(task))
            return true
        case .queued:
            return true
        case .cancelled:
            return false
        case .full:
            let proceed = await withCheckedContinuation { (producer: CheckedContinuation<Bool, Never>) in
                let (answer, watchers) = self.state.withLock { state -> (Bool?, [CheckedContinuation<Void, Never>]) in
                    if state.cancelled { return (false, []) }
                    if state.count < self.capacity { return (true, []) }
                    state.producer = producer
                    defer { state.blockedWatchers = [] }
                    return (nil, state.blockedWatchers)
                }
                if let answer { producer.resume(returning: answer) }
                for watcher in watchers { watcher.resume() }
            }
            guard proceed else { return false }
            return await self.push(task)
        }
    }

    /// Returns once the producer waits because the queue is full (for tests: the readiness signal that the
    /// reader has stopped pulling from the transport).
    func producerBlocked() async {
        await withCheckedContinuation { (watcher: CheckedContinuation<Void, Never>) in
            let blocked = self.state.withLock { state -> Bool in
                if state.producer != nil || state.cancelled { return true }
                state.blockedWatchers.append(watcher)
                return false
            }
            if blocked { watcher.resume() }
        }
    }

    /// Ends the queue after the batches already in it.
    func finish(_ failure: MesosError?) {
        let consumer = self.state.withLock { state -> CheckedContinuation<Item, Never>? in
            guard state.end == nil else { return nil }
            state.end = .some(failure)
            defer { state.consumer = nil }
            return state.count == 0 ? state.consumer : nil
        }
        consumer?.resume(returning: .end(failure))
    }

    /// The next batch or the end, waiting for either.
    func pop() async -> Item {
        await withCheckedContinuation { (consumer: CheckedContinuation<Item, Never>) in
            let (ready, producer) = self.state.withLock { state -> (Item?, CheckedContinuation<Bool, Never>?) in
                if let task = state.items.popFirst() {
                    let producer = state.producer
                    state.producer = nil
                    return (.batch(task), producer)
                }
                if let end = state.end {
                    return (.end(end), nil)
                }
                if state.cancelled {
                    return (.end(MesosError(code: .cancelled, message: "Reading the event stream was cancelled")), nil)
                }
                state.consumer = consumer
                return (nil, nil)
            }
            producer?.resume(returning: true)
            if let ready { consumer.resume(returning: ready) }
        }
    }

    /// The consumer has gone: the producer stops, queued decoding is cancelled.
    func cancel() {
        let (producer, consumer, pending, watchers) = self.state.withLock { state in
            state.cancelled = true
            defer {
                state.producer = nil
                state.consumer = nil
                state.blockedWatchers = []
            }
            return (state.producer, state.consumer, state.items.removeAll(), state.blockedWatchers)
        }
        for watcher in watchers { watcher.resume() }
        producer?.resume(returning: false)
        consumer?.resume(returning: .end(MesosError(code: .cancelled, message: "Reading the event stream was cancelled")))
        for task in pending { task.cancel() }
    }
}

extension AsyncSequence where Element == ArraySlice<UInt8>, Self: Sendable {
    /// Reads this byte stream as a scheduler event stream, decoding on up to `decodingConcurrency` cores.
    ///
    /// - Parameters:
    ///   - codec: The encoding of the events.
    ///   - maximumRecordSize: The largest event accepted, in bytes.
    ///   - decodingConcurrency: Batches decoded at once; 1 still decodes off the consuming task.
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
