import Foundation
import MesosCore
import MesosInMemoryTransport
import Testing

@testable import MesosOperator

/// An in-memory agent serving files: `READ_FILE`/`LIST_FILES` at `/slave(1)/api/v1` (unless `operatorStatus`
/// refuses them) and the legacy `/files/read` and `/files/browse`, with Mesos's rules (size in every READ_FILE,
/// 64 KiB cap, offset -1 size probe, 404 for a missing path, 400 for a directory).
final class FakeFileAgent: Sendable {
    struct State {
        var files: [String: [UInt8]] = [:]
        var directories: Set<String> = []
        /// When set, the operator endpoint answers this status instead of serving the call.
        var operatorStatus: Int?
        var requests: [String] = []
        var finished = false
        /// Run once when `isFinished` is first asked and answers true (to append output "just before the end").
        var onFinishedCheck: (@Sendable (inout State) -> Void)?
    }

    let state = LockedValue(State())
    static let endpoint = SandboxAgentEndpoint(host: "agent.test", port: 5051, processID: "slave(1)")

    var transport: MesosInMemoryTransport {
        MesosInMemoryTransport { request in self.handle(request) }
    }

    func files(api: TaskFiles.API = .automatic, contentType: MesosContentType = .protobuf) -> TaskFiles {
        let configuration = MesosOperatorConfiguration(transport: self.transport, contentType: contentType, maximumAttempts: 1)
        return TaskFiles(agent: Self.endpoint, configuration: configuration, api: api)
    }

    func write(_ path: String, _ text: String) {
        self.state.withLock { $0.files[path] = Array(text.utf8) }
    }

    func append(_ path: String, _ text: String) {
        self.state.withLock { $0.files[path, default: []].append(contentsOf: Array(text.utf8)) }
    }

    var requests: [String] {
        self.state.withLock { $0.requests }
    }

    /// The `isFinished` closure a follower gets.
    var isFinished: @Sendable () async throws(MesosError) -> Bool {
        { [self] () async throws(MesosError) -> Bool in
            self.state.withLock { state in
                guard state.finished else { return false }
                if let hook = state.onFinishedCheck {
                    state.onFinishedCheck = nil
                    hook(&state)
                }
                return true
            }
        }
    }

    private func handle(_ request: MesosHTTPRequest) -> (MesosHTTPResponse, MesosResponseBody) {
        let components = URLComponents(url: request.url, resolvingAgainstBaseURL: false)
        let path = components?.path ?? ""
        let query = Dictionary((components?.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { $1 })
        return self.state.withLock { state in
            switch (request.method, path) {
            case ("POST", "/slave(1)/api/v1"):
                let contentType = request.headers["Content-Type"].flatMap(MesosContentType.init(mediaType:)) ?? .json
                guard let call = try? OperatorWire.decode(AgentCall.self, from: request.body ?? [], as: contentType) else {
                    return Self.text(400, "Failed to parse body")
                }
                state.requests.append("api \(call.type == .readFile ? "READ_FILE" : call.type == .listFiles ? "LIST_FILES" : "?")")
                if let status = state.operatorStatus {
                    return (MesosHTTPResponse(status: status), MesosResponseBody(bytes: Array("refused".utf8)))
                }
                var response = AgentResponse()
                switch call.type {
                case .readFile:
                    let file = call.readFile.path
                    if state.directories.contains(file) { return Self.text(400, "Cannot read a directory.") }
                    guard let bytes = state.files[file] else { return Self.text(404, "No such file or directory") }
                    let offset = Int(call.readFile.offset)
                    let cap = min(call.readFile.hasLength ? Int(call.readFile.length) : 65536, 65536)
                    let slice = offset >= bytes.count ? [] : Array(bytes[offset..<min(bytes.count, offset + cap)])
                    response.type = .readFile
                    response.readFile.size = UInt64(bytes.count)
                    response.readFile.data = Data(slice)
                case .listFiles:
                    let dir = call.listFiles.path
                    guard state.directories.contains(dir) else { return Self.text(404, "No such directory") }
                    response.type = .listFiles
                    response.listFiles.fileInfos = state.files.keys.filter { $0.hasPrefix(dir + "/") }.sorted().map { file in
                        var info = FileInfo()
                        info.path = file
                        info.size = UInt64(state.files[file]?.count ?? 0)
                        info.nlink = 1
                        info.mode = 33188
                        info.mtime.nanoseconds = 1_700_000_000_000_000_000
                        info.uid = "mesos"
                        info.gid = "users"
                        return info
                    }
                default:
                    return Self.text(400, "Failed to validate agent::Call")
                }
                let body = (try? MesosCodec(contentType).encode(response)) ?? []
                return (MesosHTTPResponse(status: 200, headers: ["Content-Type": contentType.mediaType]), MesosResponseBody(bytes: body))
            case ("GET", "/files/read"):
                let file = query["path"] ?? ""
                state.requests.append("read \(file) \(query["offset"] ?? "-") \(query["length"] ?? "-")")
                if state.directories.contains(file) { return Self.text(400, "Cannot read a directory.") }
                guard let bytes = state.files[file] else { return Self.text(404, "") }
                let offset = Int(query["offset"] ?? "-1") ?? -1
                if offset == -1 {
                    return (MesosHTTPResponse(status: 200), MesosResponseBody(bytes: Array("{\"data\":\"\",\"offset\":\(bytes.count)}".utf8)))
                }
                let length = Int(query["length"] ?? "-1") ?? -1
                let cap = length < 0 ? 65536 : min(length, 65536)
                let slice = offset >= bytes.count ? [] : Array(bytes[offset..<min(bytes.count, offset + cap)])
                var body = Array("{\"data\":\"".utf8)
                body += Self.stoutEscaped(slice)
                body += Array("\",\"offset\":\(offset)}".utf8)
                return (MesosHTTPResponse(status: 200), MesosResponseBody(bytes: body))
            case ("GET", "/files/browse"):
                let dir = query["path"] ?? ""
                state.requests.append("browse \(dir)")
                guard state.directories.contains(dir) else { return Self.text(404, "") }
                let entries: [[String: Any]] = state.files.keys.filter { $0.hasPrefix(dir + "/") }.sorted().map { file in
                    ["path": file, "size": state.files[file]?.count ?? 0, "nlink": 1, "mode": "-rw-r--r--",
                     "mtime": 1_700_000_000, "uid": "mesos", "gid": "users"]
                }
                return Self.jsonArray(entries)
            default:
                return Self.text(404, "")
            }
        }
    }

    /// Escapes as stout's JSON writer does: quote, backslash, slash and control characters; bytes of 0x80 and
    /// above are copied raw.
    static func stoutEscaped(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "\""): out += Array("\\\"".utf8)
            case UInt8(ascii: "\\"): out += Array("\\\\".utf8)
            case UInt8(ascii: "/"): out += Array("\\/".utf8)
            case 0x0A: out += Array("\\n".utf8)
            case 0..<0x20: out += Array(String(format: "\\u%04x", byte).utf8)
            default: out.append(byte)
            }
        }
        return out
    }

    static func text(_ status: Int, _ text: String) -> (MesosHTTPResponse, MesosResponseBody) {
        (MesosHTTPResponse(status: status), MesosResponseBody(bytes: Array(text.utf8)))
    }

    static func jsonArray(_ array: [[String: Any]]) -> (MesosHTTPResponse, MesosResponseBody) {
        let data = (try? JSONSerialization.data(withJSONObject: array)) ?? Data()
        return (MesosHTTPResponse(status: 200, headers: ["Content-Type": "application/json"]), MesosResponseBody(bytes: [UInt8](data)))
    }
}

@Suite struct TaskFilesLegacyParserTests {
    @Test func keepsRawBytesAndDecodesEscapesToSingleBytes() throws {
        let content: [UInt8] = [0x68, 0x01, 0x0A, 0x22, 0x5C, 0x2F, 0xFF, 0xC3, 0xA9, 0x7F]
        let body = Array("{\"data\":\"".utf8) + FakeFileAgent.stoutEscaped(content) + Array("\",\"offset\":42}".utf8)
        let (data, offset) = try LegacyFileRead.parse(body, path: "/x")
        #expect(data == content)
        #expect(offset == 42)
    }

    @Test func acceptsOtherMembersSurrogatePairsAndWhitespace() throws {
        let body = Array(#" { "offset" : 7 , "extra": {"a":[1,"}"]}, "flag": true, "data" : "\ud83d\ude00\u00e9" } "#.utf8)
        let (data, offset) = try LegacyFileRead.parse(body, path: "/x")
        #expect(data == Array("😀é".utf8))
        #expect(offset == 7)
    }

    @Test(arguments: ["", "[]", "{\"data\":\"abc\"}", "{\"data\":1,\"offset\":0}", "{\"data\":\"abc", "{\"offset\":1} x"])
    func rejectsMalformedAnswersWithATypedError(body: String) {
        #expect(throws: MesosError(code: .decodingFailed)) {
            try LegacyFileRead.parse(Array(body.utf8), path: "/x")
        }
    }

    @Test func modeStringsFollowLs() {
        #expect(TaskFileInfo.modeString(33188) == "-rw-r--r--")
        #expect(TaskFileInfo.modeString(16877) == "drwxr-xr-x")
        #expect(TaskFileInfo.modeString(0o120777) == "lrwxrwxrwx")
    }

    @Test func agentEndpointFromPid() throws {
        let endpoint = try SandboxAgentEndpoint(pid: "slave(1)@10.0.0.23:5051")
        #expect(endpoint.host == "10.0.0.23")
        #expect(endpoint.port == 5051)
        #expect(endpoint.operatorURL.absoluteString == "http://10.0.0.23:5051/slave(1)/api/v1")
        #expect(endpoint.operatorPath == "/slave(1)/api/v1")
        let url = endpoint.filesURL("read", query: [("path", "/frameworks/a+b/executors/x&y/runs/latest/stdout"), ("offset", "-1")])
        #expect(url.absoluteString == "http://10.0.0.23:5051/files/read?path=/frameworks/a%2Bb/executors/x%26y/runs/latest/stdout&offset=-1")
        for bad in ["10.0.0.23:5051", "slave(1)@host", "slave(1)@:5051", "slave(1)@h:0", "slave(1)@h:x"] {
            #expect(throws: MesosError(code: .invalidConfiguration)) { try SandboxAgentEndpoint(pid: bad) }
        }
    }
}
