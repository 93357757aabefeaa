import ArgumentParser
import Foundation
import MesosCore
import MesosOperator

/// `mesos watch`: the master's operator event stream, one line per event.
struct WatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Print the master's operator events as they happen, one line each.",
        discussion: """
            Subscribes to the leading master's event stream (SUBSCRIBE) and prints SUBSCRIBED (a summary of the \
            snapshot), then TASK_ADDED, TASK_UPDATED, AGENT_ADDED, AGENT_REMOVED, FRAMEWORK_ADDED, \
            FRAMEWORK_UPDATED and FRAMEWORK_REMOVED as they happen. A lost stream is subscribed again with backoff \
            (a note on standard error), and starts again with SUBSCRIBED. With --json each event is one JSON object \
            per line, the master's event with Mesos's field names and its type as Mesos spells it \
            ({"type":"TASK_ADDED","task_added":{...}}). HEARTBEATs are left out unless --heartbeats is given.
            """
    )

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: "Stop after this many events (SUBSCRIBED counts as one; left-out heartbeats do not).")
    var count: Int?

    @Flag(name: .long, help: "Also print (and count) the master's heartbeats.")
    var heartbeats = false

    func validate() throws {
        if let count = self.count, count < 1 {
            throw ValidationError("--count must be at least 1")
        }
    }

    func run() async throws {
        try await runTool {
            let session = try MasterSession(self.global)
            let configuration = OperatorEventStreamConfiguration(onDisconnect: { lost in
                let note = "mesos: event stream lost (\(ToolFailure.oneLine(lost.reason.message))); "
                    + "subscribing again in \(WatchFormat.seconds(lost.retryAfter))\n"
                FileHandle.standardError.write(Data(note.utf8))
            })
            var printed = 0
            for try await event in session.client.events(configuration) {
                if case .heartbeat = event, !self.heartbeats {
                    continue
                }
                toolPrint(self.global.json ? try ToolOutput.json(event.message) : WatchFormat.line(event) + "\n")
                printed += 1
                if let count = self.count, printed >= count {
                    return
                }
            }
        }
    }
}

/// The human form of an operator event.
enum WatchFormat {
    /// One line: the type, then `key=value` pairs.
    static func line(_ event: OperatorEvent) -> String {
        var fields: [String] = [event.typeName]
        switch event {
        case .subscribed(let subscribed):
            let state = subscribed.getState
            let tasks = state.getTasks
            fields.append("agents=\(state.getAgents.agents.count)")
            fields.append("frameworks=\(state.getFrameworks.frameworks.count)")
            fields.append("tasks=\(tasks.tasks.count + tasks.pendingTasks.count + tasks.unreachableTasks.count)")
            fields.append("completed_tasks=\(tasks.completedTasks.count)")
            if subscribed.hasHeartbeatIntervalSeconds {
                fields.append("heartbeat=\(self.seconds(Duration(saturatingSeconds: subscribed.heartbeatIntervalSeconds)))")
            }
        case .taskAdded(let task):
            fields.append("task=\(task.taskID.value)")
            fields.append("framework=\(task.frameworkID.value)")
            fields.append("agent=\(task.agentID.value)")
            fields.append("state=\(self.name(task.state))")
            fields.append("name=\(self.quoted(task.name))")
        case .taskUpdated(let update):
            fields.append("task=\(update.status.taskID.value)")
            fields.append("framework=\(update.frameworkID.value)")
            if update.status.hasAgentID {
                fields.append("agent=\(update.status.agentID.value)")
            }
            fields.append("state=\(self.name(update.hasState ? update.state : update.status.state))")
            if update.hasState, update.state != update.status.state {
                fields.append("status=\(self.name(update.status.state))")
            }
            if update.status.hasReason {
                // SwiftProtobuf drops the `REASON_` prefix of the case names; Mesos spells it.
                fields.append("reason=REASON_\(self.name(update.status.reason))")
            }
            if update.status.hasMessage, !update.status.message.isEmpty {
                fields.append("message=\(self.quoted(update.status.message))")
            }
        case .agentAdded(let agent):
            fields.append("agent=\(agent.agentInfo.id.value)")
            fields.append("hostname=\(agent.agentInfo.hostname)")
        case .agentRemoved(let agentID):
            fields.append("agent=\(agentID.value)")
        case .frameworkAdded(let framework), .frameworkUpdated(let framework):
            fields.append("framework=\(framework.frameworkInfo.id.value)")
            fields.append("name=\(self.quoted(framework.frameworkInfo.name))")
            fields.append("active=\(framework.active)")
        case .frameworkRemoved(let info):
            fields.append("framework=\(info.id.value)")
            fields.append("name=\(self.quoted(info.name))")
        case .heartbeat:
            break
        case .unknown(let message):
            fields.append("type_number=\(message.type.rawValue)")
        }
        return fields.joined(separator: " ")
    }

    /// A generated enum value as Mesos spells it (`taskRunning` → `TASK_RUNNING`).
    static func name(_ value: some Any) -> String {
        var name = ""
        for character in String(describing: value) {
            if character.isUppercase, !name.isEmpty {
                name.append("_")
            }
            name.append(contentsOf: character.uppercased())
        }
        return name
    }

    /// A value in double quotes when it has spaces or quotes, bare otherwise.
    static func quoted(_ text: String) -> String {
        guard text.isEmpty || text.contains(where: { $0 == " " || $0 == "\"" || $0.isNewline }) else {
            return text
        }
        let escaped = text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
        return "\"\(escaped)\""
    }

    /// `1.5s`.
    static func seconds(_ duration: Duration) -> String {
        let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        return String(format: "%.1fs", seconds)
    }
}
