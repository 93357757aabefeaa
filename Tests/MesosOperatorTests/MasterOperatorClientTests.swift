import Foundation
import MesosCompression
import MesosCore
import MesosInMemoryTransport
import MesosOperator
import MesosTestKit
import SwiftProtobuf
import Testing

/// Requests an in-memory "master" received, in order.
final class RequestLog: Sendable {
    private let requests = LockedRequests()

    func append(_ request: MesosHTTPRequest) {
        self.requests.append(request)
    }

    var all: [MesosHTTPRequest] {
        self.requests.all
    }

    private final class LockedRequests: @unchecked Sendable {
        private let lock = NSLock()
        private var items: [MesosHTTPRequest] = []

        func append(_ request: MesosHTTPRequest) {
            lock.lock()
            items.append(request)
            lock.unlock()
        }

        var all: [MesosHTTPRequest] {
            lock.lock()
            defer { lock.unlock() }
            return items
        }
    }
}

/// A counter shared with a handler.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0

    /// Adds one and returns the new value.
    func next() -> Int {
        lock.lock()
        defer { lock.unlock() }
        value += 1
        return value
    }

    var current: Int {
        lock.lock()
        defer { lock.unlock() }
        return value
    }
}

func jsonBody(_ text: String) -> MesosResponseBody {
    MesosResponseBody(bytes: Array(text.utf8))
}

func jsonHead(_ status: Int = 200) -> MesosHTTPResponse {
    MesosHTTPResponse(status: status, headers: ["Content-Type": "application/json"])
}

func textHead(_ status: Int, _ extra: [(String, String)] = []) -> MesosHTTPResponse {
    var headers: MesosHTTPHeaders = ["Content-Type": "text/plain; charset=utf-8"]
    for (name, value) in extra { headers[name] = value }
    return MesosHTTPResponse(status: status, headers: headers)
}

let m1 = MasterLocation(host: "m1.example", port: 5050)

/// The master client's plumbing against in-memory masters: negotiation, redirects, retries on a manual clock,
/// error statuses with the master's text, gzip, authentication.
@Suite struct MasterOperatorClientTests {
    private func client(
        contentType: MesosContentType = .json,
        clock: ManualClock = ManualClock(),
        maximumAttempts: Int = 4,
        authenticator: (any MesosAuthenticator)? = nil,
        master: MasterDetector = .fixed(m1),
        handler: @escaping MesosInMemoryTransport.Handler
    ) -> MesosMasterOperator {
        let configuration = MesosOperatorConfiguration(
            transport: MesosInMemoryTransport(handler: handler), contentType: contentType, authenticator: authenticator,
            retryBackoff: BackoffPolicy(initial: .seconds(1), maximum: .seconds(8), multiplier: 2, jitter: false),
            maximumAttempts: maximumAttempts, clock: clock)
        return MesosMasterOperator(master: master, configuration: configuration)
    }

    @Test func jsonCallCarriesNegotiationHeadersAndDecodesTheAnswer() async throws {
        let log = RequestLog()
        let master = client { request in
            log.append(request)
            return (jsonHead(), jsonBody(#"{"type":"GET_VERSION","get_version":{"version_info":{"version":"1.11.0","git_tag":"1.11.0"}}}"#))
        }
        let version = try await master.getVersion()
        #expect(version.versionInfo.version == "1.11.0")
        let request = try #require(log.all.first)
        #expect(request.method == "POST")
        #expect(request.url.absoluteString == "http://m1.example:5050/api/v1")
        #expect(request.headers["Content-Type"] == "application/json")
        #expect(request.headers["Accept"] == "application/json")
        #expect(request.headers["Accept-Encoding"] == "gzip")
        #expect(String(decoding: request.body ?? [], as: UTF8.self) == #"{"type":"GET_VERSION"}"#)
        #expect(master.leader == m1)
    }

    @Test func protobufCallAndAnswer() async throws {
        let log = RequestLog()
        let master = client(contentType: .protobuf) { request in
            log.append(request)
            let response = MasterResponse.with {
                $0.type = .getWeights
                $0.getWeights.weightInfos = [.with { $0.role = "batch"; $0.weight = 3 }]
            }
            let bytes: [UInt8] = try response.serializedBytes()
            return (MesosHTTPResponse(status: 200, headers: ["Content-Type": "application/x-protobuf"]), MesosResponseBody(bytes: bytes))
        }
        let weights = try await master.getWeights()
        #expect(weights.weightInfos.map(\.role) == ["batch"])
        #expect(weights.weightInfos.first?.weight == 3)
        let request = try #require(log.all.first)
        #expect(request.headers["Content-Type"] == "application/x-protobuf")
        #expect(request.headers["Accept"] == "application/x-protobuf")
        #expect(request.body == [0x08, 15])
    }

    @Test func answerInTheOtherEncodingIsDecodedByItsContentType() async throws {
        let master = client(contentType: .protobuf) { _ in
            (jsonHead(), jsonBody(#"{"type":"GET_HEALTH","get_health":{"healthy":true}}"#))
        }
        #expect(try await master.getHealth().healthy)
    }

    @Test func schemeRelativeRedirectIsFollowedToTheLeader() async throws {
        let log = RequestLog()
        let master = client { request in
            log.append(request)
            if request.url.host == "m1.example" {
                return (MesosHTTPResponse(status: 307, headers: ["Location": "//m2.example:5051/api/v1"]), .empty)
            }
            return (jsonHead(), jsonBody(#"{"type":"GET_HEALTH","get_health":{"healthy":true}}"#))
        }
        #expect(try await master.getHealth().healthy)
        #expect(log.all.map(\.url.absoluteString) == ["http://m1.example:5050/api/v1", "http://m2.example:5051/api/v1"])
        #expect(master.leader == MasterLocation(host: "m2.example", port: 5051))
        // The next call goes to the leader directly.
        _ = try await master.getHealth()
        #expect(log.all.last?.url.host == "m2.example")
        #expect(log.all.count == 3)
    }

    @Test func redirectLoopEndsWithTooManyRedirects() async throws {
        let master = client { request in
            let next = request.url.host == "m1.example" ? "//m2.example:5050/api/v1" : "//m1.example:5050/api/v1"
            return (MesosHTTPResponse(status: 307, headers: ["Location": next]), .empty)
        }
        let error = await #expect(throws: MesosError.self) { try await master.getHealth() }
        #expect(error?.code == .tooManyRedirects)
    }

    @Test func unavailableIsRetriedWithBackoffOnTheClock() async throws {
        let clock = ManualClock()
        let attempts = Counter()
        let master = client(clock: clock) { _ in
            if attempts.next() <= 2 {
                return (textHead(503), jsonBody("Master has not finished recovery"))
            }
            return (jsonHead(), jsonBody(#"{"type":"GET_HEALTH","get_health":{"healthy":true}}"#))
        }
        let call = Task { try await master.getHealth() }
        await clock.waitForSleepers(1)
        #expect(clock.pendingDeadlines == [.seconds(1)])
        #expect(attempts.current == 1)
        clock.advance(by: .seconds(1))
        await clock.waitForSleepers(1)
        #expect(clock.pendingDeadlines == [.seconds(3)])
        #expect(attempts.current == 2)
        clock.advance(by: .seconds(2))
        #expect(try await call.value.healthy)
        #expect(attempts.current == 3)
        #expect(clock.sleepLog == [.seconds(1), .seconds(2)])
    }

    @Test func unavailableGivesUpWithATypedErrorCarryingTheText() async throws {
        let clock = ManualClock()
        let attempts = Counter()
        let master = client(clock: clock, maximumAttempts: 3) { _ in
            _ = attempts.next()
            return (textHead(503), jsonBody("No leader elected"))
        }
        let call = Task { () async throws(MesosError) -> MasterResponse.GetHealth in try await master.getHealth() }
        await clock.waitForSleepers(1)
        clock.advance(by: .seconds(1))
        await clock.waitForSleepers(1)
        clock.advance(by: .seconds(2))
        let result = await call.result
        guard case .failure(let failure) = result, let error = failure as? MesosError else {
            Issue.record("expected a MesosError, got \(result)")
            return
        }
        #expect(error.code == .unavailable)
        #expect(error.httpStatus == 503)
        #expect(error.message.contains("No leader elected"))
        #expect(attempts.current == 3)
        #expect(clock.sleepLog == [.seconds(1), .seconds(2)])
    }

    @Test func badRequestAndConflictSurfaceTheMastersText() async throws {
        let master = client { request in
            let body = String(decoding: request.body ?? [], as: UTF8.self)
            if body.contains("TEARDOWN") {
                return (textHead(400), jsonBody("Failed to validate master::Call: framework 'x' is unknown"))
            }
            return (textHead(409), jsonBody("Invalid RESERVE Operation: does not contain cpus(allocated: *):100"))
        }
        let teardown = await #expect(throws: MesosError.self) {
            try await master.teardown(frameworkID: FrameworkID.with { $0.value = "x" })
        }
        #expect(teardown?.code == .malformedRequest)
        #expect(teardown?.httpStatus == 400)
        #expect(teardown?.message.contains("framework 'x' is unknown") == true)

        let reserve = await #expect(throws: MesosError.self) {
            try await master.reserveResources(agentID: AgentID.with { $0.value = "S0" }, resources: [Resource()])
        }
        #expect(reserve?.code == .conflict)
        #expect(reserve?.message.contains("does not contain cpus") == true)
    }

    @Test func mutationsAcceptEmptyOkAndAccepted() async throws {
        let log = RequestLog()
        let master = client { request in
            log.append(request)
            let body = String(decoding: request.body ?? [], as: UTF8.self)
            return (MesosHTTPResponse(status: body.contains("RESERVE") ? 202 : 200), .empty)
        }
        try await master.updateWeights([.with { $0.role = "a"; $0.weight = 2 }])
        try await master.reserveResources(agentID: AgentID.with { $0.value = "S0" }, resources: [Resource()])
        try await master.drainAgent(AgentID.with { $0.value = "S0" }, maxGracePeriod: .seconds(30))
        #expect(log.all.count == 3)
        let drain = String(decoding: log.all[2].body ?? [], as: UTF8.self)
        #expect(drain.contains(#""max_grace_period":{"seconds":30,"nanos":0}"#))
    }

    @Test func gzipAnswerIsDecoded() async throws {
        let state = #"{"type":"GET_ROLES","get_roles":{"roles":[{"name":"*","weight":1.0},{"name":"batch","weight":2.0,"frameworks":[{"value":"f1"}]}]}}"#
        let padded = state.replacingOccurrences(of: "}]}}", with: "}]}" + String(repeating: " ", count: 2048) + "}")
        let compressed = try gzipCompress(Array(padded.utf8))
        let master = client { request in
            #expect(request.headers["Accept-Encoding"] == "gzip")
            return (
                MesosHTTPResponse(
                    status: 200,
                    headers: ["Content-Type": "application/json", "Content-Encoding": "gzip", "Content-Length": "\(compressed.count)"]),
                MesosResponseBody(bytes: compressed)
            )
        }
        let roles = try await master.getRoles()
        #expect(roles.roles.map(\.name) == ["*", "batch"])
        #expect(roles.roles.last?.frameworks.first?.value == "f1")
    }

    @Test func unauthorizedBecomesATypedErrorAfterOneRefresh() async throws {
        let authenticator = RecordingAuthenticator()
        let attempts = Counter()
        let master = client(authenticator: authenticator) { request in
            _ = attempts.next()
            #expect(request.headers["Authorization"] == "Basic b3BzOnNlY3JldA==")
            return (textHead(401, [("WWW-Authenticate", #"Basic realm="mesos-master-readwrite""#)]), .empty)
        }
        let error = await #expect(throws: MesosError.self) { try await master.getFlags() }
        #expect(error?.code == .unauthenticated)
        #expect(error?.httpStatus == 401)
        #expect(attempts.current == 2)
        #expect(authenticator.refreshes == [false, true])

        let anonymous = client { _ in (textHead(401), .empty) }
        let plain = await #expect(throws: MesosError.self) { try await anonymous.getFlags() }
        #expect(plain?.code == .unauthenticated)
    }

    @Test func basicCredentialsAreSent() async throws {
        let log = RequestLog()
        let master = client(authenticator: try BasicAuthenticator(principal: "ops", secret: "secret")) { request in
            log.append(request)
            return (jsonHead(), jsonBody(#"{"type":"GET_LOGGING_LEVEL","get_logging_level":{"level":1}}"#))
        }
        #expect(try await master.getLoggingLevel().level == 1)
        #expect(log.all.first?.headers["Authorization"] == "Basic b3BzOnNlY3JldA==")
    }

    @Test func transportFailuresAreRetriedOnlyForReads() async throws {
        let clock = ManualClock()
        let attempts = Counter()
        let master = client(clock: clock) { request in
            let number = attempts.next()
            if number == 1 || String(decoding: request.body ?? [], as: UTF8.self).contains("TEARDOWN") {
                throw URLError(.networkConnectionLost)
            }
            return (jsonHead(), jsonBody(#"{"type":"GET_TASKS","get_tasks":{"tasks":[]}}"#))
        }
        let read = Task { try await master.getTasks() }
        await clock.waitForSleepers(1)
        clock.advance(by: .seconds(1))
        #expect(try await read.value.tasks.isEmpty)
        #expect(attempts.current == 2)

        let error = await #expect(throws: MesosError.self) {
            try await master.teardown(frameworkID: FrameworkID.with { $0.value = "f" })
        }
        #expect(error?.code == .transportFailure)
        #expect(attempts.current == 3)
    }

    @Test func noLeaderFromTheDetectorIsRetried() async throws {
        let clock = ManualClock()
        let observations = Counter()
        let detector = MasterDetector(leaders: ScriptedLeaders(counter: observations), updateMode: .pull)
        let master = client(clock: clock, master: detector) { _ in
            (jsonHead(), jsonBody(#"{"type":"GET_MASTER","get_master":{"master_info":{"id":"m","ip":1,"port":5050},"start_time":1.5}}"#))
        }
        let call = Task { try await master.getMaster() }
        await clock.waitForSleepers(1)
        clock.advance(by: .seconds(1))
        let info = try await call.value
        #expect(info.masterInfo.port == 5050)
        #expect(info.startTime == 1.5)
    }

    @Test func responseOfTheWrongTypeIsADecodingError() async throws {
        let master = client { _ in (jsonHead(), jsonBody(#"{"type":"GET_HEALTH","get_health":{"healthy":true}}"#)) }
        let error = await #expect(throws: MesosError.self) { try await master.getState() }
        #expect(error?.code == .decodingFailed)
        #expect(error?.message.contains("GET_STATE") == true)
    }

    @Test func invalidCallsAreRejectedBeforeSending() async throws {
        let attempts = Counter()
        let master = client { _ in
            _ = attempts.next()
            return (jsonHead(), .empty)
        }
        let error = await #expect(throws: MesosError.self) { try await master.markAgentGone(AgentID()) }
        #expect(error?.code == .invalidCall)
        let subscribe = await #expect(throws: MesosError.self) { try await master.send(.subscribe()) }
        #expect(subscribe?.code == .invalidCall)
        #expect(attempts.current == 0)
    }

    @Test func everyTypedReadSendsItsCallType() async throws {
        let log = RequestLog()
        let master = client(contentType: .protobuf) { request in
            log.append(request)
            let call = try MasterCall(serializedBytes: request.body ?? [])
            var response = MasterResponse()
            let expected: [MasterCall.TypeEnum: MasterResponse.TypeEnum] = [
                .getHealth: .getHealth, .getFlags: .getFlags, .getVersion: .getVersion, .getMetrics: .getMetrics,
                .getLoggingLevel: .getLoggingLevel, .listFiles: .listFiles, .readFile: .readFile, .getState: .getState,
                .getAgents: .getAgents, .getFrameworks: .getFrameworks, .getExecutors: .getExecutors,
                .getOperations: .getOperations, .getTasks: .getTasks, .getRoles: .getRoles, .getWeights: .getWeights,
                .getMaster: .getMaster, .getMaintenanceStatus: .getMaintenanceStatus,
                .getMaintenanceSchedule: .getMaintenanceSchedule, .getQuota: .getQuota,
            ]
            guard let type = expected[call.type] else {
                return (MesosHTTPResponse(status: 200), .empty)
            }
            response.type = type
            let bytes: [UInt8] = try response.serializedBytes()
            return (MesosHTTPResponse(status: 200, headers: ["Content-Type": "application/x-protobuf"]), MesosResponseBody(bytes: bytes))
        }
        _ = try await master.getHealth()
        _ = try await master.getFlags()
        _ = try await master.getVersion()
        _ = try await master.getMetrics(timeout: .seconds(1))
        _ = try await master.getLoggingLevel()
        _ = try await master.listFiles(path: "/master/log")
        _ = try await master.readFile(path: "/master/log", offset: 0, length: 10)
        _ = try await master.getState()
        _ = try await master.getAgents()
        _ = try await master.getFrameworks()
        _ = try await master.getExecutors()
        _ = try await master.getOperations()
        _ = try await master.getTasks()
        _ = try await master.getRoles()
        _ = try await master.getWeights()
        _ = try await master.getMaster()
        _ = try await master.getMaintenanceStatus()
        _ = try await master.getMaintenanceSchedule()
        _ = try await master.getQuota()
        let agent = AgentID.with { $0.value = "S0" }
        try await master.setLoggingLevel(2, for: .seconds(10))
        try await master.unreserveResources(agentID: agent, resources: [Resource()])
        try await master.createVolumes(agentID: agent, volumes: [Resource()])
        try await master.destroyVolumes(agentID: agent, volumes: [Resource()])
        try await master.growVolume(agentID: agent, volume: Resource(), addition: Resource())
        try await master.shrinkVolume(agentID: agent, volume: Resource(), subtract: 64)
        try await master.updateMaintenanceSchedule(MaintenanceSchedule())
        try await master.startMaintenance(machines: [.with { $0.hostname = "h" }])
        try await master.stopMaintenance(machines: [.with { $0.hostname = "h" }])
        try await master.deactivateAgent(agent)
        try await master.reactivateAgent(agent)
        try await master.updateQuota([.with { $0.role = "dev" }])
        try await master.setQuota(role: "dev", guarantee: [])
        try await master.removeQuota(role: "dev")
        try await master.markAgentGone(agent)
        let sent = try log.all.map { try MasterCall(serializedBytes: $0.body ?? []).type }
        #expect(
            sent == [
                .getHealth, .getFlags, .getVersion, .getMetrics, .getLoggingLevel, .listFiles, .readFile, .getState,
                .getAgents, .getFrameworks, .getExecutors, .getOperations, .getTasks, .getRoles, .getWeights, .getMaster,
                .getMaintenanceStatus, .getMaintenanceSchedule, .getQuota, .setLoggingLevel, .unreserveResources,
                .createVolumes, .destroyVolumes, .growVolume, .shrinkVolume, .updateMaintenanceSchedule,
                .startMaintenance, .stopMaintenance, .deactivateAgent, .reactivateAgent, .updateQuota, .setQuota,
                .removeQuota, .markAgentGone,
            ])
    }

    @Test func eventStreamOpensThroughRedirectsAndDecodesRecords() async throws {
        let log = RequestLog()
        let records = [
            #"{"type":"SUBSCRIBED","subscribed":{"get_state":{"get_agents":{"agents":[]}},"heartbeat_interval_seconds":15.0}}"#,
            #"{"type":"HEARTBEAT"}"#,
        ]
        var stream: [UInt8] = []
        for record in records {
            stream += Array("\(record.utf8.count)\n\(record)".utf8)
        }
        let body = stream
        let master = client { request in
            log.append(request)
            if request.url.host == "m1.example" {
                return (MesosHTTPResponse(status: 307, headers: ["Location": "//m3.example:5050/api/v1"]), .empty)
            }
            return (jsonHead(), MesosResponseBody(bytes: body))
        }
        let connection = try await master.openEventStream()
        #expect(connection.master == MasterLocation(host: "m3.example", port: 5050))
        #expect(connection.contentType == .json)
        #expect(log.all.last?.timeout == nil)
        #expect(log.all.last?.headers["Accept-Encoding"] == nil)
        let bytes = try await connection.body.collect(upTo: 1 << 20)
        #expect(bytes == body)
        let first = String(records[0])
        let event = try connection.decode(ArraySlice(first.utf8))
        #expect(event.type == .subscribed)
        #expect(event.subscribed.heartbeatIntervalSeconds == 15)
    }
}

/// Records the `refresh` flags it is asked with; always answers ops:secret.
final class RecordingAuthenticator: MesosAuthenticator, @unchecked Sendable {
    private let lock = NSLock()
    private var flags: [Bool] = []

    func authorization(refresh: Bool) async throws -> String? {
        self.record(refresh)
        return "Basic b3BzOnNlY3JldA=="
    }

    private func record(_ refresh: Bool) {
        lock.lock()
        flags.append(refresh)
        lock.unlock()
    }

    var refreshes: [Bool] {
        lock.lock()
        defer { lock.unlock() }
        return flags
    }
}

/// A pull detector whose first iterator sees "no leader" and every later one `m1`.
struct ScriptedLeaders: AsyncSequence, Sendable {
    typealias Element = MasterLocation?
    let counter: Counter

    struct AsyncIterator: AsyncIteratorProtocol {
        let leader: MasterLocation?
        mutating func next() async throws -> MasterLocation?? {
            .some(self.leader)
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(leader: self.counter.next() == 1 ? nil : m1)
    }
}
