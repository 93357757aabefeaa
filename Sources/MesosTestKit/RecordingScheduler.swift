import MesosCore
import MesosScheduler

/// A ``Scheduler`` delegate that records every callback with its arguments (mesos-go's `MockScheduler`), for
/// tests of framework code and of the scheduler itself.
///
/// ```swift
/// let recorder = RecordingScheduler()
/// scheduler.start(recorder)
/// let offers = try await recorder.next(.resourceOffers)          // waits for the first
/// let third = try await recorder.call(.statusUpdate, number: 3)  // waits for the third
/// #expect(recorder.calls.first?.kind == .registered)
/// ```
///
/// Optional `on…` closures let a test answer a callback (decline an offer, …) while it is recorded; the call is
/// recorded before the closure runs.
public final class RecordingScheduler: Scheduler, Sendable {
    /// One callback with its arguments.
    public enum Call: Sendable, Equatable {
        /// `registered`.
        case registered(frameworkID: FrameworkID, masterInfo: MasterInfo?)
        /// `reregistered`.
        case reregistered(masterInfo: MasterInfo?)
        /// `disconnected`.
        case disconnected(reason: MesosError)
        /// `resourceOffers`.
        case resourceOffers([Offer])
        /// `inverseOffers`.
        case inverseOffers([InverseOffer])
        /// `offerRescinded`.
        case offerRescinded(OfferID)
        /// `statusUpdate`.
        case statusUpdate(TaskStatus)
        /// `operationStatusUpdate`.
        case operationStatusUpdate(OperationStatus)
        /// `frameworkMessage`.
        case frameworkMessage(executorID: ExecutorID, agentID: AgentID, data: [UInt8])
        /// `agentLost`.
        case agentLost(AgentID)
        /// `executorLost`.
        case executorLost(executorID: ExecutorID, agentID: AgentID, status: Int32)
        /// `error`.
        case error(message: String)

        /// The callback's kind.
        public var kind: Kind {
            switch self {
            case .registered: return .registered
            case .reregistered: return .reregistered
            case .disconnected: return .disconnected
            case .resourceOffers: return .resourceOffers
            case .inverseOffers: return .inverseOffers
            case .offerRescinded: return .offerRescinded
            case .statusUpdate: return .statusUpdate
            case .operationStatusUpdate: return .operationStatusUpdate
            case .frameworkMessage: return .frameworkMessage
            case .agentLost: return .agentLost
            case .executorLost: return .executorLost
            case .error: return .error
            }
        }
    }

    /// The ``Scheduler`` callbacks, by name.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        /// `registered`.
        case registered
        /// `reregistered`.
        case reregistered
        /// `disconnected`.
        case disconnected
        /// `resourceOffers`.
        case resourceOffers
        /// `inverseOffers`.
        case inverseOffers
        /// `offerRescinded`.
        case offerRescinded
        /// `statusUpdate`.
        case statusUpdate
        /// `operationStatusUpdate`.
        case operationStatusUpdate
        /// `frameworkMessage`.
        case frameworkMessage
        /// `agentLost`.
        case agentLost
        /// `executorLost`.
        case executorLost
        /// `error`.
        case error
    }

    private struct Waiter {
        var kind: Kind?
        var number: Int
        var id: UInt64
        var continuation: CheckedContinuation<Call?, Never>
    }

    private struct State {
        var calls: [Call] = []
        var waiters: [Waiter] = []
        var nextID: UInt64 = 0
    }

    private let state = LockedValue(State())
    private let onOffers: (@Sendable (MesosScheduler, [Offer]) async -> Void)?
    private let onUpdate: (@Sendable (MesosScheduler, TaskStatus) async -> Void)?

    /// Creates a recorder.
    ///
    /// - Parameters:
    ///   - onOffers: Runs after `resourceOffers` is recorded (for example to decline them).
    ///   - onUpdate: Runs after `statusUpdate` is recorded.
    public init(
        onOffers: (@Sendable (MesosScheduler, [Offer]) async -> Void)? = nil,
        onUpdate: (@Sendable (MesosScheduler, TaskStatus) async -> Void)? = nil
    ) {
        self.onOffers = onOffers
        self.onUpdate = onUpdate
    }

    /// Every call so far, in order.
    public var calls: [Call] {
        self.state.withLock { $0.calls }
    }

    /// The calls of one kind so far, in order.
    public func calls(_ kind: Kind) -> [Call] {
        self.calls.filter { $0.kind == kind }
    }

    /// Waits for the `number`-th call (1-based) of `kind` (or of any kind with `nil`) and returns it; returns at
    /// once if it already happened.
    ///
    /// - Throws: ``MesosError/Code/cancelled`` if the waiting task is cancelled first.
    public func call(_ kind: Kind?, number: Int) async throws(MesosError) -> Call {
        let id = self.state.withLock { state -> UInt64 in
            state.nextID += 1
            return state.nextID
        }
        let call = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Call?, Never>) in
                let ready = self.state.withLock { state -> Call?? in
                    if let found = Self.find(kind, number: number, in: state.calls) { return .some(found) }
                    if Task.isCancelled { return .some(nil) }
                    state.waiters.append(Waiter(kind: kind, number: number, id: id, continuation: continuation))
                    return nil
                }
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: {
            let waiter = self.state.withLock { state -> Waiter? in
                guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                return state.waiters.remove(at: index)
            }
            waiter?.continuation.resume(returning: nil)
        }
        guard let call else {
            throw MesosError(code: .cancelled, message: "Cancelled while waiting for call \(number) of \(kind?.rawValue ?? "any kind")")
        }
        return call
    }

    /// Waits for the first call of `kind` (see ``call(_:number:)``).
    public func next(_ kind: Kind) async throws(MesosError) -> Call {
        try await self.call(kind, number: 1)
    }

    private static func find(_ kind: Kind?, number: Int, in calls: [Call]) -> Call? {
        var seen = 0
        for call in calls where kind == nil || call.kind == kind {
            seen += 1
            if seen == number { return call }
        }
        return nil
    }

    private func record(_ call: Call) {
        let ready = self.state.withLock { state -> [(CheckedContinuation<Call?, Never>, Call)] in
            state.calls.append(call)
            var ready: [(CheckedContinuation<Call?, Never>, Call)] = []
            state.waiters.removeAll { waiter in
                guard let found = Self.find(waiter.kind, number: waiter.number, in: state.calls) else { return false }
                ready.append((waiter.continuation, found))
                return true
            }
            return ready
        }
        for (continuation, call) in ready {
            continuation.resume(returning: call)
        }
    }

    // MARK: - Scheduler

    /// Records `registered`.
    public func registered(_ driver: MesosScheduler, frameworkID: FrameworkID, masterInfo: MasterInfo?) async {
        self.record(.registered(frameworkID: frameworkID, masterInfo: masterInfo))
    }

    /// Records `reregistered`.
    public func reregistered(_ driver: MesosScheduler, masterInfo: MasterInfo?) async {
        self.record(.reregistered(masterInfo: masterInfo))
    }

    /// Records `disconnected`.
    public func disconnected(_ driver: MesosScheduler, reason: MesosError) async {
        self.record(.disconnected(reason: reason))
    }

    /// Records `resourceOffers`, then runs `onOffers`.
    public func resourceOffers(_ driver: MesosScheduler, offers: [Offer]) async {
        self.record(.resourceOffers(offers))
        await self.onOffers?(driver, offers)
    }

    /// Records `inverseOffers`.
    public func inverseOffers(_ driver: MesosScheduler, offers: [InverseOffer]) async {
        self.record(.inverseOffers(offers))
    }

    /// Records `offerRescinded`.
    public func offerRescinded(_ driver: MesosScheduler, offerID: OfferID) async {
        self.record(.offerRescinded(offerID))
    }

    /// Records `statusUpdate`, then runs `onUpdate`.
    public func statusUpdate(_ driver: MesosScheduler, status: TaskStatus) async {
        self.record(.statusUpdate(status))
        await self.onUpdate?(driver, status)
    }

    /// Records `operationStatusUpdate`.
    public func operationStatusUpdate(_ driver: MesosScheduler, status: OperationStatus) async {
        self.record(.operationStatusUpdate(status))
    }

    /// Records `frameworkMessage`.
    public func frameworkMessage(_ driver: MesosScheduler, executorID: ExecutorID, agentID: AgentID, data: [UInt8]) async {
        self.record(.frameworkMessage(executorID: executorID, agentID: agentID, data: data))
    }

    /// Records `agentLost`.
    public func agentLost(_ driver: MesosScheduler, agentID: AgentID) async {
        self.record(.agentLost(agentID))
    }

    /// Records `executorLost`.
    public func executorLost(_ driver: MesosScheduler, executorID: ExecutorID, agentID: AgentID, status: Int32) async {
        self.record(.executorLost(executorID: executorID, agentID: agentID, status: status))
    }

    /// Records `error`.
    public func error(_ driver: MesosScheduler, message: String) async {
        self.record(.error(message: message))
    }
}
