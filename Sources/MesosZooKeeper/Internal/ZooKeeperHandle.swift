import MesosCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
internal import CZooKeeper

/// One C client handle (`zhandle_t`) and the sink its callbacks feed, shared by ``ZooKeeperSession`` (one
/// owning task, requests answered through the event stream) and ``ZooKeeperClient`` (any task, requests
/// answered through per-request completions).
///
/// The handle is guarded by a lock: a request is issued (the C call only queues it) while the lock is held, and
/// closing takes the handle out under the same lock, so no C call ever sees a handle that `zookeeper_close` has
/// freed. `zookeeper_init` and `zookeeper_close` block and run on threads of their own (``BlockingCall``).
final class ZooKeeperHandle: Sendable {
    private let state: LockedValue<UncheckedSendable<OpaquePointer>?>
    /// The receiving end of the C callbacks, retained until `zookeeper_close` has returned.
    let sink: Unmanaged<ZooKeeperEventSink>

    /// Turns the C client's own logging off once per process (level 0): a library prints nothing to the
    /// application's stderr; every failure reaches the caller as a typed error or a session event instead.
    private static let quietLogging: Void = {
        zoo_set_debug_level(ZooLogLevel(rawValue: 0))
    }()

    /// Starts connecting; the first ``ZooKeeperEvent/session(state:)`` on the returned stream tells how that went.
    ///
    /// - Parameters:
    ///   - servers: The connect string, `host:port[,host:port…]`.
    ///   - sessionTimeout: The session timeout asked of the server (it clamps it to its own limits).
    ///   - digest: `user:password` for ZooKeeper's `digest` scheme, if any.
    ///   - resuming: The id and password of a session to take over, if any.
    /// - Returns: The handle and the stream of its events.
    /// - Throws: ``MesosError/Code/transportFailure`` when the C client refuses to start,
    ///   ``MesosError/Code/authenticationFailed`` when it refuses the credentials.
    static func open(
        servers: String,
        sessionTimeout: Duration,
        digest: String?,
        resuming: (id: Int64, password: [UInt8])? = nil
    ) async throws(MesosError) -> (ZooKeeperHandle, AsyncStream<ZooKeeperEvent>) {
        _ = Self.quietLogging
        let (stream, continuation) = AsyncStream<ZooKeeperEvent>.makeStream(bufferingPolicy: .unbounded)
        let sink = Unmanaged.passRetained(ZooKeeperEventSink(continuation: continuation))
        let milliseconds = Int32(clamping: sessionTimeout.inMillisecondsRoundedUp)
        let context = UncheckedSendable(sink.toOpaque())
        // zookeeper_init resolves the names of the servers (getaddrinfo): a blocking call.
        let started = await BlockingCall.run(name: "MesosZooKeeper.init") { () -> (UncheckedSendable<OpaquePointer?>, Int32) in
            var client = clientid_t()
            if let resuming {
                client.client_id = resuming.id
                withUnsafeMutableBytes(of: &client.passwd) { buffer in
                    for (index, byte) in resuming.password.prefix(buffer.count).enumerated() { buffer[index] = byte }
                }
            }
            let handle = withUnsafePointer(to: &client) { pointer in
                zookeeper_init(
                    servers, ZooKeeperCallbacks.watcher, milliseconds, resuming == nil ? nil : pointer,
                    context.value, 0
                )
            }
            return (UncheckedSendable(handle), errno)
        }
        guard let pointer = started.0.value else {
            continuation.finish()
            sink.release()
            throw MesosError(
                code: .transportFailure,
                message: "zookeeper_init(\(servers)) failed: errno \(started.1)"
            )
        }
        let handle = ZooKeeperHandle(pointer: pointer, sink: sink)
        if let digest {
            let rc = handle.issue { zh in
                zoo_add_auth(
                    zh, "digest", digest, Int32(clamping: digest.utf8.count),
                    ZooKeeperCallbacks.authenticated, UnsafeRawPointer(sink.toOpaque())
                )
            }
            if rc != ZOK.rawValue {
                await handle.close()
                throw MesosError(
                    code: .authenticationFailed,
                    message: "zoo_add_auth(digest) failed: \(ZooKeeperHandle.describe(rc))"
                )
            }
        }
        return (handle, stream)
    }

    private init(pointer: OpaquePointer, sink: Unmanaged<ZooKeeperEventSink>) {
        self.state = LockedValue(UncheckedSendable(pointer))
        self.sink = sink
    }

    deinit {
        self.closeInBackground()
    }

    /// The context pointer completions and the watcher find the sink through.
    var context: UnsafeRawPointer {
        UnsafeRawPointer(self.sink.toOpaque())
    }

    /// Runs a C call with the handle, under the lock; `ZCLOSING` when the handle is closed.
    ///
    /// - Parameter call: Issues one asynchronous request (or reads the handle); must not block.
    /// - Returns: What `call` returned, or `ZCLOSING`.
    func issue(_ call: (OpaquePointer) -> Int32) -> Int32 {
        self.state.withLock { state in
            guard let handle = state?.value else { return ZCLOSING.rawValue }
            return call(handle)
        }
    }

    /// Whether ``close()`` (or ``closeInBackground()``) was called.
    var isClosed: Bool {
        self.state.withLock { $0 == nil }
    }

    /// The session id and password the server assigned (id 0 before the first connection).
    var session: (id: Int64, password: [UInt8]) {
        self.state.withLock { state -> (Int64, [UInt8]) in
            guard let handle = state?.value, let client = zoo_client_id(handle) else { return (0, []) }
            let password = withUnsafeBytes(of: client.pointee.passwd) { Array($0) }
            return (client.pointee.client_id, password)
        }
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
        guard let handle = self.state.withLock({ state -> OpaquePointer? in
            defer { state = nil }
            return state?.value
        }) else { return nil }
        let closing = UncheckedSendable((handle, self.sink))
        return {
            // Pending requests complete (with ZCLOSING) inside zookeeper_close.
            zookeeper_close(closing.value.0)
            // No callback runs after zookeeper_close has returned: the sink may go.
            closing.value.1.takeUnretainedValue().continuation.finish()
            closing.value.1.release()
        }
    }

    /// `zerror`'s text and the numeric code.
    static func describe(_ rc: Int32) -> String {
        guard let text = zerror(rc) else { return "ZooKeeper error \(rc)" }
        return "\(String(cString: text)) (\(rc))"
    }
}
