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

    /// Writes text to standard error (an executor's is the sandbox's `stderr` file) with `write(2)`, without
    /// Foundation's file handles; short writes are continued, a failing write drops the rest.
    ///
    /// - Parameter text: The text, usually one line ending in a newline.
    public static func writeToStandardError(_ text: String) {
        var bytes = Array(text.utf8)
        bytes.withUnsafeMutableBytes { buffer in
            guard let base = buffer.baseAddress else { return }
            var offset = 0
            while offset < buffer.count {
                let written = write(2, base + offset, buffer.count - offset)
                if written < 0, errno == EINTR { continue }
                if written <= 0 { return }
                offset += written
            }
        }
    }
}
