import Dispatch

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// SIGINT and SIGTERM as an asynchronous stream, through dispatch signal sources (no C signal handler), for the
/// package's command-line tools and examples.
package final class InterruptSignals: Sendable {
    /// Each signal received, by number.
    package let signals: AsyncStream<Int32>
    private let sources = LockedValue<[any DispatchSourceSignal]>([])

    /// Starts listening: the default actions of SIGINT and SIGTERM are replaced by the stream.
    package init() {
        let (stream, continuation) = AsyncStream<Int32>.makeStream()
        self.signals = stream
        self.sources.withLock { sources in
            for number in [SIGINT, SIGTERM] {
                // The default action would end the process before the task is killed; the source sees it instead.
                signal(number, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
                source.setEventHandler {
                    continuation.yield(number)
                }
                source.resume()
                sources.append(source)
            }
        }
    }

    /// Stops listening and restores the default actions.
    package func cancel() {
        self.sources.withLock { sources in
            for source in sources { source.cancel() }
            sources = []
        }
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }
}
