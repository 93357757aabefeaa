import MesosCore

/// Reads the `Location` of a master's 307: `//host:port[/path]` (scheme-relative, what Mesos sends) or an
/// absolute `http(s)://host:port[/path]`.
enum RedirectLocation {
    /// Resolves a `Location` value.
    ///
    /// The scheme is the probed master's unless the value carries one. Without a port, the scheme's default
    /// applies (80 or 443), as for any URL; Mesos itself always sends one.
    ///
    /// - Parameters:
    ///   - value: The header value.
    ///   - master: The master that answered.
    /// - Returns: The leader, or `nil` for a value that is not such a URL.
    static func parse(_ value: String, relativeTo master: MasterLocation) -> MasterLocation? {
        var rest = Substring(value.trimmingCharacters(in: .whitespaces))
        var scheme = master.scheme
        if let separator = rest.range(of: "://") {
            let given = rest[..<separator.lowerBound].lowercased()
            guard given == "http" || given == "https" else { return nil }
            scheme = given
            rest = rest[separator.upperBound...]
        } else if rest.hasPrefix("//") {
            rest = rest.dropFirst(2)
        } else {
            return nil
        }
        if let end = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) {
            rest = rest[..<end]
        }
        if let at = rest.lastIndex(of: "@") {
            rest = rest[rest.index(after: at)...]
        }
        guard let authority = HostPort.parse(rest) else { return nil }
        return MasterLocation(
            scheme: scheme,
            host: authority.host,
            port: authority.port ?? (scheme == "https" ? 443 : 80)
        )
    }
}
