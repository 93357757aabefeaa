import Foundation
import MesosCore

/// The human renderings of the master's answers (the `--json` form is the answer's message itself, see
/// ``ToolOutput``). Pure functions of the answers, so that they are tested on composed responses.
enum ToolRender {
    typealias Response = Mesos_V1_Master_Response

    static func version(_ answer: Response.GetVersion) -> String {
        answer.versionInfo.version + "\n"
    }

    static func health(_ answer: Response.GetHealth) -> String {
        answer.healthy ? "healthy\n" : "unhealthy\n"
    }

    static func agents(_ answer: Response.GetAgents) -> String {
        var table = ToolTable("ID", "HOSTNAME", "ACTIVE", "VERSION", "CPUS", "MEM", "DISK", "REGISTERED")
        for agent in answer.agents.sorted(by: { $0.agentInfo.hostname < $1.agentInfo.hostname }) {
            let total = ToolFormat.scalars(agent.totalResources)
            let used = ToolFormat.scalars(agent.allocatedResources)
            var active = ToolFormat.yesNo(agent.active)
            if agent.deactivated { active = "deactivated" }
            if agent.hasDrainInfo { active = String(describing: agent.drainInfo.state).lowercased() }
            table.add(
                agent.agentInfo.id.value, agent.agentInfo.hostname, active, agent.version,
                ToolFormat.usage("cpus", used: used, total: total),
                ToolFormat.usage("mem", used: used, total: total),
                ToolFormat.usage("disk", used: used, total: total),
                ToolFormat.time(agent.registeredTime, present: agent.hasRegisteredTime))
        }
        var text = table.render(emptyMessage: "No agents.")
        if !answer.recoveredAgents.isEmpty {
            text += "\(answer.recoveredAgents.count) agent(s) not re-registered yet since the master failed over: "
                + answer.recoveredAgents.map(\.id.value).joined(separator: ", ") + "\n"
        }
        return text
    }

    static func frameworks(_ answer: Response.GetFrameworks, all: Bool) -> String {
        var table = ToolTable("ID", "NAME", "USER", "ROLES", "ACTIVE", "CONNECTED", "CPUS", "MEM", "REGISTERED")
        var entries = answer.frameworks.map { ($0, false) }
        if all { entries += answer.completedFrameworks.map { ($0, true) } }
        for (framework, completed) in entries {
            let info = framework.frameworkInfo
            let roles = info.roles.isEmpty ? (info.hasRole ? info.role : "*") : info.roles.joined(separator: ",")
            let used = ToolFormat.scalars(framework.allocatedResources)
            table.add(
                info.id.value, info.name, info.user, roles,
                completed ? "completed" : ToolFormat.yesNo(framework.active), ToolFormat.yesNo(framework.connected),
                ToolFormat.number(used["cpus"] ?? 0), ToolFormat.number(used["mem"] ?? 0),
                ToolFormat.time(framework.registeredTime, present: framework.hasRegisteredTime))
        }
        return table.render(emptyMessage: all ? "No frameworks." : "No active frameworks.")
    }

    /// The task filter of `mesos tasks`: live tasks (pending, running, unreachable), completed ones too with
    /// `all` or when asking for a terminal state; by framework and state.
    struct TaskFilter {
        var all = false
        var frameworkID: String?
        var state: TaskState?

        func keeps(_ task: Mesos_V1_Task) -> Bool {
            (self.frameworkID.map { $0 == task.frameworkID.value } ?? true) && (self.state.map { $0 == task.state } ?? true)
        }

        /// The answer with only the tasks the filter keeps.
        func filtered(_ answer: Response.GetTasks) -> Response.GetTasks {
            var result = Response.GetTasks()
            result.pendingTasks = answer.pendingTasks.filter(self.keeps)
            result.tasks = answer.tasks.filter(self.keeps)
            result.unreachableTasks = answer.unreachableTasks.filter(self.keeps)
            if self.all || (self.state?.isTerminal ?? false) {
                result.completedTasks = answer.completedTasks.filter(self.keeps)
            }
            return result
        }
    }

    static func tasks(_ answer: Response.GetTasks, filter: TaskFilter) -> String {
        let kept = filter.filtered(answer)
        var table = ToolTable("ID", "NAME", "STATE", "FRAMEWORK", "AGENT", "CPUS", "MEM")
        for task in kept.pendingTasks + kept.tasks + kept.unreachableTasks + kept.completedTasks {
            let resources = ToolFormat.scalars(task.resources)
            table.add(
                task.taskID.value, task.name, ToolFormat.state(task.state), task.frameworkID.value, task.agentID.value,
                ToolFormat.number(resources["cpus"] ?? 0), ToolFormat.number(resources["mem"] ?? 0))
        }
        return table.render(emptyMessage: "No tasks.")
    }

    static func state(_ answer: Response.GetState) -> String {
        let agents = answer.getAgents.agents
        let total = agents.reduce(into: [String: Double]()) { sums, agent in
            sums.merge(ToolFormat.scalars(agent.totalResources), uniquingKeysWith: +)
        }
        let used = agents.reduce(into: [String: Double]()) { sums, agent in
            sums.merge(ToolFormat.scalars(agent.allocatedResources), uniquingKeysWith: +)
        }
        let tasks = answer.getTasks
        var byState: [String: Int] = [:]
        for task in tasks.pendingTasks + tasks.tasks + tasks.unreachableTasks {
            byState[ToolFormat.state(task.state), default: 0] += 1
        }
        let frameworks = answer.getFrameworks
        var lines: [String] = []
        lines.append("agents:      \(agents.count) (\(agents.filter(\.active).count) active)")
        lines.append("frameworks:  \(frameworks.frameworks.count) (\(frameworks.frameworks.filter(\.active).count) active, \(frameworks.completedFrameworks.count) completed)")
        let live = byState.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
        lines.append("tasks:       \(tasks.pendingTasks.count + tasks.tasks.count + tasks.unreachableTasks.count) live\(live.isEmpty ? "" : " (\(live))"), \(tasks.completedTasks.count) completed")
        lines.append("executors:   \(answer.getExecutors.executors.count)")
        let names = Set(total.keys).union(used.keys).sorted()
        let resources = names.map { "\($0) \(ToolFormat.usage($0, used: used, total: total))" }.joined(separator: ", ")
        lines.append("resources:   \(resources.isEmpty ? "-" : resources) (allocated/total)")
        return lines.joined(separator: "\n") + "\n"
    }

    static func roles(_ answer: Response.GetRoles) -> String {
        var table = ToolTable("ROLE", "WEIGHT", "FRAMEWORKS", "RESOURCES")
        for role in answer.roles.sorted(by: { $0.name < $1.name }) {
            table.add(role.name, ToolFormat.number(role.weight), String(role.frameworks.count),
                      ToolFormat.resourceText(ToolFormat.scalars(role.resources)))
        }
        return table.render(emptyMessage: "No roles.")
    }

    static func weights(_ answer: Response.GetWeights) -> String {
        var table = ToolTable("ROLE", "WEIGHT")
        for info in answer.weightInfos.sorted(by: { $0.role < $1.role }) {
            table.add(info.role, ToolFormat.number(info.weight))
        }
        return table.render(emptyMessage: "No weights set (every role weighs 1).")
    }

    static func quota(_ answer: Response.GetQuota) -> String {
        var table = ToolTable("ROLE", "GUARANTEES", "LIMITS")
        for config in answer.status.configs.sorted(by: { $0.role < $1.role }) {
            table.add(config.role, ToolFormat.scalarMap(config.guarantees), ToolFormat.scalarMap(config.limits))
        }
        return table.render(emptyMessage: "No quota set.")
    }

    static func machine(_ id: Mesos_V1_MachineID) -> String {
        switch (id.hostname.isEmpty, id.ip.isEmpty) {
        case (false, false): "\(id.hostname)=\(id.ip)"
        case (false, true): id.hostname
        default: id.ip
        }
    }

    static func maintenanceSchedule(_ answer: Response.GetMaintenanceSchedule) -> String {
        var table = ToolTable("MACHINES", "START", "DURATION")
        for window in answer.schedule.windows {
            let unavailability = window.unavailability
            let duration = unavailability.hasDuration
                ? ToolFormat.number(Double(unavailability.duration.nanoseconds) / 1e9) + "s" : "indefinite"
            table.add(window.machineIds.map(self.machine).joined(separator: ","),
                      ToolFormat.time(unavailability.start, present: unavailability.hasStart), duration)
        }
        return table.render(emptyMessage: "No maintenance scheduled.")
    }

    static func maintenanceStatus(_ answer: Response.GetMaintenanceStatus) -> String {
        var table = ToolTable("MACHINE", "MODE", "INVERSE OFFERS")
        for draining in answer.status.drainingMachines {
            let statuses = draining.statuses.map { "\($0.frameworkID.value):\(String(describing: $0.status).uppercased())" }
            table.add(self.machine(draining.id), "DRAINING", statuses.isEmpty ? "-" : statuses.joined(separator: ","))
        }
        for down in answer.status.downMachines {
            table.add(self.machine(down), "DOWN", "-")
        }
        return table.render(emptyMessage: "No machines in maintenance.")
    }
}
