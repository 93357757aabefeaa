import MesosCore

/// A change in the connection between the scheduler and the master.
public enum SchedulerLifecycleEvent: Sendable, Equatable {
    /// The first subscription of this framework succeeded.
    case subscribed(SubscriptionStateMachine.Subscription)
    /// A re-subscription (after a lost stream or a master failover) succeeded; the subscription carries the new
    /// master's info and stream id.
    case resubscribed(SubscriptionStateMachine.Subscription)
    /// The subscription was lost; a new attempt follows after `retryAfter`.
    case disconnected(reason: MesosError, retryAfter: Duration)
    /// The subscription ended for good (an ERROR event, a permanent failure, or too many attempts).
    case failed(MesosError)
    /// The scheduler stopped on request: ``MesosScheduler/disconnect()``, ``MesosScheduler/teardown()``,
    /// cancellation or graceful shutdown.
    case stopped
}

/// A snapshot of the scheduler's connection, readable at any time (like mesoshttp's `get_master_info` or
/// mesos-go's `Connected`).
public struct SchedulerStatus: Sendable, Equatable {
    /// The subscription state.
    public var state: SubscriptionStateMachine.State
    /// The framework id, once the master assigned one (kept across re-subscriptions).
    public var frameworkID: FrameworkID?
    /// The current `Mesos-Stream-Id`, while subscribed.
    public var streamID: String?
    /// The master of the current (or last) subscription.
    public var master: MasterLocation?
    /// That master's own description, from SUBSCRIBED.
    public var masterInfo: MasterInfo?

    /// `true` while subscribed (calls can be made).
    public var isSubscribed: Bool {
        if case .subscribed = self.state { return true }
        return false
    }
}
