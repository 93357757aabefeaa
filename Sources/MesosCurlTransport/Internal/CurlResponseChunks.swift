import MesosCore

/// A curl response body as an asynchronous sequence of chunks, read once.
///
/// Dropping the sequence before iterating it, dropping its iterator, or cancelling the task that waits in
/// `next()` aborts the transfer and closes its connection (a no-op once the response has ended).
struct CurlResponseChunks: AsyncSequence, Sendable {
    typealias Element = ArraySlice<UInt8>

    /// Ends the transfer when the body value is dropped without having been iterated.
    private final class BodyLifetime: Sendable {
        let transfer: CurlTransfer

        init(_ transfer: CurlTransfer) {
            self.transfer = transfer
        }

        deinit {
            self.transfer.bodyReleased()
        }
    }

    /// Ends the transfer when the last copy of the iterator is dropped.
    fileprivate final class Reader: Sendable {
        let transfer: CurlTransfer

        init(_ transfer: CurlTransfer) {
            self.transfer = transfer
        }

        deinit {
            self.transfer.cancel(
                MesosError(code: .cancelled, message: "\(self.transfer.context): the body's iterator was dropped")
            )
        }
    }

    private let lifetime: BodyLifetime

    init(transfer: CurlTransfer) {
        self.lifetime = BodyLifetime(transfer)
    }

    func makeAsyncIterator() -> Iterator {
        self.lifetime.transfer.noteIteratorCreated()
        return Iterator(reader: Reader(self.lifetime.transfer))
    }

    /// Pulls chunks in arrival order.
    struct Iterator: AsyncIteratorProtocol {
        fileprivate let reader: Reader

        mutating func next() async throws -> ArraySlice<UInt8>? {
            try await self.reader.transfer.nextChunk()
        }
    }
}
