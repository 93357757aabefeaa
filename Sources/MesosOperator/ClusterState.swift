import MesosCore

/// A task's identity in the cluster: task ids are unique only within their framework (EXECUTOR-OPERATOR.md §6).
public struct TaskKey: Hashable, Sendable, CustomStringConvertible {
    private var storedFrameworkID: String
    private var storedTaskID: String
    /// The two ids hashed once: the mirror's tables and indexes hash a key several times per event.
    private var hashCode: Int

    /// The framework's id.
    public var frameworkID: String {
        get { self.storedFrameworkID }
        set {
            self.storedFrameworkID = newValue
            self.hashCode = Self.hashCode(newValue, self.storedTaskID)
        }
    }

    /// The task's id.
    public var taskID: String {
        get { self.storedTaskID }
        set {
            self.storedTaskID = newValue
            self.hashCode = Self.hashCode(self.storedFrameworkID, newValue)
        }
    }

    /// Creates a key.
    ///
    /// - Parameters:
    ///   - frameworkID: The framework's id.
    ///   - taskID: The task's id, unique within the framework.
    public init(frameworkID: String, taskID: String) {
        self.storedFrameworkID = frameworkID
        self.storedTaskID = taskID
        self.hashCode = Self.hashCode(frameworkID, taskID)
    }

    private static func hashCode(_ frameworkID: String, _ taskID: String) -> Int {
        var hasher = Hasher()
        hasher.combine(frameworkID)
        hasher.combine(taskID)
        return hasher.finalize()
    }

    /// Whether both ids are equal.
    public static func == (lhs: TaskKey, rhs: TaskKey) -> Bool {
        lhs.hashCode == rhs.hashCode && lhs.storedTaskID == rhs.storedTaskID
            && lhs.storedFrameworkID == rhs.storedFrameworkID
    }

    /// Feeds the key's precomputed hash of both ids.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(self.hashCode)
    }

    /// `framework/task`.
    public var description: String {
        "\(self.storedFrameworkID)/\(self.storedTaskID)"
    }
}

/// How much history a ``ClusterState`` keeps, so that its memory is bounded by the cluster, not by the events.
public struct ClusterStateLimits: Sendable, Hashable {
    /// Terminal tasks kept per framework, oldest dropped first (default 1,000, the master's
    /// `--max_completed_tasks_per_framework`).
    public var maximumCompletedTasksPerFramework: Int
    /// Removed frameworks kept, oldest dropped first with their tasks (default 50, the master's
    /// `--max_completed_frameworks`).
    public var maximumCompletedFrameworks: Int
    /// Statuses kept per task, oldest dropped first (default 10): a task whose state flaps (RUNNING ↔
    /// UNREACHABLE) would otherwise grow with every event.
    public var maximumStatusesPerTask: Int

    /// Creates limits.
    ///
    /// - Parameters:
    ///   - maximumCompletedTasksPerFramework: Terminal tasks kept per framework (at least 0).
    ///   - maximumCompletedFrameworks: Removed frameworks kept (at least 0).
    ///   - maximumStatusesPerTask: Statuses kept per task (at least 1).
    public init(maximumCompletedTasksPerFramework: Int = 1000, maximumCompletedFrameworks: Int = 50, maximumStatusesPerTask: Int = 10) {
        self.maximumCompletedTasksPerFramework = max(0, maximumCompletedTasksPerFramework)
        self.maximumCompletedFrameworks = max(0, maximumCompletedFrameworks)
        self.maximumStatusesPerTask = max(1, maximumStatusesPerTask)
    }
}

/// A mirror of the master's state, built from a SUBSCRIBED snapshot and kept current by applying the operator
/// stream's events in order (EXECUTOR-OPERATOR.md §3).
///
/// It is a value: copying it is cheap (its tables are copy-on-write), and a copy never changes. Applying an event
/// costs a few hash-table updates (tasks are indexed by key, agent, framework and state), whatever the size of the
/// cluster, as long as nobody holds an older copy; holding one makes the next event copy the tables it changes.
///
/// The rules, following how the master itself moves things:
/// - TASK_ADDED inserts (or replaces) the task. TASK_UPDATED sets the task's `state` to the event's `state` (the
///   agent's latest knowledge), its `status_update_state`/`status_update_uuid` to the status's, and appends the
///   status to `statuses` (replacing the last entry when that has the same state, as the master does; at most
///   ``ClusterStateLimits/maximumStatusesPerTask`` kept). An update
///   for a task the mirror does not know (one the subscriber may not view) is counted in ``ignoredEventCount``.
/// - A task whose state becomes terminal is kept as a completed task; each framework keeps at most
///   ``ClusterStateLimits/maximumCompletedTasksPerFramework`` of them, oldest dropped first.
/// - FRAMEWORK_REMOVED moves the framework to the completed frameworks; its tasks that are still active become
///   TASK_KILLED (the master kills a removed framework's tasks) and completed. The oldest completed frameworks
///   beyond ``ClusterStateLimits/maximumCompletedFrameworks`` are dropped with their tasks.
/// - AGENT_REMOVED removes the agent; its tasks that are still active become TASK_LOST (an agent that leaves
///   takes its tasks with it). Unreachable and gone agents are not removed: the master reports their tasks as
///   TASK_UNREACHABLE / TASK_GONE_BY_OPERATOR instead, and the agent stays.
/// - FRAMEWORK_ADDED/UPDATED insert or replace the framework (a completed one with the same id comes back).
/// - SUBSCRIBED replaces everything (``init(snapshot:heartbeatInterval:limits:)``); HEARTBEAT and unknown events
///   change nothing.
public struct ClusterState: Sendable {
    /// The limits on kept history.
    public let limits: ClusterStateLimits
    /// The heartbeat interval the master advertised in SUBSCRIBED, if any.
    public private(set) var heartbeatInterval: Duration?
    /// Events applied since the snapshot (SUBSCRIBED and heartbeats not counted).
    public private(set) var appliedEventCount = 0
    /// Events that referred to something the mirror does not know (an update of an unknown task, the removal of
    /// an unknown agent or framework), or of a type it does not know; they changed nothing.
    public private(set) var ignoredEventCount = 0

    var agentTable: [String: MasterAgent] = [:]
    var frameworkTable: [String: MasterFramework] = [:]
    var completedFrameworkTable: [String: MasterFramework] = [:]
    var completedFrameworkOrder = KeyQueue<String>()
    var taskTable: [TaskKey: MesosTask] = [:]
    var tasksByAgent: [String: Set<TaskKey>] = [:]
    var tasksByFramework: [String: Set<TaskKey>] = [:]
    var tasksByState: [TaskState: Set<TaskKey>] = [:]
    /// Per framework, its terminal tasks in the order they ended (may hold keys since replaced; skipped then).
    var completedOrder: [String: KeyQueue<TaskKey>] = [:]
    /// Per framework, how many of its tasks are terminal.
    var completedCount: [String: Int] = [:]

    /// An empty cluster.
    ///
    /// - Parameter limits: The limits on kept history.
    public init(limits: ClusterStateLimits = ClusterStateLimits()) {
        self.limits = limits
    }

    /// The cluster as a SUBSCRIBED snapshot (or a GET_STATE answer) describes it.
    ///
    /// Active, unreachable, pending and orphan tasks, and completed ones (at most the limit per framework, the
    /// newest kept), agents, active and completed frameworks are taken over; recovered agents and frameworks (not
    /// yet re-registered after a master failover) appear once their AGENT_ADDED/FRAMEWORK_ADDED arrive.
    ///
    /// - Parameters:
    ///   - snapshot: The master's state.
    ///   - heartbeatInterval: The interval the master advertised, if any.
    ///   - limits: The limits on kept history.
    public init(snapshot: MasterState, heartbeatInterval: Duration? = nil, limits: ClusterStateLimits = ClusterStateLimits()) {
        self.limits = limits
        self.heartbeatInterval = heartbeatInterval
        let tasks = snapshot.getTasks
        let count = tasks.tasks.count + tasks.pendingTasks.count + tasks.unreachableTasks.count
            + tasks.completedTasks.count + tasks.orphanTasks.count
        self.taskTable.reserveCapacity(count)
        self.agentTable.reserveCapacity(snapshot.getAgents.agents.count)
        for agent in snapshot.getAgents.agents {
            self.agentTable[agent.agentInfo.id.value] = agent
        }
        for framework in snapshot.getFrameworks.frameworks {
            self.frameworkTable[framework.frameworkInfo.id.value] = framework
        }
        for framework in snapshot.getFrameworks.completedFrameworks {
            self.addCompletedFramework(framework)
        }
        for list in [tasks.pendingTasks, tasks.tasks, tasks.unreachableTasks, tasks.orphanTasks, tasks.completedTasks] {
            for task in list {
                self.insert(task)
            }
        }
    }

    /// The state built from a SUBSCRIBED event's snapshot and heartbeat interval.
    ///
    /// - Parameters:
    ///   - subscribed: The event.
    ///   - limits: The limits on kept history.
    public init(subscribed: MasterEvent.Subscribed, limits: ClusterStateLimits = ClusterStateLimits()) {
        let interval: Duration? = subscribed.hasHeartbeatIntervalSeconds && subscribed.heartbeatIntervalSeconds > 0
            ? Duration(saturatingSeconds: subscribed.heartbeatIntervalSeconds) : nil
        self.init(snapshot: subscribed.getState, heartbeatInterval: interval, limits: limits)
    }

    // MARK: - Applying events

    /// Applies one event of the stream: SUBSCRIBED replaces the whole state, the others change it as described
    /// on ``ClusterState``.
    ///
    /// - Parameter event: The next event, in stream order.
    public mutating func apply(_ event: OperatorEvent) {
        switch event {
        case .subscribed(let subscribed):
            self = ClusterState(subscribed: subscribed, limits: self.limits)
            return
        case .heartbeat:
            return
        case .unknown:
            self.ignoredEventCount += 1
            return
        case .taskAdded(let task):
            self.insert(task)
        case .taskUpdated(let update):
            guard self.update(update) else {
                self.ignoredEventCount += 1
                return
            }
        case .agentAdded(let agent):
            self.agentTable[agent.agentInfo.id.value] = agent
        case .agentRemoved(let agentID):
            guard self.removeAgent(agentID.value) else {
                self.ignoredEventCount += 1
                return
            }
        case .frameworkAdded(let framework), .frameworkUpdated(let framework):
            let id = framework.frameworkInfo.id.value
            self.completedFrameworkTable[id] = nil
            self.frameworkTable[id] = framework
        case .frameworkRemoved(let info):
            guard self.removeFramework(info) else {
                self.ignoredEventCount += 1
                return
            }
        }
        self.appliedEventCount += 1
    }

    /// Inserts or replaces a task and indexes it.
    private mutating func insert(_ task: MesosTask) {
        let key = TaskKey(frameworkID: task.frameworkID.value, taskID: task.taskID.value)
        if let old = self.taskTable.updateValue(task, forKey: key) {
            self.unindex(key, old)
        }
        self.tasksByAgent[task.agentID.value, default: []].insert(key)
        self.tasksByFramework[key.frameworkID, default: []].insert(key)
        self.tasksByState[task.state, default: []].insert(key)
        if task.state.isTerminal {
            self.completed(key)
        }
    }

    /// Removes a task from the indexes (not from the table).
    private mutating func unindex(_ key: TaskKey, _ task: MesosTask) {
        Self.remove(key, from: &self.tasksByAgent, at: task.agentID.value)
        Self.remove(key, from: &self.tasksByFramework, at: key.frameworkID)
        Self.remove(key, from: &self.tasksByState, at: task.state, keepingEmpty: true)
        if task.state.isTerminal {
            self.completedCount[key.frameworkID, default: 1] -= 1
        }
    }

    /// Removes `key` from the set at `slot`, and the set itself once empty unless `keepingEmpty` (the per-state
    /// index keeps its few sets: tasks flapping between two states would otherwise regrow a set of the whole
    /// cluster's size, rehashing it, again and again).
    private static func remove<Index: Hashable>(
        _ key: TaskKey, from index: inout [Index: Set<TaskKey>], at slot: Index, keepingEmpty: Bool = false
    ) {
        guard let position = index.index(forKey: slot) else { return }
        index.values[position].remove(key)
        if !keepingEmpty, index.values[position].isEmpty {
            index.remove(at: position)
        }
    }

    /// Applies TASK_UPDATED; `false` if the task is unknown.
    private mutating func update(_ update: MasterEvent.TaskUpdated) -> Bool {
        let key = TaskKey(frameworkID: update.frameworkID.value, taskID: update.status.taskID.value)
        guard let position = self.taskTable.index(forKey: key) else {
            return false
        }
        let status = update.status
        let newState = update.hasState ? update.state : status.state
        let oldState = self.taskTable.values[position].state
        self.taskTable.values[position].record(status, state: newState, keeping: self.limits.maximumStatusesPerTask)
        if oldState != newState {
            Self.remove(key, from: &self.tasksByState, at: oldState, keepingEmpty: true)
            self.tasksByState[newState, default: []].insert(key)
            if oldState.isTerminal {
                self.completedCount[key.frameworkID, default: 1] -= 1
            }
            if newState.isTerminal {
                self.completed(key)
            }
        }
        return true
    }

    /// Counts a task that became terminal and drops the framework's oldest completed tasks beyond the limit.
    private mutating func completed(_ key: TaskKey) {
        let framework = key.frameworkID
        self.completedOrder[framework, default: KeyQueue()].append(key)
        self.completedCount[framework, default: 0] += 1
        while self.completedCount[framework, default: 0] > self.limits.maximumCompletedTasksPerFramework,
            let oldest = self.completedOrder[framework]?.popFirst()
        {
            // A key may be stale: the task was replaced by a new one with its id, or went terminal twice.
            guard let task = self.taskTable[oldest], task.state.isTerminal else { continue }
            self.unindex(oldest, task)
            self.taskTable[oldest] = nil
        }
        if self.completedOrder[framework]?.isEmpty == true {
            self.completedOrder[framework] = nil
        }
    }

    /// Applies AGENT_REMOVED; `false` if the agent is unknown.
    private mutating func removeAgent(_ agentID: String) -> Bool {
        guard self.agentTable.removeValue(forKey: agentID) != nil else {
            return false
        }
        for key in self.tasksByAgent[agentID] ?? [] {
            guard let task = self.taskTable[key], !task.state.isTerminal else { continue }
            var status = TaskStatus()
            status.taskID = task.taskID
            status.agentID = task.agentID
            status.state = .taskLost
            status.source = .master
            status.reason = .agentRemoved
            status.message = "Agent removed"
            var update = MasterEvent.TaskUpdated()
            update.frameworkID = task.frameworkID
            update.status = status
            update.state = .taskLost
            _ = self.update(update)
        }
        return true
    }

    /// Applies FRAMEWORK_REMOVED; `false` if the framework is unknown.
    private mutating func removeFramework(_ info: FrameworkInfo) -> Bool {
        let id = info.id.value
        guard var framework = self.frameworkTable.removeValue(forKey: id) else {
            return false
        }
        framework.frameworkInfo = info
        framework.active = false
        framework.connected = false
        for key in self.tasksByFramework[id] ?? [] {
            guard let task = self.taskTable[key], !task.state.isTerminal else { continue }
            var status = TaskStatus()
            status.taskID = task.taskID
            status.agentID = task.agentID
            status.state = .taskKilled
            status.source = .master
            status.reason = .frameworkRemoved
            status.message = "Framework removed"
            var update = MasterEvent.TaskUpdated()
            update.frameworkID = task.frameworkID
            update.status = status
            update.state = .taskKilled
            _ = self.update(update)
        }
        self.addCompletedFramework(framework)
        return true
    }

    /// Keeps a removed framework, dropping the oldest ones (with their tasks) beyond the limit.
    private mutating func addCompletedFramework(_ framework: MasterFramework) {
        let id = framework.frameworkInfo.id.value
        if self.completedFrameworkTable.updateValue(framework, forKey: id) == nil {
            self.completedFrameworkOrder.append(id)
        }
        while self.completedFrameworkTable.count > self.limits.maximumCompletedFrameworks,
            let oldest = self.completedFrameworkOrder.popFirst()
        {
            guard self.completedFrameworkTable.removeValue(forKey: oldest) != nil,
                self.frameworkTable[oldest] == nil
            else { continue }
            for key in self.tasksByFramework[oldest] ?? [] {
                if let task = self.taskTable.removeValue(forKey: key) {
                    self.unindex(key, task)
                }
            }
            self.completedOrder[oldest] = nil
            self.completedCount[oldest] = nil
        }
    }
}

extension MesosTask {
    /// Records a status update as the master does: the newest status last (replacing the last one when it has the
    /// same state; at most `limit` kept), the task's latest state, and the update's state and uuid.
    mutating func record(_ status: TaskStatus, state: TaskState, keeping limit: Int) {
        // The generated property has no in-place accessor: changing `self.statuses` directly would copy the array
        // on every update. Taken out of the task first, the array has one owner and changes in place.
        var statuses = self.statuses
        self.statuses = []
        if let last = statuses.last, last.state == status.state {
            statuses[statuses.count - 1] = status
        } else {
            statuses.append(status)
            if statuses.count > limit {
                statuses.removeFirst(statuses.count - limit)
            }
        }
        self.statuses = statuses
        self.state = state
        self.statusUpdateState = status.state
        if status.hasUuid {
            self.statusUpdateUuid = status.uuid
        }
    }
}

/// A first-in, first-out queue of keys whose storage stays bounded by the number of keys it holds.
struct KeyQueue<Key: Hashable & Sendable>: Sendable {
    private var storage: [Key] = []
    private var head = 0

    /// Whether the queue is empty.
    var isEmpty: Bool { self.head == self.storage.count }

    /// Adds a key at the back.
    mutating func append(_ key: Key) {
        self.storage.append(key)
    }

    /// Removes and returns the front key.
    mutating func popFirst() -> Key? {
        guard self.head < self.storage.count else { return nil }
        let key = self.storage[self.head]
        self.head += 1
        if self.head == self.storage.count {
            self.storage.removeAll(keepingCapacity: true)
            self.head = 0
        } else if self.head >= 32, self.head * 2 >= self.storage.count {
            self.storage.removeFirst(self.head)
            self.head = 0
        }
        return key
    }
}
