import MesosCore

extension MesosNIOTransport {
    /// How a ``MesosNIOTransport`` connects, buffers, pools connections and verifies TLS.
    ///
    /// Every property has a default, so `Configuration()` is a working setup:
    ///
    /// ```swift
    /// var configuration = MesosNIOTransport.Configuration()
    /// configuration.tls.caBundlePath = "/etc/mesos/ca.pem"
    /// let transport = MesosNIOTransport(configuration: configuration)
    /// ```
    public struct Configuration: Sendable {
        /// The longest a new connection may take to be ready: the TCP connect and, for `https`, the TLS handshake
        /// together (as curl's `CURLOPT_CONNECTTIMEOUT`); a request's own ``MesosHTTPRequest/timeout`` shortens it.
        /// Default: 10 s.
        public var connectTimeout: Duration

        /// The most unread response body bytes kept for one response before the transport stops reading from the
        /// connection (backpressure); one network read may go over it. Default: 256 KiB. Values below 1 are
        /// treated as 1.
        public var maximumBufferedBytesPerResponse: Int

        /// The most idle kept-alive connections held for reuse per (scheme, host, port). Default: 16; 0 closes
        /// every connection after its response.
        public var maximumIdleConnectionsPerHost: Int

        /// TLS settings for `https` URLs.
        public var tls: TLS

        /// Creates a configuration.
        ///
        /// - Parameters:
        ///   - connectTimeout: The connect limit (TCP and TLS handshake).
        ///   - maximumBufferedBytesPerResponse: The unread bytes kept per response before pausing.
        ///   - maximumIdleConnectionsPerHost: The idle connections kept per host for reuse.
        ///   - tls: The TLS settings.
        public init(
            connectTimeout: Duration = .seconds(10),
            maximumBufferedBytesPerResponse: Int = 256 << 10,
            maximumIdleConnectionsPerHost: Int = 16,
            tls: TLS = TLS()
        ) {
            self.connectTimeout = connectTimeout
            self.maximumBufferedBytesPerResponse = maximumBufferedBytesPerResponse
            self.maximumIdleConnectionsPerHost = maximumIdleConnectionsPerHost
            self.tls = tls
        }
    }
}

extension MesosNIOTransport.Configuration {
    /// TLS settings: server verification and an optional client certificate (the fields of the curl
    /// transport's TLS settings).
    public struct TLS: Sendable, Equatable {
        /// Whether the server's certificate chain and host name (or IP address) are verified. Default: `true`.
        ///
        /// Setting it to `false` accepts any server, including an attacker in the middle.
        public var verifyPeer: Bool

        /// A PEM file of CA certificates to trust instead of the system's, or `nil` for the system's.
        public var caBundlePath: String?

        /// A PEM client certificate (chain) to present (mutual TLS), or `nil` for none.
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
