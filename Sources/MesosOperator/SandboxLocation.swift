import MesosCore

/// Where a task's sandbox is: the agent that ran it and the directory to read its files under.
///
/// Built by ``SandboxLocator`` from the master's state. The ``directory`` is the first of ``candidates``:
/// the host path of the task's own run when the agent's work directory and the container are known (exact even
/// after the executor has run again), then the agent's virtual path
/// `/frameworks/<framework>/executors/<executor>/runs/latest`. Tasks of a task group (the default executor)
/// have their own directory under the executor's, `…/tasks/<task>`.
public struct SandboxLocation: Sendable, Hashable, CustomStringConvertible {
    /// The task's id.
    public var taskID: String
    /// The task's framework.
    public var frameworkID: String
    /// The executor that ran the task: the task's id for a command task.
    public var executorID: String
    /// The agent that ran the task.
    public var agentID: String
    /// How to reach that agent.
    public var agent: SandboxAgentEndpoint
    /// The executor's container (the run), when a status reported it.
    public var containerID: String?
    /// Whether the task ran in a task group under the default executor (its files are in `tasks/<task id>`).
    public var isTaskGroupTask: Bool
    /// The task's latest known state.
    public var state: TaskState
    /// The directories to try, best first.
    public var candidates: [String]

    /// Creates a location.
    ///
    /// - Parameters:
    ///   - taskID: The task.
    ///   - frameworkID: Its framework.
    ///   - executorID: Its executor.
    ///   - agentID: Its agent.
    ///   - agent: How to reach the agent.
    ///   - containerID: The executor's container, if known.
    ///   - isTaskGroupTask: Whether the task ran in a task group.
    ///   - state: The task's latest state.
    ///   - candidates: The directories to try, best first; must not be empty.
    public init(
        taskID: String,
        frameworkID: String,
        executorID: String,
        agentID: String,
        agent: SandboxAgentEndpoint,
        containerID: String?,
        isTaskGroupTask: Bool,
        state: TaskState,
        candidates: [String]
    ) {
        self.taskID = taskID
        self.frameworkID = frameworkID
        self.executorID = executorID
        self.agentID = agentID
        self.agent = agent
        self.containerID = containerID
        self.isTaskGroupTask = isTaskGroupTask
        self.state = state
        self.candidates = candidates
    }

    /// The preferred directory.
    public var directory: String {
        self.candidates.first ?? Self.virtualDirectory(frameworkID: self.frameworkID, executorID: self.executorID, taskID: self.isTaskGroupTask ? self.taskID : nil)
    }

    /// The path of a file in the preferred directory, e.g. `path(of: "stdout")`.
    ///
    /// - Parameter file: The file's name (or a relative path) in the sandbox.
    /// - Returns: The path to read.
    public func path(of file: String) -> String {
        Self.join(self.directory, file)
    }

    /// The agent's virtual path for an executor's latest run: `/frameworks/<fw>/executors/<ex>/runs/latest`,
    /// with `/tasks/<task>` appended for a task of a task group. Ids go in verbatim.
    ///
    /// - Parameters:
    ///   - frameworkID: The framework.
    ///   - executorID: The executor.
    ///   - taskID: The task, for a task-group task; `nil` otherwise.
    /// - Returns: The path.
    public static func virtualDirectory(frameworkID: String, executorID: String, taskID: String? = nil) -> String {
        var path = "/frameworks/\(frameworkID)/executors/\(executorID)/runs/latest"
        if let taskID { path += "/tasks/\(taskID)" }
        return path
    }

    /// The host path of one run: `<work_dir>/slaves/<agent>/frameworks/<fw>/executors/<ex>/runs/<container>`,
    /// with `/tasks/<task>` appended for a task of a task group.
    ///
    /// - Parameters:
    ///   - workDirectory: The agent's `--work_dir`.
    ///   - agentID: The agent.
    ///   - frameworkID: The framework.
    ///   - executorID: The executor.
    ///   - containerID: The executor's container.
    ///   - taskID: The task, for a task-group task; `nil` otherwise.
    /// - Returns: The path.
    public static func runDirectory(
        workDirectory: String,
        agentID: String,
        frameworkID: String,
        executorID: String,
        containerID: String,
        taskID: String? = nil
    ) -> String {
        var path = Self.join(workDirectory, "slaves/\(agentID)/frameworks/\(frameworkID)/executors/\(executorID)/runs/\(containerID)")
        if let taskID { path += "/tasks/\(taskID)" }
        return path
    }

    /// A file's path in a directory, with exactly one `/` between them.
    ///
    /// - Parameters:
    ///   - directory: The directory, e.g. one of ``candidates``.
    ///   - file: The file's name or relative path.
    /// - Returns: The joined path.
    public static func join(_ directory: String, _ file: String) -> String {
        let trimmedFile = file.drop { $0 == "/" }
        guard !directory.isEmpty else { return "/" + trimmedFile }
        return directory.hasSuffix("/") ? directory + trimmedFile : directory + "/" + trimmedFile
    }

    /// `task <id> of framework <id> on agent <id> (<endpoint>): <directory>`.
    public var description: String {
        "task \(self.taskID) of framework \(self.frameworkID) on agent \(self.agentID) (\(self.agent)): \(self.directory)"
    }
}
