#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import MesosCore
import NIOCore
import NIOPosix

/// A ``MesosTransport`` on SwiftNIO: HTTP/1.1 through NIO's own codecs, TLS through swift-nio-ssl, on an
/// `EventLoopGroup` of its own or one shared with the host application (Hummingbird, Vapor, gRPC Swift).
///
/// ## Event loop
/// Every connection of a transport (and of its copies) runs on one event loop, picked from the group when the
/// transport is created. ``taskExecutor`` runs tasks on that loop, so a task that sends calls one after another
/// there pays no thread hand-off per call.
///
/// ## Contract
/// - ``send(_:)`` returns as soon as the final response head is in; the body streams as NIO reads it.
/// - Redirects are not followed and `Content-Encoding` is not decoded (see `MesosCompression`).
/// - Backpressure: the channel does not read by itself (`autoRead` off). It reads while fewer than
///   ``Configuration/maximumBufferedBytesPerResponse`` unread bytes are held (plus at most one network read),
///   and again when the consumer has drained them.
/// - Cancelling the consuming task, or dropping the body or its iterator before its end, closes the connection.
/// - ``MesosHTTPRequest/timeout`` bounds the whole exchange from the first connect; ``MesosHTTPRequest/idleTimeout``
///   bounds each wait for bytes the transport has asked the network for (time spent waiting for a slow consumer
///   does not count); ``Configuration/connectTimeout`` bounds a TCP connection attempt. All
///   give ``MesosError/Code/timeout``.
/// - Connection failures, malformed responses and a body cut short give ``MesosError/Code/transportFailure``
///   with NIO's error as ``MesosError/cause``; an unverifiable server certificate, or CA and client certificate
///   files that cannot be used, give ``MesosError/Code/tlsVerificationFailed``; a URL that is neither `http` nor
///   `https` gives ``MesosError/Code/invalidConfiguration``.
/// - Keep-alive: a connection goes back to the pool of its (scheme, host, port) only once its response ended
///   cleanly and the server did not ask to close it. A stream that is left before its end closes its connection.
///   A pooled connection that the server had closed meanwhile is replaced by a new one, once, when no byte of the
///   response had arrived.
///
/// ```swift
/// let transport = MesosNIOTransport(eventLoopGroup: application.eventLoopGroup)
/// ```
public struct MesosNIOTransport: MesosTransport {
    /// The configuration the transport was created with.
    public let configuration: Configuration

    /// State shared by the copies of this transport: the loop, the pool, the TLS context.
    let core: NIOTransportCore

    /// Creates a transport on an event loop of `eventLoopGroup`, which the caller owns (and shuts down).
    ///
    /// - Parameters:
    ///   - configuration: Timeouts, limits, pooling and TLS.
    ///   - eventLoopGroup: The group to run on, e.g. the host application's.
    public init(configuration: Configuration = .init(), eventLoopGroup: any EventLoopGroup) {
        self.configuration = configuration
        self.core = NIOTransportCore(configuration: configuration, loop: eventLoopGroup.next(), ownedGroup: nil)
    }

    /// Creates a transport on SwiftNIO's process-wide singleton group (`MultiThreadedEventLoopGroup.singleton`),
    /// which is never shut down, or on a new group of one thread that ``shutdown()`` ends.
    ///
    /// - Parameters:
    ///   - configuration: Timeouts, limits, pooling and TLS.
    ///   - ownThread: `true` for a new one-thread group owned by this transport; `false` (the default) for the
    ///     singleton group.
    public init(configuration: Configuration = .init(), ownThread: Bool = false) {
        self.configuration = configuration
        if ownThread {
            let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            self.core = NIOTransportCore(configuration: configuration, loop: group.next(), ownedGroup: group)
        } else {
            self.core = NIOTransportCore(
                configuration: configuration, loop: MultiThreadedEventLoopGroup.singleton.next(), ownedGroup: nil
            )
        }
    }

    /// The event loop every connection of this transport runs on.
    public var eventLoop: any EventLoop { self.core.loop }

    /// An executor running tasks on ``eventLoop``: a task preferring it sends its requests and resumes with their
    /// answers on the loop, without thread hand-offs. Keep blocking work off it: while one of its jobs runs, every
    /// connection of the transport waits.
    public var taskExecutor: (any TaskExecutor)? { self.core.executor }

    /// Sends a request and returns the response head as soon as it arrives, with the body still streaming.
    ///
    /// - Parameter request: The request; an `http` or `https` URL.
    /// - Returns: The status and headers, and the body as a stream of chunks.
    /// - Throws: ``MesosError`` with code ``MesosError/Code/transportFailure``, ``MesosError/Code/timeout``,
    ///   ``MesosError/Code/cancelled``, ``MesosError/Code/tlsVerificationFailed``,
    ///   ``MesosError/Code/invalidConfiguration`` (not an `http`/`https` URL) or ``MesosError/Code/invalidCall``
    ///   (a method or header that cannot be sent).
    public func send(_ request: MesosHTTPRequest) async throws(MesosError) -> (MesosHTTPResponse, MesosResponseBody) {
        try await self.core.send(request)
    }

    /// Closes the idle pooled connections and, for a transport created with `ownThread: true`, shuts its event
    /// loop group down. Requests sent afterwards fail; exchanges still running are closed with the group.
    ///
    /// - Throws: ``MesosError/Code/transportFailure`` if the group could not be shut down.
    public func shutdown() async throws(MesosError) {
        await self.core.closeIdleConnections()
        guard let group = self.core.ownedGroup else { return }
        do {
            try await group.shutdownGracefully()
        } catch {
            throw MesosError(code: .transportFailure, message: "Shutting the NIO transport's event loop group down: \(error)", cause: error)
        }
    }
}

extension MesosTransport where Self == MesosNIOTransport {
    /// A SwiftNIO transport on the process-wide singleton event loop group.
    ///
    /// ```swift
    /// let transport: some MesosTransport = .nio()
    /// ```
    ///
    /// - Parameter configuration: Timeouts, limits, pooling and TLS.
    /// - Returns: A new ``MesosNIOTransport``.
    public static func nio(configuration: MesosNIOTransport.Configuration = .init()) -> MesosNIOTransport {
        MesosNIOTransport(configuration: configuration)
    }
}
