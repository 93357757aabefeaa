import MesosCore

/// A response body read from a ``SocketExchange``: an asynchronous sequence of chunks, read once.
///
/// Dropping the sequence without iterating it, dropping its iterator, or cancelling the task waiting in
/// `next()` ends the exchange and closes its connection (nothing happens once the response has ended).
struct SocketResponseChunks: AsyncSequence, Sendable {
    typealias Element = ArraySlice<UInt8>

    /// Owned by the sequence: ends an exchange whose body nobody iterates.
    private final class Owner: Sendable {
        let exchange: SocketExchange
        init(_ exchange: SocketExchange) { self.exchange = exchange }
        deinit { self.exchange.bodyReleased() }
    }

    /// Owned by the iterator: ends the exchange when the iterator goes away.
    fileprivate final class Cursor: Sendable {
        let exchange: SocketExchange
        init(_ exchange: SocketExchange) { self.exchange = exchange }
        deinit {
            self.exchange.cancel(MesosError(code: .cancelled, message: "\(self.exchange.context): the body's iterator was dropped"))
        }
    }

    private let owner: Owner

    init(_ exchange: SocketExchange) {
        self.owner = Owner(exchange)
    }

    func makeAsyncIterator() -> Iterator {
        self.owner.exchange.noteIteratorCreated()
        return Iterator(cursor: Cursor(self.owner.exchange))
    }

    /// Pulls chunks in arrival order.
    struct Iterator: AsyncIteratorProtocol {
        fileprivate let cursor: Cursor

        mutating func next() async throws -> ArraySlice<UInt8>? {
            try await self.cursor.exchange.nextChunk()
        }
    }
}
