import Foundation
import MesosCore
import MesosFramework
import MesosScheduler
import MesosTestKit
import Synchronization
import Testing

/// A call sender that records every call and can be told to fail; tests wait for calls without sleeping.
final class RecordingCalls: SchedulerCallSender {
    private struct State {
        var calls: [SchedulerCall] = []
        var failing: Set<SchedulerCall.TypeEnum> = []
        var waiters: [(count: Int, continuation: CheckedContinuation<Void, Never>)] = []
    }

    private let state = Mutex(State())

    func send(_ call: SchedulerCall) async throws(MesosError) {
        let (failure, ready) = self.state.withLock { state -> (Bool, [CheckedContinuation<Void, Never>]) in
            if state.failing.contains(call.type) { return (true, []) }
            state.calls.append(call)
            let count = state.calls.count
            var ready: [CheckedContinuation<Void, Never>] = []
            state.waiters.removeAll { waiter in
                guard waiter.count <= count else { return false }
                ready.append(waiter.continuation)
                return true
            }
            return (false, ready)
        }
        for waiter in ready { waiter.resume() }
        if failure { throw MesosError(code: .notSubscribed, message: "recording sender told to fail \(call.type)") }
    }

    /// Every call recorded, in order.
    var calls: [SchedulerCall] { self.state.withLock { $0.calls } }

    /// The recorded calls of one type.
    func calls(_ type: SchedulerCall.TypeEnum) -> [SchedulerCall] { self.calls.filter { $0.type == type } }

    /// Makes calls of this type fail (or succeed again).
    func setFailing(_ type: SchedulerCall.TypeEnum, _ failing: Bool) {
        self.state.withLock { state in
            if failing { state.failing.insert(type) } else { state.failing.remove(type) }
        }
    }

    /// Forgets the calls recorded so far.
    func reset() { self.state.withLock { $0.calls = [] } }

    /// Waits until at least `count` calls were recorded.
    func waitForCalls(_ count: Int) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready = self.state.withLock { state -> Bool in
                if state.calls.count >= count { return true }
                state.waiters.append((count, continuation))
                return false
            }
            if ready { continuation.resume() }
        }
    }
}

/// Collects notices.
final class NoticeLog: Sendable {
    private let notices = Mutex<[FrameworkNotice]>([])
    func append(_ notice: FrameworkNotice) { self.notices.withLock { $0.append(notice) } }
    var all: [FrameworkNotice] { self.notices.withLock { $0 } }
    var transitions: [ReconciliationDriver.Transition] {
        self.all.compactMap { if case .transition(let t) = $0 { return t } else { return nil } }
    }
}

/// An offer of one agent allocated to one role.
func offer(_ id: String, agent: String, role: String, cpus: Double = 1) -> Offer {
    var offer = Offer()
    offer.id = OfferID(id)
    offer.agentID = AgentID(agent)
    offer.frameworkID = FrameworkID("fw")
    offer.hostname = "\(agent).example"
    var resource = Resource.scalar("cpus", cpus)
    resource.allocationInfo.role = role
    offer.resources = [resource]
    return offer
}

/// A task status as an agent or the master sends it.
func status(
    _ task: String, _ state: TaskState, agent: String? = "A1", uuid: Data? = nil, reason: TaskStatus.Reason? = nil
) -> TaskStatus {
    var status = TaskStatus()
    status.taskID = TaskID(task)
    if let agent { status.agentID = AgentID(agent) }
    status.state = state
    if let uuid { status.uuid = uuid }
    if let reason { status.reason = reason }
    status.source = uuid == nil ? .master : .executor
    return status
}

/// A valid (version 4) uuid made mostly of one repeated byte, so tests can tell uuids apart.
func uuid(_ byte: UInt8) -> Data {
    var bytes = [UInt8](repeating: byte, count: 16)
    bytes[6] = 0x40 | (byte & 0x0F)
    bytes[8] = 0x80 | (byte & 0x3F)
    return Data(bytes)
}

/// SUBSCRIBED for framework `fw`.
let subscribedEvent = SchedulerEvent.subscribed({
    var subscribed = SchedulerEvent.Subscribed()
    subscribed.frameworkID = FrameworkID("fw")
    return subscribed
}())

/// The (task, agent) pairs of a RECONCILE call.
func reconciled(_ call: SchedulerCall) -> [String] {
    call.reconcile.tasks.map { $0.hasAgentID ? "\($0.taskID.value)@\($0.agentID.value)" : $0.taskID.value }
}

/// Services over a recording sender and a manual clock.
func makeServices(
    roles: Set<String> = ["web", "db"],
    declared: Set<String> = [],
    configure: (inout FrameworkServices.Configuration) -> Void = { _ in }
) -> (FrameworkServices, RecordingCalls, ManualClock, NoticeLog) {
    let clock = ManualClock()
    let calls = RecordingCalls()
    let log = NoticeLog()
    var configuration = FrameworkServices.Configuration(clock: clock, random: SplitMix64(seed: 7))
    configure(&configuration)
    let services = FrameworkServices(
        roles: roles, declaredSuppressedRoles: declared, configuration: configuration, calls: calls,
        notices: { log.append($0) })
    return (services, calls, clock, log)
}

/// Waits until `condition` holds, checking every few milliseconds (as `FakeMaster.waitUntil`); the timeout only
/// keeps a broken test from hanging.
func waitUntil(timeout: Duration = .seconds(60), _ condition: @Sendable () -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while !condition() {
        guard ContinuousClock.now < deadline else {
            throw MesosError(code: .timeout, message: "condition still false after \(timeout)")
        }
        try await Task.sleep(for: .milliseconds(5))
    }
}
