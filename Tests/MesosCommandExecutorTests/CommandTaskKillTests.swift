import MesosCommandExecutor
import MesosCore
import MesosTestKit
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("CommandTask kills", .timeLimit(.minutes(1)))
struct CommandTaskKillTests {
    @Test func sigtermEndsTheTaskAsKilled() async {
        let sandbox = TemporaryDirectory()
        defer { sandbox.remove() }
        let ready = sandbox.fifo("ready")
        let clock = ManualClock()
        let log = StatusLog()
        let runner = CommandTask(
            task: Tasks.shell("echo up > ready; sleep 1000"),
            configuration: configuration(sandbox, killing: true),
            clock: clock,
            onStatus: log.sink
        )
        let run = Task { await runner.run() }
        #expect(await ready.value == "up\n")
        await runner.kill()
        let terminal = await run.value
        #expect(log.states == [.taskStarting, .taskRunning, .taskKilling, .taskKilled])
        #expect(terminal.message == "Command terminated with signal Terminated")
        #expect(!terminal.hasHealthy && !terminal.hasReason)
    }

    @Test func noKillingStateWithoutTheCapability() async {
        let sandbox = TemporaryDirectory()
        defer { sandbox.remove() }
        let ready = sandbox.fifo("ready")
        let log = StatusLog()
        let runner = CommandTask(
            task: Tasks.shell("echo up > ready; sleep 1000"),
            configuration: configuration(sandbox),
            clock: ManualClock(),
            onStatus: log.sink
        )
        let run = Task { await runner.run() }
        _ = await ready.value
        await runner.kill()
        _ = await run.value
        #expect(log.states == [.taskStarting, .taskRunning, .taskKilled])
    }

    @Test func termTrappingCommandGetsSigkillAfterTheGracePeriod() async {
        let sandbox = TemporaryDirectory()
        defer { sandbox.remove() }
        let ready = sandbox.fifo("ready")
        let clock = ManualClock()
        var task = Tasks.shell("trap '' TERM; echo trapped > ready; exec sleep 1000")
        task.killPolicy.gracePeriod.nanoseconds = 7_000_000_000
        let runner = CommandTask(task: task, configuration: configuration(sandbox), clock: clock) { _ in }
        let run = Task { await runner.run() }
        #expect(await ready.value == "trapped\n")
        let pid = await runner.processID
        await runner.kill()
        await clock.waitForDeadline(.seconds(7))
        // Still running: SIGTERM is ignored, and time has not moved.
        #expect(pid != nil && kill(pid!, 0) == 0)
        clock.advance(by: .seconds(7))
        let terminal = await run.value
        #expect(terminal.state == .taskKilled)
        #expect(terminal.message == "Command terminated with signal Killed")
    }

    @Test func killPolicyOfTheKillWinsAndAKillCanOnlyShortenTheGrace() async {
        let sandbox = TemporaryDirectory()
        defer { sandbox.remove() }
        let ready = sandbox.fifo("ready")
        let clock = ManualClock()
        var task = Tasks.shell("trap '' TERM; echo trapped > ready; exec sleep 1000")
        task.killPolicy.gracePeriod.nanoseconds = 30_000_000_000
        let runner = CommandTask(task: task, configuration: configuration(sandbox), clock: clock) { _ in }
        let run = Task { await runner.run() }
        _ = await ready.value
        var policy = KillPolicy()
        policy.gracePeriod.nanoseconds = 10_000_000_000
        await runner.kill(killPolicy: policy)
        await clock.waitForDeadline(.seconds(10))
        clock.advance(by: .seconds(4))
        // A longer grace does nothing; a shorter one counts from the first kill: 4 s in, 6 s → SIGKILL at 6 s.
        await runner.kill(gracePeriod: .seconds(20))
        await runner.kill(gracePeriod: .seconds(6))
        await clock.waitForDeadline(.seconds(6))
        #expect(clock.pendingDeadlines == [.seconds(6)])
        clock.advance(by: .seconds(2))
        let terminal = await run.value
        #expect(terminal.message == "Command terminated with signal Killed")
        #expect(clock.sleepLog == [.seconds(10), .seconds(2)])
    }

    @Test func aGrandchildInTheGroupIsKilledToo() async throws {
        let sandbox = TemporaryDirectory()
        defer { sandbox.remove() }
        let ready = sandbox.fifo("ready")
        let runner = CommandTask(
            task: Tasks.shell("sh -c 'trap \"\" TERM; exec sleep 1000' & echo $! > ready; wait"),
            configuration: configuration(sandbox),
            clock: ManualClock()
        ) { _ in }
        let run = Task { await runner.run() }
        let grandchild = try #require(pid_t(await ready.value.split(separator: "\n").first ?? ""))
        await runner.kill()
        let terminal = await run.value
        #expect(terminal.state == .taskKilled)
        #expect(terminal.message == "Command terminated with signal Terminated")
        // It ignored SIGTERM; the group's SIGKILL when the leader ended took it.
        #expect(await processEnds(grandchild))
    }

    @Test func zeroGraceKillsAtOnce() async {
        let sandbox = TemporaryDirectory()
        defer { sandbox.remove() }
        let ready = sandbox.fifo("ready")
        let clock = ManualClock()
        let runner = CommandTask(
            task: Tasks.shell("trap '' TERM; echo trapped > ready; exec sleep 1000"),
            configuration: configuration(sandbox),
            clock: clock
        ) { _ in }
        let run = Task { await runner.run() }
        _ = await ready.value
        await runner.kill(gracePeriod: .zero)
        let terminal = await run.value
        #expect(terminal.message == "Command terminated with signal Killed")
        #expect(clock.sleepLog.isEmpty)
    }

    @Test func shutdownUsesTheExecutorGraceMinusTwoSeconds() async {
        #expect(CommandTask.Configuration.shutdownKillGracePeriod(executorShutdownGracePeriod: .seconds(5)) == .seconds(3))
        #expect(CommandTask.Configuration.shutdownKillGracePeriod(executorShutdownGracePeriod: .seconds(1)) == .zero)
        let sandbox = TemporaryDirectory()
        defer { sandbox.remove() }
        let ready = sandbox.fifo("ready")
        let clock = ManualClock()
        let runner = CommandTask(
            task: Tasks.shell("trap '' TERM; echo trapped > ready; exec sleep 1000"),
            configuration: configuration(sandbox),
            clock: clock
        ) { _ in }
        let run = Task { await runner.run() }
        _ = await ready.value
        await runner.shutdown(executorShutdownGracePeriod: .seconds(5))
        await clock.waitForDeadline(.seconds(3))
        clock.advance(by: .seconds(3))
        #expect(await run.value.state == .taskKilled)
    }

    @Test func killBeforeRunNeverStartsTheCommand() async {
        let sandbox = TemporaryDirectory()
        defer { sandbox.remove() }
        let log = StatusLog()
        let runner = CommandTask(task: Tasks.shell("echo ran > ran"), configuration: configuration(sandbox), onStatus: log.sink)
        await runner.kill()
        let terminal = await runner.run()
        #expect(log.states == [.taskKilled])
        #expect(terminal.state == .taskKilled)
        #expect(sandbox.read("ran") == nil)
    }

    @Test func killAfterTheEndIsIgnored() async {
        let sandbox = TemporaryDirectory()
        defer { sandbox.remove() }
        let log = StatusLog()
        let runner = CommandTask(task: Tasks.shell("true"), configuration: configuration(sandbox, killing: true), onStatus: log.sink)
        _ = await runner.run()
        await runner.kill()
        #expect(log.states == [.taskStarting, .taskRunning, .taskFinished])
        #expect(await runner.run().state == .taskFinished)
    }

    @Test func maxCompletionTimeFailsTheTask() async {
        let sandbox = TemporaryDirectory()
        defer { sandbox.remove() }
        let clock = ManualClock()
        var task = Tasks.shell("sleep 1000")
        task.maxCompletionTime.nanoseconds = 5_000_000_000
        let log = StatusLog()
        let runner = CommandTask(task: task, configuration: configuration(sandbox, killing: true), clock: clock, onStatus: log.sink)
        let run = Task { await runner.run() }
        await clock.waitForDeadline(.seconds(5))
        clock.advance(by: .seconds(5))
        let terminal = await run.value
        #expect(log.states == [.taskStarting, .taskRunning, .taskFailed])
        #expect(terminal.reason == .maxCompletionTimeReached)
        #expect(terminal.message == "Command terminated with signal Killed")
    }

    @Test func cancellingTheRunKillsTheCommand() async {
        let sandbox = TemporaryDirectory()
        defer { sandbox.remove() }
        let log = StatusLog()
        let runner = CommandTask(
            task: Tasks.shell("trap '' TERM; exec sleep 1000"),
            configuration: configuration(sandbox),
            clock: ManualClock(),
            onStatus: log.sink
        )
        let run = Task { await runner.run() }
        #expect(await log.status(1).state == .taskRunning)
        run.cancel()
        let terminal = await run.value
        #expect(terminal.state == .taskKilled)
        #expect(terminal.message == "Command terminated with signal Killed")
    }
}
