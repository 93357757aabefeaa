import MesosCore

/// The subscription's events as the loop reads them: decoded on the reading task (`decodingConcurrency` 0) or
/// in batches on decoding tasks ahead of delivery (1 or more), in stream order either way.
struct SchedulerEventSource: AsyncSequence, Sendable {
    typealias Element = SchedulerEvent

    private enum Kind: Sendable {
        case sequential(SchedulerEventSequence<MesosResponseBody>)
        case parallel(ParallelSchedulerEventSequence<MesosResponseBody>)
    }

    private let kind: Kind

    init(body: MesosResponseBody, codec: MesosCodec, maximumRecordSize: Int, decodingConcurrency: Int) {
        if decodingConcurrency <= 0 {
            self.kind = .sequential(body.schedulerEvents(codec: codec, maximumRecordSize: maximumRecordSize))
        } else {
            self.kind = .parallel(
                body.schedulerEvents(codec: codec, maximumRecordSize: maximumRecordSize, decodingConcurrency: decodingConcurrency))
        }
    }

    func makeAsyncIterator() -> Iterator {
        switch self.kind {
        case .sequential(let events): Iterator(kind: .sequential(events.makeAsyncIterator()))
        case .parallel(let events): Iterator(kind: .parallel(events.makeAsyncIterator()))
        }
    }

    struct Iterator: AsyncIteratorProtocol {
        enum Kind {
            case sequential(SchedulerEventSequence<MesosResponseBody>.Iterator)
            case parallel(ParallelSchedulerEventSequence<MesosResponseBody>.Iterator)
            /// While an iterator is out being advanced (so that its buffers stay uniquely referenced), and after
            /// a failure.
            case none
        }

        var kind: Kind

        mutating func next() async throws -> SchedulerEvent? {
            // The iterator is taken out of `kind` before it is advanced: a copy left behind would make every
            // write to its buffers copy them first.
            switch self.kind {
            case .sequential(var iterator):
                self.kind = .none
                let event = try await iterator.next()
                self.kind = .sequential(iterator)
                return event
            case .parallel(var iterator):
                self.kind = .none
                let event = try await iterator.next()
                self.kind = .parallel(iterator)
                return event
            case .none:
                return nil
            }
        }
    }
}
