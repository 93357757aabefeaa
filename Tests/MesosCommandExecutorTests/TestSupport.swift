import MesosCommandExecutor
import MesosCore
import MesosTestKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Every status a task reported, awaitable by index.
final class StatusLog: Sendable {
    private struct State {
        var statuses: [TaskStatus] = []
        var waiters: [(index: Int, continuation: CheckedContinuation<TaskStatus, Never>)] = []
    }

    private let state = LockedValue(State())

    /// The closure to give ``CommandTask``.
    var sink: @Sendable (TaskStatus) async -> Void {
        { status in self.append(status) }
    }

    func append(_ status: TaskStatus) {
        let ready = self.state.withLock { state -> [CheckedContinuation<TaskStatus, Never>] in
            state.statuses.append(status)
            let index = state.statuses.count - 1
            let ready = state.waiters.filter { $0.index == index }.map(\.continuation)
            state.waiters.removeAll { $0.index == index }
            return ready
        }
        for waiter in ready { waiter.resume(returning: status) }
    }

    /// The status at `index` (0 = the first), once it was reported.
    func status(_ index: Int) async -> TaskStatus {
        await withCheckedContinuation { continuation in
            let existing = self.state.withLock { state -> TaskStatus? in
                if index < state.statuses.count { return state.statuses[index] }
                state.waiters.append((index, continuation))
                return nil
            }
            if let existing { continuation.resume(returning: existing) }
        }
    }

    var all: [TaskStatus] {
        self.state.withLock { $0.statuses }
    }

    var states: [TaskState] {
        self.all.map(\.state)
    }
}

/// A fresh directory under /tmp, removed by ``remove()``.
struct TemporaryDirectory {
    let path: String

    init() {
        var template = Array("/tmp/mesos-cmdexec-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "mkdtemp failed")
        self.path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    func file(_ name: String) -> String {
        self.path + "/" + name
    }

    func read(_ name: String) -> String? {
        guard let handle = fopen(self.file(name), "r") else { return nil }
        defer { fclose(handle) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = fread(&buffer, 1, buffer.count, handle)
            if count <= 0 { break }
            bytes += buffer[..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Makes a FIFO `name` and returns a task that reads it to its end (after the writer closes it), on a thread
    /// of its own: the test's handshake with a command ("the trap is set").
    func fifo(_ name: String) -> Task<String, Never> {
        let path = self.file(name)
        precondition(mkfifo(path, 0o600) == 0, "mkfifo failed")
        return Task {
            await withCheckedContinuation { continuation in
                DetachedThread.start {
                    let fd = open(path, O_RDONLY)
                    var bytes: [UInt8] = []
                    var buffer = [UInt8](repeating: 0, count: 256)
                    while fd >= 0 {
                        let count = Glibc.read(fd, &buffer, buffer.count)
                        if count <= 0 { break }
                        bytes += buffer[..<count]
                    }
                    if fd >= 0 { close(fd) }
                    continuation.resume(returning: String(decoding: bytes, as: UTF8.self))
                }
            }
        }
    }

    func remove() {
        var status: Int32 = 0
        var pid: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup("rm"), strdup("-rf"), strdup(self.path), nil]
        defer { for pointer in argv { free(pointer) } }
        if posix_spawn(&pid, "/bin/rm", nil, nil, argv, nil) == 0 {
            waitpid(pid, &status, 0)
        }
    }
}

/// Waits (on a thread, through a pidfd) until the process `pid` has ended; `false` if it cannot be watched.
func processEnds(_ pid: pid_t) async -> Bool {
    typealias PidfdOpen = @convention(c) (pid_t, UInt32) -> Int32
    guard let symbol = dlsym(nil, "pidfd_open") else { return false }
    let pidfdOpen = unsafeBitCast(symbol, to: PidfdOpen.self)
    let fd = pidfdOpen(pid, 0)
    if fd < 0 { return errno == ESRCH }
    return await withCheckedContinuation { continuation in
        DetachedThread.start {
            var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            var ready: Int32 = -1
            repeat {
                ready = poll(&descriptor, 1, -1)
            } while ready < 0 && errno == EINTR
            close(fd)
            continuation.resume(returning: ready == 1)
        }
    }
}

/// A TCP server on 127.0.0.1 (a free port) answering every connection on a thread of its own: with a fixed HTTP
/// status, or (``Reply/silent``) accepting and never answering, or (``Reply/close``) accepting and closing.
final class LocalServer: Sendable {
    enum Reply: Sendable {
        case http(Int)
        case silent
        case close
    }

    let port: UInt16
    private let fd: Int32
    private let held = LockedValue<[Int32]>([])

    init(_ reply: Reply) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        precondition(fd >= 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = in_addr_t(0x7f00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address -> Bool in
                bind(fd, address, length) == 0 && listen(fd, 16) == 0 && getsockname(fd, address, &length) == 0
            }
        }
        precondition(bound, "cannot listen on 127.0.0.1")
        self.fd = fd
        self.port = UInt16(bigEndian: address.sin_port)
        let held = self.held
        DetachedThread.start {
            while true {
                let client = accept(fd, nil, nil)
                if client < 0 {
                    if errno == EINTR { continue }
                    // Stopped: only this thread closes the descriptors, so none is closed while in use here.
                    close(fd)
                    for held in held.withLock({ $0 }) { close(held) }
                    return
                }
                switch reply {
                case .close:
                    close(client)
                case .silent:
                    held.withLock { $0.append(client) }
                case .http(let code):
                    var request: [UInt8] = []
                    var buffer = [UInt8](repeating: 0, count: 1024)
                    while !String(decoding: request, as: UTF8.self).contains("\r\n\r\n") {
                        let count = recv(client, &buffer, buffer.count, 0)
                        if count <= 0 { break }
                        request += buffer[..<count]
                    }
                    let response = "HTTP/1.1 \(code) Status\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    _ = Array(response.utf8).withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                    close(client)
                }
            }
        }
    }

    /// Stops accepting; the server's thread then closes the socket and the held connections.
    func stop() {
        shutdown(self.fd, Int32(SHUT_RDWR))
    }

    /// A port on 127.0.0.1 nobody listens on (bound, then closed).
    static func closedPort() -> UInt16 {
        let server = LocalServer(.close)
        server.stop()
        return server.port
    }
}

/// Builders for tasks.
enum Tasks {
    static func shell(_ command: String, id: String = "task-1") -> TaskInfo {
        var task = TaskInfo()
        task.name = id
        task.taskID.value = id
        task.command.value = command
        return task
    }

    static func argv(_ value: String, _ arguments: [String], id: String = "task-1") -> TaskInfo {
        var task = TaskInfo()
        task.name = id
        task.taskID.value = id
        task.command.value = value
        task.command.shell = false
        task.command.arguments = arguments
        return task
    }

    static func healthCheck(
        _ type: HealthCheck.TypeEnum,
        delay: Double = 1,
        interval: Double = 1,
        timeout: Double = 20,
        grace: Double = 0,
        failures: UInt32 = 3
    ) -> HealthCheck {
        var check = HealthCheck()
        check.type = type
        check.delaySeconds = delay
        check.intervalSeconds = interval
        check.timeoutSeconds = timeout
        check.gracePeriodSeconds = grace
        check.consecutiveFailures = failures
        return check
    }
}

/// A configuration with a small base environment and the sandbox in `directory`.
func configuration(_ directory: TemporaryDirectory, killing: Bool = false) -> CommandTask.Configuration {
    CommandTask.Configuration(
        environment: ["PATH": "/usr/local/bin:/usr/bin:/bin", "EXECUTOR_VARIABLE": "from-executor"],
        sandboxDirectory: directory.path,
        sendsKillingState: killing,
        output: .sandboxFiles
    )
}
