import Foundation
import MesosCore
internal import CZooKeeper

/// One ZooKeeper session through the official C client (`libzookeeper_mt`), driven from one Swift task.
///
/// The C client runs its own I/O and completion threads; every callback is turned into a ``ZooKeeperEvent``
/// on an `AsyncStream` that the owner reads. Requests are issued one at a time: a request method sends it and
/// reads events until its answer arrives, keeping the other events (watches, session changes) for
/// ``nextEvent()``. Closing (explicitly or on deinit) calls `zookeeper_close`, which ends the session on the
/// server; it must not run on the C client's own threads, and never does because the C side only holds the
/// sink, never the session.
final class ZooKeeperSession {
    private var handle: OpaquePointer?
    private let sink: Unmanaged<ZooKeeperEventSink>
    private var events: AsyncStream<ZooKeeperEvent>.Iterator
    private var buffered: [ZooKeeperEvent] = []
    private var lastToken: UInt64 = 0

    /// Lowers the C client's log level once per process: only errors reach stderr.
    private static let quietLogging: Void = {
        zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR)
    }()

    /// Starts connecting; the first ``ZooKeeperEvent/session(state:)`` tells how that went.
    ///
    /// - Parameters:
    ///   - servers: The connect string, `host:port[,host:port…]`.
    ///   - sessionTimeout: The session timeout asked of the server (it clamps it to its own limits).
    ///   - digest: `user:password` for ZooKeeper's `digest` scheme, if any.
    /// - Throws: ``MesosError/Code/transportFailure`` when the C client refuses to start.
    init(servers: String, sessionTimeout: Duration, digest: String?) throws(MesosError) {
        _ = Self.quietLogging
        let (stream, continuation) = AsyncStream<ZooKeeperEvent>.makeStream(bufferingPolicy: .unbounded)
        self.events = stream.makeAsyncIterator()
        self.sink = Unmanaged.passRetained(ZooKeeperEventSink(continuation: continuation))
        let milliseconds = Int32(clamping: sessionTimeout.components.seconds * 1000
            + sessionTimeout.components.attoseconds / 1_000_000_000_000_000)
        guard let handle = zookeeper_init(servers, ZooKeeperCallbacks.watcher, milliseconds, nil, self.sink.toOpaque(), 0)
        else {
            let code = errno
            continuation.finish()
            self.sink.release()
            throw MesosError(
                code: .transportFailure,
                message: "zookeeper_init(\(servers)) failed: errno \(code)"
            )
        }
        self.handle = handle
        if let digest {
            let rc = zoo_add_auth(
                handle, "digest", digest, Int32(clamping: digest.utf8.count),
                ZooKeeperCallbacks.authenticated, UnsafeRawPointer(self.sink.toOpaque())
            )
            if rc != ZOK.rawValue {
                self.close()
                throw MesosError(
                    code: .authenticationFailed,
                    message: "zoo_add_auth(digest) failed: \(ZooKeeperSession.describe(rc))"
                )
            }
        }
    }

    deinit {
        self.close()
    }

    /// Ends the session (`zookeeper_close`) and the event stream; idempotent.
    func close() {
        guard let handle = self.handle else { return }
        self.handle = nil
        zookeeper_close(handle)
        // No callback runs after zookeeper_close has returned: the sink may go.
        self.sink.takeUnretainedValue().continuation.finish()
        self.sink.release()
    }

    /// The session id the server assigned (0 before the first connection).
    var sessionID: Int64 {
        guard let handle = self.handle, let client = zoo_client_id(handle) else { return 0 }
        return client.pointee.client_id
    }

    /// Delivers ``ZooKeeperEvent/deadline(token:)`` after `delay`.
    ///
    /// - Parameter delay: How long from now.
    /// - Returns: The token the event will carry.
    func setDeadline(after delay: Duration) -> UInt64 {
        self.lastToken += 1
        let token = self.lastToken
        let continuation = self.sink.takeUnretainedValue().continuation
        let nanoseconds = Int(clamping: delay.components.seconds * 1_000_000_000
            + delay.components.attoseconds / 1_000_000_000)
        DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(nanoseconds)) {
            continuation.yield(.deadline(token: token))
        }
        return token
    }

    /// The next event not consumed by a request.
    ///
    /// - Returns: The event, or `nil` when the task was cancelled (the stream then ends for good) or the
    ///   session was closed.
    func nextEvent() async -> ZooKeeperEvent? {
        if !self.buffered.isEmpty {
            return self.buffered.removeFirst()
        }
        return await self.events.next()
    }

    /// Lists the children of `path`, leaving a child watch when `watch` is set.
    ///
    /// - Returns: A ZooKeeper return code and the names (empty unless `ZOK`).
    /// - Throws: `CancellationError` when the task is cancelled while waiting.
    func children(of path: String, watch: Bool) async throws -> (rc: Int32, names: [String]) {
        guard let handle = self.handle else { return (ZCLOSING.rawValue, []) }
        let rc = zoo_aget_children(handle, path, watch ? 1 : 0, ZooKeeperCallbacks.children, self.context)
        guard rc == ZOK.rawValue else { return (rc, []) }
        return try await self.awaitReply { event in
            if case .children(let rc, let names) = event { return (rc, names) }
            return nil
        }
    }

    /// Reads the data of `path` (no watch).
    ///
    /// - Returns: A ZooKeeper return code and the bytes (empty unless `ZOK`).
    /// - Throws: `CancellationError` when the task is cancelled while waiting.
    func data(of path: String) async throws -> (rc: Int32, bytes: [UInt8]) {
        guard let handle = self.handle else { return (ZCLOSING.rawValue, []) }
        let rc = zoo_aget(handle, path, 0, ZooKeeperCallbacks.data, self.context)
        guard rc == ZOK.rawValue else { return (rc, []) }
        return try await self.awaitReply { event in
            if case .data(let rc, let bytes) = event { return (rc, bytes) }
            return nil
        }
    }

    /// Checks that `path` exists, leaving a watch for its creation or deletion when `watch` is set.
    ///
    /// - Returns: `ZOK`, `ZNONODE` or another ZooKeeper return code.
    /// - Throws: `CancellationError` when the task is cancelled while waiting.
    func exists(_ path: String, watch: Bool) async throws -> Int32 {
        guard let handle = self.handle else { return ZCLOSING.rawValue }
        let rc = zoo_aexists(handle, path, watch ? 1 : 0, ZooKeeperCallbacks.exists, self.context)
        guard rc == ZOK.rawValue else { return rc }
        return try await self.awaitReply { event in
            if case .exists(let rc) = event { return rc }
            return nil
        }
    }

    private var context: UnsafeRawPointer {
        UnsafeRawPointer(self.sink.toOpaque())
    }

    private func awaitReply<Reply>(_ match: (ZooKeeperEvent) -> Reply?) async throws -> Reply {
        while true {
            guard let event = await self.events.next() else {
                throw CancellationError()
            }
            if let reply = match(event) {
                return reply
            }
            self.buffered.append(event)
        }
    }

    /// `zerror`'s text and the numeric code.
    static func describe(_ rc: Int32) -> String {
        guard let text = zerror(rc) else { return "ZooKeeper error \(rc)" }
        return "\(String(cString: text)) (\(rc))"
    }
}
