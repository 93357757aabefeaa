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
/// ``deliver(_:)`` stops URLSession from reading the socket: that is the backpressure. Timeouts are enforced
/// here with one dispatch timer, and every way the exchange can end funnels through ``abort(_:)`` (immediate,
/// buffered data discarded) or ``complete(error:fallbackResponse:)`` (the transfer ended; buffered data is
/// delivered first).
///
/// All mutable state is guarded by `condition`.
final class Exchange: @unchecked Sendable {
    let url: URL
    private let maximumBufferedBytes: Int
    private let connectTimeout: Duration
    private let callTimeout: Duration?
    private let idleTimeout: Duration?
    private let onFinish: (@Sendable () -> Void)?

    private let condition = NSCondition()
    /// A serial queue of this exchange for URLSession calls that may block (creating, resuming and cancelling
    /// the task synchronise with the session's work queue, which a paused response of the same session holds).
    /// Serial queues get threads of their own; the global concurrent queues are only as wide as the machine has
    /// cores (and on Linux they also run Swift's cooperative pool), so blocking work there could starve
    /// everything else.
    let queue: DispatchQueue
    /// The queue of the timer, separate from ``queue`` so that timeouts fire even while ``queue`` is blocked.
    private let timerQueue: DispatchQueue
    private let startedAt: UInt64
    private var timer: (any DispatchSourceTimer)?

    // Head.
    private var headResult: Result<MesosHTTPResponse, MesosError>?
    private var headWaiter: CheckedContinuation<MesosHTTPResponse, any Error>?
    private var headArrived = false

    // Body.
    private var chunks: [ArraySlice<UInt8>] = []
    private var firstChunk = 0
    private var bufferedBytes = 0
    private var chunkWaiter: CheckedContinuation<ArraySlice<UInt8>?, any Error>?
    private var producerPaused = false
    private var iterated = false
    private var lastActivity: UInt64

    // End.
    /// Set when the transfer ended; `nil` error means the body is complete.
    private var transferEnd: Result<Void, MesosError>?
    /// Set when the exchange was aborted (timeout, cancellation, dropped body): wins over everything else.
    private var abortError: MesosError?
    private var finished = false

    // URLSession task.
    private var task: URLSessionDataTask?
    private var taskCancelRequested = false

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
        self.lastActivity = self.startedAt
        let timer = DispatchSource.makeTimerSource(queue: self.timerQueue)
        timer.setEventHandler { [weak self] in
            self?.timerFired()
        }
        self.timer = timer
        self.condition.lock()
        self.rescheduleTimerLocked(now: self.startedAt)
        self.condition.unlock()
        timer.resume()
    }

    deinit {
        self.timer?.cancel()
    }

    // MARK: - Task

    /// Associates the URLSession task. If the exchange was aborted in the meantime, the task is cancelled.
    func attach(_ task: URLSessionDataTask) {
        self.condition.lock()
        self.task = task
        if self.abortError != nil {
            self.cancelTaskLocked()
        }
        self.condition.unlock()
    }

    /// Cancels the task once, off the session's queue (`URLSessionTask.cancel()` synchronises with it).
    private func cancelTaskLocked() {
        guard !self.taskCancelRequested, !self.finished, let task = self.task else { return }
        self.taskCancelRequested = true
        let box = UncheckedBox(task)
        self.queue.async {
            box.value.cancel()
        }
    }

    // MARK: - Producer side (URLSession's queue)

    /// The response head arrived.
    func deliverHead(_ head: MesosHTTPResponse) {
        self.condition.lock()
        defer { self.condition.unlock() }
        guard !self.headArrived, self.abortError == nil else { return }
        self.headArrived = true
        self.lastActivity = DispatchTime.now().uptimeNanoseconds
        self.resolveHeadLocked(.success(head))
        self.rescheduleTimerLocked(now: self.lastActivity)
    }

    /// A piece of the body arrived. Blocks while the consumer is behind by the buffer limit or more.
    func deliver(_ data: Data) {
        guard !data.isEmpty else { return }
        let chunk = ArraySlice(Array(data))
        self.condition.lock()
        defer { self.condition.unlock() }
        guard self.abortError == nil else { return }
        self.lastActivity = DispatchTime.now().uptimeNanoseconds
        if let waiter = self.chunkWaiter {
            self.chunkWaiter = nil
            waiter.resume(returning: chunk)
            return
        }
        self.chunks.append(chunk)
        self.bufferedBytes += chunk.count
        while self.bufferedBytes >= self.maximumBufferedBytes, self.abortError == nil {
            self.producerPaused = true
            self.condition.wait()
        }
        self.producerPaused = false
        self.lastActivity = DispatchTime.now().uptimeNanoseconds
    }

    /// Ends the body successfully now, before URLSession reports the task's end (whose error is then ignored).
    func completeWithoutError() {
        self.condition.lock()
        defer { self.condition.unlock() }
        guard self.abortError == nil, self.transferEnd == nil, self.headArrived else { return }
        self.transferEnd = .success(())
        self.timer?.cancel()
        if let waiter = self.chunkWaiter, self.chunks.count == self.firstChunk {
            self.chunkWaiter = nil
            waiter.resume(returning: nil)
        }
        self.condition.broadcast()
    }

    /// The URLSession task completed.
    ///
    /// - Parameters:
    ///   - error: The task's error, or `nil` on success.
    ///   - fallbackResponse: The task's response, used when no head was delivered (URLSession does not report
    ///     a 3xx without a usable `Location` to the delegate).
    func complete(error: (any Error)?, fallbackResponse: MesosHTTPResponse?) {
        self.condition.lock()
        let onFinish = self.finished ? nil : self.onFinish
        self.finished = true
        self.timer?.cancel()
        if self.abortError == nil, self.transferEnd == nil {
            if let error {
                let mapped = Conversion.mesosError(from: error, url: self.url)
                if self.headArrived {
                    self.transferEnd = .failure(mapped)
                } else {
                    self.resolveHeadLocked(.failure(mapped))
                    self.transferEnd = .failure(mapped)
                }
            } else {
                if !self.headArrived {
                    self.headArrived = true
                    if let fallbackResponse {
                        self.resolveHeadLocked(.success(fallbackResponse))
                    } else {
                        self.resolveHeadLocked(
                            .failure(MesosError(code: .transportFailure, message: "Request to \(self.url) ended without a response"))
                        )
                    }
                }
                self.transferEnd = .success(())
            }
            if let waiter = self.chunkWaiter, self.chunks.count == self.firstChunk {
                self.chunkWaiter = nil
                switch self.transferEnd {
                case .failure(let error): waiter.resume(throwing: error)
                default: waiter.resume(returning: nil)
                }
            }
        }
        self.condition.broadcast()
        self.condition.unlock()
        onFinish?()
    }

    // MARK: - Consumer side

    /// Waits for the response head.
    func awaitHead() async throws(MesosError) -> MesosHTTPResponse {
        do {
            return try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<MesosHTTPResponse, any Error>) in
                    self.condition.lock()
                    defer { self.condition.unlock() }
                    if let result = self.headResult {
                        continuation.resume(with: result.mapError { $0 as any Error })
                    } else if let error = self.abortError {
                        continuation.resume(throwing: error)
                    } else {
                        self.headWaiter = continuation
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
        do {
            return try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<ArraySlice<UInt8>?, any Error>) in
                    self.condition.lock()
                    defer { self.condition.unlock() }
                    if let error = self.abortError {
                        continuation.resume(throwing: error)
                    } else if self.firstChunk < self.chunks.count {
                        continuation.resume(returning: self.popChunkLocked())
                    } else if let end = self.transferEnd {
                        switch end {
                        case .success: continuation.resume(returning: nil)
                        case .failure(let error): continuation.resume(throwing: error)
                        }
                    } else {
                        self.chunkWaiter = continuation
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

    private func popChunkLocked() -> ArraySlice<UInt8> {
        let chunk = self.chunks[self.firstChunk]
        self.firstChunk += 1
        if self.firstChunk == self.chunks.count {
            self.chunks.removeAll(keepingCapacity: true)
            self.firstChunk = 0
        } else if self.firstChunk > 64, self.firstChunk * 2 > self.chunks.count {
            self.chunks.removeFirst(self.firstChunk)
            self.firstChunk = 0
        }
        self.bufferedBytes -= chunk.count
        if self.bufferedBytes < self.maximumBufferedBytes {
            self.condition.broadcast()
        }
        return chunk
    }

    /// Records that an iterator was made for the body.
    func markIterated() {
        self.condition.lock()
        self.iterated = true
        self.condition.unlock()
    }

    /// The body sequence was released: close the connection unless an iterator took over.
    func abandonIfNeverIterated() {
        self.condition.lock()
        let iterated = self.iterated
        self.condition.unlock()
        if !iterated {
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
        self.condition.lock()
        defer { self.condition.unlock() }
        guard self.abortError == nil else { return }
        self.abortError = error
        self.resolveHeadLocked(.failure(error))
        if let waiter = self.chunkWaiter {
            self.chunkWaiter = nil
            waiter.resume(throwing: error)
        }
        self.chunks.removeAll()
        self.firstChunk = 0
        self.bufferedBytes = 0
        self.timer?.cancel()
        self.condition.broadcast()
        self.cancelTaskLocked()
    }

    private func resolveHeadLocked(_ result: Result<MesosHTTPResponse, MesosError>) {
        guard self.headResult == nil else { return }
        self.headResult = result
        if let waiter = self.headWaiter {
            self.headWaiter = nil
            waiter.resume(with: result.mapError { $0 as any Error })
        }
    }

    // MARK: - Timeouts

    private func nanoseconds(_ duration: Duration) -> UInt64 {
        let parts = duration.components
        guard parts.seconds >= 0 else { return 0 }
        let (whole, overflow) = UInt64(parts.seconds).multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? UInt64.max / 2 : whole + UInt64(max(0, parts.attoseconds / 1_000_000_000))
    }

    private func timerFired() {
        self.condition.lock()
        defer { self.condition.unlock() }
        guard self.abortError == nil, !self.finished else { return }
        let now = DispatchTime.now().uptimeNanoseconds
        if !self.headArrived, now >= self.startedAt &+ self.nanoseconds(self.connectTimeout) {
            self.abortLocked(
                MesosError(code: .timeout, message: "No response from \(self.url) within \(self.connectTimeout.shortDescription)")
            )
            return
        }
        if let callTimeout = self.callTimeout, now >= self.startedAt &+ self.nanoseconds(callTimeout) {
            self.abortLocked(
                MesosError(code: .timeout, message: "Request to \(self.url) did not complete within \(callTimeout.shortDescription)")
            )
            return
        }
        if self.headArrived, let idleTimeout = self.idleTimeout {
            if self.producerPaused || self.firstChunk < self.chunks.count {
                // The consumer is behind: silence on the network is our own doing.
                self.lastActivity = now
            } else if now >= self.lastActivity &+ self.nanoseconds(idleTimeout) {
                self.abortLocked(
                    MesosError(code: .timeout, message: "No data from \(self.url) for \(idleTimeout.shortDescription)")
                )
                return
            }
        }
        self.rescheduleTimerLocked(now: now)
    }

    private func abortLocked(_ error: MesosError) {
        // `abort` takes the lock itself; NSCondition is not recursive.
        self.condition.unlock()
        self.abort(error)
        self.condition.lock()
    }

    private func rescheduleTimerLocked(now: UInt64) {
        var deadlines: [UInt64] = []
        if !self.headArrived {
            deadlines.append(self.startedAt &+ self.nanoseconds(self.connectTimeout))
        }
        if let callTimeout = self.callTimeout {
            deadlines.append(self.startedAt &+ self.nanoseconds(callTimeout))
        }
        if self.headArrived, let idleTimeout = self.idleTimeout {
            deadlines.append(self.lastActivity &+ self.nanoseconds(idleTimeout))
        }
        guard let next = deadlines.min() else {
            self.timer?.schedule(deadline: .distantFuture)
            return
        }
        let delay = next > now ? next - now : 0
        self.timer?.schedule(
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
