import Foundation
import MesosCore

/// A group of records in a ``FrameworkStateStore``, e.g. the desired specs or the launched tasks.
///
/// Names are 1…64 characters of `a-z`, `0-9`, `-` and `_`.
public struct StateNamespace: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The namespace's name.
    public let name: String

    /// A namespace.
    ///
    /// - Parameter name: 1…64 characters of `a-z`, `0-9`, `-`, `_`.
    /// - Throws: ``StateStoreError/Kind/invalidArgument`` for another name.
    public init(_ name: String) throws(StateStoreError) {
        guard Self.isValid(name) else {
            throw StateStoreError(
                kind: .invalidArgument,
                message: "'\(name.prefix(80))' is not a namespace name (1…64 of a-z, 0-9, - and _)"
            )
        }
        self.name = name
    }

    private init(known name: String) {
        self.name = name
    }

    static func isValid(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 64
            && name.utf8.allSatisfy { (97...122).contains($0) || (48...57).contains($0) || $0 == 45 || $0 == 95 }
    }

    /// The framework's own records: its framework id (``FrameworkStateStore/frameworkIDKey``).
    public static let framework = StateNamespace(known: "framework")
    /// The desired task specs, keyed by spec id (the runtime defines their encoding).
    public static let specs = StateNamespace(known: "specs")
    /// The runtime's records of launched tasks, keyed by task id.
    public static let tasks = StateNamespace(known: "tasks")
    /// Each task's last known `TaskStatus` (protobuf), keyed by task id.
    public static let statuses = StateNamespace(known: "statuses")

    /// Orders by name.
    public static func < (lhs: StateNamespace, rhs: StateNamespace) -> Bool { lhs.name < rhs.name }

    /// The name.
    public var description: String { self.name }
}

/// A stored record and its version.
public struct VersionedRecord: Sendable, Hashable {
    /// The record's bytes (opaque to the store).
    public var data: Data
    /// The record's version: 0 when created, one more at each write. A write names the version it expects.
    public var version: Int64

    /// Creates a record.
    public init(data: Data, version: Int64) {
        self.data = data
        self.version = version
    }
}

/// What a write expects of the record it replaces (compare-and-set).
public enum ExpectedVersion: Sendable, Hashable, CustomStringConvertible {
    /// The record must not exist (a create).
    case absent
    /// The record must exist with this version.
    case version(Int64)
    /// Whatever there is (last writer wins; for records only one writer touches).
    case any

    /// `absent`, `version N` or `any`.
    public var description: String {
        switch self {
        case .absent: return "absent"
        case .version(let version): return "version \(version)"
        case .any: return "any"
        }
    }
}

/// Why a state store refused or failed an operation.
public struct StateStoreError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of failure.
    public enum Kind: Sendable, Hashable, CustomStringConvertible {
        /// A versioned write lost: the record's version is not the expected one (another writer won).
        case conflict
        /// The stored state is damaged (truncated, bad checksum, undecodable); ``StateStoreError/location`` names
        /// the file or node. Never read as an empty state.
        case corrupt
        /// Another writer holds the store (a file store's lock).
        case locked
        /// The store is bound to a leadership that was lost: it refuses every write (fencing).
        case fenced
        /// The backend cannot be reached now (connection loss, timeout); the write may or may not have happened.
        case unavailable
        /// A bad namespace, key or record (too large, …).
        case invalidArgument
        /// The backend failed otherwise (I/O error, permissions, closed client).
        case failed

        /// The kind's name.
        public var description: String {
            switch self {
            case .conflict: return "conflict"
            case .corrupt: return "corrupt"
            case .locked: return "locked"
            case .fenced: return "fenced"
            case .unavailable: return "unavailable"
            case .invalidArgument: return "invalidArgument"
            case .failed: return "failed"
            }
        }
    }

    /// The kind of failure.
    public var kind: Kind
    /// A sentence for people.
    public var message: String
    /// The file or node concerned, if any.
    public var location: String?
    /// For a conflict: the namespace and key written.
    public var record: String?
    /// For a conflict: what the write expected.
    public var expected: ExpectedVersion?
    /// For a conflict: the version found (`nil`: no record).
    public var actualVersion: Int64?

    /// Creates an error.
    public init(
        kind: Kind, message: String, location: String? = nil, record: String? = nil,
        expected: ExpectedVersion? = nil, actualVersion: Int64? = nil
    ) {
        self.kind = kind
        self.message = message
        self.location = location
        self.record = record
        self.expected = expected
        self.actualVersion = actualVersion
    }

    /// A conflict on `namespace/key`.
    public static func conflict(
        _ namespace: StateNamespace, _ key: String, expected: ExpectedVersion, actual: Int64?, location: String? = nil
    ) -> StateStoreError {
        let found = actual.map { "version \($0)" } ?? "no record"
        return StateStoreError(
            kind: .conflict,
            message: "Write of \(namespace)/\(key) expected \(expected) but found \(found)",
            location: location, record: "\(namespace)/\(key)", expected: expected, actualVersion: actual
        )
    }

    /// `kind: message`.
    public var description: String { "\(self.kind): \(self.message)" }
}

/// The port through which the framework runtime keeps its state: the framework id, the desired specs, what it
/// launched and each task's last known status, as versioned records in namespaces.
///
/// Every write is a compare-and-set on the record's version (``ExpectedVersion``), so two writers can never both
/// win: the loser gets ``StateStoreError/Kind/conflict``. A write returns only once the state is durable (in
/// the file, or acknowledged by a ZooKeeper quorum): the runtime persists first, then acts ("ack after
/// persist"). Adapters: ``InMemoryStateStore`` (tests, the reference semantics), ``FileStateStore`` (one host)
/// and `ZooKeeperStateStore` (module `MesosFrameworkZooKeeper`; fenced by a leadership).
///
/// Keys are non-empty strings of at most 512 UTF-8 bytes without NUL.
public protocol FrameworkStateStore: Sendable {
    /// Every record of a namespace.
    ///
    /// - Parameter namespace: The namespace.
    /// - Returns: The records by key (empty when there are none).
    /// - Throws: ``StateStoreError`` (``StateStoreError/Kind/corrupt`` for damaged state, never an empty result).
    func load(_ namespace: StateNamespace) async throws(StateStoreError) -> [String: VersionedRecord]

    /// One record.
    ///
    /// - Parameters:
    ///   - namespace: The namespace.
    ///   - key: The record's key.
    /// - Returns: The record, or `nil`.
    /// - Throws: ``StateStoreError``.
    func get(_ namespace: StateNamespace, key: String) async throws(StateStoreError) -> VersionedRecord?

    /// Writes a record if its current version is the expected one.
    ///
    /// - Parameters:
    ///   - namespace: The namespace.
    ///   - key: The record's key.
    ///   - data: The record's bytes.
    ///   - expected: What the record must be before the write.
    /// - Returns: The record's new version.
    /// - Throws: ``StateStoreError`` (``StateStoreError/Kind/conflict`` when the version differs,
    ///   ``StateStoreError/Kind/fenced`` when the store's leadership is lost).
    @discardableResult
    func put(_ namespace: StateNamespace, key: String, data: Data, expected: ExpectedVersion)
        async throws(StateStoreError) -> Int64

    /// Deletes a record if its current version is the expected one.
    ///
    /// - Parameters:
    ///   - namespace: The namespace.
    ///   - key: The record's key.
    ///   - expected: `.version(n)` to delete only that version; `.any` to delete whatever there is (no error
    ///     when there is nothing); `.absent` is a conflict when the record exists.
    /// - Throws: ``StateStoreError``.
    func delete(_ namespace: StateNamespace, key: String, expected: ExpectedVersion) async throws(StateStoreError)
}

extension FrameworkStateStore {
    /// The key of the framework id in ``StateNamespace/framework``.
    public static var frameworkIDKey: String { "framework-id" }

    /// The stored framework id, if any.
    ///
    /// - Throws: ``StateStoreError``.
    public func loadFrameworkID() async throws(StateStoreError) -> FrameworkID? {
        guard let record = try await self.get(.framework, key: Self.frameworkIDKey) else { return nil }
        guard let value = String(data: record.data, encoding: .utf8), !value.isEmpty else {
            throw StateStoreError(kind: .corrupt, message: "The stored framework id is not UTF-8 text")
        }
        return FrameworkID(value)
    }

    /// Stores the framework id (after the first SUBSCRIBED), replacing any.
    ///
    /// - Parameter id: The framework id.
    /// - Throws: ``StateStoreError``.
    public func saveFrameworkID(_ id: FrameworkID) async throws(StateStoreError) {
        try await self.put(.framework, key: Self.frameworkIDKey, data: Data(id.value.utf8), expected: .any)
    }

    /// Stores a task's last known status under its task id, in ``StateNamespace/statuses`` (protobuf).
    ///
    /// - Parameters:
    ///   - status: The status.
    ///   - expected: What the record must be before the write (default: whatever there is).
    /// - Returns: The record's new version.
    /// - Throws: ``StateStoreError``.
    @discardableResult
    public func saveStatus(_ status: TaskStatus, expected: ExpectedVersion = .any) async throws(StateStoreError) -> Int64 {
        let bytes: [UInt8]
        do {
            bytes = try MesosCodec(.protobuf).encode(status)
        } catch {
            throw StateStoreError(kind: .invalidArgument, message: "The status cannot be encoded: \(error.message)")
        }
        return try await self.put(.statuses, key: status.taskID.value, data: Data(bytes), expected: expected)
    }

    /// Every task's last known status, by task id, with its record version.
    ///
    /// - Throws: ``StateStoreError`` (``StateStoreError/Kind/corrupt`` naming a record that does not decode).
    public func loadStatuses() async throws(StateStoreError) -> [String: (status: TaskStatus, version: Int64)] {
        var statuses: [String: (status: TaskStatus, version: Int64)] = [:]
        for (key, record) in try await self.load(.statuses) {
            do {
                let status = try MesosCodec(.protobuf).decode(TaskStatus.self, from: [UInt8](record.data)[...])
                statuses[key] = (status, record.version)
            } catch {
                throw StateStoreError(
                    kind: .corrupt, message: "The status record \(key) does not decode: \(error.message)",
                    record: "statuses/\(key)"
                )
            }
        }
        return statuses
    }
}

/// Checks a key: non-empty, at most 512 UTF-8 bytes, no NUL.
func validateStateKey(_ key: String) throws(StateStoreError) {
    guard !key.isEmpty, key.utf8.count <= 512, !key.utf8.contains(0) else {
        throw StateStoreError(
            kind: .invalidArgument, message: "'\(key.prefix(80))' is not a record key (1…512 bytes, no NUL)"
        )
    }
}

/// A record as a store keeps it: its bytes (in any form) and its version.
protocol StoredRecord {
    var version: Int64 { get }
    init(data: Data, version: Int64)
}

extension VersionedRecord: StoredRecord {}

/// The reference semantics of a versioned write on a map of records: the new version, or the conflict.
func applyPut<Record: StoredRecord>(
    _ records: inout [String: Record], namespace: StateNamespace, key: String, data: Data,
    expected: ExpectedVersion
) throws(StateStoreError) -> Int64 {
    let current = records[key]
    switch (expected, current) {
    case (.absent, nil), (.any, nil):
        records[key] = Record(data: data, version: 0)
        return 0
    case (.version(let wanted), let record?) where record.version == wanted:
        records[key] = Record(data: data, version: wanted + 1)
        return wanted + 1
    case (.any, let record?):
        records[key] = Record(data: data, version: record.version + 1)
        return record.version + 1
    default:
        throw StateStoreError.conflict(namespace, key, expected: expected, actual: current?.version)
    }
}

/// The reference semantics of a versioned delete.
func applyDelete<Record: StoredRecord>(
    _ records: inout [String: Record], namespace: StateNamespace, key: String, expected: ExpectedVersion
) throws(StateStoreError) {
    let current = records[key]
    switch (expected, current) {
    case (.any, _), (.absent, nil):
        records[key] = nil
    case (.version(let wanted), let record?) where record.version == wanted:
        records[key] = nil
    default:
        throw StateStoreError.conflict(namespace, key, expected: expected, actual: current?.version)
    }
}

/// The in-memory adapter of ``FrameworkStateStore``: the reference semantics, for tests.
public final class InMemoryStateStore: FrameworkStateStore {
    /// A record's bytes in an array: one allocation, where a `Data` of more than a few bytes takes two (its
    /// storage object and its bytes), which is most of a record's cost with many small records.
    private struct Compact: StoredRecord {
        var bytes: [UInt8]
        var version: Int64

        init(data: Data, version: Int64) {
            self.bytes = [UInt8](data)
            self.version = version
        }

        var record: VersionedRecord { VersionedRecord(data: Data(self.bytes), version: self.version) }
    }

    private let records: LockedValue<[StateNamespace: [String: Compact]]>

    /// An empty store.
    public init() {
        self.records = LockedValue([:])
    }

    /// Every record of a namespace.
    public func load(_ namespace: StateNamespace) async throws(StateStoreError) -> [String: VersionedRecord] {
        self.records.withLock { ($0[namespace] ?? [:]).mapValues(\.record) }
    }

    /// One record.
    public func get(_ namespace: StateNamespace, key: String) async throws(StateStoreError) -> VersionedRecord? {
        try validateStateKey(key)
        return self.records.withLock { $0[namespace]?[key]?.record }
    }

    /// Writes a record if its version is the expected one.
    @discardableResult
    public func put(_ namespace: StateNamespace, key: String, data: Data, expected: ExpectedVersion)
        async throws(StateStoreError) -> Int64
    {
        try validateStateKey(key)
        return try self.records.withLock { (all) throws(StateStoreError) -> Int64 in
            // In place: a copy of the namespace's map taken out and put back would copy every record per write.
            try applyPut(&all[namespace, default: [:]], namespace: namespace, key: key, data: data, expected: expected)
        }
    }

    /// Deletes a record if its version is the expected one.
    public func delete(_ namespace: StateNamespace, key: String, expected: ExpectedVersion) async throws(StateStoreError) {
        try validateStateKey(key)
        try self.records.withLock { (all) throws(StateStoreError) in
            try applyDelete(&all[namespace, default: [:]], namespace: namespace, key: key, expected: expected)
        }
    }
}
