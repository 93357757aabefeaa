#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// User plus system CPU time this whole process has used so far, in seconds (from `getrusage(RUSAGE_SELF)`).
///
/// The idle-CPU tests of the transports take it before and after a quiet interval; it counts every thread of
/// the process, so such a test means something only when nothing else runs in the process.
package func processCPUSeconds() -> Double {
    var usage = rusage()
    #if os(Linux)
    getrusage(RUSAGE_SELF.rawValue, &usage)
    #else
    getrusage(RUSAGE_SELF, &usage)
    #endif
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
        + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1_000_000
}
