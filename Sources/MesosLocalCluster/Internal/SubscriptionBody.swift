import MesosCore
import MesosRecordIO

/// The live end of one SUBSCRIBE connection on the master's side: it writes events as RecordIO records.
struct Connection: Sendable {
    let streamID: String
    let codec: MesosCodec
    let continuation: AsyncStream<ArraySlice<UInt8>>.Continuation
    /// When the last HEARTBEAT went out, on the master's clock.
    var lastHeartbeat: Duration

    /// Queues an event on the stream (never blocks: the stream buffers like a socket's send queue).
    func send(_ event: SchedulerEvent) {
        guard let record = try? self.codec.encode(event.wireMessage) else { return }
        self.continuation.yield(RecordIOEncoder.encode(record)[...])
    }

    /// Ends the response body, as the master closing the connection. The termination callback is cleared first:
    /// the master already knows, and it must not be called back while it holds its lock.
    func close() {
        self.continuation.onTermination = nil
        self.continuation.finish()
    }
}

/// Calls `onClose` once when the last copy of a response body, and every iterator of it, is gone: the in-memory
/// equivalent of the client closing the connection.
final class ConnectionLifetime: Sendable {
    private let onClose: @Sendable () -> Void

    init(onClose: @escaping @Sendable () -> Void) {
        self.onClose = onClose
    }

    deinit {
        self.onClose()
    }
}

/// The body of a SUBSCRIBE response: the stream's records as they are queued.
struct SubscriptionBody: AsyncSequence, Sendable {
    typealias Element = ArraySlice<UInt8>

    let stream: AsyncStream<ArraySlice<UInt8>>
    let lifetime: ConnectionLifetime

    func makeAsyncIterator() -> Iterator {
        Iterator(base: self.stream.makeAsyncIterator(), lifetime: self.lifetime)
    }

    struct Iterator: AsyncIteratorProtocol {
        var base: AsyncStream<ArraySlice<UInt8>>.Iterator
        let lifetime: ConnectionLifetime

        mutating func next() async -> ArraySlice<UInt8>? {
            await self.base.next()
        }
    }
}
