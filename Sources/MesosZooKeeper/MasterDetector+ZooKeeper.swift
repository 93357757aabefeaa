import MesosCore
import MesosDiscovery

extension MasterDetector {
    /// A push detector reading Mesos's leader election from ZooKeeper; see ``MasterDetectors/ZooKeeper``.
    ///
    /// ```swift
    /// var configuration = try MasterDetectors.ZooKeeper.Configuration(url: "zk://zk1:2181,zk2:2181/mesos")
    /// configuration.sessionTimeout = .seconds(5)
    /// let detector = MasterDetector.zooKeeper(configuration)
    /// ```
    ///
    /// - Parameter configuration: The servers, path and session settings.
    /// - Returns: The detector.
    public static func zooKeeper(_ configuration: MasterDetectors.ZooKeeper.Configuration) -> MasterDetector {
        MasterDetector(leaders: MasterDetectors.ZooKeeper(configuration: configuration), updateMode: .push)
    }

    /// A push detector reading Mesos's leader election from ZooKeeper, with the connect timeout measured on
    /// `clock`; see ``MasterDetectors/ZooKeeper``.
    ///
    /// - Parameters:
    ///   - configuration: The servers, path and session settings.
    ///   - clock: The clock the connect timeout is measured on.
    /// - Returns: The detector.
    public static func zooKeeper(
        _ configuration: MasterDetectors.ZooKeeper.Configuration,
        clock: any Clock<Duration>
    ) -> MasterDetector {
        MasterDetector(leaders: MasterDetectors.ZooKeeper(configuration: configuration, clock: clock), updateMode: .push)
    }

    /// A push detector for `zk://[user:password@]host:port[,host:port…]/path` with default settings.
    ///
    /// - Parameter url: The ZooKeeper URL.
    /// - Returns: The detector.
    /// - Throws: ``MesosError/Code/invalidConfiguration`` for a malformed URL.
    public static func zooKeeper(url: String) throws(MesosError) -> MasterDetector {
        .zooKeeper(try MasterDetectors.ZooKeeper.Configuration(url: url))
    }
}

extension MasterDetectorFactory {
    /// `zk://` URLs: a ``MasterDetectors/ZooKeeper`` detector with default settings.
    public static let zooKeeper = MasterDetectorFactory.zooKeeper { _ in }

    /// `zk://` URLs, with settings adjusted for every detector the factory makes.
    ///
    /// ```swift
    /// let registry = MasterDetectorRegistry.defaults.adding(.zooKeeper { $0.sessionTimeout = .seconds(5) })
    /// ```
    ///
    /// - Parameter configure: Adjusts each configuration parsed from a URL.
    /// - Returns: The factory.
    public static func zooKeeper(
        configure: @escaping @Sendable (inout MasterDetectors.ZooKeeper.Configuration) -> Void
    ) -> MasterDetectorFactory {
        MasterDetectorFactory(schemes: ["zk"]) { (url: String, _: Context) throws(MesosError) -> MasterDetector in
            var configuration = try MasterDetectors.ZooKeeper.Configuration(url: url)
            configure(&configuration)
            return .zooKeeper(configuration)
        }
    }
}

extension MasterDetectorRegistry {
    /// ``defaults`` plus `zk://` (``MasterDetectorFactory/zooKeeper``).
    public static var withZooKeeper: MasterDetectorRegistry {
        .defaults.adding(.zooKeeper)
    }
}
