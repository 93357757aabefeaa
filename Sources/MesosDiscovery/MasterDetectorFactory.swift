import MesosCore

/// Builds master detectors for one or more URL schemes; an entry of a ``MasterDetectorRegistry``.
///
/// ```swift
/// let consul = MasterDetectorFactory(schemes: ["consul"]) { url, context throws(MesosError) in
///     MasterDetector(leaders: MyConsulLeaders(url: url), updateMode: .push)
/// }
/// let registry = MasterDetectorRegistry.defaults.adding(consul)
/// ```
public struct MasterDetectorFactory: Sendable {
    /// What a factory gets besides the URL.
    public struct Context: Sendable {
        /// The HTTP transport, for detectors that talk to masters.
        public var transport: any MesosTransport

        /// Creates a context.
        ///
        /// - Parameter transport: The HTTP transport.
        public init(transport: any MesosTransport) {
            self.transport = transport
        }
    }

    /// The builder's signature: the whole URL (scheme included) and the context.
    public typealias Make = @Sendable (_ url: String, _ context: Context) throws(MesosError) -> MasterDetector

    /// The lowercased URL schemes this factory handles, e.g. `["http", "https"]`.
    public let schemes: [String]
    private let make: Make

    /// Creates a factory.
    ///
    /// - Parameters:
    ///   - schemes: The URL schemes it handles (compared case-insensitively).
    ///   - make: Builds a detector; throws ``MesosError/Code/invalidConfiguration`` for a malformed URL.
    public init(schemes: [String], make: @escaping Make) {
        self.schemes = schemes.map { $0.lowercased() }
        self.make = make
    }

    /// Builds a detector.
    ///
    /// - Parameters:
    ///   - url: The URL, whose scheme is one of ``schemes``.
    ///   - context: The transport and other shared inputs.
    /// - Returns: The detector.
    /// - Throws: ``MesosError/Code/invalidConfiguration`` for a malformed URL.
    public func makeDetector(url: String, context: Context) throws(MesosError) -> MasterDetector {
        try self.make(url, context)
    }

    /// `http` and `https` masters. A list of several is a ``MasterDetectors/Static`` detector over the context's
    /// transport (each `next()` probes `/master/redirect` to find the leader). A single master is used exactly as
    /// given (``MasterDetector/fixed(_:)``): no probe, because through a reverse proxy the master would answer
    /// with its own, unreachable address; a follower given alone still leads the client to the leader through
    /// the 307 that the API call itself gets.
    public static let staticList = MasterDetectorFactory(schemes: ["http", "https"]) {
        (url: String, context: Context) throws(MesosError) -> MasterDetector in
        let configuration = try MasterDetectors.Static.Configuration(url: url)
        if configuration.masters.count == 1 {
            return .fixed(configuration.masters[0])
        }
        return .staticList(configuration, transport: context.transport)
    }
}
