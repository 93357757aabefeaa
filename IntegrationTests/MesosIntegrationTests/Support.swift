import Foundation
import MesosCore
import MesosCurlTransport
import MesosNIOTransport
import MesosResources
import MesosTestKit
import Testing

/// The real master these tests talk to, from `$MESOS_MASTER_URL` (set by `scripts/test.sh`).
enum RealMaster {
    /// Whether the tests that need a real master run: with `MESOS_MASTER_URL` set, or always when
    /// `MESOS_REQUIRE_SERVERS=1` (they then fail in ``baseURL()`` instead of being skipped).
    static var shouldRun: Bool { TestServers.shouldRun(needing: "MESOS_MASTER_URL") }

    /// The base URL, e.g. `http://127.0.0.1:5050`, without a trailing slash.
    ///
    /// - Throws: `TestServers.Missing` when `MESOS_MASTER_URL` is not set.
    static func baseURL() throws -> String {
        let url = try TestServers.value("MESOS_MASTER_URL")
        return url.hasSuffix("/") ? String(url.dropLast()) : url
    }

    /// A framework description the real master accepts: the current user, role `*`, MULTI_ROLE.
    static func frameworkInfo(name: String) -> FrameworkInfo {
        var info = FrameworkInfo()
        info.user = ProcessInfo.processInfo.environment["USER"] ?? "root"
        info.name = name
        info.roles = ["*"]
        var capability = FrameworkInfo.Capability()
        capability.type = .multiRole
        info.capabilities = [capability]
        info.failoverTimeout = 60
        return info
    }
}

/// A raw HTTP exchange run through the `curl` command-line tool, so that these wire-level tests depend on none of
/// the library's transports: they check the codecs alone against a real master.
struct CurlExchange {
    /// Status code and headers of the response.
    var status: Int
    var headers: [String: String]
    /// The response body (already de-chunked by curl).
    var body: [UInt8]

    /// Sends a POST and waits for the whole response.
    static func post(
        _ url: String,
        body: [UInt8],
        contentType: MesosContentType,
        headers: [String: String] = [:]
    ) throws -> CurlExchange {
        let bodyFile = FileManager.default.temporaryDirectory.appendingPathComponent("swift-mesos-\(UUID().uuidString)")
        try Data(body).write(to: bodyFile)
        defer { try? FileManager.default.removeItem(at: bodyFile) }
        var arguments = ["-sS", "-i", "--max-time", "20", "-X", "POST", "-H", "Content-Type: \(contentType.mediaType)",
                         "-H", "Accept: \(contentType.mediaType)", "--data-binary", "@\(bodyFile.path)"]
        for (name, value) in headers {
            arguments += ["-H", "\(name): \(value)"]
        }
        arguments.append(url)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["curl"] + arguments
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard let (status, headers, rest) = parseHead([UInt8](data)) else {
            throw MesosError(code: .transportFailure, message: "curl gave no HTTP response (exit \(process.terminationStatus))")
        }
        return CurlExchange(status: status, headers: headers, body: rest)
    }

    /// Splits `HTTP/1.1 200 OK\r\nName: value\r\n\r\nbody` into its parts (skipping `100 Continue` heads).
    static func parseHead(_ bytes: [UInt8]) -> (Int, [String: String], [UInt8])? {
        var rest = bytes[...]
        while true {
            guard let end = findHeadEnd(rest) else { return nil }
            let head = String(decoding: rest[rest.startIndex..<end], as: UTF8.self)
            rest = rest[(end + 4)...]
            var lines = head.components(separatedBy: "\r\n")
            let statusLine = lines.removeFirst().split(separator: " ")
            guard statusLine.count >= 2, let status = Int(statusLine[1]) else { return nil }
            if status == 100 { continue }
            var headers: [String: String] = [:]
            for line in lines {
                guard let colon = line.firstIndex(of: ":") else { continue }
                headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
            return (status, headers, Array(rest))
        }
    }

    static func findHeadEnd(_ bytes: ArraySlice<UInt8>) -> Int? {
        guard bytes.count >= 4 else { return nil }
        var index = bytes.startIndex
        while index + 3 < bytes.endIndex {
            if bytes[index] == 13, bytes[index + 1] == 10, bytes[index + 2] == 13, bytes[index + 3] == 10 {
                return index
            }
            index += 1
        }
        return nil
    }
}

/// A SUBSCRIBE held open through a `curl -N` process whose standard output streams the chunked body.
final class CurlSubscription: @unchecked Sendable {
    let process = Process()
    let status: Int
    let headers: [String: String]
    /// The de-chunked body, as it arrives.
    let body: AsyncStream<ArraySlice<UInt8>>

    /// Splits curl's output into the response head (delivered once) and the body (streamed).
    private final class Splitter: @unchecked Sendable {
        let lock = NSLock()
        var buffer: [UInt8] = []
        var head: CheckedContinuation<(Int, [String: String])?, Never>?
        var headDone = false
        let bodyContinuation: AsyncStream<ArraySlice<UInt8>>.Continuation

        init(bodyContinuation: AsyncStream<ArraySlice<UInt8>>.Continuation) {
            self.bodyContinuation = bodyContinuation
        }

        func receive(_ bytes: [UInt8]) {
            lock.lock()
            defer { lock.unlock() }
            if headDone {
                bodyContinuation.yield(bytes[...])
                return
            }
            buffer += bytes
            if let (status, headers, rest) = CurlExchange.parseHead(buffer) {
                headDone = true
                if !rest.isEmpty { bodyContinuation.yield(rest[...]) }
                head?.resume(returning: (status, headers))
                head = nil
            }
        }

        func end() {
            lock.lock()
            defer { lock.unlock() }
            bodyContinuation.finish()
            if !headDone {
                headDone = true
                head?.resume(returning: nil)
                head = nil
            }
        }

        func waitForHead(_ continuation: CheckedContinuation<(Int, [String: String])?, Never>) {
            lock.lock()
            defer { lock.unlock() }
            if headDone {
                continuation.resume(returning: CurlExchange.parseHead(buffer).map { ($0.0, $0.1) })
            } else {
                head = continuation
            }
        }
    }

    init(url: String, body: [UInt8], contentType: MesosContentType) async throws {
        let bodyFile = FileManager.default.temporaryDirectory.appendingPathComponent("swift-mesos-\(UUID().uuidString)")
        try Data(body).write(to: bodyFile)
        defer { try? FileManager.default.removeItem(at: bodyFile) }
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["curl", "-sS", "-N", "-i", "-X", "POST", "-H", "Content-Type: \(contentType.mediaType)",
                             "-H", "Accept: \(contentType.mediaType)", "--data-binary", "@\(bodyFile.path)", url]
        let output = Pipe()
        process.standardOutput = output
        let (bodyStream, bodyContinuation) = AsyncStream<ArraySlice<UInt8>>.makeStream()
        self.body = bodyStream
        let splitter = Splitter(bodyContinuation: bodyContinuation)
        output.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            if data.isEmpty {
                handle.readabilityHandler = nil
                splitter.end()
            } else {
                splitter.receive([UInt8](data))
            }
        }
        try process.run()
        let head = await withCheckedContinuation { splitter.waitForHead($0) }
        guard let (status, headers) = head else {
            throw MesosError(code: .transportFailure, message: "curl gave no HTTP response")
        }
        self.status = status
        self.headers = headers
    }

    /// Ends the subscription by killing curl (which closes the connection).
    func close() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }

    deinit {
        close()
    }
}

/// The library's networked transports the real-master flows run on: libcurl (the default) and SwiftNIO.
enum TestTransport: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case curl
    case nio

    /// A new transport of this kind (NIO on SwiftNIO's singleton event loop group).
    func make() -> any MesosTransport {
        switch self {
        case .curl: MesosCurlTransport(configuration: .init())
        case .nio: MesosNIOTransport(configuration: .init())
        }
    }

    var testDescription: String { self.rawValue }
}

extension Offer {
    /// Whether the offer's unreserved resources hold a task of `cpus` and `mem`. The suites share one master and run
    /// side by side, so an offer can be what another suite's tasks left of an agent (0.05 cpus, 16 MB).
    func holds(cpus: Double, mem: Double) -> Bool {
        let unreserved = Resources(self.resources).unreserved()
        return (unreserved.scalar("cpus") ?? 0) >= cpus && (unreserved.scalar("mem") ?? 0) >= mem
    }
}
