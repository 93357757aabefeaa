import Foundation
import Logging
import MesosCore
import MesosRecordIO
import ServiceLifecycle

/// A Mesos framework's scheduler: it subscribes to the leading master, delivers typed events, makes calls,
/// and keeps the subscription alive through dropped connections, master failovers and lost heartbeats.
///
/// Run it as a swift-service-lifecycle `Service` (``run()``), scoped with ``withSubscription(_:)``, or with the
/// mesos-go driver surface (``start()``, ``join()``, ``runDriver()``, ``stop(failover:)``, ``abort()``,
/// ``driverStatus``). Receive events in any of these ways, all fed from the same ordered stream:
/// - ``events``: an `AsyncSequence` of ``SchedulerEvent``;
/// - ``on(_:_:)`` and the typed ``onOffers(_:)``, ``onUpdate(_:)``, ``onSubscribed(_:)``, …: callbacks per
///   event kind, in the style of mesoshttp;
/// - ``run(_:)`` / ``start(_:)`` with a ``Scheduler`` delegate, in the style of libmesos and mesos-go.
///
/// At most ``MesosSchedulerConfiguration/maximumCallsInFlight`` calls are in flight; further calls wait for a
/// slot. The default logger logs nothing; pass one to see the scheduler's log.
///
/// ```swift
/// let scheduler = MesosScheduler(configuration: .init(
///     frameworkInfo: info, master: .fixed(.init(host: "127.0.0.1", port: 5050)), transport: .curl()))
/// try await scheduler.withSubscription { events in
///     for try await event in events {
///         if case .offers(let offers) = event { try await scheduler.decline(offers.map(\.id)) }
///     }
/// }
/// ```
///
/// Behaviour: every non-SUBSCRIBE call carries `Mesos-Stream-Id` and fails fast with
/// ``MesosError/Code/notSubscribed`` while there is no live subscription; 307 answers are followed to the leader;
/// 503, dropped streams, heartbeat loss (no event for `heartbeatTolerance` × the interval the master advertised),
/// 403 "not subscribed" and
/// stale stream ids lead to a re-subscription with the same framework id after an exponential, fully jittered
/// backoff, declaring suppressed roles again; an ERROR event ends the subscription (no resubscribe storm after
/// "Framework failed over"); a slow consumer pauses the stream instead of losing events.
public final class MesosScheduler: Service, Sendable {
    /// The configuration.
    public let configuration: MesosSchedulerConfiguration
    let logger: Logger
    let codec: MesosCodec
    let exchange: MasterExchange
    /// The event buffer of the current (or last) run; a new run after a finished one gets a fresh buffer.
    var buffer: EventBuffer<SchedulerEvent> {
        self.state.withLock { $0.buffer }
    }
    let metrics: SchedulerMetrics
    /// The clock of the heartbeat watchdog and the backoff between subscription attempts.
    let time: TimeSource
    let state: LockedValue<State>
    /// Bounds the calls in flight (``MesosSchedulerConfiguration/maximumCallsInFlight``).
    let callGate: CallGate

    /// Why a live subscription is being interrupted from outside its reading loop.
    enum Interruption: Sendable {
        case disconnect
        case teardown
        case resubscribe(MesosError)
    }

    struct State {
        var machine: SubscriptionStateMachine
        var buffer: EventBuffer<SchedulerEvent>
        var master: MasterLocation?
        var masterInfo: MasterInfo?
        var running = false
        var interruption: Signal<Interruption>?
        var pendingStop: Interruption?
        var handlers: [(kind: SchedulerEventKind?, handler: @Sendable (SchedulerEvent) async throws -> Void)] = []
        var observers: [UInt64: AsyncStream<SchedulerLifecycleEvent>.Continuation] = [:]
        var nextObserver: UInt64 = 0
        var streamAttached = false
        var pushLeader: MasterLocation??
        var detectorFailure: MesosError?
        /// ``Scheduler`` delegates of the current run, called from the loop in stream order.
        var sinks: [UInt64: any SchedulerEventSink] = [:]
        var nextSink: UInt64 = 0
        /// The mesos-go style driver surface (``start()``, ``join()``, ``stop(failover:)``, ``abort()``).
        var driver = DriverState()
    }

    struct DriverState {
        var status: DriverStatus = .notStarted
        var done: Signal<Void>?
        var failure: MesosError?
    }

    /// Creates a scheduler. Nothing happens until ``run()`` (or ``withSubscription(_:)``, or ``start()``).
    ///
    /// - Parameters:
    ///   - configuration: The framework, discovery, transport and policies. When `frameworkInfo.principal` is
    ///     empty and the authenticator is a ``MesosPrincipalAuthenticator`` (Basic credentials, a DC/OS service
    ///     account), the principal is set to the authenticator's (``configuration`` shows the result).
    ///   - logger: Where to log; credentials and tokens are never logged. The default logs nothing: a library
    ///     does not print unless the application asks, so pass a logger (for example
    ///     `Logger(label: "mesos.scheduler")` after `LoggingSystem.bootstrap`) to see the scheduler's log.
    public init(configuration: MesosSchedulerConfiguration, logger: Logger = MesosScheduler.silentLogger("mesos.scheduler")) {
        var configuration = configuration
        if configuration.frameworkInfo.principal.isEmpty,
           let principal = (configuration.authenticator as? any MesosPrincipalAuthenticator)?.principal, !principal.isEmpty {
            // A DC/OS service account (or Basic credentials) authenticates as this principal; Mesos authorizes
            // the framework by FrameworkInfo.principal, so an empty one takes the authenticator's.
            configuration.frameworkInfo.principal = principal
        }
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: "mesos.framework"] = .string(configuration.frameworkInfo.name)
        self.logger = logger
        self.codec = MesosCodec(configuration.contentType)
        self.exchange = MasterExchange(
            transport: configuration.transport,
            authenticator: configuration.authenticator,
            contentType: configuration.contentType,
            maximumRedirects: configuration.maximumRedirects
        )
        self.metrics = SchedulerMetrics()
        self.time = TimeSource(configuration.clock)
        let machine = SubscriptionStateMachine(
            configuration: .init(
                backoff: configuration.backoff,
                heartbeatTolerance: configuration.heartbeatTolerance,
                defaultHeartbeatInterval: configuration.heartbeatInterval,
                maximumAttempts: configuration.maximumSubscriptionAttempts
            ),
            frameworkID: configuration.frameworkInfo.hasID ? configuration.frameworkInfo.id : nil,
            suppressedRoles: configuration.suppressedRoles
        )
        self.state = LockedValue(State(machine: machine, buffer: EventBuffer<SchedulerEvent>(capacity: max(1, configuration.eventBufferSize))))
        self.callGate = CallGate(limit: max(1, configuration.maximumCallsInFlight))
    }

    /// A logger that discards everything: the default of every swift-mesos service, so that a library never
    /// prints on its own. Pass your own `Logger` to the service's initialiser to see its log.
    public static func silentLogger(_ label: String) -> Logger {
        Logger(label: label, factory: { _ in SwiftLogNoOpLogHandler() })
    }

    // MARK: - Observing

    /// The connection as it stands now.
    public var status: SchedulerStatus {
        self.state.withLock { state in
            var status = SchedulerStatus(
                state: state.machine.state,
                frameworkID: state.machine.frameworkID,
                streamID: nil,
                master: state.master,
                masterInfo: state.masterInfo
            )
            if case .subscribed(let subscription) = state.machine.state {
                status.streamID = subscription.streamID
            }
            return status
        }
    }

    /// A new stream of lifecycle changes (subscribed, resubscribed, disconnected, failed, stopped) from now on.
    /// Each call returns an independent stream; it finishes when the scheduler stops.
    public func lifecycleEvents() -> AsyncStream<SchedulerLifecycleEvent> {
        let (stream, continuation) = AsyncStream<SchedulerLifecycleEvent>.makeStream(bufferingPolicy: .bufferingNewest(64))
        let id = self.state.withLock { state -> UInt64 in
            state.nextObserver += 1
            state.observers[state.nextObserver] = continuation
            return state.nextObserver
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.observers.removeValue(forKey: id) }
        }
        return stream
    }

    func emit(_ event: SchedulerLifecycleEvent) {
        let observers = self.state.withLock { Array($0.observers.values) }
        for observer in observers {
            observer.yield(event)
        }
    }

    /// Publishes a lifecycle change to ``lifecycleEvents()`` and hands it to the ``Scheduler`` delegates, on
    /// the loop's own path: a delegate sees `registered` before the first offer and `disconnected` after the
    /// last event of the lost stream.
    func deliverLifecycle(_ event: SchedulerLifecycleEvent) async {
        self.emit(event)
        let sinks = self.state.withLock { state in state.sinks.sorted { $0.key < $1.key }.map(\.value) }
        for sink in sinks {
            await sink.lifecycle(event)
        }
    }

    // MARK: - Events

    /// The ordered stream of events. Iterate it once, while ``run()`` runs. With automatic acknowledgements,
    /// an update is acknowledged when the loop asks for the next event (that is, after the loop body handled
    /// it). The sequence ends when the scheduler stops, or throws the ``MesosError`` that ended it.
    public var events: SchedulerEventStream {
        self.state.withLock { state in
            state.streamAttached = true
            if !state.running, state.buffer.isFinished {
                // A new consumer before the next run(): give it the buffer that run will fill.
                state.buffer = EventBuffer<SchedulerEvent>(capacity: max(1, self.configuration.eventBufferSize))
            }
        }
        return SchedulerEventStream(scheduler: self)
    }

    /// Registers a callback for one kind of event (or for every event with `nil`), like mesoshttp's
    /// `on(event, callback)`. Callbacks run in registration order on the event loop, one event at a time; a
    /// slow callback pauses the stream. With automatic acknowledgements, updates are acknowledged after all
    /// callbacks returned. A callback that throws is logged and does not stop the scheduler.
    ///
    /// Register callbacks before ``run()``. Callbacks stay registered for the scheduler's lifetime (every
    /// later run delivers to them too); for typed variants see ``onOffers(_:)``, ``onSubscribed(_:)`` and the
    /// other `on…` methods.
    public func on(_ kind: SchedulerEventKind?, _ callback: @escaping @Sendable (SchedulerEvent) async throws -> Void) {
        self.state.withLock { $0.handlers.append((kind, callback)) }
    }

    // MARK: - Running

    /// Subscribes and keeps the subscription alive until the scheduler is stopped (``disconnect()``,
    /// ``teardown()``, task cancellation, graceful shutdown) or fails for good.
    ///
    /// - Throws: The ``MesosError`` that ended the subscription (an ERROR event, a permanent HTTP failure, too
    ///   many attempts); ``MesosError/Code/invalidState`` if already running.
    public func run() async throws {
        try await self.run(sink: nil)
    }

    /// ``run()`` with a delegate registered for the duration of this run only.
    ///
    /// - Parameter asDriver: This is the driver's run (``start()``): it does not begin if ``stop(failover:)`` or
    ///   ``abort()`` came first.
    func run(sink: (any SchedulerEventSink)?, asDriver: Bool = false) async throws {
        let sinkID = try self.state.withLock { state throws(MesosError) -> UInt64?? in
            guard !state.running else {
                throw MesosError(code: .invalidState, message: "The scheduler is already running")
            }
            if asDriver, state.driver.status != .running {
                return .none
            }
            state.running = true
            if state.buffer.isFinished {
                // Running again (after disconnect()): the previous run's event stream has ended.
                state.buffer = EventBuffer<SchedulerEvent>(capacity: max(1, self.configuration.eventBufferSize))
            }
            guard let sink else { return .some(nil) }
            state.nextSink += 1
            state.sinks[state.nextSink] = sink
            return .some(state.nextSink)
        }
        guard let sinkID else {
            // The driver was stopped before its run began.
            return
        }
        defer {
            self.state.withLock { state in
                state.running = false
                if let sinkID { state.sinks.removeValue(forKey: sinkID) }
            }
        }
        do {
            try await withGracefulShutdownHandler {
                try await self.runLoop()
            } onGracefulShutdown: {
                self.logger.info("Graceful shutdown: leaving the framework registered for failover")
                self.disconnect()
            }
        } catch let error as MesosError where error.code != .cancelled {
            self.buffer.finish(throwing: error)
            await self.deliverLifecycle(.failed(error))
            self.finishObservers()
            throw error
        } catch {
            // Cancellation of the running task: a stop like any other.
        }
        self.buffer.finish()
        await self.deliverLifecycle(.stopped)
        self.finishObservers()
    }

    /// Runs the scheduler for the duration of `body`, which receives the event stream. When `body` returns,
    /// the subscription is closed without tearing the framework down (like ``disconnect()``).
    ///
    /// - Returns: What `body` returns.
    /// - Throws: What `body` throws, or the error that ended the subscription.
    public func withSubscription<Result: Sendable>(
        _ body: @Sendable (SchedulerEventStream) async throws -> Result
    ) async throws -> Result {
        let events = self.events
        return try await withThrowingTaskGroup(of: Result?.self) { group in
            group.addTask {
                try await self.run()
                return nil
            }
            let result: Result
            do {
                result = try await body(events)
            } catch {
                self.disconnect()
                group.cancelAll()
                throw error
            }
            self.disconnect()
            group.cancelAll()
            while let _ = try? await group.next() {}
            return result
        }
    }

    /// Runs the scheduler, delivering events to a ``Scheduler`` delegate (libmesos / mesos-go style).
    ///
    /// Every callback comes from the scheduler's loop, in stream order: `registered` (or `reregistered`) before
    /// the offers and updates of that subscription, `disconnected` after the last event of the lost stream,
    /// and `error` for an ERROR event or for the failure that ends the run (permanent HTTP failure, attempts
    /// exhausted, authentication refused). The delegate is attached to this run only: running again (after
    /// ``disconnect()``) with a delegate does not deliver events twice.
    ///
    /// - Throws: What ``run()`` throws.
    public func run(_ delegate: some Scheduler) async throws {
        try await self.run(sink: SchedulerDelegateAdapter(delegate: delegate, driver: self))
    }

    /// Closes the subscription and stops ``run()`` without tearing the framework down: the master keeps it
    /// (and its tasks) for `failover_timeout`, so a later scheduler with the same framework id can take over.
    public func disconnect() {
        let (action, signal) = self.state.withLock { state in
            (state.machine.disconnectRequested(), state.interruption)
        }
        self.logger.debug("Disconnect requested", metadata: ["mesos.action": "\(action)"])
        if let signal {
            signal.fire(.disconnect)
        } else {
            // Between two subscription attempts (or while run() is starting): stop at the next opportunity.
            self.state.withLock { state in
                if state.running { state.pendingStop = .disconnect }
            }
        }
    }

    private func finishObservers() {
        let observers = self.state.withLock { state -> [AsyncStream<SchedulerLifecycleEvent>.Continuation] in
            defer { state.observers = [:] }
            return Array(state.observers.values)
        }
        for observer in observers { observer.finish() }
    }
}

/// The kinds of scheduler events, for ``MesosScheduler/on(_:_:)``.
public enum SchedulerEventKind: String, Sendable, Hashable, CaseIterable {
    /// SUBSCRIBED
    case subscribed = "SUBSCRIBED"
    /// OFFERS
    case offers = "OFFERS"
    /// INVERSE_OFFERS
    case inverseOffers = "INVERSE_OFFERS"
    /// RESCIND
    case rescind = "RESCIND"
    /// RESCIND_INVERSE_OFFER
    case rescindInverseOffer = "RESCIND_INVERSE_OFFER"
    /// UPDATE
    case update = "UPDATE"
    /// UPDATE_OPERATION_STATUS
    case updateOperationStatus = "UPDATE_OPERATION_STATUS"
    /// MESSAGE
    case message = "MESSAGE"
    /// FAILURE
    case failure = "FAILURE"
    /// ERROR
    case error = "ERROR"
    /// HEARTBEAT
    case heartbeat = "HEARTBEAT"
    /// Any event type this library does not know.
    case unknown = "UNKNOWN"

    /// The kind of an event.
    public init(_ event: SchedulerEvent) {
        if case .unknown = event {
            self = .unknown
        } else {
            self = SchedulerEventKind(rawValue: event.typeName) ?? .unknown
        }
    }
}
