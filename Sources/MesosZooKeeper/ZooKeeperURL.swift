import Foundation
import MesosCore
import MesosDiscovery

/// A Mesos ZooKeeper URL: `zk://[user:password@]host1:port1[,host2:port2…]/path`.
///
/// The servers form the C client's connect string (a server without a port gets 2181). `user:password`, if
/// present, is sent with ZooKeeper's `digest` scheme. The path is the znode under which the masters contend
/// (usually `/mesos`); it must be absolute and not `/` alone, and a trailing `/` is dropped.
public struct ZooKeeperURL: Sendable, Hashable, CustomStringConvertible {
    /// The servers, each `host:port` (IPv6 hosts in brackets).
    public var servers: [String]
    /// The `digest` credentials, if any.
    public var credentials: Credentials?
    /// The znode path, e.g. `/mesos`.
    public var path: String

    /// The port a server without one gets.
    public static let defaultPort = 2181

    /// ZooKeeper `digest` credentials.
    public struct Credentials: Sendable, Hashable {
        /// The user name.
        public var username: String
        /// The password.
        public var password: String

        /// Creates credentials.
        public init(username: String, password: String) {
            self.username = username
            self.password = password
        }

        /// `user:password`, as `zoo_add_auth` takes it.
        var digest: String { "\(self.username):\(self.password)" }
    }

    /// Creates a URL from its parts.
    ///
    /// - Parameters:
    ///   - servers: `host:port` entries.
    ///   - path: The znode path.
    ///   - credentials: Digest credentials.
    public init(servers: [String], path: String, credentials: Credentials? = nil) {
        self.servers = servers
        self.path = path
        self.credentials = credentials
    }

    /// Parses `zk://[user:password@]host:port[,host:port…]/path`.
    ///
    /// - Parameter string: The URL.
    /// - Throws: ``MesosError/Code/invalidConfiguration`` naming the problem.
    public init(_ string: String) throws(MesosError) {
        let text = string.trimmingCharacters(in: .whitespacesAndNewlines)
        func invalid(_ reason: String) -> MesosError {
            MesosError(
                code: .invalidConfiguration,
                message: "Malformed ZooKeeper URL '\(ZooKeeperURL.redacting(text))': \(reason)"
            )
        }
        guard text.lowercased().hasPrefix("zk://") else {
            throw invalid("it must start with zk://")
        }
        let rest = text.dropFirst(5)
        guard let slash = rest.firstIndex(of: "/") else {
            throw invalid("no znode path (zk://host:port/path)")
        }
        var authority = rest[..<slash]
        var path = String(rest[slash...])
        if let at = authority.lastIndex(of: "@") {
            let userInfo = authority[..<at]
            authority = authority[authority.index(after: at)...]
            guard let colon = userInfo.firstIndex(of: ":"), colon != userInfo.startIndex else {
                throw invalid("credentials must be user:password")
            }
            self.credentials = Credentials(
                username: String(userInfo[..<colon]),
                password: String(userInfo[userInfo.index(after: colon)...])
            )
        } else {
            self.credentials = nil
        }
        guard !authority.isEmpty else { throw invalid("no ZooKeeper servers") }
        var servers: [String] = []
        for entry in authority.split(separator: ",", omittingEmptySubsequences: false) {
            guard !entry.isEmpty else { throw invalid("an empty server entry") }
            guard let server = HostPort.parse(entry) else {
                throw invalid("'\(entry)' is not host[:port] with a port in 1...65535")
            }
            servers.append("\(server.host):\(server.port ?? Self.defaultPort)")
        }
        if path.contains("?") || path.contains("#") { throw invalid("query or fragment after the path") }
        while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        guard path != "/" else { throw invalid("the path must not be / alone (usually /mesos)") }
        guard !path.contains("//"), !path.split(separator: "/").contains(where: { $0 == "." || $0 == ".." }),
            path.unicodeScalars.allSatisfy({ $0.value > 0x1F && $0.value != 0x7F })
        else { throw invalid("'\(path)' is not a valid znode path") }
        self.servers = servers
        self.path = path
    }

    /// The C client's connect string, `host:port,host:port`.
    public var connectString: String {
        self.servers.joined(separator: ",")
    }

    /// The URL with the password replaced by `***`.
    public var description: String {
        let user = self.credentials.map { "\($0.username):***@" } ?? ""
        return "zk://\(user)\(self.connectString)\(self.path)"
    }

    private static func redacting(_ text: String) -> String {
        guard let start = text.range(of: "://")?.upperBound else { return text }
        let authorityEnd = text[start...].firstIndex(of: "/") ?? text.endIndex
        guard let at = text[start..<authorityEnd].lastIndex(of: "@") else { return text }
        let userInfo = text[start..<at]
        let shown = userInfo.firstIndex(of: ":").map { userInfo[..<$0] + ":***" } ?? "***"
        return String(text[..<start]) + shown + String(text[at...])
    }
}
