#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
internal import CZooKeeper

/// The answer to one request of ``ZooKeeperClient``, copied out of the C buffers on the completion thread.
enum ZooKeeperReply: Sendable {
    case void(rc: Int32)
    case stat(rc: Int32, stat: ZooKeeperStat?)
    case data(rc: Int32, bytes: [UInt8], stat: ZooKeeperStat?)
    case strings(rc: Int32, names: [String])
    case string(rc: Int32, value: String)

    var rc: Int32 {
        switch self {
        case .void(let rc), .stat(let rc, _), .data(let rc, _, _), .strings(let rc, _), .string(let rc, _): return rc
        }
    }
}

/// Where one request's completion resumes its caller; retained from issuing the request until its completion
/// ran (the C client calls every completion exactly once, with `ZCLOSING` at the latest inside `zookeeper_close`).
/// It also keeps the C memory a multi-operation writes into alive until then.
final class ZooKeeperReplyBox: @unchecked Sendable {
    let continuation: CheckedContinuation<ZooKeeperReply, Never>
    let resources: AnyObject?

    init(continuation: CheckedContinuation<ZooKeeperReply, Never>, resources: AnyObject? = nil) {
        self.continuation = continuation
        self.resources = resources
    }

    /// Takes the box back (balancing the retain of issuing) and resumes its caller.
    static func complete(_ data: UnsafeRawPointer?, with reply: ZooKeeperReply) {
        guard let data else { return }
        let box = Unmanaged<ZooKeeperReplyBox>.fromOpaque(data).takeRetainedValue()
        box.continuation.resume(returning: reply)
    }

    /// Recovers the box without taking it back (a multi's completion reads its resources first).
    static func peek(_ data: UnsafeRawPointer?) -> ZooKeeperReplyBox? {
        guard let data else { return nil }
        return Unmanaged<ZooKeeperReplyBox>.fromOpaque(data).takeUnretainedValue()
    }
}

extension ZooKeeperStat {
    init(_ stat: Stat) {
        self.init(
            version: stat.version, childrenVersion: stat.cversion, childCount: stat.numChildren,
            dataLength: stat.dataLength, ephemeralOwner: stat.ephemeralOwner,
            creationZxid: stat.czxid, modificationZxid: stat.mzxid
        )
    }
}

/// The C completions of ``ZooKeeperClient``'s requests; `data` is a retained ``ZooKeeperReplyBox``.
enum ZooKeeperReplyCallbacks {
    static let void: void_completion_t = { rc, data in
        ZooKeeperReplyBox.complete(data, with: .void(rc: rc))
    }

    static let stat: stat_completion_t = { rc, stat, data in
        let copied = (rc == ZOK.rawValue) ? stat.map { ZooKeeperStat($0.pointee) } : nil
        ZooKeeperReplyBox.complete(data, with: .stat(rc: rc, stat: copied))
    }

    static let data: data_completion_t = { rc, value, length, stat, data in
        var bytes: [UInt8] = []
        if rc == ZOK.rawValue, let value, length > 0 {
            bytes = Array(UnsafeRawBufferPointer(start: value, count: Int(length)))
        }
        let copied = (rc == ZOK.rawValue) ? stat.map { ZooKeeperStat($0.pointee) } : nil
        ZooKeeperReplyBox.complete(data, with: .data(rc: rc, bytes: bytes, stat: copied))
    }

    static let strings: strings_completion_t = { rc, strings, data in
        var names: [String] = []
        if rc == ZOK.rawValue, let vector = strings?.pointee, vector.count > 0, let items = vector.data {
            names.reserveCapacity(Int(vector.count))
            for index in 0..<Int(vector.count) {
                if let item = items[index] { names.append(String(cString: item)) }
            }
        }
        ZooKeeperReplyBox.complete(data, with: .strings(rc: rc, names: names))
    }

    static let string: string_completion_t = { rc, value, data in
        let text = (rc == ZOK.rawValue) ? value.map { String(cString: $0) } ?? "" : ""
        ZooKeeperReplyBox.complete(data, with: .string(rc: rc, value: text))
    }

    /// A multi's completion: the per-operation results are in the box's ``ZooKeeperMultiResources``.
    static let multi: void_completion_t = { rc, data in
        ZooKeeperReplyBox.complete(data, with: .void(rc: rc))
    }
}

/// The C memory of one `zoo_amulti`: the operations, the strings they point to, the result array, a stat per
/// set and a path buffer per create. Freed when the request's box goes (after its completion).
final class ZooKeeperMultiResources {
    static let pathCapacity = 1024
    let count: Int
    let operations: UnsafeMutablePointer<zoo_op_t>
    let results: UnsafeMutablePointer<zoo_op_result_t>
    let stats: UnsafeMutablePointer<Stat>
    let paths: UnsafeMutablePointer<CChar>
    private var strings: [UnsafeMutablePointer<CChar>] = []
    private var buffers: [UnsafeMutableRawPointer] = []
    let acl: ZooKeeperACLStorage

    init(_ operations: [ZooKeeperClient.Operation], acl: ZooKeeperACLStorage) {
        self.count = operations.count
        self.acl = acl
        self.operations = .allocate(capacity: max(1, operations.count))
        self.results = .allocate(capacity: max(1, operations.count))
        self.results.initialize(repeating: zoo_op_result_t(), count: max(1, operations.count))
        self.stats = .allocate(capacity: max(1, operations.count))
        self.stats.initialize(repeating: Stat(), count: max(1, operations.count))
        self.paths = .allocate(capacity: max(1, operations.count) * Self.pathCapacity)
        self.paths.initialize(repeating: 0, count: max(1, operations.count) * Self.pathCapacity)
        for (index, operation) in operations.enumerated() {
            let op = self.operations + index
            op.initialize(to: zoo_op_t())
            switch operation {
            case .create(let path, let data, let mode):
                let (bytes, length) = self.copy(data)
                zoo_create_op_init(
                    op, self.copy(path), bytes, length, acl.vector, mode.flags,
                    self.paths + index * Self.pathCapacity, Int32(Self.pathCapacity)
                )
            case .set(let path, let data, let version):
                let (bytes, length) = self.copy(data)
                zoo_set_op_init(op, self.copy(path), bytes, length, version ?? -1, self.stats + index)
            case .delete(let path, let version):
                zoo_delete_op_init(op, self.copy(path), version ?? -1)
            case .check(let path, let version):
                zoo_check_op_init(op, self.copy(path), version ?? -1)
            }
        }
    }

    deinit {
        for string in self.strings { free(string) }
        for buffer in self.buffers { buffer.deallocate() }
        self.operations.deallocate()
        self.results.deallocate()
        self.stats.deallocate()
        self.paths.deallocate()
    }

    private func copy(_ text: String) -> UnsafeMutablePointer<CChar> {
        let copy = strdup(text)!
        self.strings.append(copy)
        return copy
    }

    private func copy(_ data: [UInt8]) -> (UnsafePointer<CChar>?, Int32) {
        guard !data.isEmpty else { return (nil, -1) }
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: data.count, alignment: 1)
        data.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress!, byteCount: data.count) }
        self.buffers.append(buffer)
        return (UnsafePointer(buffer.assumingMemoryBound(to: CChar.self)), Int32(data.count))
    }

    /// The path a create at `index` produced.
    func createdPath(_ index: Int) -> String {
        String(cString: self.paths + index * Self.pathCapacity)
    }
}

/// One ACL vector in C memory (one entry), alive as long as this object.
final class ZooKeeperACLStorage: @unchecked Sendable {
    let vector: UnsafeMutablePointer<ACL_vector>
    private let entry: UnsafeMutablePointer<ACL>
    private let scheme: UnsafeMutablePointer<CChar>
    private let id: UnsafeMutablePointer<CChar>

    /// `world:anyone` (open) or `auth:` (only the identities the session authenticated as), all permissions.
    init(creatorOnly: Bool) {
        self.scheme = strdup(creatorOnly ? "auth" : "world")!
        self.id = strdup(creatorOnly ? "" : "anyone")!
        self.entry = .allocate(capacity: 1)
        self.entry.initialize(to: ACL(perms: ZOO_PERM_ALL, id: Id(scheme: self.scheme, id: self.id)))
        self.vector = .allocate(capacity: 1)
        self.vector.initialize(to: ACL_vector(count: 1, data: self.entry))
    }

    deinit {
        self.vector.deallocate()
        self.entry.deallocate()
        free(self.scheme)
        free(self.id)
    }
}
