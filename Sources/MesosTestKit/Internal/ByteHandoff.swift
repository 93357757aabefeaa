import MesosCore

/// Hands body chunks from a producing task to the consuming iterator, one at a time (a one-slot channel).
///
/// `write` suspends while the slot is full, so the producer runs at the consumer's pace: that is the in-memory
/// equivalent of TCP backpressure. When the consumer goes away (``close()``, or its task is cancelled while
/// waiting), pending and later writes throw ``FakeMasterClientClosed`` and `onClose` runs (it cancels the
/// producer), which is the in-memory equivalent of the client closing the connection.
final class ByteHandoff: Sendable {
    private struct State {
        var slot: ArraySlice<UInt8>?
        var producer: CheckedContinuation<Bool, any Error>?
        var consumer: CheckedContinuation<ArraySlice<UInt8>?, any Error>?
        /// Set once by the producer: `.success` for a clean end, `.failure` for a cut connection.
        var end: Result<Void, any Error>?
        var closed = false
        var onClose: (@Sendable () -> Void)?
    }

    private let state = LockedValue(State())

    /// Registers what to do when the consumer closes; runs at once if it already has.
    func setOnClose(_ action: @escaping @Sendable () -> Void) {
        let runNow = self.state.withLock { state in
            if state.closed { return true }
            state.onClose = action
            return false
        }
        if runNow { action() }
    }

    // MARK: Producer side

    /// Waits until the slot is free, then puts `chunk` in it (or hands it straight to a waiting consumer).
    func write(_ chunk: ArraySlice<UInt8>) async throws {
        while try await !self.tryWrite(chunk) {}
    }

    /// Delivers `chunk` and returns `true`, or waits for the slot to be freed and returns `false`.
    private func tryWrite(_ chunk: ArraySlice<UInt8>) async throws -> Bool {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Bool, any Error>) in
                enum Step {
                    case delivered(CheckedContinuation<ArraySlice<UInt8>?, any Error>?)
                    case wait
                    case fail(any Error)
                }
                let step: Step = self.state.withLock { state in
                    if state.closed { return .fail(FakeMasterClientClosed()) }
                    if Task.isCancelled { return .fail(CancellationError()) }
                    if state.slot == nil {
                        if let consumer = state.consumer {
                            state.consumer = nil
                            return .delivered(consumer)
                        }
                        state.slot = chunk
                        return .delivered(nil)
                    }
                    state.producer = continuation
                    return .wait
                }
                switch step {
                case .delivered(let consumer):
                    consumer?.resume(returning: chunk)
                    continuation.resume(returning: true)
                case .wait:
                    break
                case .fail(let error):
                    continuation.resume(throwing: error)
                }
            }
        } onCancel: {
            let producer = self.state.withLock { state in
                defer { state.producer = nil }
                return state.producer
            }
            producer?.resume(throwing: CancellationError())
        }
    }

    /// Ends the body: cleanly with `nil`, as a cut connection with an error.
    func finish(_ error: (any Error)?) {
        let consumer = self.state.withLock { state in
            if state.end == nil {
                state.end = error.map { .failure($0) } ?? .success(())
            }
            guard state.slot == nil else { return nil as CheckedContinuation<ArraySlice<UInt8>?, any Error>? }
            defer { state.consumer = nil }
            return state.consumer
        }
        if let consumer {
            switch error {
            case nil: consumer.resume(returning: nil)
            case let error?: consumer.resume(throwing: error)
            }
        }
    }

    // MARK: Consumer side

    /// Returns the next chunk, `nil` at a clean end; throws the producer's error at a cut end.
    func next() async throws -> ArraySlice<UInt8>? {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<ArraySlice<UInt8>?, any Error>) in
                enum Step {
                    case chunk(ArraySlice<UInt8>, CheckedContinuation<Bool, any Error>?)
                    case end(Result<Void, any Error>)
                    case cancelled
                    case wait
                }
                let step: Step = self.state.withLock { state in
                    if let chunk = state.slot {
                        state.slot = nil
                        defer { state.producer = nil }
                        return .chunk(chunk, state.producer)
                    }
                    if let end = state.end {
                        // Report a cut once; afterwards the body is simply over.
                        state.end = .success(())
                        return .end(end)
                    }
                    if Task.isCancelled || state.closed { return .cancelled }
                    state.consumer = continuation
                    return .wait
                }
                switch step {
                case .chunk(let chunk, let producer):
                    // The producer retries and finds the slot free.
                    producer?.resume(returning: false)
                    continuation.resume(returning: chunk)
                case .end(.success):
                    continuation.resume(returning: nil)
                case .end(.failure(let error)):
                    continuation.resume(throwing: error)
                case .cancelled:
                    continuation.resume(throwing: CancellationError())
                case .wait:
                    break
                }
            }
        } onCancel: {
            self.close()
        }
    }

    /// The consumer is gone: fail the producer and run `onClose`.
    func close() {
        let (producer, consumer, onClose) = self.state.withLock { state in
            state.closed = true
            state.slot = nil
            defer {
                state.producer = nil
                state.consumer = nil
                state.onClose = nil
            }
            return (state.producer, state.consumer, state.onClose)
        }
        producer?.resume(throwing: FakeMasterClientClosed())
        consumer?.resume(throwing: CancellationError())
        onClose?()
    }
}
