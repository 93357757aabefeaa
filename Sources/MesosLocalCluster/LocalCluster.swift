import Foundation
import Logging
import MesosCore
import MesosInMemoryTransport

/// A Mesos cluster inside your process: a master that speaks the v1 scheduler API behind an in-memory
/// transport, and agents that really run tasks' commands on this machine.
///
/// Point a scheduler at it instead of a real master to develop and test a framework without Mesos, like
/// Mesos's own local mode but without libmesos:
///
/// ```swift
/// let cluster = LocalCluster(agents: 1)
/// let scheduler = MesosScheduler(configuration: .init(
///     frameworkInfo: info, master: cluster.detector, transport: cluster.transport))
/// try await scheduler.withSubscription { events in … }
/// await cluster.shutdown()
/// ```
///
/// What the master does, as a Mesos 1.11 master would:
/// - SUBSCRIBE opens an event stream (SUBSCRIBED, then HEARTBEAT at once and every
///   ``Configuration/heartbeatInterval``); re-subscribing with the framework id fails over, and the old stream
///   gets ERROR "Framework failed over". A closed stream leaves the framework registered for its
///   `failover_timeout` (0 removes it at once, killing its tasks).
/// - OFFERS: one per agent and role, for each of a framework's roles that is not suppressed, holding what is free
///   and allocatable to that role (unreserved, or statically reserved to it: ``AgentDefinition``), with the agent's
///   host name, attributes and domain; `allocation_info` for MULTI_ROLE frameworks, the pre-refinement form
///   (`role`) unless the framework has RESERVATION_REFINEMENT. DECLINE and the unused part of an ACCEPT are
///   filtered per framework, role and agent for `refuse_seconds` (default 5 s); SUPPRESS stops offers for roles
///   (also `suppressed_roles` at SUBSCRIBE); REVIVE resumes them and clears their filters. SUPPRESS and REVIVE
///   naming a role the framework is not subscribed to are ignored, as the master does.
/// - ACCEPT with LAUNCH checks each task as the master does (unique id, the offers' agent, a command; the offer's
///   `allocation_info` injected where missing, valid resources allocated to a single role and contained in what
///   the offers have left) and answers a bad one with TASK_ERROR (REASON_TASK_INVALID); invalid offers give
///   TASK_LOST (TASK_DROPPED for PARTITION_AWARE frameworks). These master-made updates carry no uuid.
/// - KILL sends SIGTERM to the task's process group and SIGKILL after the kill policy's grace period (default
///   ``Configuration/defaultKillGracePeriod``); TASK_KILLING first for frameworks with TASK_KILLING_STATE.
/// - Agent updates (TASK_STARTING, TASK_RUNNING, then TASK_FINISHED, TASK_FAILED "Command exited with status 3"
///   or TASK_KILLED) carry a uuid; only the oldest unacknowledged update of a task is sent, again every
///   ``Configuration/statusUpdateRetryInterval`` until ACKNOWLEDGE.
/// - RECONCILE answers explicitly or implicitly (source MASTER, reason RECONCILIATION, no uuid); TEARDOWN kills
///   every task of the framework and closes its stream.
/// - HTTP errors follow the master: 400 for undecodable or invalid calls, unknown frameworks and stream id
///   mismatches, 401 without valid credentials (when ``Configuration/credentials`` are set), 403 when not
///   subscribed, 405, 406, 415, and 501 for UNKNOWN.
/// - The operator API (`/api/v1`) answers the read-only calls (GET_HEALTH, GET_VERSION, GET_STATE, GET_AGENTS,
///   GET_FRAMEWORKS, GET_EXECUTORS, GET_TASKS) and SUBSCRIBE: SUBSCRIBED with the GET_STATE snapshot, HEARTBEAT at
///   once and every ``Configuration/heartbeatInterval``, then TASK_ADDED, TASK_UPDATED, FRAMEWORK_ADDED,
///   FRAMEWORK_UPDATED and FRAMEWORK_REMOVED as they happen (the agents are fixed, so no AGENT_ADDED or
///   AGENT_REMOVED follows the snapshot), to any number of subscribers; one that falls
///   ``Configuration/operatorEventQueueLimit`` events behind has its stream ended. Other operator calls answer 501.
///
/// Tasks run as `/bin/sh -c value` (or `value` with `arguments` as argv when `shell` is false), in a sandbox
/// directory, with the process's environment, `MESOS_SANDBOX`, `MESOS_TASK_ID`, … and the task's own variables.
/// Their output goes to ``Configuration/output``, to the sandbox's `stdout`/`stderr` files and to
/// ``snapshot()``. Tasks run as the user of this process: `CommandInfo.user` is not honoured, and there are no
/// containers, images, health checks, task groups or custom executors.
///
/// Call ``shutdown(gracePeriod:)`` when done: it kills what still runs and reaps it. Dropping the cluster
/// without it kills the processes with SIGKILL (their exit is then reaped by the threads that watch them).
public final class LocalCluster: Sendable {
    /// The configuration.
    public let configuration: Configuration
    /// The in-memory transport through which schedulers reach this cluster's master.
    public let transport: MesosInMemoryTransport
    /// The master (internal for tests, which drive its tick by hand).
    let master: LocalMaster

    /// Creates and starts a cluster.
    ///
    /// - Parameters:
    ///   - configuration: Agents, resources, timers, output.
    ///   - logger: Where the master logs (frameworks subscribing, tasks refused, …); the default logs nothing.
    public init(configuration: Configuration = Configuration(), logger: Logger = Logger(label: "mesos.local-cluster", factory: { _ in SwiftLogNoOpLogHandler() })) {
        self.configuration = configuration
        let master = LocalMaster(configuration: configuration, logger: logger)
        self.master = master
        self.transport = MesosInMemoryTransport { request in
            try await master.handle(request)
        }
        master.startTimer()
    }

    /// Creates and starts a cluster with `agents` agents offering `resources` each (see
    /// ``Configuration/agentDefinitions`` for agents that differ).
    ///
    /// - Parameters:
    ///   - agents: How many agents.
    ///   - resources: What each offers (default: this machine).
    ///   - output: Receives the tasks' output as it is written.
    public convenience init(
        agents: Int = 1,
        resources: AgentResources = .thisMachine(),
        output: (@Sendable (TaskOutputChunk) -> Void)? = nil
    ) {
        var configuration = Configuration(agents: agents, agentResources: resources)
        configuration.output = output
        self.init(configuration: configuration)
    }

    deinit {
        self.master.stopTimer()
        for process in self.master.shutdown() {
            process.forceKill()
        }
        if self.master.ownsWorkDirectory {
            try? FileManager.default.removeItem(atPath: self.master.workDirectory)
        }
    }

    /// Runs `body` with a new cluster and shuts the cluster down afterwards, whether `body` returns or throws.
    ///
    /// - Parameters:
    ///   - configuration: The cluster's configuration.
    ///   - body: What to do with it.
    /// - Returns: What `body` returns.
    public static func withCluster<Result: Sendable>(
        configuration: Configuration = Configuration(),
        _ body: (LocalCluster) async throws -> Result
    ) async rethrows -> Result {
        let cluster = LocalCluster(configuration: configuration)
        do {
            let result = try await body(cluster)
            await cluster.shutdown()
            return result
        } catch {
            await cluster.shutdown()
            throw error
        }
    }

    /// Where the master is, as a scheduler's master detector reports it. Only ``transport`` reaches it.
    public var masterLocation: MasterLocation {
        self.master.location
    }

    /// The master's base URL (`http://localhost:5050` by default); only ``transport`` reaches it.
    public var masterURL: URL {
        self.master.location.baseURL
    }

    /// A master detector that always names this cluster's master.
    public var detector: MasterDetector {
        .fixed(self.master.location)
    }

    /// The master's description, as sent in SUBSCRIBED.
    public var masterInfo: MasterInfo {
        self.master.masterInfo
    }

    /// The agents' ids, in order.
    public var agentIDs: [AgentID] {
        self.master.state.withLock { $0.agents.map(\.id) }
    }

    /// The directory under which task sandboxes are created.
    public var workDirectory: String {
        self.master.workDirectory
    }

    /// A copy of the cluster's state: agents and their resources, frameworks, tasks, offers.
    public func snapshot() -> LocalClusterSnapshot {
        self.master.snapshot()
    }

    /// Stops the cluster: closes every event stream, refuses further requests (as a connection refused), sends
    /// SIGTERM to every task still running and SIGKILL after `gracePeriod`, waits until they are reaped, and
    /// removes the work directory if the cluster made it.
    ///
    /// - Parameter gracePeriod: How long tasks may take to exit after SIGTERM.
    public func shutdown(gracePeriod: Duration = .seconds(2)) async {
        self.master.stopTimer()
        let processes = self.master.shutdown()
        for process in processes {
            process.terminate(grace: gracePeriod)
        }
        let deadline = ContinuousClock.now + gracePeriod + .seconds(3)
        while processes.contains(where: { !$0.hasEnded }), ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        for process in processes where !process.hasEnded {
            process.forceKill()
        }
        if self.master.ownsWorkDirectory {
            try? FileManager.default.removeItem(atPath: self.master.workDirectory)
        }
    }
}
