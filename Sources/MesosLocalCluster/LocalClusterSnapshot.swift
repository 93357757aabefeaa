import MesosCore

/// What the local cluster holds at one moment: its agents with their resources, and the frameworks with their
/// tasks. Take one with ``LocalCluster/snapshot()``, for tests and for tools that show the cluster.
public struct LocalClusterSnapshot: Sendable {
    /// One agent.
    public struct Agent: Sendable {
        /// The agent's id.
        public var id: AgentID
        /// Its host name.
        public var hostname: String
        /// Its attributes, as its offers carry them.
        public var attributes: [Attribute]
        /// Its fault domain, when it has one.
        public var domain: DomainInfo?
        /// Everything it has (post-refinement: a static reservation is a `reservations` entry).
        public var total: [Resource]
        /// What running tasks use.
        public var used: [Resource]
        /// What outstanding offers hold.
        public var offered: [Resource]
        /// What is neither used nor offered.
        public var free: [Resource]
    }

    /// One task.
    public struct Task: Sendable {
        /// The task's id.
        public var id: TaskID
        /// Its name.
        public var name: String
        /// The agent it runs on.
        public var agentID: AgentID
        /// Its latest state (TASK_STAGING until the agent reports).
        public var state: TaskState
        /// The latest status, when there is one.
        public var latestStatus: TaskStatus?
        /// Status updates sent to the framework and not yet acknowledged, oldest first.
        public var unacknowledgedUpdates: Int
        /// The process id of the task's command while it runs.
        public var pid: Int32?
        /// The task's sandbox directory (its working directory, with `stdout` and `stderr` files).
        public var sandbox: String
        /// The last bytes (up to 64 KiB) the task wrote to standard output.
        public var stdout: [UInt8]
        /// The last bytes (up to 64 KiB) the task wrote to standard error.
        public var stderr: [UInt8]
        /// The resources the task uses.
        public var resources: [Resource]
    }

    /// One framework.
    public struct Framework: Sendable {
        /// The framework's id.
        public var id: FrameworkID
        /// Its description, as last subscribed or updated.
        public var info: FrameworkInfo
        /// Whether it has a live subscription.
        public var isConnected: Bool
        /// Whether it was torn down (or its failover timeout expired).
        public var isRemoved: Bool
        /// Roles whose offers are suppressed.
        public var suppressedRoles: [String]
        /// Tasks that are not done yet, including terminal ones whose last update is not acknowledged.
        public var tasks: [Task]
        /// The most recent tasks that are done (terminal and acknowledged), oldest first.
        public var completedTasks: [Task]
        /// Outstanding offers.
        public var offers: [Offer]
    }

    /// The master's description.
    public var masterInfo: MasterInfo
    /// The agents, in order.
    public var agents: [Agent]
    /// The frameworks, in subscription order.
    public var frameworks: [Framework]

    /// The framework with this id.
    ///
    /// - Parameter id: The framework id.
    /// - Returns: The framework, or `nil`.
    public func framework(_ id: FrameworkID) -> Framework? {
        self.frameworks.first { $0.id == id }
    }

    /// The task with this id in any framework, active ones first.
    ///
    /// - Parameter id: The task id.
    /// - Returns: The task, or `nil`.
    public func task(_ id: TaskID) -> Task? {
        for framework in self.frameworks {
            if let task = framework.tasks.first(where: { $0.id == id }) { return task }
        }
        for framework in self.frameworks {
            if let task = framework.completedTasks.last(where: { $0.id == id }) { return task }
        }
        return nil
    }
}
