import MesosCore

/// Thread-safe bookkeeping of every streamed body, updated on each write without hopping to the actor.
final class StreamRegistry: Sendable {
    private let streams = LockedValue<[FakeResponseStream]>([])
    /// Per stream: whether its writer is held back by the client right now.
    private let heldBack = LockedValue<[@Sendable () -> Bool]>([])

    /// Registers a stream that starts now and returns its id.
    func open(path: String, streamID: String?, heldBack: @escaping @Sendable () -> Bool = { false }) -> Int {
        self.streams.withLock { streams in
            let id = streams.count + 1
            streams.append(FakeResponseStream(id: id, path: path, streamID: streamID, bytesWritten: 0, writes: 0, state: .open))
            self.heldBack.withLock { $0.append(heldBack) }
            return id
        }
    }

    /// Marks a write as begun (not yet accepted by the transport).
    func beginWrite(id: Int) {
        self.streams.withLock { $0[id - 1].isWriting = true }
    }

    /// Counts one accepted write (or, with `bytes == nil`, ends a write that failed).
    func recordWrite(id: Int, bytes: Int?) {
        self.streams.withLock { streams in
            streams[id - 1].isWriting = false
            if let bytes {
                streams[id - 1].bytesWritten += bytes
                streams[id - 1].writes += 1
            }
        }
    }

    /// Records that the producer went silent on purpose.
    func markSilenced(id: Int) {
        self.streams.withLock { $0[id - 1].isSilenced = true }
    }

    /// Records how the stream ended (only the first end counts).
    func close(id: Int, state: FakeResponseStream.State) {
        self.streams.withLock { streams in
            if streams[id - 1].state == .open {
                streams[id - 1].state = state
            }
        }
    }

    /// All streams so far.
    var snapshot: [FakeResponseStream] {
        var streams = self.streams.withLock { $0 }
        let heldBack = self.heldBack.withLock { $0 }
        for index in streams.indices where index < heldBack.count && streams[index].state == .open {
            streams[index].isHeldBack = heldBack[index]()
        }
        return streams
    }
}

/// Counts what the transport accepted.
struct CountingWriter: FakeMasterBodyWriter {
    let base: any FakeMasterBodyWriter
    let registry: StreamRegistry
    let id: Int

    func noteSilenced() {
        self.registry.markSilenced(id: self.id)
    }

    var isHeldBack: Bool {
        self.base.isHeldBack
    }

    func write(_ bytes: ArraySlice<UInt8>) async throws {
        self.registry.beginWrite(id: self.id)
        do {
            try await self.base.write(bytes)
        } catch {
            self.registry.recordWrite(id: self.id, bytes: nil)
            throw error
        }
        self.registry.recordWrite(id: self.id, bytes: bytes.count)
    }
}
