import MesosCore

/// Keeps the framework's view of its tasks in step with the master's: explicit reconciliation after every
/// SUBSCRIBED, periodic implicit reconciliation, partition-aware transitions, unknown tasks and kill intents.
///
/// Design: a value type with no clock and no I/O (time comes in as `now`, an offset on the owner's clock); each
/// input returns an ``Output`` with the calls to send and the notices for the application.
///
/// - The application tells the driver about the tasks it launches (``track(_:agentID:state:replacing:now:)``);
///   the driver follows their updates with the merge rules of Mesos's partition-aware states: a hard terminal
///   state (FINISHED, FAILED, KILLED, ERROR, DROPPED, GONE) is never left (such an update is rejected and
///   flagged), while LOST, GONE_BY_OPERATOR, UNREACHABLE and UNKNOWN may move back to RUNNING.
/// - Explicit reconciliation (``subscribed(now:)``): `start = now`, RECONCILE every non-terminal task with its
///   agent id, in batches; then retry the tasks not answered since `start` with truncated exponential backoff
///   (``Configuration/initialBackoff`` doubling up to ``Configuration/maximumBackoff``). Any update for a task
///   answers it. When all answered, implicit reconciliation (an empty RECONCILE) runs every
///   ``Configuration/implicitInterval``. A new SUBSCRIBED restarts the whole run. A run still unanswered after
///   ``Configuration/alertAfter`` raises one ``FrameworkNotice/reconciliationOverdue(_:)``.
/// - An update for a task the application does not track is reported (``FrameworkNotice/unknownTask(_:killed:)``)
///   and, with ``Configuration/killUnknownTasks``, killed once per subscription.
/// - ``requestKill(_:now:)`` keeps the kill intent until the task is terminal: a KILL on an unreachable task only
///   makes the master answer UNREACHABLE, so the KILL is sent again when the task comes back (AGENT_REREGISTERED).
public struct ReconciliationDriver: Sendable {
    /// Tunables.
    public struct Configuration: Sendable, Hashable {
        /// The first wait for answers (default 2 s).
        public var initialBackoff: Duration
        /// The longest wait between retries (default 60 s).
        public var maximumBackoff: Duration
        /// The most tasks in one RECONCILE (default 1000).
        public var batchSize: Int
        /// The time between implicit reconciliations (default 15 min, as Mesos's docs suggest).
        public var implicitInterval: Duration
        /// An explicit run unanswered for this long raises an alert (default 10 min, the agent re-registration
        /// timeout after a master failover).
        public var alertAfter: Duration
        /// How long an UNREACHABLE task is kept before it may be replaced (default 5 min).
        public var unreachableGrace: Duration
        /// A task launched less than this long ago that the master reports UNKNOWN is reconciled again rather
        /// than replaced (default 1 min).
        public var recentLaunchWindow: Duration
        /// Kill tasks the master reports and the application does not track (default `false`: only report them).
        public var killUnknownTasks: Bool
        /// What to do when an unreachable task comes back while its replacement runs.
        public var returnedTaskPolicy: ReturnedTaskPolicy

        /// Creates a configuration with the defaults documented on each property.
        public init(
            initialBackoff: Duration = .seconds(2),
            maximumBackoff: Duration = .seconds(60),
            batchSize: Int = 1000,
            implicitInterval: Duration = .seconds(900),
            alertAfter: Duration = .seconds(600),
            unreachableGrace: Duration = .seconds(300),
            recentLaunchWindow: Duration = .seconds(60),
            killUnknownTasks: Bool = false,
            returnedTaskPolicy: ReturnedTaskPolicy = .killReturned
        ) {
            self.initialBackoff = initialBackoff
            self.maximumBackoff = maximumBackoff
            self.batchSize = batchSize
            self.implicitInterval = implicitInterval
            self.alertAfter = alertAfter
            self.unreachableGrace = unreachableGrace
            self.recentLaunchWindow = recentLaunchWindow
            self.killUnknownTasks = killUnknownTasks
            self.returnedTaskPolicy = returnedTaskPolicy
        }
    }

    /// Which copy to kill when an unreachable task comes back (AGENT_REREGISTERED) while its replacement runs.
    public enum ReturnedTaskPolicy: Sendable, Hashable {
        /// Kill the task that came back; the replacement keeps running.
        case killReturned
        /// Kill the replacement; the original keeps running.
        case killReplacement
        /// Kill nothing; only report it.
        case keepBoth
    }

    /// A task the driver follows.
    public struct TrackedTask: Sendable, Equatable {
        /// The task.
        public var taskID: TaskID
        /// Its agent, once known (from the launch or from an update).
        public var agentID: AgentID?
        /// Its latest state.
        public var state: TaskState
        /// The reason of its latest update.
        public var reason: TaskStatus.Reason?
        /// When it was tracked (launched).
        public var launchedAt: Duration
        /// When its latest update arrived (local time), if any.
        public var lastUpdateAt: Duration?
        /// When it became unreachable (local time), while it is.
        public var unreachableSince: Duration?
        /// `true` while a kill was requested and the task is not terminal.
        public var killRequested: Bool
        /// The task this one replaces, if any.
        public var replaces: TaskID?

        /// Whether the task still needs reconciling: not terminal in Mesos (UNREACHABLE and UNKNOWN do).
        public var isActive: Bool { !self.state.isTerminal }
    }

    /// What an update means for the application (partition-aware).
    public enum Advice: Sendable, Equatable {
        /// An ordinary change; nothing to do.
        case none
        /// UNREACHABLE: the task may still run; replace it only after `replaceableAt` (local time).
        case unreachable(replaceableAt: Duration)
        /// GONE or GONE_BY_OPERATOR: the task does not run; replace it now.
        case replaceNow
        /// DROPPED: it never started, for a transient cause; launch it again with backoff.
        case relaunchWithBackoff
        /// UNKNOWN to the master: reconcile again if `recentlyLaunched`, otherwise replace it.
        case unknownToMaster(recentlyLaunched: Bool)
        /// The task came back (AGENT_REREGISTERED) while `replacement` runs; the policy decides which is killed.
        case returned(replacement: TaskID?)
        /// The update tried to move the task out of a hard terminal state: ignored and flagged.
        case rejected
    }

    /// One task's change of state.
    public struct Transition: Sendable, Equatable {
        /// The task.
        public var taskID: TaskID
        /// The state before (`nil` for a task seen for the first time).
        public var from: TaskState?
        /// The state the update reports.
        public var to: TaskState
        /// The update's reason, if any.
        public var reason: TaskStatus.Reason?
        /// What it means.
        public var advice: Advice

        /// Creates a transition.
        public init(taskID: TaskID, from: TaskState?, to: TaskState, reason: TaskStatus.Reason?, advice: Advice) {
            self.taskID = taskID
            self.from = from
            self.to = to
            self.reason = reason
            self.advice = advice
        }
    }

    /// What an input produced.
    public struct Output: Sendable, Equatable {
        /// Calls to send, in order.
        public var calls: [SchedulerCall] = []
        /// Notices for the application.
        public var notices: [FrameworkNotice] = []

        /// An empty output.
        public init() {}
    }

    /// How a followed task is kept: a ``TrackedTask`` without its id (the table's key) and with its agent and
    /// replaced task as strings: a little over half the size, which counts with 100,000 tasks.
    private struct Entry: Sendable {
        var agentID: String?
        var replaces: String?
        // Times (offsets on the clock, never negative) as nanoseconds, `Int64.min` for none: an optional
        // `Duration` takes 24 bytes, this 8.
        private var launchedAtNanoseconds: Int64
        private var lastUpdateNanoseconds: Int64
        private var unreachableNanoseconds: Int64
        var state: TaskState
        var reason: TaskStatus.Reason?
        var killRequested: Bool

        init(_ task: TrackedTask) {
            self.agentID = task.agentID?.value
            self.replaces = task.replaces?.value
            self.launchedAtNanoseconds = task.launchedAt.inNanoseconds
            self.lastUpdateNanoseconds = task.lastUpdateAt.map(\.inNanoseconds) ?? .min
            self.unreachableNanoseconds = task.unreachableSince.map(\.inNanoseconds) ?? .min
            self.state = task.state
            self.reason = task.reason
            self.killRequested = task.killRequested
        }

        var launchedAt: Duration { .nanoseconds(self.launchedAtNanoseconds) }
        var lastUpdateAt: Duration? {
            self.lastUpdateNanoseconds == .min ? nil : .nanoseconds(self.lastUpdateNanoseconds)
        }
        var unreachableSince: Duration? {
            self.unreachableNanoseconds == .min ? nil : .nanoseconds(self.unreachableNanoseconds)
        }

        func tracked(_ id: String) -> TrackedTask {
            TrackedTask(
                taskID: TaskID(id), agentID: self.agentID.map { AgentID($0) }, state: self.state, reason: self.reason,
                launchedAt: self.launchedAt, lastUpdateAt: self.lastUpdateAt, unreachableSince: self.unreachableSince,
                killRequested: self.killRequested, replaces: self.replaces.map { TaskID($0) })
        }
    }

    /// The configuration.
    public let configuration: Configuration
    private var table: [String: Entry] = [:]
    private var active = false
    private var runStart: Duration?
    private var remaining: Set<String> = []
    private var nextAttempt: Duration?
    private var backoff: Duration = .zero
    private var alerted = false
    private var implicitDue: Duration?
    private var killedUnknown: Set<String> = []

    /// Creates a driver with no tasks.
    public init(configuration: Configuration = .init()) {
        self.configuration = configuration
    }

    /// The tracked tasks, by id.
    public var tasks: [TrackedTask] {
        self.table.map { $0.value.tracked($0.key) }.sorted { $0.taskID.value < $1.taskID.value }
    }

    /// A tracked task.
    public func task(_ id: TaskID) -> TrackedTask? {
        self.table[id.value]?.tracked(id.value)
    }

    /// The tasks the current explicit run still waits for, sorted; empty when no run is under way.
    public var unanswered: [TaskID] {
        self.remaining.sorted().map { TaskID($0) }
    }

    /// `true` while an explicit reconciliation run waits for answers.
    public var isReconciling: Bool { self.runStart != nil }

    /// When the next implicit reconciliation is due, once the explicit run is done.
    public var nextImplicitReconciliation: Duration? { self.implicitDue }

    /// Starts following a task (call it before the ACCEPT that launches it).
    ///
    /// - Parameters:
    ///   - taskID: The task.
    ///   - agentID: The agent it is launched on.
    ///   - state: Its state (default STAGING).
    ///   - replacing: The task it replaces, if any (see ``ReturnedTaskPolicy``).
    ///   - now: The current time.
    public mutating func track(
        _ taskID: TaskID, agentID: AgentID?, state: TaskState = .taskStaging, replacing: TaskID? = nil, now: Duration
    ) {
        self.table[taskID.value] = Entry(TrackedTask(
            taskID: taskID, agentID: agentID, state: state, reason: nil, launchedAt: now, lastUpdateAt: nil,
            unreachableSince: state == .taskUnreachable ? now : nil, killRequested: false, replaces: replacing))
    }

    /// Stops following a task.
    public mutating func forget(_ taskID: TaskID) {
        self.table.removeValue(forKey: taskID.value)
        self.remaining.remove(taskID.value)
    }

    /// A subscription (first or re-subscription) is live: starts an explicit run with `start = now`.
    public mutating func subscribed(now: Duration) -> Output {
        self.active = true
        self.killedUnknown = []
        self.implicitDue = nil
        self.alerted = false
        self.runStart = now
        self.remaining = Set(self.table.filter { !$0.value.state.isTerminal }.keys)
        self.backoff = self.configuration.initialBackoff
        var output = Output()
        if self.remaining.isEmpty {
            self.finishRun(now: now)
        } else {
            output.calls = self.reconcileCalls()
            self.scheduleRetry(now: now)
        }
        return output
    }

    /// The connection was lost: no reconciliation until the next ``subscribed(now:)``.
    public mutating func disconnected() {
        self.active = false
        self.runStart = nil
        self.remaining = []
        self.nextAttempt = nil
        self.implicitDue = nil
    }

    /// The next moment ``due(now:)`` has something to do, if any.
    public var nextDeadline: Duration? {
        guard self.active else { return nil }
        if self.runStart != nil {
            let alert = self.alerted ? nil : self.runStart.map { $0 + self.configuration.alertAfter }
            return [self.nextAttempt, alert].compactMap { $0 }.min()
        }
        return self.implicitDue
    }

    /// Retries, alerts and implicit runs due at `now`.
    public mutating func due(now: Duration) -> Output {
        var output = Output()
        guard self.active else { return output }
        if let start = self.runStart {
            if !self.alerted, now >= start + self.configuration.alertAfter, !self.remaining.isEmpty {
                self.alerted = true
                output.notices.append(.reconciliationOverdue(self.unanswered))
            }
            if let next = self.nextAttempt, now >= next {
                if self.remaining.isEmpty {
                    self.finishRun(now: now)
                } else {
                    output.calls = self.reconcileCalls()
                    self.scheduleRetry(now: now)
                }
            }
        } else if let due = self.implicitDue, now >= due {
            output.calls = [.reconcile(tasks: [])]
            self.implicitDue = now + self.configuration.implicitInterval
        }
        return output
    }

    /// Asks for a task to be killed, and keeps the intent until the task is terminal.
    ///
    /// - Returns: The KILL call (with the agent id when known).
    public mutating func requestKill(_ taskID: TaskID, now: Duration) -> SchedulerCall {
        self.table[taskID.value]?.killRequested = true
        return .kill(taskID: taskID, agentID: self.table[taskID.value]?.agentID.map { AgentID($0) })
    }

    /// Applies a status update (call it for every UPDATE, with or without uuid).
    public mutating func received(_ status: TaskStatus, now: Duration) -> Output {
        var output = Output()
        let id = status.taskID.value
        let reason: TaskStatus.Reason? = status.hasReason ? status.reason : nil
        if let start = self.runStart, now >= start, self.remaining.remove(id) != nil, self.remaining.isEmpty {
            self.finishRun(now: now)
        }
        guard var task = self.table[id]?.tracked(id) else {
            var killed = false
            if self.configuration.killUnknownTasks, !status.state.isTerminal, self.killedUnknown.insert(id).inserted {
                output.calls.append(.kill(taskID: status.taskID, agentID: status.hasAgentID ? status.agentID : nil))
                killed = true
            }
            output.notices.append(.unknownTask(status, killed: killed))
            return output
        }
        let from = task.state
        let to = status.state
        var transition = Transition(taskID: status.taskID, from: from, to: to, reason: reason, advice: .none)
        if Self.isHardTerminal(from), to != from {
            transition.advice = .rejected
            output.notices.append(.transition(transition))
            return output
        }
        task.lastUpdateAt = now
        if status.hasAgentID, !status.agentID.value.isEmpty { task.agentID = status.agentID }
        if reason != .reconciliation || to != from {
            // A reconciliation answer in the same state is no transition and must not overwrite richer fields.
            task.reason = reason
        }
        task.state = to
        let cameBack: Bool
        switch from {
        case .taskUnreachable, .taskLost, .taskUnknown, .taskGoneByOperator: cameBack = to == .taskRunning
        default: cameBack = to == .taskRunning && reason == .agentReregistered
        }
        switch to {
        case .taskUnreachable:
            let since = task.unreachableSince ?? now
            task.unreachableSince = since
            transition.advice = .unreachable(replaceableAt: since + self.configuration.unreachableGrace)
        case .taskGone, .taskGoneByOperator:
            transition.advice = .replaceNow
        case .taskDropped:
            transition.advice = .relaunchWithBackoff
        case .taskUnknown:
            transition.advice = .unknownToMaster(recentlyLaunched: now - task.launchedAt < self.configuration.recentLaunchWindow)
        default:
            if cameBack {
                let replacement = self.table.first { $0.value.replaces == id && !$0.value.state.isTerminal }
                    .map { TaskID($0.key) }
                transition.advice = .returned(replacement: replacement)
                if let replacement {
                    switch self.configuration.returnedTaskPolicy {
                    case .killReturned:
                        task.killRequested = true
                    case .killReplacement:
                        self.table[replacement.value]?.killRequested = true
                        output.calls.append(.kill(
                            taskID: replacement, agentID: self.table[replacement.value]?.agentID.map { AgentID($0) }))
                    case .keepBoth:
                        break
                    }
                }
            }
        }
        if to != .taskUnreachable { task.unreachableSince = nil }
        if task.killRequested {
            if to.isTerminal {
                task.killRequested = false
            } else if cameBack {
                output.calls.append(.kill(taskID: task.taskID, agentID: task.agentID))
            }
        }
        self.table[id] = Entry(task)
        if from != to || transition.advice != .none {
            output.notices.append(.transition(transition))
        }
        return output
    }

    /// FINISHED, FAILED, KILLED, ERROR, DROPPED and GONE: states a task never leaves.
    public static func isHardTerminal(_ state: TaskState) -> Bool {
        switch state {
        case .taskFinished, .taskFailed, .taskKilled, .taskError, .taskDropped, .taskGone: return true
        default: return false
        }
    }

    private func reconcileCalls() -> [SchedulerCall] {
        let ids = self.remaining.sorted()
        let size = max(1, self.configuration.batchSize)
        return stride(from: 0, to: ids.count, by: size).map { offset in
            let batch = ids[offset..<min(offset + size, ids.count)]
            return SchedulerCall.reconcile(tasks: batch.map { id in (TaskID(id), self.table[id]?.agentID.map { AgentID($0) }) })
        }
    }

    private mutating func scheduleRetry(now: Duration) {
        self.nextAttempt = now + self.backoff
        self.backoff = min(self.backoff * 2, self.configuration.maximumBackoff)
    }

    private mutating func finishRun(now: Duration) {
        self.runStart = nil
        self.nextAttempt = nil
        self.remaining = []
        self.implicitDue = now + self.configuration.implicitInterval
    }
}
