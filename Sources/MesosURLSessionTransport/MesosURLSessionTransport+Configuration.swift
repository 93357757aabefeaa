import MesosCore

extension MesosURLSessionTransport {
    /// How a ``MesosURLSessionTransport`` times out, buffers, shares connections and verifies TLS.
    ///
    /// Every property has a default, so `Configuration()` is a working setup:
    ///
    /// ```swift
    /// var configuration = MesosURLSessionTransport.Configuration()
    /// configuration.connectTimeout = .seconds(5)
    /// let transport = MesosURLSessionTransport(configuration: configuration)
    /// ```
    public struct Configuration: Sendable {
        /// The longest the transport waits for the response head of a request (connect, TLS handshake, sending
        /// the request and the server's answer). Default: 10 s.
        ///
        /// URLSession has no separate limit for the connect phase, so this one covers everything up to the
        /// status line and headers. It also bounds the warm-up request of ``preconnectStreams``.
        public var connectTimeout: Duration

        /// The whole-exchange limit applied to requests whose ``MesosHTTPRequest/timeout`` is `nil`.
        ///
        /// Default `nil`: such requests have no limit, which is what a SUBSCRIBE stream needs. A request that
        /// ends up with no limit at all is treated as a stream (see ``dedicatedSessionForStreams``).
        public var defaultCallTimeout: Duration?

        /// The most unread response bytes kept for one response before the transport stops reading from the
        /// socket (backpressure). One network read (at most 16 KiB, more if URLSession decoded a compressed
        /// body) may go over it. Default: 1 MiB. Values below 1 are treated as 1.
        ///
        /// While a response is paused, every other request of the same URLSession waits too (URLSession runs all
        /// transfers of a session on one queue). Streams therefore get a session of their own by default, and
        /// the pause of an ordinary call lasts at most until its timeout.
        public var maximumBufferedBytesPerResponse: Int

        /// The most connections the shared session opens to one host at a time (URLSession's
        /// `httpMaximumConnectionsPerHost`). Default: 6.
        public var maximumConnectionsPerHost: Int

        /// Whether each stream (a request without any whole-exchange limit) gets a URLSession of its own instead
        /// of the transport's shared, kept-alive session. Default: `true`.
        ///
        /// A stream holds its connection for good and can pause its session when its consumer is slow; on its
        /// own session it never delays ordinary calls.
        public var dedicatedSessionForStreams: Bool

        /// Whether a stream on a dedicated session is preceded by a `GET` of the same URL whose answer is read and
        /// discarded, so that the stream reuses that already open connection. Default: `true`.
        ///
        /// This works around a busy loop in swift-corelibs-foundation: on a connection that URLSession opened for
        /// the request itself, a streaming response that is idle keeps one CPU core about 90 % busy (the
        /// connect phase's write-readiness source is never removed). On a reused connection it costs nothing.
        /// Mesos answers the `GET` with `405 Method Not Allowed` (or `307`/`503`) and no side effect. Turn it
        /// off if the server must not see the extra request. It only matters on Linux.
        public var preconnectStreams: Bool

        /// TLS settings for `https` URLs.
        public var tls: TLS

        /// Creates a configuration.
        ///
        /// - Parameters:
        ///   - connectTimeout: The limit until the response head.
        ///   - defaultCallTimeout: The limit for requests without a timeout of their own.
        ///   - maximumBufferedBytesPerResponse: The unread bytes kept per response before pausing.
        ///   - maximumConnectionsPerHost: The connection limit per host of the shared session.
        ///   - dedicatedSessionForStreams: Whether streams get their own session.
        ///   - preconnectStreams: Whether streams reuse a connection opened by a warm-up `GET`.
        ///   - tls: The TLS settings.
        public init(
            connectTimeout: Duration = .seconds(10),
            defaultCallTimeout: Duration? = nil,
            maximumBufferedBytesPerResponse: Int = 1 << 20,
            maximumConnectionsPerHost: Int = 6,
            dedicatedSessionForStreams: Bool = true,
            preconnectStreams: Bool = true,
            tls: TLS = TLS()
        ) {
            self.connectTimeout = connectTimeout
            self.defaultCallTimeout = defaultCallTimeout
            self.maximumBufferedBytesPerResponse = maximumBufferedBytesPerResponse
            self.maximumConnectionsPerHost = maximumConnectionsPerHost
            self.dedicatedSessionForStreams = dedicatedSessionForStreams
            self.preconnectStreams = preconnectStreams
            self.tls = tls
        }
    }
}

extension MesosURLSessionTransport.Configuration {
    /// TLS settings: server verification.
    ///
    /// ## Platform limits
    /// On Apple platforms both settings are applied through the session delegate's server-trust challenge.
    /// swift-corelibs-foundation (Linux, Windows) has no server-trust challenge and no API for libcurl's CA or
    /// verification options (its `URLSessionCertificateAuthorityInfoFile` variable exists only on Android), so
    /// there the system's CA bundle is always used and verification is always on. A request to an `https` URL
    /// with ``verifyPeer`` `false` or a ``caBundlePath`` then fails with
    /// ``MesosError/Code/invalidConfiguration`` instead of silently ignoring the setting; use
    /// `MesosCurlTransport` on Linux when you need either.
    public struct TLS: Sendable, Equatable {
        /// Whether the server's certificate chain and host name are verified. Default: `true`.
        ///
        /// `false` accepts any server, including an attacker in the middle (Apple platforms only).
        public var verifyPeer: Bool

        /// A PEM file of CA certificates to trust instead of the system's, or `nil` for the system's
        /// (Apple platforms only).
        public var caBundlePath: String?

        /// Creates TLS settings.
        ///
        /// - Parameters:
        ///   - verifyPeer: Whether to verify the server.
        ///   - caBundlePath: CA certificates to trust, or `nil` for the system's.
        public init(verifyPeer: Bool = true, caBundlePath: String? = nil) {
            self.verifyPeer = verifyPeer
            self.caBundlePath = caBundlePath
        }

        /// Whether these settings can be honoured on this platform (see "Platform limits").
        public var isSupportedOnThisPlatform: Bool {
            #if canImport(Security)
            return true
            #else
            return self.verifyPeer && self.caBundlePath == nil
            #endif
        }
    }
}
