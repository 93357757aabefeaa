import MesosCore
import Testing

@testable import MesosOperator

@Suite struct SandboxLocatorTests {
    static let framework = "b3c1d2e4-5f60-4a7b-8c9d-0e1f2a3b4c5d-0007"
    static let agentID = "b3c1d2e4-5f60-4a7b-8c9d-0e1f2a3b4c5d-S3"

    static func agent(id: String = agentID, pid: String? = "slave(1)@10.0.0.23:5051", hostname: String = "agent-3.example.com") -> Mesos_V1_Master_Response.GetAgents.Agent {
        var agent = Mesos_V1_Master_Response.GetAgents.Agent()
        agent.agentInfo.id.value = id
        agent.agentInfo.hostname = hostname
        agent.agentInfo.port = 5051
        agent.active = true
        agent.version = "1.11.0"
        if let pid { agent.pid = pid }
        return agent
    }

    static func task(
        _ id: String,
        framework: String = framework,
        executor: String? = nil,
        state: TaskState = .taskRunning,
        container: String? = nil,
        parentContainer: String? = nil
    ) -> Mesos_V1_Task {
        var task = Mesos_V1_Task()
        task.name = id
        task.taskID.value = id
        task.frameworkID.value = framework
        task.agentID.value = agentID
        task.state = state
        if let executor { task.executorID.value = executor }
        var status = TaskStatus()
        status.taskID = task.taskID
        status.state = state
        if let container {
            status.containerStatus.containerID.value = container
            if let parentContainer { status.containerStatus.containerID.parent.value = parentContainer }
        }
        task.statuses = [status]
        return task
    }

    static func state(
        tasks: [Mesos_V1_Task] = [],
        completed: [Mesos_V1_Task] = [],
        unreachable: [Mesos_V1_Task] = [],
        agents: [Mesos_V1_Master_Response.GetAgents.Agent] = [agent()],
        executors: [(String, ExecutorInfo.TypeEnum)] = []
    ) -> Mesos_V1_Master_Response.GetState {
        var state = Mesos_V1_Master_Response.GetState()
        state.getTasks.tasks = tasks
        state.getTasks.completedTasks = completed
        state.getTasks.unreachableTasks = unreachable
        state.getAgents.agents = agents
        state.getExecutors.executors = executors.map { id, type in
            var entry = Mesos_V1_Master_Response.GetExecutors.Executor()
            entry.executorInfo.executorID.value = id
            entry.executorInfo.frameworkID.value = framework
            entry.executorInfo.type = type
            entry.agentID.value = agentID
            return entry
        }
        return state
    }

    @Test func aRunningCommandTaskUsesTheTaskIDAsExecutorAndTheAgentsPid() throws {
        let location = try SandboxLocator.locate(taskID: "etl-42", in: Self.state(tasks: [Self.task("etl-42", container: "c-1")]))
        #expect(location.executorID == "etl-42")
        #expect(location.agent == SandboxAgentEndpoint(host: "10.0.0.23", port: 5051, processID: "slave(1)"))
        #expect(location.containerID == "c-1")
        #expect(!location.isTaskGroupTask)
        #expect(location.candidates == ["/frameworks/\(Self.framework)/executors/etl-42/runs/latest"])
        #expect(location.path(of: "stdout") == "/frameworks/\(Self.framework)/executors/etl-42/runs/latest/stdout")
    }

    @Test func aKnownWorkDirectoryAddressesTheRunByItsContainerFirst() throws {
        let options = SandboxLocator.Options(agentWorkDirectory: "/var/lib/mesos/")
        let location = try SandboxLocator.locate(
            taskID: "etl-42",
            in: Self.state(completed: [Self.task("etl-42", state: .taskFinished, container: "c-1")]),
            options: options)
        #expect(location.state == .taskFinished)
        #expect(location.candidates == [
            "/var/lib/mesos/slaves/\(Self.agentID)/frameworks/\(Self.framework)/executors/etl-42/runs/c-1",
            "/frameworks/\(Self.framework)/executors/etl-42/runs/latest",
        ])
        #expect(location.path(of: "/stderr") == "/var/lib/mesos/slaves/\(Self.agentID)/frameworks/\(Self.framework)/executors/etl-42/runs/c-1/stderr")
        // Without a container in the statuses only the virtual path is possible.
        let staging = try SandboxLocator.locate(taskID: "etl-43", in: Self.state(tasks: [Self.task("etl-43", state: .taskStaging)]), options: options)
        #expect(staging.candidates == ["/frameworks/\(Self.framework)/executors/etl-43/runs/latest"])
    }

    @Test func aCustomExecutorsTaskLivesInTheExecutorsSandbox() throws {
        let location = try SandboxLocator.locate(
            taskID: "etl-43",
            in: Self.state(tasks: [Self.task("etl-43", executor: "swift-exec-1", container: "7a9c")], executors: [("swift-exec-1", .custom)]))
        #expect(location.executorID == "swift-exec-1")
        #expect(!location.isTaskGroupTask)
        #expect(location.directory == "/frameworks/\(Self.framework)/executors/swift-exec-1/runs/latest")
    }

    @Test func aTaskGroupTaskHasItsOwnDirectoryUnderTheExecutorsRun() throws {
        // Known by its nested container...
        let nested = try SandboxLocator.locate(
            taskID: "web",
            in: Self.state(tasks: [Self.task("web", executor: "default-exec", container: "child", parentContainer: "exec-container")]),
            options: .init(agentWorkDirectory: "/w"))
        #expect(nested.isTaskGroupTask)
        #expect(nested.containerID == "exec-container")
        #expect(nested.candidates == [
            "/w/slaves/\(Self.agentID)/frameworks/\(Self.framework)/executors/default-exec/runs/exec-container/tasks/web",
            "/frameworks/\(Self.framework)/executors/default-exec/runs/latest/tasks/web",
        ])
        // ... or by its executor's type before any container was reported.
        let staging = try SandboxLocator.locate(
            taskID: "web", in: Self.state(tasks: [Self.task("web", executor: "default-exec", state: .taskStaging)], executors: [("default-exec", .default)]))
        #expect(staging.directory == "/frameworks/\(Self.framework)/executors/default-exec/runs/latest/tasks/web")
    }

    @Test func activeTasksWinOverCompletedOnesAndTheFrameworkDisambiguates() throws {
        let other = "other-framework"
        let state = Self.state(
            tasks: [Self.task("t", executor: "new")],
            completed: [Self.task("t", executor: "old", state: .taskFinished), Self.task("u", framework: other), Self.task("u")])
        #expect(try SandboxLocator.locate(taskID: "t", in: state).executorID == "new")
        #expect(throws: MesosError(code: .invalidCall)) { try SandboxLocator.locate(taskID: "u", in: state) }
        #expect(try SandboxLocator.locate(taskID: "u", frameworkID: other, in: state).frameworkID == other)
        #expect(throws: MesosError(code: .notFound)) { try SandboxLocator.locate(taskID: "t", frameworkID: "nope", in: state) }
        #expect(throws: MesosError(code: .notFound)) { try SandboxLocator.locate(taskID: "missing", in: state) }
    }

    @Test func unreachableTasksAreFoundToo() throws {
        let location = try SandboxLocator.locate(taskID: "lost", in: Self.state(unreachable: [Self.task("lost", state: .taskUnreachable)]))
        #expect(location.state == .taskUnreachable)
    }

    @Test func theAgentIsReachedByHostnameWithoutAPidAndMustBeListed() throws {
        let byName = try SandboxLocator.locate(taskID: "t", in: Self.state(tasks: [Self.task("t")], agents: [Self.agent(pid: nil)]))
        #expect(byName.agent == SandboxAgentEndpoint(host: "agent-3.example.com", port: 5051))
        #expect(byName.agent.operatorURL.absoluteString == "http://agent-3.example.com:5051/api/v1")
        #expect(throws: MesosError(code: .notFound)) {
            try SandboxLocator.locate(taskID: "t", in: Self.state(tasks: [Self.task("t")], agents: [Self.agent(id: "another")]))
        }
    }
}
