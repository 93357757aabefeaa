import MesosCore
import Dispatch
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// What an agent runs for a command task.
struct CommandSpec: Sendable {
    /// A path, or a name looked up in `PATH`.
    var executable: String
    /// The whole argv, `argv[0]` included.
    var arguments: [String]
    /// The complete environment.
    var environment: [String: String]
    /// The working directory (the sandbox).
    var workingDirectory: String
}

/// How a task's process ended.
enum ProcessTermination: Sendable, Equatable {
    /// It called `exit` with this status.
    case exited(Int32)
    /// A signal ended it.
    case signaled(Int32)
}

/// One task's process: started with `posix_spawn` in a process group of its own, its output read and its exit
/// awaited on dedicated threads (never on the Swift concurrency pool), killed as a group.
final class TaskProcess: Sendable {
    enum StartResult: Sendable, Equatable {
        case started(pid_t)
        case killedBeforeStart
        case failed(String)
    }

    private enum Phase: Sendable {
        case pending
        case running(pid_t)
        case exited
    }

    private struct State: Sendable {
        var phase: Phase = .pending
        var killRequested = false
    }

    private let state = LockedValue(State())

    /// Whether a kill was asked for (so that an exit is reported as TASK_KILLED).
    var wasKillRequested: Bool {
        self.state.withLock { $0.killRequested }
    }

    /// The process id while the process runs.
    var pid: pid_t? {
        self.state.withLock { state in
            if case .running(let pid) = state.phase { return pid }
            return nil
        }
    }

    /// Whether the process has ended (or never started).
    var hasEnded: Bool {
        self.state.withLock { state in
            if case .exited = state.phase { return true }
            return false
        }
    }

    /// Starts the process unless a kill came first.
    ///
    /// - Parameters:
    ///   - spec: What to run.
    ///   - onOutput: Receives output chunks, on a reader thread.
    ///   - onExit: Called once, on a waiter thread, after the process ended and its output was read.
    /// - Returns: What happened.
    func start(
        _ spec: CommandSpec,
        onOutput: @escaping @Sendable (TaskOutputChunk.Stream, [UInt8]) -> Void,
        onExit: @escaping @Sendable (ProcessTermination) -> Void
    ) -> StartResult {
        self.state.withLock { state -> StartResult in
            if state.killRequested {
                state.phase = .exited
                return .killedBeforeStart
            }
            guard case .pending = state.phase else { return .failed("The task was already started") }
            switch Spawner.spawn(spec) {
            case .failure(let message):
                state.phase = .exited
                return .failed(message)
            case .success(let spawned):
                state.phase = .running(spawned.pid)
                let done = DispatchSemaphore(value: 0)
                let reader = Thread {
                    OutputReader.run(stdout: spawned.stdout, stderr: spawned.stderr, wake: spawned.wakeRead, onOutput: onOutput)
                    done.signal()
                }
                reader.name = "mesos-local-output-\(spawned.pid)"
                reader.start()
                let waiter = Thread { [self] in
                    let termination = self.awaitExit(pid: spawned.pid)
                    if done.wait(timeout: .now() + .seconds(2)) == .timedOut {
                        // A process outside the group still holds the output open: stop reading.
                        var byte: UInt8 = 1
                        _ = write(spawned.wakeWrite, &byte, 1)
                        _ = done.wait(timeout: .now() + .seconds(1))
                    }
                    close(spawned.wakeWrite)
                    onExit(termination)
                }
                waiter.name = "mesos-local-wait-\(spawned.pid)"
                waiter.start()
                return .started(spawned.pid)
            }
        }
    }

    /// Waits for the process to end, kills what is left of its group, then reaps it.
    private func awaitExit(pid: pid_t) -> ProcessTermination {
        var info = siginfo_t()
        // Wait without reaping: while the zombie exists its pid, and so its process group id, cannot be reused.
        while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) == -1, errno == EINTR {}
        _ = kill(-pid, SIGKILL)
        return self.state.withLock { state -> ProcessTermination in
            var status: Int32 = 0
            while waitpid(pid, &status, 0) == -1, errno == EINTR {}
            state.phase = .exited
            let signal = status & 0x7f
            if signal == 0 {
                return .exited((status >> 8) & 0xff)
            }
            return .signaled(signal)
        }
    }

    /// Sends SIGTERM to the process group, and SIGKILL after `grace` if it is still there. Before the start, makes
    /// sure the process never starts.
    func terminate(grace: Duration) {
        let pid = self.state.withLock { state -> pid_t? in
            state.killRequested = true
            if case .pending = state.phase { state.phase = .exited }
            guard case .running(let pid) = state.phase else { return nil }
            _ = kill(-pid, grace <= .zero ? SIGKILL : SIGTERM)
            return pid
        }
        guard pid != nil, grace > .zero else { return }
        let nanoseconds = grace.inNanoseconds
        DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(clamping: nanoseconds))) { [weak self] in
            self?.forceKill()
        }
    }

    /// Sends SIGKILL to the process group if it still runs; before the start, makes sure it never starts.
    func forceKill() {
        self.state.withLock { state in
            state.killRequested = true
            if case .pending = state.phase { state.phase = .exited }
            if case .running(let pid) = state.phase {
                _ = kill(-pid, SIGKILL)
            }
        }
    }
}

/// `posix_spawn` with pipes for output, a process group of its own, default signal dispositions and a working
/// directory.
enum Spawner {
    struct Spawned: Sendable {
        var pid: pid_t
        var stdout: Int32
        var stderr: Int32
        var wakeRead: Int32
        var wakeWrite: Int32
    }

    enum Outcome: Sendable {
        case success(Spawned)
        case failure(String)
    }

    /// Pipes are created and marked close-on-exec under this lock, so that no other spawn of ours inherits them.
    private static let lock = LockedValue(())

    #if canImport(Darwin)
    typealias Actions = posix_spawn_file_actions_t?
    #else
    typealias Actions = posix_spawn_file_actions_t
    #endif
    typealias Attributes = SpawnSignals.Attributes

    private typealias AddChdir = @convention(c) (UnsafeMutablePointer<Actions>, UnsafePointer<CChar>) -> Int32

    /// glibc ≥ 2.29 has `posix_spawn_file_actions_addchdir_np`, but only declares it for `_GNU_SOURCE`.
    private static let addChdir: AddChdir? = {
        #if canImport(Darwin)
        return nil
        #else
        guard let symbol = dlsym(nil, "posix_spawn_file_actions_addchdir_np") else { return nil }
        return unsafeBitCast(symbol, to: AddChdir.self)
        #endif
    }()

    static func spawn(_ spec: CommandSpec) -> Outcome {
        self.lock.withLock { _ -> Outcome in
            var outPipe: [Int32] = [-1, -1]
            var errPipe: [Int32] = [-1, -1]
            var wakePipe: [Int32] = [-1, -1]
            guard pipe(&outPipe) == 0 else { return .failure("Cannot create a pipe: \(Self.errorText(errno))") }
            guard pipe(&errPipe) == 0 else {
                Self.closeAll(outPipe)
                return .failure("Cannot create a pipe: \(Self.errorText(errno))")
            }
            guard pipe(&wakePipe) == 0 else {
                Self.closeAll(outPipe + errPipe)
                return .failure("Cannot create a pipe: \(Self.errorText(errno))")
            }
            for fd in outPipe + errPipe + wakePipe {
                _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            }

            #if canImport(Darwin)
            var actions: Actions = nil
            var attributes: Attributes = nil
            #else
            var actions = Actions()
            var attributes = Attributes()
            #endif
            posix_spawn_file_actions_init(&actions)
            posix_spawnattr_init(&attributes)
            defer {
                posix_spawn_file_actions_destroy(&actions)
                posix_spawnattr_destroy(&attributes)
            }
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
            posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
            posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
            #if canImport(Darwin)
            posix_spawn_file_actions_addchdir_np(&actions, spec.workingDirectory)
            #else
            if let addChdir = Self.addChdir {
                _ = addChdir(&actions, spec.workingDirectory)
            }
            #endif

            var flags = Int32(POSIX_SPAWN_SETPGROUP)
            #if canImport(Darwin)
            flags |= Int32(POSIX_SPAWN_CLOEXEC_DEFAULT)
            #endif
            // Every signal unblocked and the common ones at their default action (not the spawning thread's).
            SpawnSignals.apply(to: &attributes, extraFlags: flags)
            posix_spawnattr_setpgroup(&attributes, 0)

            let argv = spec.arguments.map { strdup($0) } + [nil]
            let envp = spec.environment.sorted { $0.key < $1.key }.map { strdup("\($0.key)=\($0.value)") } + [nil]
            defer {
                for pointer in argv { free(pointer) }
                for pointer in envp { free(pointer) }
            }
            var pid: pid_t = 0
            let result = spec.executable.contains("/")
                ? posix_spawn(&pid, spec.executable, &actions, &attributes, argv, envp)
                : posix_spawnp(&pid, spec.executable, &actions, &attributes, argv, envp)
            close(outPipe[1])
            close(errPipe[1])
            guard result == 0 else {
                Self.closeAll([outPipe[0], errPipe[0]] + wakePipe)
                return .failure("Failed to execute '\(spec.executable)': \(Self.errorText(result))")
            }
            return .success(Spawned(pid: pid, stdout: outPipe[0], stderr: errPipe[0], wakeRead: wakePipe[0], wakeWrite: wakePipe[1]))
        }
    }

    static func errorText(_ code: Int32) -> String {
        guard let text = strerror(code) else { return "error \(code)" }
        return String(cString: text)
    }

    private static func closeAll(_ fds: [Int32]) {
        for fd in fds where fd >= 0 { close(fd) }
    }
}

/// Reads a process's standard output and error until both end (or the wake pipe says to stop).
enum OutputReader {
    static func run(
        stdout: Int32,
        stderr: Int32,
        wake: Int32,
        onOutput: @Sendable (TaskOutputChunk.Stream, [UInt8]) -> Void
    ) {
        var fds = [
            pollfd(fd: stdout, events: Int16(POLLIN), revents: 0),
            pollfd(fd: stderr, events: Int16(POLLIN), revents: 0),
            pollfd(fd: wake, events: Int16(POLLIN), revents: 0),
        ]
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        var open = 2
        while open > 0 {
            let ready = poll(&fds, nfds_t(fds.count), -1)
            if ready < 0 {
                if errno == EINTR { continue }
                break
            }
            for index in 0..<2 where fds[index].fd >= 0 && fds[index].revents != 0 {
                let count = buffer.withUnsafeMutableBytes { read(fds[index].fd, $0.baseAddress, $0.count) }
                if count > 0 {
                    onOutput(index == 0 ? .stdout : .stderr, Array(buffer[0..<count]))
                } else if count == 0 || (errno != EINTR && errno != EAGAIN) {
                    close(fds[index].fd)
                    fds[index].fd = -1
                    open -= 1
                }
            }
            if fds[2].revents != 0 {
                break
            }
        }
        for index in 0..<2 where fds[index].fd >= 0 {
            close(fds[index].fd)
        }
        close(wake)
    }
}
