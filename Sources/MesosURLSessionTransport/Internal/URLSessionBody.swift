import MesosCore

/// The streaming body of one exchange, as an asynchronous sequence of chunks.
///
/// Dropping every iterator closes the connection (unless the body had been read to its end); dropping the
/// sequence closes it only if no iterator was ever made, so `for try await chunk in body` keeps reading after
/// the `body` variable itself is gone.
struct URLSessionBody: AsyncSequence, Sendable {
    typealias Element = ArraySlice<UInt8>

    private let lease: SequenceLease

    init(exchange: Exchange) {
        self.lease = SequenceLease(exchange: exchange)
    }

    func makeAsyncIterator() -> Iterator {
        self.lease.exchange.markIterated()
        return Iterator(lease: IteratorLease(exchange: self.lease.exchange))
    }

    struct Iterator: AsyncIteratorProtocol {
        private let lease: IteratorLease
        private var ended = false

        fileprivate init(lease: IteratorLease) {
            self.lease = lease
        }

        mutating func next() async throws -> ArraySlice<UInt8>? {
            guard !self.ended else { return nil }
            do {
                guard let chunk = try await self.lease.exchange.nextChunk() else {
                    self.ended = true
                    return nil
                }
                return chunk
            } catch {
                self.ended = true
                throw error
            }
        }
    }
}

/// Held by the body sequence: abandons the exchange when released if nobody ever iterated.
private final class SequenceLease: Sendable {
    let exchange: Exchange

    init(exchange: Exchange) {
        self.exchange = exchange
    }

    deinit {
        self.exchange.abandonIfNeverIterated()
    }
}

/// Held by an iterator: abandons the exchange when released.
private final class IteratorLease: Sendable {
    let exchange: Exchange

    init(exchange: Exchange) {
        self.exchange = exchange
    }

    deinit {
        self.exchange.abandon()
    }
}
