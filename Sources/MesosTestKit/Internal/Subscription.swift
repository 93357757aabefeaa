import MesosCore
import MesosRecordIO

/// One SUBSCRIBE connection: its stream id, encoding and event queue.
final class Subscription: Sendable {
    let frameworkID: FrameworkID
    let streamID: String
    let codec: MesosCodec
    let queue = EventQueue()

    init(frameworkID: FrameworkID, streamID: String, codec: MesosCodec) {
        self.frameworkID = frameworkID
        self.streamID = streamID
        self.codec = codec
    }
}

/// The event-level faults that apply to one subscription stream.
struct EventFaults: Sendable {
    var cutAfter: Int?
    var garbageAfter: Int?
    var garbage: [UInt8] = []
    var silentAfter: Int?
    var coalesced = false
}

/// Writes a subscription's events as RecordIO, with periodic heartbeats, until the queue ends, the client
/// closes the connection, or a fault strikes.
struct SubscriptionStream: Sendable {
    let subscription: Subscription
    /// The period of HEARTBEAT events after the first, or `nil` for none.
    let heartbeatInterval: Duration?
    let faults: EventFaults
    /// Called once when the stream is over; `byClient` is `true` when the client went away first.
    let onEnd: @Sendable (_ byClient: Bool) async -> Void

    func run(_ writer: any FakeMasterBodyWriter) async throws {
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                if let interval = self.heartbeatInterval {
                    let queue = self.subscription.queue
                    group.addTask {
                        while true {
                            try await Task.sleep(for: interval)
                            queue.push(.heartbeat)
                        }
                    }
                }
                defer { group.cancelAll() }
                try await self.writeEvents(writer)
            }
            await self.onEnd(Task.isCancelled)
        } catch {
            await self.onEnd(Task.isCancelled || error is FakeMasterClientClosed || error is CancellationError)
            throw error
        }
    }

    private func writeEvents(_ writer: any FakeMasterBodyWriter) async throws {
        let codec = self.subscription.codec
        var written = 0
        while let batch = await self.subscription.queue.take() {
            var pending: [UInt8] = []
            func flush() async throws {
                if !pending.isEmpty {
                    try await writer.write(pending[...])
                    pending = []
                }
            }
            for item in batch {
                let event: SchedulerEvent
                switch item {
                case .end:
                    try await flush()
                    return
                case .cut:
                    try await flush()
                    throw FakeMasterResponse.CloseConnection(reason: "the fake master closed the subscription stream")
                case .heartbeat:
                    event = .heartbeat
                case .event(let queued):
                    event = queued
                }
                let record = RecordIOEncoder.encode(try codec.encode(event.wireMessage))
                if self.faults.silentAfter == written {
                    try await flush()
                    writer.noteSilenced()
                    while true {
                        try await Task.sleep(for: .seconds(3600))
                    }
                }
                if self.faults.cutAfter == written {
                    try await flush()
                    try await writer.write(record.prefix(max(1, record.count / 2)))
                    throw FakeMasterResponse.CloseConnection(reason: "cut in the middle of a record (fault injected)")
                }
                if self.faults.garbageAfter == written {
                    try await flush()
                    try await writer.write(self.faults.garbage[...])
                    return
                }
                if self.faults.coalesced {
                    pending.append(contentsOf: record)
                } else {
                    try await writer.write(record[...])
                }
                written += 1
            }
            try await flush()
        }
    }
}
