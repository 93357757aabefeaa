import Foundation
import MesosCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A tiny HTTP test server on 127.0.0.1 or on a unix domain socket, scripted byte by byte: every accepted
/// connection is handed to `script` on a thread of its own (never a cooperative-pool thread), which reads and
/// writes raw bytes. What the script observes goes to ``events``, an async stream the test awaits.
final class RawServer: @unchecked Sendable {
    typealias Script = @Sendable (RawConnection, AsyncStream<String>.Continuation) -> Void

    let listener: Int32
    /// The TCP port, or 0 for a unix socket.
    let port: Int
    /// The unix socket's path, if any.
    let path: String?
    let events: AsyncStream<String>
    private let sink: AsyncStream<String>.Continuation
    private let script: Script
    private let closed = LockedValue(false)

    /// `http://127.0.0.1:port/` or, for a unix socket, a URL whose host only names the `Host` header.
    var baseURL: URL {
        self.path == nil ? URL(string: "http://127.0.0.1:\(self.port)/")! : URL(string: "http://agent.local:5051/")!
    }

    init(unixPath: String? = nil, script: @escaping Script) throws {
        (self.events, self.sink) = AsyncStream<String>.makeStream()
        self.script = script
        self.path = unixPath
        if let unixPath {
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { raw in
                let bytes = Array(unixPath.utf8)
                raw.copyBytes(from: bytes)
                raw[bytes.count] = 0
            }
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            guard bound == 0, listen(fd, 16) == 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
            self.listener = fd
            self.port = 0
        } else {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var one: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = 0
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard bound == 0, listen(fd, 16) == 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
            }
            self.listener = fd
            self.port = Int(UInt16(bigEndian: address.sin_port))
        }
        let listener = self.listener
        let sink = self.sink
        Thread {
            Self.acceptLoop(listener: listener, sink: sink, script: script)
        }.start()
    }

    private static func acceptLoop(listener: Int32, sink: AsyncStream<String>.Continuation, script: @escaping Script) {
        var connections = 0
        while true {
            let fd = accept(listener, nil, nil)
            if fd < 0 {
                if errno == EINTR { continue }
                break
            }
            connections += 1
            sink.yield("connection \(connections)")
            let connection = RawConnection(fd: fd)
            Thread {
                script(connection, sink)
                connection.close()
            }.start()
        }
    }

    /// Stops accepting and removes the unix socket file.
    func stop() {
        let first = self.closed.withLock { closed -> Bool in
            defer { closed = true }
            return !closed
        }
        guard first else { return }
        shutdown(self.listener, Int32(SHUT_RDWR))
        Glibc.close(self.listener)
        if let path { unlink(path) }
        self.sink.finish()
    }

    deinit { self.stop() }
}

/// One accepted connection, used from its script's thread only.
final class RawConnection: @unchecked Sendable {
    let fd: Int32
    private var buffered: [UInt8] = []
    private var isClosed = false

    init(fd: Int32) { self.fd = fd }

    /// Reads one request: the head as text and the body (by Content-Length); `nil` at EOF.
    func readRequest() -> (head: String, body: [UInt8])? {
        let terminator = Array("\r\n\r\n".utf8)
        while true {
            if let end = self.buffered.firstRange(of: terminator) {
                let head = String(decoding: self.buffered[..<end.lowerBound], as: UTF8.self)
                self.buffered.removeSubrange(..<end.upperBound)
                let lengthLine = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
                let length = lengthLine.flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
                while self.buffered.count < length {
                    guard self.fill() else { return nil }
                }
                let body = Array(self.buffered[..<length])
                self.buffered.removeSubrange(..<length)
                return (head, body)
            }
            guard self.fill() else { return nil }
        }
    }

    private func fill() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 4096)
        let count = chunk.withUnsafeMutableBytes { recv(self.fd, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return false }
        self.buffered += chunk[..<count]
        return true
    }

    /// Writes everything; `false` if the peer is gone.
    @discardableResult
    func write(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { send(self.fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { return false }
            offset += written
        }
        return true
    }

    @discardableResult
    func write(_ text: String) -> Bool { self.write(Array(text.utf8)) }

    /// Waits (at most `seconds`) for the peer to close: reads and discards until EOF or a reset.
    func waitForEOF(seconds: Int32) -> Bool {
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            var entry = pollfd(fd: self.fd, events: Int16(POLLIN), revents: 0)
            guard poll(&entry, 1, seconds * 1000) > 0 else { return false }
            let count = chunk.withUnsafeMutableBytes { recv(self.fd, $0.baseAddress, $0.count, 0) }
            if count == 0 || (count < 0 && errno == ECONNRESET) { return true }
            if count < 0 && errno != EINTR { return false }
        }
    }

    func close() {
        guard !self.isClosed else { return }
        self.isClosed = true
        Glibc.close(self.fd)
    }
}
