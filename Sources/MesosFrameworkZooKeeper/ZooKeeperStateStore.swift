import Foundation
import MesosCore
import MesosFramework
import MesosZooKeeper

/// The ZooKeeper adapter of ``FrameworkStateStore``: one znode per record, `<path>/<namespace>/<key>`, for
/// frameworks whose instances run on several hosts.
///
/// - **Versioned writes.** A record's version is its znode's data version; a write with
///   ``ExpectedVersion/version(_:)`` is a `set` with that version and a write with ``ExpectedVersion/absent`` a
///   `create`, so of two writers expecting the same version exactly one wins; the other gets
///   ``StateStoreError/Kind/conflict``.
/// - **Fencing.** A store bound to a ``LeaderElection/Leadership`` refuses every write once that leadership is
///   not current (``StateStoreError/Kind/fenced``, without asking the server), and sends each write as one atomic
///   multi-operation that first `check`s the leader's election node: the node is ephemeral, so once the leader's
///   session has ended on the server (the only way a successor can be elected) the check fails and the write has
///   no effect, whatever the deposed process still believes. A write the server accepted was accepted while the
///   leader's node existed, before any successor was elected; the successor reads it.
///
/// Keys are stored percent-encoded (everything but `A-Z a-z 0-9 - _`), so any key is a valid znode name.
/// Records must fit a znode (ZooKeeper's `jute.maxbuffer`, 1 MB by default).
public final class ZooKeeperStateStore: FrameworkStateStore {
    /// The client writes and reads go through.
    public let client: ZooKeeperClient
    /// The store's root node, e.g. `/my-framework/state`.
    public let path: String
    /// The leadership every write is fenced by, if any.
    public let leadership: LeaderElection.Leadership?

    /// A store under `path`.
    ///
    /// - Parameters:
    ///   - client: A connected client.
    ///   - path: The root node (created with its ancestors at the first write).
    ///   - leadership: The leadership that fences every write; `nil` for an unfenced store (one writer, tools).
    public init(client: ZooKeeperClient, path: String, leadership: LeaderElection.Leadership? = nil) {
        self.client = client
        self.path = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
        self.leadership = leadership
    }

    /// The same store, fenced by `leadership`.
    ///
    /// - Parameter leadership: The leadership every write must still hold.
    /// - Returns: A store sharing the client and the path.
    public func fenced(by leadership: LeaderElection.Leadership) -> ZooKeeperStateStore {
        ZooKeeperStateStore(client: self.client, path: self.path, leadership: leadership)
    }

    // MARK: - Paths

    private func node(_ namespace: StateNamespace) -> String {
        self.path + "/" + namespace.name
    }

    private func node(_ namespace: StateNamespace, _ key: String) -> String {
        self.node(namespace) + "/" + Self.encode(key)
    }

    /// Percent-encodes every byte but `A-Z a-z 0-9 - _`.
    static func encode(_ key: String) -> String {
        var encoded = ""
        for byte in key.utf8 {
            if (65...90).contains(byte) || (97...122).contains(byte) || (48...57).contains(byte) || byte == 45 || byte == 95 {
                encoded.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                encoded += "%" + (byte < 16 ? "0" : "") + String(byte, radix: 16, uppercase: true)
            }
        }
        return encoded
    }

    /// The key of a znode name, or `nil` when the name is not one this store wrote.
    static func decode(_ name: String) -> String? {
        var bytes: [UInt8] = []
        var iterator = name.utf8.makeIterator()
        while let byte = iterator.next() {
            if byte == 37 {  // %
                guard let high = iterator.next(), let low = iterator.next(),
                    let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16)
                else { return nil }
                bytes.append(value)
            } else {
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func validate(_ key: String) throws(StateStoreError) {
        guard !key.isEmpty, key.utf8.count <= 512, !key.utf8.contains(0) else {
            throw StateStoreError(
                kind: .invalidArgument, message: "'\(key.prefix(80))' is not a record key (1…512 bytes, no NUL)"
            )
        }
    }

    // MARK: - Reading

    /// Every record of a namespace (read with up to 64 requests in flight).
    public func load(_ namespace: StateNamespace) async throws(StateStoreError) -> [String: VersionedRecord] {
        let parent = self.node(namespace)
        let names: [String]
        do {
            names = try await self.client.children(of: parent)
        } catch where error.code == .noNode {
            return [:]
        } catch {
            throw Self.mapped(error)
        }
        var keys: [(name: String, key: String)] = []
        for name in names {
            guard let key = Self.decode(name) else {
                throw StateStoreError(
                    kind: .corrupt, message: "The node \(parent)/\(name) is not a record of this store",
                    location: parent + "/" + name
                )
            }
            keys.append((name, key))
        }
        let client = self.client
        let outcome = await withTaskGroup(
            of: (String, Result<VersionedRecord?, ZooKeeperError>).self,
            returning: Result<[String: VersionedRecord], ZooKeeperError>.self
        ) { group in
            var records: [String: VersionedRecord] = [:]
            var pending = keys[...]
            var failure: ZooKeeperError?
            func launch() {
                guard let next = pending.popFirst() else { return }
                group.addTask {
                    do throws(ZooKeeperError) {
                        let (data, stat) = try await client.get(parent + "/" + next.name)
                        return (next.key, .success(VersionedRecord(data: Data(data), version: Int64(stat.version))))
                    } catch where error.code == .noNode {
                        return (next.key, .success(nil))  // deleted while we read
                    } catch {
                        return (next.key, .failure(error))
                    }
                }
            }
            for _ in 0..<64 { launch() }
            while let (key, result) = await group.next() {
                switch result {
                case .success(let record?): records[key] = record
                case .success(nil): break
                case .failure(let error): failure = failure ?? error
                }
                launch()
            }
            if let failure { return .failure(failure) }
            return .success(records)
        }
        switch outcome {
        case .success(let records): return records
        case .failure(let error): throw Self.mapped(error)
        }
    }

    /// One record.
    public func get(_ namespace: StateNamespace, key: String) async throws(StateStoreError) -> VersionedRecord? {
        try Self.validate(key)
        do {
            let (data, stat) = try await self.client.get(self.node(namespace, key))
            return VersionedRecord(data: Data(data), version: Int64(stat.version))
        } catch where error.code == .noNode {
            return nil
        } catch {
            throw Self.mapped(error)
        }
    }

    // MARK: - Writing

    /// Writes a record if its version is the expected one (fenced when the store is bound to a leadership).
    @discardableResult
    public func put(_ namespace: StateNamespace, key: String, data: Data, expected: ExpectedVersion)
        async throws(StateStoreError) -> Int64
    {
        try Self.validate(key)
        let node = self.node(namespace, key)
        let bytes = [UInt8](data)
        switch expected {
        case .absent:
            return try await self.create(namespace, key, node: node, bytes: bytes, expected: expected)
        case .version(let version):
            guard let wanted = Int32(exactly: version) else {
                throw StateStoreError.conflict(namespace, key, expected: expected, actual: nil, location: node)
            }
            return try await self.set(namespace, key, node: node, bytes: bytes, version: wanted, expected: expected)
        case .any:
            // Set whatever is there, or create; a concurrent create or delete between the two is retried.
            for _ in 0..<8 {
                do {
                    return try await self.set(namespace, key, node: node, bytes: bytes, version: nil, expected: expected)
                } catch where error.kind == .conflict {
                    // A set of any version only conflicts when there is no node: create it.
                    do {
                        return try await self.create(namespace, key, node: node, bytes: bytes, expected: expected)
                    } catch where error.kind == .conflict {
                        continue
                    }
                }
            }
            throw StateStoreError(
                kind: .unavailable, message: "Writes to \(node) keep racing with other writers", location: node
            )
        }
    }

    /// Deletes a record if its version is the expected one (fenced when the store is bound to a leadership).
    public func delete(_ namespace: StateNamespace, key: String, expected: ExpectedVersion) async throws(StateStoreError) {
        try Self.validate(key)
        let node = self.node(namespace, key)
        switch expected {
        case .absent:
            try self.checkFence()
            if let record = try await self.get(namespace, key: key) {
                throw StateStoreError.conflict(namespace, key, expected: expected, actual: record.version, location: node)
            }
        case .any:
            do {
                _ = try await self.write([.delete(path: node, version: nil)], node: node)
            } catch let error as ZooKeeperError where error.code == .noNode {
                return
            } catch {
                throw Self.storeError(error, node: node)
            }
        case .version(let version):
            guard let wanted = Int32(exactly: version) else {
                throw StateStoreError.conflict(namespace, key, expected: expected, actual: nil, location: node)
            }
            do {
                _ = try await self.write([.delete(path: node, version: wanted)], node: node)
            } catch let error as ZooKeeperError where error.code == .noNode || error.code == .versionMismatch {
                throw await self.conflict(namespace, key, node: node, expected: expected)
            } catch {
                throw Self.storeError(error, node: node)
            }
        }
    }

    /// What a store operation throws for an error its own `catch` clauses did not handle: ZooKeeper's mapped,
    /// the store's own as it is, anything else as a failure at `node`.
    private static func storeError(_ error: any Error, node: String) -> StateStoreError {
        switch error {
        case let error as ZooKeeperError: return Self.mapped(error)
        case let error as StateStoreError: return error
        default: return StateStoreError(kind: .failed, message: "\(error)", location: node)
        }
    }

    private func create(
        _ namespace: StateNamespace, _ key: String, node: String, bytes: [UInt8], expected: ExpectedVersion
    ) async throws(StateStoreError) -> Int64 {
        for attempt in 0..<2 {
            do {
                _ = try await self.write([.create(path: node, data: bytes, mode: .persistent)], node: node)
                return 0
            } catch let error as ZooKeeperError where error.code == .nodeExists {
                throw await self.conflict(namespace, key, node: node, expected: expected)
            } catch let error as ZooKeeperError where error.code == .noNode && attempt == 0 {
                // The namespace node is missing: create it (and the root), then try again.
                do {
                    try await self.client.create(self.node(namespace), createParents: true)
                } catch where error.code == .nodeExists {
                } catch {
                    throw Self.mapped(error)
                }
            } catch {
                throw Self.storeError(error, node: node)
            }
        }
        throw StateStoreError(kind: .failed, message: "Cannot create the namespace of \(node)", location: node)
    }

    private func set(
        _ namespace: StateNamespace, _ key: String, node: String, bytes: [UInt8], version: Int32?,
        expected: ExpectedVersion
    ) async throws(StateStoreError) -> Int64 {
        do {
            let results = try await self.write([.set(path: node, data: bytes, version: version)], node: node)
            guard case .set(let stat)? = results.last else {
                throw StateStoreError(kind: .failed, message: "ZooKeeper answered a set of \(node) oddly", location: node)
            }
            return Int64(stat.version)
        } catch let error as ZooKeeperError where error.code == .noNode || error.code == .versionMismatch {
            throw await self.conflict(namespace, key, node: node, expected: expected)
        } catch {
            throw Self.storeError(error, node: node)
        }
    }

    /// Runs the write, after a check of the leader's node when fenced. A failed check is
    /// ``StateStoreError/Kind/fenced``; the write's own failure is thrown as the ``ZooKeeperError``.
    private func write(_ operations: [ZooKeeperClient.Operation], node: String) async throws -> [ZooKeeperClient.OperationResult] {
        try self.checkFence()
        guard let leadership = self.leadership else {
            return try await self.client.multi(operations)
        }
        do {
            return try await self.client.multi([.check(path: leadership.node, version: nil)] + operations)
        } catch where error.failedOperation == 0 {
            throw StateStoreError(
                kind: .fenced,
                message: "Write of \(node) refused: the leader's node \(leadership.node) is gone (leadership "
                    + "\(leadership.term) lost on the server)",
                location: node
            )
        } catch {
            var shifted = error
            shifted.failedOperation = error.failedOperation.map { $0 - 1 }
            throw shifted
        }
    }

    private func checkFence() throws(StateStoreError) {
        guard let leadership = self.leadership else { return }
        guard leadership.isCurrent else {
            throw StateStoreError(
                kind: .fenced, message: "Write refused: leadership \(leadership) was lost", location: leadership.node
            )
        }
    }

    private func conflict(_ namespace: StateNamespace, _ key: String, node: String, expected: ExpectedVersion) async
        -> StateStoreError
    {
        let actual = try? await self.client.exists(node)
        return StateStoreError.conflict(
            namespace, key, expected: expected, actual: (actual ?? nil).map { Int64($0.version) }, location: node
        )
    }

    static func mapped(_ error: ZooKeeperError) -> StateStoreError {
        let kind: StateStoreError.Kind
        switch error.code {
        case .connectionLoss, .operationTimeout, .connectTimeout: kind = .unavailable
        case .versionMismatch, .nodeExists: kind = .conflict
        case .badArguments: kind = .invalidArgument
        default: kind = .failed
        }
        return StateStoreError(kind: kind, message: error.message, location: error.path)
    }
}
