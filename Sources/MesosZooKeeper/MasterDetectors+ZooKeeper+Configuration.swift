import MesosCore
import MesosDiscovery

extension MasterDetectors.ZooKeeper {
    /// Where the election lives and how the session behaves.
    public struct Configuration: Sendable {
        /// The ZooKeeper servers, credentials and election path.
        public var url: ZooKeeperURL
        /// The session timeout asked of ZooKeeper (default 10 s, as Mesos; the server clamps it to between 2
        /// and 20 ticks).
        public var sessionTimeout: Duration
        /// How long to wait for a first connection to any server of a new session before `next()` throws
        /// ``MesosError/Code/transportFailure`` (default 10 s). An established session that loses its
        /// connection waits for the C client to reconnect without limit, keeping the last leader.
        public var connectTimeout: Duration
        /// The scheme of the reported locations (ZooKeeper does not record it); default `http`.
        public var scheme: String
        /// Called on the detector's session changes (on the consuming task); for logs and metrics.
        public var sessionObserver: (@Sendable (SessionEvent) -> Void)?

        /// Creates a configuration.
        ///
        /// - Parameters:
        ///   - url: The servers, credentials and path.
        ///   - sessionTimeout: The session timeout.
        ///   - connectTimeout: The limit on connecting a new session.
        ///   - scheme: `http` or `https`.
        ///   - sessionObserver: Receives session changes.
        public init(
            url: ZooKeeperURL,
            sessionTimeout: Duration = .seconds(10),
            connectTimeout: Duration = .seconds(10),
            scheme: String = "http",
            sessionObserver: (@Sendable (SessionEvent) -> Void)? = nil
        ) {
            self.url = url
            self.sessionTimeout = sessionTimeout
            self.connectTimeout = connectTimeout
            self.scheme = scheme
            self.sessionObserver = sessionObserver
        }

        /// Parses `zk://[user:password@]host:port[,host:port…]/path` with default settings.
        ///
        /// - Parameter url: The URL.
        /// - Throws: ``MesosError/Code/invalidConfiguration`` naming the problem.
        public init(url: String) throws(MesosError) {
            self.init(url: try ZooKeeperURL(url))
        }
    }
}
