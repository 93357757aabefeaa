#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

extension MasterLocation {
    /// Reads the `Location` of a master's redirect: `//host:port[/path]` (scheme-relative, what Mesos sends) or
    /// an absolute `http(s)://host:port[/path]`.
    ///
    /// The scheme is that of the master that answered unless the value carries one. Without a port, the scheme's
    /// default applies (80 or 443), as for any URL; Mesos itself always sends one. A redirect to the same host and
    /// port keeps the answering master's ``pathPrefix`` (a proxy's `/mesos`); one to another host has none: a
    /// Mesos master names its peers by their own addresses, which are not behind the proxy's prefix. Both the
    /// scheduler service (following 307s) and the static-list detector (probing `/master/redirect`) use this.
    ///
    /// - Parameters:
    ///   - value: The `Location` header value.
    ///   - master: The master that answered.
    /// - Returns: `nil` for a value that is not such a URL.
    public init?(redirectLocation value: String, relativeTo master: MasterLocation) {
        var rest = Substring(value.trimmingCharacters(in: " \t"))
        var scheme = master.scheme
        if let separator = rest.firstRange(of: "://") {
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
        let port = authority.port ?? (scheme == "https" ? 443 : 80)
        let sameServer = authority.host.lowercased() == master.host.lowercased() && port == master.port
        self.init(scheme: scheme, host: authority.host, port: port, pathPrefix: sameServer ? master.pathPrefix : "")
    }
}
