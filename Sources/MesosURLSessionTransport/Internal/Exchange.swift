import Dispatch
import Foundation
import MesosCore

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// One request/response exchange: the bridge between URLSession's delegate callbacks (producer) and the
/// caller's `send` and body iteration (consumer).
///
/// The delegate runs on the session's work queue (see ``InlineDelegateQueue``), so blocking in
/// ``deliver(_:)`` stops URLSession from reading the socket: that is the backpressure. The work queue is a
/// serial dispatch queue of swift-corelibs-foundation (a thread of its own, never one of Swift's cooperative
/// threads), and the consumer side never blocks: it suspends on continuations. Timeouts are enforced here with
/// one dispatch timer, and every way the exchange can end funnels through ``abort(_:)`` (immediate, buffered
/// data discarded) or ``complete(error:fallbackResponse:)`` (the transfer ended; buffered data is delivered
/// first).
///
/// All mutable state is guarded by one ``LockedValue``; the paused producer waits on a semaphore that the
/// consumer (or the end of the exchange) signals. (`@unchecked` only because the dispatch timer's protocol is
/// not marked `Sendable`; dispatch sources are thread-safe.)
final class Exchange: @unchecked Sendable {
    let url: URL
    private let maximumBufferedBytes: Int
    private let connectTimeout: Duration
    private let callTimeout: Duration?
    private let idleTimeout: Duration?
    private let onFinish: (@Sendable () -> Void)?

    /// A serial queue of this exchange for URLSession calls that may block (creating, resuming and cancelling
    /// the task synchronise with the session's work queue, which a paused response of the same session holds).
    /// Serial queues get threads of their own; the global concurrent queues are only as wide as the machine has
    /// cores (and on Linux they also run Swift's cooperative pool), so blocking work there could starve
    /// everything else.
    let queue: DispatchQueue
    /// The queue of the timer, separate from ``queue`` so that timeouts fire even while ``queue`` is blocked.
    private let timerQueue: DispatchQueue
    private let startedAt: UInt64
    private let timer: any DispatchSourceTimer

    private struct State {
        // Head.
        var headResult: Result<MesosHTTPResponse, MesosError>?
        var headWaiter: CheckedContinuation<MesosHTTPResponse, any Error>?
        var headArrived = false

        // Body.
        var chunks = FIFOQueue<ArraySlice<UInt8>>()
        var bufferedBytes = 0
        var chunkWaiter: CheckedContinuation<ArraySlice<UInt8>?, any Error>?
        /// Set while the producer (URLSession's work queue) waits for the consumer; signalled to resume it.
        var producerWakeup: DispatchSemaphore?
        var iterated = false
        var lastActivity: UInt64

        // End.
        /// Set when the transfer ended; `nil` error means the body is complete.
        var transferEnd: Result<Void, MesosError>?
        /// Set when the exchange was aborted (timeout, cancellation, dropped body): wins over everything else.
        var abortError: MesosError?
        var finished = false

        // URLSession task.
        var task: UncheckedBox<URLSessionDataTask>?
        var taskCancelRequested = false

        var producerPaused: Bool { self.producerWakeup != nil }

        /// Lets a paused producer go on (the consumer caught up, or the exchange ended).
        mutating func wakeProducer() {
            self.producerWakeup?.signal()
            self.producerWakeup = nil
        }
    }

    private let state: LockedValue<State>

    /// Creates an exchange and starts its timeouts.
    ///
    /// - Parameters:
    ///   - url: The request URL, for messages.
    ///   - maximumBufferedBytes: The backpressure limit.
    ///   - connectTimeout: The limit until the response head.
    ///   - callTimeout: The whole-exchange limit, if any.
    ///   - idleTimeout: The longest silence in the body, if any.
    ///   - onFinish: Called once when the URLSession task has completed.
    init(
        url: URL,
        maximumBufferedBytes: Int,
        connectTimeout: Duration,
        callTimeout: Duration?,
        idleTimeout: Duration?,
        onFinish: (@Sendable () -> Void)? = nil
    ) {
        self.url = url
        self.maximumBufferedBytes = max(1, maximumBufferedBytes)
        self.connectTimeout = connectTimeout
        self.callTimeout = callTimeout
        self.idleTimeout = idleTimeout
        self.onFinish = onFinish
        self.queue = DispatchQueue(label: "MesosURLSessionTransport.exchange")
        self.timerQueue = DispatchQueue(label: "MesosURLSessionTransport.timer")
        self.startedAt = DispatchTime.now().uptimeNanoseconds
        self.state = LockedValue(State(lastActivity: self.startedAt))
        self.timer = DispatchSource.makeTimerSource(queue: self.timerQueue)
        self.timer.setEventHandler { [weak self] in
            self?.timerFired()
        }
        self.state.withLock { state in
            self.rescheduleTimer(state, now: self.startedAt)
        }
        self.timer.resume()
    }

    deinit {
        self.timer.cancel()
    }

    // MARK: - Task

    /// Associates the URLSession task. If the exchange was aborted in the meantime, the task is cancelled.
    func attach(_ task: URLSessionDataTask) {
        self.state.withLock { state in
            state.task = UncheckedBox(task)
            if state.abortError != nil {
                self.cancelTask(&state)
            }
        }
    }

    /// Cancels the task once, off the session's queue (`URLSessionTask.cancel()` synchronises with it).
    private func cancelTask(_ state: inout State) {
        guard !state.taskCancelRequested, !state.finished, let box = state.task else { return }
        state.taskCancelRequested = true
        self.queue.async {
            box.value.cancel()
        }
    }

    // MARK: - Producer side (URLSession's queue)

    /// The response head arrived.
    func deliverHead(_ head: MesosHTTPResponse) {
        self.state.withLock { state in
            guard !state.headArrived, state.abortError == nil else { return }
            state.headArrived = true
            state.lastActivity = DispatchTime.now().uptimeNanoseconds
            Self.resolveHead(&state, .success(head))
            self.rescheduleTimer(state, now: state.lastActivity)
        }
    }

    /// A piece of the body arrived. Blocks (URLSession's work queue, never a cooperative thread) while the
    /// consumer is behind by the buffer limit or more.
    func deliver(_ data: Data) {
        guard !data.isEmpty else { return }
        let chunk = ArraySlice(Array(data))
        let limit = self.maximumBufferedBytes
        var wait: DispatchSemaphore? = self.state.withLock { state in
            guard state.abortError == nil else { return nil }
            state.lastActivity = DispatchTime.now().uptimeNanoseconds
            if let waiter = state.chunkWaiter {
                state.chunkWaiter = nil
                waiter.resume(returning: chunk)
                return nil
            }
            state.chunks.append(chunk)
            state.bufferedBytes += chunk.count
            return Self.pauseIfFull(&state, limit: limit)
        }
        while let semaphore = wait {
            semaphore.wait()
            wait = self.state.withLock { state in
                guard state.abortError == nil, state.transferEnd == nil else { return nil }
                return Self.pauseIfFull(&state, limit: limit)
            }
        }
    }

    /// With the buffer at the limit, registers the producer as paused and returns what it waits on; otherwise
    /// marks it running.
    private static func pauseIfFull(_ state: inout State, limit: Int) -> DispatchSemaphore? {
        guard state.bufferedBytes >= limit else {
            if state.producerPaused {
                state.producerWakeup = nil
            }
            state.lastActivity = DispatchTime.now().uptimeNanoseconds
            return nil
        }
        let semaphore = DispatchSemaphore(value: 0)
        state.producerWakeup = semaphore
        return semaphore
    }

    /// Ends the body successfully now, before URLSession reports the task's end (whose error is then ignored).
    func completeWithoutError() {
        self.state.withLock { state in
            guard state.abortError == nil, state.transferEnd == nil, state.headArrived else { return }
            state.transferEnd = .success(())
            self.timer.cancel()
            if let waiter = state.chunkWaiter, state.chunks.isEmpty {
                state.chunkWaiter = nil
                waiter.resume(returning: nil)
            }
            state.wakeProducer()
        }
    }

    /// The URLSession task completed.
    ///
    /// - Parameters:
    ///   - error: The task's error, or `nil` on success.
    ///   - fallbackResponse: The task's response, used when no head was delivered (URLSession does not report
    ///     a 3xx without a usable `Location` to the delegate).
    func complete(error: (any Error)?, fallbackResponse: MesosHTTPResponse?) {
        let url = self.url
        let onFinish = self.state.withLock { state -> (@Sendable () -> Void)? in
            let onFinish = state.finished ? nil : self.onFinish
            state.finished = true
            self.timer.cancel()
            if state.abortError == nil, state.transferEnd == nil {
                if let error {
                    let mapped = Conversion.mesosError(from: error, url: url)
                    if !state.headArrived {
                        Self.resolveHead(&state, .failure(mapped))
                    }
                    state.transferEnd = .failure(mapped)
                } else {
                    if !state.headArrived {
                        state.headArrived = true
                        if let fallbackResponse {
                            Self.resolveHead(&state, .success(fallbackResponse))
                        } else {
                            Self.resolveHead(
                                &state,
                                .failure(MesosError(code: .transportFailure, message: "Request to \(url) ended without a response"))
                            )
                        }
                    }
                    state.transferEnd = .success(())
                }
                if let waiter = state.chunkWaiter, state.chunks.isEmpty {
                    state.chunkWaiter = nil
                    switch state.transferEnd {
                    case .failure(let error): waiter.resume(throwing: error)
                    default: waiter.resume(returning: nil)
                    }
                }
            }
            state.wakeProducer()
            return onFinish
        }
        onFinish?()
    }

    // MARK: - Consumer side

    /// Waits for the response head.
    func awaitHead() async throws(MesosError) -> MesosHTTPResponse {
        do {
            return try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<MesosHTTPResponse, any Error>) in
                    self.state.withLock { state in
                        if let result = state.headResult {
                            continuation.resume(with: result.mapError { $0 as any Error })
                        } else if let error = state.abortError {
                            continuation.resume(throwing: error)
                        } else {
                            state.headWaiter = continuation
                        }
                    }
                }
            } onCancel: {
                self.abort(MesosError(code: .cancelled, message: "Request to \(self.url) was cancelled before the response head arrived"))
            }
        } catch let error as MesosError {
            throw error
        } catch {
            throw MesosError(code: .transportFailure, message: "Request to \(self.url) failed: \(error)", cause: error)
        }
    }

    /// Returns the next body chunk, or `nil` at the end of the body.
    func nextChunk() async throws(MesosError) -> ArraySlice<UInt8>? {
        let limit = self.maximumBufferedBytes
        do {
            return try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<ArraySlice<UInt8>?, any Error>) in
                    self.state.withLock { state in
                        if let error = state.abortError {
                            continuation.resume(throwing: error)
                        } else if !state.chunks.isEmpty {
                            continuation.resume(returning: Self.popChunk(&state, limit: limit))
                        } else if let end = state.transferEnd {
                            switch end {
                            case .success: continuation.resume(returning: nil)
                            case .failure(let error): continuation.resume(throwing: error)
                            }
                        } else {
                            state.chunkWaiter = continuation
                        }
                    }
                }
            } onCancel: {
                self.abort(MesosError(code: .cancelled, message: "Reading the response from \(self.url) was cancelled"))
            }
        } catch let error as MesosError {
            throw error
        } catch {
            throw MesosError(code: .transportFailure, message: "Reading the response from \(self.url) failed: \(error)", cause: error)
        }
    }

    private static func popChunk(_ state: inout State, limit: Int) -> ArraySlice<UInt8> {
        let chunk = state.chunks.popFirst() ?? []
        state.bufferedBytes -= chunk.count
        if state.bufferedBytes < limit {
            state.wakeProducer()
        }
        return chunk
    }

    /// Records that an iterator was made for the body.
    func markIterated() {
        self.state.withLock { $0.iterated = true }
    }

    /// The body sequence was released: close the connection unless an iterator took over.
    func abandonIfNeverIterated() {
        if !self.state.withLock({ $0.iterated }) {
            self.abandon()
        }
    }

    /// The consumer no longer wants the body (it was dropped): close the connection.
    func abandon() {
        self.abort(MesosError(code: .cancelled, message: "The response body from \(self.url) was dropped"))
    }

    /// Ends the exchange now: wakes every waiter with `error`, discards buffered data and cancels the task (if
    /// it is still running). Only the first call has an effect.
    func abort(_ error: MesosError) {
        self.state.withLock { state in
            self.abort(&state, error)
        }
    }

    private func abort(_ state: inout State, _ error: MesosError) {
        guard state.abortError == nil else { return }
        state.abortError = error
        Self.resolveHead(&state, .failure(error))
        if let waiter = state.chunkWaiter {
            state.chunkWaiter = nil
            waiter.resume(throwing: error)
        }
        _ = state.chunks.removeAll()
        state.bufferedBytes = 0
        self.timer.cancel()
        state.wakeProducer()
        self.cancelTask(&state)
    }

    private static func resolveHead(_ state: inout State, _ result: Result<MesosHTTPResponse, MesosError>) {
        guard state.headResult == nil else { return }
        state.headResult = result
        if let waiter = state.headWaiter {
            state.headWaiter = nil
            waiter.resume(with: result.mapError { $0 as any Error })
        }
    }

    // MARK: - Timeouts

    /// Whole nanoseconds, at most `UInt64.max / 2`, so that adding it to an uptime cannot overflow.
    private static func nanoseconds(_ duration: Duration) -> UInt64 {
        UInt64(duration.inNanoseconds)
    }

    private func timerFired() {
        let url = self.url
        self.state.withLock { state in
            guard state.abortError == nil, !state.finished else { return }
            let now = DispatchTime.now().uptimeNanoseconds
            if !state.headArrived, now >= self.startedAt &+ Self.nanoseconds(self.connectTimeout) {
                self.abort(
                    &state,
                    MesosError(code: .timeout, message: "No response from \(url) within \(self.connectTimeout.shortDescription)")
                )
                return
            }
            if let callTimeout = self.callTimeout, now >= self.startedAt &+ Self.nanoseconds(callTimeout) {
                self.abort(
                    &state,
                    MesosError(code: .timeout, message: "Request to \(url) did not complete within \(callTimeout.shortDescription)")
                )
                return
            }
            if state.headArrived, let idleTimeout = self.idleTimeout {
                if state.producerPaused || !state.chunks.isEmpty {
                    // The consumer is behind: silence on the network is our own doing.
                    state.lastActivity = now
                } else if now >= state.lastActivity &+ Self.nanoseconds(idleTimeout) {
                    self.abort(&state, MesosError(code: .timeout, message: "No data from \(url) for \(idleTimeout.shortDescription)"))
                    return
                }
            }
            self.rescheduleTimer(state, now: now)
        }
    }

    private func rescheduleTimer(_ state: State, now: UInt64) {
        var deadlines: [UInt64] = []
        if !state.headArrived {
            deadlines.append(self.startedAt &+ Self.nanoseconds(self.connectTimeout))
        }
        if let callTimeout = self.callTimeout {
            deadlines.append(self.startedAt &+ Self.nanoseconds(callTimeout))
        }
        if state.headArrived, let idleTimeout = self.idleTimeout {
            deadlines.append(state.lastActivity &+ Self.nanoseconds(idleTimeout))
        }
        guard let next = deadlines.min() else {
            self.timer.schedule(deadline: .distantFuture)
            return
        }
        let delay = next > now ? next - now : 0
        self.timer.schedule(
            deadline: .now() + .nanoseconds(Int(min(delay, UInt64(Int.max / 2)))),
            leeway: .milliseconds(5)
        )
    }
}

/// Carries a non-Sendable reference into a dispatch block; used only for URLSession objects, which are
/// thread-safe.
struct UncheckedBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
