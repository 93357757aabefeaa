import Foundation
import MesosCore
import MesosURLSessionTransport
import Testing

/// Runs `body` and returns the `MesosError` it throws, or `nil` if it succeeds (any other error becomes an
/// `invalidState` error so the test fails on the code check).
func mesosError(_ body: () async throws -> Void) async -> MesosError? {
    do {
        try await body()
        return nil
    } catch let error as MesosError {
        return error
    } catch {
        return MesosError(code: .invalidState, message: "not a MesosError: \(error)")
    }
}

/// A POST request with a small JSON body.
func post(_ url: URL, timeout: Duration? = .seconds(30), idleTimeout: Duration? = nil, headers: MesosHTTPHeaders = [:]) -> MesosHTTPRequest {
    var allHeaders: MesosHTTPHeaders = ["Content-Type": "application/json"]
    for field in headers {
        allHeaders[field.name] = field.value
    }
    return MesosHTTPRequest(method: "POST", url: url, headers: allHeaders, body: Array("{}".utf8), timeout: timeout, idleTimeout: idleTimeout)
}

/// The resident set size of this process, in bytes, from /proc/self/status.
func residentBytes() -> Int? {
    guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
    for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
        let digits = line.filter(\.isNumber)
        return Int(digits).map { $0 * 1024 }
    }
    return nil
}

/// Runs a program and returns its exit status.
@discardableResult
func runTool(_ executable: String, _ arguments: [String]) throws -> Int32 {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [executable] + arguments
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    return process.terminationStatus
}

/// A port on 127.0.0.1 that nothing listens on.
func unusedPort() throws -> Int {
    #if os(Linux)
    let streamType = Int32(SOCK_STREAM.rawValue)
    #else
    let streamType = SOCK_STREAM
    #endif
    let fd = socket(AF_INET, streamType, 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
    }
    guard bound == 0 else { throw ScriptedServer.ServerError(message: "bind failed") }
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}

extension MesosResponseBody {
    /// Reads the whole body as text.
    func text(limit: Int = 1 << 20) async throws -> String {
        String(decoding: try await self.collect(upTo: limit), as: UTF8.self)
    }
}

extension MesosURLSessionTransport.Configuration {
    /// The configuration these tests start from: the defaults, except that the wait for a response head is a guard
    /// against a hang (60 s) instead of the library's 10 s. A test machine busy with every other test at once can take
    /// longer than 10 s to get a local server's answer through URLSession's thread. Tests of that limit set their own.
    static var forTests: Self {
        var configuration = Self()
        configuration.connectTimeout = .seconds(60)
        return configuration
    }
}
