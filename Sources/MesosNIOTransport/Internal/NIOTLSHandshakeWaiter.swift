import NIOCore
import NIOTLS

/// Sits right after the TLS handler of a new connection and completes ``handshake`` when the TLS handshake is
/// done, so that the transport's connect timeout covers TCP connect and TLS handshake together (as curl's
/// `CURLOPT_CONNECTTIMEOUT` does). It asks for the reads the handshake needs (the channel does not read on its
/// own), fails ``handshake`` with `ChannelError.connectTimeout` and closes the channel when `deadline` passes
/// first, and with the channel's error (a certificate that does not verify, a reset) otherwise. After the
/// handshake it only passes events on.
final class NIOTLSHandshakeWaiter: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private let deadline: NIODeadline
    private let timeout: TimeAmount
    private var promise: EventLoopPromise<Void>?
    private var timer: Scheduled<Void>?
    /// Completed when the handshake is done, failed when it cannot be; set once the handler is in a pipeline.
    private(set) var handshake: EventLoopFuture<Void>?

    /// - Parameters:
    ///   - deadline: When the connect (TCP and TLS) must be done.
    ///   - timeout: The connect timeout, for the error.
    init(deadline: NIODeadline, timeout: TimeAmount) {
        self.deadline = deadline
        self.timeout = timeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let promise = context.eventLoop.makePromise(of: Void.self)
        self.promise = promise
        self.handshake = promise.futureResult
        if context.channel.isActive {
            self.start(context: context)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.finish(.failure(ChannelError.ioOnClosedChannel))
    }

    func channelActive(context: ChannelHandlerContext) {
        context.fireChannelActive()
        self.start(context: context)
    }

    private func start(context: ChannelHandlerContext) {
        guard self.promise != nil, self.timer == nil else { return }
        let channel = context.channel
        let timeout = self.timeout
        self.timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: self.deadline) {
            self.finish(.failure(ChannelError.connectTimeout(timeout)))
            channel.close(promise: nil)
        }
        context.read()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted = event as? TLSUserEvent {
            self.finish(.success(()))
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.finish(.failure(error))
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.finish(.failure(ChannelError.eof))
        context.fireChannelInactive()
    }

    private func finish(_ result: Result<Void, any Error>) {
        guard let promise = self.promise else { return }
        self.promise = nil
        self.timer?.cancel()
        self.timer = nil
        promise.completeWith(result)
    }
}

@available(*, unavailable)
extension NIOTLSHandshakeWaiter: Sendable {}
