import Foundation
import MesosFramework
import Testing

@Suite("File state store")
struct FileStateStoreTests {
    /// A store with a few records, closed again; returns the file's bytes.
    private func writeSample(at path: String) async throws -> [UInt8] {
        let store = try await FileStateStore.open(path: path)
        defer { store.close() }
        try await store.put(.specs, key: "web", data: Data(String(repeating: "spec ", count: 40).utf8), expected: .absent)
        try await store.put(.tasks, key: "web-1", data: Data("task".utf8), expected: .absent)
        try await store.put(.tasks, key: "web-1", data: Data("task v1".utf8), expected: .version(0))
        return [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    private func expectCorrupt(_ path: String, mentioning words: String) async {
        let error = await #expect(throws: StateStoreError.self) {
            _ = try await FileStateStore.open(path: path)
        }
        #expect(error?.kind == .corrupt)
        #expect(error?.location == path)
        #expect(error?.message.contains(path) == true, "\(String(describing: error))")
        #expect(error?.message.contains(words) == true, "\(String(describing: error))")
    }

    @Test("a missing file is an empty state; records survive a reopen with their versions")
    func persistsAcrossReopen() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path + "/state"
        _ = try await self.writeSample(at: path)
        let store = try await FileStateStore.open(path: path)
        defer { store.close() }
        #expect(try await store.get(.tasks, key: "web-1") == VersionedRecord(data: Data("task v1".utf8), version: 1))
        #expect(try await store.load(.specs).count == 1)
        #expect(try await store.put(.tasks, key: "web-1", data: Data("v2".utf8), expected: .version(1)) == 2)
        // No temporary file is left behind.
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        #expect(names == ["state", "state.lock"])
    }

    @Test("a truncated file is a corrupt-state error naming the file, at every length", arguments: [0, 1, 8, 23, 24, 25, -1, -10])
    func truncatedFile(keeping: Int) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path + "/state"
        let bytes = try await self.writeSample(at: path)
        let length = keeping >= 0 ? keeping : bytes.count + keeping
        try Data(bytes.prefix(length)).write(to: URL(fileURLWithPath: path))
        await self.expectCorrupt(path, mentioning: length < 24 ? "truncated" : "announces")
    }

    @Test("a changed byte in the payload fails the checksum")
    func flippedByte() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path + "/state"
        var bytes = try await self.writeSample(at: path)
        bytes[bytes.count / 2] ^= 0x20
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        await self.expectCorrupt(path, mentioning: "checksum")
    }

    @Test("trailing bytes, another file, or a damaged header are corrupt too")
    func otherDamage() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path + "/state"
        let bytes = try await self.writeSample(at: path)
        try Data(bytes + [0x0A]).write(to: URL(fileURLWithPath: path))
        await self.expectCorrupt(path, mentioning: "trailing")
        try Data(String(repeating: "{\"not\": \"a state file\"}", count: 3).utf8).write(to: URL(fileURLWithPath: path))
        await self.expectCorrupt(path, mentioning: "magic")
        var version = bytes
        version[11] = 9
        try Data(version).write(to: URL(fileURLWithPath: path))
        await self.expectCorrupt(path, mentioning: "format version")
    }

    @Test("a well-framed payload that is not the state is corrupt, not empty")
    func undecodablePayload() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path + "/state"
        _ = try await self.writeSample(at: path)
        // Same framing, a payload of the right length and checksum that is not a state document.
        let payload = Array("[1, 2, 3]".utf8)
        var framed = Array("SWMSTATE".utf8)
        withUnsafeBytes(of: UInt32(1).bigEndian) { framed += $0 }
        withUnsafeBytes(of: UInt64(payload.count).bigEndian) { framed += $0 }
        withUnsafeBytes(of: crc32(payload).bigEndian) { framed += $0 }
        try Data(framed + payload).write(to: URL(fileURLWithPath: path))
        await self.expectCorrupt(path, mentioning: "does not decode")
    }

    @Test("one writer: a second store on the same file gets a typed error until the first closes")
    func secondWriterIsLocked() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path + "/state"
        let first = try await FileStateStore.open(path: path)
        let error = await #expect(throws: StateStoreError.self) {
            _ = try await FileStateStore.open(path: path)
        }
        #expect(error?.kind == .locked)
        #expect(error?.location == path)
        first.close()
        let closed = await #expect(throws: StateStoreError.self) {
            try await first.put(.specs, key: "a", data: Data(), expected: .any)
        }
        #expect(closed?.kind == .failed)
        let second = try await FileStateStore.open(path: path)
        second.close()
    }

    @Test("the lock holds against another process (flock(1) cannot take it)")
    func lockHoldsAcrossProcesses() async throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/flock") else {
            Issue.record("/usr/bin/flock (util-linux) is missing")
            return
        }
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path + "/state"
        let store = try await FileStateStore.open(path: path)
        #expect(try runFlock(path + ".lock") == 1)  // flock -n exits 1 when the lock is held
        store.close()
        #expect(try runFlock(path + ".lock") == 0)
    }

    @Test("a failed write leaves the state and the file as they were")
    func conflictChangesNothing() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path + "/state"
        let bytes = try await self.writeSample(at: path)
        let store = try await FileStateStore.open(path: path)
        defer { store.close() }
        await #expect(throws: StateStoreError.self) {
            try await store.put(.tasks, key: "web-1", data: Data("stale".utf8), expected: .version(0))
        }
        #expect([UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) == bytes)
        #expect(try await store.get(.tasks, key: "web-1")?.data == Data("task v1".utf8))
    }
}

/// Runs `flock -n LOCKFILE true` and returns its exit status.
private func runFlock(_ lockFile: String) throws -> Int32 {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/flock")
    process.arguments = ["-n", lockFile, "true"]
    try process.run()
    process.waitUntilExit()
    return process.terminationStatus
}

/// CRC-32 (IEEE), written out here so that the test does not trust the code under test.
private func crc32(_ bytes: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in bytes {
        crc ^= UInt32(byte)
        for _ in 0..<8 { crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
    }
    return ~crc
}
