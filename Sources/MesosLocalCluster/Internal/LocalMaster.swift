import Dispatch
import Foundation
import Logging
import MesosCore
import MesosResources

/// The local cluster's master and agents: one lock-protected state, driven by scheduler calls, by the agents'
/// processes and by a timer. Nothing here waits on the Swift concurrency pool: calls are answered at once,
/// processes are watched by threads, and time-based work runs on a dispatch timer.
final class LocalMaster: Sendable {
    let configuration: LocalCluster.Configuration
    let logger: Logger
    let masterInfo: MasterInfo
    let location: MasterLocation
    let workDirectory: String
    let ownsWorkDirectory: Bool
    let state: LockedValue<State>
    let agentQueue = DispatchQueue(label: "mesos.local-cluster.agent")
    /// The master's time: how long since it started, on ``LocalCluster/Configuration/clock``.
    let clock: MasterClock
    private let timer = LockedValue<(any DispatchSourceTimer)?>(nil)

    /// The most tasks a framework keeps in its completed list.
    static let completedTaskLimit = 200
    /// The most bytes of each output stream kept per task.
    static let outputTailLimit = 64 * 1024

    struct State: Sendable {
        var isShutDown = false
        var agents: [AgentRecord]
        var frameworks: [String: FrameworkRecord] = [:]
        var frameworkOrder: [String] = []
        var offers: [String: OfferRecord] = [:]
        var offerOrder: [String] = []
        var nextFrameworkNumber = 0
        var nextOfferNumber = 0
        var allocationRound = 0
        /// The operator event stream's subscribers, oldest first.
        var operatorSubscribers: [OperatorSubscriber] = []
        var nextOperatorSubscriberID = 0
    }

    /// One agent. Every `Resources` here is post-refinement and without `allocation_info`.
    struct AgentRecord: Sendable {
        var id: AgentID
        var index: Int
        var hostname: String
        var attributes: [Attribute]
        var domain: DomainInfo?
        var total: Resources
        var used = Resources()
        var offered = Resources()

        var free: Resources { self.total - self.used - self.offered }

        var info: AgentInfo {
            var info = AgentInfo()
            info.id = self.id
            info.hostname = self.hostname
            info.port = Int32(5051 + self.index)
            info.resources = self.total.array
            info.attributes = self.attributes
            if let domain = self.domain { info.domain = domain }
            return info
        }
    }

    struct OfferRecord: Sendable {
        var offer: Offer
        var frameworkKey: String
        var agentIndex: Int
        /// What the offer holds, allocated to ``role``.
        var resources: Resources
        var role: String
    }

    /// A decline filter: per framework, role and agent, the refused resources (without `allocation_info`).
    struct OfferFilter: Sendable {
        var agentIndex: Int
        var role: String
        var resources: Resources
        var expires: Duration
    }

    struct TaskRecord: Sendable {
        var info: TaskInfo
        var agentIndex: Int
        /// What the task uses, without `allocation_info`.
        var resources: Resources
        var state: TaskState = .taskStaging
        var latest: TaskStatus?
        /// Updates waiting for acknowledgement; the first is the one sent.
        var pending: [TaskStatus] = []
        var lastSent: Duration?
        var process: TaskProcess
        var sandbox: String
        var resourcesReleased = false
        var killingSent = false
        var stdout: [UInt8] = []
        var stderr: [UInt8] = []
    }

    struct FrameworkRecord: Sendable {
        var id: FrameworkID
        var info: FrameworkInfo
        var connection: Connection?
        var disconnectedAt: Duration?
        var isRemoved = false
        var suppressedRoles: Set<String> = []
        var filters: [OfferFilter] = []
        var tasks: [String: TaskRecord] = [:]
        var taskOrder: [String] = []
        var completed: [TaskRecord] = []

        func has(_ capability: FrameworkInfo.Capability.TypeEnum) -> Bool {
            self.info.capabilities.contains { $0.type == capability }
        }

        /// The roles the framework subscribed with: `roles` for MULTI_ROLE frameworks, else `role`.
        var roles: [String] {
            self.has(.multiRole) ? self.info.roles : [self.info.hasRole && !self.info.role.isEmpty ? self.info.role : "*"]
        }

        var failoverTimeout: Duration {
            let seconds = self.info.failoverTimeout
            guard seconds.isFinite, seconds > 0 else { return .zero }
            return Duration(saturatingSeconds: seconds)
        }
    }

    init(configuration: LocalCluster.Configuration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        self.clock = MasterClock(configuration.clock)
        let masterID = UUID().uuidString.lowercased()
        var info = MasterInfo()
        info.id = masterID
        info.hostname = configuration.hostname
        info.port = UInt32(clamping: configuration.port)
        info.ip = 0x0100007F
        info.pid = "master@127.0.0.1:\(configuration.port)"
        info.version = configuration.version
        info.address.hostname = configuration.hostname
        info.address.ip = "127.0.0.1"
        info.address.port = Int32(clamping: configuration.port)
        self.masterInfo = info
        self.location = MasterLocation(scheme: "http", host: configuration.hostname, port: configuration.port, masterInfo: info)
        if let directory = configuration.workDirectory {
            self.workDirectory = directory
            self.ownsWorkDirectory = false
        } else {
            self.workDirectory = FileManager.default.temporaryDirectory
                .appendingPathComponent("mesos-local-\(getpid())-\(masterID.prefix(8))").path
            self.ownsWorkDirectory = true
        }
        let agents = (0..<configuration.agentCount).map { index in
            let definition = configuration.agent(at: index)
            return AgentRecord(
                id: AgentID("\(masterID)-S\(index)"),
                index: index,
                hostname: definition.hostname ?? configuration.hostname,
                attributes: definition.attributes,
                domain: definition.domain,
                total: Resources((definition.resources ?? configuration.agentResources).resources).unallocated()
            )
        }
        self.state = LockedValue(State(agents: agents))
    }

    // MARK: - Timer

    /// Starts the timer that sends heartbeats, re-sends unacknowledged updates, expires failover timeouts and
    /// offers resources whose filters ran out.
    func startTimer() {
        let interval = min(self.configuration.allocationInterval, self.configuration.heartbeatInterval, self.configuration.statusUpdateRetryInterval)
        let nanoseconds = max(10_000_000, interval.inNanoseconds)
        self.timer.withLock { slot in
            let timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "mesos.local-cluster.timer"))
            timer.schedule(
                deadline: .now() + .nanoseconds(Int(nanoseconds)),
                repeating: .nanoseconds(Int(nanoseconds)),
                leeway: .milliseconds(10)
            )
            timer.setEventHandler { [weak self] in
                self?.tick()
            }
            timer.resume()
            slot = timer
        }
    }

    func stopTimer() {
        self.timer.withLock { timer in
            timer?.cancel()
            timer = nil
        }
    }

    // MARK: - HTTP

    /// What the master answers.
    enum Reply {
        case text(Int, String = "", headers: MesosHTTPHeaders = [:])
        case json(Int, String)
        case stream(MesosHTTPHeaders, SubscriptionBody)

        /// The master's plain-text answer to a request it refuses.
        static func refusal(_ refusal: SchedulerEndpointChecks.Refusal) -> Reply {
            .text(refusal.status, refusal.text, headers: refusal.headers)
        }
    }

    /// Answers one HTTP request, as the master's HTTP server would.
    func handle(_ request: MesosHTTPRequest) async throws -> (MesosHTTPResponse, MesosResponseBody) {
        if self.state.withLock({ $0.isShutDown }) {
            throw MesosError(
                code: .transportFailure,
                message: "Connection refused: the local cluster at \(self.location) has shut down"
            )
        }
        var path = request.url.path
        if path.count > 1, path.hasSuffix("/") { path.removeLast() }
        let reply: Reply
        switch path {
        case "/api/v1/scheduler", "/master/api/v1/scheduler":
            reply = self.schedulerEndpoint(request)
        case "/api/v1", "/master/api/v1":
            return self.operatorEndpoint(request)
        case "/redirect", "/master/redirect":
            reply = .text(307, headers: ["Location": "//\(self.location.host):\(self.location.port)"])
        case "/version", "/master/version":
            reply = .json(200, #"{"version":"\#(self.configuration.version)","build_user":"swift-mesos local cluster"}"#)
        case "/health", "/master/health":
            reply = .text(200)
        default:
            reply = .text(404)
        }
        return Self.response(reply)
    }

    static func response(_ reply: Reply) -> (MesosHTTPResponse, MesosResponseBody) {
        switch reply {
        case .text(let status, let text, var headers):
            let bytes = Array(text.utf8)
            if !bytes.isEmpty { headers["Content-Type"] = "text/plain; charset=utf-8" }
            headers["Content-Length"] = String(bytes.count)
            return (MesosHTTPResponse(status: status, headers: headers), MesosResponseBody(bytes: bytes))
        case .json(let status, let text):
            let bytes = Array(text.utf8)
            let headers: MesosHTTPHeaders = ["Content-Type": "application/json", "Content-Length": String(bytes.count)]
            return (MesosHTTPResponse(status: status, headers: headers), MesosResponseBody(bytes: bytes))
        case .stream(var headers, let body):
            headers["Transfer-Encoding"] = "chunked"
            return (MesosHTTPResponse(status: 200, headers: headers), MesosResponseBody(body))
        }
    }

    /// `POST /api/v1/scheduler`, with the master's checks in the master's order (PROTOCOL.md §1.1).
    private func schedulerEndpoint(_ request: MesosHTTPRequest) -> Reply {
        var principal: String?
        if !self.configuration.credentials.isEmpty {
            guard let authenticated = self.authenticate(request.headers["Authorization"]) else {
                return .text(401, "Unauthorized", headers: ["WWW-Authenticate": #"Basic realm="mesos-master-scheduler""#])
            }
            principal = authenticated
        }
        let (decoded, refusal) = SchedulerEndpointChecks.decodeCall(
            method: request.method, headers: request.headers, body: (request.body ?? [])[...])
        if let refusal {
            return .refusal(refusal)
        }
        guard let call = decoded else {
            return .text(500)
        }
        if call.type == .subscribe {
            return self.subscribe(call, request: request, principal: principal)
        }
        return self.state.withLock { state -> Reply in
            let key = call.frameworkID.value
            guard let framework = state.frameworks[key], !framework.isRemoved else {
                return .refusal(SchedulerEndpointChecks.frameworkNotFound)
            }
            if let principal, framework.info.principal != principal {
                return .refusal(SchedulerEndpointChecks.principalMismatch(authenticated: principal, declared: framework.info.principal))
            }
            let standing: SchedulerEndpointChecks.Standing =
                framework.connection.map { .subscribed(streamID: $0.streamID) } ?? .notSubscribed
            if let refusal = SchedulerEndpointChecks.stream(frameworkID: key, standing: standing, headers: request.headers) {
                return .refusal(refusal)
            }
            return self.dispatch(call, key: key, state: &state)
        }
    }

    /// Checks `Authorization: Basic …` against the configured credentials; returns the principal.
    /// The principal of a valid `Authorization: Basic` header, or `nil`.
    func authenticatePrincipal(_ header: String?) -> String? {
        self.authenticate(header)
    }

    private func authenticate(_ header: String?) -> String? {
        guard let header, header.lowercased().hasPrefix("basic ") else { return nil }
        let encoded = header.dropFirst("basic ".count).trimmingWhitespace()
        guard let data = Data(base64Encoded: String(encoded)), let text = String(data: data, encoding: .utf8),
            let colon = text.firstIndex(of: ":")
        else { return nil }
        let principal = String(text[..<colon])
        let secret = String(text[text.index(after: colon)...])
        guard let expected = self.configuration.credentials[principal], expected == secret else { return nil }
        return principal
    }

    /// Runs a call whose framework and stream were checked.
    private func dispatch(_ call: SchedulerCall, key: String, state: inout State) -> Reply {
        switch call.type {
        case .unknown:
            return .refusal(SchedulerEndpointChecks.unknownCall)
        case .subscribe:
            return .text(400, "Unexpected SUBSCRIBE")
        case .teardown:
            self.removeFramework(key, reason: "TEARDOWN", state: &state)
            return .text(202)
        case .accept:
            self.accept(call.accept, key: key, state: &state)
            return .text(202)
        case .decline:
            self.decline(call.decline.offerIds, filters: call.decline.hasFilters ? call.decline.filters : nil, key: key, state: &state)
            return .text(202)
        case .revive:
            self.revive(roles: call.revive.roles, key: key, state: &state)
            return .text(202)
        case .suppress:
            self.suppress(roles: call.suppress.roles, key: key, state: &state)
            return .text(202)
        case .kill:
            self.kill(call.kill, key: key, state: &state)
            return .text(202)
        case .shutdown:
            // Command tasks run under an executor whose id is the task id.
            var kill = SchedulerCall.Kill()
            kill.taskID = TaskID(call.shutdown.executorID.value)
            kill.agentID = call.shutdown.agentID
            if state.frameworks[key]?.tasks[kill.taskID.value] != nil {
                self.kill(kill, key: key, state: &state)
            }
            return .text(202)
        case .acknowledge:
            self.acknowledge(call.acknowledge, key: key, state: &state)
            return .text(202)
        case .reconcile:
            self.reconcile(call.reconcile.tasks, key: key, state: &state)
            return .text(202)
        case .updateFramework:
            guard var framework = state.frameworks[key] else { return .text(409, "Framework removed") }
            var info = call.updateFramework.frameworkInfo
            info.id = framework.id
            let suppressed = Set(call.updateFramework.suppressedRoles)
            // Roles leaving the suppressed set are revived: their filters go.
            let revived = framework.suppressedRoles.subtracting(suppressed)
            framework.filters.removeAll { revived.contains($0.role) }
            framework.info = info
            framework.suppressedRoles = suppressed
            state.frameworks[key] = framework
            self.publishFramework(key, added: false, state: &state)
            self.allocate(state: &state)
            return .text(200)
        case .acceptInverseOffers, .declineInverseOffers, .acknowledgeOperationStatus, .reconcileOperations,
            .message, .request:
            // No inverse offers, operations with feedback, or custom executors exist here.
            return .text(202)
        }
    }

    // MARK: - Helpers

    /// 16 random bytes in the form of a version 4 UUID, as status update uuids are.
    static func randomUUID() -> Data {
        let uuid = UUID().uuid
        return withUnsafeBytes(of: uuid) { Data($0) }
    }

    static func now() -> Double {
        Date().timeIntervalSince1970
    }

    /// Resources as a framework sees them in an offer or update: pre-refinement (`role`) unless it has
    /// RESERVATION_REFINEMENT, and with `allocation_info` only for MULTI_ROLE frameworks.
    static func wireResources(_ resources: Resources, for framework: FrameworkRecord) -> [Resource] {
        let refinement = framework.has(.reservationRefinement)
        let multiRole = framework.has(.multiRole)
        return resources.array.map { resource in
            var wire = refinement ? resource : ((try? resource.preRefinementFormat()) ?? resource)
            if !multiRole { wire.clearAllocationInfo() }
            return wire
        }
    }

    /// Appends to a bounded tail buffer.
    static func appendTail(_ bytes: [UInt8], to tail: inout [UInt8]) {
        tail.append(contentsOf: bytes)
        if tail.count > Self.outputTailLimit {
            tail.removeFirst(tail.count - Self.outputTailLimit)
        }
    }
}

/// Time since the master started, read from any clock measuring in `Duration` (the configuration's, so that
/// tests can move it by hand). Every time the master keeps (filters, heartbeats, re-sent updates, failover
/// timeouts) is such an offset.
struct MasterClock: Sendable {
    private let read: @Sendable () -> Duration

    init(_ clock: any Clock<Duration>) {
        self.read = Self.reader(clock)
    }

    private static func reader<C: Clock<Duration>>(_ clock: C) -> @Sendable () -> Duration {
        let start = clock.now
        return { start.duration(to: clock.now) }
    }

    /// The time since the master started.
    var now: Duration { self.read() }
}

extension StringProtocol {
    func trimmingWhitespace() -> SubSequence {
        var start = self.startIndex
        var end = self.endIndex
        while start < end, self[start].isWhitespace { start = self.index(after: start) }
        while end > start, self[self.index(before: end)].isWhitespace { end = self.index(before: end) }
        return self[start..<end]
    }
}

extension Duration {
    /// Mesos's `DurationInfo`.
    init(_ info: DurationInfo) {
        self = .nanoseconds(info.nanoseconds)
    }
}
