import ArgumentParser
import Foundation
import MesosCore
import MesosOperator

/// Exit 2 instead of 1 when the master refused a call because the named object does not exist.
func namingUnknown(_ what: String, _ body: () async throws(MesosError) -> Void) async throws {
    do {
        try await body()
    } catch {
        let text = error.message.lowercased()
        if error.httpStatus == 400, text.contains("unknown") || text.contains("not found") || text.contains("no framework")
            || text.contains("no agent") || text.contains("does not exist") {
            throw ToolFailure.notFound("\(what): \(ToolFailure.oneLine(error.message))")
        }
        throw error
    }
}

struct TeardownCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "teardown", abstract: "Tear a framework down: kill its tasks and remove it (TEARDOWN).")

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The framework's id.", valueName: "framework-id"))
    var frameworkID: String

    func run() async throws {
        try await runTool {
            let session = try MasterSession(self.global)
            var id = FrameworkID()
            id.value = self.frameworkID
            try await namingUnknown("Framework \(self.frameworkID)") { () async throws(MesosError) in
                try await session.client.teardown(frameworkID: id)
            }
            toolPrint(self.global.json ? "{}\n" : "Framework \(self.frameworkID) torn down.\n")
        }
    }
}

struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Drain, deactivate, reactivate or mark gone an agent.",
        subcommands: [AgentDrainCommand.self, AgentDeactivateCommand.self, AgentReactivateCommand.self, AgentGoneCommand.self]
    )
}

/// The one argument the agent commands take.
struct AgentArgument: ParsableArguments {
    @Argument(help: ArgumentHelp("The agent's id (see mesos agents).", valueName: "agent-id"))
    var agentID: String

    var id: AgentID {
        var id = AgentID()
        id.value = self.agentID
        return id
    }
}

struct AgentDrainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drain", abstract: "Drain an agent: no new tasks, running ones killed after the grace period (DRAIN_AGENT).")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var agent: AgentArgument

    @Option(name: .customLong("max-grace-period"), help: ArgumentHelp("The longest kill grace period a task gets (e.g. 10m).", valueName: "duration"))
    var maxGracePeriod: ToolDuration?

    @Flag(name: .customLong("mark-gone"), help: "Mark the agent gone once drained.")
    var markGone = false

    func run() async throws {
        try await runTool {
            let session = try MasterSession(self.global)
            try await namingUnknown("Agent \(self.agent.agentID)") { () async throws(MesosError) in
                try await session.client.drainAgent(self.agent.id, maxGracePeriod: self.maxGracePeriod?.duration, markGone: self.markGone)
            }
            toolPrint(self.global.json ? "{}\n" : "Agent \(self.agent.agentID) is draining.\n")
        }
    }
}

struct AgentDeactivateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deactivate", abstract: "Stop offering an agent's resources (DEACTIVATE_AGENT).")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var agent: AgentArgument

    func run() async throws {
        try await runTool {
            let session = try MasterSession(self.global)
            try await namingUnknown("Agent \(self.agent.agentID)") { () async throws(MesosError) in
                try await session.client.deactivateAgent(self.agent.id)
            }
            toolPrint(self.global.json ? "{}\n" : "Agent \(self.agent.agentID) deactivated.\n")
        }
    }
}

struct AgentReactivateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reactivate", abstract: "Offer a deactivated or drained agent's resources again (REACTIVATE_AGENT).")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var agent: AgentArgument

    func run() async throws {
        try await runTool {
            let session = try MasterSession(self.global)
            try await namingUnknown("Agent \(self.agent.agentID)") { () async throws(MesosError) in
                try await session.client.reactivateAgent(self.agent.id)
            }
            toolPrint(self.global.json ? "{}\n" : "Agent \(self.agent.agentID) reactivated.\n")
        }
    }
}

struct AgentGoneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gone", abstract: "Mark an agent gone for good: its tasks become TASK_GONE_BY_OPERATOR (MARK_AGENT_GONE).")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var agent: AgentArgument

    func run() async throws {
        try await runTool {
            let session = try MasterSession(self.global)
            try await namingUnknown("Agent \(self.agent.agentID)") { () async throws(MesosError) in
                try await session.client.markAgentGone(self.agent.id)
            }
            toolPrint(self.global.json ? "{}\n" : "Agent \(self.agent.agentID) marked gone.\n")
        }
    }
}
