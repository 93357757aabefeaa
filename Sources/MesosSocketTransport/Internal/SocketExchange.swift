#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import MesosCore

/// Why the I/O thread stopped an exchange (mapped to a ``MesosError`` in one place).
enum ExchangeFailure: Error {
    case socket(SocketError)
    case parse(HTTPParseError)
    case timedOut(String)
    case cancelled
}

/// One request and its response, carried by one dedicated I/O thread.
///
/// The thread connects (or takes a kept-alive connection), writes the request and reads the response with
/// blocking `poll`/`recv` calls, handing the head and the body chunks to the consumer through ``state``. The
/// consumer side (``start()``, ``nextChunk()``, ``cancel(_:)``) runs on any task. Everything both sides touch
/// is in ``state``, behind its lock; the thread's own variables are locals of ``run()``. Hence
/// `@unchecked Sendable`.
///
/// Cancellation shuts the published socket down (under the lock, so the descriptor cannot have been closed and
/// reused meanwhile): a `poll` blocked on it returns at once, and the thread closes it.
final class SocketExchange: @unchecked Sendable {
    typealias HeadWaiter = CheckedContinuation<Result<MesosHTTPResponse, MesosError>, Never>
    typealias BodyWaiter = CheckedContinuation<Result<ArraySlice<UInt8>?, MesosError>, Never>

    struct State {
        var head: Result<MesosHTTPResponse, MesosError>?
        var headWaiter: HeadWaiter?
        var chunks = FIFOQueue<ArraySlice<UInt8>>()
        var bufferedBytes = 0
        /// The thread waits for the consumer to drain the queue.
        var producerPaused = false
        var bodyWaiter: BodyWaiter?
        /// How the exchange ended (set once: by the thread, or by cancellation).
        var end: Result<Void, MesosError>?
        var endDelivered = false
        var iteratorCreated = false
        /// The socket the thread is using, or -1.
        var socket: Int32 = -1
    }

    /// `METHOD URL`, for messages.
    let context: String
    private let head: HTTPRequestHead
    private let body: [UInt8]?
    private let method: String
    private let wholeDeadline: Int64?
    private let timeoutText: String
    private let idleTimeout: Int64?
    private let idleText: String
    private let connectTimeout: Int64
    private let maximumHeadBytes: Int
    private let capacity: Int
    private let pool: ConnectionPool
    private let statistics: BackpressureStatistics
    private let state = ConditionLock(State())

    /// Bytes read from the socket at a time.
    static let readSize = 64 << 10
    /// The I/O thread's stack: plenty for the parser and the callbacks, and only touched pages become resident.
    static let stackSize = 512 << 10

    init(
        request: MesosHTTPRequest,
        head: HTTPRequestHead,
        context: String,
        configuration: MesosSocketTransport.Configuration,
        pool: ConnectionPool,
        statistics: BackpressureStatistics
    ) {
        self.context = context
        self.head = head
        self.body = request.body
        self.method = request.method
        let now = monotonicNanoseconds()
        self.wholeDeadline = request.timeout.map { Deadline.after($0.inNanoseconds, from: now) }
        self.timeoutText = request.timeout.map { "\($0)" } ?? ""
        self.idleTimeout = request.idleTimeout.map { max(1, $0.inNanoseconds) }
        self.idleText = request.idleTimeout.map { "\($0)" } ?? ""
        self.connectTimeout = max(1, configuration.connectTimeout.inNanoseconds)
        self.maximumHeadBytes = configuration.maximumHeaderBytes
        self.capacity = max(1, configuration.maximumBufferedBytesPerResponse)
        self.pool = pool
        self.statistics = statistics
    }

    // MARK: - Consumer side

    /// The error for a request cancelled by its task.
    static func cancellationError(context: String, phase: String) -> MesosError {
        MesosError(code: .cancelled, message: "\(context) was cancelled \(phase)", cause: CancellationError())
    }

    /// Starts the I/O thread and waits for the response head.
    func start() async throws(MesosError) -> MesosHTTPResponse {
        guard startDetachedThread(stackSize: Self.stackSize, { self.run() }) else {
            throw MesosError(
                code: .transportFailure,
                message: "\(self.context) cannot be sent: no thread could be created",
                cause: SocketError("pthread_create", errno: errno)
            )
        }
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { (waiter: HeadWaiter) in
                let ready = self.state.withLock { state -> Result<MesosHTTPResponse, MesosError>? in
                    if let head = state.head { return head }
                    state.headWaiter = waiter
                    return nil
                }
                if let ready { waiter.resume(returning: ready) }
            }
        } onCancel: {
            self.cancel(Self.cancellationError(context: self.context, phase: "before the response head arrived"))
        }
        return try result.get()
    }

    /// Returns the next body chunk, `nil` at the end, waiting if none is buffered.
    func nextChunk() async throws(MesosError) -> ArraySlice<UInt8>? {
        if Task.isCancelled {
            self.cancel(Self.cancellationError(context: self.context, phase: "while reading the response body"))
        }
        if let ready = self.takeNext(waiter: nil) {
            return try ready.get()
        }
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { (waiter: BodyWaiter) in
                if let ready = self.takeNext(waiter: waiter) {
                    waiter.resume(returning: ready)
                }
            }
        } onCancel: {
            self.cancel(Self.cancellationError(context: self.context, phase: "while reading the response body"))
        }
        return try result.get()
    }

    /// Takes the next chunk or the end if there is one; otherwise parks `waiter` (if given). Wakes the paused
    /// thread once the queue is down to half its capacity.
    private func takeNext(waiter: BodyWaiter?) -> Result<ArraySlice<UInt8>?, MesosError>? {
        var wake = false
        let result = self.state.withLock { state -> Result<ArraySlice<UInt8>?, MesosError>? in
            if let chunk = state.chunks.popFirst() {
                state.bufferedBytes -= chunk.count
                if state.producerPaused && state.bufferedBytes <= self.capacity / 2 {
                    state.producerPaused = false
                    wake = true
                }
                return .success(chunk)
            }
            if let end = state.end {
                if state.endDelivered { return .success(nil) }
                state.endDelivered = true
                switch end {
                case .success: return .success(nil)
                case .failure(let error): return .failure(error)
                }
            }
            if let waiter { state.bodyWaiter = waiter }
            return nil
        }
        if wake { self.state.signal() }
        return result
    }

    /// Records that the body is being iterated; from now on dropping the iterator ends the exchange.
    func noteIteratorCreated() {
        self.state.withLock { $0.iteratorCreated = true }
    }

    /// The body value is gone: if nobody iterates it, end the exchange.
    func bodyReleased() {
        if !self.state.withLock({ $0.iteratorCreated }) {
            self.cancel(Self.cancellationError(context: self.context, phase: "because its body was dropped"))
        }
    }

    /// Ends the exchange with `error` unless it already ended: waiters get the error, buffered data is dropped
    /// and the connection is shut down (the thread then closes it).
    func cancel(_ error: MesosError) {
        let waiters = self.state.withLock { state -> (HeadWaiter?, BodyWaiter?)? in
            guard state.end == nil else { return nil }
            state.end = .failure(error)
            state.endDelivered = state.bodyWaiter != nil
            _ = state.chunks.removeAll()
            state.bufferedBytes = 0
            state.producerPaused = false
            if state.head == nil { state.head = .failure(error) }
            if state.socket >= 0 {
                shutdown(state.socket, Int32(SHUT_RDWR))
            }
            defer {
                state.headWaiter = nil
                state.bodyWaiter = nil
            }
            return (state.headWaiter, state.bodyWaiter)
        }
        guard let waiters else { return }
        self.state.signal()
        waiters.0?.resume(returning: .failure(error))
        waiters.1?.resume(returning: .failure(error))
    }

    // MARK: - I/O thread

    /// The thread's whole work: connect, write, read, finish.
    private func run() {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.readSize, alignment: 16)
        defer { buffer.deallocate() }
        var mayReuse = true
        while true {
            var parser = HTTPResponseParser(maximumHeadBytes: self.maximumHeadBytes, method: self.method)
            var fd: Int32 = -1
            var reused = false
            do throws(ExchangeFailure) {
                if mayReuse, let pooled = self.pool.take(self.head.destination) {
                    guard self.publish(pooled) else {
                        close(pooled)
                        return
                    }
                    fd = pooled
                    reused = true
                } else {
                    guard let connected = try self.connect() else { return }
                    fd = connected
                }
                let last = try self.exchange(on: fd, parser: &parser, buffer: buffer)
                // Park the connection before the caller hears of the end (or even of the head, when the whole
                // response came in one read): its next call, or a body dropped at once, finds it parked.
                self.retire(fd)
                if parser.keepAlive && !last.leftover {
                    self.pool.put(fd, for: self.head.destination)
                } else {
                    close(fd)
                }
                if let head = last.head {
                    self.deliverHead(head)
                }
                if !last.body.isEmpty {
                    try? self.deliver(last.body[...], waitForRoom: false)
                }
                self.finish(.success(()))
                return
            } catch {
                if fd >= 0 {
                    self.retire(fd)
                    close(fd)
                }
                let ended = self.state.withLock { $0.end != nil }
                if reused && !ended && !parser.receivedAnything && Self.isStaleConnection(error) {
                    mayReuse = false  // the server closed the kept-alive connection: once more on a fresh one
                    continue
                }
                self.finish(.failure(self.mesosError(error, headRead: parser.hasHead)))
                return
            }
        }
    }

    private static func isStaleConnection(_ failure: ExchangeFailure) -> Bool {
        switch failure {
        case .socket(let error): return error.isConnectionLoss
        case .parse(let error): return error.kind == .closedBeforeHead
        default: return false
        }
    }

    /// Opens a new connection within the connect timeout (and the whole-call deadline); `nil` if cancelled.
    private func connect() throws(ExchangeFailure) -> Int32? {
        let now = monotonicNanoseconds()
        let connectDeadline = Deadline.after(self.connectTimeout, from: now)
        let deadline = Deadline.earliest(connectDeadline, self.wholeDeadline)
        do {
            return try Socket.connect(
                to: self.head.destination,
                until: deadline,
                publish: { self.publish($0) },
                retire: { self.retire($0) }
            )
        } catch {
            if error.code == ETIMEDOUT {
                if let whole = self.wholeDeadline, whole <= connectDeadline {
                    throw .timedOut("\(self.context) took longer than its timeout of \(self.timeoutText) (connecting)")
                }
                throw .timedOut("\(self.context): \(error.operation) took longer than the connect timeout")
            }
            throw .socket(error)
        }
    }

    /// Writes the request and reads the response on `fd`.
    ///
    /// - Returns: What the last read brought and is not delivered yet (the head, if it came in that read, and
    ///   body bytes), and whether bytes beyond the end of the response arrived (the connection is then not
    ///   reused).
    private func exchange(
        on fd: Int32,
        parser: inout HTTPResponseParser,
        buffer: UnsafeMutableRawBufferPointer
    ) throws(ExchangeFailure) -> (head: MesosHTTPResponse?, body: [UInt8], leftover: Bool) {
        var lastActivity = monotonicNanoseconds()
        try self.write(fd, lastActivity: &lastActivity)
        let bytes = UnsafeMutableBufferPointer(start: buffer.baseAddress!.assumingMemoryBound(to: UInt8.self), count: buffer.count)
        while true {
            let deadline = Deadline.earliest(self.wholeDeadline, self.idleTimeout.map { Deadline.after($0, from: lastActivity) })
            do {
                if case .timedOut = try Socket.wait(fd, for: Int16(POLLIN), until: deadline) {
                    throw ExchangeFailure.timedOut(self.timeoutMessage(headRead: parser.hasHead))
                }
                guard let count = try Socket.read(fd, into: buffer) else { continue }
                if self.state.withLock({ $0.end != nil }) {
                    throw ExchangeFailure.cancelled
                }
                if count == 0 {
                    try parser.finish()
                    return (nil, [], false)
                }
                lastActivity = monotonicNanoseconds()
                var head: MesosHTTPResponse?
                var pending: [UInt8] = []
                let consumed: Int
                do throws(HTTPParseError) {
                    consumed = try parser.consume(
                        UnsafeBufferPointer(rebasing: bytes[..<count]),
                        head: { head = $0 },
                        body: { pending.append(contentsOf: $0) }
                    )
                } catch {
                    // What was valid before the error still reaches the caller; the body then fails.
                    if let head { self.deliverHead(head) }
                    if !pending.isEmpty { try? self.deliver(pending[...], waitForRoom: false) }
                    throw error
                }
                if parser.isComplete {
                    return (head, pending, consumed < count)
                }
                if let head {
                    self.deliverHead(head)
                }
                if !pending.isEmpty {
                    try self.deliver(pending[...], waitForRoom: true)
                    lastActivity = monotonicNanoseconds()
                }
            } catch let error as SocketError {
                throw .socket(error)
            } catch let error as HTTPParseError {
                throw .parse(error)
            } catch let error as ExchangeFailure {
                throw error
            } catch {
                throw .socket(SocketError("read", detail: "\(error)"))
            }
        }
    }

    private func write(_ fd: Int32, lastActivity: inout Int64) throws(ExchangeFailure) {
        func send(_ bytes: [UInt8], lastActivity: inout Int64) throws(ExchangeFailure) {
            let deadline = Deadline.earliest(self.wholeDeadline, self.idleTimeout.map { Deadline.after($0, from: lastActivity) })
            let result = bytes.withUnsafeBytes { raw in
                Result { () throws(SocketError) -> Bool in try Socket.writeAll(fd, raw, until: deadline) }
            }
            switch result {
            case .failure(let error):
                throw .socket(error)
            case .success(false):
                throw .timedOut(self.timeoutMessage(headRead: false))
            case .success(true):
                lastActivity = monotonicNanoseconds()
            }
        }
        if let body = self.body, !body.isEmpty {
            if body.count <= 16 << 10 {
                // One write, one packet, for the usual small call.
                try send(self.head.bytes + body, lastActivity: &lastActivity)
            } else {
                try send(self.head.bytes, lastActivity: &lastActivity)
                try send(body, lastActivity: &lastActivity)
            }
        } else {
            try send(self.head.bytes, lastActivity: &lastActivity)
        }
    }

    private func timeoutMessage(headRead: Bool) -> String {
        let phase = headRead ? "in the response body" : "before the response head"
        if let whole = self.wholeDeadline, monotonicNanoseconds() >= whole {
            return "\(self.context) took longer than its timeout of \(self.timeoutText) (\(phase))"
        }
        return "\(self.context): no data received for \(self.idleText) \(phase)"
    }

    /// Makes `fd` the socket cancellation shuts down; `false` if the exchange has already ended.
    private func publish(_ fd: Int32) -> Bool {
        self.state.withLock { state in
            guard state.end == nil else { return false }
            state.socket = fd
            return true
        }
    }

    /// Takes `fd` back from cancellation's reach, before the thread closes or parks it.
    private func retire(_ fd: Int32) {
        self.state.withLock { state in
            if state.socket == fd { state.socket = -1 }
        }
    }

    private func deliverHead(_ response: MesosHTTPResponse) {
        let waiter = self.state.withLock { state -> HeadWaiter? in
            guard state.head == nil else { return nil }
            state.head = .success(response)
            defer { state.headWaiter = nil }
            return state.headWaiter
        }
        waiter?.resume(returning: .success(response))
    }

    /// Hands a chunk to a waiting consumer or queues it; when the queue is full and `waitForRoom` (more is to
    /// come), waits until the consumer has drained half of it (backpressure: nothing more is read from the
    /// socket meanwhile).
    private func deliver(_ chunk: ArraySlice<UInt8>, waitForRoom: Bool) throws(ExchangeFailure) {
        enum Action { case handOver(BodyWaiter), queued(full: Int?), ended }
        let action = self.state.withLock { state -> Action in
            if state.end != nil { return .ended }
            if let waiter = state.bodyWaiter {
                state.bodyWaiter = nil
                return .handOver(waiter)
            }
            state.chunks.append(chunk)
            state.bufferedBytes += chunk.count
            if state.bufferedBytes >= self.capacity && waitForRoom {
                state.producerPaused = true
                return .queued(full: state.bufferedBytes)
            }
            return .queued(full: nil)
        }
        switch action {
        case .ended:
            throw .cancelled
        case .handOver(let waiter):
            waiter.resume(returning: .success(chunk))
        case .queued(full: nil):
            break
        case .queued(full: let buffered?):
            self.statistics.recordPause(bufferedBytes: buffered)
            let inTime = self.state.wait(until: self.wholeDeadline) { $0.producerPaused && $0.end == nil }
            guard inTime else {
                throw .timedOut(self.timeoutMessage(headRead: true))
            }
            if self.state.withLock({ $0.end != nil }) {
                throw .cancelled
            }
        }
    }

    private func mesosError(_ failure: ExchangeFailure, headRead: Bool) -> MesosError {
        let phase = headRead ? "while reading the response body" : "before the response head arrived"
        switch failure {
        case .socket(let error):
            return MesosError(code: .transportFailure, message: "\(self.context) failed \(phase): \(error)", cause: error)
        case .parse(let error):
            return MesosError(code: .transportFailure, message: "\(self.context) failed \(phase): \(error)", cause: error)
        case .timedOut(let message):
            return MesosError(code: .timeout, message: message)
        case .cancelled:
            return Self.cancellationError(context: self.context, phase: phase)
        }
    }

    /// Ends the exchange (unless cancellation already did) and tells whoever waits.
    private func finish(_ outcome: Result<Void, MesosError>) {
        let waiters = self.state.withLock { state -> (HeadWaiter?, Result<MesosHTTPResponse, MesosError>?, BodyWaiter?) in
            guard state.end == nil else { return (nil, nil, nil) }
            state.end = outcome
            var headWaiter: HeadWaiter?
            var headResult: Result<MesosHTTPResponse, MesosError>?
            if state.head == nil {
                let error: MesosError
                switch outcome {
                case .failure(let failure): error = failure
                case .success:
                    error = MesosError(code: .transportFailure, message: "\(self.context): the response ended before its head")
                }
                state.head = .failure(error)
                headResult = .failure(error)
                headWaiter = state.headWaiter
                state.headWaiter = nil
            }
            let bodyWaiter = state.bodyWaiter
            if bodyWaiter != nil {
                // A consumer only waits when the queue is empty, so the end is what it gets.
                state.bodyWaiter = nil
                state.endDelivered = true
            }
            return (headWaiter, headResult, bodyWaiter)
        }
        if let waiter = waiters.0, let result = waiters.1 {
            waiter.resume(returning: result)
        }
        if let waiter = waiters.2 {
            switch outcome {
            case .success: waiter.resume(returning: .success(nil))
            case .failure(let error): waiter.resume(returning: .failure(error))
            }
        }
    }
}

/// Deadline arithmetic on monotonic nanoseconds, saturating instead of overflowing: pure, so it is tested
/// with chosen instants rather than the clock.
enum Deadline {
    /// `duration` nanoseconds after `now`, or `Int64.max` if that does not fit.
    static func after(_ duration: Int64, from now: Int64) -> Int64 {
        let (sum, overflow) = now.addingReportingOverflow(max(0, duration))
        return overflow ? .max : sum
    }

    /// The earlier of two optional deadlines (`nil` means none).
    static func earliest(_ a: Int64?, _ b: Int64?) -> Int64? {
        switch (a, b) {
        case (let a?, let b?): return min(a, b)
        case (let a?, nil): return a
        case (nil, let b): return b
        }
    }
}
