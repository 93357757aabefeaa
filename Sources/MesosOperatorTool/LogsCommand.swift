import ArgumentParser
import Foundation
import MesosCore
import MesosOperator

struct LogsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logs",
        abstract: "Print a task's standard output (or --stderr) from its sandbox; -f follows it until the task ends.",
        discussion: """
            The task is looked up in the master's state; the file is read from the agent that ran it, with the \
            agent's READ_FILE call, or its /files/read endpoint where the agent refuses that call. With -f the \
            file is polled every 0.5 s (--interval) and the command ends once the task has reached a terminal \
            state and everything was printed. The task's state is asked from the master (GET_TASKS, which lists \
            every task of the cluster) at most every 5 s (--task-check-interval), not on every poll: the command \
            ends at most that long after the task.
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The task's id.", valueName: "task-id"))
    var taskID: String

    @Flag(name: .long, help: "Print the task's standard error instead of its standard output.")
    var stderr = false

    @Flag(name: [.short, .long], help: "Follow the file until the task ends (tail -f).")
    var follow = false

    @Option(name: .long, help: ArgumentHelp("Start this many bytes before the end instead of at the beginning.", valueName: "bytes"))
    var tail: UInt64?

    @Option(name: .long, help: ArgumentHelp("The task's framework, when several frameworks use the same task id.", valueName: "id"))
    var framework: String?

    @Option(name: .long, help: ArgumentHelp("The agents' --work_dir, to read the task's own run even after the executor ran again.", valueName: "path"))
    var workDir: String?

    @Option(name: .long, help: ArgumentHelp("How often -f polls the file.", valueName: "duration"))
    var interval: ToolDuration = ToolDuration(.milliseconds(500), text: "500ms")

    @Option(name: .long, help: ArgumentHelp("With -f, how often the master is asked whether the task has ended.", valueName: "duration"))
    var taskCheckInterval: ToolDuration = ToolDuration(.seconds(5), text: "5s")

    func run() async throws {
        try await runTool {
            let session = try MasterSession(self.global)
            let state = try await session.client.getState()
            let location: SandboxLocation
            do {
                location = try SandboxLocator.locate(
                    taskID: self.taskID, frameworkID: self.framework, in: state,
                    options: .init(agentWorkDirectory: self.workDir))
            } catch let error as MesosError where error.code == .notFound {
                throw ToolFailure.notFound(error.message)
            }
            let files = TaskFiles(agent: location.agent, configuration: session.configuration)
            let name = self.stderr ? "stderr" : "stdout"
            let path = try await Self.existingPath(of: name, in: location, files: files, fallback: self.follow)
            if !self.follow {
                let bytes = try await Self.read(path, files: files, lastBytes: self.tail)
                FileHandle.standardOutput.write(Data(bytes))
                return
            }
            let client = session.client
            let taskID = self.taskID
            let frameworkID = location.frameworkID
            let options = TaskFileFollower.Options(
                start: self.tail.map { .lastBytes($0) } ?? .beginning, pollInterval: self.interval.duration,
                finishCheckInterval: self.taskCheckInterval.duration)
            let follower = files.follow(path: path, options: options) { () async throws(MesosError) -> Bool in
                let tasks = try await client.getTasks()
                let all = tasks.pendingTasks + tasks.tasks + tasks.unreachableTasks + tasks.completedTasks
                guard let task = all.last(where: { $0.taskID.value == taskID && $0.frameworkID.value == frameworkID }) else {
                    return true
                }
                return task.state.isTerminal
            }
            for try await chunk in follower {
                FileHandle.standardOutput.write(Data(chunk))
            }
        }
    }

    /// The file in the first candidate directory where it exists; with `fallback`, the preferred path even if
    /// it does not exist yet (a follower waits for it).
    static func existingPath(of name: String, in location: SandboxLocation, files: TaskFiles, fallback: Bool) async throws -> String {
        var lastError: MesosError?
        for directory in location.candidates {
            let path = SandboxLocation.join(directory, name)
            let result = await Self.size(of: path, files: files)
            switch result {
            case .success:
                return path
            case .failure(let error) where error.code == .notFound:
                lastError = error
            case .failure(let error):
                throw error
            }
        }
        if fallback { return location.path(of: name) }
        throw ToolFailure.notFound(
            "No \(name) in the sandbox of task \(location.taskID) on agent \(location.agent)"
                + " (not created yet, or garbage-collected): \(lastError.map { ToolFailure.oneLine($0.message) } ?? "")")
    }

    /// The file's size, or the error.
    static func size(of path: String, files: TaskFiles) async -> Result<UInt64, MesosError> {
        do throws(MesosError) {
            return .success(try await files.size(path: path))
        } catch {
            return .failure(error)
        }
    }

    /// Reads the file to its current end: all of it, or its last `lastBytes` bytes.
    static func read(_ path: String, files: TaskFiles, lastBytes: UInt64?) async throws -> [UInt8] {
        let size = try await files.size(path: path)
        var offset = lastBytes.map { size > $0 ? size - $0 : 0 } ?? 0
        var bytes: [UInt8] = []
        while offset < size {
            let page = try await files.read(path: path, offset: offset, length: min(TaskFiles.maximumReadLength, size - offset))
            if page.data.isEmpty { break }
            bytes += page.data
            offset += UInt64(page.data.count)
        }
        return bytes
    }
}
