import MesosCore
import NIOCore
import NIOHTTP1

/// One HTTP/1.1 connection to a fake server (the fake master or the fake agent): collects each request, asks
/// the server's responder, writes the answer.
///
/// Requests on a connection are handled one at a time (NIO's pipelining handler holds later ones back until
/// the response ends). A streamed body is written by the response's producer in a task; each write waits
/// until the channel is writable again, and the task is cancelled when the connection closes.
final class FakeMasterHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    /// Answers one request: the fake master's or the fake agent's routing.
    typealias Responder = @Sendable (FakeMasterRequest) async throws -> FakeMasterResponse

    private let respond: Responder
    private let connectionID: Int
    private var context: ChannelHandlerContext?
    private var requestHead: HTTPRequestHead?
    private var requestBody: [UInt8] = []
    private var keepAlive = true
    private var isActive = true
    /// The request being answered: first the master's decision, then the body's producer.
    private var work: Task<Void, Never>?
    private var writabilityWaiter: EventLoopPromise<Void>?
    /// A body write waits for the connection to become writable (the client is not reading).
    private let heldBack = LockedValue(false)

    init(connectionID: Int, respond: @escaping Responder) {
        self.respond = respond
        self.connectionID = connectionID
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.isActive = false
        self.work?.cancel()
        self.work = nil
        self.writabilityWaiter?.fail(FakeMasterClientClosed())
        self.writabilityWaiter = nil
        self.heldBack.withLock { $0 = false }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A reset or broken connection: closing it cancels whatever was being answered.
        context.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable, let waiter = self.writabilityWaiter {
            self.writabilityWaiter = nil
            self.heldBack.withLock { $0 = false }
            waiter.succeed()
        }
        context.fireChannelWritabilityChanged()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .head(let head):
            self.requestHead = head
            self.requestBody = []
            if head.headers[canonicalForm: "expect"].contains(where: { $0.lowercased() == "100-continue" }) {
                context.writeAndFlush(
                    self.wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .continue))),
                    promise: nil
                )
            }
        case .body(let buffer):
            self.requestBody.append(contentsOf: buffer.readableBytesView)
        case .end:
            guard let head = self.requestHead else { return }
            self.requestHead = nil
            self.dispatch(head, body: self.requestBody, context: context)
            self.requestBody = []
        }
    }

    private func dispatch(_ head: HTTPRequestHead, body: [UInt8], context: ChannelHandlerContext) {
        let target = head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let request = FakeMasterRequest(
            method: head.method.rawValue,
            path: target.first.map(String.init) ?? "/",
            query: target.count > 1 ? String(target[1]) : nil,
            headers: MesosHTTPHeaders(head.headers.map { (name: $0.name, value: $0.value) }),
            body: body,
            connectionID: self.connectionID
        )
        self.keepAlive = head.isKeepAlive
        let version = head.version
        let respond = self.respond
        let eventLoop = context.eventLoop
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        self.work = Task {
            let response: FakeMasterResponse
            do {
                response = try await respond(request)
            } catch is CancellationError {
                return
            } catch {
                response = .text(500, "FakeMaster route failed: \(error)")
            }
            eventLoop.execute {
                bound.value.answer(response, version: version)
            }
        }
    }

    private func answer(_ response: FakeMasterResponse, version: HTTPVersion) {
        guard self.isActive, let context = self.context else { return }
        switch response.action {
        case .closeConnection:
            context.close(promise: nil)
            return
        case .neverAnswer:
            return
        case .answer:
            break
        }
        var headers = HTTPHeaders(response.headers.fields.map { ($0.name, $0.value) })
        if !self.keepAlive {
            headers.replaceOrAdd(name: "Connection", value: "close")
        }
        let status = HTTPResponseStatus(statusCode: response.status)
        switch response.body {
        case .bytes(let bytes):
            headers.replaceOrAdd(name: "Content-Length", value: String(bytes.count))
            context.write(self.wrapOutboundOut(.head(HTTPResponseHead(version: version, status: status, headers: headers))), promise: nil)
            if !bytes.isEmpty {
                context.write(self.wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: bytes)))), promise: nil)
            }
            self.end(context: context)
        case .stream(let contentLength, let producer):
            if let contentLength {
                headers.replaceOrAdd(name: "Content-Length", value: String(contentLength))
            }
            context.writeAndFlush(
                self.wrapOutboundOut(.head(HTTPResponseHead(version: version, status: status, headers: headers))),
                promise: nil
            )
            let eventLoop = context.eventLoop
            let bound = NIOLoopBound(self, eventLoop: eventLoop)
            let writer = ChannelBodyWriter(handler: bound, eventLoop: eventLoop, heldBack: self.heldBack)
            self.work = Task {
                do {
                    try await producer(writer)
                    eventLoop.execute { bound.value.finishStream() }
                } catch {
                    eventLoop.execute { bound.value.cutStream() }
                }
            }
        }
    }

    private func end(context: ChannelHandlerContext) {
        let keepAlive = self.keepAlive
        let channel = context.channel
        context.writeAndFlush(self.wrapOutboundOut(.end(nil))).whenComplete { _ in
            if !keepAlive {
                channel.close(promise: nil)
            }
        }
    }

    private func finishStream() {
        guard self.isActive, let context = self.context else { return }
        self.work = nil
        self.end(context: context)
    }

    private func cutStream() {
        guard self.isActive, let context = self.context else { return }
        self.work = nil
        context.close(promise: nil)
    }

    /// Writes one body chunk; the future completes once the channel can take more.
    fileprivate func writeBody(_ bytes: ArraySlice<UInt8>, on eventLoop: any EventLoop) -> EventLoopFuture<Void> {
        guard self.isActive, let context = self.context else {
            return eventLoop.makeFailedFuture(FakeMasterClientClosed())
        }
        let buffer = context.channel.allocator.buffer(bytes: bytes)
        context.writeAndFlush(self.wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        if context.channel.isWritable {
            return context.eventLoop.makeSucceededVoidFuture()
        }
        let waiter = context.eventLoop.makePromise(of: Void.self)
        self.writabilityWaiter = waiter
        self.heldBack.withLock { $0 = true }
        return waiter.futureResult
    }

    /// Writes body chunks from the producer's task onto the event loop.
    struct ChannelBodyWriter: FakeMasterBodyWriter {
        let handler: NIOLoopBound<FakeMasterHTTPHandler>
        let eventLoop: any EventLoop
        let heldBack: LockedValue<Bool>

        var isHeldBack: Bool {
            self.heldBack.withLock { $0 }
        }

        func write(_ bytes: ArraySlice<UInt8>) async throws {
            try Task.checkCancellation()
            let handler = self.handler
            let eventLoop = self.eventLoop
            try await eventLoop.flatSubmit { handler.value.writeBody(bytes, on: eventLoop) }.get()
        }
    }
}
