/// A bounded, single-consumer queue between a subscription loop (producer) and the code reading its events
/// (consumer): the scheduler's events, the master's operator events. `push` suspends while the queue is full, which stops the loop from reading the event stream,
/// which in turn makes the transport pause the connection: backpressure all the way to the master's socket.
package final class EventBuffer<Element: Sendable>: Sendable {

    private struct State {
        var elements = FIFOQueue<Element>()
        var producer: CheckedContinuation<Void, Never>?
        var consumer: CheckedContinuation<Element?, any Error>?
        var finished = false
        var failure: (any Error)?
        var count: Int { elements.count }
    }

    private let state = LockedValue(State())

    /// What ``push(_:)`` found under the lock.
    private enum PushStep {
        case delivered(CheckedContinuation<Element?, any Error>), queued, full, closed
    }

    /// What ``next()`` found under the lock.
    private enum NextStep {
        case element(Element, CheckedContinuation<Void, Never>?), end((any Error)?), wait
    }
    package let capacity: Int

    package init(capacity: Int) {
        precondition(capacity > 0)
        self.capacity = capacity
    }

    /// Whether ``finish(throwing:)`` was called.
    package var isFinished: Bool {
        state.withLock { $0.finished }
    }

    /// The number of queued elements.
    package var depth: Int {
        state.withLock { $0.count }
    }

    /// Adds an element, waiting while the buffer is full. Returns `false` if the buffer was finished.
    @discardableResult
    package func push(_ element: Element) async -> Bool {
        while true {
            let step: PushStep = state.withLock { state in
                if state.finished { return .closed }
                if let consumer = state.consumer {
                    state.consumer = nil
                    return .delivered(consumer)
                }
                if state.count < capacity {
                    state.elements.append(element)
                    return .queued
                }
                return .full
            }
            switch step {
            case .delivered(let consumer):
                consumer.resume(returning: element)
                return true
            case .queued:
                return true
            case .closed:
                return false
            case .full:
                if Task.isCancelled { return false }
                await withTaskCancellationHandler {
                    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                        let resumeNow = state.withLock { state -> Bool in
                            if state.finished || state.count < capacity || Task.isCancelled { return true }
                            state.producer = continuation
                            return false
                        }
                        if resumeNow { continuation.resume() }
                    }
                } onCancel: {
                    let producer = state.withLock { state -> CheckedContinuation<Void, Never>? in
                        defer { state.producer = nil }
                        return state.producer
                    }
                    producer?.resume()
                }
            }
        }
    }

    /// Takes the next element, waiting while the buffer is empty; `nil` once finished and drained.
    package func next() async throws -> Element? {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Element?, any Error>) in
                let step: NextStep = state.withLock { state in
                    if let element = state.elements.popFirst() {
                        let producer = state.producer
                        state.producer = nil
                        return .element(element, producer)
                    }
                    if state.finished {
                        let failure = state.failure
                        state.failure = nil
                        return .end(failure)
                    }
                    state.consumer = continuation
                    return .wait
                }
                switch step {
                case .element(let element, let producer):
                    producer?.resume()
                    continuation.resume(returning: element)
                case .end(let failure?):
                    continuation.resume(throwing: failure)
                case .end(nil):
                    continuation.resume(returning: nil)
                case .wait:
                    break
                }
            }
        } onCancel: {
            let consumer = state.withLock { state -> CheckedContinuation<Element?, any Error>? in
                let consumer = state.consumer
                state.consumer = nil
                return consumer
            }
            consumer?.resume(throwing: CancellationError())
        }
    }

    /// Ends the buffer: queued elements are still delivered, then `next()` returns `nil` or throws `error`.
    package func finish(throwing error: (any Error)? = nil) {
        let (consumer, producer, failure) = state.withLock { state -> (CheckedContinuation<Element?, any Error>?, CheckedContinuation<Void, Never>?, (any Error)?) in
            if state.finished { return (nil, nil, nil) }
            state.finished = true
            let consumer = state.count == 0 ? state.consumer : nil
            if consumer != nil { state.consumer = nil }
            let producer = state.producer
            state.producer = nil
            if consumer == nil { state.failure = error }
            return (consumer, producer, error)
        }
        producer?.resume()
        if let consumer {
            if let failure { consumer.resume(throwing: failure) } else { consumer.resume(returning: nil) }
        }
    }
}
