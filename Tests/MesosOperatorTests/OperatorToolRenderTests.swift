import Foundation
import MesosCore
import MesosOperator
import Testing

@testable import MesosOperatorTool

@Suite struct OperatorToolRenderTests {
    static func scalar(_ name: String, _ value: Double, role: String? = nil) -> Resource {
        var resource = Resource()
        resource.name = name
        resource.type = .scalar
        resource.scalar.value = value
        if let role {
            var reservation = Resource.ReservationInfo()
            reservation.role = role
            resource.reservations = [reservation]
        }
        return resource
    }

    static func task(_ id: String, framework: String = "F1", state: TaskState, cpus: Double = 0.5) -> Mesos_V1_Task {
        var task = Mesos_V1_Task()
        task.taskID.value = id
        task.name = "name-\(id)"
        task.frameworkID.value = framework
        task.agentID.value = "S0"
        task.state = state
        task.resources = [Self.scalar("cpus", cpus), Self.scalar("mem", 32)]
        return task
    }

    static var tasksAnswer: MasterResponse.GetTasks {
        var answer = MasterResponse.GetTasks()
        answer.tasks = [Self.task("t1", state: .taskRunning), Self.task("t2", framework: "F2", state: .taskStaging)]
        answer.unreachableTasks = [Self.task("t3", state: .taskUnreachable)]
        answer.completedTasks = [Self.task("t0", state: .taskFinished), Self.task("t4", framework: "F2", state: .taskFailed)]
        return answer
    }

    @Test func tableColumnsAlignAndEmptyTablesSaySo() {
        var table = ToolTable("ID", "NAME")
        table.add("a", "first\nline")
        table.add("longer-id", "x")
        #expect(table.render(emptyMessage: "none") == "ID         NAME\na          first line\nlonger-id  x\n")
        #expect(ToolTable("ID").render(emptyMessage: "No tasks.") == "No tasks.\n")
    }

    @Test func taskStatesUseMesosNames() {
        #expect(ToolFormat.state(.taskFinished) == "TASK_FINISHED")
        #expect(ToolFormat.state(.taskGoneByOperator) == "TASK_GONE_BY_OPERATOR")
        #expect(TaskStateArgument(argument: "running")?.state == .taskRunning)
        #expect(TaskStateArgument(argument: "TASK_GONE_BY_OPERATOR")?.state == .taskGoneByOperator)
        #expect(TaskStateArgument(argument: "gone-by-operator")?.state == .taskGoneByOperator)
        #expect(TaskStateArgument(argument: "sleeping") == nil)
    }

    @Test func tasksShowLiveOnesByDefaultAndFilter() {
        let live = ToolRender.tasks(Self.tasksAnswer, filter: .init())
        let lines = live.split(separator: "\n")
        #expect(lines.first?.hasPrefix("ID  NAME     STATE") == true)
        #expect(lines.count == 4)
        #expect(live.contains("t1  name-t1  TASK_RUNNING      F1         S0     0.5   32"))
        #expect(!live.contains("t0"))
        let all = ToolRender.TaskFilter(all: true).filtered(Self.tasksAnswer)
        #expect(all.completedTasks.count == 2)
        let failed = ToolRender.TaskFilter(state: .taskFailed).filtered(Self.tasksAnswer)
        #expect((failed.tasks + failed.completedTasks).map(\.taskID.value) == ["t4"])
        let byFramework = ToolRender.TaskFilter(all: true, frameworkID: "F2").filtered(Self.tasksAnswer)
        #expect((byFramework.tasks + byFramework.completedTasks).map(\.taskID.value) == ["t2", "t4"])
        #expect(ToolRender.tasks(Self.tasksAnswer, filter: .init(frameworkID: "none")) == "No tasks.\n")
    }

    @Test func tasksJSONKeepsMesosFieldAndEnumNames() throws {
        let text = try ToolOutput.json(ToolRender.TaskFilter(all: true).filtered(Self.tasksAnswer))
        #expect(text.hasSuffix("\n"))
        #expect(text.split(separator: "\n").count == 1)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        let completed = try #require(object["completed_tasks"] as? [[String: Any]])
        #expect(completed.first?["state"] as? String == "TASK_FINISHED")
        #expect((completed.first?["task_id"] as? [String: Any])?["value"] as? String == "t0")
        #expect(object["unreachable_tasks"] != nil)
    }

    @Test func agentsShowAllocatedOverTotalResources() {
        var agent = MasterResponse.GetAgents.Agent()
        agent.agentInfo.id.value = "S0"
        agent.agentInfo.hostname = "agent1"
        agent.active = true
        agent.version = "1.11.0"
        agent.totalResources = [Self.scalar("cpus", 2), Self.scalar("cpus", 1, role: "batch"), Self.scalar("mem", 2048), Self.scalar("disk", 4096)]
        agent.allocatedResources = [Self.scalar("cpus", 0.25), Self.scalar("mem", 128)]
        agent.registeredTime.nanoseconds = 1_767_225_600_000_000_000
        var answer = MasterResponse.GetAgents()
        answer.agents = [agent]
        let text = ToolRender.agents(answer)
        #expect(text == """
            ID  HOSTNAME  ACTIVE  VERSION  CPUS    MEM       DISK    REGISTERED
            S0  agent1    yes     1.11.0   0.25/3  128/2048  0/4096  2026-01-01T00:00:00Z

            """)
        agent.deactivated = true
        answer.agents = [agent]
        #expect(ToolRender.agents(answer).contains(" deactivated "))
        #expect(ToolRender.agents(MasterResponse.GetAgents()) == "No agents.\n")
    }

    @Test func frameworksListActiveOnesAndCompletedWithAll() {
        var framework = MasterResponse.GetFrameworks.Framework()
        framework.frameworkInfo.id.value = "F1"
        framework.frameworkInfo.name = "batch"
        framework.frameworkInfo.user = "alice"
        framework.frameworkInfo.roles = ["a", "b"]
        framework.active = true
        framework.connected = true
        var completed = framework
        completed.frameworkInfo.id.value = "F0"
        completed.active = false
        var answer = MasterResponse.GetFrameworks()
        answer.frameworks = [framework]
        answer.completedFrameworks = [completed]
        let active = ToolRender.frameworks(answer, all: false)
        #expect(active.contains("F1  batch  alice  a,b    yes     yes"))
        #expect(!active.contains("F0"))
        #expect(ToolRender.frameworks(answer, all: true).contains("F0  batch  alice  a,b    completed"))
    }

    @Test func stateSummaryCountsAndSums() {
        var state = MasterResponse.GetState()
        state.getTasks = Self.tasksAnswer
        var agent = MasterResponse.GetAgents.Agent()
        agent.active = true
        agent.totalResources = [Self.scalar("cpus", 4)]
        agent.allocatedResources = [Self.scalar("cpus", 1.5)]
        state.getAgents.agents = [agent, agent]
        let text = ToolRender.state(state)
        #expect(text.contains("agents:      2 (2 active)"))
        #expect(text.contains("tasks:       3 live (1 TASK_RUNNING, 1 TASK_STAGING, 1 TASK_UNREACHABLE), 2 completed"))
        #expect(text.contains("resources:   cpus 3/8 (allocated/total)"))
    }

    @Test func versionHealthRolesWeightsQuotaAndMaintenance() throws {
        var version = MasterResponse.GetVersion()
        version.versionInfo.version = "1.11.0"
        #expect(ToolRender.version(version) == "1.11.0\n")
        let versionJSON = try #require(try JSONSerialization.jsonObject(with: Data(try ToolOutput.json(version).utf8)) as? [String: Any])
        #expect((versionJSON["version_info"] as? [String: Any])?["version"] as? String == "1.11.0")

        var health = MasterResponse.GetHealth()
        health.healthy = false
        #expect(ToolRender.health(health) == "unhealthy\n")

        var weights = MasterResponse.GetWeights()
        var weight = WeightInfo()
        weight.role = "batch"
        weight.weight = 2.5
        weights.weightInfos = [weight]
        #expect(ToolRender.weights(weights) == "ROLE   WEIGHT\nbatch  2.5\n")

        var quota = MasterResponse.GetQuota()
        var config = QuotaConfig()
        config.role = "batch"
        var cpus = Mesos_V1_Value.Scalar()
        cpus.value = 2
        config.guarantees = ["cpus": cpus]
        config.limits = ["cpus": cpus, "mem": { var mem = Mesos_V1_Value.Scalar(); mem.value = 1024; return mem }()]
        quota.status.configs = [config]
        #expect(ToolRender.quota(quota) == "ROLE   GUARANTEES  LIMITS\nbatch  cpus:2      cpus:2;mem:1024\n")

        var schedule = MasterResponse.GetMaintenanceSchedule()
        var window = MaintenanceWindow()
        var machine = MachineID()
        machine.hostname = "agent1"
        machine.ip = "10.0.0.1"
        window.machineIds = [machine]
        window.unavailability.start.nanoseconds = 1_767_225_600_000_000_000
        window.unavailability.duration.nanoseconds = 3_600_000_000_000
        schedule.schedule.windows = [window]
        #expect(ToolRender.maintenanceSchedule(schedule) == "MACHINES         START                 DURATION\nagent1=10.0.0.1  2026-01-01T00:00:00Z  3600s\n")
        #expect(MachineArgument(argument: "agent1=10.0.0.1")?.machine == machine)
        #expect(MachineArgument(argument: "=") == nil)
    }

    @Test func errorsBecomeOneLineAndMeaningfulExitCodes() {
        let refused = MesosError.httpStatus(400, body: "Failed to validate master::Call:\n  Expecting 'framework_id'")
        let (code, message) = ToolFailure.outcome(of: refused)
        #expect(code == 1)
        #expect(message == "HTTP 400: Failed to validate master::Call: Expecting 'framework_id'")
        #expect(ToolFailure.outcome(of: MesosError(code: .transportFailure)).code == 3)
        #expect(ToolFailure.outcome(of: MesosError.httpStatus(503, body: "No leader elected")).code == 3)
        #expect(ToolFailure.outcome(of: MesosError.httpStatus(401)).code == 4)
        #expect(ToolFailure.outcome(of: MesosError.httpStatus(403)).code == 4)
        #expect(ToolFailure.outcome(of: ToolFailure.notFound("x")).code == 2)
        #expect(ToolFailure.outcome(of: ToolFailure.usage("x")).code == 64)
        #expect(ToolFailure.outcome(of: ToolFailure.unhealthy) == (5, nil))
    }

    @Test func noMasterIsAUsageError() throws {
        let options = try GlobalOptions.parse(["--master", " "])
        #expect(throws: ToolFailure.self) { try MasterSession(options) }
    }

    @Test func durationsParse() {
        #expect(ToolDuration(argument: "500ms")?.duration == .milliseconds(500))
        #expect(ToolDuration(argument: "2m")?.duration == .seconds(120))
        #expect(ToolDuration(argument: "1.5")?.duration == .milliseconds(1500))
        #expect(ToolDuration(argument: "soon") == nil)
    }
}
