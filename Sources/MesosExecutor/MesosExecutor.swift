// The executor service (issue 14): the agent's v1 executor API on the project's transports.
@_exported import MesosCore
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Logging

/// The executor half of a Mesos framework: subscribes to the local agent, hands LAUNCH, KILL, SHUTDOWN, … to
/// your code, sends task status updates, and keeps them until the agent acknowledges them.
///
/// ```swift
/// let configuration = try ExecutorConfiguration.fromEnvironment()
/// let executor = MesosExecutor(configuration: configuration, transport: .curl())
/// let end = await executor.run(delegate: MyExecutor())
/// exit(end.exitStatus)
/// ```
///
/// Events reach a delegate (``Executor``), per-kind callbacks (``onEvent(_:_:)``) and an `AsyncSequence`
/// (``events()``), in that order, one event at a time.
///
/// **Updates.** ``update(_:)`` gives each status a fresh uuid, the source, the executor's and agent's ids and a
/// timestamp, and keeps it until ACKNOWLEDGED arrives for that uuid. Tasks launched but with no acknowledged
/// update are kept too. Both lists go out again in every re-SUBSCRIBE.
///
/// **Recovery.** When the connection to the agent is lost and the framework checkpoints, the executor
/// re-subscribes with jittered exponential backoff capped at ``ExecutorConfiguration/subscriptionBackoffMax``,
/// until ``ExecutorConfiguration/recoveryTimeout`` (one timer from the loss) runs out; then it runs the
/// delegate's ``Executor/shutdown(_:)`` and ends with ``ExecutorTermination/recoveryTimedOut(_:)``. Without
/// checkpointing it ends as soon as the agent is gone (``ExecutorTermination/agentGone(_:)``).
///
/// **Ending.** ``run(delegate:)`` returns an ``ExecutorTermination``: after SHUTDOWN once the delegate's
/// `shutdown` returned and every update is acknowledged (or at the grace period); after the last task's
/// terminal update once it is acknowledged (or after ``ExecutorConfiguration/terminalAcknowledgementTimeout``).
///
/// All delays are measured on ``ExecutorConfiguration/clock``. The executor starts no thread of its own.
public final class MesosExecutor: Sendable {
    /// The configuration it runs with.
    public let configuration: ExecutorConfiguration

    let transport: any MesosTransport
    let logger: Logger?
    let codec: MesosCodec
    let time: TimeSource
    let state: LockedValue<State>
    /// Fired once, with the reason the executor ends.
    let ended = Signal<ExecutorTermination>()

    /// Creates an executor; nothing happens until ``run(delegate:)``.
    ///
    /// - Parameters:
    ///   - configuration: Where the agent is and the timing rules (``ExecutorConfiguration/fromEnvironment(_:)``).
    ///   - transport: The HTTP transport (`.curl()` in an executable, an in-memory one in tests).
    ///   - logger: Where to log; the executor logs nothing without one.
    public init(configuration: ExecutorConfiguration, transport: any MesosTransport, logger: Logger? = nil) {
        self.configuration = configuration
        self.transport = transport
        self.logger = logger
        self.codec = MesosCodec(configuration.contentType)
        self.time = TimeSource(configuration.clock)
        let random = configuration.jitterSeed.map(SplitMix64.init(seed:)) ?? SplitMix64()
        self.state = LockedValue(State(random: random))
    }

    // MARK: - State

    /// Where the connection to the agent is. SHUTDOWN handling is orthogonal (``State/shutdown``): the stream
    /// stays open meanwhile, so that the tasks' terminal updates go out and are acknowledged.
    enum Phase: Sendable, Equatable {
        /// Not subscribed yet, or re-subscribing.
        case connecting
        case subscribed
        case ended
    }

    struct UnacknowledgedUpdate {
        var uuid: Data
        var update: ExecutorCall.Update
    }

    struct Shutdown {
        var handlerDone = false
        var then: ExecutorTermination
    }

    struct State {
        var phase = Phase.connecting
        var started = false
        var everSubscribed = false
        var subscribed: ExecutorEvent.Subscribed?
        /// How many SUBSCRIBEs were sent: an update waiting to be retried knows a newer SUBSCRIBE carried it.
        var generation = 0
        var unacknowledgedUpdates: [UnacknowledgedUpdate] = []
        var unacknowledgedTasks: [(id: String, task: TaskInfo)] = []
        var launched: Set<String> = []
        var terminal: Set<String> = []
        var shutdown: Shutdown?
        var delegate: (any Executor)?
        var handlers: [(kind: ExecutorEvent.Kind?, handler: @Sendable (ExecutorEvent) async -> Void)] = []
        var stream: AsyncStream<ExecutorEvent>.Continuation?
        var timers: [Timer: Task<Void, Never>] = [:]
        var lastFailure: MesosError?
        var random: SplitMix64

        init(random: SplitMix64) {
            self.random = random
        }

        var agentID: AgentID? {
            guard let subscribed, subscribed.agentInfo.hasID, !subscribed.agentInfo.id.value.isEmpty else { return nil }
            return subscribed.agentInfo.id
        }
    }

    enum Timer: Hashable {
        case registration, recovery, shutdown, terminalAcknowledgement
    }

    // MARK: - Public API

    /// Calls `handler` for every event of `kind` (every event when `nil`), after the delegate. Register before
    /// ``run(delegate:)``.
    ///
    /// - Parameters:
    ///   - kind: The kind of event, or `nil` for all.
    ///   - handler: The callback; it runs on the task that reads the stream, so return promptly.
    public func onEvent(_ kind: ExecutorEvent.Kind? = nil, _ handler: @escaping @Sendable (ExecutorEvent) async -> Void) {
        self.state.withLock { $0.handlers.append((kind: kind, handler: handler)) }
    }

    /// The events as an asynchronous sequence, from now until the executor ends (then the sequence finishes).
    ///
    /// Events are buffered for the sequence only once it has been asked for; asking again ends the previous one.
    public func events() -> AsyncStream<ExecutorEvent> {
        let (stream, continuation) = AsyncStream.makeStream(of: ExecutorEvent.self, bufferingPolicy: .unbounded)
        let (previous, over) = self.state.withLock { state in
            defer { if state.phase != .ended { state.stream = continuation } }
            return (state.stream, state.phase == .ended)
        }
        previous?.finish()
        if over { continuation.finish() }
        return stream
    }

    /// The last SUBSCRIBED payload, once subscribed.
    public var subscribed: ExecutorEvent.Subscribed? {
        self.state.withLock { $0.subscribed }
    }

    /// The updates sent and not yet acknowledged, in send order.
    public var unacknowledgedUpdates: [TaskStatus] {
        self.state.withLock { $0.unacknowledgedUpdates.map(\.update.status) }
    }

    /// The tasks launched whose updates have not been acknowledged yet.
    public var unacknowledgedTasks: [TaskInfo] {
        self.state.withLock { $0.unacknowledgedTasks.map(\.task) }
    }

    /// Ends ``run(delegate:)`` with ``ExecutorTermination/stopped`` at once (no SHUTDOWN handling).
    public func stop() {
        self.finish(.stopped)
    }

    /// Runs the executor until it ends: subscribes, delivers events, recovers, and returns why it ended.
    ///
    /// - Parameter delegate: The callbacks, if any.
    /// - Returns: The reason it ended; an executable exits with ``ExecutorTermination/exitStatus``.
    public func run(delegate: (any Executor)? = nil) async -> ExecutorTermination {
        let first = self.state.withLock { state -> Bool in
            defer { state.started = true }
            state.delegate = delegate
            return !state.started && state.phase != .ended
        }
        guard first else {
            return await self.ended.wait()
                ?? .failed(MesosError(code: .invalidState, message: "MesosExecutor.run() was called twice"))
        }
        self.arm(.registration, after: self.configuration.registrationTimeout) { executor in
            let reason = executor.state.withLock { $0.lastFailure }
                ?? MesosError(code: .timeout, message: "No SUBSCRIBED within \(executor.configuration.registrationTimeout)")
            executor.finish(.registrationTimedOut(reason))
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.subscriptionLoop() }
            if let interval = self.configuration.heartbeatInterval {
                group.addTask { await self.heartbeats(every: interval) }
            }
            if await self.ended.wait() == nil {
                self.finish(.stopped)
            }
            group.cancelAll()
        }
        return self.ended.value ?? .stopped
    }

    /// Sends a task status update and keeps it until the agent acknowledges it.
    ///
    /// The status gets a fresh random uuid, `source = SOURCE_EXECUTOR`, the executor's id, the agent's id (from
    /// SUBSCRIBED) and a timestamp if it has none. While the executor is not subscribed the update is only kept:
    /// the next SUBSCRIBE carries it. An agent answering 503 or 404 (recovering), or a failed connection, makes
    /// it retry with backoff until the agent accepts it or a new SUBSCRIBE carries it.
    ///
    /// - Parameter status: At least `task_id` and `state` (never TASK_STAGING).
    /// - Returns: The status as sent.
    /// - Throws: ``MesosError/Code/invalidCall`` for a status the agent would refuse, ``MesosError/Code/invalidState``
    ///   once the executor has ended, or the agent's refusal (a 4xx other than 404 and 403 "not subscribed"; the
    ///   update is then dropped).
    @discardableResult
    public func update(_ status: TaskStatus) async throws(MesosError) -> TaskStatus {
        let now = self.configuration.wallClock()
        let prepared = try self.state.withLock { state throws(MesosError) -> (TaskStatus, ExecutorCall, Int, Bool, Bool) in
            guard state.phase != .ended else {
                throw MesosError(code: .invalidState, message: "The executor has ended; the update is not sent")
            }
            let sent = status.executorUpdate(executorID: self.configuration.executorID, agentID: state.agentID, timestamp: now)
            let call = ExecutorCall.update(sent, executorID: self.configuration.executorID, frameworkID: self.configuration.frameworkID)
            try call.validate()
            state.unacknowledgedUpdates.append(UnacknowledgedUpdate(uuid: sent.uuid, update: call.update))
            if sent.state.isTerminal {
                state.terminal.insert(sent.taskID.value)
            }
            let allEnded = !state.launched.isEmpty && state.launched.isSubset(of: state.terminal)
            return (sent, call, state.generation, state.phase == .subscribed, sent.state.isTerminal && allEnded)
        }
        let (sent, call, generation, subscribed, lastTerminal) = prepared
        if lastTerminal, self.configuration.endsAfterLastTerminalUpdate {
            self.arm(.terminalAcknowledgement, after: self.configuration.terminalAcknowledgementTimeout) { executor in
                executor.finish(.acknowledgementTimedOut)
            }
        }
        guard subscribed else {
            return sent
        }
        try await self.deliver(call, uuid: sent.uuid, generation: generation)
        return sent
    }

    /// Sends opaque data to the scheduler (best effort, as in Mesos).
    ///
    /// - Parameter data: The bytes.
    /// - Throws: ``MesosError/Code/notSubscribed`` while not subscribed, or the agent's answer as a ``MesosError``.
    public func message(_ data: [UInt8]) async throws(MesosError) {
        guard self.state.withLock({ $0.phase == .subscribed }) else {
            throw MesosError(code: .notSubscribed, message: "The executor is not subscribed to the agent")
        }
        let call = ExecutorCall.message(data, executorID: self.configuration.executorID, frameworkID: self.configuration.frameworkID)
        let status = try await self.post(call)
        guard (200..<300).contains(status.status) else {
            throw MesosError.httpStatus(status.status, body: status.text)
        }
    }

    // MARK: - Calls

    /// POSTs a call on the call connection; returns the status and the start of the body.
    func post(_ call: ExecutorCall) async throws(MesosError) -> (status: Int, text: String) {
        let (response, body) = try await self.send(try self.codec.encode(call: call), stream: false)
        let text = await body.prefixText()
        return (response.status, text)
    }

    func send(_ body: [UInt8], stream: Bool) async throws(MesosError) -> (MesosHTTPResponse, MesosResponseBody) {
        var headers: MesosHTTPHeaders = ["Content-Type": self.codec.contentType.mediaType]
        if stream {
            headers["Accept"] = self.codec.contentType.mediaType
        }
        if let token = self.configuration.authenticationToken {
            headers["Authorization"] = "Bearer \(token)"
        }
        let request = MesosHTTPRequest(
            method: "POST", url: self.configuration.endpoint, headers: headers, body: body,
            timeout: stream ? nil : self.configuration.callTimeout)
        return try await self.transport.send(request)
    }

    /// Sends an UPDATE until the agent takes it, retrying temporary failures while no newer SUBSCRIBE carried it.
    private func deliver(_ call: ExecutorCall, uuid: Data, generation: Int) async throws(MesosError) {
        var attempt = 0
        while true {
            var failure: MesosError
            do throws(MesosError) {
                let answer = try await self.post(call)
                if (200..<300).contains(answer.status) {
                    return
                }
                failure = MesosError.httpStatus(answer.status, body: answer.text)
                if failure.code == .unsubscribed {
                    // The agent saw the stream go: the update stays kept, and the next SUBSCRIBE carries it.
                    return
                }
                guard answer.status == 503 || answer.status == 404 else {
                    let status = call.update.status
                    self.forget(uuid: uuid, taskID: status.taskID.value, terminal: status.state.isTerminal)
                    throw failure
                }
            } catch {
                guard error.code == .transportFailure || error.code == .timeout else { throw error }
                failure = error
            }
            let reason = failure
            attempt += 1
            let delay = self.state.withLock { $0.random.nextDelay(self.backoff, attempt: attempt) }
            self.logger?.debug("Update not accepted yet; retrying", metadata: ["mesos.error": "\(reason)", "mesos.delay": "\(delay)"])
            do {
                try await self.time.sleep(for: delay)
            } catch {
                throw MesosError(code: .cancelled, message: "Cancelled while retrying an update")
            }
            let pending = self.state.withLock { state in
                state.phase == .subscribed && state.generation == generation
                    && state.unacknowledgedUpdates.contains { $0.uuid == uuid }
            }
            if !pending {
                return
            }
        }
    }

    /// Drops an update the agent refused for good, so that it does not poison every later SUBSCRIBE.
    private func forget(uuid: Data, taskID: String, terminal: Bool) {
        self.state.withLock { state in
            state.unacknowledgedUpdates.removeAll { $0.uuid == uuid }
            if terminal, !state.unacknowledgedUpdates.contains(where: { $0.update.status.taskID.value == taskID && $0.update.status.state.isTerminal }) {
                state.terminal.remove(taskID)
            }
        }
    }

    /// The re-subscription backoff: exponential with full jitter, every delay at most the configured cap.
    var backoff: BackoffPolicy {
        let cap = self.configuration.subscriptionBackoffMax
        return BackoffPolicy(initial: min(cap, .milliseconds(250)), maximum: cap, multiplier: 2, jitter: true)
    }

    private func heartbeats(every interval: Duration) async {
        while !Task.isCancelled {
            do {
                try await self.time.sleep(for: interval)
            } catch {
                return
            }
            guard self.state.withLock({ $0.phase == .subscribed }) else { continue }
            let call = ExecutorCall.heartbeat(executorID: self.configuration.executorID, frameworkID: self.configuration.frameworkID)
            do {
                _ = try await self.post(call)
            } catch {
                self.logger?.debug("HEARTBEAT call failed", metadata: ["mesos.error": "\(error)"])
            }
        }
    }

    // MARK: - Timers and the end

    /// Starts (or restarts) a timer on the configured clock.
    func arm(_ timer: Timer, after delay: Duration, _ action: @escaping @Sendable (MesosExecutor) -> Void) {
        let task = Task { [self] in
            do {
                try await self.time.sleep(for: delay)
            } catch {
                return
            }
            action(self)
        }
        let previous = self.state.withLock { state -> Task<Void, Never>? in
            guard state.phase != .ended else { return task }
            defer { state.timers[timer] = task }
            return state.timers[timer]
        }
        previous?.cancel()
    }

    func disarm(_ timers: Timer...) {
        let tasks = self.state.withLock { state in timers.compactMap { state.timers.removeValue(forKey: $0) } }
        for task in tasks { task.cancel() }
    }

    /// Ends the executor (the first reason wins).
    func finish(_ termination: ExecutorTermination) {
        guard self.ended.fire(termination) else { return }
        let (timers, stream) = self.state.withLock { state in
            state.phase = .ended
            defer {
                state.timers = [:]
                state.stream = nil
            }
            return (Array(state.timers.values), state.stream)
        }
        for timer in timers { timer.cancel() }
        stream?.finish()
        self.logger?.info("Executor ending", metadata: ["mesos.termination": "\(termination)"])
    }

    /// Ends the executor if its work is done: SHUTDOWN handled, or every task reported and acknowledged.
    func finishIfDone() {
        let done = self.state.withLock { state -> ExecutorTermination? in
            guard state.phase != .ended else { return nil }
            if let shutdown = state.shutdown {
                guard shutdown.handlerDone else { return nil }
                if shutdown.then == .shutdown {
                    return state.unacknowledgedUpdates.isEmpty ? .shutdown : nil
                }
                return shutdown.then
            }
            guard self.configuration.endsAfterLastTerminalUpdate, !state.launched.isEmpty,
                state.launched.isSubset(of: state.terminal), state.unacknowledgedUpdates.isEmpty
            else { return nil }
            return .finished
        }
        if let done {
            self.finish(done)
        }
    }

    /// Runs the delegate's `shutdown` beside the stream, bounded by the grace period, then ends with `then`
    /// (``ExecutorTermination/shutdown`` waits for every acknowledgement too).
    func beginShutdown(then: ExecutorTermination) {
        let delegate = self.state.withLock { state -> (any Executor)?? in
            guard state.phase != .ended, state.shutdown == nil else { return nil }
            state.shutdown = Shutdown(then: then)
            return .some(state.delegate)
        }
        guard let delegate else { return }
        self.disarm(.registration, .recovery, .terminalAcknowledgement)
        self.arm(.shutdown, after: self.configuration.shutdownGracePeriod) { executor in
            executor.finish(then == .shutdown ? .shutdownGracePeriodExpired : then)
        }
        Task {
            await delegate?.shutdown(self)
            self.state.withLock { $0.shutdown?.handlerDone = true }
            self.finishIfDone()
        }
    }
}

extension SplitMix64 {
    /// The jittered delay before re-subscription attempt `attempt`.
    mutating func nextDelay(_ policy: BackoffPolicy, attempt: Int) -> Duration {
        policy.delay(forAttempt: attempt, using: &self)
    }
}
