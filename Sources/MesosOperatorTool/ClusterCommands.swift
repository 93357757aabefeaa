import ArgumentParser
import Foundation
import MesosCore
import MesosOperator

struct VersionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "version", abstract: "Print the leading master's Mesos version (e.g. 1.11.0).")

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await runTool {
            let answer = try await MasterSession(self.global).client.getVersion()
            try ToolOutput.emit(answer, json: self.global.json, render: ToolRender.version)
        }
    }
}

struct HealthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "health", abstract: "Ask the leading master whether it is healthy (exit 5 if not).")

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await runTool {
            let answer = try await MasterSession(self.global).client.getHealth()
            try ToolOutput.emit(answer, json: self.global.json, render: ToolRender.health)
            if !answer.healthy { throw ToolFailure.unhealthy }
        }
    }
}

struct StateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "state", abstract: "Summarize the cluster's state; --json prints the whole GET_STATE answer.")

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await runTool {
            let answer = try await MasterSession(self.global).client.getState()
            try ToolOutput.emit(answer, json: self.global.json, render: ToolRender.state)
        }
    }
}

struct AgentsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agents", abstract: "List the agents with their allocated and total resources.")

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await runTool {
            let answer = try await MasterSession(self.global).client.getAgents()
            try ToolOutput.emit(answer, json: self.global.json, render: ToolRender.agents)
        }
    }
}

struct FrameworksCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "frameworks", abstract: "List the frameworks (--all adds completed ones).")

    @OptionGroup var global: GlobalOptions

    @Flag(name: .long, help: "Also list completed frameworks.")
    var all = false

    func run() async throws {
        try await runTool {
            var answer = try await MasterSession(self.global).client.getFrameworks()
            if !self.all { answer.completedFrameworks = [] }
            try ToolOutput.emit(answer, json: self.global.json) { ToolRender.frameworks($0, all: self.all) }
        }
    }
}

/// A task state on the command line: `TASK_RUNNING`, `running`, `task_finished`, …
struct TaskStateArgument: ExpressibleByArgument {
    let state: TaskState

    init?(argument: String) {
        var name = argument.uppercased().replacingOccurrences(of: "-", with: "_")
        if !name.hasPrefix("TASK_") { name = "TASK_" + name }
        guard let state = TaskState.allCases.first(where: { ToolFormat.state($0) == name }) else { return nil }
        self.state = state
    }
}

struct TasksCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tasks", abstract: "List the tasks: live ones, or all with --all; filter by framework and state.")

    @OptionGroup var global: GlobalOptions

    @Flag(name: .long, help: "Also list completed tasks.")
    var all = false

    @Option(name: .long, help: ArgumentHelp("Only the tasks of this framework.", valueName: "id"))
    var framework: String?

    @Option(name: .long, help: ArgumentHelp("Only tasks in this state (TASK_RUNNING, running, finished, ...).", valueName: "state"))
    var state: TaskStateArgument?

    func run() async throws {
        try await runTool {
            let answer = try await MasterSession(self.global).client.getTasks()
            let filter = ToolRender.TaskFilter(all: self.all, frameworkID: self.framework, state: self.state?.state)
            try ToolOutput.emit(filter.filtered(answer), json: self.global.json) { ToolRender.tasks($0, filter: filter) }
        }
    }
}

struct RolesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "roles", abstract: "List the roles with their weights, frameworks and allocated resources.")

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await runTool {
            let answer = try await MasterSession(self.global).client.getRoles()
            try ToolOutput.emit(answer, json: self.global.json, render: ToolRender.roles)
        }
    }
}

struct QuotaCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quota", abstract: "Show the roles' quota: guarantees and limits.")

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await runTool {
            let answer = try await MasterSession(self.global).client.getQuota()
            try ToolOutput.emit(answer, json: self.global.json, render: ToolRender.quota)
        }
    }
}

struct WeightsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "weights",
        abstract: "Show the roles' weights, or set them with ROLE=WEIGHT arguments.",
        discussion: "mesos weights                      # show\nmesos weights batch=2 web=0.5      # set (UPDATE_WEIGHTS)")

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("Weights to set.", valueName: "role=weight"))
    var assignments: [String] = []

    func run() async throws {
        try await runTool {
            let session = try MasterSession(self.global)
            if self.assignments.isEmpty {
                let answer = try await session.client.getWeights()
                try ToolOutput.emit(answer, json: self.global.json, render: ToolRender.weights)
                return
            }
            let weights = try self.assignments.map { text throws -> WeightInfo in
                let parts = text.split(separator: "=", maxSplits: 1)
                guard parts.count == 2, !parts[0].isEmpty, let weight = Double(parts[1]), weight > 0, weight.isFinite else {
                    throw ToolFailure.usage("'\(text)' is not ROLE=WEIGHT with a positive weight")
                }
                var info = WeightInfo()
                info.role = String(parts[0])
                info.weight = weight
                return info
            }
            try await session.client.updateWeights(weights)
            if !self.global.json {
                toolPrint("Updated the weights of \(weights.map(\.role).joined(separator: ", ")).\n")
            } else {
                toolPrint("{}\n")
            }
        }
    }
}
