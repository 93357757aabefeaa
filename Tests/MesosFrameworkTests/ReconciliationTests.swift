import Foundation
import MesosCore
import MesosFramework
import MesosScheduler
import MesosTestKit
import Testing

/// T11: the reconciliation driver. Store: T1 RUNNING@A1, T2 STAGING@A2, T3 FINISHED, T4 UNREACHABLE@A3; backoff
/// 2 s doubling to 60 s; batches of 1000.
@Suite struct ReconciliationTests {
    func driver(_ configure: (inout ReconciliationDriver.Configuration) -> Void = { _ in }) -> ReconciliationDriver {
        var configuration = ReconciliationDriver.Configuration(
            initialBackoff: .seconds(2), maximumBackoff: .seconds(60), batchSize: 1000, implicitInterval: .seconds(900))
        configure(&configuration)
        var driver = ReconciliationDriver(configuration: configuration)
        driver.track(TaskID("T1"), agentID: AgentID("A1"), state: .taskRunning, now: .zero)
        driver.track(TaskID("T2"), agentID: AgentID("A2"), state: .taskStaging, now: .zero)
        driver.track(TaskID("T3"), agentID: AgentID("A1"), state: .taskFinished, now: .zero)
        driver.track(TaskID("T4"), agentID: AgentID("A3"), state: .taskUnreachable, now: .zero)
        return driver
    }

    @Test func explicitRunWithBackoffUntilEveryTaskAnswered() {
        var driver = self.driver()
        let t0 = Duration.seconds(100)
        let first = driver.subscribed(now: t0)
        #expect(first.calls.map(reconciled) == [["T1@A1", "T2@A2", "T4@A3"]])
        _ = driver.received(status("T1", .taskRunning, agent: "A1", reason: .reconciliation), now: t0 + .seconds(1))
        #expect(driver.nextDeadline == t0 + .seconds(2))
        let result1 = driver.due(now: t0 + .seconds(2) - .milliseconds(1))
        #expect(result1.calls.isEmpty)
        let result2 = driver.due(now: t0 + .seconds(2))
        #expect(result2.calls.map(reconciled) == [["T2@A2", "T4@A3"]])
        _ = driver.received(status("T4", .taskUnreachable, agent: "A3", reason: .reconciliation), now: t0 + .seconds(3))
        #expect(driver.nextDeadline == t0 + .seconds(6))
        let result3 = driver.due(now: t0 + .seconds(6))
        #expect(result3.calls.map(reconciled) == [["T2@A2"]])
        let gone = driver.received(status("T2", .taskGone, agent: "A2", reason: .reconciliation), now: t0 + .seconds(7))
        #expect(gone.notices == [.transition(.init(taskID: TaskID("T2"), from: .taskStaging, to: .taskGone, reason: .reconciliation, advice: .replaceNow))])
        #expect(!driver.isReconciling)
        #expect(driver.nextImplicitReconciliation == t0 + .seconds(7) + .seconds(900))
        let result4 = driver.due(now: t0 + .seconds(100))
        #expect(result4.calls.isEmpty)
        let implicit = driver.due(now: t0 + .seconds(907))
        #expect(implicit.calls.count == 1)
        #expect(implicit.calls.first?.type == .reconcile)
        #expect(implicit.calls.first?.reconcile.tasks.isEmpty == true)
        #expect(driver.nextImplicitReconciliation == t0 + .seconds(907 + 900), "periodic")
    }

    @Test func silenceBacksOffToTheCapAndAlertsOnce() {
        var driver = self.driver()
        _ = driver.subscribed(now: .zero)
        var waits: [Duration] = []
        var alerts: [[TaskID]] = []
        var last = Duration.zero
        while let next = driver.nextDeadline, next <= .seconds(900) {
            let output = driver.due(now: next)
            if !output.calls.isEmpty {
                waits.append(next - last)
                last = next
            }
            for notice in output.notices {
                if case .reconciliationOverdue(let tasks) = notice { alerts.append(tasks) }
            }
        }
        #expect(Array(waits.prefix(8)) == [2, 4, 8, 16, 32, 60, 60, 60].map { Duration.seconds($0) })
        #expect(alerts == [[TaskID("T1"), TaskID("T2"), TaskID("T4")]])
    }

    @Test func aNewSubscriptionRestartsTheRun() {
        var driver = self.driver()
        _ = driver.subscribed(now: .zero)
        _ = driver.received(status("T1", .taskRunning, agent: "A1", reason: .reconciliation), now: .seconds(1))
        _ = driver.due(now: .seconds(2))
        let restart = driver.subscribed(now: .seconds(3))
        #expect(restart.calls.map(reconciled) == [["T1@A1", "T2@A2", "T4@A3"]], "a new start: T1 must answer again")
        #expect(driver.nextDeadline == .seconds(5))
    }

    @Test func updatesBeforeTheStartDoNotAnswer() {
        var driver = self.driver()
        _ = driver.received(status("T1", .taskRunning, agent: "A1"), now: .seconds(1))
        _ = driver.subscribed(now: .seconds(2))
        #expect(driver.unanswered == [TaskID("T1"), TaskID("T2"), TaskID("T4")])
        _ = driver.received(status("T1", .taskRunning, agent: "A1", uuid: uuid(1)), now: .seconds(3))
        #expect(driver.unanswered == [TaskID("T2"), TaskID("T4")], "any update answers, not only reconciliation replies")
    }

    @Test func batchesAreLimited() {
        var driver = ReconciliationDriver(configuration: .init(batchSize: 2))
        for index in 1...5 { driver.track(TaskID("T\(index)"), agentID: AgentID("A"), now: .zero) }
        let output = driver.subscribed(now: .zero)
        #expect(output.calls.map { $0.reconcile.tasks.count } == [2, 2, 1])
    }

    @Test func unknownTaskIsReportedAndKilledOncePerSubscription() {
        var driver = self.driver { $0.killUnknownTasks = true }
        _ = driver.subscribed(now: .zero)
        let reply = status("T9", .taskRunning, agent: "A7", reason: .reconciliation)
        let first = driver.received(reply, now: .seconds(1))
        #expect(first.calls.map(\.type) == [.kill])
        #expect(first.calls.first?.kill.taskID.value == "T9")
        #expect(first.calls.first?.kill.agentID.value == "A7")
        #expect(first.notices == [.unknownTask(reply, killed: true)])
        let result5 = driver.received(reply, now: .seconds(2))
        #expect(result5.calls.isEmpty)
        _ = driver.subscribed(now: .seconds(3))
        let result6 = driver.received(reply, now: .seconds(4))
        #expect(result6.calls.count == 1)
    }

    @Test func unknownTaskIsOnlyReportedByDefault() {
        var driver = self.driver()
        _ = driver.subscribed(now: .zero)
        let output = driver.received(status("T9", .taskRunning, agent: "A7"), now: .seconds(1))
        #expect(output.calls.isEmpty)
        #expect(output.notices.count == 1)
    }

    @Test func servicesRunTheDriverOnTheClock() async throws {
        let (services, calls, clock, log) = makeServices { $0.reconciliation = .init(killUnknownTasks: true) }
        services.track(TaskID("T1"), agentID: AgentID("A1"), state: .taskRunning)
        await services.handle(subscribedEvent)
        #expect(calls.calls(.reconcile).map(reconciled) == [["T1@A1"]])
        clock.advance(by: .seconds(2))
        await services.performDueWork()
        #expect(calls.calls(.reconcile).map(reconciled) == [["T1@A1"], ["T1@A1"]])
        await services.handle(.update(status("T1", .taskRunning, agent: "A1", reason: .reconciliation)))
        #expect(!services.reconciliation.isReconciling)
        clock.advance(by: .seconds(900))
        await services.performDueWork()
        #expect(calls.calls(.reconcile).last.map(reconciled) == [])
        await services.handle(.update(status("T9", .taskRunning, agent: "A2", reason: .reconciliation)))
        #expect(calls.calls(.kill).map(\.kill.taskID.value) == ["T9"])
        #expect(log.all.contains(.unknownTask(status("T9", .taskRunning, agent: "A2", reason: .reconciliation), killed: true)))
    }
}

/// T12: partition-aware transitions.
@Suite struct PartitionAwareTests {
    func driver(policy: ReconciliationDriver.ReturnedTaskPolicy = .killReturned) -> ReconciliationDriver {
        var driver = ReconciliationDriver(configuration: .init(unreachableGrace: .seconds(300), returnedTaskPolicy: policy))
        driver.track(TaskID("T1"), agentID: AgentID("A1"), state: .taskRunning, now: .zero)
        _ = driver.subscribed(now: .zero)
        return driver
    }

    func advice(_ output: ReconciliationDriver.Output) -> [ReconciliationDriver.Advice] {
        output.notices.compactMap { if case .transition(let t) = $0 { return t.advice } else { return nil } }
    }

    @Test func unreachableIsReplaceableOnlyAfterTheGrace() {
        var driver = self.driver()
        let output = driver.received(status("T1", .taskUnreachable, agent: "A1"), now: .seconds(10))
        #expect(self.advice(output) == [.unreachable(replaceableAt: .seconds(310))])
        #expect(driver.task(TaskID("T1"))?.isActive == true, "not terminal")
        let again = driver.received(status("T1", .taskUnreachable, agent: "A1", reason: .reconciliation), now: .seconds(50))
        #expect(self.advice(again) == [.unreachable(replaceableAt: .seconds(310))], "the grace counts from the first report")
    }

    @Test func returnWithAReplacementRunningKillsOneCopy() {
        var driver = self.driver()
        _ = driver.received(status("T1", .taskUnreachable, agent: "A1"), now: .seconds(10))
        driver.track(TaskID("T1b"), agentID: AgentID("A2"), state: .taskRunning, replacing: TaskID("T1"), now: .seconds(400))
        let back = driver.received(status("T1", .taskRunning, agent: "A1", reason: .agentReregistered), now: .seconds(500))
        #expect(self.advice(back) == [.returned(replacement: TaskID("T1b"))])
        #expect(back.calls.map { $0.kill.taskID.value } == ["T1"])
        #expect(back.calls.first?.kill.agentID.value == "A1")

        var other = self.driver(policy: .killReplacement)
        _ = other.received(status("T1", .taskUnreachable, agent: "A1"), now: .seconds(10))
        other.track(TaskID("T1b"), agentID: AgentID("A2"), state: .taskRunning, replacing: TaskID("T1"), now: .seconds(400))
        let kept = other.received(status("T1", .taskRunning, agent: "A1", reason: .agentReregistered), now: .seconds(500))
        #expect(kept.calls.map { $0.kill.taskID.value } == ["T1b"])
    }

    @Test func goneIsReplacedNowAndDroppedIsRelaunched() {
        var driver = self.driver()
        let result7 = driver.received(status("T1", .taskGone, agent: "A1"), now: .seconds(1))
        #expect(self.advice(result7) == [.replaceNow])
        driver.track(TaskID("T2"), agentID: AgentID("A1"), state: .taskStaging, now: .seconds(2))
        let dropped = driver.received(status("T2", .taskDropped, agent: "A1", reason: .invalidOffers), now: .seconds(3))
        #expect(self.advice(dropped) == [.relaunchWithBackoff])
        driver.track(TaskID("T3"), agentID: AgentID("A1"), state: .taskRunning, now: .seconds(4))
        let result8 = driver.received(status("T3", .taskGoneByOperator, agent: "A1"), now: .seconds(5))
        #expect(self.advice(result8) == [.replaceNow])
    }

    @Test func finishedNeverMovesBackToRunningButLostMay() {
        var driver = self.driver()
        _ = driver.received(status("T1", .taskFinished, agent: "A1", uuid: uuid(1)), now: .seconds(1))
        let back = driver.received(status("T1", .taskRunning, agent: "A1", uuid: uuid(2)), now: .seconds(2))
        #expect(self.advice(back) == [.rejected])
        #expect(driver.task(TaskID("T1"))?.state == .taskFinished)

        driver.track(TaskID("T2"), agentID: AgentID("A1"), state: .taskRunning, now: .seconds(3))
        _ = driver.received(status("T2", .taskLost, agent: "A1"), now: .seconds(4))
        let revived = driver.received(status("T2", .taskRunning, agent: "A1", reason: .agentReregistered), now: .seconds(5))
        #expect(self.advice(revived) == [.returned(replacement: nil)])
        #expect(driver.task(TaskID("T2"))?.state == .taskRunning)
    }

    @Test func unknownAdviceDependsOnTheLaunchAge() {
        var driver = ReconciliationDriver(configuration: .init(recentLaunchWindow: .seconds(60)))
        driver.track(TaskID("new"), agentID: AgentID("A"), now: .seconds(100))
        driver.track(TaskID("old"), agentID: AgentID("A"), now: .zero)
        let result9 = driver.received(status("new", .taskUnknown, agent: "A"), now: .seconds(110))
        #expect(self.advice(result9) == [.unknownToMaster(recentlyLaunched: true)])
        let result10 = driver.received(status("old", .taskUnknown, agent: "A"), now: .seconds(110))
        #expect(self.advice(result10) == [.unknownToMaster(recentlyLaunched: false)])
        #expect(driver.task(TaskID("old"))?.isActive == true, "UNKNOWN is not terminal: reconciled again")
    }

    @Test func explicitReconcileWithoutAgentIDKeepsRetrying() {
        var driver = ReconciliationDriver(configuration: .init(initialBackoff: .seconds(2)))
        driver.track(TaskID("T"), agentID: nil, now: .zero)
        let first = driver.subscribed(now: .zero)
        #expect(first.calls.map(reconciled) == [["T"]])
        let result11 = driver.due(now: .seconds(2))
        #expect(result11.calls.map(reconciled) == [["T"]])
        let result12 = driver.due(now: .seconds(6))
        #expect(result12.calls.map(reconciled) == [["T"]])
        #expect(driver.isReconciling)
    }

    @Test func killOfAnUnreachableTaskIsResentAfterReregistration() {
        var driver = self.driver()
        _ = driver.received(status("T1", .taskUnreachable, agent: "A1"), now: .seconds(1))
        let kill = driver.requestKill(TaskID("T1"), now: .seconds(2))
        #expect(kill.kill.taskID.value == "T1")
        #expect(kill.kill.agentID.value == "A1")
        let reply = driver.received(status("T1", .taskUnreachable, agent: "A1", reason: .reconciliation), now: .seconds(3))
        #expect(reply.calls.isEmpty)
        #expect(driver.task(TaskID("T1"))?.killRequested == true, "intent kept")
        let back = driver.received(status("T1", .taskRunning, agent: "A1", reason: .agentReregistered), now: .seconds(4))
        #expect(back.calls.map(\.type) == [.kill])
        _ = driver.received(status("T1", .taskKilled, agent: "A1", uuid: uuid(9)), now: .seconds(5))
        #expect(driver.task(TaskID("T1"))?.killRequested == false)
    }
}
