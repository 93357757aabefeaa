import Dispatch
import Foundation
import MesosCore
import MesosResources

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The agents' side: running a task's command, reporting its states, streaming its output, and the reliable
/// delivery of status updates (each re-sent until acknowledged, one at a time per task).
extension LocalMaster {
    /// What an agent needs to run one task, read under the lock.
    private struct Job: Sendable {
        var frameworkID: FrameworkID
        var agentID: AgentID
        var info: TaskInfo
        var process: TaskProcess
        var sandbox: String
        var spec: CommandSpec?
        var refusal: String?
    }

    /// Runs a launched task; called on the agent queue.
    func runTask(frameworkKey key: String, taskID: String) {
        guard let job = self.state.withLock({ state -> Job? in
            guard let framework = state.frameworks[key], let task = framework.tasks[taskID] else { return nil }
            let agentID = state.agents[task.agentIndex].id
            var job = Job(frameworkID: framework.id, agentID: agentID, info: task.info, process: task.process, sandbox: task.sandbox)
            do throws(MesosError) {
                job.spec = try self.commandSpec(task.info, frameworkID: framework.id, agentID: agentID, sandbox: task.sandbox)
            } catch {
                job.refusal = error.message
            }
            return job
        }) else {
            return
        }
        if job.process.wasKillRequested {
            self.report(key, taskID, state: .taskKilled, message: "Task killed before it was started", source: .agent)
            return
        }
        if let refusal = job.refusal {
            self.report(key, taskID, state: .taskFailed, message: refusal, source: .agent, reason: .containerLaunchFailed)
            return
        }
        guard let spec = job.spec else { return }
        do {
            try FileManager.default.createDirectory(atPath: job.sandbox, withIntermediateDirectories: true)
        } catch {
            self.report(key, taskID, state: .taskFailed, message: "Cannot create the sandbox \(job.sandbox): \(error.localizedDescription)",
                        source: .agent, reason: .containerLaunchFailed)
            return
        }
        self.report(key, taskID, state: .taskStarting, message: "", source: .executor)

        let stdoutFile = open(job.sandbox + "/stdout", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        let stderrFile = open(job.sandbox + "/stderr", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        let closeFiles: @Sendable () -> Void = {
            if stdoutFile >= 0 { close(stdoutFile) }
            if stderrFile >= 0 { close(stderrFile) }
        }
        // The terminal state must not overtake TASK_RUNNING: the exit waits for this gate.
        let runningReported = DispatchSemaphore(value: 0)
        let result = job.process.start(
            spec,
            onOutput: { [weak self] stream, bytes in
                let file = stream == .stdout ? stdoutFile : stderrFile
                if file >= 0 {
                    _ = bytes.withUnsafeBytes { write(file, $0.baseAddress, $0.count) }
                }
                self?.taskOutput(key, taskID, job: job, stream: stream, bytes: bytes)
            },
            onExit: { [weak self] termination in
                closeFiles()
                _ = runningReported.wait(timeout: .now() + .seconds(5))
                self?.taskExited(key, taskID, process: job.process, termination: termination)
            }
        )
        switch result {
        case .started(let pid):
            self.report(key, taskID, state: .taskRunning, message: "", source: .executor, pid: pid)
            runningReported.signal()
        case .killedBeforeStart:
            closeFiles()
            self.report(key, taskID, state: .taskKilled, message: "Task killed before it was started", source: .executor)
        case .failed(let message):
            closeFiles()
            self.report(key, taskID, state: .taskFailed, message: message, source: .executor, reason: .commandExecutorFailed)
        }
    }

    /// The command line and environment of a task, as Mesos's command executor builds them.
    private func commandSpec(_ task: TaskInfo, frameworkID: FrameworkID, agentID: AgentID, sandbox: String) throws(MesosError) -> CommandSpec {
        if task.hasContainer {
            switch task.container.type {
            case .docker:
                throw MesosError(
                    code: .invalidCall,
                    message: "Failed to launch container: the local cluster has no Docker containerizer (image '\(task.container.docker.image)')"
                )
            default:
                if task.container.mesos.hasImage {
                    throw MesosError(
                        code: .invalidCall,
                        message: "Failed to launch container: the local cluster cannot provision container images"
                    )
                }
            }
        }
        var environment = self.configuration.taskEnvironment ?? ProcessInfo.processInfo.environment
        environment["MESOS_SANDBOX"] = sandbox
        environment["MESOS_DIRECTORY"] = sandbox
        environment["MESOS_TASK_ID"] = task.taskID.value
        environment["MESOS_EXECUTOR_ID"] = task.taskID.value
        environment["MESOS_FRAMEWORK_ID"] = frameworkID.value
        environment["MESOS_AGENT_ID"] = agentID.value
        environment["MESOS_SLAVE_ID"] = agentID.value
        environment["PWD"] = sandbox
        for variable in task.command.environment.variables {
            switch variable.type {
            case .secret:
                guard variable.secret.hasValue else {
                    throw MesosError(
                        code: .invalidCall,
                        message: "Secret references (variable \(variable.name)) are not supported by the local cluster"
                    )
                }
                environment[variable.name] = String(decoding: variable.secret.value.data, as: UTF8.self)
            default:
                environment[variable.name] = variable.value
            }
        }
        let command = task.command
        if command.shell {
            return CommandSpec(executable: "/bin/sh", arguments: ["sh", "-c", command.value], environment: environment, workingDirectory: sandbox)
        }
        let arguments = command.arguments.isEmpty ? [command.value] : command.arguments
        return CommandSpec(executable: command.value, arguments: arguments, environment: environment, workingDirectory: sandbox)
    }

    private func taskOutput(_ key: String, _ taskID: String, job: Job, stream: TaskOutputChunk.Stream, bytes: [UInt8]) {
        self.state.withLock { state in
            guard state.frameworks[key]?.tasks[taskID] != nil else { return }
            switch stream {
            case .stdout: Self.appendTail(bytes, to: &state.frameworks[key]!.tasks[taskID]!.stdout)
            case .stderr: Self.appendTail(bytes, to: &state.frameworks[key]!.tasks[taskID]!.stderr)
            }
        }
        self.configuration.output?(TaskOutputChunk(
            frameworkID: job.frameworkID, taskID: job.info.taskID, agentID: job.agentID, stream: stream, bytes: bytes))
    }

    /// Reports the end of a task's process as Mesos's command executor does.
    private func taskExited(_ key: String, _ taskID: String, process: TaskProcess, termination: ProcessTermination) {
        let killed = process.wasKillRequested
        switch termination {
        case .exited(let code):
            let state: TaskState = killed ? .taskKilled : (code == 0 ? .taskFinished : .taskFailed)
            self.report(key, taskID, state: state, message: "Command exited with status \(code)", source: .executor)
        case .signaled(let signal):
            let name = strsignal(signal).map { String(cString: $0) } ?? "signal \(signal)"
            self.report(key, taskID, state: killed ? .taskKilled : .taskFailed, message: "Command terminated with signal \(name)",
                        source: .executor)
        }
    }

    /// Records a state change reported by an agent or executor.
    private func report(
        _ key: String,
        _ taskID: String,
        state taskState: TaskState,
        message: String,
        source: TaskStatus.Source,
        reason: TaskStatus.Reason? = nil,
        pid: Int32? = nil
    ) {
        self.state.withLock { state in
            guard let framework = state.frameworks[key], let task = framework.tasks[taskID] else { return }
            var status = self.agentStatus(task, framework: framework, agents: state.agents, state: taskState, message: message, source: source)
            if let reason { status.reason = reason }
            if let pid { status.containerStatus.executorPid = UInt32(pid) }
            self.apply(status, frameworkKey: key, taskID: taskID, state: &state)
        }
    }

    /// An update from an agent or executor: it carries a uuid and must be acknowledged.
    func agentStatus(
        _ task: TaskRecord,
        framework: FrameworkRecord,
        agents: [AgentRecord],
        state: TaskState,
        message: String,
        source: TaskStatus.Source
    ) -> TaskStatus {
        var status = TaskStatus()
        status.taskID = task.info.taskID
        status.state = state
        if !message.isEmpty { status.message = message }
        status.source = source
        status.agentID = agents[task.agentIndex].id
        if source == .executor {
            status.executorID = ExecutorID(task.info.taskID.value)
        }
        status.timestamp = Self.now()
        status.uuid = Self.randomUUID()
        return status
    }

    /// Applies a new status: the task's state, its resources once it is done, and the update queue.
    func apply(_ status: TaskStatus, frameworkKey key: String, taskID: String, state: inout State) {
        guard var framework = state.frameworks[key], var task = framework.tasks[taskID] else { return }
        let previous = task.state
        task.state = status.state
        task.latest = status
        var freed = false
        if status.state.isTerminal, !task.resourcesReleased {
            task.resourcesReleased = true
            state.agents[task.agentIndex].used -= task.resources
            freed = true
        }
        self.logger.debug("Task state", metadata: ["mesos.task_id": "\(taskID)", "mesos.state": "\(status.state)"])
        if framework.isRemoved {
            framework.tasks[taskID] = task
            state.frameworks[key] = framework
            self.publishTaskUpdated(status, previous: previous, frameworkKey: key, state: &state)
            if status.state.isTerminal {
                self.complete(taskID, frameworkKey: key, state: &state)
            }
        } else {
            task.pending.append(status)
            framework.tasks[taskID] = task
            state.frameworks[key] = framework
            self.publishTaskUpdated(status, previous: previous, frameworkKey: key, state: &state)
            if task.pending.count == 1 {
                self.forwardPendingUpdates(frameworkKey: key, state: &state)
            }
        }
        if freed {
            self.allocate(state: &state)
        }
    }

    /// Sends, for every task of the framework, the oldest unacknowledged update that was not sent recently.
    func forwardPendingUpdates(frameworkKey key: String, state: inout State) {
        guard var framework = state.frameworks[key], let connection = framework.connection else { return }
        let now = self.clock.now
        for taskID in framework.taskOrder {
            guard var task = framework.tasks[taskID], let head = task.pending.first else { continue }
            if let sent = task.lastSent, now - sent < self.configuration.statusUpdateRetryInterval { continue }
            connection.send(.update(head))
            task.lastSent = now
            framework.tasks[taskID] = task
        }
        state.frameworks[key] = framework
    }

    /// Moves a task whose last update was acknowledged to the completed list.
    func complete(_ taskID: String, frameworkKey key: String, state: inout State) {
        guard var framework = state.frameworks[key], let task = framework.tasks.removeValue(forKey: taskID) else { return }
        framework.taskOrder.removeAll { $0 == taskID }
        framework.completed.append(task)
        if framework.completed.count > Self.completedTaskLimit {
            framework.completed.removeFirst(framework.completed.count - Self.completedTaskLimit)
        }
        state.frameworks[key] = framework
    }
}
