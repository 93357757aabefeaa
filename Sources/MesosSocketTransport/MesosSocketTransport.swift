#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import MesosCore

/// A ``MesosTransport`` that speaks plain HTTP/1.1 over POSIX sockets, TCP or a unix domain socket, with
/// nothing but the C library underneath: no TLS, no libcurl, no FoundationNetworking. It is the lean transport
/// of an executor, which talks to one local agent (one long SUBSCRIBE stream and a few short calls) and runs
/// once per task on every agent, so its footprint counts.
///
/// ## Threads
/// Every exchange (one request and its response) runs on a dedicated, detached thread with a small stack, which
/// does blocking I/O: `connect`, `send` and `recv` on a non-blocking socket, each wait a `poll` bounded by the
/// request's deadlines on the monotonic clock. Nothing of it runs on Swift's cooperative pool, so a saturated
/// pool does not stall the transport and the transport does not take threads from it. A thread per exchange
/// was chosen over one `poll` loop for all connections because an executor has one or two exchanges at a time:
/// no wake-up pipe, no shared loop state, and a parked thread costs no CPU. The thread ends with its exchange.
///
/// ## Contract
/// - ``send(_:)`` returns as soon as the final response head is in (interim 1xx heads are skipped); the body
///   streams, framed by `Content-Length`, `Transfer-Encoding: chunked` or the end of the connection.
/// - Redirects are not followed and `Content-Encoding` is not decoded (see `MesosCompression`).
/// - At most ``Configuration/maximumBufferedBytesPerResponse`` unread bytes are kept per response (plus one
///   read of at most 64 KiB); then the thread stops reading until the consumer has drained half of it.
/// - Cancelling the consuming task, or dropping the body or its iterator, shuts the socket down at once: a
///   blocked `poll` returns and the thread closes the connection.
/// - ``MesosHTTPRequest/timeout`` bounds the whole exchange, ``MesosHTTPRequest/idleTimeout`` the silence
///   between two reads (time spent waiting for a slow consumer does not count), and
///   ``Configuration/connectTimeout`` each connection attempt; all give ``MesosError/Code/timeout``.
/// - Connection failures, malformed or oversized responses and a body cut short give
///   ``MesosError/Code/transportFailure`` with the socket or parse error as ``MesosError/cause``; `https` URLs
///   give ``MesosError/Code/invalidConfiguration`` (this transport has no TLS: use `MesosCurlTransport`).
/// - A connection whose response was read to the end (and that the server keeps alive) is reused by the next
///   request to the same destination; a kept-alive connection the server closed meanwhile is replaced by a new
///   one, once, when no byte of the response had arrived.
///
/// ```swift
/// var configuration = MesosSocketTransport.Configuration()
/// configuration.unixSocketPath = environment["MESOS_DOMAIN_SOCKET"]
/// let transport = MesosSocketTransport(configuration: configuration)
/// ```
public struct MesosSocketTransport: MesosTransport {
    /// How a ``MesosSocketTransport`` connects, bounds what it reads and buffers, and where it connects to.
    public struct Configuration: Sendable {
        /// The longest one connection attempt may take. Default: 10 s.
        public var connectTimeout: Duration

        /// The most bytes a response head (status line and header fields; trailers likewise) may have; a
        /// larger one fails with ``MesosError/Code/transportFailure``. Default: 64 KiB.
        public var maximumHeaderBytes: Int

        /// The most unread body bytes kept for one response before the transport stops reading from the
        /// socket (backpressure). Default: 256 KiB. Values below 1 are treated as 1.
        public var maximumBufferedBytesPerResponse: Int

        /// The most idle kept-alive connections held for reuse. Default: 4; 0 closes every connection after
        /// its response.
        public var maximumIdleConnections: Int

        /// A unix domain socket to send every request to, or `nil` to connect to the URL's host and port.
        ///
        /// When set, the URL gives only the path, query and `Host` header, as with curl's `--unix-socket`;
        /// Mesos agents started with `--domain_socket_location` hand it to executors as `MESOS_DOMAIN_SOCKET`.
        public var unixSocketPath: String?

        /// Creates a configuration.
        ///
        /// - Parameters:
        ///   - connectTimeout: The limit on one connection attempt.
        ///   - maximumHeaderBytes: The limit on a response head.
        ///   - maximumBufferedBytesPerResponse: The unread bytes kept per response before pausing.
        ///   - maximumIdleConnections: The kept-alive connections held for reuse.
        ///   - unixSocketPath: A unix domain socket for every request, or `nil`.
        public init(
            connectTimeout: Duration = .seconds(10),
            maximumHeaderBytes: Int = 64 << 10,
            maximumBufferedBytesPerResponse: Int = 256 << 10,
            maximumIdleConnections: Int = 4,
            unixSocketPath: String? = nil
        ) {
            self.connectTimeout = connectTimeout
            self.maximumHeaderBytes = maximumHeaderBytes
            self.maximumBufferedBytesPerResponse = maximumBufferedBytesPerResponse
            self.maximumIdleConnections = maximumIdleConnections
            self.unixSocketPath = unixSocketPath
        }
    }

    /// The configuration the transport was created with.
    public let configuration: Configuration

    /// Idle kept-alive connections, shared by the copies of this transport.
    let pool: ConnectionPool

    /// Backpressure counters of this transport's exchanges (for tests).
    let statistics = BackpressureStatistics()

    /// Creates a transport. No thread runs until a request is sent.
    ///
    /// - Parameter configuration: Timeouts, limits and the optional unix domain socket.
    public init(configuration: Configuration = .init()) {
        self.configuration = configuration
        self.pool = ConnectionPool(capacity: configuration.maximumIdleConnections)
    }

    /// Sends a request and returns the response head as soon as it arrives, with the body still streaming.
    ///
    /// - Parameter request: The request; an `http` URL.
    /// - Returns: The status and headers, and the body as a stream of chunks.
    /// - Throws: ``MesosError`` with code ``MesosError/Code/transportFailure`` (connection failure, malformed
    ///   response), ``MesosError/Code/timeout``, ``MesosError/Code/cancelled``,
    ///   ``MesosError/Code/invalidConfiguration`` (not an `http` URL) or ``MesosError/Code/invalidCall`` (a
    ///   method or header that cannot be sent).
    public func send(_ request: MesosHTTPRequest) async throws(MesosError) -> (MesosHTTPResponse, MesosResponseBody) {
        let context = "\(request.method) \(request.url.absoluteString)"
        if Task.isCancelled {
            throw SocketExchange.cancellationError(context: context, phase: "before it was sent")
        }
        let head = try HTTPRequestHead(request, unixSocketPath: self.configuration.unixSocketPath, context: context)
        let exchange = SocketExchange(
            request: request, head: head, context: context, configuration: self.configuration, pool: self.pool,
            statistics: self.statistics
        )
        let response = try await exchange.start()
        return (response, MesosResponseBody(SocketResponseChunks(exchange)))
    }
}

extension MesosTransport where Self == MesosSocketTransport {
    /// A plain-HTTP transport over POSIX sockets.
    ///
    /// ```swift
    /// let transport: some MesosTransport = .socket(configuration: .init(unixSocketPath: "/run/mesos/agent.sock"))
    /// ```
    ///
    /// - Parameter configuration: Timeouts, limits and the optional unix domain socket.
    /// - Returns: A new ``MesosSocketTransport``.
    public static func socket(configuration: MesosSocketTransport.Configuration = .init()) -> MesosSocketTransport {
        MesosSocketTransport(configuration: configuration)
    }
}
