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
    private var handle: OpaquePointer?
    private let sink: Unmanaged<ZooKeeperEventSink>
    private var events: AsyncStream<ZooKeeperEvent>.Iterator
    private var buffered: [ZooKeeperEvent] = []
    private var lastToken: UInt64 = 0
    private let clock: any Clock<Duration>
    private var deadlineTasks: [Task<Void, Never>] = []

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
    ///   - clock: The clock deadlines (``setDeadline(after:)``) are measured on.
    /// - Throws: ``MesosError/Code/transportFailure`` when the C client refuses to start.
    static func open(
        servers: String,
        sessionTimeout: Duration,
        digest: String?,
        clock: any Clock<Duration>
    ) async throws(MesosError) -> ZooKeeperSession {
        _ = Self.quietLogging
        let (stream, continuation) = AsyncStream<ZooKeeperEvent>.makeStream(bufferingPolicy: .unbounded)
        let sink = Unmanaged.passRetained(ZooKeeperEventSink(continuation: continuation))
        let milliseconds = Int32(clamping: sessionTimeout.inMillisecondsRoundedUp)
        let context = UncheckedSendable(sink.toOpaque())
        // zookeeper_init resolves the names of the servers (getaddrinfo): a blocking call.
        let started = await BlockingCall.run(name: "MesosZooKeeper.init") { () -> (UncheckedSendable<OpaquePointer?>, Int32) in
            let handle = zookeeper_init(servers, ZooKeeperCallbacks.watcher, milliseconds, nil, context.value, 0)
            return (UncheckedSendable(handle), errno)
        }
        guard let handle = started.0.value else {
            continuation.finish()
            sink.release()
            throw MesosError(
                code: .transportFailure,
                message: "zookeeper_init(\(servers)) failed: errno \(started.1)"
            )
        }
        let session = ZooKeeperSession(handle: handle, sink: sink, events: stream.makeAsyncIterator(), clock: clock)
        if let digest {
            let rc = zoo_add_auth(
                handle, "digest", digest, Int32(clamping: digest.utf8.count),
                ZooKeeperCallbacks.authenticated, UnsafeRawPointer(sink.toOpaque())
            )
            if rc != ZOK.rawValue {
                await session.close()
                throw MesosError(
                    code: .authenticationFailed,
                    message: "zoo_add_auth(digest) failed: \(ZooKeeperSession.describe(rc))"
                )
            }
        }
        return session
    }

    private init(
        handle: OpaquePointer,
        sink: Unmanaged<ZooKeeperEventSink>,
        events: AsyncStream<ZooKeeperEvent>.Iterator,
        clock: any Clock<Duration>
    ) {
        self.handle = handle
        self.sink = sink
        self.events = events
        self.clock = clock
    }

    deinit {
        self.closeInBackground()
    }

    /// Ends the session (`zookeeper_close`, on a thread of its own) and the event stream, and returns once
    /// that is done; idempotent.
    func close() async {
        guard let close = self.takeForClosing() else { return }
        await BlockingCall.run(name: "MesosZooKeeper.close", close)
    }

    /// Ends the session like ``close()`` without waiting for `zookeeper_close` to return.
    func closeInBackground() {
        guard let close = self.takeForClosing() else { return }
        BlockingCall.detach(name: "MesosZooKeeper.close", close)
    }

    /// Forgets the handle and returns the blocking part of closing it, or `nil` if already closed.
    private func takeForClosing() -> (@Sendable () -> Void)? {
        guard let handle = self.handle else { return nil }
        self.handle = nil
        for task in self.deadlineTasks { task.cancel() }
        self.deadlineTasks.removeAll()
        let closing = UncheckedSendable((handle, self.sink))
        return {
            zookeeper_close(closing.value.0)
            // No callback runs after zookeeper_close has returned: the sink may go.
            closing.value.1.takeUnretainedValue().continuation.finish()
            closing.value.1.release()
        }
    }

    /// The session id the server assigned (0 before the first connection).
    var sessionID: Int64 {
        guard let handle = self.handle, let client = zoo_client_id(handle) else { return 0 }
        return client.pointee.client_id
    }

    /// Delivers ``ZooKeeperEvent/deadline(token:)`` after `delay` on the session's clock (unless the session
    /// is closed first).
    ///
    /// - Parameter delay: How long from now.
    /// - Returns: The token the event will carry.
    func setDeadline(after delay: Duration) -> UInt64 {
        self.lastToken += 1
        let token = self.lastToken
        let continuation = self.sink.takeUnretainedValue().continuation
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
