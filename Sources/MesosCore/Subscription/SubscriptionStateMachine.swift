/// The life of one framework's subscription, as a pure state machine.
///
/// The machine does no I/O and keeps no clocks. The service that owns the connection tells it what happened
/// (an input method), and it answers with an ``Action`` saying what the service must do next. Inputs that make
/// no sense in the current state throw ``MesosError/Code/invalidState`` and change nothing.
///
/// ```
///             subscribeRequested            streamOpened + subscribedReceived
/// unsubscribed ─────────────────▶ subscribing ─────────────────────────────▶ subscribed
///      ▲                           ▲     │ streamEnded (temporary)               │ streamEnded / heartbeatMissed
///      │ disconnect/teardown       │     ▼                                       ▼
///      └────────────────── backoffElapsed ◀──────────── disconnected ◀───────────┘
///                    errorReceived, permanent failure, too many attempts ──▶ failed
/// ```
///
/// The machine remembers the framework id across subscriptions, so every re-subscription is a failover with
/// the same id, and the roles the framework has suppressed, so that every SUBSCRIBE can declare them again
/// (the master forgets suppression when a framework re-subscribes).
public struct SubscriptionStateMachine: Sendable {
    /// Tunables of the machine.
    public struct Configuration: Sendable, Hashable {
        /// Delays between subscription attempts.
        public var backoff: BackoffPolicy
        /// How many heartbeat intervals may pass without any byte before the stream is declared dead.
        public var heartbeatTolerance: Double
        /// The heartbeat interval assumed when SUBSCRIBED does not announce one (Mesos's is fixed at 15 s).
        public var defaultHeartbeatInterval: Duration
        /// The most consecutive failed attempts before giving up, or `nil` to retry forever.
        public var maximumAttempts: Int?

        /// Creates a configuration.
        ///
        /// - Parameters:
        ///   - backoff: Delays between attempts (default ``BackoffPolicy/default``).
        ///   - heartbeatTolerance: Missed intervals before the stream is dead (default 5).
        ///   - defaultHeartbeatInterval: Interval assumed when none is announced (default 15 s).
        ///   - maximumAttempts: Attempts before giving up (default unlimited).
        public init(
            backoff: BackoffPolicy = .default,
            heartbeatTolerance: Double = 5,
            defaultHeartbeatInterval: Duration = .seconds(15),
            maximumAttempts: Int? = nil
        ) {
            self.backoff = backoff
            self.heartbeatTolerance = heartbeatTolerance
            self.defaultHeartbeatInterval = defaultHeartbeatInterval
            self.maximumAttempts = maximumAttempts
        }
    }

    /// A live subscription.
    public struct Subscription: Sendable, Equatable {
        /// The framework's id, assigned by the master on first subscription.
        public var frameworkID: FrameworkID
        /// The `Mesos-Stream-Id` of this subscription; every other call must carry it.
        public var streamID: String
        /// The heartbeat interval the master announced.
        public var heartbeatInterval: Duration
        /// The master that accepted the subscription, when it said.
        public var masterInfo: MasterInfo?
        /// `true` when this client had been subscribed before (a failover re-subscription).
        public var isResubscription: Bool

        /// Creates a subscription value.
        public init(
            frameworkID: FrameworkID,
            streamID: String,
            heartbeatInterval: Duration,
            masterInfo: MasterInfo?,
            isResubscription: Bool
        ) {
            self.frameworkID = frameworkID
            self.streamID = streamID
            self.heartbeatInterval = heartbeatInterval
            self.masterInfo = masterInfo
            self.isResubscription = isResubscription
        }
    }

    /// What a SUBSCRIBE must carry.
    public struct SubscribeRequest: Sendable, Equatable {
        /// The framework id to fail over to, or `nil` for a new framework.
        public var frameworkID: FrameworkID?
        /// The roles to declare suppressed, sorted.
        public var suppressedRoles: [String]
        /// The attempt number since the last successful subscription, starting at 1.
        public var attempt: Int

        /// Creates a request description.
        public init(frameworkID: FrameworkID?, suppressedRoles: [String], attempt: Int) {
            self.frameworkID = frameworkID
            self.suppressedRoles = suppressedRoles
            self.attempt = attempt
        }
    }

    /// What a non-SUBSCRIBE call needs: the ids that go into its body and headers.
    public struct CallContext: Sendable, Equatable {
        /// Goes into `Call.framework_id`.
        public var frameworkID: FrameworkID
        /// Goes into the `Mesos-Stream-Id` header.
        public var streamID: String

        /// Creates a call context.
        public init(frameworkID: FrameworkID, streamID: String) {
            self.frameworkID = frameworkID
            self.streamID = streamID
        }
    }

    /// Where the subscription stands.
    public enum State: Sendable, Equatable {
        /// Not subscribed and not trying to be: the initial state, and the state after ``disconnectRequested()``
        /// or ``teardownRequested()``.
        case unsubscribed
        /// A SUBSCRIBE is in flight. `streamID` is set once the response headers arrived.
        case subscribing(attempt: Int, streamID: String?)
        /// SUBSCRIBED arrived; calls may be made.
        case subscribed(Subscription)
        /// The subscription was lost and a new attempt is scheduled.
        case disconnected(reason: MesosError, nextAttempt: Int)
        /// The subscription cannot continue without the user's intervention.
        case failed(MesosError)
    }

    /// What the owner of the connection must do after an input.
    public enum Action: Sendable, Equatable {
        /// Nothing.
        case none
        /// Open a new connection and send SUBSCRIBE as described.
        case openStream(SubscribeRequest)
        /// The subscription is live: deliver it, and treat the stream as dead if no byte arrives for
        /// `heartbeatTimeout`.
        case subscribed(Subscription, heartbeatTimeout: Duration)
        /// Close the current stream if it is still open, wait `delay`, then call ``backoffElapsed()``.
        case resubscribe(after: Duration, attempt: Int, reason: MesosError)
        /// Close the current stream if it is still open, and surface `error`: the subscription is over.
        case fail(MesosError)
        /// Close the current stream; the framework stays registered on the master until its failover timeout.
        case closeStream
        /// Send TEARDOWN with this context, then close the stream.
        case teardown(CallContext)
    }

    /// The current state.
    public private(set) var state: State = .unsubscribed
    /// The framework id known to this client: set by the first SUBSCRIBED, or given up front for failover.
    public private(set) var frameworkID: FrameworkID?
    /// Roles currently suppressed; declared again on every SUBSCRIBE.
    public private(set) var suppressedRoles: Set<String> = []
    /// The configuration.
    public let configuration: Configuration

    private var random: SplitMix64
    private var everSubscribed = false

    /// Creates a machine.
    ///
    /// - Parameters:
    ///   - configuration: Tunables.
    ///   - frameworkID: An id to fail over to on the first SUBSCRIBE (a scheduler restarting), or `nil`.
    ///   - suppressedRoles: Roles to declare suppressed from the first SUBSCRIBE on.
    ///   - seed: Seeds the jitter, for reproducible tests; `nil` seeds from the system.
    public init(
        configuration: Configuration = .init(),
        frameworkID: FrameworkID? = nil,
        suppressedRoles: Set<String> = [],
        seed: UInt64? = nil
    ) {
        self.configuration = configuration
        self.frameworkID = frameworkID
        self.suppressedRoles = suppressedRoles
        self.random = seed.map(SplitMix64.init(seed:)) ?? SplitMix64()
        self.everSubscribed = frameworkID != nil
    }

    /// `true` when calls other than SUBSCRIBE may be sent.
    public var canSendCalls: Bool {
        if case .subscribed = self.state { return true }
        return false
    }

    /// The ids a call needs now.
    ///
    /// - Throws: ``MesosError/Code/notSubscribed`` unless the state is ``State/subscribed(_:)``.
    public func callContext() throws(MesosError) -> CallContext {
        guard case .subscribed(let subscription) = self.state else {
            throw MesosError(code: .notSubscribed, message: "No live subscription (state: \(self.stateName))")
        }
        return CallContext(frameworkID: subscription.frameworkID, streamID: subscription.streamID)
    }

    // MARK: - Inputs

    /// The user asked to subscribe.
    ///
    /// Allowed from ``State/unsubscribed`` and ``State/failed(_:)`` (a deliberate new start).
    public mutating func subscribeRequested() throws(MesosError) -> Action {
        switch self.state {
        case .unsubscribed, .failed:
            return self.startAttempt(1)
        default:
            throw self.illegal("subscribeRequested")
        }
    }

    /// The SUBSCRIBE response arrived with status 200 and this `Mesos-Stream-Id`.
    public mutating func streamOpened(streamID: String) throws(MesosError) -> Action {
        guard case .subscribing(let attempt, nil) = self.state else {
            throw self.illegal("streamOpened")
        }
        guard !streamID.isEmpty else {
            return self.streamFailed(
                MesosError(code: .malformedStream, message: "SUBSCRIBE response carried no Mesos-Stream-Id"),
                attempt: attempt
            )
        }
        self.state = .subscribing(attempt: attempt, streamID: streamID)
        return .none
    }

    /// The first event of the stream, SUBSCRIBED, arrived.
    ///
    /// - Parameters:
    ///   - frameworkID: `subscribed.framework_id`.
    ///   - heartbeatIntervalSeconds: `subscribed.heartbeat_interval_seconds`, if present.
    ///   - masterInfo: `subscribed.master_info`, if present.
    public mutating func subscribedReceived(
        frameworkID: FrameworkID,
        heartbeatIntervalSeconds: Double?,
        masterInfo: MasterInfo?
    ) throws(MesosError) -> Action {
        guard case .subscribing(_, let streamID?) = self.state else {
            throw self.illegal("subscribedReceived")
        }
        if let known = self.frameworkID, known != frameworkID {
            let error = MesosError(
                code: .malformedStream,
                message: "SUBSCRIBED for framework \(frameworkID.value), expected \(known.value)"
            )
            self.state = .failed(error)
            return .fail(error)
        }
        let interval: Duration
        if let seconds = heartbeatIntervalSeconds, seconds.isFinite, seconds > 0 {
            // Saturating: a master that advertises an absurd interval must not crash the scheduler.
            interval = Duration(saturatingSeconds: seconds)
        } else {
            interval = self.configuration.defaultHeartbeatInterval
        }
        let subscription = Subscription(
            frameworkID: frameworkID,
            streamID: streamID,
            heartbeatInterval: interval,
            masterInfo: masterInfo,
            isResubscription: self.everSubscribed
        )
        self.frameworkID = frameworkID
        self.everSubscribed = true
        self.state = .subscribed(subscription)
        return .subscribed(subscription, heartbeatTimeout: interval * self.configuration.heartbeatTolerance)
    }

    /// An ERROR event arrived. Mesos closes the stream after it; the subscription is over.
    ///
    /// - Parameter message: `error.message`.
    public mutating func errorReceived(message: String) throws(MesosError) -> Action {
        let beforeSubscribed: Bool
        switch self.state {
        case .subscribing: beforeSubscribed = true
        case .subscribed: beforeSubscribed = false
        default: throw self.illegal("errorReceived")
        }
        let error = MesosError.errorEvent(message, beforeSubscribed: beforeSubscribed)
        self.state = .failed(error)
        return .fail(error)
    }

    /// The stream ended, or the SUBSCRIBE request failed.
    ///
    /// While subscribing, temporary failures, redirects and subscription-loss errors are retried with backoff
    /// and everything else (401, 400, 415, …) fails. A stream that was live is always re-subscribed.
    ///
    /// - Parameter error: Why it ended; `nil` for a clean end of stream.
    public mutating func streamEnded(_ error: MesosError?) throws(MesosError) -> Action {
        let reason = error ?? MesosError(code: .streamEnded, message: "The master closed the event stream")
        switch self.state {
        case .subscribing(let attempt, _):
            return self.streamFailed(reason, attempt: attempt)
        case .subscribed:
            return self.scheduleAttempt(1, reason: reason)
        default:
            throw self.illegal("streamEnded")
        }
    }

    /// Nothing arrived on the stream within the heartbeat timeout.
    public mutating func heartbeatMissed() throws(MesosError) -> Action {
        guard case .subscribed(let subscription) = self.state else {
            throw self.illegal("heartbeatMissed")
        }
        let timeout = subscription.heartbeatInterval * self.configuration.heartbeatTolerance
        let reason = MesosError(code: .heartbeatTimeout, message: "No bytes on the event stream for \(timeout)")
        return self.scheduleAttempt(1, reason: reason)
    }

    /// The backoff delay of a ``Action/resubscribe(after:attempt:reason:)`` has passed.
    public mutating func backoffElapsed() throws(MesosError) -> Action {
        guard case .disconnected(_, let attempt) = self.state else {
            throw self.illegal("backoffElapsed")
        }
        return self.startAttempt(attempt)
    }

    /// The user wants to leave without tearing the framework down (it stays on the master until its failover
    /// timeout, and its tasks keep running). The framework id is kept for a later ``subscribeRequested()``.
    ///
    /// Idempotent: from ``State/unsubscribed`` it returns ``Action/none``.
    public mutating func disconnectRequested() -> Action {
        switch self.state {
        case .unsubscribed:
            return .none
        default:
            self.state = .unsubscribed
            return .closeStream
        }
    }

    /// The user wants to remove the framework from the cluster (all its tasks are killed).
    ///
    /// - Throws: ``MesosError/Code/notSubscribed`` unless subscribed: TEARDOWN needs a live stream id.
    public mutating func teardownRequested() throws(MesosError) -> Action {
        let context = try self.callContext()
        self.state = .unsubscribed
        self.frameworkID = nil
        self.everSubscribed = false
        self.suppressedRoles = []
        return .teardown(context)
    }

    /// Record that these roles were suppressed (a SUPPRESS call was accepted).
    public mutating func rolesSuppressed(_ roles: some Sequence<String>) {
        self.suppressedRoles.formUnion(roles)
    }

    /// Record that these roles were revived (a REVIVE call was accepted).
    public mutating func rolesRevived(_ roles: some Sequence<String>) {
        self.suppressedRoles.subtract(roles)
    }

    // MARK: - Internals

    private mutating func startAttempt(_ attempt: Int) -> Action {
        self.state = .subscribing(attempt: attempt, streamID: nil)
        return .openStream(
            SubscribeRequest(frameworkID: self.frameworkID, suppressedRoles: self.suppressedRoles.sorted(), attempt: attempt)
        )
    }

    private mutating func streamFailed(_ reason: MesosError, attempt: Int) -> Action {
        let retryable = reason.isTemporary || reason.indicatesSubscriptionLoss || reason.code == .notLeader
            || reason.code == .tooManyRedirects
        guard retryable else {
            self.state = .failed(reason)
            return .fail(reason)
        }
        return self.scheduleAttempt(attempt + 1, reason: reason)
    }

    private mutating func scheduleAttempt(_ attempt: Int, reason: MesosError) -> Action {
        if let maximum = self.configuration.maximumAttempts, attempt > maximum {
            let error = MesosError(
                code: reason.code,
                message: "Gave up after \(maximum) subscription attempts: \(reason.message)",
                httpStatus: reason.httpStatus,
                cause: reason.cause
            )
            self.state = .failed(error)
            return .fail(error)
        }
        let delay = self.configuration.backoff.delay(forAttempt: attempt, using: &self.random)
        self.state = .disconnected(reason: reason, nextAttempt: attempt)
        return .resubscribe(after: delay, attempt: attempt, reason: reason)
    }

    private var stateName: String {
        switch self.state {
        case .unsubscribed: return "unsubscribed"
        case .subscribing: return "subscribing"
        case .subscribed: return "subscribed"
        case .disconnected: return "disconnected"
        case .failed: return "failed"
        }
    }

    private func illegal(_ input: String) -> MesosError {
        MesosError(code: .invalidState, message: "\(input) is not allowed while \(self.stateName)")
    }
}
