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

    /// A pull detector over a fixed list of masters whose backoff between rounds sleeps on `clock`; see
    /// ``MasterDetectors/Static``.
    ///
    /// - Parameters:
    ///   - configuration: The masters and the retry policy.
    ///   - transport: The HTTP transport the probes use.
    ///   - clock: The clock the pause between fruitless rounds is measured on.
    /// - Returns: The detector.
    public static func staticList<C: Clock>(
        _ configuration: MasterDetectors.Static.Configuration,
        transport: any MesosTransport,
        clock: C
    ) -> MasterDetector where C.Duration == Duration {
        MasterDetector(
            leaders: MasterDetectors.Static(configuration: configuration, transport: transport, clock: clock),
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
