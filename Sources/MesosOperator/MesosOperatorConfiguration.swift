import Logging
import MesosCore

/// How an operator client talks to a master or an agent: transport, encoding, authentication, timeouts, retries
/// and the clock the retry delays are measured on.
///
/// ```swift
/// var configuration = MesosOperatorConfiguration(transport: .curl())
/// configuration.contentType = .json
/// configuration.authenticator = try BasicAuthenticator(principal: "ops", secret: secret)
/// let master = MesosMasterOperator(master: .fixed(location), configuration: configuration)
/// ```
public struct MesosOperatorConfiguration: Sendable {
    /// The HTTP transport.
    public var transport: any MesosTransport
    /// The encoding of calls and of the answers asked for (`Content-Type` and `Accept`). Default protobuf.
    public var contentType: MesosContentType
    /// Supplies the `Authorization` header (Basic, DC/OS, …), or `nil` for none. On a 401 it is asked once for
    /// fresh credentials before the 401 is reported.
    public var authenticator: (any MesosAuthenticator)?
    /// The longest one HTTP exchange may take (default 60 s). GET_STATE of a large cluster takes a while.
    public var callTimeout: Duration
    /// The most redirects one master call may follow (default 8). Agents are never redirected.
    public var maximumRedirects: Int
    /// The delays between attempts of a call the master or agent answered 503 (no leader yet, still
    /// recovering), or, for read-only calls, that failed in the transport.
    public var retryBackoff: BackoffPolicy
    /// The most attempts of one call, the first included (default 5); the last failure is then thrown.
    public var maximumAttempts: Int
    /// Whether to send `Accept-Encoding: gzip` (default `true`): the master compresses bodies of 1 KiB and more,
    /// and GET_STATE can be many megabytes. Compressed answers are decoded with `MesosCompression`.
    public var acceptsCompressedResponses: Bool
    /// The largest answer body accepted, after decompression (default 512 MiB).
    public var maximumResponseSize: Int
    /// The path of the operator endpoint (default `/api/v1`).
    public var path: String
    /// The clock the retry delays are measured on: `ContinuousClock` unless a test drives time itself.
    public var clock: any Clock<Duration>
    /// Where to log retries and redirects, or `nil` (default) to log nothing.
    public var logger: Logger?

    /// Creates a configuration.
    ///
    /// - Parameters:
    ///   - transport: The HTTP transport.
    ///   - contentType: The encoding of calls and answers.
    ///   - authenticator: Supplies the `Authorization` header, or `nil`.
    ///   - callTimeout: The longest one exchange may take.
    ///   - maximumRedirects: The most redirects per master call.
    ///   - retryBackoff: The delays between attempts.
    ///   - maximumAttempts: The most attempts per call (at least 1).
    ///   - acceptsCompressedResponses: Whether to ask for gzip.
    ///   - maximumResponseSize: The largest decoded answer accepted.
    ///   - path: The endpoint path.
    ///   - clock: The clock of the retry delays.
    ///   - logger: Where to log, or `nil`.
    public init(
        transport: any MesosTransport,
        contentType: MesosContentType = .protobuf,
        authenticator: (any MesosAuthenticator)? = nil,
        callTimeout: Duration = .seconds(60),
        maximumRedirects: Int = 8,
        retryBackoff: BackoffPolicy = BackoffPolicy(initial: .milliseconds(250), maximum: .seconds(5)),
        maximumAttempts: Int = 5,
        acceptsCompressedResponses: Bool = true,
        maximumResponseSize: Int = 512 << 20,
        path: String = "/api/v1",
        clock: any Clock<Duration> = ContinuousClock(),
        logger: Logger? = nil
    ) {
        self.transport = transport
        self.contentType = contentType
        self.authenticator = authenticator
        self.callTimeout = callTimeout
        self.maximumRedirects = maximumRedirects
        self.retryBackoff = retryBackoff
        self.maximumAttempts = maximumAttempts
        self.acceptsCompressedResponses = acceptsCompressedResponses
        self.maximumResponseSize = maximumResponseSize
        self.path = path
        self.clock = clock
        self.logger = logger
    }
}
