#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The signal state a spawned child process starts with.
///
/// `posix_spawn` hands the child the calling thread's signal mask, and the threads Swift code runs on (dispatch
/// workers) block most signals: a child started from there could not be stopped with SIGTERM, and a `timeout`
/// it runs could never fire. Spawners in the package (the local cluster's tasks, the tests' script helpers)
/// use this to start children with every signal unblocked and the common ones at their default action.
package enum SpawnSignals {
    #if canImport(Darwin)
    /// `posix_spawnattr_t` as the platform's spawn functions take it.
    package typealias Attributes = posix_spawnattr_t?
    #else
    /// `posix_spawnattr_t` as the platform's spawn functions take it.
    package typealias Attributes = posix_spawnattr_t
    #endif

    /// The signals reset to their default action in the child.
    package static let resetToDefault: [Int32] = [
        SIGINT, SIGTERM, SIGQUIT, SIGHUP, SIGPIPE, SIGCHLD, SIGUSR1, SIGUSR2, SIGALRM, SIGTSTP, SIGTTIN, SIGTTOU,
    ]

    /// Sets `POSIX_SPAWN_SETSIGDEF` and `POSIX_SPAWN_SETSIGMASK` (with `extraFlags`) on initialized attributes:
    /// an empty signal mask and ``resetToDefault`` at their default action.
    ///
    /// - Parameters:
    ///   - attributes: Attributes set up with `posix_spawnattr_init`.
    ///   - extraFlags: Other `POSIX_SPAWN_*` flags to set at the same time (the flags are set as a whole).
    package static func apply(to attributes: inout Attributes, extraFlags: Int32 = 0) {
        let flags = Int32(POSIX_SPAWN_SETSIGDEF) | Int32(POSIX_SPAWN_SETSIGMASK) | extraFlags
        posix_spawnattr_setflags(&attributes, Int16(truncatingIfNeeded: flags))
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in Self.resetToDefault {
            sigaddset(&defaults, signal)
        }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attributes, &mask)
    }

    /// Runs `body` with initialized attributes to which ``apply(to:extraFlags:)`` has been applied, and destroys
    /// them afterwards.
    package static func withAttributes<Result>(_ body: (inout Attributes) throws -> Result) rethrows -> Result {
        #if canImport(Darwin)
        var attributes: Attributes = nil
        #else
        var attributes = Attributes()
        #endif
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        Self.apply(to: &attributes)
        return try body(&attributes)
    }
}
