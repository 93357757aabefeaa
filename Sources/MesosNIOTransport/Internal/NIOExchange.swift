#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import MesosCore
import NIOCore
import NIOHTTP1

/// One request and its response on one connection.
///
/// Every mutable property is read and written on ``loop`` only (the channel's event loop): the methods named
/// `…OnLoop` and the channel handler's callbacks run there; the others hop onto it. That confinement is what
/// makes the `@unchecked Sendable` sound.
final class NIOExchange: @unchecked Sendable {
    enum Phase {
        case head, body, ended, failed(MesosError)
    }

    let loop: any EventLoop
    /// What the exchange is, for error messages (built into a string only when one is needed).
    let call: NIOCallContext
    let destination: NIODestination
    let pool: NIOConnectionPool
    let statistics: NIOTransportStatistics
    let maximumBuffered: Int
    let idleTimeout: TimeAmount?
    /// Whether the connection came from the pool (a failure before any byte may then be retried once).
    let reused: Bool
    /// Set (under its lock) when the exchange failed before any byte of the response arrived.
    let failedBeforeAnyByte = LockedValue(false)

    private var channel: (any Channel)?
    private weak var handler: NIOExchangeHandler?
    private var phase: Phase = .head
    /// Called once with the response head (and the whole body when it arrived with the head), or the failure.
    private var headHandler: ((Result<NIOHead, MesosError>) -> Void)?
    /// The final head, received but not handed over yet: it waits for the end of the read that brought it, so
    /// that a response that arrived whole is handed over whole, with one resumption of the caller.
    private var receivedHead: MesosHTTPResponse?
    /// The body parts of the read under way, gathered into chunks; published to ``ready`` at the end of the read.
    private var gathering = CircularBuffer<ArraySlice<UInt8>>()
    private var gatheringBytes = 0
    /// Chunks handed over at the end of their read: the one state shared with a consumer off the loop, which takes
    /// them under the lock without a trip to the loop (``takeReadyChunk()``). The end and failures still go
    /// through the loop, after every chunk.
    private let ready = LockedValue(ReadyChunks())
    private var waiter: EventLoopPromise<ArraySlice<UInt8>?>?
    private var readPending = false
    private var keepAlive = false
    private var receivedBytes = false
    private var callTimer: Scheduled<Void>?
    private var idleTimer: Scheduled<Void>?

    /// See ``ready``.
    struct ReadyChunks {
        var chunks = CircularBuffer<ArraySlice<UInt8>>()
        var bytes = 0
        /// The loop stopped asking for reads because enough was buffered; the consumer that brings the buffer
        /// down to half the limit asks it to go on.
        var readingStopped = false
    }

    init(
        channel: any Channel, call: NIOCallContext, destination: NIODestination, pool: NIOConnectionPool,
        statistics: NIOTransportStatistics, maximumBuffered: Int, idleTimeout: Duration?, reused: Bool
    ) {
        self.statistics = statistics
        self.loop = channel.eventLoop
        self.channel = channel
        self.call = call
        self.destination = destination
        self.pool = pool
        self.maximumBuffered = max(1, maximumBuffered)
        self.idleTimeout = idleTimeout.map(TimeAmount.init)
        self.reused = reused
    }

    // MARK: Starting

    /// The exchange's description for error messages, e.g. `POST http://m:5050/api/v1/scheduler`.
    var context: String { self.call.description }

    /// Attaches to the channel's handler, writes the request, starts reading and arms the whole-call timer.
    /// `onHead` is called once, on the loop, with the final response head (and the whole body if it came in the
    /// same read), or with the failure.
    func startOnLoop(
        request: NIORequest, deadline: NIODeadline?, onHead: @escaping (Result<NIOHead, MesosError>) -> Void
    ) {
        if case .failed(let error) = self.phase {
            // Cancelled before it could start.
            onHead(.failure(error))
            return
        }
        guard let channel = self.channel, let handler = NIOExchangeHandler.attached(to: channel) else {
            onHead(.failure(MesosError(code: .transportFailure, message: "\(self.context): the connection has no HTTP handler")))
            return
        }
        self.headHandler = onHead
        guard channel.isActive else {
            self.failOnLoop(self.connectionClosedError())
            return
        }
        self.handler = handler
        handler.exchange = self
        if let deadline {
            self.callTimer = self.loop.scheduleTask(deadline: deadline) { [self] in
                self.failOnLoop(MesosError(code: .timeout, message: "\(self.context) took longer than its timeout"))
            }
        }
        channel.write(HTTPClientRequestPart.head(request.head), promise: nil)
        if let body = request.body, !body.isEmpty {
            channel.write(HTTPClientRequestPart.body(.byteBuffer(ByteBuffer(bytes: body))), promise: nil)
        }
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        self.requestReadOnLoop()
    }

    /// Hands the received head over (once), with the whole body when the response already ended.
    private func deliverHeadOnLoop() {
        guard let response = self.receivedHead, let onHead = self.headHandler else { return }
        self.receivedHead = nil
        self.headHandler = nil
        var completeBody: [UInt8]?
        if case .ended = self.phase {
            self.publishOnLoop()
            completeBody = self.ready.withLock { ready in
                var bytes: [UInt8] = []
                if ready.chunks.count == 1, let only = ready.chunks.first {
                    bytes = Array(only)
                } else {
                    bytes.reserveCapacity(ready.bytes)
                    for chunk in ready.chunks { bytes.append(contentsOf: chunk) }
                }
                ready.chunks.removeAll()
                ready.bytes = 0
                return bytes
            }
        }
        onHead(.success(NIOHead(response: response, completeBody: completeBody)))
    }

    // MARK: Reading

    /// Asks the channel for more bytes unless a read is pending, the response is over, or enough is buffered.
    private func requestReadOnLoop() {
        guard !self.readPending, let channel = self.channel else { return }
        switch self.phase {
        case .head, .body:
            break
        case .ended, .failed:
            return
        }
        let gathering = self.gatheringBytes
        let maximum = self.maximumBuffered
        let room = self.ready.withLock { ready -> Bool in
            ready.readingStopped = ready.bytes + gathering >= maximum
            return !ready.readingStopped
        }
        guard room else { return }
        self.readPending = true
        if let idle = self.idleTimeout {
            self.idleTimer?.cancel()
            self.idleTimer = self.loop.scheduleTask(in: idle) { [self] in
                self.failOnLoop(MesosError(code: .timeout, message: "\(self.context): no data for \(idle.nanoseconds / 1_000_000) ms"))
            }
        }
        channel.read()
    }

    /// A part of the response from NIO's decoder.
    func receivedOnLoop(_ part: HTTPClientResponsePart) {
        switch part {
        case .head(let head):
            self.receivedBytes = true
            guard case .head = self.phase else { return }
            if head.status.code >= 100 && head.status.code < 200 && head.status.code != 101 {
                return  // interim answer; the final head follows
            }
            self.keepAlive = head.isKeepAlive
            self.phase = .body
            var fields: [(name: String, value: String)] = []
            fields.reserveCapacity(head.headers.count)
            for field in head.headers {
                fields.append((name: field.name, value: field.value))
            }
            self.receivedHead = MesosHTTPResponse(status: Int(head.status.code), headers: MesosHTTPHeaders(fields))
        case .body(let buffer):
            self.receivedBytes = true
            guard case .body = self.phase, buffer.readableBytes > 0 else { return }
            // A streaming answer comes as many small HTTP chunks (one RecordIO record each, often): the parts of
            // one read are gathered into chunks of up to `Self.coalescedChunkSize` bytes and handed over at the
            // end of the read, so the consumer wakes once per read rather than once per record.
            let count = buffer.readableBytes
            if var last = self.gathering.last, last.count + count <= Self.coalescedChunkSize {
                _ = self.gathering.removeLast()
                buffer.withUnsafeReadableBytes { last.append(contentsOf: $0) }
                self.gathering.append(last)
            } else {
                self.gathering.append(buffer.withUnsafeReadableBytes { Array($0) }[...])
            }
            self.gatheringBytes += count
        case .end:
            guard case .body = self.phase else { return }
            self.publishOnLoop()
            self.phase = .ended
            self.cancelTimersOnLoop()
            // The connection goes back to the pool before the caller hears of the end, so that its next request
            // (perhaps on another thread at once) finds it there.
            self.releaseConnectionOnLoop(reusable: self.keepAlive)
            self.deliverHeadOnLoop()
            self.feedWaiterOnLoop()
        }
    }

    /// Moves the chunks of the read under way to ``ready``, where a consumer can take them.
    private func publishOnLoop() {
        guard !self.gathering.isEmpty else { return }
        let bytes = self.ready.withLock { ready -> Int in
            while let chunk = self.gathering.popFirst() {
                ready.chunks.append(chunk)
            }
            ready.bytes += self.gatheringBytes
            return ready.bytes
        }
        self.gatheringBytes = 0
        self.statistics.noteBuffered(bytes)
    }

    /// The next published chunk, if any (on the loop).
    private func popReadyOnLoop() -> ArraySlice<UInt8>? {
        self.ready.withLock { ready in
            guard let chunk = ready.chunks.popFirst() else { return nil }
            ready.bytes -= chunk.count
            return chunk
        }
    }

    /// A chunk already handed over, taken from any thread without a trip to the loop; `nil` when none is at hand
    /// (the consumer then goes through the loop, which also reports the end and failures once the chunks are out).
    /// When the loop had stopped reading because enough was buffered and this brings the buffer down to half the
    /// limit, the loop is asked to read on (without waiting for it).
    func takeReadyChunk() -> ArraySlice<UInt8>? {
        let maximum = self.maximumBuffered
        let (chunk, resume) = self.ready.withLock { ready -> (ArraySlice<UInt8>?, Bool) in
            guard let chunk = ready.chunks.popFirst() else { return (nil, false) }
            ready.bytes -= chunk.count
            guard ready.readingStopped, ready.bytes <= maximum / 2 else { return (chunk, false) }
            ready.readingStopped = false
            return (chunk, true)
        }
        if resume {
            self.loop.execute { self.requestReadOnLoop() }
        }
        return chunk
    }

    /// The read NIO was asked for has been delivered.
    func readCompleteOnLoop() {
        self.publishOnLoop()
        self.readPending = false
        self.idleTimer?.cancel()
        self.idleTimer = nil
        self.deliverHeadOnLoop()
        self.feedWaiterOnLoop()
        self.requestReadOnLoop()
    }

    /// The most bytes gathered into one chunk from the parts of the body (see ``receivedOnLoop(_:)``).
    static let coalescedChunkSize = 64 << 10

    /// Gives a waiting consumer the next chunk, or the end or failure once nothing is buffered.
    private func feedWaiterOnLoop() {
        guard let waiter = self.waiter else { return }
        if let chunk = self.popReadyOnLoop() {
            self.waiter = nil
            waiter.succeed(chunk)
            return
        }
        switch self.phase {
        case .ended:
            self.waiter = nil
            waiter.succeed(nil)
        case .failed(let error):
            self.waiter = nil
            waiter.fail(error)
        case .head, .body:
            break
        }
    }

    /// The next chunk, the end (`.success(nil)`) or the failure if one is at hand now, or `nil` if the consumer
    /// would have to wait. Lets a consumer already on the loop go on without suspending.
    func readyOnLoop() -> Result<ArraySlice<UInt8>?, MesosError>? {
        if let chunk = self.popReadyOnLoop() {
            self.requestReadOnLoop()
            return .success(chunk)
        }
        switch self.phase {
        case .ended:
            return .success(nil)
        case .failed(let error):
            return .failure(error)
        case .head, .body:
            return nil
        }
    }

    /// The next chunk, the end (`nil`), or the failure; waits on the network when nothing is buffered.
    func nextOnLoop() -> EventLoopFuture<ArraySlice<UInt8>?> {
        if let chunk = self.popReadyOnLoop() {
            self.requestReadOnLoop()
            return self.loop.makeSucceededFuture(chunk)
        }
        switch self.phase {
        case .ended:
            return self.loop.makeSucceededFuture(nil)
        case .failed(let error):
            return self.loop.makeFailedFuture(error)
        case .head, .body:
            guard self.waiter == nil else {
                return self.loop.makeFailedFuture(MesosError(code: .invalidState, message: "\(self.context): the body is read by two consumers at once"))
            }
            let promise = self.loop.makePromise(of: ArraySlice<UInt8>?.self)
            self.waiter = promise
            self.requestReadOnLoop()
            return promise.futureResult
        }
    }

    // MARK: Ending

    /// Fails whatever waits and closes the connection, unless the exchange already ended.
    func failOnLoop(_ error: MesosError) {
        switch self.phase {
        case .ended, .failed:
            return
        case .head, .body:
            break
        }
        if !self.receivedBytes {
            self.failedBeforeAnyByte.withLock { $0 = true }
        }
        self.phase = .failed(error)
        self.cancelTimersOnLoop()
        self.publishOnLoop()
        if self.receivedHead != nil {
            // The head arrived: it is the answer; the body then ends with this failure.
            self.deliverHeadOnLoop()
        } else if let onHead = self.headHandler {
            self.headHandler = nil
            onHead(.failure(error))
        }
        // A waiting consumer gets what was received before the failure first; the failure comes next.
        self.feedWaiterOnLoop()
        self.releaseConnectionOnLoop(reusable: false)
    }

    /// The consumer went away (body and iterator dropped): close unless the response already ended.
    func abandonOnLoop() {
        self.gathering.removeAll()
        self.gatheringBytes = 0
        self.ready.withLock { ready in
            ready.chunks.removeAll()
            ready.bytes = 0
        }
        self.failOnLoop(MesosError(code: .cancelled, message: "\(self.context): the response body was dropped"))
    }

    /// The connection closed under the exchange.
    func connectionClosedOnLoop() {
        self.failOnLoop(self.connectionClosedError())
    }

    private func connectionClosedError() -> MesosError {
        let phase: String
        if case .head = self.phase { phase = "before the response head" } else { phase = "before the end of the response body" }
        return MesosError(code: .transportFailure, message: "\(self.context): the server closed the connection \(phase)", cause: ChannelError.eof)
    }

    private func cancelTimersOnLoop() {
        self.callTimer?.cancel()
        self.callTimer = nil
        self.idleTimer?.cancel()
        self.idleTimer = nil
    }

    /// Detaches from the channel and pools it (clean end, kept alive) or closes it.
    private func releaseConnectionOnLoop(reusable: Bool) {
        guard let channel = self.channel else { return }
        self.channel = nil
        if self.handler?.exchange === self {
            self.handler?.exchange = nil
        }
        self.handler = nil
        if reusable && channel.isActive {
            self.pool.put(channel, for: self.destination)
            // An idle connection keeps a read outstanding: the poller's interest in the socket then stays the same
            // from one exchange to the next (no change of registration per call), and a server that closes an
            // idle connection is noticed at once (the pool drops inactive connections).
            channel.read()
        } else {
            channel.close(promise: nil)
        }
    }

    // MARK: From any thread

    /// Runs `body` on the loop: at once when already there.
    func onLoop(_ body: @escaping @Sendable () -> Void) {
        if self.loop.inEventLoop {
            body()
        } else {
            self.loop.execute(body)
        }
    }
}

/// Forwards the channel's events to the exchange that currently uses the connection.
final class NIOExchangeHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart

    /// The exchange using the connection, or `nil` while it is idle.
    var exchange: NIOExchange?

    /// The handler of a connection the transport made, looked up once per connection and then kept.
    static func attached(to channel: any Channel) -> NIOExchangeHandler? {
        try? channel.pipeline.syncOperations.handler(type: NIOExchangeHandler.self)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let exchange = self.exchange else {
            // Bytes on an idle connection answer nothing we asked: the connection cannot be trusted any more.
            context.close(promise: nil)
            return
        }
        exchange.receivedOnLoop(self.unwrapInboundIn(data))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        self.exchange?.readCompleteOnLoop()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let exchange = self.exchange {
            exchange.failOnLoop(NIOTransportErrors.mesosError(error, context: exchange.context))
        }
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.exchange?.connectionClosedOnLoop()
        context.fireChannelInactive()
    }
}

/// The answer's head, and its whole body when the response had already ended when the head was handed over
/// (a call's answer usually arrives in one read): the caller then needs nothing more from the loop.
struct NIOHead: Sendable {
    var response: MesosHTTPResponse
    var completeBody: [UInt8]?
}

/// The method and URL of a request, turned into text only for an error message.
struct NIOCallContext: Sendable, CustomStringConvertible {
    let method: String
    let url: URL

    var description: String { "\(self.method) \(self.url.absoluteString)" }
}

/// What the exchanges of a transport did, for tests: the most unread bytes one response ever held.
final class NIOTransportStatistics: Sendable {
    private let highestBuffered = LockedValue(0)

    /// Records that a response holds `bytes` unread bytes.
    func noteBuffered(_ bytes: Int) {
        self.highestBuffered.withLock { $0 = max($0, bytes) }
    }

    /// The most unread bytes one response of the transport held.
    var maximumBuffered: Int { self.highestBuffered.withLock { $0 } }
}
