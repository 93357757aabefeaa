import MesosCore

/// Finds a task's sandbox from the master's state (`GET_STATE`, or `GET_TASKS` + `GET_AGENTS` +
/// `GET_EXECUTORS`).
///
/// The rules (fact sheet §4.1): the task's `agent_id` names the agent, reached at its pid
/// (`slave(1)@ip:port`) or else at its `hostname` and `port`; the executor is the task's `executor_id`, or, for
/// a command task (which has none in the master's state), the task id itself; the run is the executor's
/// container as the task's statuses report it (`container_status.container_id`, whose root is the executor's
/// container when the task is nested); a task whose container is nested, or whose executor is of type
/// `DEFAULT`, ran in a task group and has its own `tasks/<task id>` directory.
public enum SandboxLocator {
    /// What the locator may know beyond the master's state.
    public struct Options: Sendable, Hashable {
        /// The agents' `--work_dir`, to address a run by its container (the host path); `nil` uses only the
        /// virtual `runs/latest` path.
        public var agentWorkDirectory: String?
        /// The scheme the agents answer on.
        public var agentScheme: String

        /// Creates options.
        ///
        /// - Parameters:
        ///   - agentWorkDirectory: The agents' `--work_dir`, if known.
        ///   - agentScheme: `http` (default) or `https`.
        public init(agentWorkDirectory: String? = nil, agentScheme: String = "http") {
            self.agentWorkDirectory = agentWorkDirectory
            self.agentScheme = agentScheme
        }
    }

    /// Locates a task's sandbox in a master's `GET_STATE` answer.
    ///
    /// - Parameters:
    ///   - taskID: The task's id.
    ///   - frameworkID: The framework, when task ids are not unique across frameworks; `nil` accepts any.
    ///   - state: The master's state.
    ///   - options: The agents' work directory and scheme.
    /// - Returns: The location.
    /// - Throws: ``MesosError/Code/notFound`` when no such task, or its agent, is in the state;
    ///   ``MesosError/Code/invalidCall`` when the id names tasks of several frameworks and none was given.
    public static func locate(
        taskID: String,
        frameworkID: String? = nil,
        in state: Mesos_V1_Master_Response.GetState,
        options: Options = .init()
    ) throws(MesosError) -> SandboxLocation {
        try self.locate(
            taskID: taskID,
            frameworkID: frameworkID,
            tasks: state.getTasks,
            agents: state.getAgents,
            executors: state.getExecutors,
            options: options
        )
    }

    /// Locates a task's sandbox from the separate `GET_TASKS`, `GET_AGENTS` and `GET_EXECUTORS` answers.
    ///
    /// - Parameters:
    ///   - taskID: The task's id.
    ///   - frameworkID: The framework, or `nil` for any.
    ///   - tasks: The master's tasks.
    ///   - agents: The master's agents.
    ///   - executors: The master's executors (to recognise the default executor); may be empty.
    ///   - options: The agents' work directory and scheme.
    /// - Returns: The location.
    /// - Throws: As ``locate(taskID:frameworkID:in:options:)``.
    public static func locate(
        taskID: String,
        frameworkID: String? = nil,
        tasks: Mesos_V1_Master_Response.GetTasks,
        agents: Mesos_V1_Master_Response.GetAgents,
        executors: Mesos_V1_Master_Response.GetExecutors = .init(),
        options: Options = .init()
    ) throws(MesosError) -> SandboxLocation {
        let task = try self.findTask(taskID: taskID, frameworkID: frameworkID, tasks: tasks)
        let framework = task.frameworkID.value
        let executor = task.hasExecutorID && !task.executorID.value.isEmpty ? task.executorID.value : task.taskID.value
        let agentID = task.agentID.value

        guard let agent = agents.agents.first(where: { $0.agentInfo.id.value == agentID }) else {
            throw MesosError(
                code: .notFound,
                message: "Task \(taskID) ran on agent \(agentID), which the master does not list (removed or not re-registered)"
            )
        }
        let endpoint = try self.endpoint(of: agent, scheme: options.agentScheme)

        let container = task.statuses.last(where: { $0.hasContainerStatus && $0.containerStatus.hasContainerID })?
            .containerStatus.containerID
        let nested = container.map { $0.hasParent } ?? false
        let defaultExecutor = executors.executors.contains { entry in
            entry.executorInfo.executorID.value == executor && entry.executorInfo.frameworkID.value == framework
                && entry.executorInfo.type == .default
        }
        let isTaskGroupTask = task.hasExecutorID && (nested || defaultExecutor)
        let runContainer = container.map(self.root(of:))

        var candidates: [String] = []
        if let workDirectory = options.agentWorkDirectory, let runContainer {
            candidates.append(SandboxLocation.runDirectory(
                workDirectory: workDirectory, agentID: agentID, frameworkID: framework, executorID: executor,
                containerID: runContainer, taskID: isTaskGroupTask ? task.taskID.value : nil))
        }
        candidates.append(SandboxLocation.virtualDirectory(
            frameworkID: framework, executorID: executor, taskID: isTaskGroupTask ? task.taskID.value : nil))

        return SandboxLocation(
            taskID: task.taskID.value,
            frameworkID: framework,
            executorID: executor,
            agentID: agentID,
            agent: endpoint,
            containerID: runContainer,
            isTaskGroupTask: isTaskGroupTask,
            state: task.state,
            candidates: candidates
        )
    }

    /// Finds the task: active and unreachable tasks before completed ones (a completed task's id may have been
    /// reused), one framework only.
    static func findTask(
        taskID: String,
        frameworkID: String?,
        tasks: Mesos_V1_Master_Response.GetTasks
    ) throws(MesosError) -> Mesos_V1_Task {
        let groups = [tasks.tasks + tasks.pendingTasks + tasks.unreachableTasks, tasks.completedTasks, tasks.orphanTasks]
        for group in groups {
            let matches = group.filter { task in
                task.taskID.value == taskID && (frameworkID.map { $0 == task.frameworkID.value } ?? true)
            }
            let frameworks = Set(matches.map(\.frameworkID.value))
            if frameworks.count > 1 {
                throw MesosError(
                    code: .invalidCall,
                    message: "Task id \(taskID) is used by several frameworks (\(frameworks.sorted().joined(separator: ", "))); name the framework"
                )
            }
            if let match = matches.last {
                return match
            }
        }
        let scope = frameworkID.map { " of framework \($0)" } ?? ""
        throw MesosError(code: .notFound, message: "No task \(taskID)\(scope) in the master's state")
    }

    /// The agent's endpoint: its pid when it has one (which also names the agent process), else its hostname
    /// and port.
    static func endpoint(of agent: Mesos_V1_Master_Response.GetAgents.Agent, scheme: String) throws(MesosError) -> SandboxAgentEndpoint {
        if agent.hasPid, !agent.pid.isEmpty, let endpoint = try? SandboxAgentEndpoint(pid: agent.pid, scheme: scheme) {
            return endpoint
        }
        let info = agent.agentInfo
        guard !info.hostname.isEmpty else {
            throw MesosError(code: .notFound, message: "Agent \(info.id.value) has neither a pid nor a hostname")
        }
        return SandboxAgentEndpoint(scheme: scheme, host: info.hostname, port: info.hasPort ? Int(info.port) : 5051)
    }

    /// The outermost container: the executor's, for a nested task container.
    static func root(of container: Mesos_V1_ContainerID) -> String {
        var current = container
        var depth = 0
        while current.hasParent, depth < 32 {
            current = current.parent
            depth += 1
        }
        return current.value
    }
}
