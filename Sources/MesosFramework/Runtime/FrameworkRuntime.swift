import Foundation
import Logging
import MesosCore
import MesosResources
import MesosScheduler

/// Runs declared work on Mesos: the application submits ``TaskSpec``s, and the runtime places their instances on
/// offers, launches them, acknowledges, retries, replaces, reconciles and reports — keeping its state in a
/// ``FrameworkStateStore`` so a restarted (or newly elected) scheduler takes over without relaunching.
///
/// Design:
/// - It owns a ``MesosScheduler`` (explicit acknowledgements, PARTITION_AWARE) and ``FrameworkServices`` whose
///   acknowledgement hook is the runtime's commit: a status update is written to the store, then applied, then
///   acknowledged. A failed write leaves it unacknowledged: the agent sends it again and it is handled then.
/// - Persist before acting: the framework id is stored on SUBSCRIBED before anything is launched; a spec (and
///   every change of it: scale, cancel) before its tasks are launched or killed; a task record (spec, instance,
///   attempt) before the ACCEPT that launches it.
/// - At start (``init(scheduler:store:configuration:logger:)``) it reads the store: the scheduler subscribes
///   with the stored framework id (failover), the stored tasks that were not over are tracked for
///   reconciliation, and an instance whose task is not over is not launched again: the reconciliation answers
///   (RUNNING) adopt it, a LOST/GONE/UNKNOWN answer replaces it per its restart policy.
/// - Task ids are `<spec>.<instance>.<attempt>`.
/// - Time (backoffs, unreachable grace) is measured on the services' clock.
/// - ``stop()`` makes it stop at once: no store write, launch, kill or acknowledgement after it returns, and the
///   subscription is closed without tearing the framework down (an HA wrapper calls it when deposed).
///
/// ```swift
/// let runtime = try await FrameworkRuntime(scheduler: configuration, store: try await FileStateStore.open(path: "state"))
/// async let running: Void = runtime.run()
/// let web = try await runtime.submit(TaskSpec(name: "job", command: .shell("./work"), resources: "cpus:1;mem:256"))
/// let result = try await runtime.result(of: web)
/// ```
public final class FrameworkRuntime: Sendable {
    /// Tunables.
    public struct Configuration: Sendable {
        /// The services' configuration (offers, suppress/revive, reconciliation, clock). Its acknowledgement mode
        /// is replaced by the runtime's commit hook.
        public var services: FrameworkServices.Configuration
        /// Bin-packing (default) or spreading.
        public var strategy: PlacementStrategy
        /// How ports are picked.
        public var portPolicy: PortPolicy
        /// The backoff of `.always` instances whose task keeps ending.
        public var serviceBackoff: Backoff

        /// Creates a configuration.
        public init(
            services: FrameworkServices.Configuration = .init(),
            strategy: PlacementStrategy = .binPacking,
            portPolicy: PortPolicy = .lowestFirst,
            serviceBackoff: Backoff = Backoff()
        ) {
            self.services = services
            self.strategy = strategy
            self.portPolicy = portPolicy
            self.serviceBackoff = serviceBackoff
        }
    }

    /// The scheduler the runtime runs (created from the configuration it was given, with the stored framework id).
    public let scheduler: MesosScheduler
    /// The toolkit services it uses (offers, suppress/revive, acknowledgements, reconciliation).
    public let services: FrameworkServices
    /// The store.
    public let store: any FrameworkStateStore

    private struct Subscriber: Sendable {
        var spec: String?
        var continuation: AsyncStream<TaskEvent>.Continuation
    }

    private struct Shared: Sendable {
        var model: RuntimeModel
        var stopped = false
        var savedFrameworkID: FrameworkID?
        var advice: [String: ReconciliationDriver.Advice] = [:]
        var subscribers: [UInt64: Subscriber] = [:]
        var nextSubscriber: UInt64 = 0
        var waiters: [String: [UInt64: CheckedContinuation<SpecResult, any Error>]] = [:]
        var nextWaiter: UInt64 = 0
        /// Tasks whose ACCEPT is under way: a scale-down or cancel leaves their KILL to the launch path, which
        /// sends it once the ACCEPT returned (so a task is killed once, and never before the master knows it).
        var launching: Set<String> = []
    }

    private let shared: LockedValue<Shared>
    private let configuration: Configuration
    private let time: TimeSource
    private let wakeup = Wakeup()
    private let roles: [String]
    private let logger: Logger
    private let launchLock = AsyncMutex()
    /// The pending count last passed to the services, by role.
    private let sentPending = LockedValue<[String: Int]>([:])

    /// Creates a runtime: reads the store, then creates the scheduler (with the stored framework id, explicit
    /// acknowledgements and the PARTITION_AWARE capability) and the services. Call ``run()`` next.
    ///
    /// - Parameters:
    ///   - scheduler: The scheduler's configuration; its framework info must set `failover_timeout`.
    ///   - store: Where the state is kept.
    ///   - configuration: Tunables and clock.
    ///   - logger: Where to log; the default logs nothing.
    /// - Throws: ``FrameworkRuntimeError`` (`failoverTimeoutNotSet`, a store failure, corrupt state).
    public init(
        scheduler: MesosSchedulerConfiguration,
        store: any FrameworkStateStore,
        configuration: Configuration = .init(),
        logger: Logger = MesosScheduler.silentLogger("mesos.runtime")
    ) async throws(FrameworkRuntimeError) {
        var schedulerConfiguration = scheduler
        guard schedulerConfiguration.frameworkInfo.failoverTimeout > 0 else {
            throw FrameworkRuntimeError(
                .failoverTimeoutNotSet, "FrameworkInfo.failover_timeout must be set so a restart can take the tasks over")
        }
        let loaded: StoredState
        do {
            loaded = try await Self.loadState(store)
        } catch {
            if error.kind == .corrupt { throw FrameworkRuntimeError(.corruptState, error.description) }
            throw .store(error)
        }
        let (stored, specRecords, taskRecords, statuses) = (loaded.frameworkID, loaded.specs, loaded.tasks, loaded.statuses)
        if let stored { schedulerConfiguration.frameworkInfo.id = stored }
        if !schedulerConfiguration.frameworkInfo.capabilities.contains(where: { $0.type == .partitionAware }) {
            var capability = FrameworkInfo.Capability()
            capability.type = .partitionAware
            schedulerConfiguration.frameworkInfo.capabilities.append(capability)
        }
        schedulerConfiguration.acknowledgements = .explicit
        let info = schedulerConfiguration.frameworkInfo
        self.roles = info.roles.isEmpty ? [info.role.isEmpty ? "*" : info.role] : info.roles
        self.configuration = configuration
        self.time = TimeSource(configuration.services.clock)
        self.store = store
        self.logger = logger
        var model = RuntimeModel(serviceBackoff: configuration.serviceBackoff)
        try model.restore(
            specs: specRecords, tasks: taskRecords, statuses: statuses, defaultRole: self.roles[0], now: .zero)
        self.shared = LockedValue(Shared(model: model, savedFrameworkID: stored))

        let hook = HookBox()
        var servicesConfiguration = configuration.services
        servicesConfiguration.acknowledgements = .afterCommit { update in try await hook.commit(update) }
        self.scheduler = MesosScheduler(configuration: schedulerConfiguration, logger: logger)
        self.services = FrameworkServices(
            scheduler: self.scheduler, configuration: servicesConfiguration,
            notices: { notice in await hook.notice(notice) }, logger: logger)
        hook.set(commit: { [weak self] update in try await self?.commit(update) },
                 notice: { [weak self] notice in self?.noticed(notice) })
        // Records a crash left behind: earlier attempts that are over, tasks of a forgotten spec, statuses
        // without a task.
        let leftovers = model.tasks.compactMap { id, entry -> String? in
            guard entry.state.isTerminal else { return nil }
            return model.specs[entry.record.spec] == nil ? id : nil
        }
        for id in leftovers { model.tasks.removeValue(forKey: id) }
        let superseded = model.tasks.keys.filter { model.pruneSuperseded($0) }
        let orphans = loaded.statuses.keys.filter { taskRecords[$0] == nil }
        if !(leftovers.isEmpty && superseded.isEmpty && orphans.isEmpty) {
            let store = store
            Task {
                for id in leftovers + superseded { try? await store.delete(.tasks, key: id, expected: .any) }
                for id in leftovers + superseded + orphans { try? await store.delete(.statuses, key: id, expected: .any) }
            }
        }
        // Follow the stored tasks that were not over, for reconciliation after SUBSCRIBED.
        for (id, entry) in model.tasks where !entry.state.isTerminal {
            self.services.track(
                TaskID(id), agentID: entry.record.agentID.map { AgentID($0) }, state: entry.state,
                replacing: entry.record.replaces.map { TaskID($0) })
        }
        self.scheduler.on(nil) { [weak self] event in
            guard let self else { return }
            switch event {
            case .subscribed(let subscribed): await self.subscribed(subscribed.frameworkID)
            case .offers: self.wakeup.fire()
            default: break
            }
        }
        self.updatePendingWork()
    }

    private struct StoredState {
        var frameworkID: FrameworkID?
        var specs: [SpecRecord] = []
        var tasks: [String: TaskRecord] = [:]
        var statuses: [String: TaskStatus] = [:]
    }

    private static func loadState(_ store: any FrameworkStateStore) async throws(StateStoreError) -> StoredState {
        var state = StoredState(frameworkID: try await store.loadFrameworkID())
        let decoder = JSONDecoder()
        for (key, record) in try await store.load(.specs) {
            guard let spec = try? decoder.decode(SpecRecord.self, from: record.data) else {
                throw StateStoreError(kind: .corrupt, message: "spec record \(key) does not decode", record: "specs/\(key)")
            }
            state.specs.append(spec)
        }
        for (key, record) in try await store.load(.tasks) {
            guard let task = try? decoder.decode(TaskRecord.self, from: record.data) else {
                throw StateStoreError(kind: .corrupt, message: "task record \(key) does not decode", record: "tasks/\(key)")
            }
            state.tasks[key] = task
        }
        state.statuses = try await store.loadStatuses().mapValues(\.status)
        return state
    }

    // MARK: - Running

    /// Runs the scheduler, the services' timers and the runtime's launch loop until ``stop()``, cancellation, or
    /// the scheduler's end.
    ///
    /// - Throws: What ``MesosScheduler/run()`` throws.
    public func run() async throws {
        guard !self.isStopped else { return }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await self.scheduler.run() }
            group.addTask { await self.services.run() }
            group.addTask { await self.loop() }
            defer { group.cancelAll() }
            try await group.next()
        }
    }

    /// Stops at once: no store write, launch, kill or acknowledgement is made after this returns (a commit under
    /// way fails, so its update is not acknowledged), the subscription is closed without tearing the framework
    /// down, and ``run()`` returns. Waiters of ``result(of:)`` get ``FrameworkRuntimeError/Kind/stopped``. For a
    /// deposed leader: the new leader takes over with the same store.
    public func stop() {
        let (subscribers, waiters) = self.shared.withLock { shared in
            shared.stopped = true
            defer { shared.subscribers = [:]; shared.waiters = [:] }
            return (shared.subscribers.values.map(\.continuation), shared.waiters.values.flatMap(\.values))
        }
        self.scheduler.disconnect()
        self.wakeup.fire()
        for continuation in subscribers { continuation.finish() }
        for waiter in waiters { waiter.resume(throwing: FrameworkRuntimeError(.stopped, "the runtime was stopped")) }
    }

    /// `true` once ``stop()`` was called.
    public var isStopped: Bool { self.shared.withLock { $0.stopped } }

    // MARK: - Requests

    /// Adds a spec: it is stored, then its instances are launched as offers come.
    ///
    /// - Parameter spec: The spec; its name is its id.
    /// - Returns: The spec's name.
    /// - Throws: ``FrameworkRuntimeError`` (invalid spec, duplicate name, unknown role, store failure, stopped).
    @discardableResult
    public func submit(_ spec: TaskSpec) async throws(FrameworkRuntimeError) -> String {
        let parsed: (demand: ResourceDemand, constraints: [PlacementConstraint])
        do {
            parsed = try spec.validate()
        } catch {
            throw FrameworkRuntimeError(.invalidSpec(error.kind), error.message)
        }
        let role = spec.role ?? self.roles[0]
        guard self.roles.contains(role) else {
            throw FrameworkRuntimeError(.unknownRole, "role '\(role)' is not one of the framework's roles \(self.roles)")
        }
        let demand = parsed.demand
        let order = try self.shared.withLock { (shared) throws(FrameworkRuntimeError) -> Int in
            guard !shared.stopped else { throw FrameworkRuntimeError(.stopped, "the runtime was stopped") }
            guard shared.model.specs[spec.name] == nil else {
                throw FrameworkRuntimeError(.duplicateSpec, "a spec named '\(spec.name)' exists")
            }
            shared.model.nextOrder += 1
            return shared.model.nextOrder - 1
        }
        try await self.saveSpec(SpecRecord(spec: spec, cancelled: false, order: order), expected: .absent)
        try self.shared.withLock { (shared) throws(FrameworkRuntimeError) in
            guard !shared.stopped else { throw FrameworkRuntimeError(.stopped, "the runtime was stopped") }
            var entry = RuntimeModel.Spec(
                spec: spec, demand: demand, constraints: parsed.constraints, order: order, role: role)
            for index in 0..<spec.instances { entry.instances[index] = .init(index: index) }
            shared.model.specs[spec.name] = entry
        }
        self.updatePendingWork()
        self.wakeup.fire()
        self.resolveWaiters()
        return spec.name
    }

    /// Changes how many instances a spec runs. Scaling down kills the highest-numbered instances first.
    ///
    /// - Throws: ``FrameworkRuntimeError`` (unknown spec, bad count, store failure, stopped).
    public func scale(_ name: String, instances: Int) async throws(FrameworkRuntimeError) {
        guard (0...TaskSpec.maximumInstances).contains(instances) else {
            throw FrameworkRuntimeError(.invalidSpec(.invalidInstances), "instances must be 0…\(TaskSpec.maximumInstances)")
        }
        var record = try self.specRecord(name)
        record.spec.instances = instances
        try await self.saveSpec(record, expected: .any)
        let kills = try self.shared.withLock { (shared) throws(FrameworkRuntimeError) -> [TaskID] in
            guard !shared.stopped else { throw FrameworkRuntimeError(.stopped, "the runtime was stopped") }
            guard var spec = shared.model.specs[name] else { throw FrameworkRuntimeError(.unknownSpec, name) }
            spec.spec.instances = instances
            let attempts = shared.model.lastAttempts(spec: name)
            for index in 0..<instances where spec.instances[index] == nil {
                // A new instance goes on from the attempts of an earlier one of that number: task ids are unique.
                spec.instances[index] = .init(index: index, attempt: attempts[index] ?? 0)
            }
            var kills: [TaskID] = []
            for index in spec.instances.keys.sorted(by: >) where index >= instances {
                if let current = spec.instances[index]?.current, let entry = shared.model.tasks[current],
                    !entry.state.isTerminal, !shared.launching.contains(current)
                {
                    kills.append(TaskID(current))
                }
                shared.model.dropIfRetired(&spec, index: index)
            }
            shared.model.specs[name] = spec
            return kills
        }
        for id in kills { await self.kill(id) }
        self.updatePendingWork()
        self.wakeup.fire()
        self.resolveWaiters()
    }

    /// Cancels a spec: it is marked cancelled in the store, then its tasks are killed; ``result(of:)`` returns
    /// once they are over.
    ///
    /// - Throws: ``FrameworkRuntimeError`` (unknown spec, store failure, stopped).
    public func cancel(_ name: String) async throws(FrameworkRuntimeError) {
        var record = try self.specRecord(name)
        record.cancelled = true
        try await self.saveSpec(record, expected: .any)
        let kills = try self.shared.withLock { (shared) throws(FrameworkRuntimeError) -> [TaskID] in
            guard !shared.stopped else { throw FrameworkRuntimeError(.stopped, "the runtime was stopped") }
            shared.model.specs[name]?.cancelled = true
            return shared.model.tasks.filter {
                $0.value.record.spec == name && !$0.value.state.isTerminal && !shared.launching.contains($0.key)
            }.keys.sorted().map { TaskID($0) }
        }
        for id in kills { await self.kill(id) }
        self.updatePendingWork()
        self.resolveWaiters()
    }

    /// Removes a spec that is done (``result(of:)`` is ready: every instance finished or gave up, or it was
    /// cancelled and nothing of it runs) together with its stored task records and statuses, so a framework that
    /// runs job after job keeps a bounded store. The spec record goes first: once it is gone, a restart does not
    /// run the spec again, and task records left by an interrupted removal are deleted at the next start.
    ///
    /// The name can then be submitted again; its task ids start again at attempt 1 (Mesos accepts the id of a task
    /// that is over, but tools that list completed tasks show both: prefer fresh names).
    ///
    /// - Returns: The spec's result, as ``result(of:)`` gave it.
    /// - Throws: ``FrameworkRuntimeError`` (unknown spec, ``FrameworkRuntimeError/Kind/specNotDone``, store
    ///   failure, stopped).
    @discardableResult
    public func forget(_ name: String) async throws(FrameworkRuntimeError) -> SpecResult {
        let (result, ids) = try self.shared.withLock { (shared) throws(FrameworkRuntimeError) -> (SpecResult, [String]) in
            guard !shared.stopped else { throw FrameworkRuntimeError(.stopped, "the runtime was stopped") }
            guard shared.model.specs[name] != nil else { throw FrameworkRuntimeError(.unknownSpec, name) }
            guard let result = shared.model.result(of: name) else {
                throw FrameworkRuntimeError(.specNotDone, "spec '\(name)' has instances to run or tasks not over")
            }
            return (result, shared.model.tasks.filter { $0.value.record.spec == name }.map(\.key))
        }
        do {
            try await self.store.delete(.specs, key: name, expected: .any)
        } catch {
            throw .store(error)
        }
        self.shared.withLock { shared in
            shared.model.specs.removeValue(forKey: name)
            for id in ids {
                shared.model.tasks.removeValue(forKey: id)
                shared.advice.removeValue(forKey: id)
            }
        }
        for id in ids {
            try? await self.store.delete(.tasks, key: id, expected: .any)
            try? await self.store.delete(.statuses, key: id, expected: .any)
        }
        self.updatePendingWork()
        return result
    }

    /// The state changes of the tasks of one spec (or of every spec with `nil`), from now on, in order. The
    /// stream ends when the runtime stops.
    ///
    /// - Parameters:
    ///   - spec: The spec whose tasks to follow, or `nil` for all.
    ///   - bufferingPolicy: What the stream keeps for a consumer that falls behind: everything (the default; memory
    ///     grows while it lags), or only the oldest or newest `n` events.
    public func events(
        of spec: String? = nil, bufferingPolicy: AsyncStream<TaskEvent>.Continuation.BufferingPolicy = .unbounded
    ) -> AsyncStream<TaskEvent> {
        let (stream, continuation) = AsyncStream<TaskEvent>.makeStream(bufferingPolicy: bufferingPolicy)
        let id = self.shared.withLock { shared -> UInt64? in
            guard !shared.stopped else { return nil }
            shared.nextSubscriber += 1
            shared.subscribers[shared.nextSubscriber] = Subscriber(spec: spec, continuation: continuation)
            return shared.nextSubscriber
        }
        guard let id else {
            continuation.finish()
            return stream
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.shared.withLock { $0.subscribers.removeValue(forKey: id) }
        }
        return stream
    }

    /// Waits until every instance of a spec is done (finished, given up per its restart policy, or killed by a
    /// cancel or scale-down) and returns how each ended. An `.always` spec is done only once cancelled.
    ///
    /// - Throws: ``FrameworkRuntimeError`` (unknown spec, stopped), or `CancellationError` when the waiting task is
    ///   cancelled (the spec is not affected).
    public func result(of name: String) async throws -> SpecResult {
        let id = self.shared.withLock { shared in
            defer { shared.nextWaiter += 1 }
            return shared.nextWaiter
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let outcome = self.shared.withLock { shared -> Result<SpecResult, any Error>? in
                    if Task.isCancelled { return .failure(CancellationError()) }
                    if shared.stopped { return .failure(FrameworkRuntimeError(.stopped, "the runtime was stopped")) }
                    guard shared.model.specs[name] != nil else {
                        return .failure(FrameworkRuntimeError(.unknownSpec, name))
                    }
                    if let result = shared.model.result(of: name) { return .success(result) }
                    shared.waiters[name, default: [:]][id] = continuation
                    return nil
                }
                if let outcome { continuation.resume(with: outcome) }
            }
        } onCancel: {
            let waiter = self.shared.withLock { shared -> CheckedContinuation<SpecResult, any Error>? in
                let waiter = shared.waiters[name]?.removeValue(forKey: id)
                if shared.waiters[name]?.isEmpty == true { shared.waiters.removeValue(forKey: name) }
                return waiter
            }
            waiter?.resume(throwing: CancellationError())
        }
    }

    /// The specs, in submission order.
    public var specs: [TaskSpec] {
        self.shared.withLock { $0.model.specs.values.sorted { $0.order < $1.order }.map(\.spec) }
    }

    /// Each instance of a spec as it stands (its latest task, state and attempts), by instance number.
    public func instances(of name: String) -> [InstanceResult] {
        self.shared.withLock { shared in
            (shared.model.specs[name]?.instances.values.sorted { $0.index < $1.index } ?? []).map { instance in
                InstanceResult(
                    instance: instance.index, taskID: instance.current.map { TaskID($0) }, state: instance.state,
                    attempts: instance.attempt, status: instance.status)
            }
        }
    }

    /// When the runtime will next launch or replace something on its own (a backoff or grace ending), as an
    /// offset on the services' clock from the runtime's creation; `nil` when nothing waits.
    public var nextDeadline: Duration? {
        let now = self.time.now()
        return self.shared.withLock { $0.model.nextDeadline(now: now) }
    }

    // MARK: - Internals

    private var isLive: Bool { !self.isStopped }

    private func specRecord(_ name: String) throws(FrameworkRuntimeError) -> SpecRecord {
        try self.shared.withLock { (shared) throws(FrameworkRuntimeError) -> SpecRecord in
            guard !shared.stopped else { throw FrameworkRuntimeError(.stopped, "the runtime was stopped") }
            guard let spec = shared.model.specs[name] else { throw FrameworkRuntimeError(.unknownSpec, name) }
            return SpecRecord(spec: spec.spec, cancelled: spec.cancelled, order: spec.order)
        }
    }

    private func saveSpec(_ record: SpecRecord, expected: ExpectedVersion) async throws(FrameworkRuntimeError) {
        let data: Data
        do { data = try JSONEncoder().encode(record) } catch {
            throw FrameworkRuntimeError(.invalidSpec(.invalidName), "the spec cannot be encoded: \(error)")
        }
        guard self.isLive else { throw FrameworkRuntimeError(.stopped, "the runtime was stopped") }
        do {
            try await self.store.put(.specs, key: record.spec.name, data: data, expected: expected)
        } catch {
            throw .store(error)
        }
    }

    private func saveTask(_ id: String, _ record: TaskRecord) async throws(StateStoreError) {
        let data: Data
        do { data = try JSONEncoder().encode(record) } catch {
            throw StateStoreError(kind: .invalidArgument, message: "task record \(id): \(error)")
        }
        try await self.store.put(.tasks, key: id, data: data, expected: .any)
    }

    private func kill(_ id: TaskID) async {
        guard self.isLive else { return }
        await self.services.kill(id)
    }

    private func noticed(_ notice: FrameworkNotice) {
        guard case .transition(let transition) = notice else { return }
        self.shared.withLock { $0.advice[transition.taskID.value] = transition.advice }
    }

    /// SUBSCRIBED: stores the framework id (before anything is launched), then lets the launch loop run.
    private func subscribed(_ id: FrameworkID) async {
        let saved = self.shared.withLock { $0.savedFrameworkID }
        guard saved != id, self.isLive else {
            self.wakeup.fire()
            return
        }
        do {
            try await self.store.saveFrameworkID(id)
            self.shared.withLock { $0.savedFrameworkID = id }
        } catch {
            self.logger.error("Cannot store the framework id", metadata: ["mesos.error": "\(error)"])
        }
        self.wakeup.fire()
    }

    /// The acknowledgement hook: store the status, then apply it. Throwing leaves the update unacknowledged.
    private func commit(_ update: StatusUpdate) async throws {
        guard case .task(let status) = update else { return }
        let id = status.taskID.value
        let (known, advice, stopped) = self.shared.withLock { shared in
            (shared.model.tasks[id] != nil, shared.advice[id], shared.stopped)
        }
        if stopped { throw FrameworkRuntimeError(.stopped, "the runtime was stopped") }
        guard known, advice != .rejected else {
            self.shared.withLock { _ = $0.advice.removeValue(forKey: id) }
            return
        }
        try await self.store.saveStatus(status)
        // A copy that came back while its replacement runs: the driver kills one (its ReturnedTaskPolicy); the
        // runtime records which, so the kill is not taken for a failure.
        if case .returned(let replacement?) = advice,
            self.configuration.services.reconciliation.returnedTaskPolicy != .keepBoth
        {
            let victim = self.configuration.services.reconciliation.returnedTaskPolicy == .killReturned
                ? id : replacement.value
            let record = self.shared.withLock { shared -> TaskRecord? in
                shared.model.tasks[victim]?.record.killedByUs = true
                return shared.model.tasks[victim].map { $0.record.with($0.site) }
            }
            if let record { try await self.saveTask(victim, record) }
        }
        let now = self.time.now()
        let grace = self.configuration.services.reconciliation.unreachableGrace
        let window = self.configuration.services.reconciliation.recentLaunchWindow
        let (events, subscribers, stoppedNow) = self.shared.withLock { shared in
            shared.advice.removeValue(forKey: id)
            guard !shared.stopped else { return ([TaskEvent](), [Subscriber](), true) }
            // An update can overtake the end of its launch round: its STAGING event is published first.
            var events: [TaskEvent] = []
            if let staged = shared.model.launched(id) { events.append(staged) }
            if let event = shared.model.apply(
                status, now: now, unreachableGrace: grace, recentLaunchWindow: window, advice: advice)
            {
                events.append(event)
            }
            return (events, Array(shared.subscribers.values), false)
        }
        if stoppedNow { throw FrameworkRuntimeError(.stopped, "the runtime was stopped") }
        if status.state.isTerminal { self.prune(id) }
        for event in events { Self.publish(event, to: subscribers) }
        self.updatePendingWork()
        self.resolveWaiters()
        self.wakeup.fire()
    }

    private static func publish(_ event: TaskEvent, to subscribers: [Subscriber]) {
        for subscriber in subscribers where subscriber.spec == nil || subscriber.spec == event.spec {
            subscriber.continuation.yield(event)
        }
    }

    private func resolveWaiters() {
        let ready = self.shared.withLock { shared -> [(CheckedContinuation<SpecResult, any Error>, SpecResult)] in
            var ready: [(CheckedContinuation<SpecResult, any Error>, SpecResult)] = []
            for (name, waiters) in shared.waiters {
                guard let result = shared.model.result(of: name) else { continue }
                ready += waiters.values.map { ($0, result) }
                shared.waiters.removeValue(forKey: name)
            }
            return ready
        }
        for (waiter, result) in ready { waiter.resume(returning: result) }
    }

    private func updatePendingWork() {
        let now = self.time.now()
        let pending = self.shared.withLock { $0.stopped ? nil : $0.model.pendingByRole(now: now) }
        guard let pending else { return }
        for role in self.roles {
            let count = pending[role] ?? 0
            // Only changes are passed on: an unchanged count changes nothing in the controller, and each call
            // wakes the services' loop (this runs after every status update).
            let changed = self.sentPending.withLock { sent in
                defer { sent[role] = count }
                return sent[role] != count
            }
            if changed { try? self.services.setPendingWork(count, for: role) }
        }
    }

    /// Launches what is launchable whenever something changed, and sleeps until the next backoff otherwise.
    private func loop() async {
        // One sleep per distinct deadline, not one per wakeup (see `Alarm`).
        let alarm = Alarm(time: self.time, wakeup: self.wakeup)
        defer { alarm.set(nil) }
        while !Task.isCancelled, self.isLive {
            await self.launchPending()
            self.updatePendingWork()
            alarm.set(self.nextDeadline)
            await self.wakeup.wait()
        }
    }

    /// One launch round: places the launchable instances on the held offers, stores a record of each placed
    /// task, then launches them.
    func launchPending() async {
        await self.launchLock.withLock {
            await self.launchRound()
        }
    }

    private func launchRound() async {
        let now = self.time.now()
        // Most rounds (one per status update) have nothing to launch: that is found out before the held offers
        // are copied and sorted.
        let idle = self.shared.withLock { shared in
            shared.stopped || shared.savedFrameworkID == nil || shared.model.launchable(now: now).isEmpty
        }
        if idle { return }
        let offers = self.services.offers.map(\.offer)
        let round = self.shared.withLock { shared -> (requests: [TaskRequest], replacing: [String: TaskID], running: [RunningTask])? in
            guard !shared.stopped, shared.savedFrameworkID != nil, !offers.isEmpty else { return nil }
            let launchable = shared.model.launchable(now: now)
            guard !launchable.isEmpty else { return nil }
            var requests: [TaskRequest] = []
            var replacing: [String: TaskID] = [:]
            for (name, index) in launchable {
                let spec = shared.model.specs[name]!
                let instance = spec.instances[index]!
                let id = RuntimeModel.taskID(spec: name, instance: index, attempt: instance.attempt + 1)
                requests.append(TaskRequest(id: id, group: name, demand: spec.demand, constraints: spec.constraints))
                if let current = instance.current, let state = instance.state, !state.isTerminal {
                    replacing[id] = TaskID(current)
                }
            }
            let running = shared.model.tasks.values.compactMap { entry -> RunningTask? in
                guard !entry.state.isTerminal, let site = entry.site else { return nil }
                return RunningTask(group: entry.record.spec, site: site)
            }
            return (requests, replacing, running)
        }
        guard let round else { return }
        let plan = PlacementPlan(
            placing: round.requests, on: offers, running: round.running, strategy: self.configuration.strategy,
            portPolicy: self.configuration.portPolicy)
        var agents: [String: AgentID] = [:]
        for agent in plan.agents { for task in agent.tasks { agents[task.id] = agent.agentID } }
        let placedIDs = Set(agents.keys)
        var placed = round.requests.filter { placedIDs.contains($0.id) }
        guard !placed.isEmpty else { return }
        // Persist each task before its ACCEPT; a task whose record cannot be written is not launched.
        var sites: [String: AgentSite] = [:]
        for offer in offers where sites[offer.agentID.value] == nil {
            sites[offer.agentID.value] = AgentSite(offer: offer)
        }
        var stored: [TaskRequest] = []
        for request in placed {
            guard let (record, previous) = self.reserve(
                request.id, site: agents[request.id].flatMap { sites[$0.value] }, replacing: round.replacing[request.id])
            else { continue }
            do {
                guard self.isLive else { throw StateStoreError(kind: .fenced, message: "stopped") }
                try await self.saveTask(request.id, record)
                stored.append(request)
                if let earlier = previous.current { self.prune(earlier) }
            } catch {
                self.logger.warning("Cannot store a task record", metadata: ["mesos.task": "\(request.id)", "mesos.error": "\(error)"])
                self.release(request.id, previous: previous)
            }
        }
        placed = stored
        guard !placed.isEmpty, self.isLive else {
            for request in placed { self.release(request.id, previous: nil) }
            return
        }
        let specs = self.shared.withLock { shared in
            shared.launching.formUnion(placed.map(\.id))
            return shared.model.specs.mapValues(\.spec)
        }
        let launch: PlacementLaunch
        do {
            launch = try await self.services.placeAndLaunch(
                placed, running: round.running, strategy: self.configuration.strategy,
                portPolicy: self.configuration.portPolicy, replacing: round.replacing
            ) { request, task, _ in
                guard let spec = specs[request.group] else {
                    throw FrameworkRuntimeError(.unknownSpec, request.group)
                }
                return Self.taskInfo(spec: spec, id: request.id, ports: task.ports)
            }
        } catch {
            self.shared.withLock { $0.launching.subtract(placed.map(\.id)) }
            for request in placed { self.release(request.id, previous: nil) }
            return
        }
        let launchedIDs = Set(launch.launched.map(\.taskID.value))
        var events: [TaskEvent] = []
        let subscribers = self.shared.withLock { shared -> [Subscriber] in
            for (info, running) in zip(launch.launched, launch.running) {
                let id = info.taskID.value
                shared.model.setSite(running.site, of: id)
                if let staged = shared.model.launched(id) { events.append(staged) }
            }
            return Array(shared.subscribers.values)
        }
        for request in placed where !launchedIDs.contains(request.id) { self.release(request.id, previous: nil) }
        for event in events { Self.publish(event, to: subscribers) }
        // A scale-down or cancel that came while the ACCEPT was under way: those tasks are killed now.
        let unwanted = self.shared.withLock { shared in
            shared.launching.subtract(placed.map(\.id))
            return launch.launched.map(\.taskID).filter { shared.model.killedByUs($0.value) }
        }
        for id in unwanted { await self.kill(id) }
        self.resolveWaiters()
    }

    /// Marks an instance as launching task `id` (its new current task) on the agent of `site`; returns the record
    /// to store and the instance as it was (to put back if the launch does not happen).
    private func reserve(_ id: String, site: AgentSite?, replacing: TaskID?) -> (TaskRecord, RuntimeModel.Instance)? {
        self.shared.withLock { shared in
            guard let (name, index, attempt) = Self.parse(id), var instance = shared.model.specs[name]?.instances[index]
            else { return nil }
            let previous = instance
            let record = TaskRecord(
                spec: name, instance: index, attempt: attempt, agentID: site?.agentID, killedByUs: false,
                failuresBefore: Int32(clamping: instance.failures), replaces: replacing?.value
            ).with(site)
            instance.attempt = attempt
            instance.current = id
            instance.state = .taskStaging
            instance.status = nil
            instance.notBefore = nil
            instance.replaceAt = nil
            instance.launching = true
            shared.model.specs[name]?.instances[index] = instance  // in place: the spec's table is not copied
            // The model keeps the site once per agent (behind a shared reference), not in each record.
            shared.model.tasks[id] = RuntimeModel.TaskEntry(record: record.withoutSite, state: .taskStaging, site: nil)
            if let site { shared.model.setSite(site, of: id) }
            return (record, previous)
        }
    }

    /// Undoes ``reserve(_:agentID:replacing:)`` for a task that was not launched (its record stays harmless: it is
    /// deleted, or reconciled as unknown after a restart).
    private func release(_ id: String, previous: RuntimeModel.Instance?) {
        let removed = self.shared.withLock { shared -> Bool in
            guard let entry = shared.model.tasks.removeValue(forKey: id) else { return false }
            let record = entry.record
            guard var instance = shared.model.specs[record.spec]?.instances[record.instance] else {
                return true
            }
            if let previous {
                instance = previous
            } else {
                // Put back the task it replaced, if any, else leave the instance empty.
                instance.attempt = record.attempt
                instance.launching = false
                instance.current = record.replaces
                instance.state = record.replaces.flatMap { shared.model.tasks[$0]?.state }
                instance.status = nil
            }
            shared.model.specs[record.spec]?.instances[record.instance] = instance
            return true
        }
        guard removed, self.isLive else { return }
        let store = self.store
        Task { try? await store.delete(.tasks, key: id, expected: .any) }
    }

    /// Drops a superseded task that is over from the model, then its stored record and status (in the background:
    /// task ids are never reused, so no later write can race with these deletes). Keeps a long-running service's
    /// store and memory bounded by its instances, not by how often they were replaced.
    private func prune(_ id: String) {
        let pruned = self.shared.withLock { shared in
            guard !shared.stopped, !shared.launching.contains(id), shared.model.pruneSuperseded(id) else { return false }
            shared.advice.removeValue(forKey: id)
            return true
        }
        guard pruned else { return }
        let store = self.store
        Task {
            do {
                try await store.delete(.tasks, key: id, expected: .any)
                try await store.delete(.statuses, key: id, expected: .any)
            } catch {
                // Harmless: a record left behind is read back as an earlier attempt and pruned again.
            }
        }
    }

    static func parse(_ id: String) -> (String, Int, Int)? {
        let parts = id.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let index = Int(parts[1]), let attempt = Int(parts[2]) else { return nil }
        return (String(parts[0]), index, attempt)
    }

    /// The `TaskInfo` of one instance (its id, agent and resources are filled in by `placeAndLaunch`). Besides the
    /// spec's environment, the command sees `RUNTIME_INSTANCE`, `RUNTIME_ATTEMPT`, `PORT0`… and `PORTS`.
    static func taskInfo(spec: TaskSpec, id: String, ports: [UInt64]) -> TaskInfo {
        var task = TaskInfo()
        task.name = id
        var variables = spec.environment.sorted { $0.key < $1.key }.map { name, value in
            var variable = Environment.Variable()
            variable.name = name
            variable.value = value
            return variable
        }
        if let (_, instance, attempt) = Self.parse(id) {
            for (name, value) in [("RUNTIME_INSTANCE", instance), ("RUNTIME_ATTEMPT", attempt)] {
                var variable = Environment.Variable()
                variable.name = name
                variable.value = String(value)
                variables.append(variable)
            }
        }
        for (index, port) in ports.enumerated() {
            var variable = Environment.Variable()
            variable.name = "PORT\(index)"
            variable.value = String(port)
            variables.append(variable)
        }
        if !ports.isEmpty {
            var variable = Environment.Variable()
            variable.name = "PORTS"
            variable.value = ports.map(String.init).joined(separator: ",")
            variables.append(variable)
        }
        switch spec.command {
        case .shell(let line):
            task.command.shell = true
            task.command.value = line
        case .argv(let argv):
            task.command.shell = false
            task.command.value = argv[0]
            task.command.arguments = argv
        case nil:
            task.command.shell = false
        }
        task.command.environment.variables = variables
        if let image = spec.image {
            task.container.type = .mesos
            task.container.mesos.image.type = .docker
            task.container.mesos.image.docker.name = image
        }
        if !spec.labels.isEmpty {
            task.labels.labels = spec.labels.sorted { $0.key < $1.key }.map { key, value in
                var label = Label()
                label.key = key
                label.value = value
                return label
            }
        }
        if let grace = spec.killGracePeriod {
            let (seconds, attoseconds) = grace.components
            task.killPolicy.gracePeriod.nanoseconds = seconds * 1_000_000_000 + attoseconds / 1_000_000_000
        }
        return task
    }
}

/// The services' hooks, pointed at the runtime once it exists (the services are created before it is).
private final class HookBox: Sendable {
    /// The hooks, behind a reference: closures stored directly in a `LockedValue` are re-wrapped in thunks by
    /// every `withLock`, which made each call slower than the one before.
    private final class Hooks: Sendable {
        let commit: @Sendable (StatusUpdate) async throws -> Void
        let notice: @Sendable (FrameworkNotice) -> Void

        init(commit: @escaping @Sendable (StatusUpdate) async throws -> Void,
             notice: @escaping @Sendable (FrameworkNotice) -> Void) {
            self.commit = commit
            self.notice = notice
        }
    }

    private let hooks = LockedValue<Hooks?>(nil)

    func set(commit: @escaping @Sendable (StatusUpdate) async throws -> Void,
             notice: @escaping @Sendable (FrameworkNotice) -> Void) {
        self.hooks.withLock { $0 = Hooks(commit: commit, notice: notice) }
    }

    func commit(_ update: StatusUpdate) async throws {
        let commit = self.hooks.withLock { $0?.commit }
        guard let commit else {
            throw FrameworkRuntimeError(.stopped, "the runtime is not ready")
        }
        try await commit(update)
    }

    func notice(_ notice: FrameworkNotice) async {
        self.hooks.withLock { $0?.notice }?(notice)
    }
}

/// A mutual exclusion for async work, in arrival order.
final class AsyncMutex: Sendable {
    private struct State {
        var locked = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = LockedValue(State())

    func withLock<T: Sendable>(_ body: @Sendable () async -> T) async -> T {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let acquired = self.state.withLock { state -> Bool in
                if !state.locked {
                    state.locked = true
                    return true
                }
                state.waiters.append(continuation)
                return false
            }
            if acquired { continuation.resume() }
        }
        let result = await body()
        let next = self.state.withLock { state -> CheckedContinuation<Void, Never>? in
            if state.waiters.isEmpty {
                state.locked = false
                return nil
            }
            return state.waiters.removeFirst()
        }
        next?.resume()
        return result
    }
}
