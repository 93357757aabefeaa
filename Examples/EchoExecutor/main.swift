// A custom executor in a few lines, on MesosExecutor: the agent starts it for a task whose TaskInfo names it
// (`mesos-execute --executor PATH`). On LAUNCH it reports TASK_RUNNING; each framework MESSAGE `TEXT` is answered
// with the MESSAGE `echo: TEXT`, and then the task finishes (TASK_FINISHED). KILL and SHUTDOWN end the task as
// TASK_KILLED. The executor exits once the agent acknowledged the last update.
//
//   mesos-execute --master http://127.0.0.1:5050 --executor "$PWD/.build/debug/echo-executor" --message hello
//   ...
//   Message from executor: echo: hello
//   [..] TASK_FINISHED: echoed 'hello'
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import MesosSocketTransport
import MesosExecutor
import Synchronization

/// The executor's behaviour: the tasks it runs, answered one message at a time.
final class EchoExecutor: Executor {
    /// The tasks launched and not over.
    private let running = Mutex<[TaskID]>([])

    func launchTask(_ executor: MesosExecutor, _ task: TaskInfo) async {
        self.running.withLock { $0.append(task.taskID) }
        await Self.report(task.taskID, .taskRunning, "echo executor ready: send a framework message", on: executor)
    }

    func frameworkMessage(_ executor: MesosExecutor, _ data: [UInt8]) async {
        let text = String(decoding: data, as: UTF8.self)
        do {
            try await executor.message(Array("echo: \(text)".utf8))
        } catch {
            ExecutorProcess.writeToStandardError("echo-executor: cannot answer the message: \(error)\n")
        }
        for task in self.take() {
            await Self.report(task, .taskFinished, "echoed '\(text)'", on: executor)
        }
    }

    func killTask(_ executor: MesosExecutor, _ taskID: TaskID, killPolicy: KillPolicy?) async {
        let known = self.running.withLock { tasks in
            guard let index = tasks.firstIndex(of: taskID) else { return false }
            tasks.remove(at: index)
            return true
        }
        if known { await Self.report(taskID, .taskKilled, "killed before any message came", on: executor) }
    }

    func shutdown(_ executor: MesosExecutor) async {
        for task in self.take() {
            await Self.report(task, .taskKilled, "the executor was shut down", on: executor)
        }
    }

    private func take() -> [TaskID] {
        self.running.withLock { tasks in
            defer { tasks = [] }
            return tasks
        }
    }

    private static func report(_ task: TaskID, _ state: TaskState, _ message: String, on executor: MesosExecutor) async {
        var status = TaskStatus()
        status.taskID = task
        status.state = state
        status.message = message
        do {
            _ = try await executor.update(status)
        } catch {
            ExecutorProcess.writeToStandardError("echo-executor: cannot send \(state) for \(task.value): \(error)\n")
        }
    }
}

/// Reads the agent's environment, runs the echo executor until it ends, and returns the process's exit status.
func runEchoExecutor() async -> Int32 {
    let configuration: ExecutorConfiguration
    do {
        configuration = try ExecutorConfiguration.fromEnvironment()
    } catch {
        ExecutorProcess.writeToStandardError("echo-executor: \(error) (the Mesos agent starts this program)\n")
        return 2
    }
    let executor = MesosExecutor(configuration: configuration, transport: agentTransport(configuration))
    let end = await executor.run(delegate: EchoExecutor())
    ExecutorProcess.writeToStandardError("echo-executor: \(end)\n")
    return end.exitStatus
}

ExecutorProcess.run(runEchoExecutor)

/// The connection to the agent: plain HTTP over TCP, or the agent's unix domain socket when it gave one
/// (`MESOS_DOMAIN_SOCKET`). No TLS: an agent that requires it (`LIBPROCESS_SSL_ENABLED`) needs an executor
/// built on `MesosCurlTransport`.
func agentTransport(_ configuration: ExecutorConfiguration) -> MesosSocketTransport {
    MesosSocketTransport(configuration: .init(unixSocketPath: configuration.domainSocket))
}
