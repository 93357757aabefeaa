import MesosCore

extension MasterDetectors.Static {
    /// What the static-list detector probes, and how patiently.
    public struct Configuration: Sendable, Hashable {
        /// The masters, in the order they are tried first.
        public var masters: [MasterLocation]
        /// The longest one `GET /master/redirect` may take (default 5 s).
        public var probeTimeout: Duration
        /// The pause between two rounds in which no master answered (default 200 ms doubling to 5 s, jittered).
        public var backoff: BackoffPolicy
        /// How many rounds over every master one `next()` makes before it throws (default 5).
        public var maximumRounds: Int

        /// The port a master entry without one gets: Mesos's default, 5050.
        public static let defaultPort = 5050

        /// Creates a configuration.
        ///
        /// - Parameters:
        ///   - masters: The masters (at least one).
        ///   - probeTimeout: The limit on each probe.
        ///   - backoff: The pause between fruitless rounds.
        ///   - maximumRounds: Rounds before `next()` gives up (at least 1).
        public init(
            masters: [MasterLocation],
            probeTimeout: Duration = .seconds(5),
            backoff: BackoffPolicy = BackoffPolicy(initial: .milliseconds(200), maximum: .seconds(5)),
            maximumRounds: Int = 5
        ) {
            self.masters = masters
            self.probeTimeout = probeTimeout
            self.backoff = backoff
            self.maximumRounds = maximumRounds
        }

        /// Parses a master list: `http://m1:5050,m2:5050`, `https://m1:5050,http://m2:5050`, `http://[::1]:5050`.
        ///
        /// An entry without a scheme takes the scheme of the entry before it; an entry without a port gets
        /// ``defaultPort``; a path is the master's ``MasterLocation/pathPrefix`` (`https://proxy:8443/mesos`, a
        /// trailing `/` ignored); user info, queries and fragments are refused.
        ///
        /// - Parameter url: The list.
        /// - Throws: ``MesosError/Code/invalidConfiguration`` naming the bad entry.
        public init(url: String) throws(MesosError) {
            self.init(masters: try Self.parse(url))
        }

        private static func parse(_ url: String) throws(MesosError) -> [MasterLocation] {
            func invalid(_ reason: String) -> MesosError {
                MesosError(code: .invalidConfiguration, message: "Malformed master URL '\(url)': \(reason)")
            }
            var scheme: String?
            var masters: [MasterLocation] = []
            for rawEntry in url.split(separator: ",", omittingEmptySubsequences: false) {
                var entry = rawEntry.drop(while: { $0 == " " })
                while entry.last == " " { entry = entry.dropLast() }
                if let separator = entry.range(of: "://") {
                    let entryScheme = entry[..<separator.lowerBound].lowercased()
                    guard entryScheme == "http" || entryScheme == "https" else {
                        throw invalid("the scheme must be http or https, not '\(entryScheme)'")
                    }
                    scheme = entryScheme
                    entry = entry[separator.upperBound...]
                }
                guard let entryScheme = scheme else {
                    throw invalid("the first master needs a scheme (http:// or https://)")
                }
                guard !entry.isEmpty else { throw invalid("an empty master entry") }
                if entry.contains("@") { throw invalid("user info is not supported in '\(entry)'") }
                if entry.contains("?") || entry.contains("#") { throw invalid("query or fragment in '\(entry)'") }
                var prefix = ""
                if let slash = entry.firstIndex(of: "/") {
                    prefix = String(entry[slash...])
                    entry = entry[..<slash]
                    guard !prefix.contains("%"), !prefix.split(separator: "/").contains(where: { $0 == ".." || $0 == "." }) else {
                        throw invalid("the path '\(prefix)' must be plain segments")
                    }
                }
                guard let authority = HostPort.parse(entry) else {
                    throw invalid("'\(entry)' is not host[:port] with a port in 1...65535")
                }
                let location = MasterLocation(
                    scheme: entryScheme,
                    host: authority.host,
                    port: authority.port ?? Self.defaultPort,
                    pathPrefix: prefix
                )
                if !masters.contains(location) {
                    masters.append(location)
                }
            }
            return masters
        }
    }
}
