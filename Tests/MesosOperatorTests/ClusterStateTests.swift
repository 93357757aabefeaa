import Foundation
import MesosCore
@testable import MesosOperator
import MesosResources
import Testing

/// Builders of the wire messages the mirror consumes.
enum Cluster {
    static func scalar(_ name: String, _ value: Double, role: String? = nil) -> Resource {
        var resource = Resource()
        resource.name = name
        resource.type = .scalar
        resource.scalar.value = value
        if let role { resource.allocationInfo.role = role }
        return resource
    }

    static func agent(_ id: String, cpus: Double = 4, mem: Double = 4096) -> MasterAgent {
        var agent = MasterAgent()
        agent.agentInfo.id.value = id
        agent.agentInfo.hostname = "\(id).example"
        agent.active = true
        agent.totalResources = [scalar("cpus", cpus), scalar("mem", mem)]
        return agent
    }

    static func framework(_ id: String, name: String = "fw") -> MasterFramework {
        var framework = MasterFramework()
        framework.frameworkInfo.id.value = id
        framework.frameworkInfo.name = name
        framework.frameworkInfo.user = "test"
        framework.active = true
        framework.connected = true
        return framework
    }

    static func task(
        _ id: String, framework: String = "F1", agent: String = "S1", state: TaskState = .taskStaging,
        cpus: Double = 1, mem: Double = 128
    ) -> MesosTask {
        var task = MesosTask()
        task.name = id
        task.taskID.value = id
        task.frameworkID.value = framework
        task.agentID.value = agent
        task.state = state
        task.resources = [scalar("cpus", cpus, role: "*"), scalar("mem", mem, role: "*")]
        return task
    }

    static func status(_ task: String, _ state: TaskState, uuid: [UInt8] = [], reason: TaskStatus.Reason? = nil) -> TaskStatus {
        var status = TaskStatus()
        status.taskID.value = task
        status.agentID.value = "S1"
        status.state = state
        status.source = .executor
        if !uuid.isEmpty { status.uuid = Data(uuid) }
        if let reason { status.reason = reason }
        return status
    }

    static func updated(_ task: String, framework: String = "F1", _ state: TaskState, latest: TaskState? = nil, uuid: [UInt8] = [], reason: TaskStatus.Reason? = nil) -> OperatorEvent {
        var update = MasterEvent.TaskUpdated()
        update.frameworkID.value = framework
        update.status = status(task, state, uuid: uuid, reason: reason)
        update.state = latest ?? state
        return .taskUpdated(update)
    }

    static func snapshot(agents: [MasterAgent] = [], frameworks: [MasterFramework] = [], tasks: [MesosTask] = [], completed: [MesosTask] = []) -> MasterState {
        var state = MasterState()
        state.getAgents.agents = agents
        state.getFrameworks.frameworks = frameworks
        state.getTasks.tasks = tasks
        state.getTasks.completedTasks = completed
        return state
    }

    static func subscribedMessage(_ snapshot: MasterState, interval: Double = 15) -> MasterEvent.Subscribed {
        var subscribed = MasterEvent.Subscribed()
        subscribed.getState = snapshot
        subscribed.heartbeatIntervalSeconds = interval
        return subscribed
    }

    static func subscribed(_ snapshot: MasterState, interval: Double = 15) -> OperatorEvent {
        .subscribed(subscribedMessage(snapshot, interval: interval))
    }
}

@Suite("ClusterState applies the operator stream's events")
struct ClusterStateTests {
    @Test("the snapshot is taken over and indexed by agent, framework and state")
    func snapshotIndexes() {
        let snapshot = Cluster.snapshot(
            agents: [Cluster.agent("S1"), Cluster.agent("S2")],
            frameworks: [Cluster.framework("F1"), Cluster.framework("F2")],
            tasks: [
                Cluster.task("a", agent: "S1", state: .taskRunning),
                Cluster.task("b", agent: "S2", state: .taskRunning),
                Cluster.task("c", framework: "F2", agent: "S2", state: .taskStaging),
            ],
            completed: [Cluster.task("d", state: .taskFinished)])
        let state = ClusterState(subscribed: Cluster.subscribedMessage(snapshot, interval: 15))
        #expect(state.heartbeatInterval == .seconds(15))
        #expect(state.agentCount == 2)
        #expect(state.frameworks.map(\.frameworkInfo.id.value) == ["F1", "F2"])
        #expect(state.taskCount == 4)
        #expect(state.tasks(state: .taskRunning).map(\.taskID.value) == ["a", "b"])
        #expect(state.tasks(frameworkID: "F2").map(\.taskID.value) == ["c"])
        #expect(state.tasks(agentID: "S2").map(\.taskID.value) == ["b", "c"])
        #expect(state.tasks(agentID: "S1", includeCompleted: false).map(\.taskID.value) == ["a"])
        #expect(state.tasks(frameworkID: "F1", agentID: "S1").map(\.taskID.value) == ["a", "d"])
        #expect(state.taskCount(in: .taskFinished) == 1)
        #expect(state.appliedEventCount == 0)
    }

    @Test("TASK_ADDED then TASK_UPDATED move a task through its states, in order, keeping Mesos's status rules")
    func taskLifecycle() {
        var state = ClusterState()
        state.apply(Cluster.subscribed(Cluster.snapshot(agents: [Cluster.agent("S1")], frameworks: [Cluster.framework("F1")])))
        state.apply(.taskAdded(Cluster.task("t1")))
        #expect(state.task(frameworkID: "F1", taskID: "t1")?.state == .taskStaging)
        #expect(state.taskCount(in: .taskStaging) == 1)

        state.apply(Cluster.updated("t1", .taskRunning, uuid: [1, 2, 3]))
        // A health-check update with the same state replaces the last status instead of appending one.
        state.apply(Cluster.updated("t1", .taskRunning, uuid: [4, 5, 6], reason: .taskHealthCheckStatusUpdated))
        var task = state.task(frameworkID: "F1", taskID: "t1")
        #expect(task?.state == .taskRunning)
        #expect(task?.statuses.map(\.state) == [.taskRunning])
        #expect(task?.statuses.last?.reason == .taskHealthCheckStatusUpdated)
        #expect(task?.statusUpdateUuid == Data([4, 5, 6]))
        #expect(state.taskCount(in: .taskStaging) == 0)
        #expect(state.taskCount(in: .taskRunning) == 1)

        // `state` (the agent's latest) may be ahead of the status being forwarded: the task takes `state`.
        state.apply(Cluster.updated("t1", .taskRunning, latest: .taskFinished))
        task = state.task(frameworkID: "F1", taskID: "t1")
        #expect(task?.state == .taskFinished)
        #expect(task?.statusUpdateState == .taskRunning)
        state.apply(Cluster.updated("t1", .taskFinished))
        task = state.task(frameworkID: "F1", taskID: "t1")
        #expect(task?.statuses.map(\.state) == [.taskRunning, .taskFinished])
        #expect(state.tasks(state: .taskFinished).map(\.taskID.value) == ["t1"])
        #expect(state.tasks(includeCompleted: false).isEmpty)
        #expect(state.taskCountsByState == [.taskFinished: 1])
        #expect(state.appliedEventCount == 5)
    }

    @Test("the same events in another order give another state: the mirror applies them as they come")
    func ordering() {
        var forward = ClusterState()
        var backward = ClusterState()
        let events: [OperatorEvent] = [
            .taskAdded(Cluster.task("t1")), Cluster.updated("t1", .taskRunning), Cluster.updated("t1", .taskFailed),
        ]
        for event in events { forward.apply(event) }
        for event in events.reversed() { backward.apply(event) }
        #expect(forward.task(frameworkID: "F1", taskID: "t1")?.state == .taskFailed)
        // Updates before the task was known are ignored; the TASK_ADDED that comes last wins.
        #expect(backward.task(frameworkID: "F1", taskID: "t1")?.state == .taskStaging)
        #expect(backward.ignoredEventCount == 2)
    }

    @Test("an update of an unknown task, and events of unknown types, change nothing but are counted")
    func unknownEventsIgnored() {
        var state = ClusterState()
        state.apply(Cluster.subscribed(Cluster.snapshot(tasks: [Cluster.task("t1", state: .taskRunning)])))
        state.apply(Cluster.updated("nope", .taskFailed))
        var strange = MasterEvent()
        strange.type = .unknown
        state.apply(.unknown(strange))
        state.apply(.heartbeat)
        state.apply(.agentRemoved(AgentID("S9")))
        #expect(state.ignoredEventCount == 3)
        #expect(state.appliedEventCount == 0)
        #expect(state.taskCount == 1)
        #expect(state.task(frameworkID: "F1", taskID: "t1")?.state == .taskRunning)
    }

    @Test("AGENT_ADDED adds an agent; AGENT_REMOVED removes it and its tasks still active become TASK_LOST")
    func agents() {
        var state = ClusterState()
        state.apply(Cluster.subscribed(Cluster.snapshot(
            agents: [Cluster.agent("S1")],
            tasks: [Cluster.task("a", state: .taskRunning)],
            completed: [Cluster.task("done", state: .taskFinished)])))
        state.apply(.agentAdded(Cluster.agent("S2", cpus: 8)))
        #expect(state.agents.map(\.agentInfo.id.value) == ["S1", "S2"])
        state.apply(.agentRemoved(AgentID("S1")))
        #expect(state.agent("S1") == nil)
        #expect(state.agentCount == 1)
        let lost = state.task(frameworkID: "F1", taskID: "a")
        #expect(lost?.state == .taskLost)
        #expect(lost?.statuses.last?.reason == .agentRemoved)
        #expect(state.task(frameworkID: "F1", taskID: "done")?.state == .taskFinished)
    }

    @Test("FRAMEWORK_ADDED/UPDATED insert and replace; FRAMEWORK_REMOVED completes it and kills its active tasks")
    func frameworks() {
        var state = ClusterState()
        state.apply(Cluster.subscribed(Cluster.snapshot(
            frameworks: [Cluster.framework("F1")],
            tasks: [Cluster.task("a", state: .taskRunning), Cluster.task("x", framework: "F2", state: .taskRunning)])))
        state.apply(.frameworkAdded(Cluster.framework("F2", name: "second")))
        state.apply(.frameworkUpdated(Cluster.framework("F2", name: "renamed")))
        #expect(state.framework("F2")?.frameworkInfo.name == "renamed")
        #expect(state.frameworks.count == 2)

        var info = FrameworkInfo()
        info.id.value = "F1"
        info.name = "fw"
        state.apply(.frameworkRemoved(info))
        #expect(state.frameworks.map(\.frameworkInfo.id.value) == ["F2"])
        #expect(state.completedFrameworks.map(\.frameworkInfo.id.value) == ["F1"])
        #expect(state.framework("F1")?.active == false)
        let killed = state.task(frameworkID: "F1", taskID: "a")
        #expect(killed?.state == .taskKilled)
        #expect(killed?.statuses.last?.reason == .frameworkRemoved)
        #expect(state.task(frameworkID: "F2", taskID: "x")?.state == .taskRunning)

        // Removing an unknown framework changes nothing.
        info.id.value = "F9"
        state.apply(.frameworkRemoved(info))
        #expect(state.ignoredEventCount == 1)
    }

    @Test("completed tasks and frameworks are bounded: the oldest go first, with a removed framework's tasks")
    func historyIsBounded() {
        let limits = ClusterStateLimits(maximumCompletedTasksPerFramework: 2, maximumCompletedFrameworks: 1)
        var state = ClusterState(limits: limits)
        state.apply(.frameworkAdded(Cluster.framework("F1")))
        for index in 0..<5 {
            state.apply(.taskAdded(Cluster.task("t\(index)")))
        }
        for index in 0..<4 {
            state.apply(Cluster.updated("t\(index)", .taskFinished))
        }
        #expect(state.tasks(frameworkID: "F1").map(\.taskID.value) == ["t2", "t3", "t4"])

        state.apply(.frameworkAdded(Cluster.framework("F2")))
        state.apply(.taskAdded(Cluster.task("y", framework: "F2", state: .taskRunning)))
        var info = FrameworkInfo()
        info.id.value = "F1"
        state.apply(.frameworkRemoved(info))
        // F1's last task was killed and completed: the framework keeps its two newest completed tasks.
        #expect(state.tasks(frameworkID: "F1").map(\.taskID.value) == ["t3", "t4"])
        info.id.value = "F2"
        state.apply(.frameworkRemoved(info))
        // Only one completed framework is kept: F1 goes, with its tasks.
        #expect(state.completedFrameworks.map(\.frameworkInfo.id.value) == ["F2"])
        #expect(state.tasks(frameworkID: "F1").isEmpty)
        #expect(state.taskCount == 1)
    }

    @Test("a task whose state flaps keeps a bounded number of statuses, the newest")
    func statusesAreBounded() {
        var state = ClusterState(limits: ClusterStateLimits(maximumStatusesPerTask: 3))
        state.apply(.taskAdded(Cluster.task("t1")))
        for round in 0..<10 {
            state.apply(Cluster.updated("t1", round % 2 == 0 ? .taskRunning : .taskUnreachable, uuid: [UInt8(round)]))
        }
        let task = state.task(frameworkID: "F1", taskID: "t1")
        #expect(task?.statuses.map(\.uuid) == [Data([7]), Data([8]), Data([9])])
        #expect(task?.state == .taskUnreachable)
        #expect(state.taskCount(in: .taskUnreachable) == 1)
        #expect(state.taskCount(in: .taskRunning) == 0)
    }

    @Test("SUBSCRIBED replaces the whole state: a resync after a reconnection forgets what the new snapshot lacks")
    func resubscriptionReplacesState() {
        var state = ClusterState()
        state.apply(Cluster.subscribed(Cluster.snapshot(agents: [Cluster.agent("S1")], frameworks: [Cluster.framework("F1")], tasks: [Cluster.task("a")])))
        state.apply(.taskAdded(Cluster.task("b")))
        state.apply(Cluster.updated("a", .taskRunning))
        #expect(state.appliedEventCount == 2)
        state.apply(Cluster.subscribed(Cluster.snapshot(agents: [Cluster.agent("S2")], tasks: [Cluster.task("c", agent: "S2", state: .taskRunning)]), interval: 5))
        #expect(state.agents.map(\.agentInfo.id.value) == ["S2"])
        #expect(state.frameworks.isEmpty)
        #expect(state.tasks().map(\.taskID.value) == ["c"])
        #expect(state.appliedEventCount == 0)
        #expect(state.heartbeatInterval == .seconds(5))
    }

    @Test("agents' used and free resources come from their active tasks")
    func usage() throws {
        var state = ClusterState()
        state.apply(Cluster.subscribed(Cluster.snapshot(
            agents: [Cluster.agent("S1", cpus: 4, mem: 4096), Cluster.agent("S2", cpus: 2, mem: 1024)],
            tasks: [
                Cluster.task("a", agent: "S1", state: .taskRunning, cpus: 1.5, mem: 512),
                Cluster.task("b", agent: "S1", state: .taskRunning, cpus: 0.5, mem: 256),
            ],
            completed: [Cluster.task("old", agent: "S1", state: .taskFinished, cpus: 2, mem: 2048)])))
        var usage = try #require(state.usage(ofAgent: "S1"))
        #expect(usage.activeTaskCount == 2)
        #expect(usage.used == Resources([Cluster.scalar("cpus", 2), Cluster.scalar("mem", 768)]))
        #expect(usage.free == Resources([Cluster.scalar("cpus", 2), Cluster.scalar("mem", 3328)]))
        state.apply(Cluster.updated("a", .taskKilled))
        usage = try #require(state.usage(ofAgent: "S1"))
        #expect(usage.free == Resources([Cluster.scalar("cpus", 3.5), Cluster.scalar("mem", 3840)]))
        #expect(state.agentUsages.map(\.agent.agentInfo.id.value) == ["S1", "S2"])
        #expect(state.agentUsages.last?.used == Resources())
        #expect(state.usage(ofAgent: "S9") == nil)
    }

    @Test("a state handed out earlier is a value: later events do not change it")
    func snapshotsAreValues() {
        var state = ClusterState()
        state.apply(.taskAdded(Cluster.task("t1")))
        let before = state
        state.apply(Cluster.updated("t1", .taskRunning))
        state.apply(.taskAdded(Cluster.task("t2")))
        #expect(before.taskCount == 1)
        #expect(before.task(frameworkID: "F1", taskID: "t1")?.state == .taskStaging)
        #expect(state.taskCount == 2)
    }
}
