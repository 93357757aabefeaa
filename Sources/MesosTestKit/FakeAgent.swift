import Foundation
import MesosCore
import MesosInMemoryTransport
import MesosRecordIO

/// A scriptable Mesos agent, as an executor sees it: the v1 executor endpoint (`/api/v1/executor`) with the
/// agent's checks and status codes (EXECUTOR-OPERATOR.md §1.3), in memory or over HTTP (``FakeAgentServer``).
///
/// The test drives it: events go out on the executor's stream (``launch(_:)``, ``kill(_:killPolicy:)``,
/// ``shutdown()``, ``send(_:)``, …), every call is recorded (``calls``, ``updates``), and faults are one call
/// away: ``restart(into:)`` (the stream drops; 503 while the agent recovers, then SUBSCRIBE works while other
/// calls still get 503), ``dropStream()``, ``setAvailability(_:)`` `.down` (no connection at all), raw bytes
/// on the stream (``sendRaw(_:)``), scripted answers (``respondNext(to:with:)``), and manual (slow or absent)
/// acknowledgements.
///
/// ```swift
/// let agent = FakeAgent()
/// let environment = agent.executorEnvironment(endpoint: "fake-agent:5051", checkpoint: true)
/// let executor = MesosExecutor(configuration: try .fromEnvironment(environment), transport: agent.transport)
/// let run = Task { await executor.run(delegate: myExecutor) }
/// try await agent.waitUntil { $0.isSubscribed }
/// await agent.launch(task)
/// ```
public actor FakeAgent {
    /// Who the agent is and how it answers.
    public struct Configuration: Sendable {
        /// The agent's id, in SUBSCRIBED's `agent_info.id`.
        public var agentID = "fake-agent-S0"
        /// The host name in `agent_info`.
        public var hostname = "127.0.0.1"
        /// The port in `agent_info`.
        public var port = 5051
        /// The framework the agent knows; a call naming another gets 400 "Framework cannot be found".
        public var frameworkID = "fake-framework-0000"
        /// The executor the agent knows; a call naming another gets 400 "Executor cannot be found".
        public var executorID = "fake-executor"
        /// The framework's checkpoint flag (in SUBSCRIBED's `framework_info`).
        public var checkpoint = true
        /// Whether each accepted update is acknowledged at once (`true`), or only when the test says so
        /// (``acknowledge(_:)``, ``acknowledgeAll()``): slow or absent acknowledgements.
        public var acknowledgesAutomatically = true

        /// The defaults.
        public init() {}
    }

    /// Whether the agent answers, and how (an agent restart goes through these).
    public enum Availability: Sendable, Equatable {
        /// Every call answered normally.
        case running
        /// No answer at all: the connection is closed (an agent that is down).
        case down
        /// 503 "Agent has not finished recovery" to everything (early in an agent restart).
        case recovering
        /// SUBSCRIBE works, every other call gets 503 (the re-registration window after a restart).
        case reregistering
    }

    /// A call the agent received, with what it answered.
    public struct ReceivedCall: Sendable {
        /// The decoded call, or `nil` if the body did not decode.
        public var call: ExecutorCall?
        /// The request headers.
        public var headers: MesosHTTPHeaders
        /// The status the agent answered (0 for no answer).
        public var status: Int
    }

    /// The configuration.
    public nonisolated let configuration: Configuration
    /// Every call received, in order.
    public private(set) var calls: [ReceivedCall] = []
    /// Every update accepted (UPDATE calls and those replayed from SUBSCRIBE), in order.
    public private(set) var updates: [TaskStatus] = []
    /// The updates accepted and not yet acknowledged.
    public private(set) var pendingAcknowledgements: [TaskStatus] = []
    /// The data of every MESSAGE call.
    public private(set) var messages: [[UInt8]] = []
    /// How many SUBSCRIBE calls were answered 200.
    public private(set) var subscriptionCount = 0
    /// How the agent answers now.
    public private(set) var availability = Availability.running
    /// Events that could not be sent because no stream was open.
    public private(set) var undeliveredEvents: [ExecutorEvent] = []

    private var stream: EventStream?
    private var nextStreamID = 0
    private var scripted: [ExecutorCall.TypeEnum: [FakeMasterResponse]] = [:]

    /// The open event stream: its encoding and the queue its producer drains.
    private struct EventStream {
        var id: Int
        var codec: MesosCodec
        var continuation: AsyncStream<StreamItem>.Continuation
    }

    private enum StreamItem: Sendable {
        case bytes([UInt8])
        case end
        case cut
    }

    /// Creates an agent.
    ///
    /// - Parameter configuration: Who it is and how it answers.
    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// A transport that delivers requests to this agent in memory; any URL works (see ``inMemoryEndpoint``).
    public nonisolated var transport: MesosInMemoryTransport {
        MesosInMemoryTransport { [self] request in
            try await InMemoryResponder.respond(to: request) { await self.respond(to: $0) }
        }
    }

    /// An endpoint URL to use with ``transport``.
    public nonisolated var inMemoryEndpoint: URL {
        URL(string: "http://fake-agent:5051/api/v1/executor")!
    }

    /// The environment a real agent would give an executor of this agent's framework and executor id.
    ///
    /// - Parameters:
    ///   - endpoint: `MESOS_AGENT_ENDPOINT` (`host:port`; any for the in-memory transport).
    ///   - checkpoint: `MESOS_CHECKPOINT`, with the two recovery variables when set.
    public nonisolated func executorEnvironment(endpoint: String, checkpoint: Bool) -> [String: String] {
        var environment = [
            "MESOS_AGENT_ENDPOINT": endpoint,
            "MESOS_FRAMEWORK_ID": self.configuration.frameworkID,
            "MESOS_EXECUTOR_ID": self.configuration.executorID,
            "MESOS_CHECKPOINT": checkpoint ? "1" : "0",
            "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD": "5secs",
        ]
        if checkpoint {
            environment["MESOS_RECOVERY_TIMEOUT"] = "15mins"
            environment["MESOS_SUBSCRIPTION_BACKOFF_MAX"] = "2secs"
        }
        return environment
    }

    /// `true` while an event stream is open.
    public var isSubscribed: Bool {
        self.stream != nil
    }

    /// The SUBSCRIBE calls received, in order.
    public var subscribeCalls: [ExecutorCall] {
        self.calls.compactMap(\.call).filter { $0.type == .subscribe }
    }

    // MARK: - Scripting

    /// Sends an event on the open stream.
    ///
    /// - Returns: `false` (and the event is kept in ``undeliveredEvents``) when no stream is open: events sent
    ///   while no executor is subscribed are lost, as with a real agent.
    @discardableResult
    public func send(_ event: ExecutorEvent) -> Bool {
        guard let stream = self.stream, let body = try? stream.codec.encode(event.wireMessage) else {
            self.undeliveredEvents.append(event)
            return false
        }
        stream.continuation.yield(.bytes(RecordIOEncoder.encode(body)))
        return true
    }

    /// Sends LAUNCH.
    @discardableResult
    public func launch(_ task: TaskInfo) -> Bool {
        self.send(.launch(task))
    }

    /// Sends KILL.
    @discardableResult
    public func kill(_ taskID: TaskID, killPolicy: KillPolicy? = nil) -> Bool {
        var kill = ExecutorEvent.Kill()
        kill.taskID = taskID
        if let killPolicy { kill.killPolicy = killPolicy }
        return self.send(.kill(kill))
    }

    /// Sends MESSAGE.
    @discardableResult
    public func message(_ data: [UInt8]) -> Bool {
        self.send(.message(data))
    }

    /// Sends SHUTDOWN.
    @discardableResult
    public func shutdown() -> Bool {
        self.send(.shutdown)
    }

    /// Sends HEARTBEAT.
    @discardableResult
    public func heartbeat() -> Bool {
        self.send(.heartbeat)
    }

    /// Sends ERROR (a real agent never does; client libraries must cope anyway).
    @discardableResult
    public func error(_ message: String) -> Bool {
        self.send(.error(message: message))
    }

    /// Writes raw bytes on the stream (a malformed record, garbage).
    public func sendRaw(_ bytes: [UInt8]) {
        self.stream?.continuation.yield(.bytes(bytes))
    }

    /// Acknowledges a pending update (ACKNOWLEDGED with its task id and uuid).
    ///
    /// - Returns: `false` if the update is not pending or no stream is open.
    @discardableResult
    public func acknowledge(_ status: TaskStatus) -> Bool {
        guard let index = self.pendingAcknowledgements.firstIndex(where: { $0.uuid == status.uuid }) else { return false }
        var acknowledged = ExecutorEvent.Acknowledged()
        acknowledged.taskID = status.taskID
        acknowledged.uuid = status.uuid
        guard self.send(.acknowledged(acknowledged)) else { return false }
        self.pendingAcknowledgements.remove(at: index)
        return true
    }

    /// Acknowledges every pending update, in order.
    public func acknowledgeAll() {
        for status in self.pendingAcknowledgements {
            self.acknowledge(status)
        }
    }

    /// Ends the stream cleanly (EOF).
    public func closeStream() {
        self.stream?.continuation.yield(.end)
        self.stream = nil
    }

    /// Cuts the stream's connection.
    public func dropStream() {
        self.stream?.continuation.yield(.cut)
        self.stream = nil
    }

    /// An agent restart: the stream drops, unacknowledged updates are forgotten (the executor must resend them),
    /// and the agent answers as `availability` says until ``setAvailability(_:)`` moves it on.
    ///
    /// - Parameter availability: `.recovering` (503 to everything) by default.
    public func restart(into availability: Availability = .recovering) {
        self.dropStream()
        self.pendingAcknowledgements = []
        self.availability = availability
    }

    /// Changes how the agent answers.
    public func setAvailability(_ availability: Availability) {
        self.availability = availability
    }

    /// The next call of `type` (after the method, content and decoding checks) gets `response` instead of the
    /// agent's own answer; queued responses are used in order.
    public func respondNext(to type: ExecutorCall.TypeEnum, with response: FakeMasterResponse) {
        self.scripted[type, default: []].append(response)
    }

    /// Waits until `condition` holds, checking every few milliseconds.
    ///
    /// - Parameters:
    ///   - timeout: A safety bound for a broken test.
    ///   - condition: Evaluated on the agent's state.
    /// - Throws: ``MesosError/Code/timeout`` if the condition still fails after `timeout`.
    public func waitUntil(timeout: Duration = .seconds(60), _ condition: @Sendable (isolated FakeAgent) -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while !condition(self) {
            guard ContinuousClock.now < deadline else {
                throw MesosError(code: .timeout, message: "FakeAgent.waitUntil: condition still false after \(timeout)")
            }
            try await Task.sleep(for: .milliseconds(2))
        }
    }

    // MARK: - The endpoint

    /// Answers one request to the executor endpoint, in the agent's order of checks.
    public func respond(to request: FakeMasterRequest) -> FakeMasterResponse {
        var call: ExecutorCall?
        let response = self.answer(request, call: &call)
        self.calls.append(ReceivedCall(call: call, headers: request.headers, status: response.status))
        return response
    }

    private func answer(_ request: FakeMasterRequest, call decodedCall: inout ExecutorCall?) -> FakeMasterResponse {
        switch self.availability {
        case .down: return .closeConnection
        case .recovering: return .text(503, "Agent has not finished recovery")
        case .running, .reregistering: break
        }
        let (decoded, refusal) = SchedulerEndpointChecks.decodeBody(
            ExecutorCall.self, method: request.method, headers: request.headers, body: request.body[...])
        decodedCall = decoded
        if let refusal {
            return .text(refusal.status, refusal.text, headers: refusal.headers)
        }
        guard let call = decoded else { return .text(500) }
        do {
            try call.validate()
        } catch {
            return .text(400, "Failed to validate Executor::Call: \(error.message)")
        }
        var contentType = MesosContentType.json
        if call.type == .subscribe {
            guard let negotiated = SchedulerEndpointChecks.negotiate(accept: request.headers["Accept"]) else {
                return .text(406, "Expecting 'Accept' to allow application/json or application/x-protobuf")
            }
            contentType = negotiated
        }
        if call.type == .heartbeat {
            return .text(202)
        }
        if self.availability == .reregistering, call.type != .subscribe {
            return .text(503, "Agent has not finished recovery")
        }
        guard call.frameworkID.value == self.configuration.frameworkID else {
            return .text(400, "Framework cannot be found")
        }
        guard call.executorID.value == self.configuration.executorID else {
            return .text(400, "Executor cannot be found")
        }
        if call.type != .subscribe, self.stream == nil {
            return .text(403, "Executor is not subscribed")
        }
        if var queue = self.scripted[call.type], !queue.isEmpty {
            let response = queue.removeFirst()
            self.scripted[call.type] = queue
            return response
        }
        switch call.type {
        case .subscribe:
            return self.subscribe(call, contentType: contentType)
        case .update:
            self.accept(call.update.status)
            return .text(202)
        case .message:
            self.messages.append(Array(call.message.data))
            return .text(202)
        default:
            return .text(501, "Received 'UNKNOWN' call")
        }
    }

    private func subscribe(_ call: ExecutorCall, contentType: MesosContentType) -> FakeMasterResponse {
        self.closeStream()
        let (events, continuation) = AsyncStream.makeStream(of: StreamItem.self, bufferingPolicy: .unbounded)
        self.nextStreamID += 1
        let id = self.nextStreamID
        self.stream = EventStream(id: id, codec: MesosCodec(contentType), continuation: continuation)
        self.subscriptionCount += 1
        self.send(.subscribed(self.subscribedPayload()))
        for update in call.subscribe.unacknowledgedUpdates {
            self.accept(update.status)
        }
        let agent = self
        return .stream(200, headers: ["Content-Type": contentType.mediaType]) { writer in
            defer { Task { await agent.streamEnded(id) } }
            for await item in events {
                switch item {
                case .bytes(let bytes):
                    try await writer.write(bytes[...])
                case .end:
                    return
                case .cut:
                    throw FakeMasterResponse.CloseConnection(reason: "the fake agent dropped the executor stream")
                }
            }
        }
    }

    private func streamEnded(_ id: Int) {
        if self.stream?.id == id {
            self.stream = nil
        }
    }

    /// Takes an update (a fresh UPDATE or one replayed by SUBSCRIBE) and acknowledges it if automatic.
    private func accept(_ status: TaskStatus) {
        self.updates.append(status)
        if !self.pendingAcknowledgements.contains(where: { $0.uuid == status.uuid }) {
            self.pendingAcknowledgements.append(status)
        }
        if self.configuration.acknowledgesAutomatically {
            self.acknowledge(status)
        }
    }

    private func subscribedPayload() -> ExecutorEvent.Subscribed {
        var subscribed = ExecutorEvent.Subscribed()
        subscribed.executorInfo.executorID.value = self.configuration.executorID
        subscribed.executorInfo.frameworkID.value = self.configuration.frameworkID
        subscribed.frameworkInfo.id.value = self.configuration.frameworkID
        subscribed.frameworkInfo.name = "fake-framework"
        subscribed.frameworkInfo.user = "nobody"
        subscribed.frameworkInfo.checkpoint = self.configuration.checkpoint
        subscribed.agentInfo.id.value = self.configuration.agentID
        subscribed.agentInfo.hostname = self.configuration.hostname
        subscribed.agentInfo.port = Int32(self.configuration.port)
        subscribed.containerID.value = "fake-container"
        return subscribed
    }
}
