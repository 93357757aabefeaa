import MesosCore
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// What the copies of a ``MesosNIOTransport`` share: the loop, the pool of idle connections and the TLS context.
final class NIOTransportCore: Sendable {
    let loop: any EventLoop
    let ownedGroup: MultiThreadedEventLoopGroup?
    let configuration: MesosNIOTransport.Configuration
    let pool: NIOConnectionPool
    let executor: EventLoopTaskExecutor
    let statistics = NIOTransportStatistics()
    /// The last URL sent to, parsed.
    let targets = NIOTargetCache()
    /// The TLS context, made on first use of an `https` URL (loading files), then reused.
    private let tlsContext = LockedValue<Result<NIOSSLContext, MesosError>?>(nil)

    init(configuration: MesosNIOTransport.Configuration, loop: any EventLoop, ownedGroup: MultiThreadedEventLoopGroup?) {
        self.configuration = configuration
        self.loop = loop
        self.ownedGroup = ownedGroup
        self.pool = NIOConnectionPool(capacityPerHost: configuration.maximumIdleConnectionsPerHost)
        self.executor = EventLoopTaskExecutor(loop: loop)
    }

    func send(_ request: MesosHTTPRequest) async throws(MesosError) -> (MesosHTTPResponse, MesosResponseBody) {
        let call = NIOCallContext(method: request.method, url: request.url)
        if Task.isCancelled {
            throw MesosError(code: .cancelled, message: "\(call) was cancelled before it was sent", cause: CancellationError())
        }
        let nioRequest = try NIORequest(request, target: try self.targets.target(for: request.url, context: call), context: call)
        let deadline = request.timeout.map { NIODeadline.now() + TimeAmount($0) }
        var mayRetry = true
        while true {
            let (connection, reused) = try await self.connection(to: nioRequest.destination, deadline: deadline, call: call)
            let exchange = NIOExchange(
                channel: connection, call: call, destination: nioRequest.destination, pool: self.pool,
                statistics: self.statistics, maximumBuffered: self.configuration.maximumBufferedBytesPerResponse,
                idleTimeout: request.idleTimeout, reused: reused
            )
            do {
                let head = try await Self.head(of: exchange, request: nioRequest, deadline: deadline)
                if let complete = head.completeBody {
                    // The whole answer came with its head and the connection is already back in the pool.
                    return (head.response, complete.isEmpty ? .empty : MesosResponseBody(bytes: complete))
                }
                return (head.response, MesosResponseBody(NIOResponseChunks(exchange)))
            } catch {
                // A pooled connection the server closed meanwhile: the request never reached it; once, take another.
                if reused, mayRetry, error.code == .transportFailure, exchange.failedBeforeAnyByte.withLock({ $0 }) {
                    mayRetry = false
                    continue
                }
                throw error
            }
        }
    }

    /// Starts the exchange on the loop (at once when the caller already runs there, else with one hop) and waits
    /// for its head; cancellation of the waiting task fails the exchange (closing it).
    static func head(of exchange: NIOExchange, request: NIORequest, deadline: NIODeadline?) async throws(MesosError) -> NIOHead {
        do {
            return try await withTaskCancellationHandler {
                try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<NIOHead, any Error>) in
                    if exchange.loop.inEventLoop {
                        exchange.startOnLoop(request: request, deadline: deadline) { continuation.resume(with: $0) }
                    } else {
                        exchange.loop.execute {
                            exchange.startOnLoop(request: request, deadline: deadline) { continuation.resume(with: $0) }
                        }
                    }
                }
            } onCancel: {
                exchange.onLoop {
                    exchange.failOnLoop(MesosError(code: .cancelled, message: "\(exchange.context) was cancelled", cause: CancellationError()))
                }
            }
        } catch {
            throw NIOTransportErrors.mesosError(error, context: exchange.context)
        }
    }

    /// Waits for a future of the exchange; cancellation of the waiting task fails the exchange (closing it).
    static func await<T: Sendable>(
        _ exchange: NIOExchange,
        context: String,
        _ start: @Sendable () -> EventLoopFuture<T>
    ) async throws(MesosError) -> T {
        do {
            return try await withTaskCancellationHandler {
                try await start().get()
            } onCancel: {
                exchange.onLoop {
                    exchange.failOnLoop(MesosError(code: .cancelled, message: "\(context) was cancelled", cause: CancellationError()))
                }
            }
        } catch {
            throw NIOTransportErrors.mesosError(error, context: context)
        }
    }

    /// An idle pooled connection to `destination`, or a new one.
    private func connection(
        to destination: NIODestination, deadline: NIODeadline?, call: NIOCallContext
    ) async throws(MesosError) -> (any Channel, reused: Bool) {
        if let channel = self.pool.take(destination) {
            return (channel, true)
        }
        let tls = destination.tls ? try self.makeTLSContext(context: call.description) : nil
        var connectTimeout = TimeAmount(self.configuration.connectTimeout)
        if let deadline {
            connectTimeout = max(.nanoseconds(1), min(connectTimeout, deadline - .now()))
        }
        // The TLS handshake must be done within the same connect timeout (NIOTLSHandshakeWaiter).
        let handshakeTimeout = connectTimeout
        let connectDeadline = NIODeadline.now() + connectTimeout
        let host = destination.host
        let serverName: String? = Self.isIPAddress(host) ? nil : host
        let handshakeBox = NIOHandshakeBox()
        let bootstrap = ClientBootstrap(group: self.loop)
            .connectTimeout(connectTimeout)
            .channelOption(.autoRead, value: false)
            // One socket read per requested read, so that at most one read (64 KiB) goes over the buffer limit.
            .channelOption(.maxMessagesPerRead, value: 1)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    if let tls {
                        try pipeline.addHandler(NIOSSLClientHandler(context: tls, serverHostname: serverName))
                        let waiter = NIOTLSHandshakeWaiter(deadline: connectDeadline, timeout: handshakeTimeout)
                        try pipeline.addHandler(waiter)
                        // Kept now: a failed handshake closes the channel, which takes the waiter out of the
                        // pipeline before the connect's continuation could look it up.
                        handshakeBox.future = waiter.handshake
                    }
                    // NIORequest already checked the method, the target and every header (no CR, LF or NUL; names are
                    // tokens): NIO's own check of the same on each write is left out.
                    try pipeline.addHTTPClientHandlers(enableOutboundHeaderValidation: false)
                    try pipeline.addHandler(NIOExchangeHandler())
                }
            }
        let connect = bootstrap.connect(host: host, port: destination.port).flatMap { channel in
            guard tls != nil else { return channel.eventLoop.makeSucceededFuture(channel) }
            return channel.eventLoop.flatSubmit {
                let handshake = handshakeBox.future ?? channel.eventLoop.makeSucceededVoidFuture()
                return handshake.map { channel }.flatMapErrorThrowing { error in
                    channel.close(promise: nil)
                    throw error
                }
            }
        }
        do {
            let channel = try await withTaskCancellationHandler {
                try await connect.get()
            } onCancel: {
                connect.whenSuccess { $0.close(promise: nil) }
            }
            if Task.isCancelled {
                channel.close(promise: nil)
                throw CancellationError()
            }
            return (channel, false)
        } catch {
            let phase = tls == nil ? "connecting to \(host):\(destination.port)" : "connecting to \(host):\(destination.port) (TCP and TLS handshake)"
            let mapped = NIOTransportErrors.mesosError(error, context: call.description, phase: phase)
            throw mapped
        }
    }

    /// Builds the TLS context once from the configuration's files.
    private func makeTLSContext(context: String) throws(MesosError) -> NIOSSLContext {
        let settings = self.configuration.tls
        let result = self.tlsContext.withLock { cached -> Result<NIOSSLContext, MesosError> in
            if let cached { return cached }
            let made: Result<NIOSSLContext, MesosError>
            do {
                var tls = TLSConfiguration.makeClientConfiguration()
                if !settings.verifyPeer {
                    tls.certificateVerification = .none
                }
                if let ca = settings.caBundlePath {
                    tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(ca))
                }
                if let certificate = settings.clientCertificatePath {
                    tls.certificateChain = try NIOSSLCertificate.fromPEMFile(certificate).map { .certificate($0) }
                    tls.privateKey = .privateKey(try NIOSSLPrivateKey(file: settings.clientKeyPath ?? certificate, format: .pem))
                }
                made = .success(try NIOSSLContext(configuration: tls))
            } catch {
                made = .failure(
                    MesosError(
                        code: .tlsVerificationFailed,
                        message: "\(context): the TLS settings cannot be used (CA \(settings.caBundlePath ?? "system"), client certificate \(settings.clientCertificatePath ?? "none")): \(error)",
                        cause: error
                    )
                )
            }
            // Files that could not be read are tried again next time (they may appear); a context is kept.
            if case .success = made { cached = made }
            return made
        }
        return try result.get()
    }

    /// Closes the idle pooled connections and waits for them to close.
    func closeIdleConnections() async {
        for channel in self.pool.closeAll() {
            try? await channel.close()
        }
    }

    private static func isIPAddress(_ host: String) -> Bool {
        (try? SocketAddress(ipAddress: host, port: 0)) != nil
    }
}

/// How NIO's and NIOSSL's errors become the port's ``MesosError``.
enum NIOTransportErrors {
    static func mesosError(_ error: any Error, context: String, phase: String = "") -> MesosError {
        if let error = error as? MesosError {
            return error
        }
        let during = phase.isEmpty ? "" : " \(phase)"
        if error is CancellationError {
            return MesosError(code: .cancelled, message: "\(context) was cancelled\(during)", cause: error)
        }
        if let channelError = error as? ChannelError, case .connectTimeout = channelError {
            return MesosError(code: .timeout, message: "\(context): timed out\(during)", cause: error)
        }
        if Self.isCertificateFailure(error) {
            return MesosError(code: .tlsVerificationFailed, message: "\(context): the server's certificate could not be verified: \(error)", cause: error)
        }
        return MesosError(code: .transportFailure, message: "\(context) failed\(during): \(error)", cause: error)
    }

    /// Whether `error` says the peer's certificate (chain or name) did not verify.
    static func isCertificateFailure(_ error: any Error) -> Bool {
        if let error = error as? NIOSSLExtraError, error == .failedToValidateHostname {
            return true
        }
        if let error = error as? NIOSSLError {
            switch error {
            case .unableToValidateCertificate:
                return true
            case .handshakeFailed:
                let text = String(describing: error)
                return text.contains("CERTIFICATE_VERIFY_FAILED") || text.contains("certificate verify failed")
            default:
                return false
            }
        }
        return false
    }
}

/// The TLS handshake's future of the one connection a `connect` makes; written and read on its event loop only.
final class NIOHandshakeBox: @unchecked Sendable {
    var future: EventLoopFuture<Void>?
}
