import Logging
import MesosCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs one `TaskInfo`'s command the way Mesos's built-in command executor does, and reports its life as
/// `TaskStatus` updates.
///
/// The lifecycle:
/// - ``run()`` reports `TASK_STARTING`, starts the command in a process group of its own (`/bin/sh -c value`
///   for a shell command, `value` with `arguments` as argv otherwise; the executor's environment with the
///   command's variables, `MESOS_SANDBOX` and `MESOS_ALLOCATION_ROLE` on top; the sandbox as working
///   directory), starts the health check, reports `TASK_RUNNING`, and waits for the command to end. The end is
///   `TASK_FINISHED` (exit 0), `TASK_FAILED` (`Command exited with status N` or
///   `Command terminated with signal <name>`) or `TASK_KILLED` after a kill. A task that cannot start (no
///   command, a bad health check, a user it cannot switch to, a failed spawn) ends in `TASK_FAILED` with the
///   reason as message.
/// - ``kill(gracePeriod:)`` (a KILL event) sends SIGTERM to the process group (`TASK_KILLING` first when
///   ``Configuration/sendsKillingState``), then SIGKILL after the grace period: the KILL's kill policy, else the
///   task's, else ``Configuration/defaultKillGracePeriod``. A later kill can only shorten the wait.
/// - The health check (`TaskInfo.health_check`: COMMAND, HTTP or TCP against 127.0.0.1) follows Mesos's rules
///   (``HealthCheckStateMachine``); results go out as `TASK_RUNNING` updates with `healthy` and reason
///   `REASON_TASK_HEALTH_CHECK_STATUS_UPDATED`, and reaching `consecutive_failures` kills the task, which then
///   ends in `TASK_KILLED` with `healthy: false` and that reason.
/// - `max_completion_time`: when it passes, the group gets SIGKILL at once and the task ends in `TASK_FAILED`
///   with `REASON_MAX_COMPLETION_TIME_REACHED`.
///
/// Every update fills `task_id`, `state`, `source` (`SOURCE_EXECUTOR`), and where they apply `message`,
/// `reason`, `healthy`, and `check_status` (only its `type`, when the task has a `check`). The executor library
/// adds `uuid`, `timestamp`, `executor_id` and must leave `agent_id` unset. Updates are delivered one at a
/// time, in order, to the `onStatus` closure; ``run()`` returns once the terminal one was delivered.
///
/// All timing (kill escalation, health-check delays, intervals, timeouts, grace periods, max completion time)
/// runs on the clock given to ``init(task:configuration:clock:logger:onStatus:)``.
///
/// ```swift
/// let runner = CommandTask(task: launch.task, configuration: .init(sendsKillingState: true)) { status in
///     try? await executor.update(status)
/// }
/// let terminal = await runner.run()          // meanwhile: await runner.kill(killPolicy: kill.killPolicy)
/// ```
public actor CommandTask {
    /// Why the task is being killed.
    private enum KillCause {
        case request
        case healthCheck
        case maxCompletionTime
    }

    private enum Phase {
        case pending
        case running(ChildProcess)
        case ended
    }

    private struct Killing {
        var start: Duration
        var deadline: Duration
        var escalation: Task<Void, Never>?
    }

    /// The task this runs.
    public nonisolated let task: TaskInfo
    private let configuration: Configuration
    private let time: TimeSource
    private let logger: Logger?
    private let onStatus: @Sendable (TaskStatus) async -> Void
    private let updates: AsyncStream<TaskStatus>
    private let updatesContinuation: AsyncStream<TaskStatus>.Continuation

    private var phase = Phase.pending
    private var runCalled = false
    private var killCause: KillCause?
    private var killing: Killing?
    private var healthChecker: Task<Void, Never>?
    private var completionTimer: Task<Void, Never>?
    private var terminalStatus: TaskStatus?

    /// Prepares to run `task`; nothing starts before ``run()``.
    ///
    /// - Parameters:
    ///   - task: The task (from a LAUNCH event).
    ///   - configuration: The executor's environment, sandbox and kill defaults.
    ///   - clock: The clock for every delay and timeout.
    ///   - logger: Where to log; `nil` logs nothing.
    ///   - onStatus: Receives each update, one at a time, in order (typically the executor library's
    ///     `update(_:)`).
    public init(
        task: TaskInfo,
        configuration: Configuration = Configuration(),
        clock: some Clock<Duration> = ContinuousClock(),
        logger: Logger? = nil,
        onStatus: @escaping @Sendable (TaskStatus) async -> Void
    ) {
        self.task = task
        self.configuration = configuration
        self.time = TimeSource(clock)
        self.logger = logger
        self.onStatus = onStatus
        (self.updates, self.updatesContinuation) = AsyncStream<TaskStatus>.makeStream()
    }

    /// The process id of the command (its process group id) while it runs.
    public var processID: Int32? {
        if case .running(let child) = self.phase { return child.pid }
        return nil
    }

    /// Checks that `task` can be run by a command executor: a command with a value, and a usable health check.
    ///
    /// - Parameter task: The task.
    /// - Throws: ``CommandTaskError`` saying what is wrong.
    public static func validate(_ task: TaskInfo) throws(CommandTaskError) {
        guard task.hasCommand, task.command.hasValue, !task.command.value.isEmpty else {
            throw CommandTaskError(.missingCommand, "Task '\(task.taskID.value)' has no command to run")
        }
        if task.hasHealthCheck {
            _ = try Self.probeSpec(task.healthCheck)
        }
    }

    /// Runs the task to its end: reports `TASK_STARTING`, `TASK_RUNNING`, health updates and the terminal
    /// update through `onStatus`, and returns once the terminal update was delivered.
    ///
    /// Cancelling the task that awaits `run()` kills the command at once (SIGKILL to its group); the run still
    /// reports `TASK_KILLED` and returns it.
    ///
    /// - Returns: The terminal update. A second call returns the first call's result without running anything
    ///   (or, while the first still runs, a `TASK_FAILED` that was not reported).
    public func run() async -> TaskStatus {
        guard !self.runCalled else {
            return self.terminalStatus ?? self.status(.taskFailed, message: "The task is already running")
        }
        self.runCalled = true
        let updates = self.updates
        let onStatus = self.onStatus
        let delivery = Task.detached {
            for await status in updates {
                await onStatus(status)
            }
        }
        let terminal = await self.execute()
        self.terminalStatus = terminal
        self.updatesContinuation.finish()
        await delivery.value
        return terminal
    }

    /// Kills the task (a KILL event): SIGTERM to the process group, SIGKILL after the grace period.
    ///
    /// The grace period is `gracePeriod`, else the task's `kill_policy`, else the configuration's default; zero
    /// sends SIGKILL at once. While a kill is under way, a new one can only bring the SIGKILL forward (to the
    /// first kill's start plus the new grace period, or now); a kill of an ended task does nothing; a kill
    /// before ``run()`` started the command makes it end in `TASK_KILLED` without starting.
    ///
    /// - Parameter gracePeriod: The KILL's own grace period, if it has a kill policy.
    public func kill(gracePeriod: Duration? = nil) {
        self.startKill(grace: gracePeriod ?? self.taskGracePeriod, cause: .request, reportKilling: true)
    }

    /// Kills the task with the grace period of a KILL event's `kill_policy` (see ``kill(gracePeriod:)``).
    ///
    /// - Parameter killPolicy: The KILL's kill policy, if it has one.
    public func kill(killPolicy: KillPolicy?) {
        let grace = killPolicy.flatMap { $0.hasGracePeriod ? Duration.nanoseconds($0.gracePeriod.nanoseconds) : nil }
        self.kill(gracePeriod: grace.map { max(.zero, $0) })
    }

    /// Kills the task for an executor SHUTDOWN, with Mesos's grace period for it
    /// (``Configuration/shutdownKillGracePeriod(executorShutdownGracePeriod:)``).
    ///
    /// - Parameter executorShutdownGracePeriod: `MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD`.
    public func shutdown(executorShutdownGracePeriod: Duration) {
        let grace = Configuration.shutdownKillGracePeriod(executorShutdownGracePeriod: executorShutdownGracePeriod)
        self.startKill(grace: grace, cause: .request, reportKilling: true)
    }

    // MARK: - The run

    private func execute() async -> TaskStatus {
        if self.killCause != nil {
            self.phase = .ended
            return self.emit(self.status(.taskKilled, message: "Task was killed before its command started"))
        }
        self.emit(self.status(.taskStarting))
        let plan: LaunchPlan
        var probe: HealthProbe?
        do {
            try Self.validate(self.task)
            plan = try CommandLaunch.plan(
                for: self.task.command,
                base: self.configuration.environment,
                extra: self.extraEnvironment,
                workingDirectory: self.configuration.sandboxDirectory,
                output: self.taskOutput
            )
            if self.task.hasHealthCheck {
                probe = try self.makeProbe(self.task.healthCheck)
            }
        } catch {
            self.phase = .ended
            self.logger?.error("Cannot run task", metadata: ["mesos.task_id": "\(self.task.taskID.value)", "error": "\(error)"])
            return self.emit(self.status(.taskFailed, message: error.message, reason: .commandExecutorFailed))
        }
        let child: ChildProcess
        switch ChildProcess.spawn(plan) {
        case .failure(let failure):
            self.phase = .ended
            self.logger?.error("Cannot start task", metadata: ["mesos.task_id": "\(self.task.taskID.value)", "error": "\(failure.message)"])
            return self.emit(self.status(.taskFailed, message: failure.message, reason: .commandExecutorFailed))
        case .success(let started):
            child = started
        }
        self.phase = .running(child)
        self.logger?.info("Started task", metadata: ["mesos.task_id": "\(self.task.taskID.value)", "pid": "\(child.pid)"])
        if self.task.hasMaxCompletionTime {
            self.startCompletionTimer(Duration.nanoseconds(max(0, self.task.maxCompletionTime.nanoseconds)))
        }
        if let probe {
            self.startHealthChecks(probe, policy: HealthCheckPolicy(self.task.healthCheck))
        }
        self.emit(self.status(.taskRunning))

        let termination = await withTaskCancellationHandler {
            await child.termination()
        } onCancel: {
            Task { await self.kill(gracePeriod: .zero) }
        }
        self.phase = .ended
        self.healthChecker?.cancel()
        self.healthChecker = nil
        self.completionTimer?.cancel()
        self.completionTimer = nil
        self.killing?.escalation?.cancel()
        self.logger?.info(
            "Task command ended",
            metadata: ["mesos.task_id": "\(self.task.taskID.value)", "termination": "\(termination)"]
        )
        let message = termination.commandMessage
        switch self.killCause {
        case .maxCompletionTime:
            return self.emit(self.status(.taskFailed, message: message, reason: .maxCompletionTimeReached))
        case .healthCheck:
            return self.emit(
                self.status(.taskKilled, message: message, reason: .taskHealthCheckStatusUpdated, healthy: false)
            )
        case .request:
            return self.emit(self.status(.taskKilled, message: message))
        case nil:
            return self.emit(self.status(termination.succeeded ? .taskFinished : .taskFailed, message: message))
        }
    }

    /// `MESOS_SANDBOX` and `MESOS_ALLOCATION_ROLE` for the task.
    private var extraEnvironment: [String: String] {
        var extra: [String: String] = [:]
        if let sandbox = self.configuration.sandboxDirectory {
            extra["MESOS_SANDBOX"] = sandbox
        }
        if let first = self.task.resources.first, first.hasAllocationInfo, first.allocationInfo.hasRole {
            extra["MESOS_ALLOCATION_ROLE"] = first.allocationInfo.role
        }
        return extra
    }

    private var taskOutput: LaunchPlan.Output {
        switch self.configuration.output {
        case .inherit:
            return .inherit
        case .sandboxFiles:
            let prefix = self.configuration.sandboxDirectory.map { $0.hasSuffix("/") ? $0 : $0 + "/" } ?? ""
            return .files(stdout: prefix + "stdout", stderr: prefix + "stderr")
        }
    }

    private var taskGracePeriod: Duration {
        if self.task.hasKillPolicy, self.task.killPolicy.hasGracePeriod {
            return max(.zero, .nanoseconds(self.task.killPolicy.gracePeriod.nanoseconds))
        }
        return self.configuration.defaultKillGracePeriod
    }

    // MARK: - Kills

    private func startKill(grace: Duration, cause: KillCause, reportKilling: Bool) {
        switch self.phase {
        case .ended:
            return
        case .pending:
            self.killCause = self.killCause ?? cause
            return
        case .running(let child):
            let now = self.time.now()
            if var killing = self.killing {
                let deadline = max(now, killing.start + grace)
                guard deadline < killing.deadline else { return }
                killing.escalation?.cancel()
                killing.deadline = deadline
                killing.escalation = self.scheduleEscalation(of: child, at: deadline)
                self.killing = killing
                self.logger?.info("Kill grace period shortened", metadata: ["mesos.task_id": "\(self.task.taskID.value)"])
                return
            }
            self.killCause = cause
            self.healthChecker?.cancel()
            self.healthChecker = nil
            if reportKilling, self.configuration.sendsKillingState {
                self.emit(self.status(.taskKilling))
            }
            self.logger?.info(
                "Killing task",
                metadata: ["mesos.task_id": "\(self.task.taskID.value)", "grace_period": "\(grace)"]
            )
            if grace <= .zero {
                child.signalGroup(SIGKILL)
                self.killing = Killing(start: now, deadline: now, escalation: nil)
            } else {
                child.signalGroup(SIGTERM)
                let deadline = now + grace
                self.killing = Killing(start: now, deadline: deadline, escalation: self.scheduleEscalation(of: child, at: deadline))
            }
        }
    }

    private func scheduleEscalation(of child: ChildProcess, at deadline: Duration) -> Task<Void, Never> {
        let time = self.time
        let logger = self.logger
        return Task.detached {
            do {
                try await time.sleepUntil(deadline)
            } catch {
                return
            }
            if child.signalGroup(SIGKILL) {
                logger?.info("Grace period over: sent SIGKILL", metadata: ["pid": "\(child.pid)"])
            }
        }
    }

    private func startCompletionTimer(_ limit: Duration) {
        let time = self.time
        let deadline = time.now() + limit
        self.completionTimer = Task.detached { [self] in
            do {
                try await time.sleepUntil(deadline)
            } catch {
                return
            }
            await self.completionTimeReached()
        }
    }

    private func completionTimeReached() {
        guard self.killing == nil else { return }
        self.startKill(grace: .zero, cause: .maxCompletionTime, reportKilling: false)
    }

    // MARK: - Health checks

    private func startHealthChecks(_ probe: HealthProbe, policy: HealthCheckPolicy) {
        let time = self.time
        self.healthChecker = Task.detached { [self] in
            var machine = HealthCheckStateMachine(policy: policy, startedAt: time.now())
            do {
                try await time.sleep(for: policy.delay)
            } catch {
                return
            }
            while !Task.isCancelled {
                let outcome = await Self.runProbe(probe, timeout: policy.timeout, time: time)
                if Task.isCancelled { return }
                if let report = machine.record(passed: outcome.passed, at: time.now()) {
                    await self.healthReported(report, outcome: outcome)
                }
                do {
                    try await time.sleep(for: policy.interval)
                } catch {
                    return
                }
            }
        }
    }

    /// Runs the probe, failing it when `timeout` passes first (the probe is then aborted).
    private static func runProbe(_ probe: HealthProbe, timeout: Duration?, time: TimeSource) async -> HealthProbe.Outcome {
        guard let timeout else { return await probe.run() }
        return await withTaskGroup(of: HealthProbe.Outcome?.self) { group in
            group.addTask { await probe.run() }
            group.addTask {
                do {
                    try await time.sleep(for: timeout)
                } catch {
                    return nil
                }
                return .failed("The check has not returned after \(timeout.inSeconds)s; aborting")
            }
            var result = HealthProbe.Outcome.failed("The check was cancelled")
            for await outcome in group {
                if let outcome {
                    result = outcome
                    break
                }
            }
            group.cancelAll()
            return result
        }
    }

    private func healthReported(_ report: HealthReport, outcome: HealthProbe.Outcome) {
        guard case .running = self.phase, self.killing == nil else { return }
        var metadata: Logger.Metadata = [
            "mesos.task_id": "\(self.task.taskID.value)",
            "healthy": "\(report.healthy)",
            "consecutive_failures": "\(report.consecutiveFailures)",
        ]
        if case .failed(let why) = outcome {
            metadata["reason"] = "\(why)"
        }
        self.logger?.info("Health changed", metadata: metadata)
        self.emit(self.status(.taskRunning, reason: .taskHealthCheckStatusUpdated, healthy: report.healthy))
        if report.killTask {
            self.startKill(grace: self.taskGracePeriod, cause: .healthCheck, reportKilling: true)
        }
    }

    private func makeProbe(_ check: HealthCheck) throws(CommandTaskError) -> HealthProbe {
        switch try Self.probeSpec(check) {
        case .command:
            var base = self.configuration.environment
            if let sandbox = self.configuration.sandboxDirectory {
                base["MESOS_SANDBOX"] = sandbox
            }
            let plan = try CommandLaunch.plan(
                for: check.command,
                base: base,
                extra: [:],
                workingDirectory: self.configuration.sandboxDirectory,
                output: .inherit
            )
            return .command(plan)
        case .tcp(let port):
            return .tcp(port: port)
        case .http(let port, let path, let statuses):
            return .http(port: port, path: path, statuses: statuses)
        }
    }

    private enum ProbeSpec {
        case command
        case tcp(UInt16)
        case http(UInt16, String, [UInt32])
    }

    /// Mesos's health-check validation, plus what this executor cannot do (https, IPv6).
    private static func probeSpec(_ check: HealthCheck) throws(CommandTaskError) -> ProbeSpec {
        func invalid(_ message: String) -> CommandTaskError {
            CommandTaskError(.invalidHealthCheck, message)
        }
        guard check.hasType else { throw invalid("HealthCheck must specify 'type'") }
        switch check.type {
        case .unknown:
            throw invalid("'UNKNOWN' is not a valid health check type")
        case .command:
            guard check.hasCommand else { throw invalid("Expecting 'command' to be set for command health check") }
            guard check.command.hasValue, !check.command.value.isEmpty else {
                throw invalid("Command health check must contain a command value")
            }
            return .command
        case .http:
            guard check.hasHTTP else { throw invalid("Expecting 'http' to be set for HTTP health check") }
            let http = check.http
            if http.hasScheme, http.scheme != "http" {
                if http.scheme == "https" {
                    throw invalid("HTTPS health checks are not supported by this executor")
                }
                throw invalid("Unsupported HTTP health check scheme: '\(http.scheme)'")
            }
            if http.hasPath, !http.path.hasPrefix("/") {
                throw invalid("The path '\(http.path)' of HTTP health check must start with '/'")
            }
            guard http.protocol != .ipv6 else { throw invalid("IPv6 health checks are not supported by this executor") }
            guard let port = UInt16(exactly: http.port), port > 0 else {
                throw invalid("HTTP health check port \(http.port) is not a valid port")
            }
            return .http(port, http.path, http.statuses)
        case .tcp:
            guard check.hasTcp else { throw invalid("Expecting 'tcp' to be set for TCP health check") }
            guard check.tcp.protocol != .ipv6 else { throw invalid("IPv6 health checks are not supported by this executor") }
            guard let port = UInt16(exactly: check.tcp.port), port > 0 else {
                throw invalid("TCP health check port \(check.tcp.port) is not a valid port")
            }
            return .tcp(port)
        }
    }

    // MARK: - Updates

    private func status(
        _ state: TaskState,
        message: String? = nil,
        reason: TaskStatus.Reason? = nil,
        healthy: Bool? = nil
    ) -> TaskStatus {
        var status = TaskStatus()
        status.taskID = self.task.taskID
        status.state = state
        status.source = .executor
        if let message { status.message = message }
        if let reason { status.reason = reason }
        if let healthy { status.healthy = healthy }
        if self.task.hasCheck {
            var checkStatus = CheckStatusInfo()
            checkStatus.type = self.task.check.type
            switch self.task.check.type {
            case .command: checkStatus.command = .init()
            case .http: checkStatus.http = .init()
            case .tcp: checkStatus.tcp = .init()
            case .unknown: break
            }
            status.checkStatus = checkStatus
        }
        return status
    }

    @discardableResult
    private func emit(_ status: TaskStatus) -> TaskStatus {
        self.updatesContinuation.yield(status)
        return status
    }
}
