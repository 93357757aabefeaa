import MesosCore
import NIOCore

/// The body of one exchange as an asynchronous sequence of chunks.
///
/// The sequence and its iterators share a ``Lifetime``: when the last of them is gone before the response ended,
/// the exchange closes its connection.
struct NIOResponseChunks: AsyncSequence, Sendable {
    typealias Element = ArraySlice<UInt8>

    /// Abandons the exchange when deallocated.
    final class Lifetime: Sendable {
        let exchange: NIOExchange

        init(_ exchange: NIOExchange) {
            self.exchange = exchange
        }

        deinit {
            let exchange = self.exchange
            exchange.onLoop { exchange.abandonOnLoop() }
        }
    }

    let lifetime: Lifetime

    init(_ exchange: NIOExchange) {
        self.lifetime = Lifetime(exchange)
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(lifetime: self.lifetime)
    }

    struct AsyncIterator: AsyncIteratorProtocol {
        let lifetime: Lifetime

        mutating func next() async throws(MesosError) -> ArraySlice<UInt8>? {
            let exchange = self.lifetime.exchange
            if Task.isCancelled {
                let error = MesosError(code: .cancelled, message: "\(exchange.context): reading the body was cancelled", cause: CancellationError())
                exchange.onLoop { exchange.failOnLoop(error) }
                throw error
            }
            if exchange.loop.inEventLoop {
                if let ready = exchange.readyOnLoop() {
                    // Already on the loop (a task on the transport's executor) with data at hand: no suspension.
                    return try ready.get()
                }
            } else if let chunk = exchange.takeReadyChunk() {
                // A chunk the loop already handed over: taken without a trip to the loop and back.
                return chunk
            }
            return try await NIOTransportCore.await(exchange, context: exchange.context) {
                if exchange.loop.inEventLoop {
                    return exchange.nextOnLoop()
                }
                return exchange.loop.flatSubmit { exchange.nextOnLoop() }
            }
        }
    }
}
