import MesosCore
import MesosResources

/// An agent with what its tasks use and what is left, as the mirror sees it.
public struct AgentUsage: Sendable {
    /// The agent as the master described it.
    public var agent: MasterAgent
    /// The agent's total resources (without `allocation_info`).
    public var total: Resources
    /// The resources of the agent's active (non-terminal) tasks, without `allocation_info` (executors' own
    /// resources are not counted: the event stream does not report executors).
    public var used: Resources
    /// `total - used`.
    public var free: Resources
    /// The number of active tasks on the agent.
    public var activeTaskCount: Int
}

extension ClusterState {
    // MARK: - Agents

    /// The number of agents.
    public var agentCount: Int {
        self.agentTable.count
    }

    /// Every agent, ordered by id.
    public var agents: [MasterAgent] {
        self.agentTable.keys.sorted().compactMap { self.agentTable[$0] }
    }

    /// The agent with this id, if known.
    ///
    /// - Parameter id: The agent's id.
    public func agent(_ id: String) -> MasterAgent? {
        self.agentTable[id]
    }

    /// An agent's total, used and free resources.
    ///
    /// Costs one resource addition per active task on the agent.
    ///
    /// - Parameter id: The agent's id.
    /// - Returns: The usage, or `nil` for an unknown agent.
    public func usage(ofAgent id: String) -> AgentUsage? {
        guard let agent = self.agentTable[id] else {
            return nil
        }
        let total = Resources(agent.totalResources.map(Self.unallocated))
        var used = Resources()
        var active = 0
        for key in self.tasksByAgent[id] ?? [] {
            guard let task = self.taskTable[key], !task.state.isTerminal else { continue }
            active += 1
            for resource in task.resources {
                used += Resources([Self.unallocated(resource)])
            }
        }
        return AgentUsage(agent: agent, total: total, used: used, free: total - used, activeTaskCount: active)
    }

    /// Every agent's usage, ordered by agent id.
    public var agentUsages: [AgentUsage] {
        self.agentTable.keys.sorted().compactMap { self.usage(ofAgent: $0) }
    }

    private static func unallocated(_ resource: Resource) -> Resource {
        var copy = resource
        copy.clearAllocationInfo()
        return copy
    }

    // MARK: - Frameworks

    /// The active (subscribed or failed-over but not removed) frameworks, ordered by id.
    public var frameworks: [MasterFramework] {
        self.frameworkTable.keys.sorted().compactMap { self.frameworkTable[$0] }
    }

    /// The removed frameworks still kept, ordered by id.
    public var completedFrameworks: [MasterFramework] {
        self.completedFrameworkTable.keys.sorted().compactMap { self.completedFrameworkTable[$0] }
    }

    /// The framework with this id, active or completed.
    ///
    /// - Parameter id: The framework's id.
    public func framework(_ id: String) -> MasterFramework? {
        self.frameworkTable[id] ?? self.completedFrameworkTable[id]
    }

    // MARK: - Tasks

    /// The number of tasks kept (active and completed).
    public var taskCount: Int {
        self.taskTable.count
    }

    /// The number of tasks in a state, without listing them.
    ///
    /// - Parameter state: The state.
    public func taskCount(in state: TaskState) -> Int {
        self.tasksByState[state]?.count ?? 0
    }

    /// The task with this key, if kept.
    ///
    /// - Parameters:
    ///   - frameworkID: The framework's id.
    ///   - taskID: The task's id.
    public func task(frameworkID: String, taskID: String) -> MesosTask? {
        self.taskTable[TaskKey(frameworkID: frameworkID, taskID: taskID)]
    }

    /// The tasks matching every given criterion, ordered by framework and task id.
    ///
    /// Looks only at the smallest index that applies (state, framework or agent), so a narrow query on a large
    /// cluster is cheap.
    ///
    /// - Parameters:
    ///   - state: Only tasks in this state.
    ///   - frameworkID: Only this framework's tasks.
    ///   - agentID: Only tasks on this agent.
    ///   - includeCompleted: Whether to include terminal tasks (default `true`; ignored when `state` is given).
    public func tasks(
        state: TaskState? = nil, frameworkID: String? = nil, agentID: String? = nil, includeCompleted: Bool = true
    ) -> [MesosTask] {
        var candidates: [Set<TaskKey>] = []
        if let state { candidates.append(self.tasksByState[state] ?? []) }
        if let frameworkID { candidates.append(self.tasksByFramework[frameworkID] ?? []) }
        if let agentID { candidates.append(self.tasksByAgent[agentID] ?? []) }
        let keys: [TaskKey]
        if let smallest = candidates.min(by: { $0.count < $1.count }) {
            keys = Array(smallest)
        } else {
            keys = Array(self.taskTable.keys)
        }
        var result: [MesosTask] = []
        for key in keys {
            guard let task = self.taskTable[key] else { continue }
            if let state, task.state != state { continue }
            if let frameworkID, key.frameworkID != frameworkID { continue }
            if let agentID, task.agentID.value != agentID { continue }
            if state == nil, !includeCompleted, task.state.isTerminal { continue }
            result.append(task)
        }
        result.sort { ($0.frameworkID.value, $0.taskID.value) < ($1.frameworkID.value, $1.taskID.value) }
        return result
    }

    /// The number of tasks per state.
    public var taskCountsByState: [TaskState: Int] {
        self.tasksByState.compactMapValues { $0.isEmpty ? nil : $0.count }
    }
}
