import MesosCore
internal import CZooKeeper

/// A node's metadata (ZooKeeper's `Stat`).
public struct ZooKeeperStat: Sendable, Hashable {
    /// The data version: 0 at creation, one more at each set. Compare-and-set writes name it.
    public var version: Int32
    /// The children version: one more at each change of the children.
    public var childrenVersion: Int32
    /// How many children the node has.
    public var childCount: Int32
    /// The data's length in bytes.
    public var dataLength: Int32
    /// The session that owns the node if it is ephemeral, else 0.
    public var ephemeralOwner: Int64
    /// The transaction that created the node.
    public var creationZxid: Int64
    /// The transaction that last changed the node.
    public var modificationZxid: Int64

    /// Creates a stat.
    public init(
        version: Int32, childrenVersion: Int32, childCount: Int32, dataLength: Int32, ephemeralOwner: Int64,
        creationZxid: Int64, modificationZxid: Int64
    ) {
        self.version = version
        self.childrenVersion = childrenVersion
        self.childCount = childCount
        self.dataLength = dataLength
        self.ephemeralOwner = ephemeralOwner
        self.creationZxid = creationZxid
        self.modificationZxid = modificationZxid
    }
}

/// A general ZooKeeper client over the official C client (`libzookeeper_mt`): one session, requests from any
/// task, watches and session changes as events.
///
/// Every request is asynchronous in the C client and resumes its caller from the C completion; the calls that
/// block (`zookeeper_init`, `zookeeper_close`) run on threads of their own. Errors are ``ZooKeeperError``s.
///
/// The client does not replace an expired session: after ``SessionState/expired`` every request fails with
/// ``ZooKeeperError/Code/sessionExpired``, and the owner connects a new client (``LeaderElection`` does).
/// While the connection is lost (``SessionState/suspended``) the C client reconnects by itself within the
/// session; requests then fail with ``ZooKeeperError/Code/connectionLoss``.
public final class ZooKeeperClient: Sendable {
    /// How to connect.
    public struct Configuration: Sendable {
        /// The C client's connect string, `host:port[,host:port…]`.
        public var servers: String
        /// `digest` credentials, if any. Nodes this client creates are then readable and writable only by
        /// those credentials (`auth` ACL); without them they are open (`world:anyone`).
        public var credentials: ZooKeeperURL.Credentials?
        /// The session timeout asked of the server (which clamps it to 2…20 ticks).
        public var sessionTimeout: Duration
        /// How long ``ZooKeeperClient/connect(_:clock:)`` waits for a first connection.
        public var connectTimeout: Duration

        /// Creates a configuration.
        ///
        /// - Parameters:
        ///   - servers: `host:port[,host:port…]`.
        ///   - credentials: Digest credentials.
        ///   - sessionTimeout: Default 10 s.
        ///   - connectTimeout: Default 15 s.
        public init(
            servers: String,
            credentials: ZooKeeperURL.Credentials? = nil,
            sessionTimeout: Duration = .seconds(10),
            connectTimeout: Duration = .seconds(15)
        ) {
            self.servers = servers
            self.credentials = credentials
            self.sessionTimeout = sessionTimeout
            self.connectTimeout = connectTimeout
        }

        /// The servers and credentials of a `zk://` URL (its path is the caller's business).
        ///
        /// - Parameters:
        ///   - url: The URL.
        ///   - sessionTimeout: Default 10 s.
        ///   - connectTimeout: Default 15 s.
        public init(url: ZooKeeperURL, sessionTimeout: Duration = .seconds(10), connectTimeout: Duration = .seconds(15)) {
            self.init(
                servers: url.connectString, credentials: url.credentials, sessionTimeout: sessionTimeout,
                connectTimeout: connectTimeout
            )
        }
    }

    /// The state of the client's session.
    public enum SessionState: Sendable, Hashable, CustomStringConvertible {
        /// Not connected yet.
        case connecting
        /// Connected to a server; requests run.
        case connected
        /// The connection was lost; the C client is reconnecting within the session, which the server may expire
        /// meanwhile. Whoever acts on the session's behalf (a leader) must stop until it is connected again.
        case suspended
        /// The server expired the session: its ephemeral nodes and watches are gone, for good.
        case expired
        /// The server rejected the credentials.
        case authenticationFailed
        /// The client was closed.
        case closed

        /// The state's name.
        public var description: String {
            switch self {
            case .connecting: return "connecting"
            case .connected: return "connected"
            case .suspended: return "suspended"
            case .expired: return "expired"
            case .authenticationFailed: return "authenticationFailed"
            case .closed: return "closed"
            }
        }

        /// Whether the session can never be used again.
        public var isTerminal: Bool {
            self == .expired || self == .authenticationFailed || self == .closed
        }
    }

    /// A watch that fired (watches are one-shot: set them again after reading).
    public struct WatchEvent: Sendable, Hashable {
        /// What changed.
        public enum Kind: Sendable, Hashable {
            /// The node was created (an `exists` watch).
            case created
            /// The node was deleted.
            case deleted
            /// The node's data changed.
            case dataChanged
            /// The node's children changed.
            case childrenChanged
            /// The server dropped the watch.
            case notWatching
        }

        /// What changed.
        public var kind: Kind
        /// The watched node.
        public var path: String

        /// Creates an event.
        public init(kind: Kind, path: String) {
            self.kind = kind
            self.path = path
        }
    }

    /// What ``events()`` delivers.
    public enum Event: Sendable, Hashable {
        /// The session's state changed.
        case session(SessionState)
        /// A watch fired.
        case watch(WatchEvent)
    }

    /// How a node is created.
    public struct CreateMode: Sendable, Hashable {
        /// Ephemeral: removed when the creating session ends.
        public var ephemeral: Bool
        /// Sequential: the server appends a 10-digit, monotonically increasing number to the name.
        public var sequential: Bool

        /// Creates a mode.
        public init(ephemeral: Bool, sequential: Bool) {
            self.ephemeral = ephemeral
            self.sequential = sequential
        }

        /// Persistent, not sequential.
        public static let persistent = CreateMode(ephemeral: false, sequential: false)
        /// Persistent and sequential.
        public static let persistentSequential = CreateMode(ephemeral: false, sequential: true)
        /// Ephemeral, not sequential.
        public static let ephemeral = CreateMode(ephemeral: true, sequential: false)
        /// Ephemeral and sequential (election candidates).
        public static let ephemeralSequential = CreateMode(ephemeral: true, sequential: true)

        var flags: Int32 {
            switch (self.ephemeral, self.sequential) {
            case (false, false): return ZOO_PERSISTENT
            case (false, true): return ZOO_PERSISTENT_SEQUENTIAL
            case (true, false): return ZOO_EPHEMERAL
            case (true, true): return ZOO_EPHEMERAL_SEQUENTIAL
            }
        }
    }

    /// One operation of an atomic ``multi(_:)``.
    public enum Operation: Sendable, Hashable {
        /// Create a node.
        case create(path: String, data: [UInt8], mode: CreateMode)
        /// Set a node's data if its version is the given one (`nil`: any version).
        case set(path: String, data: [UInt8], version: Int32?)
        /// Delete a node if its version is the given one (`nil`: any version).
        case delete(path: String, version: Int32?)
        /// Check that a node exists and (unless `nil`) has the given version.
        case check(path: String, version: Int32?)

        var path: String {
            switch self {
            case .create(let path, _, _), .set(let path, _, _), .delete(let path, _), .check(let path, _): return path
            }
        }
    }

    /// The result of one operation of a successful ``multi(_:)``.
    public enum OperationResult: Sendable, Hashable {
        /// Created, at this path (with the sequence number when sequential).
        case created(path: String)
        /// Set; the node's new stat.
        case set(ZooKeeperStat)
        /// Deleted.
        case deleted
        /// Checked.
        case checked
    }

    /// The id and password of a session, to resume it from another client (see
    /// ``connect(_:resuming:clock:)``).
    public struct SessionCredentials: Sendable, Hashable {
        /// The session id.
        public var id: Int64
        /// The session's password (16 bytes).
        public var password: [UInt8]

        /// Creates credentials.
        public init(id: Int64, password: [UInt8]) {
            self.id = id
            self.password = password
        }
    }

    private struct Shared {
        var state: SessionState = .connecting
        var subscribers: [Int: AsyncStream<Event>.Continuation] = [:]
        var nextSubscriber = 0
    }

    private let handle: ZooKeeperHandle
    private let shared: LockedValue<Shared>
    private let acl: ZooKeeperACLStorage
    /// The configuration the client was connected with.
    public let configuration: Configuration

    private init(handle: ZooKeeperHandle, configuration: Configuration) {
        self.handle = handle
        self.configuration = configuration
        self.shared = LockedValue(Shared())
        self.acl = ZooKeeperACLStorage(creatorOnly: configuration.credentials != nil)
    }

    deinit {
        self.handle.closeInBackground()
    }

    /// Connects and waits until the session is established.
    ///
    /// - Parameters:
    ///   - configuration: Servers, credentials, timeouts.
    ///   - clock: The clock the connect timeout is measured on.
    /// - Returns: A connected client.
    /// - Throws: ``ZooKeeperError`` (``ZooKeeperError/Code/connectTimeout`` when no server answered in time,
    ///   ``ZooKeeperError/Code/authenticationFailed``, ``ZooKeeperError/Code/badArguments`` for a bad connect
    ///   string).
    public static func connect(
        _ configuration: Configuration,
        clock: any Clock<Duration> = ContinuousClock()
    ) async throws(ZooKeeperError) -> ZooKeeperClient {
        try await Self.connect(configuration, resuming: nil, clock: clock)
    }

    /// Connects with the id and password of an existing session, which the server then serves to this client
    /// (the other client's connection is dropped); closing this client ends that session. Tests use it to expire
    /// a session on purpose.
    ///
    /// - Parameters:
    ///   - configuration: Servers, credentials, timeouts.
    ///   - session: The session to resume; `nil` for a new one.
    ///   - clock: The clock the connect timeout is measured on.
    /// - Returns: A connected client.
    /// - Throws: ``ZooKeeperError``; ``ZooKeeperError/Code/sessionExpired`` when the session is gone.
    public static func connect(
        _ configuration: Configuration,
        resuming session: SessionCredentials?,
        clock: any Clock<Duration> = ContinuousClock()
    ) async throws(ZooKeeperError) -> ZooKeeperClient {
        let opened: (ZooKeeperHandle, AsyncStream<ZooKeeperEvent>)
        do {
            opened = try await ZooKeeperHandle.open(
                servers: configuration.servers, sessionTimeout: configuration.sessionTimeout,
                digest: configuration.credentials?.digest,
                resuming: session.map { ($0.id, $0.password) }
            )
        } catch {
            throw ZooKeeperError(
                code: error.code == .authenticationFailed ? .authenticationFailed : .badArguments,
                message: error.message
            )
        }
        let client = ZooKeeperClient(handle: opened.0, configuration: configuration)
        let states = client.sessionStates()
        Self.pump(opened.1, into: client.shared)
        let connected = await Self.waitForConnection(states, timeout: configuration.connectTimeout, clock: clock)
        switch connected {
        case .connected, .suspended:
            return client
        case .expired:
            await client.close()
            throw ZooKeeperError(code: .sessionExpired, message: "The ZooKeeper session to resume has expired")
        case .authenticationFailed:
            await client.close()
            throw ZooKeeperError(
                code: .authenticationFailed,
                message: "ZooKeeper (\(configuration.servers)) rejected the credentials"
            )
        case .connecting, .closed:
            await client.close()
            throw ZooKeeperError(
                code: .connectTimeout,
                message: "No ZooKeeper server of \(configuration.servers) answered within \(configuration.connectTimeout)"
            )
        }
    }

    /// The first state after `connecting`, or `connecting` when the deadline passed first.
    private static func waitForConnection(
        _ states: AsyncStream<SessionState>,
        timeout: Duration,
        clock: any Clock<Duration>
    ) async -> SessionState {
        let (merged, continuation) = AsyncStream<SessionState>.makeStream()
        let forward = Task {
            for await state in states where state != .connecting {
                continuation.yield(state)
            }
        }
        let deadline = Task {
            try? await clock.sleep(for: timeout, tolerance: nil)
            continuation.yield(.connecting)
        }
        defer {
            forward.cancel()
            deadline.cancel()
            continuation.finish()
        }
        for await state in merged {
            return state
        }
        return .closed
    }

    /// Reads the C client's events for as long as the handle lives and hands them to the subscribers.
    private static func pump(_ stream: AsyncStream<ZooKeeperEvent>, into shared: LockedValue<Shared>) {
        Task.detached {
            for await event in stream {
                switch event {
                case .session(let state):
                    let mapped: SessionState
                    if state == ZOO_CONNECTED_STATE || state == ZOO_READONLY_STATE {
                        mapped = .connected
                    } else if state == ZOO_EXPIRED_SESSION_STATE {
                        mapped = .expired
                    } else if state == ZOO_AUTH_FAILED_STATE {
                        mapped = .authenticationFailed
                    } else {
                        mapped = .suspended
                    }
                    Self.publish(state: mapped, to: shared)
                case .watch(let type, let path):
                    let kind: WatchEvent.Kind
                    if type == ZOO_CREATED_EVENT {
                        kind = .created
                    } else if type == ZOO_DELETED_EVENT {
                        kind = .deleted
                    } else if type == ZOO_CHANGED_EVENT {
                        kind = .dataChanged
                    } else if type == ZOO_CHILD_EVENT {
                        kind = .childrenChanged
                    } else {
                        kind = .notWatching
                    }
                    let subscribers = shared.withLock { Array($0.subscribers.values) }
                    for subscriber in subscribers { subscriber.yield(.watch(WatchEvent(kind: kind, path: path))) }
                case .authenticated(let rc):
                    if rc != ZOK.rawValue { Self.publish(state: .authenticationFailed, to: shared) }
                case .children, .data, .exists, .deadline:
                    break  // answers of ZooKeeperSession's requests: not used by this client
                }
            }
            Self.publish(state: .closed, to: shared)
        }
    }

    /// Records a state (a terminal state is never left; `suspended` needs a connection first) and tells the
    /// subscribers; after a terminal state their streams end.
    private static func publish(state: SessionState, to shared: LockedValue<Shared>) {
        let (subscribers, changed, terminal) = shared.withLock { shared in
            let previous = shared.state
            guard !previous.isTerminal, previous != state else { return ([AsyncStream<Event>.Continuation](), false, false) }
            if state == .suspended && previous == .connecting { return ([], false, false) }
            shared.state = state
            let subscribers = Array(shared.subscribers.values)
            if state.isTerminal { shared.subscribers.removeAll() }
            return (subscribers, true, state.isTerminal)
        }
        guard changed else { return }
        for subscriber in subscribers {
            subscriber.yield(.session(state))
            if terminal { subscriber.finish() }
        }
    }

    // MARK: - Observing

    /// The session's current state.
    public var state: SessionState {
        self.shared.withLock { $0.state }
    }

    /// The session id the server assigned (0 before the first connection).
    public var sessionID: Int64 {
        self.handle.session.id
    }

    /// The session's id and password, to resume it with ``connect(_:resuming:clock:)``.
    public var sessionCredentials: SessionCredentials {
        let session = self.handle.session
        return SessionCredentials(id: session.id, password: session.password)
    }

    /// Session changes and fired watches from now on, starting with the current session state; the stream ends
    /// after a terminal state (expired, authentication failed, closed) or when the consumer stops.
    ///
    /// Subscribe before setting a watch, so that its event cannot be missed.
    public func events() -> AsyncStream<Event> {
        let (stream, continuation) = AsyncStream<Event>.makeStream(bufferingPolicy: .unbounded)
        let (id, state) = self.shared.withLock { shared -> (Int?, SessionState) in
            guard !shared.state.isTerminal else { return (nil, shared.state) }
            let id = shared.nextSubscriber
            shared.nextSubscriber += 1
            shared.subscribers[id] = continuation
            return (id, shared.state)
        }
        continuation.yield(.session(state))
        guard let id else {
            continuation.finish()
            return stream
        }
        let shared = self.shared
        continuation.onTermination = { _ in
            _ = shared.withLock { $0.subscribers.removeValue(forKey: id) }
        }
        return stream
    }

    /// The session's states from now on, starting with the current one; ends after a terminal state.
    public func sessionStates() -> AsyncStream<SessionState> {
        let events = self.events()
        let (stream, continuation) = AsyncStream<SessionState>.makeStream(bufferingPolicy: .unbounded)
        let forward = Task {
            for await event in events {
                if case .session(let state) = event { continuation.yield(state) }
            }
            continuation.finish()
        }
        continuation.onTermination = { _ in forward.cancel() }
        return stream
    }

    // MARK: - Requests

    private func request(_ issue: (OpaquePointer, UnsafeRawPointer) -> Int32, resources: AnyObject? = nil) async
        -> ZooKeeperReply
    {
        await withCheckedContinuation { (continuation: CheckedContinuation<ZooKeeperReply, Never>) in
            let box = Unmanaged.passRetained(ZooKeeperReplyBox(continuation: continuation, resources: resources))
            let rc = self.handle.issue { handle in issue(handle, UnsafeRawPointer(box.toOpaque())) }
            if rc != ZOK.rawValue {
                // Not queued: the completion will not run.
                box.release()
                continuation.resume(returning: .void(rc: rc))
            }
        }
    }

    /// Creates a node.
    ///
    /// - Parameters:
    ///   - path: The node's path (for sequential modes, the prefix of its name).
    ///   - data: The node's data.
    ///   - mode: Persistent or ephemeral, sequential or not.
    ///   - createParents: Creates missing ancestors (persistent, empty) first.
    /// - Returns: The created node's path (with the sequence number for sequential modes).
    /// - Throws: ``ZooKeeperError`` (``ZooKeeperError/Code/nodeExists``, ``ZooKeeperError/Code/noNode`` for a
    ///   missing parent, …).
    @discardableResult
    public func create(
        _ path: String,
        data: [UInt8] = [],
        mode: CreateMode = .persistent,
        createParents: Bool = false
    ) async throws(ZooKeeperError) -> String {
        let acl = self.acl
        let reply = await self.request({ handle, box in
            data.withUnsafeBufferPointer { bytes in
                let value = bytes.baseAddress.map { UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self) }
                return zoo_acreate(
                    handle, path, value, value == nil ? -1 : Int32(bytes.count), acl.vector, mode.flags,
                    ZooKeeperReplyCallbacks.string, box
                )
            }
        }, resources: acl)
        if reply.rc == ZNONODE.rawValue && createParents {
            try await self.createAncestors(of: path)
            return try await self.create(path, data: data, mode: mode, createParents: false)
        }
        guard reply.rc == ZOK.rawValue, case .string(_, let created) = reply else {
            throw ZooKeeperError(rc: reply.rc, operation: "create", path: path)
        }
        return created
    }

    /// Creates every missing ancestor of `path` (persistent, empty).
    private func createAncestors(of path: String) async throws(ZooKeeperError) {
        let components = path.split(separator: "/")
        var current = ""
        for component in components.dropLast() {
            current += "/" + component
            do {
                try await self.create(current)
            } catch where error.code == .nodeExists {
                continue
            }
        }
    }

    /// Reads a node's data and stat.
    ///
    /// - Parameters:
    ///   - path: The node.
    ///   - watch: Leaves a watch that fires when the node changes or is deleted.
    /// - Returns: The data and the stat (its ``ZooKeeperStat/version`` for a later compare-and-set).
    /// - Throws: ``ZooKeeperError`` (``ZooKeeperError/Code/noNode``, …).
    public func get(_ path: String, watch: Bool = false) async throws(ZooKeeperError) -> (data: [UInt8], stat: ZooKeeperStat) {
        let reply = await self.request { handle, box in
            zoo_aget(handle, path, watch ? 1 : 0, ZooKeeperReplyCallbacks.data, box)
        }
        guard reply.rc == ZOK.rawValue, case .data(_, let bytes, let stat?) = reply else {
            throw ZooKeeperError(rc: reply.rc == ZOK.rawValue ? ZSYSTEMERROR.rawValue : reply.rc, operation: "get", path: path)
        }
        return (bytes, stat)
    }

    /// Sets a node's data if its version is `expectedVersion` (compare-and-set).
    ///
    /// - Parameters:
    ///   - path: The node.
    ///   - data: The new data.
    ///   - expectedVersion: The version the node must have; `nil` sets whatever the version.
    /// - Returns: The node's new stat.
    /// - Throws: ``ZooKeeperError`` (``ZooKeeperError/Code/versionMismatch`` when another writer won,
    ///   ``ZooKeeperError/Code/noNode``, …).
    @discardableResult
    public func set(_ path: String, data: [UInt8], expectedVersion: Int32?) async throws(ZooKeeperError) -> ZooKeeperStat {
        let reply = await self.request { handle, box in
            data.withUnsafeBufferPointer { bytes in
                let value = bytes.baseAddress.map { UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self) }
                return zoo_aset(
                    handle, path, value, value == nil ? -1 : Int32(bytes.count), expectedVersion ?? -1,
                    ZooKeeperReplyCallbacks.stat, box
                )
            }
        }
        guard reply.rc == ZOK.rawValue, case .stat(_, let stat?) = reply else {
            throw ZooKeeperError(rc: reply.rc == ZOK.rawValue ? ZSYSTEMERROR.rawValue : reply.rc, operation: "set", path: path)
        }
        return stat
    }

    /// Deletes a node if its version is `expectedVersion`.
    ///
    /// - Parameters:
    ///   - path: The node.
    ///   - expectedVersion: The version the node must have; `nil` deletes whatever the version.
    /// - Throws: ``ZooKeeperError`` (``ZooKeeperError/Code/versionMismatch``, ``ZooKeeperError/Code/noNode``,
    ///   ``ZooKeeperError/Code/notEmpty``, …).
    public func delete(_ path: String, expectedVersion: Int32? = nil) async throws(ZooKeeperError) {
        let reply = await self.request { handle, box in
            zoo_adelete(handle, path, expectedVersion ?? -1, ZooKeeperReplyCallbacks.void, box)
        }
        guard reply.rc == ZOK.rawValue else {
            throw ZooKeeperError(rc: reply.rc, operation: "delete", path: path)
        }
    }

    /// Lists a node's children (names, not paths; in no particular order).
    ///
    /// - Parameters:
    ///   - path: The node.
    ///   - watch: Leaves a watch that fires when the children change or the node is deleted.
    /// - Returns: The child names.
    /// - Throws: ``ZooKeeperError`` (``ZooKeeperError/Code/noNode``, …).
    public func children(of path: String, watch: Bool = false) async throws(ZooKeeperError) -> [String] {
        let reply = await self.request { handle, box in
            zoo_aget_children(handle, path, watch ? 1 : 0, ZooKeeperReplyCallbacks.strings, box)
        }
        guard reply.rc == ZOK.rawValue, case .strings(_, let names) = reply else {
            throw ZooKeeperError(rc: reply.rc, operation: "children of", path: path)
        }
        return names
    }

    /// Whether a node exists.
    ///
    /// - Parameters:
    ///   - path: The node.
    ///   - watch: Leaves a watch that fires when the node is created, changed or deleted.
    /// - Returns: The node's stat, or `nil` when it does not exist.
    /// - Throws: ``ZooKeeperError`` for anything but a missing node.
    public func exists(_ path: String, watch: Bool = false) async throws(ZooKeeperError) -> ZooKeeperStat? {
        let reply = await self.request { handle, box in
            zoo_aexists(handle, path, watch ? 1 : 0, ZooKeeperReplyCallbacks.stat, box)
        }
        if reply.rc == ZNONODE.rawValue { return nil }
        guard reply.rc == ZOK.rawValue, case .stat(_, let stat?) = reply else {
            throw ZooKeeperError(rc: reply.rc == ZOK.rawValue ? ZSYSTEMERROR.rawValue : reply.rc, operation: "exists", path: path)
        }
        return stat
    }

    /// Runs operations atomically (`zoo_multi`): all succeed, or none has any effect.
    ///
    /// - Parameter operations: The operations, in order.
    /// - Returns: One result per operation.
    /// - Throws: ``ZooKeeperError`` for the first operation that failed, with its index in
    ///   ``ZooKeeperError/failedOperation`` and its path (or for the request as a whole, without an index).
    public func multi(_ operations: [Operation]) async throws(ZooKeeperError) -> [OperationResult] {
        guard !operations.isEmpty else { return [] }
        let resources = ZooKeeperMultiResources(operations, acl: self.acl)
        let carried = UncheckedSendable(resources)
        let reply = await self.request({ handle, box in
            zoo_amulti(
                handle, Int32(carried.value.count), carried.value.operations, carried.value.results,
                ZooKeeperReplyCallbacks.multi, box
            )
        }, resources: resources)
        if reply.rc != ZOK.rawValue {
            // The first operation with a real error (the others report ZOK or ZRUNTIMEINCONSISTENCY).
            for index in 0..<operations.count {
                let err = resources.results[index].err
                if err != ZOK.rawValue && err != ZRUNTIMEINCONSISTENCY.rawValue {
                    throw ZooKeeperError(
                        rc: err, operation: "multi (operation \(index))", path: operations[index].path,
                        failedOperation: index
                    )
                }
            }
            throw ZooKeeperError(rc: reply.rc, operation: "multi", path: nil)
        }
        return operations.enumerated().map { index, operation in
            switch operation {
            case .create: return .created(path: resources.createdPath(index))
            case .set: return .set(ZooKeeperStat(resources.stats[index]))
            case .delete: return .deleted
            case .check: return .checked
            }
        }
    }

    /// Ends the session (its ephemeral nodes go at once) and returns once the C client has stopped; the event
    /// streams end with ``SessionState/closed``. Idempotent.
    public func close() async {
        await self.handle.close()
        Self.publish(state: .closed, to: self.shared)
    }
}
