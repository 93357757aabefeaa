import Foundation
import MesosCore
@testable import MesosCurlTransport

/// The process's resident set size in bytes, from `/proc/self/status` (`VmRSS`).
func residentSetSize() -> Int? {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else {
        return nil
    }
    for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
        let fields = line.split(separator: " ", omittingEmptySubsequences: true)
        if fields.count >= 2, let kilobytes = Int(fields[1]) {
            return kilobytes * 1024
        }
    }
    return nil
}

/// The process's user plus system CPU time, from `/proc/self/stat`, in clock ticks.
func processCPUTicks() -> Int? {
    guard let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
        let close = stat.lastIndex(of: ")")
    else {
        return nil
    }
    // After "pid (comm) ": state is field 3; utime and stime are fields 14 and 15.
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    guard fields.count > 13, let user = Int(fields[11]), let system = Int(fields[12]) else {
        return nil
    }
    return user + system
}

/// A TCP port on 127.0.0.1 that nothing listens on (bound once, then released).
func unusedPort() -> Int {
    #if canImport(Glibc)
    let streamType = Int32(SOCK_STREAM.rawValue)
    #else
    let streamType = SOCK_STREAM
    #endif
    let descriptor = socket(AF_INET, streamType, 0)
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
    }
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// Whether `/proc` can be read for memory and CPU figures (Linux).
let procFilesystemAvailable = FileManager.default.fileExists(atPath: "/proc/self/status")

/// Reads a response body into a string.
func text(of body: MesosResponseBody, limit: Int = 1 << 20) async throws -> String {
    String(decoding: try await body.collect(upTo: limit), as: UTF8.self)
}

/// The server's counters: accepted connections, requests waiting for the client to close, and connections it saw
/// closed by the client.
struct ServerStats: Decodable {
    let connections: Int
    let waiting: Int
    let eofs: Int
}

func stats(of server: ScriptedHTTPServer) async throws -> ServerStats {
    let transport = MesosCurlTransport()
    let (_, body) = try await transport.send(MesosHTTPRequest(method: "GET", url: server.url("/stats"), timeout: .seconds(60)))
    return try JSONDecoder().decode(ServerStats.self, from: Data(try await body.collect(upTo: 1 << 16)))
}

/// Polls until `condition` holds or `limit` passes; returns whether it held.
func eventually(within limit: Duration = .seconds(60), _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + limit
    while ContinuousClock.now < deadline {
        if try await condition() {
            return true
        }
        try? await Task.sleep(for: .milliseconds(50))
    }
    return try await condition()
}

/// Collects warnings passed to a transport's warning handler.
final class WarningRecorder: Sendable {
    private let stored = LockedValue<[String]>([])

    var warnings: [String] {
        self.stored.withLock { $0 }
    }

    func record(_ message: String) {
        self.stored.withLock { $0.append(message) }
    }
}
