import MesosCore

/// The classic scheduler callbacks of libmesos and mesos-go, for code ported from them. Run a conforming type
/// with ``MesosScheduler/run(_:)``, or ``MesosScheduler/start(_:)`` / ``MesosScheduler/runDriver(_:)``. Callbacks
/// come one at a time, in stream order, from the scheduler's loop (a slow callback pauses the stream); with
/// automatic acknowledgements an update is acknowledged after `statusUpdate` returned. Every method has an empty
/// default, so implement only what you need. The
/// `driver` argument is the running ``MesosScheduler``: make calls on it.
public protocol Scheduler: Sendable {
    /// The framework subscribed for the first time.
    func registered(_ driver: MesosScheduler, frameworkID: FrameworkID, masterInfo: MasterInfo?) async
    /// The framework re-subscribed (after a lost connection or a master failover), possibly to a new master.
    func reregistered(_ driver: MesosScheduler, masterInfo: MasterInfo?) async
    /// The subscription was lost; the scheduler is trying again.
    func disconnected(_ driver: MesosScheduler, reason: MesosError) async
    /// New offers.
    func resourceOffers(_ driver: MesosScheduler, offers: [Offer]) async
    /// Inverse offers (maintenance).
    func inverseOffers(_ driver: MesosScheduler, offers: [InverseOffer]) async
    /// An offer is no longer valid.
    func offerRescinded(_ driver: MesosScheduler, offerID: OfferID) async
    /// A task's status changed.
    func statusUpdate(_ driver: MesosScheduler, status: TaskStatus) async
    /// An offer operation's status changed.
    func operationStatusUpdate(_ driver: MesosScheduler, status: OperationStatus) async
    /// A message from an executor.
    func frameworkMessage(_ driver: MesosScheduler, executorID: ExecutorID, agentID: AgentID, data: [UInt8]) async
    /// An agent was lost.
    func agentLost(_ driver: MesosScheduler, agentID: AgentID) async
    /// An executor exited; `status` is the raw wait status.
    func executorLost(_ driver: MesosScheduler, executorID: ExecutorID, agentID: AgentID, status: Int32) async
    /// The subscription ended for good: the master sent ERROR (`message` is its text), or the library gave up
    /// (a permanent HTTP failure, subscription attempts exhausted, authentication refused; `message` describes
    /// the ``MesosError``), as mesos-go's `Error` callback.
    func error(_ driver: MesosScheduler, message: String) async
}

extension Scheduler {
    /// Does nothing.
    public func registered(_ driver: MesosScheduler, frameworkID: FrameworkID, masterInfo: MasterInfo?) async {}
    /// Does nothing.
    public func reregistered(_ driver: MesosScheduler, masterInfo: MasterInfo?) async {}
    /// Does nothing.
    public func disconnected(_ driver: MesosScheduler, reason: MesosError) async {}
    /// Does nothing.
    public func resourceOffers(_ driver: MesosScheduler, offers: [Offer]) async {}
    /// Does nothing.
    public func inverseOffers(_ driver: MesosScheduler, offers: [InverseOffer]) async {}
    /// Does nothing.
    public func offerRescinded(_ driver: MesosScheduler, offerID: OfferID) async {}
    /// Does nothing.
    public func statusUpdate(_ driver: MesosScheduler, status: TaskStatus) async {}
    /// Does nothing.
    public func operationStatusUpdate(_ driver: MesosScheduler, status: OperationStatus) async {}
    /// Does nothing.
    public func frameworkMessage(_ driver: MesosScheduler, executorID: ExecutorID, agentID: AgentID, data: [UInt8]) async {}
    /// Does nothing.
    public func agentLost(_ driver: MesosScheduler, agentID: AgentID) async {}
    /// Does nothing.
    public func executorLost(_ driver: MesosScheduler, executorID: ExecutorID, agentID: AgentID, status: Int32) async {}
    /// Does nothing.
    public func error(_ driver: MesosScheduler, message: String) async {}
}

/// Receives the events and lifecycle changes of one run, from the scheduler's loop, in order.
protocol SchedulerEventSink: Sendable {
    /// An event of the stream.
    func event(_ event: SchedulerEvent) async
    /// A lifecycle change.
    func lifecycle(_ event: SchedulerLifecycleEvent) async
}

/// Turns events and lifecycle changes into ``Scheduler`` callbacks.
struct SchedulerDelegateAdapter<Delegate: Scheduler>: SchedulerEventSink {
    let delegate: Delegate
    let driver: MesosScheduler
    /// Whether an ERROR event already reached `error(_:message:)` (the failure it causes is not reported twice).
    private let errorDelivered = LockedValue(false)

    init(delegate: Delegate, driver: MesosScheduler) {
        self.delegate = delegate
        self.driver = driver
    }

    func event(_ event: SchedulerEvent) async {
        switch event {
        case .subscribed:
            // Delivered from the lifecycle, which knows first subscription from re-subscription.
            break
        case .offers(let offers):
            await self.delegate.resourceOffers(self.driver, offers: offers)
        case .inverseOffers(let offers):
            await self.delegate.inverseOffers(self.driver, offers: offers)
        case .rescind(let id), .rescindInverseOffer(let id):
            await self.delegate.offerRescinded(self.driver, offerID: id)
        case .update(let status):
            await self.delegate.statusUpdate(self.driver, status: status)
        case .updateOperationStatus(let status):
            await self.delegate.operationStatusUpdate(self.driver, status: status)
        case .message(let message):
            await self.delegate.frameworkMessage(
                self.driver, executorID: message.executorID, agentID: message.agentID, data: [UInt8](message.data))
        case .failure(let failure):
            if failure.hasExecutorID {
                await self.delegate.executorLost(
                    self.driver, executorID: failure.executorID, agentID: failure.agentID, status: failure.status)
            } else if failure.hasAgentID {
                await self.delegate.agentLost(self.driver, agentID: failure.agentID)
            }
        case .error(let message):
            self.errorDelivered.withLock { $0 = true }
            await self.delegate.error(self.driver, message: message)
        case .heartbeat, .unknown:
            break
        }
    }

    func lifecycle(_ event: SchedulerLifecycleEvent) async {
        switch event {
        case .subscribed(let subscription):
            await self.delegate.registered(self.driver, frameworkID: subscription.frameworkID, masterInfo: subscription.masterInfo)
        case .resubscribed(let subscription):
            await self.delegate.reregistered(self.driver, masterInfo: subscription.masterInfo)
        case .disconnected(let reason, _):
            await self.delegate.disconnected(self.driver, reason: reason)
        case .failed(let error):
            // The library's own fatal errors (permanent HTTP failure, attempts exhausted, authentication refused),
            // as mesos-go's Error callback; an ERROR event was already delivered as such.
            let already = self.errorDelivered.withLock { $0 }
            if !already {
                await self.delegate.error(self.driver, message: error.description)
            }
        case .stopped:
            break
        }
    }
}
