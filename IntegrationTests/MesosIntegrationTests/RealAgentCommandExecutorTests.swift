import Foundation
import MesosCore
import MesosCurlTransport
import MesosScheduler
import MesosTestKit
import Synchronization
import Testing

/// The executor master (`$MESOS_EXECUTOR_MASTER_URL`): a real Mesos 1.11 master whose agent runs this package's
/// `mesos-command-executor` for every command task (`scripts/test.sh` starts it with `MESOS_LAUNCHER_DIR` pointing
/// at a directory that holds the built executor as `mesos-executor`).
enum ExecutorMaster {
    /// The variable naming the executor master.
    static let variable = "MESOS_EXECUTOR_MASTER_URL"

    /// Whether the tests that need it run: with the variable set, or always when `MESOS_REQUIRE_SERVERS=1` (they
    /// then fail in ``baseURL()``).
    static var shouldRun: Bool { TestServers.shouldRun(needing: "MESOS_EXECUTOR_MASTER_URL") }

    /// The base URL, e.g. `http://127.0.0.1:5153`, without a trailing slash.
    static func baseURL() throws -> String {
        let url = try TestServers.value(Self.variable)
        return url.hasSuffix("/") ? String(url.dropLast()) : url
    }

    /// A scheduler for the executor master; `killingState` adds the `TASK_KILLING_STATE` capability.
    static func scheduler(_ name: String, killingState: Bool = false) throws -> MesosScheduler {
        let url = try #require(URL(string: try Self.baseURL()))
        var info = RealMaster.frameworkInfo(name: name)
        if killingState {
            var capability = FrameworkInfo.Capability()
            capability.type = .taskKillingState
            info.capabilities.append(capability)
        }
        let configuration = MesosSchedulerConfiguration(
            frameworkInfo: info,
            master: .fixed(MasterLocation(host: url.host ?? "127.0.0.1", port: url.port ?? 5153)),
            transport: MesosCurlTransport(configuration: .init())
        )
        return MesosScheduler(configuration: configuration)
    }
}

/// One update as the scheduler saw it, and when.
struct ObservedStatus: Sendable {
    var status: TaskStatus
    var at: ContinuousClock.Instant
}

/// The real agent runs this package's command executor (`mesos-command-executor`) for command tasks: the task
/// lifecycle, kills and their grace periods, health checks (which the realmesos Python stand-in ignores),
/// the sandbox output files and SHUTDOWN, all through the real master and agent.
@Suite("Real agent: mesos-command-executor runs the command tasks",
       .enabled(if: ExecutorMaster.shouldRun, "needs MESOS_EXECUTOR_MASTER_URL (scripts/test.sh starts one)"),
       .serialized, .timeLimit(.minutes(3)))
struct RealAgentCommandExecutorTests {
    /// A shell command task on `offer`'s agent: cpus 0.1, mem 32, and the given ports.
    static func commandTask(_ command: String, offer: Offer, ports: [UInt64] = []) -> TaskInfo {
        var task = TaskInfo()
        let id = "it-exec-\(UUID().uuidString.prefix(8))"
        task.name = id
        task.taskID = TaskID(id)
        task.agentID = offer.agentID
        task.resources = [.scalar("cpus", 0.1, role: "*"), .scalar("mem", 32, role: "*")]
        if !ports.isEmpty {
            task.resources.append(.ranges("ports", ports.map { $0...$0 }, role: "*"))
        }
        task.command.shell = true
        task.command.value = command
        return task
    }

    /// A port from the offer's `ports` resource, somewhere in its first range.
    static func port(in offer: Offer) throws -> UInt64 {
        let ports = try #require(offer.resources.first { $0.name == "ports" && !$0.ranges.range.isEmpty })
        let range = ports.ranges.range[0]
        return range.begin + UInt64.random(in: 0...min(200, range.end - range.begin))
    }

    /// Launches the task `makeTask` builds from the first offer that holds 0.1 cpus and 32 MB, and returns every update
    /// of it until a terminal one. `onStatus` sees each update as it comes (to kill the task, say).
    static func run(
        on scheduler: MesosScheduler,
        events: SchedulerEventStream,
        makeTask: (Offer) throws -> TaskInfo,
        onStatus: (TaskStatus) async throws -> Void = { _ in }
    ) async throws -> [ObservedStatus] {
        var taskID: TaskID?
        var observed: [ObservedStatus] = []
        for try await event in events {
            switch event {
            case .offers(let offers):
                // Another suite's tasks may have left an agent too little for this one's 0.1 cpus and 32 MB.
                guard taskID == nil, let offer = offers.first(where: { $0.holds(cpus: 0.1, mem: 32) }) else {
                    if !offers.isEmpty { try await scheduler.decline(offers.map(\.id), filters: .refuse(seconds: 1)) }
                    continue
                }
                let task = try makeTask(offer)
                taskID = task.taskID
                try await scheduler.accept(offer, operations: [.launch([task])], filters: .refuse(seconds: 1))
                let others = offers.filter { $0.id != offer.id }
                if !others.isEmpty { try await scheduler.decline(others.map(\.id)) }
            case .update(let status) where status.taskID == taskID:
                observed.append(ObservedStatus(status: status, at: .now))
                try await onStatus(status)
                if status.state.isTerminal { return observed }
            default:
                continue
            }
        }
        return observed
    }

    /// Runs one task on a scheduler of its own and tears the framework down.
    static func runTask(
        _ name: String,
        killingState: Bool = false,
        makeTask: @escaping @Sendable (Offer) throws -> TaskInfo,
        onStatus: @escaping @Sendable (MesosScheduler, TaskStatus) async throws -> Void = { _, _ in }
    ) async throws -> [ObservedStatus] {
        let scheduler = try ExecutorMaster.scheduler(name, killingState: killingState)
        return try await scheduler.withSubscription { events in
            let observed = try await Self.run(on: scheduler, events: events, makeTask: makeTask) { status in
                try await onStatus(scheduler, status)
            }
            try await scheduler.teardown()
            return observed
        }
    }

    /// Waits until `path` exists (the task says it is ready), for at most `timeout`.
    static func waitForFile(_ path: String, timeout: Duration = .seconds(20)) async throws {
        let deadline = ContinuousClock.now + timeout
        while !FileManager.default.fileExists(atPath: path) {
            guard ContinuousClock.now < deadline else {
                Issue.record("the task did not create \(path) within \(timeout)")
                return
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Whether `pid` is a live process (a zombie counts as gone).
    static func isAlive(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return false }
        guard let close = stat.lastIndex(of: ")") else { return false }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.first != "Z"
    }

    static func temporaryPath(_ label: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("swift-mesos-\(label)-\(UUID().uuidString)").path
    }

    // MARK: Lifecycle

    @Test("a command task runs in its sandbox with its environment; its output lands in the sandbox's stdout; TASK_FINISHED")
    func echoFinishes() async throws {
        // The command checks what only this executor does on the realmesos agent: the task's output goes to
        // $MESOS_SANDBOX/stdout (the Python stand-in leaves it in the master's log).
        let command = #"echo "hi from $GREETING" && grep -qx 'hi from the test' "$MESOS_SANDBOX/stdout" && [ "$PWD" = "$MESOS_SANDBOX" ]"#
        let observed = try await Self.runTask("it-exec-echo") { offer in
            var task = Self.commandTask(command, offer: offer)
            var variable = Environment.Variable()
            variable.name = "GREETING"
            variable.value = "the test"
            task.command.environment.variables = [variable]
            return task
        }
        let statuses = observed.map(\.status)
        #expect(statuses.map(\.state) == [.taskStarting, .taskRunning, .taskFinished])
        #expect(statuses.last?.message == "Command exited with status 0")
        #expect(statuses.allSatisfy { $0.source == .executor && $0.needsAcknowledgement })
    }

    @Test("exit 3 → TASK_FAILED: Command exited with status 3")
    func exitThreeFails() async throws {
        let observed = try await Self.runTask("it-exec-fail") { Self.commandTask("exit 3", offer: $0) }
        #expect(observed.map(\.status.state) == [.taskStarting, .taskRunning, .taskFailed])
        #expect(observed.last?.status.message == "Command exited with status 3")
    }

    // MARK: Kills

    @Test("KILL of a task that honours SIGTERM: TASK_KILLING, then TASK_KILLED by SIGTERM, well within the grace period")
    func killHonouringTerm() async throws {
        let killedAt = KillClock()
        let observed = try await Self.runTask("it-exec-kill-term", killingState: true) { offer in
            var task = Self.commandTask("sleep 60", offer: offer)
            task.killPolicy.gracePeriod.nanoseconds = 20_000_000_000
            return task
        } onStatus: { scheduler, status in
            guard status.state == .taskRunning else { return }
            killedAt.mark()
            try await scheduler.kill(status.taskID, agentID: status.agentID)
        }
        #expect(observed.map(\.status.state) == [.taskStarting, .taskRunning, .taskKilling, .taskKilled])
        let last = try #require(observed.last)
        // SIGTERM ended it: a SIGKILL after the 20 s grace period would say "signal Killed".
        #expect(last.status.message == "Command terminated with signal Terminated")
        #expect(killedAt.instant != nil)
    }

    @Test("KILL of a task that ignores SIGTERM, kill policy grace 1 s: SIGKILL after the grace period, TASK_KILLED")
    func killIgnoringTerm() async throws {
        let ready = Self.temporaryPath("trap-ready")
        defer { try? FileManager.default.removeItem(atPath: ready) }
        let killedAt = KillClock()
        let observed = try await Self.runTask("it-exec-kill-trap") { offer in
            // Ignored signals stay ignored across exec: the sleeps ignore SIGTERM too.
            var task = Self.commandTask("trap '' TERM; touch '\(ready)'; while :; do sleep 0.2; done", offer: offer)
            task.killPolicy.gracePeriod.nanoseconds = 1_000_000_000
            return task
        } onStatus: { scheduler, status in
            guard status.state == .taskRunning else { return }
            try await Self.waitForFile(ready)
            killedAt.mark()
            try await scheduler.kill(status.taskID, agentID: status.agentID)
        }
        #expect(observed.map(\.status.state) == [.taskStarting, .taskRunning, .taskKilled])
        let last = try #require(observed.last)
        #expect(last.status.message == "Command terminated with signal Killed")
        let elapsed = last.at - (try #require(killedAt.instant))
        #expect(elapsed >= .seconds(1), "SIGKILL must wait for the task's 1 s grace period: \(elapsed)")
    }

    @Test("KILL with the KILL's own kill policy (grace 0.5 s) overrides the task's 600 s")
    func killPolicyOfTheKill() async throws {
        let ready = Self.temporaryPath("trap-ready")
        defer { try? FileManager.default.removeItem(atPath: ready) }
        let killedAt = KillClock()
        let observed = try await Self.runTask("it-exec-kill-policy") { offer in
            var task = Self.commandTask("trap '' TERM; touch '\(ready)'; while :; do sleep 0.2; done", offer: offer)
            task.killPolicy.gracePeriod.nanoseconds = 600_000_000_000
            return task
        } onStatus: { scheduler, status in
            guard status.state == .taskRunning else { return }
            try await Self.waitForFile(ready)
            var policy = KillPolicy()
            policy.gracePeriod.nanoseconds = 500_000_000
            killedAt.mark()
            try await scheduler.kill(status.taskID, agentID: status.agentID, killPolicy: policy)
        }
        let last = try #require(observed.last)
        #expect(last.status.state == .taskKilled)
        #expect(last.status.message == "Command terminated with signal Killed")
        let elapsed = last.at - (try #require(killedAt.instant))
        #expect(elapsed >= .milliseconds(500), "\(elapsed)")
        // The task's own grace is 600 s: far beyond any delay of a loaded machine.
        #expect(elapsed < .seconds(120), "the KILL's 0.5 s grace, not the task's 600 s: \(elapsed)")
    }

    @Test("teardown (SHUTDOWN): the task's process and the executor both end; the executor is mesos-command-executor")
    func shutdownEndsTaskAndExecutor() async throws {
        let pidFile = Self.temporaryPath("pids")
        defer { try? FileManager.default.removeItem(atPath: pidFile) }
        let scheduler = try ExecutorMaster.scheduler("it-exec-shutdown")
        let pids: (task: Int32, executor: Int32) = try await scheduler.withSubscription { events in
            var pids: (task: Int32, executor: Int32)?
            for try await event in events {
                switch event {
                case .offers(let offers):
                    guard pids == nil else {
                        try await scheduler.decline(offers.map(\.id))
                        continue
                    }
                    let task = Self.commandTask("echo $$ $PPID > '\(pidFile).tmp' && mv '\(pidFile).tmp' '\(pidFile)' && exec sleep 60", offer: offers[0])
                    try await scheduler.accept(offers[0], operations: [.launch([task])])
                case .update(let status) where status.state == .taskRunning:
                    try await Self.waitForFile(pidFile)
                    let words = try String(contentsOfFile: pidFile, encoding: .utf8).split(separator: " ")
                    try #require(words.count == 2)
                    pids = (try #require(Int32(words[0])), try #require(Int32(words[1].trimmingCharacters(in: .whitespacesAndNewlines))))
                default:
                    continue
                }
                if pids != nil { break }
            }
            let found = try #require(pids)
            // The task's parent is the executor the agent started: this package's, not realmesos's stand-in.
            let executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(found.executor)/exe")
            #expect(URL(fileURLWithPath: executable).lastPathComponent == "mesos-command-executor")
            // TEARDOWN: the agent sends the executor SHUTDOWN.
            try await scheduler.teardown()
            return found
        }
        // Mesos's default executor shutdown grace period is 5 s: the task gets SIGTERM at once and SIGKILL after
        // 3 s; the executor exits after the task ended.
        let deadline = ContinuousClock.now + .seconds(20)
        while Self.isAlive(pids.task) || Self.isAlive(pids.executor), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(!Self.isAlive(pids.task), "the task's process \(pids.task) outlived the SHUTDOWN")
        #expect(!Self.isAlive(pids.executor), "the executor \(pids.executor) outlived the SHUTDOWN")
    }

    // MARK: Health checks

    /// A COMMAND health check with no delay or grace period.
    static func commandHealthCheck(_ command: String, interval: Double, consecutiveFailures: UInt32) -> HealthCheck {
        var check = HealthCheck()
        check.type = .command
        check.command.shell = true
        check.command.value = command
        check.delaySeconds = 0
        check.intervalSeconds = interval
        check.timeoutSeconds = 10
        check.gracePeriodSeconds = 0
        check.consecutiveFailures = consecutiveFailures
        return check
    }

    @Test("a passing COMMAND health check: TASK_RUNNING with healthy true (the stand-in ignores health checks)")
    func passingHealthCheck() async throws {
        let observed = try await Self.runTask("it-exec-healthy") { offer in
            // 30 s: an executor that ignores health checks lets it finish, and the test fails instead of hanging.
            var task = Self.commandTask("sleep 30", offer: offer)
            task.healthCheck = Self.commandHealthCheck(#"[ -d "$MESOS_SANDBOX" ]"#, interval: 0.2, consecutiveFailures: 3)
            return task
        } onStatus: { scheduler, status in
            if status.state == .taskRunning, status.hasHealthy {
                try await scheduler.kill(status.taskID, agentID: status.agentID)
            }
        }
        let health = observed.map(\.status).filter { $0.state == .taskRunning && $0.hasHealthy }
        #expect(health.count == 1)
        #expect(health.first?.healthy == true)
        #expect(health.first?.reason == .taskHealthCheckStatusUpdated)
        #expect(observed.last?.status.state == .taskKilled)
    }

    @Test("a failing COMMAND health check (false, 2 consecutive failures): unhealthy updates, then TASK_KILLED, healthy false")
    func failingHealthCheckKills() async throws {
        let observed = try await Self.runTask("it-exec-unhealthy") { offer in
            var task = Self.commandTask("sleep 30", offer: offer)
            task.healthCheck = Self.commandHealthCheck("false", interval: 0.2, consecutiveFailures: 2)
            task.killPolicy.gracePeriod.nanoseconds = 2_000_000_000
            return task
        }
        let statuses = observed.map(\.status)
        let health = statuses.filter { $0.state == .taskRunning && $0.hasHealthy }
        #expect(health.count == 2)
        #expect(health.allSatisfy { !$0.healthy && $0.reason == .taskHealthCheckStatusUpdated })
        let last = try #require(statuses.last)
        #expect(last.state == .taskKilled)
        #expect(last.hasHealthy && !last.healthy)
        #expect(last.reason == .taskHealthCheckStatusUpdated)
        #expect(last.message == "Command terminated with signal Terminated")
    }

    enum NetworkCheck: String, CaseIterable, Sendable {
        case http
        case tcp
    }

    @Test("an HTTP or TCP health check against a server the task runs on an offered port: healthy true",
          arguments: NetworkCheck.allCases)
    func networkHealthCheck(kind: NetworkCheck) async throws {
        let observed = try await Self.runTask("it-exec-\(kind.rawValue)") { offer in
            let port = try Self.port(in: offer)
            var task = Self.commandTask("exec timeout 30 python3 -m http.server \(port) --bind 127.0.0.1", offer: offer, ports: [port])
            var check = HealthCheck()
            switch kind {
            case .http:
                check.type = .http
                check.http.port = UInt32(port)
                check.http.path = "/"
            case .tcp:
                check.type = .tcp
                check.tcp.port = UInt32(port)
            }
            check.delaySeconds = 0
            check.intervalSeconds = 0.2
            check.timeoutSeconds = 5
            // The server needs a moment to listen: failures until the first pass are ignored for 20 s.
            check.gracePeriodSeconds = 20
            check.consecutiveFailures = 3
            task.healthCheck = check
            return task
        } onStatus: { scheduler, status in
            if status.state == .taskRunning, status.hasHealthy {
                try await scheduler.kill(status.taskID, agentID: status.agentID)
            }
        }
        let health = observed.map(\.status).filter { $0.state == .taskRunning && $0.hasHealthy }
        #expect(health.map(\.healthy) == [true])
        #expect(observed.last?.status.state == .taskKilled)
    }

    // MARK: A custom executor, through mesos-execute

    @Test("mesos-execute --executor echo-executor --message hello: the echo comes back, TASK_FINISHED, exit 0")
    func echoExecutorThroughTheTool() async throws {
        let executor = try #require(
            ToolProcess.locate("echo-executor", override: "ECHO_EXECUTOR_BINARY"),
            "build it with `swift build --product echo-executor` (swift build --build-tests builds it too)")
        let result = try await ToolProcess.run(
            ["--master", try ExecutorMaster.baseURL(), "--executor", executor.path, "--message", "hello"])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.contains("Message from executor: echo: hello"))
        #expect(lines.contains { $0.hasSuffix("TASK_FINISHED: echoed 'hello'") })
        #expect(lines.last?.hasPrefix("Task ") == true && lines.last?.contains("finished") == true)
    }

    @Test("mesos-execute on a real cluster prints the task's stdout and stderr, read from its sandbox through the operator API")
    func sandboxOutputThroughTheTool() async throws {
        let marker = "sandbox-\(UInt32.random(in: 0...UInt32.max))"
        let result = try await ToolProcess.run(
            ["--master", try ExecutorMaster.baseURL(), "--command", "echo out-\(marker); echo err-\(marker) >&2; exit 3"])
        #expect(result.status == 3, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n")
        let finished = try #require(lines.firstIndex { $0.contains("TASK_FAILED: Command exited with status 3") })
        let output = try #require(lines.firstIndex { $0 == "out-\(marker)" }, "\(result.stdout)")
        #expect(output > finished)
        #expect(result.stderr.split(separator: "\n").contains { $0 == "err-\(marker)" }, "\(result.stderr)")
    }
}

/// When the test sent its KILL, set from the update handler and read after the run.
final class KillClock: Sendable {
    private let value = Mutex<ContinuousClock.Instant?>(nil)

    func mark() {
        self.value.withLock { $0 = .now }
    }

    var instant: ContinuousClock.Instant? {
        self.value.withLock { $0 }
    }
}
