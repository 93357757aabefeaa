import MesosCore

extension MesosCurlTransport {
    /// How a ``MesosCurlTransport`` connects, times out, buffers and verifies TLS.
    ///
    /// Every property has a default, so `Configuration()` is a working setup:
    ///
    /// ```swift
    /// var configuration = MesosCurlTransport.Configuration()
    /// configuration.connectTimeout = .seconds(5)
    /// configuration.tls.caBundlePath = "/etc/mesos/ca.pem"
    /// let transport = MesosCurlTransport(configuration: configuration)
    /// ```
    public struct Configuration: Sendable {
        /// The longest a TCP connect plus TLS handshake may take. Default: 10 s.
        public var connectTimeout: Duration

        /// The whole-exchange limit applied to requests whose ``MesosHTTPRequest/timeout`` is `nil`.
        ///
        /// Default `nil`: such requests have no limit, which is what a SUBSCRIBE stream needs. A non-`nil` value
        /// also bounds streams sent without their own timeout, so set it only on a transport that carries
        /// ordinary calls.
        public var defaultCallTimeout: Duration?

        /// The most unread response bytes kept for one response before the transport stops reading from the
        /// socket (backpressure). Reading resumes when the consumer has drained half of it. One network read
        /// (at most 16 KiB) may go over the limit. Default: 256 KiB. Values below 1 are treated as 1.
        public var maximumBufferedBytesPerResponse: Int

        /// The most connections opened to one host at a time, or `nil` for no limit (the default). Requests
        /// beyond the limit wait for a free connection; keep it above the number of streams held open to one
        /// master, or calls will queue behind them.
        public var maximumConnectionsPerHost: Int?

        /// TLS settings for `https` URLs.
        public var tls: TLS

        /// Whether libcurl writes its own trace of every transfer to standard error. Default: `false`.
        public var verbose: Bool

        /// Creates a configuration.
        ///
        /// - Parameters:
        ///   - connectTimeout: The connect (and TLS handshake) limit.
        ///   - defaultCallTimeout: The limit for requests without a timeout of their own.
        ///   - maximumBufferedBytesPerResponse: The unread bytes kept per response before pausing.
        ///   - maximumConnectionsPerHost: The connection limit per host, or `nil` for none.
        ///   - tls: The TLS settings.
        ///   - verbose: Whether libcurl traces transfers to standard error.
        public init(
            connectTimeout: Duration = .seconds(10),
            defaultCallTimeout: Duration? = nil,
            maximumBufferedBytesPerResponse: Int = 256 << 10,
            maximumConnectionsPerHost: Int? = nil,
            tls: TLS = TLS(),
            verbose: Bool = false
        ) {
            self.connectTimeout = connectTimeout
            self.defaultCallTimeout = defaultCallTimeout
            self.maximumBufferedBytesPerResponse = maximumBufferedBytesPerResponse
            self.maximumConnectionsPerHost = maximumConnectionsPerHost
            self.tls = tls
            self.verbose = verbose
        }
    }
}

extension MesosCurlTransport.Configuration {
    /// TLS settings: server verification and an optional client certificate.
    public struct TLS: Sendable, Equatable {
        /// Whether the server's certificate chain and host name are verified. Default: `true`.
        ///
        /// Setting it to `false` accepts any server, including an attacker in the middle. The transport then
        /// reports a warning through its warning handler when it is created.
        public var verifyPeer: Bool

        /// A PEM file of CA certificates to trust instead of the system's bundle, or `nil` for the system's.
        public var caBundlePath: String?

        /// A PEM client certificate to present (mutual TLS), or `nil` for none.
        public var clientCertificatePath: String?

        /// The PEM private key of ``clientCertificatePath``, or `nil` if the certificate file holds the key too.
        public var clientKeyPath: String?

        /// Creates TLS settings.
        ///
        /// - Parameters:
        ///   - verifyPeer: Whether to verify the server.
        ///   - caBundlePath: CA certificates to trust, or `nil` for the system's.
        ///   - clientCertificatePath: A client certificate, or `nil`.
        ///   - clientKeyPath: The client certificate's key, or `nil`.
        public init(
            verifyPeer: Bool = true,
            caBundlePath: String? = nil,
            clientCertificatePath: String? = nil,
            clientKeyPath: String? = nil
        ) {
            self.verifyPeer = verifyPeer
            self.caBundlePath = caBundlePath
            self.clientCertificatePath = clientCertificatePath
            self.clientKeyPath = clientKeyPath
        }
    }
}
