import Foundation
import Logging
import Metrics
import MesosCore
import MesosFramework
import MesosScheduler
import MesosZooKeeper

/// A framework run by several instances, one of them the leader: each instance joins a ZooKeeper
/// ``LeaderElection``; the elected one runs a ``FrameworkRuntime`` on a ``ZooKeeperStateStore`` fenced by its
/// leadership, the others wait.
///
/// - **Elected**: a fresh runtime is created for the leadership. It reads the store, so it subscribes with the
///   stored framework id (failover), reconciles the stored tasks and adopts those still running, and it sees the
///   specs its predecessors submitted.
/// - **Deposed** (session suspended or expired, node deleted, resigned): ``FrameworkRuntime/stop()`` is called at
///   once, before anything else is handled; the election deposes on a *suspended* session, which is before the
///   session can expire on the server, so before a successor can be elected. Independently, every store write
///   of that runtime is refused once the leadership is not current, and on the server by a check of the leader's
///   ephemeral node, so a late write of a deposed leader has no effect.
/// - **Re-elected**: a new leadership gets a new runtime; a runtime is never reused across leaderships.
///
/// The store is under `<path>/state`, the election under `<path>/leader`. Each leadership uses its own ZooKeeper
/// session for the store (closed when it ends).
///
/// ```swift
/// let framework = HighlyAvailableFramework(
///     configuration: .init(zooKeeper: try ZooKeeperURL("zk://127.0.0.1:2181/my-framework")),
///     scheduler: { schedulerConfiguration })
/// async let running: Void = framework.run()
/// for await change in framework.changes() { print(change) }
/// ```
public final class HighlyAvailableFramework: Sendable {
    /// How to run.
    public struct Configuration: Sendable {
        /// The ZooKeeper servers and the framework's root path (e.g. `zk://127.0.0.1:2181/my-framework`).
        public var zooKeeper: ZooKeeperURL
        /// The ZooKeeper session timeout of the election and the store (a dead leader is replaced after about
        /// this long).
        public var sessionTimeout: Duration
        /// How long a ZooKeeper connection may take.
        public var connectTimeout: Duration
        /// Who this instance is (written into its election node).
        public var identity: LeaderElection.Identity
        /// The delay before retrying after a ZooKeeper failure or a runtime that could not be created.
        public var retryDelay: Duration
        /// The runtime's tunables.
        public var runtime: FrameworkRuntime.Configuration
        /// Where the metrics go (see ``HighlyAvailableFramework``); `nil`: the process's `MetricsSystem`.
        public var metricsFactory: (any MetricsFactory)?

        /// Creates a configuration.
        ///
        /// - Parameters:
        ///   - zooKeeper: Servers and root path.
        ///   - sessionTimeout: Default 10 s.
        ///   - connectTimeout: Default 15 s.
        ///   - identity: Default: this host and process.
        ///   - retryDelay: Default 1 s.
        ///   - runtime: The runtime's tunables.
        public init(
            zooKeeper: ZooKeeperURL,
            sessionTimeout: Duration = .seconds(10),
            connectTimeout: Duration = .seconds(15),
            identity: LeaderElection.Identity = .current(),
            retryDelay: Duration = .seconds(1),
            runtime: FrameworkRuntime.Configuration = .init()
        ) {
            self.zooKeeper = zooKeeper
            self.sessionTimeout = sessionTimeout
            self.connectTimeout = connectTimeout
            self.identity = identity
            self.retryDelay = retryDelay
            self.runtime = runtime
            self.metricsFactory = nil
        }

        /// The root path without a trailing slash.
        var root: String {
            let path = self.zooKeeper.path
            return path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
        }

        /// The election node.
        public var electionPath: String { self.root == "/" ? "/leader" : self.root + "/leader" }
        /// The store's root node.
        public var statePath: String { self.root == "/" ? "/state" : self.root + "/state" }

        var client: ZooKeeperClient.Configuration {
            ZooKeeperClient.Configuration(
                url: self.zooKeeper, sessionTimeout: self.sessionTimeout, connectTimeout: self.connectTimeout)
        }
    }

    /// A change of this instance's role.
    public enum Change: Sendable, CustomStringConvertible {
        /// Elected: `runtime` runs for this leadership (it subscribes next).
        case elected(LeaderElection.Leadership, runtime: FrameworkRuntime)
        /// Deposed: the leadership's runtime was stopped.
        case deposed(LeaderElection.Leadership, reason: LeaderElection.DepositionReason)
        /// Elected, but the runtime could not be created (the store could not be read); retried after the delay
        /// while the leadership holds.
        case runtimeFailed(LeaderElection.Leadership, error: FrameworkRuntimeError)

        /// One line for logs.
        public var description: String {
            switch self {
            case .elected(let leadership, _): return "elected (\(leadership))"
            case .deposed(let leadership, let reason): return "deposed (\(leadership)): \(reason)"
            case .runtimeFailed(let leadership, let error): return "runtime failed (\(leadership)): \(error)"
            }
        }
    }

    /// What this instance has done so far, as ``statistics`` reports it.
    public struct Statistics: Sendable, Equatable {
        /// Whether it leads now.
        public var isLeader: Bool
        /// The term of its current leadership, if it leads.
        public var term: UInt64?
        /// How often it was elected.
        public var elections: Int
        /// How often it was deposed (including resigning).
        public var depositions: Int
        /// How often a leadership's runtime could not be created (the store could not be read).
        public var runtimeFailures: Int
        /// For the latest leadership that reached the master: the time from its election to the SUBSCRIBED of its
        /// runtime's scheduler (the part of a takeover this instance controls; a dead leader's session timeout
        /// comes before it).
        public var lastTakeover: Duration?

        /// Creates statistics.
        public init(
            isLeader: Bool = false, term: UInt64? = nil, elections: Int = 0, depositions: Int = 0,
            runtimeFailures: Int = 0, lastTakeover: Duration? = nil
        ) {
            self.isLeader = isLeader
            self.term = term
            self.elections = elections
            self.depositions = depositions
            self.runtimeFailures = runtimeFailures
            self.lastTakeover = lastTakeover
        }
    }

    private struct Term: Sendable {
        var leadership: LeaderElection.Leadership
        var runtime: FrameworkRuntime?
        var task: Task<Void, Never>?
        var electedAt: Duration
        var subscribed = false
    }

    private struct Shared: Sendable {
        var term: Term?
        var subscribers: [Int: AsyncStream<Change>.Continuation] = [:]
        var nextSubscriber = 0
        var finished = false
        var ended: (any Error)?
        var endedWithoutError = false
        var statistics = Statistics()
    }

    /// The configuration.
    public let configuration: Configuration
    /// The election this instance takes part in (for diagnostics: its node, session, the current leader).
    public let election: LeaderElection
    private let makeScheduler: @Sendable () -> MesosSchedulerConfiguration
    private let shared = LockedValue(Shared())
    private let logger: Logger
    private let time: TimeSource
    private let metrics: HighAvailabilityMetrics

    /// Prepares an instance; ``run()`` joins the election.
    ///
    /// - Parameters:
    ///   - configuration: ZooKeeper, identity, runtime tunables.
    ///   - clock: The clock of the election's timeouts and retries.
    ///   - logger: Where to log; the default logs nothing.
    ///   - scheduler: Makes the scheduler's configuration for each leadership; its framework info must set
    ///     `failover_timeout` (the stored framework id replaces its id).
    public init(
        configuration: Configuration,
        clock: any Clock<Duration> = ContinuousClock(),
        logger: Logger = MesosScheduler.silentLogger("mesos.ha"),
        scheduler: @escaping @Sendable () -> MesosSchedulerConfiguration
    ) {
        self.configuration = configuration
        self.makeScheduler = scheduler
        self.logger = logger
        self.time = TimeSource(clock)
        self.metrics = HighAvailabilityMetrics(factory: configuration.metricsFactory)
        self.election = LeaderElection(
            configuration: .init(
                client: configuration.client, path: configuration.electionPath, identity: configuration.identity,
                retryDelay: configuration.retryDelay),
            clock: clock)
    }

    // MARK: - Observing

    /// Whether this instance leads now (its leadership is current).
    public var isLeader: Bool { self.election.isLeader }

    /// Elections, depositions and the latest takeover time of this instance. The same figures go to swift-metrics
    /// (``Configuration/metricsFactory``): `mesos_ha_leader` (gauge, 1 while leading),
    /// `mesos_ha_elections_total`, `mesos_ha_depositions_total{reason}`, `mesos_ha_runtime_failures_total` and
    /// `mesos_ha_takeover_seconds` (timer: election → SUBSCRIBED).
    public var statistics: Statistics {
        self.shared.withLock { $0.statistics }
    }

    /// The runtime of the current leadership, once created; `nil` while this instance does not lead. Submit,
    /// scale and cancel specs through it: they are stored, so a successor runs them too.
    public var runtime: FrameworkRuntime? {
        self.shared.withLock { $0.term?.runtime }
    }

    /// This instance's role changes from now on (starting with ``Change/elected(_:runtime:)`` when it leads with
    /// a runtime already). Ends when ``run()`` ends.
    public func changes() -> AsyncStream<Change> {
        let (stream, continuation) = AsyncStream<Change>.makeStream(bufferingPolicy: .unbounded)
        let id = self.shared.withLock { shared -> Int? in
            guard !shared.finished else { return nil }
            if let term = shared.term, let runtime = term.runtime {
                continuation.yield(.elected(term.leadership, runtime: runtime))
            }
            let id = shared.nextSubscriber
            shared.nextSubscriber += 1
            shared.subscribers[id] = continuation
            return id
        }
        guard let id else {
            continuation.finish()
            return stream
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.shared.withLock { $0.subscribers.removeValue(forKey: id) }
        }
        return stream
    }

    // MARK: - Running

    /// Takes part in the election and runs the runtime of each leadership, until cancelled, or until a
    /// leadership's runtime ends on its own (its scheduler ended: the framework was removed, or a fatal error),
    /// in which case this instance resigns and `run()` returns or throws that runtime's error.
    ///
    /// - Throws: The error a runtime ended with.
    public func run() async throws {
        let changes = self.election.changes()
        self.election.start()
        await withTaskCancellationHandler {
            for await change in changes {
                if self.shared.withLock({ $0.ended != nil || $0.endedWithoutError }) { break }
                switch change {
                case .elected(let leadership):
                    self.elected(leadership)
                case .deposed(let leadership, let reason):
                    self.deposed(leadership, reason: reason)
                }
            }
        } onCancel: {
            Task { await self.election.resign() }
        }
        await self.election.resign()
        let (term, subscribers, ended) = self.shared.withLock { shared in
            shared.finished = true
            defer { shared.term = nil; shared.subscribers = [:] }
            return (shared.term, Array(shared.subscribers.values), shared.ended)
        }
        if let term {
            term.runtime?.stop()
            term.task?.cancel()
            self.countDeposition(.resigned)
            self.publish(.deposed(term.leadership, reason: .resigned), to: subscribers)
        }
        for subscriber in subscribers { subscriber.finish() }
        if let ended { throw ended }
    }

    private func elected(_ leadership: LeaderElection.Leadership) {
        self.logger.info("elected", metadata: ["term": "\(leadership.term)", "node": "\(leadership.node)"])
        let electedAt = self.time.now()
        let task = Task { await self.lead(leadership) }
        let replaced = self.shared.withLock { shared -> Term? in
            defer {
                shared.term = Term(leadership: leadership, runtime: nil, task: task, electedAt: electedAt)
                shared.statistics.isLeader = true
                shared.statistics.term = leadership.term
                shared.statistics.elections += 1
            }
            return shared.term
        }
        self.metrics.elected()
        // A leadership always ends with a deposition first; stop a leftover all the same.
        replaced?.runtime?.stop()
        replaced?.task?.cancel()
    }

    private func deposed(_ leadership: LeaderElection.Leadership, reason: LeaderElection.DepositionReason) {
        let term = self.shared.withLock { shared -> Term? in
            guard shared.term?.leadership == leadership else { return nil }
            defer { shared.term = nil }
            return shared.term
        }
        // Fencing: stop first, then tell.
        term?.runtime?.stop()
        term?.task?.cancel()
        if term != nil { self.countDeposition(reason) }
        self.logger.warning("deposed", metadata: ["term": "\(leadership.term)", "reason": "\(reason)"])
        self.publish(.deposed(leadership, reason: reason))
    }

    /// One leadership: a store session, a runtime on it, run until deposed.
    private func lead(_ leadership: LeaderElection.Leadership) async {
        let clock = ContinuousClock()
        while !Task.isCancelled, leadership.isCurrent {
            let client: ZooKeeperClient
            do {
                client = try await ZooKeeperClient.connect(self.configuration.client)
            } catch {
                self.logger.warning("store connection failed", metadata: ["error": "\(error)"])
                try? await clock.sleep(for: self.configuration.retryDelay)
                continue
            }
            let store = ZooKeeperStateStore(client: client, path: self.configuration.statePath, leadership: leadership)
            let runtime: FrameworkRuntime
            do {
                runtime = try await FrameworkRuntime(
                    scheduler: self.makeScheduler(), store: store, configuration: self.configuration.runtime,
                    logger: self.logger)
            } catch {
                self.shared.withLock { $0.statistics.runtimeFailures += 1 }
                self.metrics.runtimeFailed()
                self.publish(.runtimeFailed(leadership, error: error))
                await client.close()
                if error.kind == .failoverTimeoutNotSet {
                    self.end(error: error)
                    return
                }
                try? await clock.sleep(for: self.configuration.retryDelay)
                continue
            }
            let installed = self.shared.withLock { shared -> Bool in
                guard shared.term?.leadership == leadership, leadership.isCurrent else { return false }
                shared.term?.runtime = runtime
                return true
            }
            guard installed, !Task.isCancelled else {
                runtime.stop()
                await client.close()
                return
            }
            runtime.scheduler.onSubscribed { [weak self] _ in self?.subscribed(leadership) }
            self.publish(.elected(leadership, runtime: runtime))
            var failure: (any Error)?
            do {
                try await runtime.run()
            } catch {
                failure = error
            }
            await client.close()
            // Stopped by a deposition: nothing more to do. Ended on its own while leading: resign.
            guard !runtime.isStopped, leadership.isCurrent, !Task.isCancelled else { return }
            self.logger.error("runtime ended while leading", metadata: ["error": "\(String(describing: failure))"])
            runtime.stop()
            self.end(error: failure)
            return
        }
    }

    /// The first SUBSCRIBED of a leadership: the takeover is complete.
    private func subscribed(_ leadership: LeaderElection.Leadership) {
        let now = self.time.now()
        let takeover = self.shared.withLock { shared -> Duration? in
            guard var term = shared.term, term.leadership == leadership, !term.subscribed else { return nil }
            term.subscribed = true
            shared.term = term
            shared.statistics.lastTakeover = now - term.electedAt
            return now - term.electedAt
        }
        if let takeover {
            self.metrics.takeover(takeover)
            self.logger.info("subscribed", metadata: ["term": "\(leadership.term)", "takeover": "\(takeover)"])
        }
    }

    private func countDeposition(_ reason: LeaderElection.DepositionReason) {
        self.shared.withLock { shared in
            shared.statistics.isLeader = false
            shared.statistics.term = nil
            shared.statistics.depositions += 1
        }
        self.metrics.deposed(reason)
    }

    private func end(error: (any Error)?) {
        self.shared.withLock { shared in
            if let error { shared.ended = error } else { shared.endedWithoutError = true }
        }
        Task { await self.election.resign() }
    }

    private func publish(_ change: Change, to given: [AsyncStream<Change>.Continuation]? = nil) {
        let subscribers = given ?? self.shared.withLock { Array($0.subscribers.values) }
        for subscriber in subscribers { subscriber.yield(change) }
    }
}

/// The swift-metrics instruments of a ``HighlyAvailableFramework``. Labels are bounded (deposition reasons).
struct HighAvailabilityMetrics: Sendable {
    static let leaderLabel = "mesos_ha_leader"
    static let electionsLabel = "mesos_ha_elections_total"
    static let depositionsLabel = "mesos_ha_depositions_total"
    static let runtimeFailuresLabel = "mesos_ha_runtime_failures_total"
    static let takeoverLabel = "mesos_ha_takeover_seconds"

    let factory: (any MetricsFactory)?

    private var resolved: any MetricsFactory { self.factory ?? MetricsSystem.factory }

    func elected() {
        Counter(label: Self.electionsLabel, dimensions: [], factory: self.resolved).increment()
        Gauge(label: Self.leaderLabel, dimensions: [], factory: self.resolved).record(1)
    }

    func deposed(_ reason: LeaderElection.DepositionReason) {
        Counter(label: Self.depositionsLabel, dimensions: [("reason", reason.description)], factory: self.resolved)
            .increment()
        Gauge(label: Self.leaderLabel, dimensions: [], factory: self.resolved).record(0)
    }

    func runtimeFailed() {
        Counter(label: Self.runtimeFailuresLabel, dimensions: [], factory: self.resolved).increment()
    }

    func takeover(_ duration: Duration) {
        Timer(label: Self.takeoverLabel, dimensions: [], factory: self.resolved).recordNanoseconds(duration.inNanoseconds)
    }
}
