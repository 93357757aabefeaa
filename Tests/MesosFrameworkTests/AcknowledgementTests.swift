import Foundation
import MesosCore
import MesosFramework
import MesosScheduler
import MesosTestKit
import Synchronization
import Testing

/// Records commits, and fails them while told to.
final class CommitLog: Sendable {
    private let state = Mutex<(committed: [StatusUpdate], failing: Bool)>(([], false))
    func commit(_ update: StatusUpdate) throws {
        try self.state.withLock { state in
            if state.failing { throw MesosError(code: .transportFailure, message: "disk full") }
            state.committed.append(update)
        }
    }
    func setFailing(_ failing: Bool) { self.state.withLock { $0.failing = failing } }
    var committed: [StatusUpdate] { self.state.withLock { $0.committed } }
}

/// A commit hook that waits until the test lets it finish.
final class Gate: Sendable {
    private let state = Mutex<(entered: Bool, open: Bool, waiters: [CheckedContinuation<Void, Never>], entryWaiters: [CheckedContinuation<Void, Never>])>((false, false, [], []))
    func pass() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let (open, entry) = self.state.withLock { state in
                state.entered = true
                let entry = state.entryWaiters
                state.entryWaiters = []
                if state.open { return (true, entry) }
                state.waiters.append(continuation)
                return (false, entry)
            }
            for waiter in entry { waiter.resume() }
            if open { continuation.resume() }
        }
    }
    func waitUntilEntered() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let entered = self.state.withLock { state -> Bool in
                if state.entered { return true }
                state.entryWaiters.append(continuation)
                return false
            }
            if entered { continuation.resume() }
        }
    }
    func open() {
        let waiters = self.state.withLock { state in
            state.open = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }
}

/// T10: the acknowledgement manager, through the services.
@Suite struct AcknowledgementTests {
    func services(commits: CommitLog) -> (FrameworkServices, RecordingCalls) {
        let (services, calls, _, _) = makeServices { configuration in
            configuration.acknowledgements = .afterCommit { update in try commits.commit(update) }
        }
        return (services, calls)
    }

    @Test func commitThenExactlyOneAcknowledgement() async throws {
        let commits = CommitLog()
        let (services, calls) = self.services(commits: commits)
        await services.handle(subscribedEvent)
        let running = status("T", .taskRunning, agent: "A", uuid: uuid(1))
        await services.handle(.update(running))
        #expect(commits.committed == [.task(running)])
        let acks = calls.calls(.acknowledge)
        #expect(acks.count == 1)
        #expect(acks.first?.acknowledge.agentID.value == "A")
        #expect(acks.first?.acknowledge.taskID.value == "T")
        #expect(acks.first?.acknowledge.uuid == uuid(1))
        #expect(services.acknowledgementRecords.map(\.outcome) == [.acknowledged])
    }

    @Test func failedCommitIsNotAcknowledgedAndTheRedeliveryIs() async throws {
        let commits = CommitLog()
        let (services, calls) = self.services(commits: commits)
        await services.handle(subscribedEvent)
        commits.setFailing(true)
        let running = status("T", .taskRunning, agent: "A", uuid: uuid(1))
        await services.handle(.update(running))
        #expect(calls.calls(.acknowledge).isEmpty)
        let outcome = services.acknowledgementRecords.first?.outcome
        guard case .commitFailed(let reason) = outcome else {
            Issue.record("expected a failed commit, got \(String(describing: outcome))")
            return
        }
        #expect(reason.contains("disk full"))
        commits.setFailing(false)
        await services.handle(.update(running))
        #expect(calls.calls(.acknowledge).count == 1)
        #expect(commits.committed.count == 1)
    }

    @Test func updatesWithoutUUIDAreCommittedButNeverAcknowledged() async throws {
        let commits = CommitLog()
        let (services, calls) = self.services(commits: commits)
        await services.handle(subscribedEvent)
        var reply = status("T", .taskRunning, agent: "A", reason: .reconciliation)
        reply.message = "Reconciliation: Latest task state"
        reply.data = Data("payload".utf8)
        await services.handle(.update(reply))
        var empty = status("T", .taskRunning, agent: "A")
        empty.uuid = Data()
        await services.handle(.update(empty))
        #expect(calls.calls(.acknowledge).isEmpty)
        #expect(commits.committed == [.task(reply), .task(empty)], "the hook gets the whole update, message and data kept")
        #expect(services.acknowledgementRecords.map(\.outcome) == [.notAcknowledgeable, .notAcknowledgeable])
    }

    @Test func duplicateIsNotCommittedAgainButAcknowledgedAgain() async throws {
        let commits = CommitLog()
        let (services, calls) = self.services(commits: commits)
        await services.handle(subscribedEvent)
        let running = status("T", .taskRunning, agent: "A", uuid: uuid(1))
        await services.handle(.update(running))
        await services.handle(.update(running))
        #expect(commits.committed.count == 1, "no state change for a duplicate")
        #expect(calls.calls(.acknowledge).count == 2)
        #expect(services.acknowledgementRecords.map(\.outcome) == [.acknowledged, .reacknowledged])
    }

    @Test func duplicateDoesNotChangeTheTaskState() async throws {
        let (services, calls, _, log) = makeServices()
        services.track(TaskID("T"), agentID: AgentID("A"), state: .taskRunning)
        await services.handle(subscribedEvent)
        let unreachable = status("T", .taskUnreachable, agent: "A", uuid: uuid(3))
        await services.handle(.update(unreachable))
        await services.handle(.update(status("T", .taskRunning, agent: "A", uuid: uuid(4))))
        await services.handle(.update(unreachable))  // a late redelivery of the first update
        #expect(services.tasks.first?.state == .taskRunning)
        #expect(log.transitions.map(\.to) == [.taskUnreachable, .taskRunning])
        #expect(calls.calls(.acknowledge).count == 3)
    }

    @Test func disconnectDuringCommitPreventsTheAckAndTheRedeliveryIsAcked() async throws {
        let gate = Gate()
        let (services, calls, _, _) = makeServices { configuration in
            configuration.acknowledgements = .afterCommit { _ in await gate.pass() }
        }
        await services.handle(subscribedEvent)
        let running = status("T", .taskRunning, agent: "A", uuid: uuid(1))
        let handling = Task { await services.handle(.update(running)) }
        await gate.waitUntilEntered()
        services.connectionLost()
        await services.handle(subscribedEvent)  // a new stream, before the commit returned
        gate.open()
        await handling.value
        #expect(calls.calls(.acknowledge).isEmpty, "never acknowledged on the new stream")
        #expect(services.acknowledgementRecords.map(\.outcome) == [.staleStream])
        await services.handle(.update(running))  // the agent redelivers
        #expect(calls.calls(.acknowledge).count == 1)
    }

    @Test func failedAcknowledgementIsRetriedOnRedelivery() async throws {
        let (services, calls, _, log) = makeServices()
        await services.handle(subscribedEvent)
        calls.setFailing(.acknowledge, true)
        let running = status("T", .taskRunning, agent: "A", uuid: uuid(2))
        await services.handle(.update(running))
        #expect(log.all.contains { if case .callFailed(.acknowledge, _) = $0 { return true } else { return false } })
        calls.setFailing(.acknowledge, false)
        await services.handle(.update(running))
        #expect(calls.calls(.acknowledge).count == 1)
    }

    @Test func operationUpdatesUseAcknowledgeOperationStatus() async throws {
        let (services, calls, _, _) = makeServices()
        await services.handle(subscribedEvent)
        var finished = OperationStatus()
        finished.operationID = OperationID("op")
        finished.state = .operationFinished
        finished.uuid.value = uuid(3)
        finished.agentID = AgentID("A")
        finished.resourceProviderID = ResourceProviderID("P")
        await services.handle(.updateOperationStatus(finished))
        let acks = calls.calls(.acknowledgeOperationStatus)
        #expect(acks.count == 1)
        #expect(acks.first?.acknowledgeOperationStatus.agentID.value == "A")
        #expect(acks.first?.acknowledgeOperationStatus.resourceProviderID.value == "P")
        #expect(acks.first?.acknowledgeOperationStatus.uuid == uuid(3))
        #expect(acks.first?.acknowledgeOperationStatus.operationID.value == "op")

        var error = OperationStatus()
        error.operationID = OperationID("op2")
        error.state = .operationError
        await services.handle(.updateOperationStatus(error))
        var noAgent = finished
        noAgent.clearAgentID()
        noAgent.uuid.value = uuid(4)
        await services.handle(.updateOperationStatus(noAgent))
        #expect(calls.calls(.acknowledgeOperationStatus).count == 1)
        #expect(services.acknowledgementRecords.map(\.outcome) == [.acknowledged, .notAcknowledgeable, .missingIdentifiers])
    }

    @Test func automaticModeAcknowledgesAtOnce() async throws {
        let (services, calls, _, _) = makeServices()
        await services.handle(subscribedEvent)
        await services.handle(.update(status("T", .taskStarting, agent: "A", uuid: uuid(5))))
        #expect(calls.calls(.acknowledge).count == 1)
    }

    @Test func nothingIsAcknowledgedWhileDisconnected() async throws {
        let (services, calls, _, _) = makeServices()
        await services.handle(.update(status("T", .taskRunning, agent: "A", uuid: uuid(6))))
        #expect(calls.calls(.acknowledge).isEmpty)
        #expect(services.acknowledgementRecords.map(\.outcome) == [.staleStream])
    }
}
