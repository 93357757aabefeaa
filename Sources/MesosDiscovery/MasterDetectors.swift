import MesosCore

/// The namespace of the master detectors that ship with swift-mesos, and the entry point that picks one from a
/// URL.
///
/// - ``Static``: a fixed list of masters, probed with `GET /master/redirect` (pull).
/// - `MasterDetectors.ZooKeeper` in the `MesosZooKeeper` module: Mesos's own leader election in ZooKeeper (push).
///
/// Which detector a URL means is decided by a ``MasterDetectorRegistry`` value, passed in explicitly; nothing
/// registers itself globally:
///
/// ```swift
/// // http(s) lists and file:// only:
/// let detector = try MasterDetectors.make(url: "http://m1:5050,m2:5050", transport: transport)
/// // with ZooKeeper (import MesosZooKeeper):
/// let detector = try MasterDetectors.make(
///     url: "zk://zk1:2181,zk2:2181/mesos", transport: transport, registry: .defaults.adding(.zooKeeper))
/// ```
public enum MasterDetectors {
    /// Builds the detector a master URL asks for.
    ///
    /// Accepted forms (as Mesos's `--master` flag):
    /// - `http://host:port[,host:port…]` or `https://…`: a ``Static`` list (a port defaults to 5050);
    /// - `host:port[,host:port…]` or a PID `master@ip:port`: a ``Static`` list over `http`;
    /// - `file:///path`: the file holds one of the other forms;
    /// - any scheme the registry has a factory for, such as `zk://` with `MesosZooKeeper`.
    ///
    /// - Parameters:
    ///   - url: The master URL.
    ///   - transport: The HTTP transport detectors that probe masters use.
    ///   - registry: The detectors to choose from; ``MasterDetectorRegistry/defaults`` knows `http`/`https`.
    /// - Returns: The detector.
    /// - Throws: ``MesosError/Code/invalidConfiguration`` naming what is wrong with the URL.
    public static func make(
        url: String,
        transport: any MesosTransport,
        registry: MasterDetectorRegistry = .defaults
    ) throws(MesosError) -> MasterDetector {
        try registry.makeDetector(url: url, transport: transport)
    }
}
