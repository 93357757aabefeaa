import Foundation
import MesosCore

/// A transport that answers `GET /master/redirect` from a script per master (`host:port`), and records what
/// it was asked. The last answer of a master's script repeats.
final class ScriptedTransport: MesosTransport {
    enum Answer: Sendable {
        /// 307 with this `Location` (nil: no Location header).
        case redirect(String?)
        /// Any status, with a text body.
        case status(Int, String)
        /// The connection is refused.
        case refused
    }

    private struct State {
        var scripts: [String: [Answer]]
        var requests: [MesosHTTPRequest] = []
    }

    private let state: LockedValue<State>

    init(_ scripts: [String: [Answer]]) {
        self.state = LockedValue(State(scripts: scripts))
    }

    /// The requests seen so far.
    var requests: [MesosHTTPRequest] {
        self.state.withLock { $0.requests }
    }

    /// `host:port` of each request, in order.
    var probed: [String] {
        self.requests.map { Self.key($0.url) }
    }

    /// `host:port`, an IPv6 host in brackets.
    static func key(_ url: URL) -> String {
        var host = url.host ?? "?"
        if host.contains(":") && !host.hasPrefix("[") { host = "[\(host)]" }
        return "\(host):\(url.port ?? -1)"
    }

    /// Replaces one master's script.
    func script(_ master: String, _ answers: [Answer]) {
        self.state.withLock { $0.scripts[master] = answers }
    }

    func send(_ request: MesosHTTPRequest) async throws(MesosError) -> (MesosHTTPResponse, MesosResponseBody) {
        try await MesosError.catching(context: "\(request.method) \(request.url)") { try await self.exchange(request) }
    }

    private func exchange(_ request: MesosHTTPRequest) async throws -> (MesosHTTPResponse, MesosResponseBody) {
        let key = Self.key(request.url)
        let answer: Answer = self.state.withLock { state in
            state.requests.append(request)
            guard var script = state.scripts[key], !script.isEmpty else { return .refused }
            let answer = script.count > 1 ? script.removeFirst() : script[0]
            state.scripts[key] = script
            return answer
        }
        switch answer {
        case .redirect(let location):
            var headers: MesosHTTPHeaders = [:]
            if let location { headers["Location"] = location }
            return (MesosHTTPResponse(status: 307, headers: headers), .empty)
        case .status(let status, let text):
            return (MesosHTTPResponse(status: status), MesosResponseBody(bytes: Array(text.utf8)))
        case .refused:
            throw MesosError(
                code: .transportFailure,
                message: "connect to \(key): Connection refused",
                cause: POSIXError(.ECONNREFUSED)
            )
        }
    }
}
