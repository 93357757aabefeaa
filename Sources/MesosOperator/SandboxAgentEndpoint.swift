import Foundation
import MesosCore

/// Where an agent answers HTTP: host, port and the libprocess id of its agent process.
///
/// An agent's pid (`slave(1)@10.0.0.23:5051`, as `GET_AGENTS` reports it) names both. The process id matters when
/// several agents share one port (Mesos's local mode): the agent's operator endpoint is then only reachable as
/// `/slave(1)/api/v1`, while `/api/v1` on that port is the master's. A stand-alone agent answers both paths.
public struct SandboxAgentEndpoint: Sendable, Hashable, CustomStringConvertible {
    /// `http` or `https`.
    public var scheme: String
    /// The host name or IP address.
    public var host: String
    /// The port (5051 by default for agents).
    public var port: Int
    /// The libprocess id of the agent process (`slave(1)`), or `nil` to use the plain paths.
    public var processID: String?

    /// Creates an endpoint.
    ///
    /// - Parameters:
    ///   - scheme: `http` or `https`.
    ///   - host: The host name or IP address.
    ///   - port: The port.
    ///   - processID: The agent's libprocess id, if known.
    public init(scheme: String = "http", host: String, port: Int = 5051, processID: String? = nil) {
        self.scheme = scheme
        self.host = host
        self.port = port
        self.processID = processID
    }

    /// Parses a libprocess pid, `slave(1)@10.0.0.23:5051`.
    ///
    /// - Parameters:
    ///   - pid: The pid.
    ///   - scheme: The scheme to reach it with.
    /// - Throws: ``MesosError/Code/invalidConfiguration`` when the text is not `id@host:port`.
    public init(pid: String, scheme: String = "http") throws(MesosError) {
        guard let at = pid.firstIndex(of: "@"), at != pid.startIndex,
            let colon = pid.lastIndex(of: ":"), colon > at,
            let port = Int(pid[pid.index(after: colon)...]), (1...65535).contains(port)
        else {
            throw MesosError(code: .invalidConfiguration, message: "'\(pid)' is not an agent pid (id@host:port)")
        }
        let host = String(pid[pid.index(after: at)..<colon])
        guard !host.isEmpty else {
            throw MesosError(code: .invalidConfiguration, message: "'\(pid)' is not an agent pid (id@host:port)")
        }
        self.init(scheme: scheme, host: host, port: port, processID: String(pid[..<at]))
    }

    /// `scheme://host:port` (IPv6 hosts in brackets).
    public var baseURL: URL {
        let host = self.host.contains(":") && !self.host.hasPrefix("[") ? "[\(self.host)]" : self.host
        // The parts were validated or given by the caller; a URL that still does not parse falls back to a
        // placeholder that fails at connection time with the transport's error rather than crashing here.
        return URL(string: "\(self.scheme)://\(host):\(self.port)") ?? URL(fileURLWithPath: "/")
    }

    /// The path of the agent's operator endpoint: `/slave(1)/api/v1`, or `/api/v1` without a process id.
    public var operatorPath: String {
        (self.processID.map { "/" + $0 } ?? "") + "/api/v1"
    }

    /// The agent's operator endpoint: ``baseURL`` with ``operatorPath``.
    public var operatorURL: URL {
        URL(string: self.baseURL.absoluteString + self.operatorPath) ?? self.baseURL
    }

    /// The legacy files endpoint `name` (`read`, `browse`, `download`) with its query.
    ///
    /// - Parameters:
    ///   - name: The endpoint's last path component.
    ///   - query: The query parameters, percent-encoded here.
    /// - Returns: The URL.
    public func filesURL(_ name: String, query: [(String, String)]) -> URL {
        var components = URLComponents()
        components.scheme = self.scheme
        components.host = self.host.contains(":") && !self.host.hasPrefix("[") ? "[\(self.host)]" : self.host
        components.port = self.port
        components.path = "/files/" + name
        // `+` and `&` are legal in paths and ids but mean something in a query: encode them too.
        var allowed = CharacterSet.urlQueryAllowed
        allowed.remove(charactersIn: "+&=;")
        components.percentEncodedQuery = query.map { name, value in
            "\(name)=\(value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value)"
        }.joined(separator: "&")
        return components.url ?? self.baseURL
    }

    /// `host:port`, with the process id when there is one (`slave(1)@host:port`).
    public var description: String {
        (self.processID.map { $0 + "@" } ?? "") + "\(self.host):\(self.port)"
    }
}
