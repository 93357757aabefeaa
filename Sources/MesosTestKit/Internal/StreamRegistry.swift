import MesosCore

/// Thread-safe bookkeeping of every streamed body, updated on each write without hopping to the actor.
final class StreamRegistry: Sendable {
    private let streams = LockedValue<[FakeResponseStream]>([])

    /// Registers a stream that starts now and returns its id.
    func open(path: String, streamID: String?) -> Int {
        self.streams.withLock { streams in
            let id = streams.count + 1
            streams.append(FakeResponseStream(id: id, path: path, streamID: streamID, bytesWritten: 0, writes: 0, state: .open))
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
        self.streams.withLock { $0 }
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
