#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A value guarded by a POSIX mutex: the lock every module of the package uses.
///
/// It behaves like the standard library's `Mutex` (closure-scoped access, typed throws), but locks with
/// `pthread_mutex_t`, which ThreadSanitizer understands. On Linux the standard `Mutex` takes its contended path
/// through futex calls inside the (uninstrumented) standard library, so `swift test --sanitize=thread` reports
/// races on state that is in fact always accessed under the lock; a five-line program shows it. With this
/// lock the sanitizer sees every acquire and release, and a report is a real race.
package final class LockedValue<Value>: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    /// Creates the lock around an initial value.
    package init(_ value: Value) {
        self.value = value
        self.mutex = .allocate(capacity: 1)
        self.mutex.initialize(to: pthread_mutex_t())
        let status = pthread_mutex_init(self.mutex, nil)
        precondition(status == 0, "pthread_mutex_init failed: \(status)")
    }

    deinit {
        pthread_mutex_destroy(self.mutex)
        self.mutex.deinitialize(count: 1)
        self.mutex.deallocate()
    }

    /// Runs `body` with exclusive access to the value.
    @inline(__always)
    package func withLock<Result, Failure: Error>(
        _ body: (inout Value) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        pthread_mutex_lock(self.mutex)
        defer { pthread_mutex_unlock(self.mutex) }
        return try body(&self.value)
    }
}
