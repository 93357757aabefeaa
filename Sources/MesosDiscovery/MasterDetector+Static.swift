import MesosCore

extension MasterDetector {
    /// A pull detector over a fixed list of masters; see ``MasterDetectors/Static``.
    ///
    /// ```swift
    /// let detector = MasterDetector.staticList(try .init(url: "http://m1:5050,m2:5050"), transport: transport)
    /// ```
    ///
    /// - Parameters:
    ///   - configuration: The masters and the retry policy.
    ///   - transport: The HTTP transport the probes use.
    /// - Returns: The detector.
    public static func staticList(
        _ configuration: MasterDetectors.Static.Configuration,
        transport: any MesosTransport
    ) -> MasterDetector {
        MasterDetector(
            leaders: MasterDetectors.Static(configuration: configuration, transport: transport),
            updateMode: .pull
        )
    }

    /// A pull detector over `http(s)://host:port[,host:port…]`; see ``MasterDetectors/Static``.
    ///
    /// - Parameters:
    ///   - url: The master list.
    ///   - transport: The HTTP transport the probes use.
    /// - Returns: The detector.
    /// - Throws: ``MesosError/Code/invalidConfiguration`` for a malformed list.
    public static func staticList(url: String, transport: any MesosTransport) throws(MesosError) -> MasterDetector {
        .staticList(try MasterDetectors.Static.Configuration(url: url), transport: transport)
    }
}
