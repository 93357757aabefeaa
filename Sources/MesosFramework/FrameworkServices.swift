import Foundation
import Logging
import MesosCore
import MesosScheduler

/// The application services working together: an ``OfferBook``, a ``SuppressReviveController``, an
/// ``AcknowledgementManager`` and a ``ReconciliationDriver``, fed with the scheduler's events and issuing DECLINE,
/// SUPPRESS, REVIVE, ACKNOWLEDGE(_OPERATION_STATUS), RECONCILE and KILL through a ``SchedulerCallSender``.
///
/// Design:
/// - Inputs: ``handle(_:)`` for every event, in stream order, and ``connectionLost()`` when the stream is gone.
///   ``attach(to:)`` (or ``init(scheduler:configuration:notices:logger:)``) does both for a ``MesosScheduler``:
///   its callbacks run on the scheduler's loop, so each event is handled before the next is read.
/// - Outputs: calls through the sender (the ``MesosScheduler`` itself, or a test's recording sender), and
///   ``FrameworkNotice``s for the application.
/// - Time: every deadline (offer hold time, debounce and revive repeat, reconciliation backoff and implicit runs)
///   is measured on the injected clock. ``run()`` sleeps on it until the next deadline and calls
///   ``performDueWork()``; a test with a manual clock may call ``performDueWork()`` itself.
/// - Each SUBSCRIBED starts a new *generation*: the offer book is emptied without DECLINEs, the explicit
///   reconciliation restarts, the suppression state is checked against what SUBSCRIBE declared, and updates
///   received earlier are no longer acknowledged (an acknowledgement belongs to the stream its update came on).
///
/// ```swift
/// let services = FrameworkServices(scheduler: scheduler, configuration: .init(acknowledgements: .afterCommit { update in
///     try await store.save(update)
/// }))
/// async let timers: Void = services.run()
/// try await scheduler.run()
/// ```
public final class FrameworkServices: Sendable {
    /// What the services need.
    public struct Configuration: Sendable {
        /// Offer hold time and decline filters.
        public var offers: OfferBook.Configuration
        /// Suppress/revive debounce.
        public var suppressRevive: SuppressReviveController.Configuration
        /// Reconciliation backoff, batches, implicit interval and policies.
        public var reconciliation: ReconciliationDriver.Configuration
        /// When status updates are acknowledged. With a ``MesosScheduler``, set its
        /// ``MesosSchedulerConfiguration/acknowledgements`` to `.explicit`: a scheduler left in automatic mode
        /// acknowledges every update after the callbacks returned (even when the commit hook threw), and the
        /// services then send no acknowledgement of their own (``AcknowledgementOutcome/leftToScheduler``).
        public var acknowledgements: AcknowledgementManager.Mode
        /// The clock every deadline is measured on (`ContinuousClock` unless a test drives time).
        public var clock: any Clock<Duration>
        /// The source of jitter for the offer book.
        public var random: any RandomNumberGenerator & Sendable

        /// Creates a configuration.
        public init(
            offers: OfferBook.Configuration = .init(),
            suppressRevive: SuppressReviveController.Configuration = .init(),
            reconciliation: ReconciliationDriver.Configuration = .init(),
            acknowledgements: AcknowledgementManager.Mode = .automatic,
            clock: any Clock<Duration> = ContinuousClock(),
            random: any RandomNumberGenerator & Sendable = SplitMix64()
        ) {
            self.offers = offers
            self.suppressRevive = suppressRevive
            self.reconciliation = reconciliation
            self.acknowledgements = acknowledgements
            self.clock = clock
            self.random = random
        }
    }

    private struct State: Sendable {
        var book: OfferBook
        var controller: SuppressReviveController
        var acks: AcknowledgementManager
        var reconciler: ReconciliationDriver
        var generation: UInt64 = 0
        var connected = false
        /// The scheduler's stream id when this generation's SUBSCRIBED was handled (attached mode).
        var streamID: String?
    }

    let calls: any SchedulerCallSender
    private let time: TimeSource
    private let state: LockedValue<State>
    private let wakeup = Wakeup()
    private let notify: @Sendable (FrameworkNotice) async -> Void
    private let logger: Logger
    private let streamProbe: LockedValue<StreamProbe?> = LockedValue(nil)
    /// Set when attached to a scheduler that acknowledges updates itself.
    private let schedulerAcknowledges = LockedValue(false)

    /// Creates services that send their calls through `calls`.
    ///
    /// - Parameters:
    ///   - roles: The framework's roles (for suppress/revive).
    ///   - declaredSuppressedRoles: The roles the first SUBSCRIBE declares suppressed.
    ///   - configuration: Tunables, clock, random source and acknowledgement mode.
    ///   - calls: Where calls go: a ``MesosScheduler``, a ``SchedulerCallClient``, or a test's recorder.
    ///   - notices: Receives ``FrameworkNotice``s, in order, on the task that caused them.
    ///   - logger: Where to log; the default logs nothing.
    public init(
        roles: Set<String>,
        declaredSuppressedRoles: Set<String> = [],
        configuration: Configuration = .init(),
        calls: any SchedulerCallSender,
        notices: @escaping @Sendable (FrameworkNotice) async -> Void = { _ in },
        logger: Logger = MesosScheduler.silentLogger("mesos.framework")
    ) {
        self.calls = calls
        self.time = TimeSource(configuration.clock)
        self.notify = notices
        self.logger = logger
        self.state = LockedValue(State(
            book: OfferBook(configuration: configuration.offers, random: configuration.random),
            controller: SuppressReviveController(
                roles: roles, declared: declaredSuppressedRoles, configuration: configuration.suppressRevive),
            acks: AcknowledgementManager(mode: configuration.acknowledgements),
            reconciler: ReconciliationDriver(configuration: configuration.reconciliation)
        ))
    }

    /// Creates services for a scheduler and attaches them (``attach(to:)``): the roles and declared suppressed
    /// roles come from the scheduler's configuration, and calls go through the scheduler. Create them before
    /// the scheduler runs.
    public convenience init(
        scheduler: MesosScheduler,
        configuration: Configuration = .init(),
        notices: @escaping @Sendable (FrameworkNotice) async -> Void = { _ in },
        logger: Logger = MesosScheduler.silentLogger("mesos.framework")
    ) {
        let info = scheduler.configuration.frameworkInfo
        let roles = info.roles.isEmpty ? [info.role] : info.roles
        self.init(
            roles: Set(roles), declaredSuppressedRoles: scheduler.configuration.suppressedRoles,
            configuration: configuration, calls: scheduler, notices: notices, logger: logger)
        self.attach(to: scheduler)
    }

    /// Feeds the services from a scheduler: every event through a callback on the scheduler's loop
    /// (``MesosScheduler/on(_:_:)``), and every lost connection from its lifecycle. Acknowledgements are then
    /// sent only while the scheduler's stream is still the one the update came on. Attach once, before the
    /// scheduler runs.
    public func attach(to scheduler: MesosScheduler) {
        self.streamProbe.withLock { $0 = StreamProbe { scheduler.status.streamID } }
        self.schedulerAcknowledges.withLock { $0 = scheduler.configuration.acknowledgements == .automatic }
        scheduler.on(nil) { [weak self] event in
            await self?.handle(event)
        }
        let lifecycle = scheduler.lifecycleEvents()
        Task { [weak self] in
            for await change in lifecycle {
                guard case .disconnected = change, let self else { continue }
                // A late notice about a stream already replaced (its SUBSCRIBED handled) is ignored.
                let current = self.state.withLock { $0.streamID }
                if let live = scheduler.status.streamID, live == current { continue }
                self.connectionLost()
            }
        }
    }

    // MARK: - Inputs

    /// Handles one scheduler event. Call it for every event, in stream order, and await it before the next.
    public func handle(_ event: SchedulerEvent) async {
        let now = self.time.now()
        switch event {
        case .subscribed:
            let probe = self.streamProbe.withLock { $0 }
            let streamID = probe?.read()
            let (reconcile, directives) = self.state.withLock { state in
                state.generation += 1
                state.connected = true
                state.streamID = streamID
                state.book.removeAll()
                state.controller.subscribed(declared: state.controller.suppressedRoles)
                return (state.reconciler.subscribed(now: now), state.controller.directives(now: now))
            }
            await self.perform(reconcile)
            await self.send(directives)
        case .offers(let offers):
            self.state.withLock { $0.book.add(offers, now: now) }
        case .rescind(let id):
            self.state.withLock { _ = $0.book.rescind(id) }
        case .failure(let failure):
            if failure.hasAgentID, !failure.hasExecutorID {
                self.state.withLock { _ = $0.book.removeOffers(on: failure.agentID) }
            }
        case .update(let status):
            let output = self.state.withLock { state -> ReconciliationDriver.Output in
                if status.hasAgentID, Self.reportsAgentRemoval(status) {
                    state.book.removeOffers(on: status.agentID)
                }
                if status.needsAcknowledgement, state.acks.isCommitted(status.uuid) {
                    // A redelivery of an update already applied: no state change, only the acknowledgement.
                    return ReconciliationDriver.Output()
                }
                return state.reconciler.received(status, now: now)
            }
            await self.perform(output)
            await self.acknowledge(.task(status))
        case .updateOperationStatus(let status):
            await self.acknowledge(.operation(status))
        case .error:
            self.connectionLost()
        case .inverseOffers, .rescindInverseOffer, .message, .heartbeat, .unknown:
            break
        }
        self.wakeup.fire()
    }

    /// The stream was lost: offers are dropped without DECLINE, pending acknowledgements will not be sent, and
    /// reconciliation waits for the next SUBSCRIBED.
    public func connectionLost() {
        self.state.withLock { state in
            state.generation += 1
            state.connected = false
            state.streamID = nil
            state.book.removeAll()
            state.reconciler.disconnected()
        }
        self.wakeup.fire()
    }

    // MARK: - Offers

    /// The offers held, oldest first.
    public var offers: [OfferBook.HeldOffer] {
        self.state.withLock { $0.book.offers }
    }

    /// The latest declines the offer book decided, with their reasons.
    public var declines: [OfferBook.Decline] {
        self.state.withLock { $0.book.declines }
    }

    /// A copy of the offer book (its held offers, expiries and declines).
    public var offerBook: OfferBook {
        self.state.withLock { $0.book }
    }

    /// Takes offers out of the book for one ACCEPT (one agent, one allocation role).
    ///
    /// - Throws: ``OfferBookError`` when they cannot be combined or are no longer held; nothing is taken then.
    public func takeOffers(_ ids: [OfferID]) throws(OfferBookError) -> [Offer] {
        try self.state.withLock { state throws(OfferBookError) in try state.book.take(ids) }
    }

    /// Declines held offers the framework cannot use, with the book's long jittered filter.
    public func declineOffers(_ ids: [OfferID]) async {
        let now = self.time.now()
        let declines = self.state.withLock { $0.book.decline(ids, now: now) }
        for decline in declines { await self.send(decline.call) }
    }

    // MARK: - Suppress / revive

    /// Sets how much work is pending for a role; the controller suppresses or revives at its next round.
    ///
    /// - Throws: ``FrameworkServicesError/unknownRole(_:)`` for a role the framework does not have (nothing is
    ///   sent).
    public func setPendingWork(_ count: Int, for role: String) throws(FrameworkServicesError) {
        try self.state.withLock { state throws(FrameworkServicesError) in try state.controller.setPending(count, for: role) }
        self.wakeup.fire()
    }

    /// The roles the master was told to suppress (and confirmed).
    public var suppressedRoles: Set<String> {
        self.state.withLock { $0.controller.suppressedRoles }
    }

    // MARK: - Tasks

    /// Starts following a task for reconciliation (call it before the ACCEPT that launches it).
    public func track(_ taskID: TaskID, agentID: AgentID?, state: TaskState = .taskStaging, replacing: TaskID? = nil) {
        let now = self.time.now()
        self.state.withLock { $0.reconciler.track(taskID, agentID: agentID, state: state, replacing: replacing, now: now) }
    }

    /// Stops following a task.
    public func forget(_ taskID: TaskID) {
        self.state.withLock { $0.reconciler.forget(taskID) }
    }

    /// The tasks followed.
    public var tasks: [ReconciliationDriver.TrackedTask] {
        self.state.withLock { $0.reconciler.tasks }
    }

    /// A copy of the reconciliation driver's state.
    public var reconciliation: ReconciliationDriver {
        self.state.withLock { $0.reconciler }
    }

    /// Kills a task and keeps the intent until it is terminal (the KILL is sent again if the task comes back
    /// from an unreachable agent).
    public func kill(_ taskID: TaskID) async {
        let now = self.time.now()
        let call = self.state.withLock { $0.reconciler.requestKill(taskID, now: now) }
        await self.send(call)
    }

    // MARK: - Acknowledgements

    /// What happened to the latest status updates, oldest first.
    public var acknowledgementRecords: [AcknowledgementManager.Record] {
        self.state.withLock { $0.acks.records }
    }

    // MARK: - Time

    /// The next deadline of any service, as an offset on the configured clock from the services' creation.
    public var nextDeadline: Duration? {
        let now = self.time.now()
        return self.state.withLock { state in
            guard state.connected else { return nil }
            return [state.book.nextExpiry, state.controller.nextDeadline(now: now), state.reconciler.nextDeadline]
                .compactMap { $0 }.min()
        }
    }

    /// The time on the configured clock since the services were created (the time line of every deadline).
    public var now: Duration { self.time.now() }

    /// Does everything due now: declines expired offers, sends suppress/revive directives, retries
    /// reconciliation and runs implicit reconciliation. ``run()`` calls it at every deadline.
    public func performDueWork() async {
        let now = self.time.now()
        let work = self.state.withLock { state -> ([OfferBook.Decline], [SuppressReviveController.Directive], ReconciliationDriver.Output)? in
            guard state.connected else { return nil }
            let declines = state.book.expire(now: now, rolesWithPendingWork: state.controller.busyRoles)
            return (declines, state.controller.directives(now: now), state.reconciler.due(now: now))
        }
        guard let (declines, directives, reconcile) = work else { return }
        for decline in declines { await self.send(decline.call) }
        await self.send(directives)
        await self.perform(reconcile)
    }

    /// Runs the timers until the task is cancelled: sleeps on the clock until the next deadline (or until an
    /// input changes the deadlines), then ``performDueWork()``.
    public func run() async {
        let alarm = Alarm(time: self.time, wakeup: self.wakeup)
        defer { alarm.set(nil) }
        while !Task.isCancelled {
            await self.performDueWork()
            alarm.set(self.nextDeadline)
            await self.wakeup.wait()
        }
    }

    // MARK: - Internals

    private static func reportsAgentRemoval(_ status: TaskStatus) -> Bool {
        if status.state == .taskGoneByOperator { return true }
        guard status.hasReason else { return false }
        return status.reason == .agentRemoved || status.reason == .agentRemovedByOperator
    }

    private func acknowledge(_ update: StatusUpdate) async {
        let (generation, duplicate, mode) = self.state.withLock { state in
            (state.generation, update.uuid.map(state.acks.isCommitted) ?? false, state.acks.mode)
        }
        if !duplicate, case .afterCommit(let commit) = mode {
            do {
                try await commit(update)
            } catch {
                self.state.withLock { $0.acks.record(update, .commitFailed("\(error)")) }
                return
            }
        }
        // The scheduler's current stream, read before taking the services' lock (never nest the two).
        let liveStream = self.streamProbe.withLock { $0 }.map { probe in probe.read() }
        let leftToScheduler = self.schedulerAcknowledges.withLock { $0 }
        let call: SchedulerCall? = self.state.withLock { state in
            state.acks.markCommitted(update)
            guard let call = update.acknowledgement else {
                state.acks.record(update, update.uuid == nil ? .notAcknowledgeable : .missingIdentifiers)
                return nil
            }
            if leftToScheduler {
                state.acks.record(update, .leftToScheduler)
                return nil
            }
            let sameStream = liveStream.map { $0 == state.streamID } ?? true
            guard state.connected, state.generation == generation, sameStream else {
                state.acks.record(update, .staleStream)
                return nil
            }
            return call
        }
        guard let call else { return }
        do {
            try await self.calls.send(call)
            self.state.withLock { $0.acks.record(update, duplicate ? .reacknowledged : .acknowledged) }
        } catch {
            self.state.withLock { $0.acks.record(update, .acknowledgementFailed("\(error)")) }
            await self.notify(.callFailed(call.type, error))
        }
    }

    private func perform(_ output: ReconciliationDriver.Output) async {
        for call in output.calls { await self.send(call) }
        for notice in output.notices { await self.notify(notice) }
    }

    private func send(_ directives: [SuppressReviveController.Directive]) async {
        for directive in directives {
            do {
                try await self.calls.send(directive.call)
                self.state.withLock { $0.controller.confirm(directive) }
            } catch {
                self.state.withLock { $0.controller.fail(directive) }
                await self.notify(.callFailed(directive.call.type, error))
            }
        }
    }

    private func send(_ call: SchedulerCall) async {
        do {
            try await self.calls.send(call)
        } catch {
            self.logger.warning("Call failed", metadata: ["mesos.call": "\(call.type)", "mesos.error": "\(error)"])
            await self.notify(.callFailed(call.type, error))
        }
    }
}

/// The scheduler's stream id reader, kept behind a reference. A function value stored directly in a generic
/// container such as `LockedValue` is converted on every `withLock` (its `inout` access goes through
/// reabstraction thunks and is written back wrapped in one more), so each access would lengthen the chain of
/// thunks a call goes through: a per-update cost that grew with the number of updates.
private final class StreamProbe: Sendable {
    let read: @Sendable () -> String?

    init(_ read: @escaping @Sendable () -> String?) {
        self.read = read
    }
}

/// Fires a ``Wakeup`` at a deadline on a clock. One sleeping task serves a deadline for as long as it stays the
/// same: a loop woken by every event does not start (and cancel) a sleep per event. A cancelled sleep on the
/// system clock stays queued until its deadline, holding its task, so a sleep per event grew memory and the
/// timer queue with every event until the (often distant) deadline.
final class Alarm: Sendable {
    private struct State {
        var deadline: Duration?
        var sleeper: Task<Void, Never>?
        var generation: UInt64 = 0
    }

    private let state = LockedValue(State())
    private let time: TimeSource
    private let wakeup: Wakeup

    init(time: TimeSource, wakeup: Wakeup) {
        self.time = time
        self.wakeup = wakeup
    }

    /// Makes the wakeup fire at `deadline` (and not at an earlier one set before); `nil` disarms.
    func set(_ deadline: Duration?) {
        let replaced = self.state.withLock { state -> Task<Void, Never>? in
            if state.deadline == deadline, state.sleeper != nil { return nil }  // that sleep is under way
            let old = state.sleeper
            state.generation += 1
            state.deadline = deadline
            state.sleeper = deadline.map { deadline in
                let generation = state.generation
                return Task { [time = self.time, wakeup = self.wakeup, weak self] in
                    do { try await time.sleepUntil(deadline) } catch { return }
                    self?.state.withLock { state in
                        if state.generation == generation { state.sleeper = nil }
                    }
                    wakeup.fire()
                }
            }
            return old
        }
        replaced?.cancel()
    }
}

/// Wakes the timer loop when an input changed the deadlines. A wake-up fired while nobody waits is kept for
/// the next wait.
final class Wakeup: Sendable {
    private struct State {
        var fired = false
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
        var next: UInt64 = 0
    }

    private let state = LockedValue(State())

    func fire() {
        let waiters = self.state.withLock { state -> [CheckedContinuation<Void, Never>] in
            if state.waiters.isEmpty {
                state.fired = true
                return []
            }
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    func wait() async {
        let id = self.state.withLock { state -> UInt64 in
            state.next += 1
            return state.next
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = self.state.withLock { state -> Bool in
                    if state.fired {
                        state.fired = false
                        return true
                    }
                    if Task.isCancelled { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = self.state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.resume()
        }
    }
}
