import Foundation
import MesosCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The file adapter of ``FrameworkStateStore``, for a framework on one host: the whole state in one file,
/// replaced atomically at each write.
///
/// - A write builds the new file next to the old one (`<file>.tmp`), `fsync`s it, renames it over the old one
///   and `fsync`s the directory, so that after a crash the file is either the old state or the new one. The
///   write returns after that: the state is on disk.
/// - The file is framed: a magic, a format version, the payload's length and its CRC-32. A truncated or damaged
///   file is ``StateStoreError/Kind/corrupt`` naming the file, never a crash and never an empty state. A missing
///   file is an empty state (a framework's first start).
/// - One writer: ``open(path:)`` takes an exclusive `flock` on `<file>.lock`, so a second store on the same file
///   (in another process, or this one) gets ``StateStoreError/Kind/locked``. The lock goes with ``close()`` or
///   the process.
///
/// Writes rewrite the whole file: fine for thousands of records, not meant for millions.
public final class FileStateStore: FrameworkStateStore {
    private struct State {
        var records: [StateNamespace: [String: VersionedRecord]]
        var lockDescriptor: Int32
    }

    /// The state file.
    public let path: String
    private let state: LockedValue<State>

    private static let magic: [UInt8] = Array("SWMSTATE".utf8)
    private static let formatVersion: UInt32 = 1
    private static let headerLength = 8 + 4 + 8 + 4

    private init(path: String, records: [StateNamespace: [String: VersionedRecord]], lockDescriptor: Int32) {
        self.path = path
        self.state = LockedValue(State(records: records, lockDescriptor: lockDescriptor))
    }

    deinit {
        self.state.withLock { state in
            if state.lockDescriptor >= 0 { _ = Glibc.close(state.lockDescriptor) }
            state.lockDescriptor = -1
        }
    }

    /// Opens (or, when missing, starts) the state file, taking its lock and reading it.
    ///
    /// - Parameter path: The state file; its directory must exist.
    /// - Returns: The store.
    /// - Throws: ``StateStoreError/Kind/locked`` when another store holds the file,
    ///   ``StateStoreError/Kind/corrupt`` naming the file when it is damaged, ``StateStoreError/Kind/failed``
    ///   for I/O errors.
    public static func open(path: String) async throws(StateStoreError) -> FileStateStore {
        let result = await FileStateStoreIO.run { () -> Result<FileStateStore, StateStoreError> in
            Result { () throws(StateStoreError) -> FileStateStore in try Self.openBlocking(path: path) }
        }
        return try result.get()
    }

    private static func openBlocking(path: String) throws(StateStoreError) -> FileStateStore {
        let lockPath = path + ".lock"
        let descriptor = Glibc.open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw Self.ioError("cannot open the lock file", lockPath)
        }
        // A child process this process spawns holds a copy of every descriptor between its fork and its exec
        // (O_CLOEXEC closes it only at the exec): a lock released a moment ago can look held for that moment.
        // Such a hold is over within milliseconds; another writer's is not.
        var locked = flock(descriptor, LOCK_EX | LOCK_NB) == 0
        var code = locked ? 0 : errno
        var attempts = 0
        while !locked && code == EWOULDBLOCK && attempts < 20 {
            attempts += 1
            usleep(10_000)
            locked = flock(descriptor, LOCK_EX | LOCK_NB) == 0
            code = locked ? 0 : errno
        }
        if !locked {
            _ = Glibc.close(descriptor)
            if code == EWOULDBLOCK {
                throw StateStoreError(
                    kind: .locked,
                    message: "Another writer holds \(path) (lock file \(lockPath)); one writer per state file",
                    location: path
                )
            }
            throw Self.ioError("cannot lock", lockPath, code: code)
        }
        do {
            let records = try Self.read(path: path)
            return FileStateStore(path: path, records: records, lockDescriptor: descriptor)
        } catch {
            _ = Glibc.close(descriptor)
            throw error
        }
    }

    /// Releases the lock; later operations fail with ``StateStoreError/Kind/failed``. Idempotent.
    public func close() {
        self.state.withLock { state in
            if state.lockDescriptor >= 0 { _ = Glibc.close(state.lockDescriptor) }
            state.lockDescriptor = -1
        }
    }

    // MARK: - FrameworkStateStore

    /// Every record of a namespace.
    public func load(_ namespace: StateNamespace) async throws(StateStoreError) -> [String: VersionedRecord] {
        try self.state.withLock { (state) throws(StateStoreError) in
            try self.checkOpen(state)
            return state.records[namespace] ?? [:]
        }
    }

    /// One record.
    public func get(_ namespace: StateNamespace, key: String) async throws(StateStoreError) -> VersionedRecord? {
        try validateStateKey(key)
        return try self.state.withLock { (state) throws(StateStoreError) in
            try self.checkOpen(state)
            return state.records[namespace]?[key]
        }
    }

    /// Writes a record if its version is the expected one; returns once the file is replaced on disk.
    @discardableResult
    public func put(_ namespace: StateNamespace, key: String, data: Data, expected: ExpectedVersion)
        async throws(StateStoreError) -> Int64
    {
        try validateStateKey(key)
        return try await self.write { (records) throws(StateStoreError) -> Int64 in
            var namespaceRecords = records[namespace] ?? [:]
            let version = try applyPut(&namespaceRecords, namespace: namespace, key: key, data: data, expected: expected)
            records[namespace] = namespaceRecords
            return version
        }
    }

    /// Deletes a record if its version is the expected one; returns once the file is replaced on disk.
    public func delete(_ namespace: StateNamespace, key: String, expected: ExpectedVersion) async throws(StateStoreError) {
        try validateStateKey(key)
        try await self.write { (records) throws(StateStoreError) in
            var namespaceRecords = records[namespace] ?? [:]
            try applyDelete(&namespaceRecords, namespace: namespace, key: key, expected: expected)
            records[namespace] = namespaceRecords.isEmpty ? nil : namespaceRecords
        }
    }

    // MARK: - Writing

    /// Applies `change` to a copy, writes it, and keeps it only when it is on disk; one write at a time (under
    /// the lock, on a thread of its own: `fsync` blocks).
    private func write<Value: Sendable>(
        _ change: @escaping @Sendable (inout [StateNamespace: [String: VersionedRecord]]) throws(StateStoreError) -> Value
    ) async throws(StateStoreError) -> Value {
        let result = await FileStateStoreIO.run { () -> Result<Value, StateStoreError> in
            Result { () throws(StateStoreError) -> Value in
                try self.state.withLock { (state) throws(StateStoreError) -> Value in
                    try self.checkOpen(state)
                    var records = state.records
                    let value = try change(&records)
                    try Self.replace(path: self.path, with: Self.encode(records))
                    state.records = records
                    return value
                }
            }
        }
        return try result.get()
    }

    private func checkOpen(_ state: State) throws(StateStoreError) {
        guard state.lockDescriptor >= 0 else {
            throw StateStoreError(kind: .failed, message: "The state store \(self.path) is closed", location: self.path)
        }
    }

    private struct StoredRecord: Codable {
        var v: Int64
        var d: Data
    }

    static func encode(_ records: [StateNamespace: [String: VersionedRecord]]) throws(StateStoreError) -> [UInt8] {
        var document: [String: [String: StoredRecord]] = [:]
        for (namespace, entries) in records where !entries.isEmpty {
            document[namespace.name] = entries.mapValues { StoredRecord(v: $0.version, d: $0.data) }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let payload: Data
        do {
            payload = try encoder.encode(document)
        } catch {
            throw StateStoreError(kind: .failed, message: "The state cannot be encoded: \(error)")
        }
        var bytes = Self.magic
        bytes.reserveCapacity(Self.headerLength + payload.count)
        Self.append(Self.formatVersion, to: &bytes)
        Self.append(UInt64(payload.count), to: &bytes)
        Self.append(CRC32.checksum(payload), to: &bytes)
        bytes.append(contentsOf: payload)
        return bytes
    }

    private static func append<Integer: FixedWidthInteger>(_ value: Integer, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }

    private static func integer<Integer: FixedWidthInteger>(_ type: Integer.Type, in bytes: [UInt8], at offset: Int) -> Integer {
        var value: Integer = 0
        for byte in bytes[offset..<(offset + MemoryLayout<Integer>.size)] {
            value = (value << 8) | Integer(byte)
        }
        return value
    }

    /// Reads and checks the file; a missing file is an empty state.
    static func read(path: String) throws(StateStoreError) -> [StateNamespace: [String: VersionedRecord]] {
        let bytes: [UInt8]
        do {
            bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        } catch let error as CocoaError where error.code == .fileReadNoSuchFile {
            return [:]
        } catch {
            if access(path, F_OK) != 0 && errno == ENOENT { return [:] }
            throw StateStoreError(kind: .failed, message: "Cannot read the state file \(path): \(error)", location: path)
        }
        return try Self.decode(bytes, path: path)
    }

    static func decode(_ bytes: [UInt8], path: String) throws(StateStoreError) -> [StateNamespace: [String: VersionedRecord]] {
        func corrupt(_ reason: String) -> StateStoreError {
            StateStoreError(kind: .corrupt, message: "The state file \(path) is corrupt: \(reason)", location: path)
        }
        guard bytes.count >= Self.headerLength else {
            throw corrupt("truncated to \(bytes.count) bytes, shorter than its \(Self.headerLength)-byte header")
        }
        guard Array(bytes[0..<8]) == Self.magic else {
            throw corrupt("it does not start with the state file magic (not a swift-mesos state file?)")
        }
        let version = Self.integer(UInt32.self, in: bytes, at: 8)
        guard version == Self.formatVersion else {
            throw corrupt("format version \(version), this library reads \(Self.formatVersion)")
        }
        let length = Self.integer(UInt64.self, in: bytes, at: 12)
        let actual = UInt64(bytes.count - Self.headerLength)
        guard length == actual else {
            let what = actual < length ? "truncated" : "has trailing bytes"
            throw corrupt("\(what): the header announces \(length) payload bytes, the file has \(actual)")
        }
        let payload = Data(bytes[Self.headerLength...])
        let checksum = Self.integer(UInt32.self, in: bytes, at: 20)
        guard CRC32.checksum(payload) == checksum else {
            throw corrupt("checksum mismatch (the payload was changed or damaged)")
        }
        let document: [String: [String: StoredRecord]]
        do {
            document = try JSONDecoder().decode([String: [String: StoredRecord]].self, from: payload)
        } catch {
            throw corrupt("the payload does not decode: \(error)")
        }
        var records: [StateNamespace: [String: VersionedRecord]] = [:]
        for (name, entries) in document {
            guard StateNamespace.isValid(name) else { throw corrupt("'\(name.prefix(80))' is not a namespace name") }
            let namespace = try StateNamespace(name)
            records[namespace] = entries.mapValues { VersionedRecord(data: $0.d, version: $0.v) }
        }
        return records
    }

    /// Writes `<path>.tmp`, fsyncs it, renames it to `path` and fsyncs the directory.
    static func replace(path: String, with bytes: [UInt8]) throws(StateStoreError) {
        let temporary = path + ".tmp"
        let descriptor = Glibc.open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw Self.ioError("cannot create", temporary) }
        var written = 0
        while written < bytes.count {
            let count = bytes.withUnsafeBytes { buffer in
                Glibc.write(descriptor, buffer.baseAddress! + written, buffer.count - written)
            }
            if count < 0 {
                if errno == EINTR { continue }
                let code = errno
                _ = Glibc.close(descriptor)
                _ = unlink(temporary)
                throw Self.ioError("cannot write", temporary, code: code)
            }
            written += count
        }
        if fsync(descriptor) != 0 {
            let code = errno
            _ = Glibc.close(descriptor)
            _ = unlink(temporary)
            throw Self.ioError("cannot fsync", temporary, code: code)
        }
        _ = Glibc.close(descriptor)
        if rename(temporary, path) != 0 {
            let code = errno
            _ = unlink(temporary)
            throw Self.ioError("cannot rename \(temporary) to", path, code: code)
        }
        let directory = (path as NSString).deletingLastPathComponent
        let directoryDescriptor = Glibc.open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard directoryDescriptor >= 0 else { throw Self.ioError("cannot open the directory of", path) }
        defer { _ = Glibc.close(directoryDescriptor) }
        if fsync(directoryDescriptor) != 0 {
            throw Self.ioError("cannot fsync the directory of", path)
        }
    }

    private static func ioError(_ what: String, _ path: String, code: Int32 = errno) -> StateStoreError {
        StateStoreError(
            kind: .failed, message: "State store: \(what) \(path): \(String(cString: strerror(code))) (errno \(code))",
            location: path
        )
    }
}

/// Runs the file store's blocking work (open, `fsync`, rename) on a thread of its own, never on one of the few
/// threads of Swift's cooperative pool.
enum FileStateStoreIO {
    static func run<Value: Sendable>(_ body: @escaping @Sendable () -> Value) async -> Value {
        await withCheckedContinuation { (continuation: CheckedContinuation<Value, Never>) in
            let thread = Thread { continuation.resume(returning: body()) }
            thread.name = "MesosFramework.FileStateStore"
            thread.start()
        }
    }
}

/// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), for the state file's framing.
enum CRC32 {
    private static let table: [UInt32] = (0..<256).map { index in
        var value = UInt32(index)
        for _ in 0..<8 {
            value = (value & 1) != 0 ? (0xEDB8_8320 ^ (value >> 1)) : (value >> 1)
        }
        return value
    }

    static func checksum(_ data: some Sequence<UInt8>) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in data {
            crc = Self.table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8)
        }
        return crc ^ 0xFFFF_FFFF
    }
}
