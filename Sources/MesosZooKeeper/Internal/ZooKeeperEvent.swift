/// What the C client reports, marshalled from its completion thread onto the Swift side.
enum ZooKeeperEvent: Sendable {
    /// The session changed state (`ZOO_CONNECTED_STATE`, `ZOO_CONNECTING_STATE`, `ZOO_EXPIRED_SESSION_STATE`, …).
    case session(state: Int32)
    /// A watch fired (`ZOO_CHILD_EVENT`, `ZOO_DELETED_EVENT`, `ZOO_CREATED_EVENT`, …) for `path`.
    case watch(type: Int32, path: String)
    /// The answer to `zoo_aget_children`: a ZooKeeper return code and the child names.
    case children(rc: Int32, names: [String])
    /// The answer to `zoo_aget`: a return code and the node's data.
    case data(rc: Int32, bytes: [UInt8])
    /// The answer to `zoo_aexists`: a return code (`ZOK` or `ZNONODE`).
    case exists(rc: Int32)
    /// The answer to `zoo_add_auth`.
    case authenticated(rc: Int32)
    /// A deadline set with ``ZooKeeperSession/setDeadline(after:)`` passed.
    case deadline(token: UInt64)
}

/// The receiving end of the C callbacks: one per session, kept alive (retained once) until `zookeeper_close`
/// has returned, after which the C client calls nothing any more.
final class ZooKeeperEventSink: Sendable {
    let continuation: AsyncStream<ZooKeeperEvent>.Continuation

    init(continuation: AsyncStream<ZooKeeperEvent>.Continuation) {
        self.continuation = continuation
    }

    /// Recovers the sink from a C context pointer (not retained).
    static func from(_ pointer: UnsafeRawPointer?) -> ZooKeeperEventSink? {
        guard let pointer else { return nil }
        return Unmanaged<ZooKeeperEventSink>.fromOpaque(pointer).takeUnretainedValue()
    }
}
