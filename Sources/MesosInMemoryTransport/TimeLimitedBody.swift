import MesosCore

/// A handler's body with the request's whole-exchange deadline and idle timeout applied to every chunk.
///
/// Each `next()` waits at most until the earlier of the deadline and "now + idle timeout". Errors are mapped
/// like the head's: timeouts to ``MesosError/Code/timeout``, cancellation to ``MesosError/Code/cancelled``,
/// anything else that is not a ``MesosError`` to ``MesosError/Code/transportFailure``.
struct TimeLimitedBody: AsyncSequence, Sendable {
    typealias Element = ArraySlice<UInt8>

    let upstream: MesosResponseBody
    /// The whole-exchange deadline, as an offset on `time`.
    let deadline: Duration?
    let idleTimeout: Duration?
    let time: TimeSource

    func makeAsyncIterator() -> Iterator {
        Iterator(
            box: IteratorBox(self.upstream.makeAsyncIterator()),
            deadline: self.deadline,
            idleTimeout: self.idleTimeout,
            time: self.time
        )
    }

    struct Iterator: AsyncIteratorProtocol {
        let box: IteratorBox
        let deadline: Duration?
        let idleTimeout: Duration?
        let time: TimeSource
        var finished = false

        mutating func next() async throws -> ArraySlice<UInt8>? {
            if self.finished {
                return nil
            }
            let now = self.time.now()
            let idleLimit = self.idleTimeout.map { now + $0 }
            let limit: Duration?
            let message: String
            switch (self.deadline, idleLimit) {
            case (let deadline?, let idle?) where idle < deadline:
                limit = idle
                message = "No response data for \(self.idleTimeout ?? .zero)"
            case (let deadline?, _):
                limit = deadline
                message = "The request's timeout expired while reading the response body"
            case (nil, let idle):
                limit = idle
                message = "No response data for \(self.idleTimeout ?? .zero)"
            }
            let box = self.box
            do {
                let chunk = try await Deadline.run(until: limit, on: self.time, timeoutMessage: message) {
                    try await box.next()
                }
                if chunk == nil {
                    self.finished = true
                    if Task.isCancelled {
                        throw MesosError(code: .cancelled, message: "Reading the response body was cancelled")
                    }
                }
                return chunk
            } catch {
                self.finished = true
                throw Deadline.mapError(error, context: "Reading the response body")
            }
        }
    }

    /// Holds the upstream iterator so that a child task can advance it; only one `next()` runs at a time.
    final class IteratorBox: @unchecked Sendable {
        private var iterator: MesosResponseBody.Iterator

        init(_ iterator: MesosResponseBody.Iterator) {
            self.iterator = iterator
        }

        func next() async throws -> ArraySlice<UInt8>? {
            try await self.iterator.next()
        }
    }
}
