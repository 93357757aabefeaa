// mesos-command-executor: the executor the agent starts for a command task (a TaskInfo with a CommandInfo and no
// ExecutorInfo), doing what Mesos's built-in command executor does, on MesosExecutor and MesosCommandExecutor.
//
// An agent runs it as `$MESOS_LAUNCHER_DIR/mesos-executor`: install it under that name in a launcher directory
// (beside `mesos-containerizer`) and start the agent with `--launcher_dir` pointing there. Everything it needs
// comes from the environment the agent sets (MESOS_AGENT_ENDPOINT, MESOS_FRAMEWORK_ID, MESOS_EXECUTOR_ID, ...).
//
// It runs one task: TASK_STARTING, TASK_RUNNING, then TASK_FINISHED / TASK_FAILED ("Command exited with status
// N", "Command terminated with signal ..."); KILL sends SIGTERM to the task's process group and SIGKILL after the
// kill policy's grace period (TASK_KILLED); health checks are run and reported. A second task, or a task group,
// is refused as Mesos's does. It exits once the agent acknowledged the last update.
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
import Logging
import MesosCommandExecutor
import MesosSocketTransport
import MesosExecutor
import Synchronization

/// The executor's decisions: one command task per executor.
final class CommandExecutor: Executor {
    private struct State {
        var sendsKillingState = false
        var runner: CommandTask?
        var run: Task<TaskStatus, Never>?
    }

    private let state = Mutex(State())
    private let logger: Logger?

    init(logger: Logger?) {
        self.logger = logger
    }

    func registered(_ executor: MesosExecutor, _ subscribed: ExecutorEvent.Subscribed) async {
        let killing = CommandTask.Configuration.wantsKillingState(subscribed.frameworkInfo)
        self.state.withLock { $0.sendsKillingState = killing }
    }

    func launchTask(_ executor: MesosExecutor, _ task: TaskInfo) async {
        let runner = self.state.withLock { state -> CommandTask? in
            guard state.runner == nil else { return nil }
            let runner = CommandTask(
                task: task,
                configuration: .init(sendsKillingState: state.sendsKillingState, output: .sandboxFiles),
                logger: self.logger
            ) { status in
                _ = try? await executor.update(status)
            }
            state.runner = runner
            state.run = Task { await runner.run() }
            return runner
        }
        if runner == nil {
            _ = try? await executor.update(CommandTask.refusal(of: task))
        }
    }

    func launchTaskGroup(_ executor: MesosExecutor, _ group: TaskGroupInfo) async {
        // A command executor runs single tasks; a group is refused by shutting down, as Mesos's does.
        ExecutorProcess.writeToStandardError("mesos-command-executor: LAUNCH_GROUP is not supported; shutting down\n")
        await self.shutdown(executor)
        executor.stop()
    }

    func killTask(_ executor: MesosExecutor, _ taskID: TaskID, killPolicy: KillPolicy?) async {
        let runner = self.state.withLock { $0.runner }
        guard let runner, runner.task.taskID == taskID else { return }
        await runner.kill(killPolicy: killPolicy)
    }

    func shutdown(_ executor: MesosExecutor) async {
        let (runner, run) = self.state.withLock { ($0.runner, $0.run) }
        guard let runner else { return }
        await runner.shutdown(executorShutdownGracePeriod: executor.configuration.shutdownGracePeriod)
        _ = await run?.value
    }

    func error(_ executor: MesosExecutor, _ error: MesosError) async {
        ExecutorProcess.writeToStandardError("mesos-command-executor: \(error)\n")
    }
}

/// Reads the agent's environment, runs the executor until it ends, and returns the process's exit status.
func runCommandExecutor() async -> Int32 {
    let environment = ProcessInfo.processInfo.environment
    let configuration: ExecutorConfiguration
    do {
        configuration = try ExecutorConfiguration.fromEnvironment(environment)
    } catch {
        ExecutorProcess.writeToStandardError("mesos-command-executor: \(error) (the Mesos agent starts this program)\n")
        return 2
    }
    // MESOS_COMMAND_EXECUTOR_VERBOSE=1 logs what the executor does on standard error (the sandbox's stderr).
    let verbose = environment["MESOS_COMMAND_EXECUTOR_VERBOSE"] == "1"
    var logger: Logger?
    if verbose {
        var handler = Logger(label: "mesos.command-executor") { StreamLogHandler.standardError(label: $0) }
        handler.logLevel = .debug
        logger = handler
    }
    let executor = MesosExecutor(
        configuration: configuration,
        transport: agentTransport(configuration),
        logger: logger)
    let end = await executor.run(delegate: CommandExecutor(logger: logger))
    if end.exitStatus != 0 || verbose {
        ExecutorProcess.writeToStandardError("mesos-command-executor: \(end)\n")
    }
    return end.exitStatus
}

ExecutorProcess.run(runCommandExecutor)

/// The connection to the agent: plain HTTP over TCP, or the agent's unix domain socket when it gave one
/// (`MESOS_DOMAIN_SOCKET`). No TLS: an agent that requires it (`LIBPROCESS_SSL_ENABLED`) needs an executor
/// built on `MesosCurlTransport`.
func agentTransport(_ configuration: ExecutorConfiguration) -> MesosSocketTransport {
    MesosSocketTransport(configuration: .init(unixSocketPath: configuration.domainSocket))
}
