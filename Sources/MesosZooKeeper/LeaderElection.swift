import Foundation
import MesosCore

/// Leader election through ZooKeeper, with the standard recipe: each candidate creates an ephemeral sequential
/// node under the election path; the candidate with the lowest sequence number leads; every other candidate
/// watches only the node just below its own (no herd effect when the leader goes).
///
/// **Fencing.** The moment the session's connection is lost (``ZooKeeperClient/SessionState/suspended``), a
/// leader is reported ``Change/deposed(_:reason:)`` and ``isLeader`` turns `false`: the C client notices the loss
/// after two thirds of the session timeout at the latest, while the server keeps the leader's node (and so
/// elects no successor) until the whole session timeout passed. So a leader that stops at its deposition stops
/// before any successor exists. Writes through a state store bound to the ``Leadership`` are refused once it is
/// not current (``Leadership/isCurrent``), and on the server by a `check` of the leader's node in the same
/// atomic multi-operation (`ZooKeeperStateStore`).
///
/// When the connection comes back within the session, the candidate (same node) looks again and, if still the
/// lowest, is elected anew with a new ``Leadership/term``. After the session expired, it enters the election
/// again with a new session and node. Only ``resign()`` ends it.
///
/// ```swift
/// let election = LeaderElection(configuration: .init(client: .init(url: url), path: "/my-framework/leader"))
/// election.start()
/// for await change in election.changes() {
///     switch change {
///     case .elected(let leadership): startScheduling(fencedBy: leadership)
///     case .deposed(_, let reason): stopScheduling(because: reason)  // at once
///     }
/// }
/// ```
public final class LeaderElection: Sendable {
    /// How to take part.
    public struct Configuration: Sendable {
        /// The ZooKeeper connection (each session of the election is a new client with it).
        public var client: ZooKeeperClient.Configuration
        /// The election node, e.g. `/my-framework/leader`; created (with its ancestors) when missing.
        public var path: String
        /// Who this candidate is, written into its node for others to read (``leader()``).
        public var identity: Identity
        /// How long to wait before trying again after a failure to connect or to take part.
        public var retryDelay: Duration

        /// Creates a configuration.
        ///
        /// - Parameters:
        ///   - client: The ZooKeeper connection.
        ///   - path: The election node.
        ///   - identity: This candidate (default: this host and process).
        ///   - retryDelay: Default 1 s.
        public init(
            client: ZooKeeperClient.Configuration,
            path: String,
            identity: Identity = .current(),
            retryDelay: Duration = .seconds(1)
        ) {
            self.client = client
            self.path = path
            self.identity = identity
            self.retryDelay = retryDelay
        }
    }

    /// A candidate, as its election node records it (JSON).
    public struct Identity: Sendable, Hashable, Codable, CustomStringConvertible {
        /// The host name.
        public var host: String
        /// The process id.
        public var pid: Int32
        /// A name or id unique to the instance (default: a random UUID).
        public var instance: String

        /// Creates an identity.
        public init(host: String, pid: Int32, instance: String) {
            self.host = host
            self.pid = pid
            self.instance = instance
        }

        /// This host and process, with a random instance id.
        ///
        /// - Parameter instance: The instance id (default: a random UUID).
        public static func current(instance: String = UUID().uuidString) -> Identity {
            Identity(host: ProcessInfo.processInfo.hostName, pid: ProcessInfo.processInfo.processIdentifier, instance: instance)
        }

        /// `instance@host (pid N)`.
        public var description: String { "\(self.instance)@\(self.host) (pid \(self.pid))" }
    }

    /// One period of leadership, from an election to its deposition. Bind the work of a leader (and its state
    /// store's writes) to it: once deposed it is never current again; a later election is a new leadership.
    public struct Leadership: Sendable, Hashable, CustomStringConvertible {
        /// Counts the elections of this ``LeaderElection`` object: 1, 2, …
        public let term: UInt64
        /// The leader's election node (its full path); ephemeral, it exists only as long as the session.
        public let node: String
        /// The ZooKeeper session that holds the node.
        public let sessionID: Int64
        private let tracker: Tracker

        init(term: UInt64, node: String, sessionID: Int64, tracker: Tracker) {
            self.term = term
            self.node = node
            self.sessionID = sessionID
            self.tracker = tracker
        }

        /// Whether this leadership still holds: elected and not deposed since.
        public var isCurrent: Bool {
            self.tracker.shared.withLock { $0.leadership?.term == self.term }
        }

        /// Equal when term and node are.
        public static func == (lhs: Leadership, rhs: Leadership) -> Bool {
            lhs.term == rhs.term && lhs.node == rhs.node && lhs.sessionID == rhs.sessionID
        }

        /// Hashes term and node.
        public func hash(into hasher: inout Hasher) {
            hasher.combine(self.term)
            hasher.combine(self.node)
            hasher.combine(self.sessionID)
        }

        /// `term N (node)`.
        public var description: String { "term \(self.term) (\(self.node))" }
    }

    /// Why a leader was deposed.
    public enum DepositionReason: Sendable, Hashable, CustomStringConvertible {
        /// The session's connection was lost: stop now, the session may expire and a successor be elected.
        case sessionSuspended
        /// The session expired.
        case sessionExpired
        /// The leader's node was deleted by someone else.
        case nodeDeleted
        /// ``LeaderElection/resign()`` was called.
        case resigned

        /// The reason's name.
        public var description: String {
            switch self {
            case .sessionSuspended: return "sessionSuspended"
            case .sessionExpired: return "sessionExpired"
            case .nodeDeleted: return "nodeDeleted"
            case .resigned: return "resigned"
            }
        }
    }

    /// A change of leadership.
    public enum Change: Sendable, Hashable {
        /// This candidate leads.
        case elected(Leadership)
        /// This candidate no longer leads; stop acting as the leader at once.
        case deposed(Leadership, reason: DepositionReason)
    }

    final class Tracker: Sendable {
        struct Shared {
            var leadership: Leadership?
            var terms: UInt64 = 0
            var subscribers: [Int: AsyncStream<Change>.Continuation] = [:]
            var nextSubscriber = 0
            var client: ZooKeeperClient?
            var node: String?
            var lastError: ZooKeeperError?
            var finished = false
        }

        let shared = LockedValue(Shared())
    }

    /// The configuration.
    public let configuration: Configuration
    private let clock: any Clock<Duration>
    private let tracker = Tracker()
    private let runner = LockedValue<Task<Void, Never>?>(nil)
    private let namePrefix: String

    /// Prepares a candidate; ``start()`` enters the election.
    ///
    /// - Parameters:
    ///   - configuration: Connection, election path, identity.
    ///   - clock: The clock of the connect timeout and the retry delay.
    public init(configuration: Configuration, clock: any Clock<Duration> = ContinuousClock()) {
        self.configuration = configuration
        self.clock = clock
        // A name unique to this candidate, so that a node created just before a connection loss is recognised.
        self.namePrefix = "candidate-" + UUID().uuidString.lowercased() + "-"
    }

    deinit {
        self.runner.withLock { $0?.cancel() }
    }

    // MARK: - Observing

    /// Whether this candidate leads now.
    public var isLeader: Bool {
        self.tracker.shared.withLock { $0.leadership != nil }
    }

    /// The current leadership, if this candidate leads.
    public var leadership: Leadership? {
        self.tracker.shared.withLock { $0.leadership }
    }

    /// This candidate's election node, while it has one.
    public var node: String? {
        self.tracker.shared.withLock { $0.node }
    }

    /// The session of the election's current client, if connected once (for diagnostics and tests).
    public var sessionCredentials: ZooKeeperClient.SessionCredentials? {
        self.tracker.shared.withLock { $0.client }?.sessionCredentials
    }

    /// The last ZooKeeper error the election met (and retried after), for diagnostics.
    public var lastError: ZooKeeperError? {
        self.tracker.shared.withLock { $0.lastError }
    }

    /// Leadership changes from now on (the stream starts with ``Change/elected(_:)`` when this candidate leads
    /// already); it ends after ``resign()``.
    public func changes() -> AsyncStream<Change> {
        let (stream, continuation) = AsyncStream<Change>.makeStream(bufferingPolicy: .unbounded)
        let registered = self.tracker.shared.withLock { shared -> Int? in
            guard !shared.finished else { return nil }
            if let leadership = shared.leadership { continuation.yield(.elected(leadership)) }
            let id = shared.nextSubscriber
            shared.nextSubscriber += 1
            shared.subscribers[id] = continuation
            return id
        }
        guard let id = registered else {
            continuation.finish()
            return stream
        }
        let tracker = self.tracker
        continuation.onTermination = { _ in
            _ = tracker.shared.withLock { $0.subscribers.removeValue(forKey: id) }
        }
        return stream
    }

    /// Who leads the election now, read from ZooKeeper through this candidate's session.
    ///
    /// - Returns: The leader's identity, or `nil` when nobody takes part.
    /// - Throws: ``ZooKeeperError`` (``ZooKeeperError/Code/closed`` when this candidate has no session).
    public func leader() async throws(ZooKeeperError) -> Identity? {
        guard let client = self.tracker.shared.withLock({ $0.client }) else {
            throw ZooKeeperError(code: .closed, message: "The election has no ZooKeeper session now")
        }
        return try await Self.leader(of: self.configuration.path, client: client)
    }

    /// Who leads an election, read through any client.
    ///
    /// - Parameters:
    ///   - path: The election node.
    ///   - client: A connected client.
    /// - Returns: The leader's identity, or `nil` when nobody takes part.
    /// - Throws: ``ZooKeeperError``; a leader node whose data is not an identity is
    ///   ``ZooKeeperError/Code/other``.
    public static func leader(of path: String, client: ZooKeeperClient) async throws(ZooKeeperError) -> Identity? {
        while true {
            let names: [String]
            do {
                names = try await client.children(of: path)
            } catch where error.code == .noNode {
                return nil
            }
            guard let first = Self.candidates(names).first else { return nil }
            let data: [UInt8]
            do {
                data = try await client.get(path + "/" + first.name).data
            } catch where error.code == .noNode {
                continue  // the leader left while we looked
            }
            do {
                return try JSONDecoder().decode(Identity.self, from: Data(data))
            } catch {
                throw ZooKeeperError(
                    code: .other, path: path + "/" + first.name,
                    message: "The leader's node \(path)/\(first.name) does not hold a candidate identity"
                )
            }
        }
    }

    /// The candidates among an election node's children, lowest sequence first.
    static func candidates(_ names: [String]) -> [(name: String, sequence: Int64)] {
        names.compactMap { name -> (name: String, sequence: Int64)? in
            guard name.hasPrefix("candidate-"), name.utf8.count > 10 else { return nil }
            let digits = name.suffix(10)
            guard digits.utf8.allSatisfy({ (48...57).contains($0) }), let sequence = Int64(digits) else { return nil }
            return (name, sequence)
        }
        .sorted { ($0.sequence, $0.name) < ($1.sequence, $1.name) }
    }

    // MARK: - Taking part

    /// Enters the election in the background (idempotent).
    public func start() {
        self.runner.withLock { runner in
            guard runner == nil else { return }
            runner = Task { [configuration, clock, tracker, namePrefix] in
                await Self.run(configuration: configuration, clock: clock, tracker: tracker, namePrefix: namePrefix)
            }
        }
    }

    /// Leaves the election: a leader is deposed (``DepositionReason/resigned``) before its node goes, the session
    /// is closed and ``changes()`` streams end. Returns when that is done.
    public func resign() async {
        let task = self.runner.withLock { runner -> Task<Void, Never>? in
            if runner == nil {
                runner = Task {}
                Self.finish(self.tracker)
            }
            return runner
        }
        task?.cancel()
        await task?.value
    }

    private static func run(configuration: Configuration, clock: any Clock<Duration>, tracker: Tracker, namePrefix: String) async {
        while !Task.isCancelled {
            let client: ZooKeeperClient
            do {
                client = try await ZooKeeperClient.connect(configuration.client, clock: clock)
            } catch {
                tracker.shared.withLock { $0.lastError = error }
                try? await clock.sleep(for: configuration.retryDelay, tolerance: nil)
                continue
            }
            tracker.shared.withLock { $0.client = client }
            let retry = await Candidate(
                configuration: configuration, client: client, tracker: tracker, namePrefix: namePrefix
            ).run()
            // Deposed already (suspension, expiry) or resigning: depose first, then let the node go.
            Self.depose(tracker, reason: Task.isCancelled ? .resigned : .sessionExpired)
            tracker.shared.withLock {
                $0.client = nil
                $0.node = nil
            }
            await client.close()
            if retry && !Task.isCancelled {
                try? await clock.sleep(for: configuration.retryDelay, tolerance: nil)
            }
        }
        Self.depose(tracker, reason: .resigned)
        Self.finish(tracker)
    }

    static func elect(_ tracker: Tracker, node: String, sessionID: Int64) {
        let (change, subscribers) = tracker.shared.withLock { shared -> (Change?, [AsyncStream<Change>.Continuation]) in
            guard shared.leadership == nil else { return (nil, []) }
            shared.terms += 1
            let leadership = Leadership(term: shared.terms, node: node, sessionID: sessionID, tracker: tracker)
            shared.leadership = leadership
            return (.elected(leadership), Array(shared.subscribers.values))
        }
        guard let change else { return }
        for subscriber in subscribers { subscriber.yield(change) }
    }

    static func depose(_ tracker: Tracker, reason: DepositionReason) {
        let (change, subscribers) = tracker.shared.withLock { shared -> (Change?, [AsyncStream<Change>.Continuation]) in
            guard let leadership = shared.leadership else { return (nil, []) }
            shared.leadership = nil
            return (.deposed(leadership, reason: reason), Array(shared.subscribers.values))
        }
        guard let change else { return }
        for subscriber in subscribers { subscriber.yield(change) }
    }

    private static func finish(_ tracker: Tracker) {
        let subscribers = tracker.shared.withLock { shared -> [AsyncStream<Change>.Continuation] in
            shared.finished = true
            defer { shared.subscribers.removeAll() }
            return Array(shared.subscribers.values)
        }
        for subscriber in subscribers { subscriber.finish() }
    }
}

/// One session's part in the election: create the node, then lead or watch the predecessor, until the session
/// ends or the task is cancelled.
private struct Candidate {
    let configuration: LeaderElection.Configuration
    let client: ZooKeeperClient
    let tracker: LeaderElection.Tracker
    let namePrefix: String

    /// Runs until the session is over; returns whether to wait the retry delay before a new session.
    func run() async -> Bool {
        let path = self.configuration.path
        var events = self.client.events().makeAsyncIterator()
        var connected = true
        var node: String?
        let identity: [UInt8]
        do {
            identity = Array(try JSONEncoder().encode(self.configuration.identity))
        } catch {
            identity = []
        }

        /// Waits for the next event; `nil` when the session is over (or the task cancelled).
        func nextEvent() async -> ZooKeeperClient.Event? {
            guard let event = await events.next() else { return nil }
            if case .session(let state) = event {
                switch state {
                case .suspended:
                    // Fencing: stop leading the moment the connection is lost.
                    LeaderElection.depose(self.tracker, reason: .sessionSuspended)
                    connected = false
                case .connected:
                    connected = true
                case .expired:
                    LeaderElection.depose(self.tracker, reason: .sessionExpired)
                    return nil
                case .authenticationFailed, .closed:
                    return nil
                case .connecting:
                    break
                }
            }
            return event
        }

        while !Task.isCancelled {
            if !connected {
                guard await nextEvent() != nil else { return false }
                continue
            }
            do {
                let names: [String]
                do {
                    names = try await self.client.children(of: path)
                } catch where error.code == .noNode {
                    names = []  // no election node yet: the create below makes it
                }
                let candidates = LeaderElection.candidates(names)
                // Ours: the node this candidate created (also one created just before a connection loss).
                if node == nil, let mine = candidates.first(where: { $0.name.hasPrefix(self.namePrefix) }) {
                    node = path + "/" + mine.name
                }
                guard let current = node, let index = candidates.firstIndex(where: { path + "/" + $0.name == current })
                else {
                    if node != nil {
                        // Our node is gone while the session lives: deleted by someone else.
                        LeaderElection.depose(self.tracker, reason: .nodeDeleted)
                        node = nil
                    }
                    let created = try await self.client.create(
                        path + "/" + self.namePrefix, data: identity, mode: .ephemeralSequential, createParents: true
                    )
                    node = created
                    self.tracker.shared.withLock { $0.node = created }
                    continue
                }
                self.tracker.shared.withLock { $0.node = current }
                if index == 0 {
                    // Lowest: lead. Watch our own node, so that its deletion deposes us.
                    guard try await self.client.exists(current, watch: true) != nil else { continue }
                    LeaderElection.elect(self.tracker, node: current, sessionID: self.client.sessionID)
                    while true {
                        guard let event = await nextEvent() else { return false }
                        if !connected { break }
                        if case .watch(let watch) = event, watch.path == current, watch.kind == .deleted { break }
                    }
                } else {
                    let predecessor = path + "/" + candidates[index - 1].name
                    guard try await self.client.exists(predecessor, watch: true) != nil else { continue }
                    while true {
                        guard let event = await nextEvent() else { return false }
                        if !connected { break }
                        if case .watch(let watch) = event, watch.path == predecessor { break }
                        if case .watch(let watch) = event, watch.path.isEmpty { break }
                    }
                }
            } catch {
                self.tracker.shared.withLock { $0.lastError = error }
                switch error.code {
                case .connectionLoss, .operationTimeout:
                    connected = self.client.state == .connected
                    if connected {
                        // Reconnected already, or a server hiccup: look again shortly.
                        continue
                    }
                case .sessionExpired, .closed, .authenticationFailed, .sessionMoved:
                    LeaderElection.depose(self.tracker, reason: .sessionExpired)
                    return error.code != .sessionExpired
                default:
                    // ACLs, bad path…: not our session's fault; a new session after the retry delay.
                    return true
                }
            }
        }
        return false
    }
}
