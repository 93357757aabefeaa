internal import CCurl
import Foundation
import MesosCore

/// One request and its response: it joins the pieces that carry them, the configured easy handle
/// (``CurlEasyHandle``), the head parser (``CurlHeadParser``), the bounded body queue (``CurlBodyQueue``) and
/// the C callbacks (`CurlCallbacks.swift`), and hands the head and the body chunks to the waiting caller.
///
/// Threading: the properties marked "engine thread" are set up by the initializer on the caller's thread before
/// the transfer is posted to the engine, and from then on are used only by the engine thread (callbacks run
/// there too). Everything the consumer side shares with the engine thread lives in ``state``, behind a lock.
/// Hence `@unchecked Sendable`.
final class CurlTransfer: @unchecked Sendable {
    typealias HeadWaiter = CheckedContinuation<Result<MesosHTTPResponse, MesosError>, Never>
    typealias BodyWaiter = CheckedContinuation<Result<ArraySlice<UInt8>?, MesosError>, Never>

    private struct State {
        var headResult: Result<MesosHTTPResponse, MesosError>?
        var headWaiter: HeadWaiter?
        var queue: CurlBodyQueue
        var bodyWaiter: BodyWaiter?
        /// How the response ended (set once), and whether the consumer has been told.
        var end: Result<Void, MesosError>?
        var endDelivered = false
        var cancelled = false
        var iteratorCreated = false
    }

    /// `METHOD URL`, for messages.
    let context: String
    /// The request's idle timeout.
    let idleTimeout: Duration?
    private let engine: CurlEngine
    private let state: LockedValue<State>

    // Engine thread (see the type's discussion).
    private var handle: CurlEasyHandle?
    private var head = CurlHeadParser()
    /// The write callback returned `CURL_WRITEFUNC_PAUSE` and no unpause has been applied since.
    var curlPaused = false
    /// When bytes last arrived (or the transfer started or resumed).
    var lastActivity = ContinuousClock.Instant.now

    /// Creates a transfer with a fully configured easy handle, not yet started.
    ///
    /// - Throws: ``MesosError/Code/transportFailure`` for a request libcurl cannot send (bad scheme, method or
    ///   header) or if libcurl is unusable.
    init(
        request: MesosHTTPRequest,
        configuration: MesosCurlTransport.Configuration,
        engine: CurlEngine
    ) throws(MesosError) {
        self.context = "\(request.method) \(request.url.absoluteString)"
        self.idleTimeout = request.idleTimeout
        self.engine = engine
        self.state = LockedValue(State(queue: CurlBodyQueue(capacity: configuration.maximumBufferedBytesPerResponse)))
        guard !engine.isUnavailable else {
            let cause = CurlError(curlGlobalInitialization)
            throw MesosError(
                code: .transportFailure,
                message: "\(self.context) cannot be sent: libcurl could not be initialized (\(cause.summary))",
                cause: cause
            )
        }
        self.handle = try CurlEasyHandle(
            request: request,
            configuration: configuration,
            context: self.context,
            userData: Unmanaged.passUnretained(self).toOpaque()
        )
    }

    /// The easy handle, while it exists (engine thread).
    var easy: UnsafeMutableRawPointer? {
        self.handle?.easy
    }

    // MARK: - Caller side

    /// Whether the transfer was cancelled (by the consumer or by dropping it).
    var isCancelled: Bool {
        self.state.withLock { $0.cancelled }
    }

    /// The error for a request cancelled by its task.
    static func cancellationError(for request: MesosHTTPRequest, phase: String) -> MesosError {
        MesosError(
            code: .cancelled,
            message: "\(request.method) \(request.url.absoluteString) was cancelled \(phase)",
            cause: CancellationError()
        )
    }

    private func cancellationError(phase: String) -> MesosError {
        MesosError(code: .cancelled, message: "\(self.context) was cancelled \(phase)", cause: CancellationError())
    }

    /// Hands the transfer to the engine and waits for the response head.
    ///
    /// - Throws: ``MesosError``; cancelling the task aborts the transfer.
    func start() async throws(MesosError) -> MesosHTTPResponse {
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { (waiter: HeadWaiter) in
                let ready = self.state.withLock { state -> Result<MesosHTTPResponse, MesosError>? in
                    if let result = state.headResult {
                        return result
                    }
                    state.headWaiter = waiter
                    return nil
                }
                if let ready {
                    waiter.resume(returning: ready)
                } else if !self.engine.post(.add(self)) {
                    self.finish(failure: MesosError(code: .transportFailure, message: "\(self.context): the transport has shut down"))
                }
            }
        } onCancel: {
            self.cancel(self.cancellationError(phase: "before the response head arrived"))
        }
        return try result.get()
    }

    /// Returns the next body chunk, `nil` at the end, waiting if none is buffered.
    func nextChunk() async throws(MesosError) -> ArraySlice<UInt8>? {
        if Task.isCancelled {
            self.cancel(self.cancellationError(phase: "while reading the response body"))
        }
        let (ready, resume) = self.state.withLock { Self.takeNext(&$0) }
        if resume {
            self.engine.post(.unpause(self))
        }
        if let ready {
            return try ready.get()
        }
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { (waiter: BodyWaiter) in
                let (ready, resume) = self.state.withLock { state in
                    let next = Self.takeNext(&state)
                    if next.0 == nil {
                        state.bodyWaiter = waiter
                    }
                    return next
                }
                if resume {
                    self.engine.post(.unpause(self))
                }
                if let ready {
                    waiter.resume(returning: ready)
                }
            }
        } onCancel: {
            self.cancel(self.cancellationError(phase: "while reading the response body"))
        }
        return try result.get()
    }

    /// Takes the next chunk or the end, if either is there; says whether the paused transfer should resume.
    private static func takeNext(_ state: inout State) -> (Result<ArraySlice<UInt8>?, MesosError>?, Bool) {
        let (chunk, resume) = state.queue.take()
        if let chunk {
            return (.success(chunk), resume)
        }
        if let end = state.end {
            if state.endDelivered {
                return (.success(nil), false)
            }
            state.endDelivered = true
            switch end {
            case .success: return (.success(nil), false)
            case .failure(let error): return (.failure(error), false)
            }
        }
        return (nil, false)
    }

    /// Records that the body is being iterated; from now on dropping the iterator ends the transfer.
    func noteIteratorCreated() {
        self.state.withLock { $0.iteratorCreated = true }
    }

    /// The body value is gone: if nobody iterates it, end the transfer.
    func bodyReleased() {
        let iterated = self.state.withLock { $0.iteratorCreated }
        if !iterated {
            self.cancel(self.cancellationError(phase: "because its body was dropped"))
        }
    }

    /// Aborts the transfer (closing its connection), unless it already ended. Waiters get `error`.
    func cancel(_ error: MesosError) {
        let first = self.state.withLock { state -> Bool in
            guard !state.cancelled, state.end == nil else {
                return false
            }
            state.cancelled = true
            return true
        }
        guard first else {
            return
        }
        self.terminate(.failure(error), discardBuffered: true)
        self.engine.post(.remove(self))
    }

    // MARK: - Engine thread

    /// Fails the transfer (idle timeout, engine failure). The engine detaches the easy handle itself.
    func finish(failure error: MesosError) {
        self.terminate(.failure(error), discardBuffered: false)
    }

    /// Ends the transfer with curl's result.
    func finish(curlCode code: CURLcode) {
        if code == CURLE_OK {
            if self.head.complete() {
                self.deliverHead()
            }
            self.terminate(.success(()), discardBuffered: false)
        } else {
            let phase = self.head.isComplete ? "while reading the response body" : "before the response head arrived"
            let detail = self.handle?.errorText ?? ""
            self.terminate(
                .failure(CurlError.mesosError(code, detail: detail, context: self.context, phase: phase)),
                discardBuffered: false
            )
        }
    }

    /// Frees the easy handle once it has left the multi handle (or never joined it).
    func releaseEasyHandle() {
        self.handle?.release()
    }

    /// The error for a transfer silent for longer than its idle timeout.
    func idleTimeoutError() -> MesosError {
        let limit = self.idleTimeout.map { "\($0)" } ?? "?"
        let phase = self.head.isComplete ? "in the response body" : "before the response head"
        return MesosError(code: .timeout, message: "\(self.context): no data received for \(limit) \(phase)")
    }

    /// Records the head; its waiter is resumed at the end of the engine's turn (after curl has read whatever
    /// else arrived with it, often the whole body).
    private func deliverHead() {
        let response = self.head.response(curlStatus: self.handle?.responseCode ?? 0)
        let waiter = self.state.withLock { state -> HeadWaiter? in
            guard state.headResult == nil else {
                return nil
            }
            state.headResult = .success(response)
            defer { state.headWaiter = nil }
            return state.headWaiter
        }
        if let waiter {
            self.engine.deliverLater(waiter, response)
        }
    }

    private func terminate(_ outcome: Result<Void, MesosError>, discardBuffered: Bool) {
        let (head, body) = self.state.withLock { state -> ((HeadWaiter, MesosError)?, (BodyWaiter, Result<ArraySlice<UInt8>?, MesosError>)?) in
            guard state.end == nil else {
                return (nil, nil)
            }
            state.end = outcome
            if discardBuffered {
                state.queue.removeAll()
            }
            var head: (HeadWaiter, MesosError)?
            if state.headResult == nil {
                let error: MesosError
                switch outcome {
                case .failure(let failure): error = failure
                case .success:
                    error = MesosError(code: .transportFailure, message: "\(self.context): the response ended before its head")
                }
                state.headResult = .failure(error)
                if let waiter = state.headWaiter {
                    state.headWaiter = nil
                    head = (waiter, error)
                }
            }
            var body: (BodyWaiter, Result<ArraySlice<UInt8>?, MesosError>)?
            if let waiter = state.bodyWaiter {
                // A consumer only waits when the queue is empty, so the end is next.
                state.bodyWaiter = nil
                state.endDelivered = true
                switch outcome {
                case .success: body = (waiter, .success(nil))
                case .failure(let error): body = (waiter, .failure(error))
                }
            }
            return (head, body)
        }
        if let (waiter, error) = head {
            waiter.resume(returning: .failure(error))
        }
        if let (waiter, result) = body {
            waiter.resume(returning: result)
        }
    }

    /// The header callback's work: one line of the head.
    func receiveHeaderLine(_ bytes: UnsafeRawBufferPointer) -> Int {
        self.lastActivity = .now
        if self.head.consume(bytes.bindMemory(to: UInt8.self)) {
            self.deliverHead()
        }
        return bytes.count
    }

    /// The write callback's work: queues a body chunk, hands it straight to a waiting consumer, or pauses the
    /// transfer when the queue is full.
    func receiveBody(_ bytes: UnsafeRawBufferPointer) -> Int {
        self.lastActivity = .now
        guard bytes.count > 0 else {
            return 0
        }
        enum Action {
            case handOver(BodyWaiter, ArraySlice<UInt8>)
            case queued
            case pause
            case abort
        }
        let chunk = [UInt8](bytes)[...]
        let action = self.state.withLock { state -> Action in
            if state.cancelled || state.end != nil {
                return .abort
            }
            if let waiter = state.bodyWaiter {
                state.bodyWaiter = nil
                return .handOver(waiter, chunk)
            }
            return state.queue.append(chunk) ? .queued : .pause
        }
        switch action {
        case .handOver(let waiter, let chunk):
            waiter.resume(returning: .success(chunk))
            return bytes.count
        case .queued:
            return bytes.count
        case .pause:
            // curl keeps these bytes and delivers them again after curl_easy_pause(CURLPAUSE_CONT).
            self.curlPaused = true
            return swift_mesos_curl_writefunc_pause()
        case .abort:
            return 0
        }
    }
}
