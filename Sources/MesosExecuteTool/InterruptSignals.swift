import MesosCore
import Dispatch

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// SIGINT and SIGTERM as an asynchronous stream, through dispatch signal sources (no C signal handler).
final class InterruptSignals: Sendable {
    /// Each signal received, by number.
    let signals: AsyncStream<Int32>
    private let sources = LockedValue<[any DispatchSourceSignal]>([])

    init() {
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
    func cancel() {
        self.sources.withLock { sources in
            for source in sources { source.cancel() }
            sources = []
        }
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }
}
