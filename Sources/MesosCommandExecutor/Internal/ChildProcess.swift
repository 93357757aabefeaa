import MesosCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// What to start: a resolved program, its argv, its complete environment, its directory and where its output
/// goes.
struct LaunchPlan: Sendable, Equatable {
    /// Where the standard output and error of a started process go.
    enum Output: Sendable, Equatable {
        /// The executor's own standard output and error.
        case inherit
        /// Appended to these files (created when missing).
        case files(stdout: String, stderr: String)
        /// `/dev/null`.
        case discard
    }

    /// A path, or a bare name looked up in the child's `PATH` at spawn time.
    var executable: String
    /// The whole argv, `argv[0]` included.
    var arguments: [String]
    /// The complete environment, `NAME=value`.
    var environment: [String: String]
    /// The working directory, or `nil` for the executor's.
    var workingDirectory: String?
    /// Where output goes.
    var output: Output
}

/// One started process, leader of a process group of its own, reaped by a detached waiter thread.
///
/// The waiter waits for the leader's exit without reaping it (`waitid` with `WNOWAIT`): while the zombie exists
/// its pid, and with it the process group id, cannot be reused, so ``signalGroup(_:)`` (which only signals before
/// the reap, under the same lock) never hits a stranger. When the leader has ended, whatever is left of its
/// group gets SIGKILL (as Mesos destroys the container when the command ends), then the leader is reaped.
final class ChildProcess: Sendable {
    private struct State {
        var termination: ProcessTermination?
        var waiters: [CheckedContinuation<ProcessTermination, Never>] = []
    }

    /// The leader's process id (also the process group id).
    let pid: pid_t
    private let state = LockedValue(State())

    private init(pid: pid_t) {
        self.pid = pid
    }

    /// Starts `plan` in a new process group with every signal unblocked and at its default action, standard
    /// input from `/dev/null`.
    ///
    /// - Returns: The running process, or the reason it could not start (`strerror` text).
    static func spawn(_ plan: LaunchPlan) -> Result<ChildProcess, SpawnFailure> {
        #if canImport(Darwin)
        var actions: posix_spawn_file_actions_t? = nil
        #else
        var actions = posix_spawn_file_actions_t()
        #endif
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        switch plan.output {
        case .inherit:
            break
        case .files(let stdout, let stderr):
            posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_APPEND, 0o644)
            posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        case .discard:
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        }
        if let directory = plan.workingDirectory {
            guard let addChdir = Self.addChdir else {
                return .failure(SpawnFailure(message: "This C library cannot set a spawned process's directory"))
            }
            _ = addChdir(&actions, directory)
        }
        let executable = Self.resolve(plan.executable, path: plan.environment["PATH"])
        let argv = plan.arguments.map { strdup($0) } + [nil]
        let envp = plan.environment.sorted { $0.key < $1.key }.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        let result = SpawnSignals.withAttributes { attributes -> Int32 in
            // The group flag has to be set together with the signal flags (they are set as a whole).
            SpawnSignals.apply(to: &attributes, extraFlags: Int32(POSIX_SPAWN_SETPGROUP))
            posix_spawnattr_setpgroup(&attributes, 0)
            return posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        }
        guard result == 0 else {
            return .failure(SpawnFailure(message: "Failed to launch '\(plan.executable)': \(errorText(result))"))
        }
        let child = ChildProcess(pid: pid)
        let threadError = DetachedThread.start { child.awaitExit() }
        guard threadError == 0 else {
            _ = kill(-pid, SIGKILL)
            var status: Int32 = 0
            while waitpid(pid, &status, 0) == -1, errno == EINTR {}
            return .failure(SpawnFailure(message: "Cannot start a thread to wait for the command: \(errorText(threadError))"))
        }
        return .success(child)
    }

    /// Sends `signal` to the whole process group, unless the leader was already reaped.
    ///
    /// - Returns: Whether the signal was sent.
    @discardableResult
    func signalGroup(_ signal: Int32) -> Bool {
        self.state.withLock { state in
            guard state.termination == nil else { return false }
            return kill(-self.pid, signal) == 0
        }
    }

    /// Whether the leader has ended and was reaped.
    var hasEnded: Bool {
        self.state.withLock { $0.termination != nil }
    }

    /// Waits until the leader has ended and was reaped.
    func termination() async -> ProcessTermination {
        await withCheckedContinuation { continuation in
            let done: ProcessTermination? = self.state.withLock { state in
                if let termination = state.termination { return termination }
                state.waiters.append(continuation)
                return nil
            }
            if let done { continuation.resume(returning: done) }
        }
    }

    /// The waiter thread's job.
    private func awaitExit() {
        var info = siginfo_t()
        while waitid(P_PID, id_t(self.pid), &info, WEXITED | WNOWAIT) == -1, errno == EINTR {}
        let (termination, waiters) = self.state.withLock { state -> (ProcessTermination, [CheckedContinuation<ProcessTermination, Never>]) in
            _ = kill(-self.pid, SIGKILL)
            var status: Int32 = 0
            while waitpid(self.pid, &status, 0) == -1, errno == EINTR {}
            let termination = ProcessTermination(waitStatus: status)
            state.termination = termination
            let waiters = state.waiters
            state.waiters = []
            return (termination, waiters)
        }
        for waiter in waiters {
            waiter.resume(returning: termination)
        }
    }

    #if canImport(Darwin)
    private typealias Actions = posix_spawn_file_actions_t?
    #else
    private typealias Actions = posix_spawn_file_actions_t
    #endif
    private typealias AddChdir = @convention(c) (UnsafeMutablePointer<Actions>, UnsafePointer<CChar>) -> Int32

    /// `posix_spawn_file_actions_addchdir_np` (glibc ≥ 2.29, musl ≥ 1.1.24 and macOS have it). glibc declares it
    /// only for `_GNU_SOURCE`, which Swift's Glibc module does not define, so on Linux it is bound by its symbol
    /// name (this also works in a statically linked executor, where `dlsym` finds nothing); elsewhere it is looked
    /// up at run time.
    private static let addChdir: AddChdir? = {
        #if canImport(Glibc) || canImport(Musl)
        return { actions, directory in posix_spawn_file_actions_addchdir_np_bound(actions, directory) }
        #else
        guard let symbol = dlsym(nil, "posix_spawn_file_actions_addchdir_np") else {
            return nil
        }
        return unsafeBitCast(symbol, to: AddChdir.self)
        #endif
    }()

    /// The default `PATH` when the child's environment has none (the one Mesos gives executors).
    static let defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    /// A bare program name looked up in the child's `PATH` (not the executor's, which `posix_spawnp` would use);
    /// a name with a slash, or one not found, is returned unchanged (the spawn then reports the error).
    static func resolve(_ name: String, path: String?) -> String {
        guard !name.contains("/"), !name.isEmpty else { return name }
        for directory in (path ?? Self.defaultPath).split(separator: ":", omittingEmptySubsequences: false) {
            let candidate = (directory.isEmpty ? "." : String(directory)) + "/" + name
            if access(candidate, X_OK) == 0 {
                return candidate
            }
        }
        return name
    }
}

/// Why a process could not be started.
struct SpawnFailure: Error, Sendable, Equatable {
    /// Mesos-style text: `Failed to launch '<program>': <reason>`.
    var message: String
}

#if canImport(Glibc) || canImport(Musl)
/// The C library's `posix_spawn_file_actions_addchdir_np`, bound by name (see `ChildProcess.addChdir`).
@_silgen_name("posix_spawn_file_actions_addchdir_np")
private func posix_spawn_file_actions_addchdir_np_bound(
    _ actions: UnsafeMutablePointer<posix_spawn_file_actions_t>, _ path: UnsafePointer<CChar>
) -> Int32
#endif
