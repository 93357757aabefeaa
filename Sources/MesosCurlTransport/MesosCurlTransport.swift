import Foundation
import MesosCore

/// A ``MesosTransport`` built on libcurl: the default transport on Linux.
///
/// One transport owns one curl multi handle, driven by one dedicated background thread that sleeps in
/// `curl_multi_poll` while nothing happens, so an idle event stream costs no CPU. Every request sent through the
/// same transport shares that handle's connection cache: ordinary calls reuse kept-alive connections, several
/// calls run at once, and a SUBSCRIBE stream keeps its own connection alongside them.
///
/// The transport meets the whole ``MesosTransport`` contract:
/// - ``send(_:)`` returns as soon as the final (non-1xx) response head is in; the body streams.
/// - Redirects are not followed and `Content-Encoding` is not decoded.
/// - At most ``Configuration/maximumBufferedBytesPerResponse`` unread bytes are kept per response; beyond that
///   the transfer is paused until the consumer catches up.
/// - Cancelling the consuming task, or dropping the body or its iterator, closes the connection.
/// - ``MesosHTTPRequest/timeout`` bounds the whole exchange and ``MesosHTTPRequest/idleTimeout`` the silence
///   between two pieces of the response (time spent paused because the consumer is slow does not count).
///
/// ```swift
/// let transport: some MesosTransport = .curl()
/// let (response, body) = try await transport.send(request)
/// for try await event in body.schedulerEvents(codec: MesosCodec(.json)) { … }
/// ```
///
/// Keep one transport per client: it is cheap to copy (copies share the thread and connections), and its
/// thread ends once the last copy is gone and no response is still streaming.
///
/// Requests use HTTP/1.1 (what Mesos speaks). libcurl's usual proxy environment variables (`http_proxy`,
/// `https_proxy`, `no_proxy`) apply. Request headers go out as given: curl's default `Accept`, `Content-Type` and
/// `Expect` headers are left out unless the request sets them, and no `Accept-Encoding` is sent.
public struct MesosCurlTransport: MesosTransport {
    /// The configuration the transport was created with.
    public let configuration: Configuration

    private let owner: CurlEngineOwner
    private let executor: CurlTaskExecutor

    /// Creates a transport and starts its background thread.
    ///
    /// - Parameters:
    ///   - configuration: Timeouts, buffering, connection limits and TLS settings.
    ///   - warningHandler: Receives warnings about unsafe settings (TLS verification turned off). By default
    ///     they are written to standard error.
    public init(
        configuration: Configuration = .init(),
        warningHandler: @escaping @Sendable (String) -> Void = MesosCurlTransport.writeToStandardError
    ) {
        self.configuration = configuration
        let owner = CurlEngineOwner(engine: CurlEngine(configuration: configuration))
        self.owner = owner
        self.executor = CurlTaskExecutor(owner: owner)
        if !configuration.tls.verifyPeer {
            warningHandler(
                "MesosCurlTransport: TLS certificate and host name verification is disabled; "
                    + "any server will be trusted on https connections"
            )
        }
    }

    /// Sends a request and returns the response head as soon as it arrives, with the body still streaming.
    ///
    /// - Parameter request: The request. `timeout` (or ``Configuration/defaultCallTimeout``) bounds the whole
    ///   exchange, `idleTimeout` the longest silence.
    /// - Returns: The status and headers, and the body as a stream of chunks.
    /// - Throws: ``MesosError`` with code ``MesosError/Code/transportFailure`` (connection, TLS or protocol
    ///   failure, invalid request), ``MesosError/Code/timeout`` or ``MesosError/Code/cancelled``.
    public func send(_ request: MesosHTTPRequest) async throws(MesosError) -> (MesosHTTPResponse, MesosResponseBody) {
        if Task.isCancelled {
            throw CurlTransfer.cancellationError(for: request, phase: "before it was sent")
        }
        let transfer = try CurlTransfer(request: request, configuration: self.configuration, engine: self.owner.engine)
        let response = try await transfer.start()
        return (response, MesosResponseBody(CurlResponseChunks(transfer: transfer)))
    }

    /// Runs tasks on the transport's curl thread: a task that sends calls from there pays no thread hand-off
    /// per call (its request reaches curl without a wakeup, and it resumes as soon as curl has read the
    /// response).
    ///
    /// ```swift
    /// await withTaskExecutorPreference(transport.taskExecutor) {
    ///     for update in updates { try await scheduler.acknowledge(update) }
    /// }
    /// ```
    ///
    /// The thread is shared by every request of the transport, so jobs run there should not block or compute
    /// for long; decoding a busy event stream belongs on the default executor. Holding the executor keeps the
    /// thread alive like a copy of the transport does.
    public var taskExecutor: (any TaskExecutor)? {
        self.executor
    }

    /// The default warning handler: writes the message and a newline to standard error.
    ///
    /// - Parameter message: The warning.
    @Sendable
    public static func writeToStandardError(_ message: String) {
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }

    /// The engine (multi handle and thread) shared by the copies of this transport; for tests.
    var engine: CurlEngine {
        self.owner.engine
    }

    /// The background thread's CPU clock, for tests that check that an idle stream costs nothing.
    var engineThreadCPUTime: Duration? {
        self.owner.engine.threadCPUTime()
    }
}

extension MesosTransport where Self == MesosCurlTransport {
    /// A libcurl transport.
    ///
    /// ```swift
    /// let transport: some MesosTransport = .curl(configuration: .init(connectTimeout: .seconds(3)))
    /// ```
    ///
    /// - Parameters:
    ///   - configuration: Timeouts, buffering, connection limits and TLS settings.
    ///   - warningHandler: Receives warnings about unsafe settings; standard error by default.
    /// - Returns: A new ``MesosCurlTransport``.
    public static func curl(
        configuration: MesosCurlTransport.Configuration = .init(),
        warningHandler: @escaping @Sendable (String) -> Void = MesosCurlTransport.writeToStandardError
    ) -> MesosCurlTransport {
        MesosCurlTransport(configuration: configuration, warningHandler: warningHandler)
    }
}
