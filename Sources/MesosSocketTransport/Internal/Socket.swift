#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A failed socket operation: the system call and its `errno` (or resolver code). Travels as
/// ``MesosCore/MesosError/cause``.
struct SocketError: Error, Sendable, CustomStringConvertible {
    /// What was being done, e.g. `connect to 127.0.0.1:5051`.
    let operation: String
    /// The `errno` value, or 0 when ``detail`` says it all.
    let code: Int32
    /// The system's text for the error.
    let detail: String

    init(_ operation: String, errno code: Int32) {
        self.operation = operation
        self.code = code
        self.detail = String(cString: strerror(code))
    }

    init(_ operation: String, detail: String) {
        self.operation = operation
        self.code = 0
        self.detail = detail
    }

    var description: String {
        self.code == 0 ? "\(self.operation): \(self.detail)" : "\(self.operation): \(self.detail) (errno \(self.code))"
    }

    /// The peer reset or closed the connection: on a reused connection, a reason to try a fresh one.
    var isConnectionLoss: Bool {
        self.code == EPIPE || self.code == ECONNRESET || self.code == ECONNABORTED
    }
}

/// The result of waiting for a socket.
enum SocketWait {
    case ready
    case timedOut
}

/// The blocking-on-`poll` socket operations of the I/O thread. The sockets are non-blocking; every wait is a
/// `poll` bounded by a deadline in monotonic nanoseconds.
enum Socket {
    #if os(Linux)
    private static let sendFlags = Int32(MSG_NOSIGNAL)
    private static let streamType = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue)
    #else
    private static let sendFlags: Int32 = 0
    private static let streamType = SOCK_STREAM
    #endif

    /// Waits until `fd` is ready for `events` or `deadline` passes (`nil`: no deadline).
    static func wait(_ fd: Int32, for events: Int16, until deadline: Int64?) throws(SocketError) -> SocketWait {
        while true {
            var timeout: Int32 = -1
            if let deadline {
                let remaining = deadline - monotonicNanoseconds()
                if remaining <= 0 { return .timedOut }
                // Round up so that a wake-up never comes before the deadline.
                timeout = Int32(clamping: (remaining + 999_999) / 1_000_000)
            }
            var entry = pollfd(fd: fd, events: events, revents: 0)
            let result = poll(&entry, 1, timeout)
            if result > 0 { return .ready }
            if result < 0 {
                let code = errno
                if code == EINTR || code == EAGAIN { continue }
                throw SocketError("poll", errno: code)
            }
        }
    }

    /// Whether an idle kept-alive connection is still usable: nothing to read (no EOF, no stray bytes), no error.
    static func isReusable(_ fd: Int32) -> Bool {
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&entry, 1, 0) == 0
    }

    /// Opens a connected socket to `destination`.
    ///
    /// - Parameters:
    ///   - publish: Called with each socket created, before it connects, so that cancellation can shut it down;
    ///     returns `false` if the exchange was cancelled meanwhile (the socket is then closed here).
    ///   - retire: Called before a socket is closed here.
    static func connect(
        to destination: HTTPRequestHead.Destination,
        until deadline: Int64?,
        publish: (Int32) -> Bool,
        retire: (Int32) -> Void
    ) throws(SocketError) -> Int32? {
        switch destination {
        case .unix(let path):
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            let capacity = MemoryLayout.size(ofValue: address.sun_path)
            let bytes = Array(path.utf8)
            guard !bytes.isEmpty, bytes.count < capacity else {
                throw SocketError("connect to unix socket \(path)", detail: "the path is empty or longer than \(capacity - 1) bytes")
            }
            withUnsafeMutableBytes(of: &address.sun_path) { raw in
                raw.copyBytes(from: bytes)
                raw[bytes.count] = 0
            }
            return try withUnsafeBytes(of: &address) { raw throws(SocketError) -> Int32? in
                try Self.connect(
                    family: AF_UNIX, address: raw.baseAddress!.assumingMemoryBound(to: sockaddr.self),
                    length: socklen_t(MemoryLayout<sockaddr_un>.size), name: "unix socket \(path)",
                    until: deadline, publish: publish, retire: retire
                )
            }
        case .tcp(let host, let port):
            let name = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
            // IP literals need no resolver.
            var v4 = sockaddr_in()
            if inet_pton(AF_INET, host, &v4.sin_addr) == 1 {
                v4.sin_family = sa_family_t(AF_INET)
                v4.sin_port = in_port_t(UInt16(port).bigEndian)
                return try withUnsafeBytes(of: &v4) { raw throws(SocketError) -> Int32? in
                    try Self.connect(
                        family: AF_INET, address: raw.baseAddress!.assumingMemoryBound(to: sockaddr.self),
                        length: socklen_t(MemoryLayout<sockaddr_in>.size), name: name,
                        until: deadline, publish: publish, retire: retire
                    )
                }
            }
            var v6 = sockaddr_in6()
            if inet_pton(AF_INET6, host, &v6.sin6_addr) == 1 {
                v6.sin6_family = sa_family_t(AF_INET6)
                v6.sin6_port = in_port_t(UInt16(port).bigEndian)
                return try withUnsafeBytes(of: &v6) { raw throws(SocketError) -> Int32? in
                    try Self.connect(
                        family: AF_INET6, address: raw.baseAddress!.assumingMemoryBound(to: sockaddr.self),
                        length: socklen_t(MemoryLayout<sockaddr_in6>.size), name: name,
                        until: deadline, publish: publish, retire: retire
                    )
                }
            }
            var hints = addrinfo()
            hints.ai_family = AF_UNSPEC
            #if os(Linux)
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            #else
            hints.ai_socktype = SOCK_STREAM
            #endif
            hints.ai_flags = AI_ADDRCONFIG | AI_NUMERICSERV
            var list: UnsafeMutablePointer<addrinfo>?
            let status = getaddrinfo(host, String(port), &hints, &list)
            guard status == 0, let first = list else {
                throw SocketError("resolve \(host)", detail: String(cString: gai_strerror(status)))
            }
            defer { freeaddrinfo(first) }
            var lastError = SocketError("resolve \(host)", detail: "no address")
            var entry: UnsafeMutablePointer<addrinfo>? = first
            while let current = entry {
                entry = current.pointee.ai_next
                guard let address = current.pointee.ai_addr else { continue }
                do {
                    return try Self.connect(
                        family: current.pointee.ai_family, address: address, length: current.pointee.ai_addrlen,
                        name: name, until: deadline, publish: publish, retire: retire
                    )
                } catch {
                    lastError = error
                    if error.code == ETIMEDOUT { throw error }
                }
            }
            throw lastError
        }
    }

    private static func connect(
        family: Int32,
        address: UnsafePointer<sockaddr>,
        length: socklen_t,
        name: String,
        until deadline: Int64?,
        publish: (Int32) -> Bool,
        retire: (Int32) -> Void
    ) throws(SocketError) -> Int32? {
        let fd = socket(family, streamType, 0)
        guard fd >= 0 else {
            throw SocketError("socket for \(name)", errno: errno)
        }
        #if !os(Linux)
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        var one: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, socklen_t(MemoryLayout<Int32>.size))
        #endif
        guard publish(fd) else {
            close(fd)
            return nil
        }
        func fail(_ error: SocketError) -> SocketError {
            retire(fd)
            close(fd)
            return error
        }
        if family != AF_UNIX {
            var one: Int32 = 1
            _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        }
        if systemConnect(fd, address, length) == 0 {
            return fd
        }
        let code = errno
        guard code == EINPROGRESS || code == EINTR || code == EAGAIN else {
            throw fail(SocketError("connect to \(name)", errno: code))
        }
        let waited: SocketWait
        do {
            waited = try Self.wait(fd, for: Int16(POLLOUT), until: deadline)
        } catch {
            throw fail(error)
        }
        if case .timedOut = waited {
            throw fail(SocketError("connect to \(name)", errno: ETIMEDOUT))
        }
        var status: Int32 = 0
        var size = socklen_t(MemoryLayout<Int32>.size)
        if getsockopt(fd, SOL_SOCKET, SO_ERROR, &status, &size) != 0 {
            status = errno
        }
        guard status == 0 else {
            throw fail(SocketError("connect to \(name)", errno: status))
        }
        return fd
    }

    /// Writes all of `bytes`, waiting for room as needed.
    ///
    /// - Returns: `false` if a deadline passed first.
    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, until deadline: Int64?) throws(SocketError) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let written = send(fd, bytes.baseAddress! + offset, bytes.count - offset, sendFlags)
            if written >= 0 {
                offset += written
                continue
            }
            let code = errno
            if code == EINTR { continue }
            guard code == EAGAIN || code == EWOULDBLOCK else {
                throw SocketError("send", errno: code)
            }
            if case .timedOut = try Self.wait(fd, for: Int16(POLLOUT), until: deadline) {
                return false
            }
        }
        return true
    }

    /// Reads what is there (at most `buffer.count` bytes): the count, 0 at the end of the stream, or `nil` if
    /// nothing is ready yet.
    static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws(SocketError) -> Int? {
        while true {
            let count = recv(fd, buffer.baseAddress!, buffer.count, 0)
            if count >= 0 { return count }
            let code = errno
            if code == EINTR { continue }
            if code == EAGAIN || code == EWOULDBLOCK { return nil }
            throw SocketError("recv", errno: code)
        }
    }
}

#if canImport(Glibc)
private let systemConnect = Glibc.connect
#elseif canImport(Musl)
private let systemConnect = Musl.connect
#elseif canImport(Darwin)
private let systemConnect = Darwin.connect
#endif
