#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A detached POSIX thread for one blocking job (waiting for a process, a blocking `poll`), so that blocking
/// never happens on the Swift concurrency pool. The threads get a small stack: their jobs make few calls.
package enum DetachedThread {
    private final class Job {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }

    /// The stack size of the threads: the jobs are a few system calls deep.
    private static let stackSize = 256 * 1024

    /// Starts `body` on a new detached thread.
    ///
    /// - Parameter body: The job; runs once.
    /// - Returns: The `pthread_create` error number, or 0 when the thread runs.
    @discardableResult
    package static func start(_ body: @escaping @Sendable () -> Void) -> Int32 {
        let job = Unmanaged.passRetained(Job(body)).toOpaque()
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        pthread_attr_setstacksize(&attributes, Self.stackSize)
        #if canImport(Darwin)
        var thread: pthread_t? = nil
        #else
        var thread = pthread_t()
        #endif
        let result = pthread_create(&thread, &attributes, { argument in
            guard let argument else { return nil }
            let job = Unmanaged<Job>.fromOpaque(argument).takeRetainedValue()
            job.body()
            return nil
        }, job)
        if result != 0 {
            Unmanaged<Job>.fromOpaque(job).release()
        }
        return result
    }
}

/// The text of an `errno` value.
func errorText(_ code: Int32) -> String {
    guard let text = strerror(code) else { return "error \(code)" }
    return String(cString: text)
}
