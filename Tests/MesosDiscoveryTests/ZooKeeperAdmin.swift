import CZooKeeper
import Foundation
import MesosCore

/// A small synchronous ZooKeeper client for the tests: it plays the masters, creating and deleting election
/// nodes through the same C library the detector uses.
final class ZooKeeperAdmin {
    enum ACLKind {
        /// world:anyone, all permissions.
        case open
        /// Only the identities this session authenticated as (`auth` scheme), all permissions.
        case creatorOnly
    }

    struct Failure: Error, CustomStringConvertible {
        let operation: String
        let rc: Int32
        var description: String { "\(self.operation): \(String(cString: zerror(self.rc))) (\(self.rc))" }
    }

    private var handle: OpaquePointer?

    /// Connects (waiting up to `timeout`).
    init(servers: String, sessionTimeout: Duration = .seconds(10), digest: String? = nil, timeout: Duration = .seconds(15))
        async throws
    {
        zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR)
        let milliseconds = Int32(clamping: sessionTimeout.inMillisecondsRoundedUp)
        guard let handle = zookeeper_init(servers, adminWatcher, milliseconds, nil, nil, 0) else {
            throw Failure(operation: "zookeeper_init(\(servers))", rc: ZSYSTEMERROR.rawValue)
        }
        self.handle = handle
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while zoo_state(handle) != ZOO_CONNECTED_STATE {
            guard clock.now < deadline else {
                Self.closeInBackground(handle)
                self.handle = nil
                throw Failure(operation: "connect to \(servers)", rc: ZCONNECTIONLOSS.rawValue)
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        if let digest {
            let rc = zoo_add_auth(handle, "digest", digest, Int32(digest.utf8.count), nil, nil)
            guard rc == ZOK.rawValue else { throw Failure(operation: "zoo_add_auth", rc: rc) }
        }
    }

    deinit {
        self.close()
    }

    /// Ends the session (its ephemeral nodes go with it) without waiting; for deinit and `defer`.
    /// `zookeeper_close` blocks (seconds when the server is gone), so it runs on a thread of its own.
    func close() {
        if let handle = self.handle {
            Self.closeInBackground(handle)
            self.handle = nil
        }
    }

    /// Ends the session and returns once `zookeeper_close` has returned (the server has removed the session's
    /// ephemeral nodes), waiting on a thread of its own rather than on the caller's cooperative thread.
    func closeAndWait() async {
        guard let handle = self.handle else { return }
        self.handle = nil
        let closing = Handle(pointer: handle)
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            Thread {
                zookeeper_close(closing.pointer)
                continuation.resume()
            }.start()
        }
    }

    private struct Handle: @unchecked Sendable {
        let pointer: OpaquePointer
    }

    private static func closeInBackground(_ handle: OpaquePointer) {
        let closing = Handle(pointer: handle)
        Thread {
            zookeeper_close(closing.pointer)
        }.start()
    }

    /// Runs a synchronous call, retrying while the connection is being re-established (after a restart).
    private func retrying(_ operation: String, _ call: (OpaquePointer) -> Int32) throws {
        guard let handle = self.handle else { throw Failure(operation: operation, rc: ZCLOSING.rawValue) }
        var rc = call(handle)
        var attempts = 0
        while (rc == ZCONNECTIONLOSS.rawValue || rc == ZOPERATIONTIMEOUT.rawValue) && attempts < 100 {
            usleep(100_000)
            attempts += 1
            rc = call(handle)
        }
        guard rc == ZOK.rawValue else { throw Failure(operation: operation, rc: rc) }
    }

    /// Creates a node; returns its actual path (with the sequence number for sequential modes).
    @discardableResult
    func create(_ path: String, data: [UInt8] = [], mode: Int32 = ZOO_PERSISTENT, acl: ACLKind = .open) throws -> String {
        var created = [CChar](repeating: 0, count: 1024)
        let capacity = Int32(created.count)
        try withACL(acl) { vector in
            try data.withUnsafeBufferPointer { bytes in
                let value = bytes.baseAddress.map { UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self) }
                try created.withUnsafeMutableBufferPointer { buffer in
                    try self.retrying("create \(path)") { handle in
                        zoo_create(
                            handle, path, value, value == nil ? -1 : Int32(bytes.count), vector, mode,
                            buffer.baseAddress, capacity
                        )
                    }
                }
            }
        }
        return String(decoding: created.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Creates `path` and its ancestors (persistent, open), ignoring those that exist.
    func ensure(_ path: String, acl: ACLKind = .open) throws {
        var current = ""
        for component in path.split(separator: "/") {
            current += "/" + component
            do {
                try self.create(current, acl: acl)
            } catch let failure as Failure where failure.rc == ZNODEEXISTS.rawValue {
                continue
            }
        }
    }

    func delete(_ path: String) throws {
        try self.retrying("delete \(path)") { handle in zoo_delete(handle, path, -1) }
    }

    func children(_ path: String) throws -> [String] {
        var vector = String_vector(count: 0, data: nil)
        try self.retrying("children \(path)") { handle in zoo_get_children(handle, path, 0, &vector) }
        defer { deallocate_String_vector(&vector) }
        return (0..<Int(vector.count)).compactMap { index in vector.data[index].map { String(cString: $0) } }
    }

    /// Deletes `path` and everything below it; a missing path is fine.
    func deleteRecursively(_ path: String) throws {
        let below: [String]
        do {
            below = try self.children(path)
        } catch let failure as Failure where failure.rc == ZNONODE.rawValue {
            return
        }
        for child in below {
            try self.deleteRecursively(path + "/" + child)
        }
        try self.delete(path)
    }

    private func withACL<Result>(_ kind: ACLKind, _ body: (UnsafeMutablePointer<ACL_vector>) throws -> Result) rethrows
        -> Result
    {
        let scheme = strdup(kind == .open ? "world" : "auth")
        let id = strdup(kind == .open ? "anyone" : "")
        defer {
            free(scheme)
            free(id)
        }
        var entry = ACL(perms: ZOO_PERM_ALL, id: Id(scheme: scheme, id: id))
        return try withUnsafeMutablePointer(to: &entry) { entryPointer in
            var vector = ACL_vector(count: 1, data: entryPointer)
            return try withUnsafeMutablePointer(to: &vector) { try body($0) }
        }
    }
}

/// The admin session's watcher: the tests poll `zoo_state` instead.
private let adminWatcher: watcher_fn = { _, _, _, _, _ in }

extension ZooKeeperAdmin {
    /// A MasterInfo as a real Mesos master writes it (JSON), for 127.0.0.1:`port` named `host`.
    static func masterInfoJSON(port: Int, host: String = "localhost", id: String = UUID().uuidString) throws -> [UInt8] {
        try MesosCodec(.json).encode(Self.masterInfo(port: port, host: host, id: id))
    }

    static func masterInfo(port: Int, host: String = "localhost", id: String = UUID().uuidString) -> MasterInfo {
        var info = MasterInfo()
        info.id = id
        info.ip = 16_777_343  // 127.0.0.1 in network byte order
        info.port = UInt32(port)
        info.pid = "master@127.0.0.1:\(port)"
        info.hostname = host
        info.version = "1.11.0"
        info.address.hostname = host
        info.address.ip = "127.0.0.1"
        info.address.port = Int32(port)
        return info
    }
}
