#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import MesosCore
import Synchronization

/// The reference for `calls`: the same ACKNOWLEDGEs written as prebuilt bytes to a blocking TCP socket per worker,
/// each answer read back with the least parsing that finds its end (`Content-Length` only). No library code runs
/// per call: this is what any client in this process, on this machine, next to this master, can reach, measured
/// in the same run as the library. Plain `http` only.
enum RawSocketCalls {
    /// Sends the plan's calls from one thread per body, each on its own connection.
    static func run(_ plan: ReferenceCalls) async throws -> CallsResult {
        let (host, port, calls) = (plan.host, plan.port, plan.calls)
        guard let address = Self.ipv4(host == "localhost" ? "127.0.0.1" : host) else {
            throw BenchError("--via socket needs an IPv4 master address, not \(host)")
        }
        let requests = plan.bodies.map { body in
            Array(
                ("POST \(plan.path) HTTP/1.1\r\nHost: \(host):\(port)\r\nContent-Type: \(plan.contentType.mediaType)\r\n"
                    + "Accept: \(plan.contentType.mediaType)\r\nMesos-Stream-Id: \(plan.streamID)\r\nContent-Length: \(body.count)\r\n\r\n").utf8
            ) + body
        }
        let sockets = try requests.map { _ in try Self.connect(address, port: UInt16(port)) }
        defer { sockets.forEach { close($0) } }
        let next = Counter()
        let clock = ContinuousClock()
        let start = clock.now
        let outcomes = try await withThrowingTaskGroup(of: (Int, Int, String?).self) { group in
            for (worker, request) in requests.enumerated() {
                let socket = sockets[worker]
                group.addTask {
                    // Blocking reads belong on a thread of their own, not on a cooperative one.
                    try await Self.onThread { Self.loop(socket: socket, request: request, next: next, calls: calls) }
                }
            }
            var total = (0, 0, String?.none)
            for try await partial in group {
                total.0 += partial.0
                total.1 += partial.1
                total.2 = total.2 ?? partial.2
            }
            return total
        }
        return CallsResult(
            calls: calls, accepted: outcomes.0, errors: outcomes.1, seconds: Measure.seconds(clock.now - start), firstError: outcomes.2)
    }

    /// One worker: write, read the answer to its end, count, until the shared counter reaches `calls`.
    private static func loop(socket: Int32, request: [UInt8], next: Counter, calls: Int) -> (Int, Int, String?) {
        var accepted = 0
        var errors = 0
        var firstError: String?
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while next.value.add(1, ordering: .relaxed).oldValue < calls {
            let written = request.withUnsafeBytes { write(socket, $0.baseAddress, $0.count) }
            guard written == request.count else {
                return (accepted, errors + 1, firstError ?? "write returned \(written)")
            }
            switch Self.readAnswer(socket: socket, into: &buffer) {
            case .success(202):
                accepted += 1
            case .success(let status):
                errors += 1
                firstError = firstError ?? "status \(status)"
            case .failure(let error):
                return (accepted, errors + 1, firstError ?? error.description)
            }
        }
        return (accepted, errors, firstError)
    }

    /// Reads one answer; its status.
    private static func readAnswer(socket: Int32, into buffer: inout [UInt8]) -> Result<Int, BenchError> {
        var have = 0
        var scanned = 0
        while true {
            let count = buffer.withUnsafeMutableBytes { read(socket, $0.baseAddress! + have, $0.count - have) }
            guard count > 0 else { return .failure(BenchError("the master closed the connection (read \(count))")) }
            have += count
            // The end of the head: CR LF CR LF.
            var headEnd: Int?
            while scanned + 4 <= have {
                if buffer[scanned] == 13, buffer[scanned + 1] == 10, buffer[scanned + 2] == 13, buffer[scanned + 3] == 10 {
                    headEnd = scanned + 4
                    break
                }
                scanned += 1
            }
            guard let headEnd else {
                guard have < buffer.count else { return .failure(BenchError("a head larger than 64 KiB")) }
                continue
            }
            guard let length = Self.contentLength(buffer[..<headEnd]) else {
                return .failure(BenchError("an answer without Content-Length"))
            }
            guard have >= headEnd + length else { continue }
            guard have == headEnd + length else { return .failure(BenchError("bytes after the answer")) }
            // "HTTP/1.1 202 ..."
            let status = buffer[9...11].reduce(0) { $0 * 10 + Int($1) - 48 }
            return .success(status)
        }
    }

    /// The `Content-Length` value of a head, its name matched without case.
    private static func contentLength(_ head: ArraySlice<UInt8>) -> Int? {
        let name = Array("\r\ncontent-length:".utf8)
        var index = head.startIndex
        while index + name.count <= head.endIndex {
            if zip(head[index..<(index + name.count)], name).allSatisfy({ ($0 | 0x20) == ($1 | 0x20) }) {
                var value = 0
                var cursor = index + name.count
                while cursor < head.endIndex, head[cursor] == 32 { cursor += 1 }
                var digits = 0
                while cursor < head.endIndex, head[cursor] >= 48, head[cursor] <= 57 {
                    value = value * 10 + Int(head[cursor]) - 48
                    cursor += 1
                    digits += 1
                }
                return digits > 0 ? value : nil
            }
            index += 1
        }
        return nil
    }

    private static func ipv4(_ text: String) -> in_addr? {
        var address = in_addr()
        return inet_pton(AF_INET, text, &address) == 1 ? address : nil
    }

    /// A blocking TCP connection with Nagle's algorithm off, as the transports use.
    private static func connect(_ address: in_addr, port: UInt16) throws -> Int32 {
        #if canImport(Glibc)
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let socket = Darwin.socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard socket >= 0 else { throw BenchError("socket() failed: errno \(errno)") }
        var one: Int32 = 1
        setsockopt(socket, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var target = sockaddr_in()
        target.sin_family = sa_family_t(AF_INET)
        target.sin_port = port.bigEndian
        target.sin_addr = address
        let result = withUnsafePointer(to: &target) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                #if canImport(Glibc)
                Glibc.connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                #else
                Darwin.connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                #endif
            }
        }
        guard result == 0 else {
            close(socket)
            throw BenchError("connect() to port \(port) failed: errno \(errno)")
        }
        return socket
    }

    /// Runs `body` on a new thread and returns its result.
    private static func onThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async throws -> T {
        await withCheckedContinuation { continuation in
            let thread = Thread { continuation.resume(returning: body()) }
            thread.start()
        }
    }
}
