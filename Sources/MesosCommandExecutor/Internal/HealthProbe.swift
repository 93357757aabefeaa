import MesosCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One kind of health check, ready to run; every run is cancellable (cancelling kills the check's process or
/// aborts its socket, and the run then returns at once).
enum HealthProbe: Sendable {
    /// Run a command; exit 0 passes.
    case command(LaunchPlan)
    /// Connect to 127.0.0.1:port; a connection passes.
    case tcp(port: UInt16)
    /// `GET path` from http://127.0.0.1:port; a status in `statuses` passes (200–399 when empty).
    case http(port: UInt16, path: String, statuses: [UInt32])

    /// What a run found.
    enum Outcome: Sendable, Equatable {
        case passed
        case failed(String)

        var passed: Bool { self == .passed }
    }

    /// Runs the check once.
    func run() async -> Outcome {
        switch self {
        case .command(let plan):
            switch ChildProcess.spawn(plan) {
            case .failure(let failure):
                return .failed(failure.message)
            case .success(let child):
                let termination = await withTaskCancellationHandler {
                    await child.termination()
                } onCancel: {
                    child.signalGroup(SIGKILL)
                }
                return termination.succeeded ? .passed : .failed("Command " + termination.description)
            }
        case .tcp(let port):
            switch await SocketProbe.run(port: port, request: nil) {
            case .failure(let failure): return .failed(failure.message)
            case .success: return .passed
            }
        case .http(let port, let path, let statuses):
            let target = path.isEmpty ? "/" : path
            let request = "GET \(target) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nUser-Agent: swift-mesos-health-check\r\n"
                + "Accept: */*\r\nConnection: close\r\n\r\n"
            switch await SocketProbe.run(port: port, request: Array(request.utf8)) {
            case .failure(let failure):
                return .failed(failure.message)
            case .success(let statusLine):
                guard let code = Self.statusCode(statusLine) else {
                    return .failed("Unexpected HTTP response: '\(statusLine ?? "")'")
                }
                let passed = statuses.isEmpty ? (200..<400).contains(code) : statuses.contains(code)
                return passed ? .passed : .failed("Unexpected HTTP response code: \(code)")
            }
        }
    }

    /// The status code of an HTTP/1.x status line.
    static func statusCode(_ line: String?) -> UInt32? {
        guard let line, line.hasPrefix("HTTP/") else { return nil }
        let parts = line.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[1].count == 3, let code = UInt32(parts[1]) else { return nil }
        return code
    }
}

/// A blocking TCP exchange with 127.0.0.1 on a detached thread, abortable through a wake pipe.
enum SocketProbe {
    struct Failure: Error, Sendable {
        var message: String
    }

    /// Connects to 127.0.0.1:`port`; with a `request`, sends it and reads the response's first line.
    ///
    /// - Returns: The status line (`nil` without a request), or why it failed.
    static func run(port: UInt16, request: [UInt8]?) async -> Result<String?, Failure> {
        var wake: [Int32] = [-1, -1]
        guard pipe(&wake) == 0 else {
            return .failure(Failure(message: "Cannot create a pipe: \(errorText(errno))"))
        }
        for fd in wake {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        let wakeWrite = LockedValue<Int32?>(wake[1])
        let wakeRead = wake[0]
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Result<String?, Failure>, Never>) in
                let started = DetachedThread.start {
                    let result = Self.exchange(port: port, request: request, wake: wakeRead)
                    close(wakeRead)
                    wakeWrite.withLock { fd in
                        if let open = fd { close(open) }
                        fd = nil
                    }
                    continuation.resume(returning: result)
                }
                if started != 0 {
                    close(wakeRead)
                    wakeWrite.withLock { fd in
                        if let open = fd { close(open) }
                        fd = nil
                    }
                    continuation.resume(returning: .failure(Failure(message: "Cannot start a thread: \(errorText(started))")))
                }
            }
        } onCancel: {
            wakeWrite.withLock { fd in
                guard let open = fd else { return }
                var byte: UInt8 = 1
                _ = write(open, &byte, 1)
            }
        }
    }

    /// The blocking part.
    private static func exchange(port: UInt16, request: [UInt8]?, wake: Int32) -> Result<String?, Failure> {
        #if canImport(Darwin)
        let socketType = SOCK_STREAM
        #else
        let socketType = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        #endif
        let fd = socket(AF_INET, socketType, 0)
        guard fd >= 0 else {
            return .failure(Failure(message: "Cannot create a socket: \(errorText(errno))"))
        }
        defer { close(fd) }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(port).bigEndian
        address.sin_addr.s_addr = in_addr_t(0x7f00_0001).bigEndian
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        let target = "127.0.0.1:\(port)"
        if connected != 0 {
            guard errno == EINPROGRESS else {
                return .failure(Failure(message: "Connection to \(target) failed: \(errorText(errno))"))
            }
            guard Self.wait(fd, for: Int16(POLLOUT), wake: wake) else {
                return .failure(Failure(message: "Connection to \(target) aborted"))
            }
            var error: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
            guard error == 0 else {
                return .failure(Failure(message: "Connection to \(target) failed: \(errorText(error))"))
            }
        }
        guard let request else { return .success(nil) }
        var sent = 0
        while sent < request.count {
            let count = request[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if count > 0 {
                sent += count
            } else if count < 0, errno == EAGAIN || errno == EINTR {
                guard Self.wait(fd, for: Int16(POLLOUT), wake: wake) else {
                    return .failure(Failure(message: "Request to \(target) aborted"))
                }
            } else {
                return .failure(Failure(message: "Sending to \(target) failed: \(errorText(errno))"))
            }
        }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1024)
        while response.count < 8192 {
            if let end = Self.lineEnd(response) {
                return .success(String(decoding: response[..<end], as: UTF8.self))
            }
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                response += buffer[..<count]
            } else if count == 0 {
                break
            } else if errno == EAGAIN || errno == EINTR {
                guard Self.wait(fd, for: Int16(POLLIN), wake: wake) else {
                    return .failure(Failure(message: "Response from \(target) aborted"))
                }
            } else {
                return .failure(Failure(message: "Reading from \(target) failed: \(errorText(errno))"))
            }
        }
        let text = String(decoding: response[..<(Self.lineEnd(response) ?? response.count)], as: UTF8.self)
        return .success(text)
    }

    private static func lineEnd(_ bytes: [UInt8]) -> Int? {
        bytes.firstIndex(of: UInt8(ascii: "\n")).map { $0 > 0 && bytes[$0 - 1] == UInt8(ascii: "\r") ? $0 - 1 : $0 }
    }

    /// Waits until `fd` is ready for `events`; `false` when the wake pipe fired first.
    private static func wait(_ fd: Int32, for events: Int16, wake: Int32) -> Bool {
        var fds = [pollfd(fd: fd, events: events, revents: 0), pollfd(fd: wake, events: Int16(POLLIN), revents: 0)]
        while true {
            let ready = poll(&fds, nfds_t(fds.count), -1)
            if ready < 0, errno == EINTR { continue }
            if ready < 0 || fds[1].revents != 0 { return false }
            if fds[0].revents != 0 { return true }
        }
    }
}
