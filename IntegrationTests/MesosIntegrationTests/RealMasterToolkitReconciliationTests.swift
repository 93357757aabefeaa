import Foundation
import MesosCore
import MesosFramework
import MesosScheduler
import MesosTestKit
import Testing

/// The reconciliation driver against the real toolkit master.
extension RealMasterToolkitTests {
    /// What the master answered one reconciled task.
    struct Answer: Sendable, Equatable, CustomStringConvertible {
        var state: TaskState
        var message: String
        var withAgent: Bool

        var description: String { "\(self.state) '\(self.message)' agent: \(self.withAgent)" }
    }

    @Test("explicit reconciliation after a failover: the master's answers for a finished and acknowledged task and for unknown ones; the driver stops retrying",
          arguments: [false, true])
    func explicitReconciliationOfFinishedAndUnknownTasks(partitionAware: Bool) async throws {
        try await ToolkitMaster.waitForIdleAgent()
        let name = "it-toolkit-reconcile-\(partitionAware ? "pa" : "plain")"
        let taskID = TaskID("it-rec-\(UUID().uuidString.prefix(8))")

        // 1. A framework launches a short task through the services, which acknowledge its updates; then its
        //    connection closes without TEARDOWN (failover timeout 60 s).
        let first = try ToolkitMaster.scheduler(name, partitionAware: partitionAware, failoverTimeout: 60, acknowledgements: .explicit)
        let firstServices = FrameworkServices(scheduler: first)
        let firstLog = EventLog(first)
        let (frameworkID, agentID) = try await ToolkitMaster.running(first, services: firstServices, teardown: false) {
            let offers = try await firstLog.nextOffers().value
            let offer = offers[0]
            let carving = try offer.carving(ResourceDemand(cpus: 0.1, mem: 32))
            var task = TaskInfo()
            task.name = taskID.value
            task.taskID = taskID
            task.agentID = offer.agentID
            task.resources = carving.resources
            task.command.shell = true
            task.command.value = "true"
            firstServices.track(taskID, agentID: offer.agentID)
            _ = try firstServices.takeOffers(offers.map(\.id))
            try await first.accept(offer, operations: [.launch([task])], filters: .refuse(seconds: 1))
            let finished = try await firstLog.terminalUpdate(of: taskID)
            #expect(finished.state == .taskFinished)
            let records = firstServices.acknowledgementRecords.filter { $0.subject == taskID.value }
            #expect(records.map(\.outcome) == [.acknowledged, .acknowledged, .acknowledged], "STARTING, RUNNING, FINISHED")
            #expect(firstServices.reconciliation.task(taskID)?.state == .taskFinished)
            // The master moves a task to its completed tasks once the terminal update is acknowledged.
            try await poll("the task among the master's completed tasks", timeout: .seconds(10)) {
                try await ToolkitMaster.taskState(taskID)?.completed == true
            }
            return (try #require(first.status.frameworkID), offer.agentID)
        }

        // 2. The framework fails over to a new scheduler whose store still has that task RUNNING (say FINISHED was
        //    never persisted), plus two tasks the master never saw: one with its agent id, one without.
        let unknownOnAgent = TaskID("it-rec-never-\(UUID().uuidString.prefix(8))-on-agent")
        let unknownNoAgent = TaskID("it-rec-never-\(UUID().uuidString.prefix(8))-no-agent")
        let second = try ToolkitMaster.scheduler(
            name, partitionAware: partitionAware, frameworkID: frameworkID, failoverTimeout: 60, acknowledgements: .explicit)
        let sender = RecordingSender(second)
        let noticeLog = LockedValue<[FrameworkNotice]>([])
        let services = FrameworkServices(
            roles: ["*"],
            configuration: .init(reconciliation: .init(initialBackoff: .seconds(1))),
            calls: sender,
            notices: { notice in noticeLog.withLock { $0.append(notice) } })
        services.attach(to: second)
        let log = EventLog(second)
        services.track(taskID, agentID: agentID, state: .taskRunning)
        services.track(unknownOnAgent, agentID: agentID, state: .taskRunning)
        services.track(unknownNoAgent, agentID: nil, state: .taskStaging)
        let tracked = [taskID, unknownOnAgent, unknownNoAgent]

        let (answers, withoutAgent, reconcileCalls, driver, acknowledgements, finalState) = try await ToolkitMaster.running(second, services: services) {
            // The SUBSCRIBED starts an explicit run: one RECONCILE naming the three tasks, with their agent ids.
            try await poll("RECONCILE", timeout: .seconds(10)) { !sender.calls(.reconcile).isEmpty }
            let sentAt = try #require(sender.calls(.reconcile).first).at
            try await poll("the master's answers", timeout: .seconds(10)) {
                tracked.allSatisfy { !log.updates(of: $0).isEmpty }
            }
            var answers: [String: Answer] = [:]
            for id in tracked {
                let status = try #require(log.updates(of: id).first)
                #expect(status.reason == .reconciliation, "\(id.value)")
                #expect(status.source == .master, "\(id.value)")
                #expect(!status.needsAcknowledgement, "a reconciliation answer carries no uuid: \(id.value)")
                answers[id.value] = Answer(
                    state: status.state, message: status.message, withAgent: status.hasAgentID && !status.agentID.value.isEmpty)
            }
            // Every task answered: the run is over and the next deadline is the implicit reconciliation, 15 min on.
            try await poll("the explicit run to end", timeout: .seconds(5)) { services.reconciliation.unanswered.isEmpty }
            let driver = services.reconciliation
            let implicitIn = (driver.nextImplicitReconciliation ?? .zero) - services.now
            #expect(implicitIn > .seconds(890) && implicitIn <= .seconds(900), "implicit reconciliation due in \(implicitIn)")
            // Past the first retry (1 s after the RECONCILE) and the second (2 s after that, had the first been
            // sent): no RECONCILE follows the answers.
            try await Task.sleep(until: sentAt + .seconds(3.5))
            let reconcileCalls = sender.calls(.reconcile).map(\.call.reconcile.tasks)
            let acknowledgements = services.acknowledgementRecords.filter { record in tracked.contains { $0.value == record.subject } }

            // The finished task once more, without its agent id, around the driver (straight on the scheduler).
            try await second.reconcile([(taskID, nil)])
            try await poll("the answer without agent id", timeout: .seconds(10)) { log.updates(of: taskID).count >= 2 }
            let status = log.updates(of: taskID)[1]
            let withoutAgent = Answer(
                state: status.state, message: status.message, withAgent: status.hasAgentID && !status.agentID.value.isEmpty)
            return (answers, withoutAgent, reconcileCalls, driver, acknowledgements, services.reconciliation.task(taskID)?.state)
        }

        // The one RECONCILE: each task with the agent id the store had.
        #expect(reconcileCalls.count == 1, "no retry after the answers")
        var named: [String: String?] = [:]
        for task in reconcileCalls.first ?? [] {
            named[task.taskID.value] = .some(task.hasAgentID ? task.agentID.value : nil)
        }
        #expect(named == [taskID.value: agentID.value, unknownOnAgent.value: agentID.value, unknownNoAgent.value: nil])
        #expect(!driver.isReconciling)
        #expect(driver.unanswered.isEmpty)
        #expect(driver.nextImplicitReconciliation != nil)
        #expect(driver.nextDeadline == driver.nextImplicitReconciliation, "the implicit run is all that is left")
        #expect(acknowledgements.map(\.outcome) == Array(repeating: AcknowledgementOutcome.notAcknowledgeable, count: 3))

        // The real master's answers. A finished task whose terminal update was acknowledged has left the master's
        // task table (it is only among the completed tasks, which reconciliation does not consult), so it is
        // answered exactly like a task the master never saw: not FINISHED (TOOLKIT §5's "task known" row does not
        // apply any more). With the agent id of a registered agent that does not list the task, the message is
        // "unknown to the agent"; without an agent id, only "unknown".
        let onAgent = "Reconciliation: Task is unknown to the agent"
        let unknown = "Reconciliation: Task is unknown"
        if partitionAware {
            #expect(answers[taskID.value] == Answer(state: .taskGone, message: onAgent, withAgent: true))
            #expect(answers[unknownOnAgent.value] == Answer(state: .taskGone, message: onAgent, withAgent: true))
            #expect(answers[unknownNoAgent.value] == Answer(state: .taskUnknown, message: unknown, withAgent: false))
            #expect(withoutAgent == Answer(state: .taskUnknown, message: unknown, withAgent: false))
        } else {
            #expect(answers[taskID.value] == Answer(state: .taskLost, message: onAgent, withAgent: true))
            #expect(answers[unknownOnAgent.value] == Answer(state: .taskLost, message: onAgent, withAgent: true))
            #expect(answers[unknownNoAgent.value] == Answer(state: .taskLost, message: unknown, withAgent: false))
            #expect(withoutAgent == Answer(state: .taskLost, message: unknown, withAgent: false))
        }

        // The driver's reading of them (partition-aware advice).
        let transitions = noticeLog.withLock { $0 }.compactMap { notice -> ReconciliationDriver.Transition? in
            if case .transition(let transition) = notice { return transition }
            return nil
        }
        // The first transition of each task: the driver's own run.
        let advice = Dictionary(transitions.map { ($0.taskID.value, $0.advice) }, uniquingKeysWith: { first, _ in first })
        if partitionAware {
            #expect(advice == [taskID.value: .replaceNow, unknownOnAgent.value: .replaceNow,
                               unknownNoAgent.value: .unknownToMaster(recentlyLaunched: true)])
        } else {
            #expect(advice == [taskID.value: ReconciliationDriver.Advice.none, unknownOnAgent.value: .none, unknownNoAgent.value: .none])
        }
        #expect(transitions.allSatisfy { $0.reason == .reconciliation })
        for id in tracked {
            #expect(driver.task(id)?.state == answers[id.value]?.state)
        }
        // The second answer for the finished task: LOST again is no transition; UNKNOWN after GONE would leave a
        // hard terminal state, so the driver rejects it (flagged) and keeps GONE.
        let later = transitions.filter { $0.taskID == taskID }.dropFirst()
        if partitionAware {
            #expect(later.map(\.advice) == [.rejected])
            #expect(later.first?.to == .taskUnknown)
            #expect(finalState == .taskGone)
        } else {
            #expect(later.isEmpty)
            #expect(finalState == .taskLost)
        }
    }
}
