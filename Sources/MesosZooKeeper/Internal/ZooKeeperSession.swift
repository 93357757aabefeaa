import MesosCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
internal import CZooKeeper

/// One ZooKeeper session through the official C client (`libzookeeper_mt`), driven from one Swift task.
///
/// The C client runs its own I/O and completion threads; every callback is turned into a ``ZooKeeperEvent``
/// on an `AsyncStream` that the owner reads. Requests are issued one at a time: a request method sends it and
/// reads events until its answer arrives, keeping the other events (watches, session changes) for
/// ``nextEvent()``.
///
/// `zookeeper_init` (which resolves the server names) and `zookeeper_close` (which ends the session on the
/// server and joins the C client's threads, seconds when no server answers) block; they run on a thread of
/// their own (``BlockingCall``), never on the caller's cooperative thread, and the caller resumes through a
/// continuation. `zookeeper_close` must also not run on the C client's own threads, and never does because
/// the C side only holds the sink, never the session.
final class ZooKeeperSession {
    private let handle: ZooKeeperHandle
    private var events: AsyncStream<ZooKeeperEvent>.Iterator
    private var buffered: [ZooKeeperEvent] = []
    private var lastToken: UInt64 = 0
    private let clock: any Clock<Duration>
    private var deadlineTasks: [Task<Void, Never>] = []

    /// Starts connecting; the first ``ZooKeeperEvent/session(state:)`` tells how that went.
    ///
    /// - Parameters:
    ///   - servers: The connect string, `host:port[,host:port…]`.
    ///   - sessionTimeout: The session timeout asked of the server (it clamps it to its own limits).
    ///   - digest: `user:password` for ZooKeeper's `digest` scheme, if any.
    ///   - clock: The clock deadlines (``setDeadline(after:)``) are measured on.
    /// - Throws: ``MesosError/Code/transportFailure`` when the C client refuses to start.
    static func open(
        servers: String,
        sessionTimeout: Duration,
        digest: String?,
        clock: any Clock<Duration>
    ) async throws(MesosError) -> ZooKeeperSession {
        let (handle, stream) = try await ZooKeeperHandle.open(
            servers: servers, sessionTimeout: sessionTimeout, digest: digest
        )
        return ZooKeeperSession(handle: handle, events: stream.makeAsyncIterator(), clock: clock)
    }

    private init(
        handle: ZooKeeperHandle,
        events: AsyncStream<ZooKeeperEvent>.Iterator,
        clock: any Clock<Duration>
    ) {
        self.handle = handle
        self.events = events
        self.clock = clock
    }

    deinit {
        self.closeInBackground()
    }

    /// Ends the session (`zookeeper_close`, on a thread of its own) and the event stream, and returns once
    /// that is done; idempotent.
    func close() async {
        self.cancelDeadlines()
        await self.handle.close()
    }

    /// Ends the session like ``close()`` without waiting for `zookeeper_close` to return.
    func closeInBackground() {
        self.cancelDeadlines()
        self.handle.closeInBackground()
    }

    private func cancelDeadlines() {
        for task in self.deadlineTasks { task.cancel() }
        self.deadlineTasks.removeAll()
    }

    /// The session id the server assigned (0 before the first connection).
    var sessionID: Int64 {
        self.handle.session.id
    }

    /// Delivers ``ZooKeeperEvent/deadline(token:)`` after `delay` on the session's clock (unless the session
    /// is closed first).
    ///
    /// - Parameter delay: How long from now.
    /// - Returns: The token the event will carry.
    func setDeadline(after delay: Duration) -> UInt64 {
        self.lastToken += 1
        let token = self.lastToken
        let continuation = self.handle.sink.takeUnretainedValue().continuation
        let clock = self.clock
        self.deadlineTasks.removeAll { $0.isCancelled }
        self.deadlineTasks.append(Task {
            do {
                try await clock.sleep(for: delay, tolerance: nil)
            } catch {
                return
            }
            continuation.yield(.deadline(token: token))
        })
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
        let context = self.handle.context
        let rc = self.handle.issue { zoo_aget_children($0, path, watch ? 1 : 0, ZooKeeperCallbacks.children, context) }
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
        let context = self.handle.context
        let rc = self.handle.issue { zoo_aget($0, path, 0, ZooKeeperCallbacks.data, context) }
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
        let context = self.handle.context
        let rc = self.handle.issue { zoo_aexists($0, path, watch ? 1 : 0, ZooKeeperCallbacks.exists, context) }
        guard rc == ZOK.rawValue else { return rc }
        return try await self.awaitReply { event in
            if case .exists(let rc) = event { return rc }
            return nil
        }
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
        ZooKeeperHandle.describe(rc)
    }
}
