import MesosCommandExecutor
import MesosCore
import MesosTestKit
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("CommandTask health checks on a manual clock", .timeLimit(.minutes(1)))
struct HealthCheckTests {
    /// A long-running task with `check`; the statuses land in the returned log.
    private func start(
        _ check: HealthCheck,
        sandbox: TemporaryDirectory,
        clock: ManualClock,
        killing: Bool = true
    ) -> (CommandTask, StatusLog, Task<TaskStatus, Never>) {
        var task = Tasks.shell("sleep 1000")
        task.healthCheck = check
        let log = StatusLog()
        let runner = CommandTask(task: task, configuration: configuration(sandbox, killing: killing), clock: clock, onStatus: log.sink)
        return (runner, log, Task { await runner.run() })
    }

    private func commandCheck(_ command: String, delay: Double = 1, interval: Double = 1, timeout: Double = 20, grace: Double = 0, failures: UInt32 = 3) -> HealthCheck {
        var check = Tasks.healthCheck(.command, delay: delay, interval: interval, timeout: timeout, grace: grace, failures: failures)
        check.command.value = command
        return check
    }

    @Test func passingCommandCheckReportsHealthyOnce() async {
        let sandbox = TemporaryDirectory()
        defer { sandbox.remove() }
        let clock = ManualClock()
        let (runner, log, run) = self.start(self.commandCheck("true"), sandbox: sandbox, clock: clock)
        #expect(await log.status(1).state == .taskRunning)
        await clock.waitForDeadline(.seconds(1))
        clock.advance(by: .seconds(1))
        let healthy = await log.status(2)
        #expect(healthy.state == .taskRunning)
        #expect(healthy.healthy == true)
        #expect(healthy.reason == .taskHealthCheckStatusUpdated)
        // Later passes change nothing: no more updates.
        for second in 2...4 {
            await clock.waitForDeadline(.seconds(Int64(second)))
            clock.advance(by: .seconds(1))
        }
        await clock.waitForDeadline(.seconds(5))
        #expect(log.all.count == 3)
        await runner.kill()
        #expect(await run.value.state == .taskKilled)
        #expect(log.states == [.taskStarting, .taskRunning, .taskRunning, .taskKilling, .taskKilled])
    }

    @Test func failingCommandCheckKillsTheTaskAfterConsecutiveFailures() async {
        let sandbox = TemporaryDirectory()
        defer { sandbox.remove() }
        let clock = ManualClock()
        let (_, log, run) = self.start(self.commandCheck("false", failures: 2), sandbox: sandbox, clock: clock)
        await clock.waitForDeadline(.seconds(1))
        clock.advance(by: .seconds(1))
        let first = await log.status(2)
        #expect(first.state == .taskRunning && first.healthy == false && first.reason == .taskHealthCheckStatusUpdated)
        await clock.waitForDeadline(.seconds(2))
        clock.advance(by: .seconds(1))
        let terminal = await run.value
        #expect(log.states == [.taskStarting, .taskRunning, .taskRunning, .taskRunning, .taskKilling, .taskKilled])
        #expect(log.all[3].healthy == false)
        #expect(terminal.state == .taskKilled)
        #expect(terminal.healthy == false)
        #expect(terminal.reason == .taskHealthCheckStatusUpdated)
        #expect(terminal.message == "Command terminated with signal Terminated")
    }

    @Test func failuresInTheGracePeriodAreIgnored() async {
        let sandbox = TemporaryDirectory()
        defer { sandbox.remove() }
        let clock = ManualClock()
        let check = self.commandCheck("false", delay: 1, interval: 2, grace: 5, failures: 1)
        let (_, log, run) = self.start(check, sandbox: sandbox, clock: clock)
        // Checks at 1, 3 and 5 s fail inside the 5 s grace period; the one at 7 s counts.
        for deadline in [1, 3, 5, 7] as [Int64] {
            await clock.waitForDeadline(.seconds(deadline))
            #expect(log.all.count == 2)
            clock.advance(by: .seconds(deadline) - clock.now.offset)
        }
        let unhealthy = await log.status(2)
        #expect(unhealthy.healthy == false)
        #expect(clock.now.offset == .seconds(7))
        #expect(await run.value.healthy == false)
    }

    @Test func commandCheckTimesOut() async {
        let sandbox = TemporaryDirectory()
        defer { sandbox.remove() }
        let clock = ManualClock()
        let (_, log, run) = self.start(self.commandCheck("sleep 1000", timeout: 2, failures: 1), sandbox: sandbox, clock: clock)
        await clock.waitForDeadline(.seconds(1))
        clock.advance(by: .seconds(1))
        await clock.waitForDeadline(.seconds(3))
        #expect(log.all.count == 2)
        clock.advance(by: .seconds(2))
        #expect(await log.status(2).healthy == false)
        #expect(await run.value.state == .taskKilled)
    }

    @Test func tcpCheckAgainstAListener() async {
        let sandbox = TemporaryDirectory()
        defer { sandbox.remove() }
        let server = LocalServer(.close)
        defer { server.stop() }
        var check = Tasks.healthCheck(.tcp)
        check.tcp.port = UInt32(server.port)
        let clock = ManualClock()
        let (runner, log, run) = self.start(check, sandbox: sandbox, clock: clock)
        await clock.waitForDeadline(.seconds(1))
        clock.advance(by: .seconds(1))
        #expect(await log.status(2).healthy == true)
        await runner.kill()
        _ = await run.value
    }

    @Test func tcpCheckAgainstAClosedPort() async {
        let sandbox = TemporaryDirectory()
        defer { sandbox.remove() }
        var check = Tasks.healthCheck(.tcp, failures: 1)
        check.tcp.port = UInt32(LocalServer.closedPort())
        let clock = ManualClock()
        let (_, log, run) = self.start(check, sandbox: sandbox, clock: clock)
        await clock.waitForDeadline(.seconds(1))
        clock.advance(by: .seconds(1))
        #expect(await log.status(2).healthy == false)
        let terminal = await run.value
        #expect(terminal.state == .taskKilled && terminal.healthy == false)
    }

    @Test(arguments: [
        (200, [UInt32](), true),
        (302, [], true),
        (503, [], false),
        (503, [200], false),
        (503, [200, 503], true),
        (200, [204], false),
    ])
    func httpCheckStatuses(code: Int, statuses: [UInt32], healthy: Bool) async {
        let sandbox = TemporaryDirectory()
        defer { sandbox.remove() }
        let server = LocalServer(.http(code))
        defer { server.stop() }
        var check = Tasks.healthCheck(.http, failures: 1)
        check.http.port = UInt32(server.port)
        check.http.path = "/health"
        check.http.statuses = statuses
        let clock = ManualClock()
        let (runner, log, run) = self.start(check, sandbox: sandbox, clock: clock)
        await clock.waitForDeadline(.seconds(1))
        clock.advance(by: .seconds(1))
        #expect(await log.status(2).healthy == healthy)
        await runner.kill()
        let terminal = await run.value
        #expect(terminal.state == .taskKilled)
        #expect(terminal.hasHealthy == !healthy)
    }

    @Test func httpCheckTimesOutAgainstASilentServer() async {
        let sandbox = TemporaryDirectory()
        defer { sandbox.remove() }
        let server = LocalServer(.silent)
        defer { server.stop() }
        var check = Tasks.healthCheck(.http, timeout: 3, failures: 1)
        check.http.port = UInt32(server.port)
        let clock = ManualClock()
        let (_, log, run) = self.start(check, sandbox: sandbox, clock: clock)
        await clock.waitForDeadline(.seconds(1))
        clock.advance(by: .seconds(1))
        await clock.waitForDeadline(.seconds(4))
        #expect(log.all.count == 2)
        clock.advance(by: .seconds(3))
        #expect(await log.status(2).healthy == false)
        #expect(await run.value.state == .taskKilled)
    }

    @Test func recoveryAfterAFailureIsReported() async {
        let sandbox = TemporaryDirectory()
        defer { sandbox.remove() }
        let clock = ManualClock()
        // Fails while the file "sick" exists.
        let check = self.commandCheck("test ! -e sick", failures: 3)
        let (runner, log, run) = self.start(check, sandbox: sandbox, clock: clock)
        let marker = fopen(sandbox.file("sick"), "w")
        fclose(marker)
        await clock.waitForDeadline(.seconds(1))
        clock.advance(by: .seconds(1))
        #expect(await log.status(2).healthy == false)
        unlink(sandbox.file("sick"))
        await clock.waitForDeadline(.seconds(2))
        clock.advance(by: .seconds(1))
        #expect(await log.status(3).healthy == true)
        await runner.kill()
        _ = await run.value
    }

    @Test func invalidHealthChecksFailTheTask() async {
        var https = Tasks.healthCheck(.http)
        https.http.scheme = "https"
        https.http.port = 443
        var badPath = Tasks.healthCheck(.http)
        badPath.http.path = "health"
        badPath.http.port = 80
        var noTCP = HealthCheck()
        noTCP.type = .tcp
        for check in [https, badPath, noTCP, HealthCheck()] {
            var task = Tasks.shell("true")
            task.healthCheck = check
            #expect(throws: CommandTaskError.self) { try CommandTask.validate(task) }
            let terminal = await CommandTask(task: task) { _ in }.run()
            #expect(terminal.state == .taskFailed)
        }
    }
}

@Suite("HealthCheckStateMachine")
struct HealthCheckStateMachineTests {
    private func machine(grace: Double, failures: UInt32) -> HealthCheckStateMachine {
        HealthCheckStateMachine(policy: HealthCheckPolicy(Tasks.healthCheck(.tcp, grace: grace, failures: failures)), startedAt: .seconds(10))
    }

    @Test func defaultsAreMesoss() {
        var check = HealthCheck()
        check.type = .tcp
        let policy = HealthCheckPolicy(check)
        #expect(policy.delay == .seconds(15))
        #expect(policy.interval == .seconds(10))
        #expect(policy.timeout == .seconds(20))
        #expect(policy.gracePeriod == .seconds(10))
        #expect(policy.consecutiveFailures == 3)
        check.timeoutSeconds = 0
        #expect(HealthCheckPolicy(check).timeout == nil)
    }

    @Test func firstPassAndPassAfterFailuresAreReported() {
        var machine = self.machine(grace: 0, failures: 3)
        #expect(machine.record(passed: true, at: .seconds(11)) == HealthReport(healthy: true, consecutiveFailures: 0, killTask: false))
        #expect(machine.record(passed: true, at: .seconds(12)) == nil)
        #expect(machine.record(passed: false, at: .seconds(13)) == HealthReport(healthy: false, consecutiveFailures: 1, killTask: false))
        #expect(machine.record(passed: false, at: .seconds(14)) == HealthReport(healthy: false, consecutiveFailures: 2, killTask: false))
        #expect(machine.record(passed: true, at: .seconds(15)) == HealthReport(healthy: true, consecutiveFailures: 0, killTask: false))
        #expect(machine.record(passed: false, at: .seconds(16))?.consecutiveFailures == 1)
    }

    @Test func graceAppliesOnlyUntilTheFirstPass() {
        var machine = self.machine(grace: 5, failures: 1)
        #expect(machine.record(passed: false, at: .seconds(12)) == nil)
        #expect(machine.record(passed: false, at: .seconds(15)) == nil)
        #expect(machine.record(passed: false, at: .seconds(16)) == HealthReport(healthy: false, consecutiveFailures: 1, killTask: true))
        var passed = self.machine(grace: 5, failures: 2)
        _ = passed.record(passed: true, at: .seconds(11))
        #expect(passed.record(passed: false, at: .seconds(12)) == HealthReport(healthy: false, consecutiveFailures: 1, killTask: false))
        #expect(passed.record(passed: false, at: .seconds(13))?.killTask == true)
    }
}
