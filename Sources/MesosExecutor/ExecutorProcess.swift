#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The process side of an executor executable: run the executor's work, then exit with its status.
public enum ExecutorProcess {
    /// Runs `body` on a detached task and exits the process with the status it returns; the calling thread (the
    /// main thread of a synchronous `main.swift`) waits meanwhile and never returns.
    ///
    /// Prefer this to top-level `await` in an executor's `main.swift`: an `async` program hands its main thread to
    /// `dispatch_main`, which ends it with `pthread_exit`; that forced unwind makes a statically linked binary read
    /// its whole unwind table (megabytes of `.eh_frame`) into memory, in every executor process the agent starts.
    ///
    /// - Parameter body: The executor's work (build it, run it, report); returns the process's exit status.
    public static func run(_ body: @escaping @Sendable () async -> Int32) -> Never {
        Task.detached {
            let status = await body()
            exit(status)
        }
        while true {
            pause()
        }
    }
}
