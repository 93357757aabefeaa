import Foundation
import MesosCore

/// Calls to the master. Each is validated before it is sent, carries the live subscription's framework id and
/// `Mesos-Stream-Id`, and fails fast with ``MesosError/Code/notSubscribed`` when there is no live subscription.
/// A 403 "not subscribed" or a stale stream id makes the scheduler re-subscribe (and the call throws).
///
/// At most ``MesosSchedulerConfiguration/maximumCallsInFlight`` calls (default 64) are in flight at once;
/// past that, a call waits (suspended, in arrival order) for one of them to be answered, so no number of
/// callers can make the scheduler open unbounded requests. A call cancelled while it waits throws
/// ``MesosError/Code/cancelled`` without being sent.
extension MesosScheduler: SchedulerCallSender {
    /// Sends any call (except SUBSCRIBE, which the scheduler manages itself).
    ///
    /// - Parameter call: The call; `framework_id` is filled in.
    /// - Throws: ``MesosError``: `.notSubscribed`, `.invalidCall`, or the master's answer classified.
    public func send(_ call: SchedulerCall) async throws(MesosError) {
        guard call.type != .subscribe else {
            throw MesosError(code: .invalidCall, message: "SUBSCRIBE is managed by the scheduler; use run()")
        }
        let (context, master) = try self.state.withLock { state throws(MesosError) in
            (try state.machine.callContext(), state.master)
        }
        try await self.send(call, context: context, master: master)
        switch call.type {
        case .suppress:
            let roles = call.suppress.roles.isEmpty ? self.allRoles : call.suppress.roles
            self.state.withLock { $0.machine.rolesSuppressed(roles) }
        case .revive:
            let roles = call.revive.roles.isEmpty ? self.allRoles : call.revive.roles
            self.state.withLock { $0.machine.rolesRevived(roles) }
        default:
            break
        }
    }

    private var allRoles: [String] {
        let info = self.configuration.frameworkInfo
        return info.roles.isEmpty ? [info.role] : info.roles
    }

    private func send(
        _ call: SchedulerCall,
        context: SubscriptionStateMachine.CallContext,
        master: MasterLocation?
    ) async throws(MesosError) {
        var call = call
        call.frameworkID = context.frameworkID
        if call.type == .updateFramework, !call.updateFramework.frameworkInfo.hasID {
            call.updateFramework.frameworkInfo.id = context.frameworkID
        }
        try call.validate()
        guard let master else {
            throw MesosError(code: .notSubscribed, message: "No master known")
        }
        let body = try self.codec.encode(call)
        let typeName = call.type.wireName
        let failure: MesosError? = try await self.callGate.withSlot { () async throws(MesosError) -> MesosError? in
            let answer: MasterExchange.Answer
            do throws(MesosError) {
                answer = try await self.exchange.post(
                    to: master, path: self.configuration.schedulerPath, body: body, streamID: context.streamID,
                    timeout: self.configuration.callTimeout, idleTimeout: nil)
            } catch {
                self.metrics.call(type: typeName, status: error.shortDescription)
                throw error
            }
            let status = answer.response.status
            self.metrics.call(type: typeName, status: String(status))
            if status == 202 || status == 200 {
                _ = await answer.body.prefixText(limit: 1 << 16)
                return nil
            }
            return MesosError.httpStatus(status, body: await answer.body.prefixText(), location: answer.response.headers["Location"])
        }
        guard let error = failure else { return }
        if error.indicatesSubscriptionLoss || error.code == .notLeader {
            let signal = self.state.withLock { state -> Signal<Interruption>? in
                guard case .subscribed(let live) = state.machine.state, live.streamID == context.streamID else { return nil }
                return state.interruption
            }
            if let signal {
                self.logger.warning("A call showed the subscription is gone; re-subscribing", metadata: ["mesos.error": "\(error)"])
                signal.fire(.resubscribe(error))
            }
        }
        throw error
    }

    /// TEARDOWN: removes the framework from the cluster (all its tasks are killed) and stops ``run()``.
    ///
    /// - Throws: ``MesosError/Code/notSubscribed`` when not subscribed, or the master's answer.
    public func teardown() async throws(MesosError) {
        let (action, master, signal) = try self.state.withLock { state throws(MesosError) in
            (try state.machine.teardownRequested(), state.master, state.interruption)
        }
        defer { signal?.fire(.teardown) }
        guard case .teardown(let context) = action else { return }
        try await self.send(.teardown(), context: context, master: master)
    }

    /// UPDATE_FRAMEWORK: changes the framework's description (roles, capabilities, name, …) in place.
    public func updateFramework(
        _ frameworkInfo: FrameworkInfo,
        suppressedRoles: [String]? = nil,
        offerConstraints: OfferConstraints? = nil
    ) async throws(MesosError) {
        let roles = suppressedRoles ?? self.state.withLock { $0.machine.suppressedRoles.sorted() }
        try await self.send(.updateFramework(frameworkInfo: frameworkInfo, suppressedRoles: roles, offerConstraints: offerConstraints))
    }
}

/// Something that sends scheduler calls for one framework: the running ``MesosScheduler``, or a
/// ``SchedulerCallClient`` attached to a subscription from outside. The typed calls (``decline(_:filters:)``,
/// ``kill(_:agentID:killPolicy:)``, ``acknowledge(_:)-(TaskStatus)``, …) are built on ``send(_:)``.
public protocol SchedulerCallSender: Sendable {
    /// Sends a call other than SUBSCRIBE; `framework_id` is filled in.
    ///
    /// - Throws: ``MesosError``: `.invalidCall`, `.notSubscribed`, or the master's answer classified.
    func send(_ call: SchedulerCall) async throws(MesosError)
}

extension SchedulerCallSender {
    /// ACCEPT: uses offers (all from one agent) for operations; unused resources are declined for
    /// `filters.refuse_seconds`.
    public func accept(_ offerIDs: [OfferID], operations: [OfferOperation], filters: Filters? = nil) async throws(MesosError) {
        try await self.send(.accept(offerIDs: offerIDs, operations: operations, filters: filters))
    }

    /// ACCEPT of one offer.
    public func accept(_ offer: Offer, operations: [OfferOperation], filters: Filters? = nil) async throws(MesosError) {
        try await self.accept([offer.id], operations: operations, filters: filters)
    }

    /// DECLINE: refuses offers for `filters.refuse_seconds` (Mesos's default 5 s).
    public func decline(_ offerIDs: [OfferID], filters: Filters? = nil) async throws(MesosError) {
        try await self.send(.decline(offerIDs: offerIDs, filters: filters))
    }

    /// ACCEPT_INVERSE_OFFERS.
    public func acceptInverseOffers(_ ids: [OfferID], filters: Filters? = nil) async throws(MesosError) {
        try await self.send(.acceptInverseOffers(inverseOfferIDs: ids, filters: filters))
    }

    /// DECLINE_INVERSE_OFFERS.
    public func declineInverseOffers(_ ids: [OfferID], filters: Filters? = nil) async throws(MesosError) {
        try await self.send(.declineInverseOffers(inverseOfferIDs: ids, filters: filters))
    }

    /// REVIVE: resumes offers for these roles (all when empty) and clears their filters.
    public func revive(roles: [String] = []) async throws(MesosError) {
        try await self.send(.revive(roles: roles))
    }

    /// SUPPRESS: stops offers for these roles (all when empty); remembered across re-subscriptions.
    public func suppress(roles: [String] = []) async throws(MesosError) {
        try await self.send(.suppress(roles: roles))
    }

    /// KILL: kills a task, optionally with a kill policy overriding the task's.
    public func kill(_ taskID: TaskID, agentID: AgentID? = nil, killPolicy: KillPolicy? = nil) async throws(MesosError) {
        try await self.send(.kill(taskID: taskID, agentID: agentID, killPolicy: killPolicy))
    }

    /// SHUTDOWN: stops an executor and its tasks.
    public func shutdown(executorID: ExecutorID, agentID: AgentID) async throws(MesosError) {
        try await self.send(.shutdown(executorID: executorID, agentID: agentID))
    }

    /// ACKNOWLEDGE a status update (only updates with a uuid may be acknowledged).
    public func acknowledge(_ status: TaskStatus) async throws(MesosError) {
        try await self.send(try SchedulerCall.acknowledge(status))
    }

    /// ACKNOWLEDGE_OPERATION_STATUS for an operation status update.
    public func acknowledge(_ status: OperationStatus) async throws(MesosError) {
        try await self.send(try SchedulerCall.acknowledge(status))
    }

    /// RECONCILE: explicit for the given tasks, implicit (all tasks the master knows) when empty.
    public func reconcile(_ tasks: [(taskID: TaskID, agentID: AgentID?)] = []) async throws(MesosError) {
        try await self.send(.reconcile(tasks: tasks))
    }

    /// RECONCILE_OPERATIONS.
    public func reconcileOperations(
        _ operations: [(operationID: OperationID, agentID: AgentID?, resourceProviderID: ResourceProviderID?)] = []
    ) async throws(MesosError) {
        try await self.send(.reconcileOperations(operations: operations))
    }

    /// MESSAGE: sends bytes to an executor.
    public func message(agentID: AgentID, executorID: ExecutorID, data: Data) async throws(MesosError) {
        try await self.send(.message(agentID: agentID, executorID: executorID, data: data))
    }

    /// REQUEST: asks the allocator for resources.
    public func request(_ requests: [ResourceRequest]) async throws(MesosError) {
        try await self.send(.request(requests))
    }

}
