import Foundation
import MesosCore
import MesosDiscovery

/// A typed client of a Mesos master's operator API (`POST /api/v1`): one method per master call.
///
/// Calls go to the master the detector names (or the last one that answered); a standby master's 307 is
/// followed to the leader (scheme-relative `Location`), a 503 ("no leader elected", "not finished recovery")
/// is retried with backoff on the configured clock, and any other failure status becomes a ``MesosError``
/// carrying the master's text (400 ``MesosError/Code/malformedRequest``, 401
/// ``MesosError/Code/unauthenticated``, 403 ``MesosError/Code/forbidden``, 409 ``MesosError/Code/conflict``, …).
/// Answers are decoded from JSON or protobuf as negotiated, gzip included.
///
/// Whenever the client knows no leader (first call, or after a 503 or a lost connection) it asks the detector
/// afresh: a new iterator, so a pull detector probes again and a push detector (`zk://`) opens one short
/// ZooKeeper session.
///
/// ```swift
/// let master = try MesosMasterOperator(url: "http://m1:5050,m2:5050", configuration: .init(transport: .curl()))
/// let version = try await master.getVersion().versionInfo.version       // "1.11.0"
/// try await master.teardown(frameworkID: FrameworkID("b3c1…-0007"))
/// ```
public struct MesosMasterOperator: Sendable {
    /// How calls are made.
    public var configuration: MesosOperatorConfiguration { self.exchange.configuration }
    let exchange: OperatorExchange

    /// Creates a client that finds the leading master with a detector (static list, `zk://`, `file://`).
    ///
    /// - Parameters:
    ///   - master: The detector.
    ///   - configuration: Transport, encoding, authentication, retries.
    public init(master: MasterDetector, configuration: MesosOperatorConfiguration) {
        self.exchange = OperatorExchange(configuration: configuration, target: .master(master))
    }

    /// Creates a client for one known master (its 307s are still followed).
    ///
    /// - Parameters:
    ///   - master: The master.
    ///   - configuration: Transport, encoding, authentication, retries.
    public init(master: MasterLocation, configuration: MesosOperatorConfiguration) {
        self.init(master: .fixed(master), configuration: configuration)
    }

    /// Creates a client from a master URL in any form `mesos-execute --master` takes: `http://h1:5050,h2:5050`,
    /// `h1:5050`, `file:///path`, or `zk://…` when the registry knows ZooKeeper.
    ///
    /// - Parameters:
    ///   - url: The master URL.
    ///   - configuration: Transport, encoding, authentication, retries.
    ///   - registry: The detectors to choose from.
    /// - Throws: ``MesosError/Code/invalidConfiguration`` for a URL no detector accepts.
    public init(
        url: String, configuration: MesosOperatorConfiguration, registry: MasterDetectorRegistry = .defaults
    ) throws(MesosError) {
        let detector = try MasterDetectors.make(url: url, transport: configuration.transport, registry: registry)
        self.init(master: detector, configuration: configuration)
    }

    /// The master that answered the last call (the leader, after redirects), if any.
    public var leader: MasterLocation? {
        self.exchange.knownLeader
    }

    /// A client for one of this master's agents (from GET_AGENTS), with this client's configuration.
    ///
    /// - Parameters:
    ///   - agent: The master's record of the agent.
    ///   - scheme: `http` or `https`; by default the scheme of the master that answered last (else `http`).
    /// - Returns: The agent client.
    /// - Throws: ``MesosError/Code/invalidConfiguration`` when the record holds no usable address.
    public func agentOperator(
        for agent: MasterResponse.GetAgents.Agent, scheme: String? = nil
    ) throws(MesosError) -> MesosAgentOperator {
        try MesosAgentOperator(agent: agent, scheme: scheme ?? self.leader?.scheme ?? "http", configuration: self.configuration)
    }

    // MARK: - Generic

    /// Sends any master call and returns the master's decoded answer, or `nil` for an empty 200/202 answer.
    ///
    /// - Parameter call: The call (validated first).
    /// - Returns: The response, or `nil` when the master sent no body.
    /// - Throws: ``MesosError``: `.invalidCall`, the master's status with its text, or a transport failure.
    @discardableResult
    public func send(_ call: MasterCall) async throws(MesosError) -> MasterResponse? {
        guard call.type != .subscribe else {
            throw MesosError(code: .invalidCall, message: "SUBSCRIBE opens a stream: use subscribe()")
        }
        try call.validate()
        let name = MasterCall.name(of: call.type)
        let body = try OperatorWire.encode(call, as: self.configuration.contentType)
        let answer = try await self.exchange.call(body: body, readOnly: call.isReadOnly, name: name)
        guard answer.status == 200 || answer.status == 202 else {
            throw answer.error
        }
        guard !answer.body.isEmpty else {
            return nil
        }
        let contentType = answer.contentType(default: self.configuration.contentType)
        return try OperatorWire.decode(MasterResponse.self, from: answer.body, as: contentType)
    }

    /// Sends a call that answers with data and returns the response of the expected type.
    func query(_ call: MasterCall, expecting expected: MasterResponse.TypeEnum) async throws(MesosError) -> MasterResponse {
        guard let response = try await self.send(call) else {
            throw MesosError(
                code: .decodingFailed,
                message: "\(MasterCall.name(of: call.type)): the master sent an empty answer")
        }
        guard response.type == expected else {
            throw MesosError(
                code: .decodingFailed,
                message: "\(MasterCall.name(of: call.type)): expected a \(mesosEnumName(expected)) response, got \(mesosEnumName(response.type))")
        }
        return response
    }

    /// Sends a call that answers with no data (200 or 202).
    func perform(_ call: MasterCall) async throws(MesosError) {
        try await self.send(call)
    }

    // MARK: - Reads

    /// GET_HEALTH: whether the leading master is healthy.
    public func getHealth() async throws(MesosError) -> MasterResponse.GetHealth {
        try await self.query(.getHealth(), expecting: .getHealth).getHealth
    }

    /// GET_FLAGS: the master's flags (403 without VIEW_FLAGS).
    public func getFlags() async throws(MesosError) -> MasterResponse.GetFlags {
        try await self.query(.getFlags(), expecting: .getFlags).getFlags
    }

    /// GET_VERSION: the master's version and build.
    public func getVersion() async throws(MesosError) -> MasterResponse.GetVersion {
        try await self.query(.getVersion(), expecting: .getVersion).getVersion
    }

    /// GET_METRICS: a metrics snapshot.
    ///
    /// - Parameter timeout: How long the master may wait for slow metrics, or `nil`.
    public func getMetrics(timeout: Duration? = nil) async throws(MesosError) -> MasterResponse.GetMetrics {
        try await self.query(.getMetrics(timeout: timeout), expecting: .getMetrics).getMetrics
    }

    /// GET_LOGGING_LEVEL: the master's glog verbosity.
    public func getLoggingLevel() async throws(MesosError) -> MasterResponse.GetLoggingLevel {
        try await self.query(.getLoggingLevel(), expecting: .getLoggingLevel).getLoggingLevel
    }

    /// LIST_FILES of a virtual path on the master (e.g. `/master/log`).
    public func listFiles(path: String) async throws(MesosError) -> MasterResponse.ListFiles {
        try await self.query(.listFiles(path: path), expecting: .listFiles).listFiles
    }

    /// READ_FILE on the master: `size` is the file's whole size, `data` at most `length` bytes from `offset`.
    public func readFile(path: String, offset: UInt64, length: UInt64? = nil) async throws(MesosError) -> MasterResponse.ReadFile {
        try await self.query(.readFile(path: path, offset: offset, length: length), expecting: .readFile).readFile
    }

    /// GET_STATE: tasks, executors, frameworks and agents at one instant.
    public func getState() async throws(MesosError) -> MasterResponse.GetState {
        try await self.query(.getState(), expecting: .getState).getState
    }

    /// GET_AGENTS: registered and recovered agents.
    public func getAgents() async throws(MesosError) -> MasterResponse.GetAgents {
        try await self.query(.getAgents(), expecting: .getAgents).getAgents
    }

    /// GET_FRAMEWORKS: active, completed and recovered frameworks.
    public func getFrameworks() async throws(MesosError) -> MasterResponse.GetFrameworks {
        try await self.query(.getFrameworks(), expecting: .getFrameworks).getFrameworks
    }

    /// GET_EXECUTORS: executors and their agents (command executors are not listed).
    public func getExecutors() async throws(MesosError) -> MasterResponse.GetExecutors {
        try await self.query(.getExecutors(), expecting: .getExecutors).getExecutors
    }

    /// GET_OPERATIONS: offer operations with feedback.
    public func getOperations() async throws(MesosError) -> MasterResponse.GetOperations {
        try await self.query(.getOperations(), expecting: .getOperations).getOperations
    }

    /// GET_TASKS: running, unreachable and completed tasks.
    public func getTasks() async throws(MesosError) -> MasterResponse.GetTasks {
        try await self.query(.getTasks(), expecting: .getTasks).getTasks
    }

    /// GET_ROLES: known roles with weights and frameworks.
    public func getRoles() async throws(MesosError) -> MasterResponse.GetRoles {
        try await self.query(.getRoles(), expecting: .getRoles).getRoles
    }

    /// GET_WEIGHTS: the roles' weights.
    public func getWeights() async throws(MesosError) -> MasterResponse.GetWeights {
        try await self.query(.getWeights(), expecting: .getWeights).getWeights
    }

    /// GET_MASTER: the leading master's info and its start and election times.
    public func getMaster() async throws(MesosError) -> MasterResponse.GetMaster {
        try await self.query(.getMaster(), expecting: .getMaster).getMaster
    }

    /// GET_MAINTENANCE_STATUS: draining and down machines.
    public func getMaintenanceStatus() async throws(MesosError) -> MasterResponse.GetMaintenanceStatus {
        try await self.query(.getMaintenanceStatus(), expecting: .getMaintenanceStatus).getMaintenanceStatus
    }

    /// GET_MAINTENANCE_SCHEDULE: the maintenance schedule.
    public func getMaintenanceSchedule() async throws(MesosError) -> MasterResponse.GetMaintenanceSchedule {
        try await self.query(.getMaintenanceSchedule(), expecting: .getMaintenanceSchedule).getMaintenanceSchedule
    }

    /// GET_QUOTA: every configured quota.
    public func getQuota() async throws(MesosError) -> MasterResponse.GetQuota {
        try await self.query(.getQuota(), expecting: .getQuota).getQuota
    }

    // MARK: - Changes

    /// SET_LOGGING_LEVEL: glog verbosity `level` for `duration`, then back.
    public func setLoggingLevel(_ level: UInt32, for duration: Duration) async throws(MesosError) {
        try await self.perform(.setLoggingLevel(level, for: duration))
    }

    /// UPDATE_WEIGHTS.
    public func updateWeights(_ weights: [WeightInfo]) async throws(MesosError) {
        try await self.perform(.updateWeights(weights))
    }

    /// RESERVE_RESOURCES on an agent (409 when the agent's unreserved resources do not contain them).
    public func reserveResources(agentID: AgentID, resources: [Resource], source: [Resource] = []) async throws(MesosError) {
        try await self.perform(.reserveResources(agentID: agentID, resources: resources, source: source))
    }

    /// UNRESERVE_RESOURCES on an agent.
    public func unreserveResources(agentID: AgentID, resources: [Resource]) async throws(MesosError) {
        try await self.perform(.unreserveResources(agentID: agentID, resources: resources))
    }

    /// CREATE_VOLUMES on an agent.
    public func createVolumes(agentID: AgentID, volumes: [Resource]) async throws(MesosError) {
        try await self.perform(.createVolumes(agentID: agentID, volumes: volumes))
    }

    /// DESTROY_VOLUMES on an agent.
    public func destroyVolumes(agentID: AgentID, volumes: [Resource]) async throws(MesosError) {
        try await self.perform(.destroyVolumes(agentID: agentID, volumes: volumes))
    }

    /// GROW_VOLUME on an agent.
    public func growVolume(agentID: AgentID, volume: Resource, addition: Resource) async throws(MesosError) {
        try await self.perform(.growVolume(agentID: agentID, volume: volume, addition: addition))
    }

    /// SHRINK_VOLUME on an agent.
    public func shrinkVolume(agentID: AgentID, volume: Resource, subtract: Double) async throws(MesosError) {
        try await self.perform(.shrinkVolume(agentID: agentID, volume: volume, subtract: subtract))
    }

    /// UPDATE_MAINTENANCE_SCHEDULE: replaces the schedule (an empty one clears it).
    public func updateMaintenanceSchedule(_ schedule: MaintenanceSchedule) async throws(MesosError) {
        try await self.perform(.updateMaintenanceSchedule(schedule))
    }

    /// START_MAINTENANCE: the machines go down.
    public func startMaintenance(machines: [MachineID]) async throws(MesosError) {
        try await self.perform(.startMaintenance(machines: machines))
    }

    /// STOP_MAINTENANCE: the machines come back up.
    public func stopMaintenance(machines: [MachineID]) async throws(MesosError) {
        try await self.perform(.stopMaintenance(machines: machines))
    }

    /// DRAIN_AGENT.
    public func drainAgent(_ agentID: AgentID, maxGracePeriod: Duration? = nil, markGone: Bool = false) async throws(MesosError) {
        try await self.perform(.drainAgent(agentID, maxGracePeriod: maxGracePeriod, markGone: markGone))
    }

    /// DEACTIVATE_AGENT.
    public func deactivateAgent(_ agentID: AgentID) async throws(MesosError) {
        try await self.perform(.deactivateAgent(agentID))
    }

    /// REACTIVATE_AGENT.
    public func reactivateAgent(_ agentID: AgentID) async throws(MesosError) {
        try await self.perform(.reactivateAgent(agentID))
    }

    /// UPDATE_QUOTA (a config without guarantees and limits removes that role's quota).
    public func updateQuota(_ configs: [QuotaConfig], force: Bool = false) async throws(MesosError) {
        try await self.perform(.updateQuota(configs, force: force))
    }

    /// SET_QUOTA (deprecated in Mesos; prefer ``updateQuota(_:force:)``).
    public func setQuota(role: String, guarantee: [Resource], force: Bool = false) async throws(MesosError) {
        try await self.perform(.setQuota(role: role, guarantee: guarantee, force: force))
    }

    /// REMOVE_QUOTA (deprecated in Mesos; prefer ``updateQuota(_:force:)``).
    public func removeQuota(role: String) async throws(MesosError) {
        try await self.perform(.removeQuota(role: role))
    }

    /// TEARDOWN: kills the framework's tasks and removes it (400 for an unknown framework).
    public func teardown(frameworkID: FrameworkID) async throws(MesosError) {
        try await self.perform(.teardown(frameworkID: frameworkID))
    }

    /// MARK_AGENT_GONE.
    public func markAgentGone(_ agentID: AgentID) async throws(MesosError) {
        try await self.perform(.markAgentGone(agentID))
    }

    // MARK: - Event stream

    /// Opens the operator event stream (SUBSCRIBE) on the leading master, following redirects and retrying 503s.
    ///
    /// The body is RecordIO of ``MasterEvent`` in ``OperatorEventStreamConnection/contentType``; the first
    /// record is SUBSCRIBED. Reconnecting, heartbeats and the state mirror are left to the caller.
    ///
    /// - Parameter idleTimeout: The longest silence before the transport gives up (the master sends a heartbeat
    ///   every 15 s), or `nil`.
    /// - Returns: The open stream.
    /// - Throws: ``MesosError`` with the master's status and text, or a transport failure.
    public func openEventStream(idleTimeout: Duration? = .seconds(75)) async throws(MesosError) -> OperatorEventStreamConnection {
        let contentType = self.configuration.contentType
        let body = try OperatorWire.encode(MasterCall.subscribe(), as: contentType)
        let answer = try await self.exchange.openStream(
            body: body, accept: contentType.mediaType, extraHeaders: [:], idleTimeout: idleTimeout, name: "SUBSCRIBE")
        let negotiated = answer.response.headers["Content-Type"].flatMap(MesosContentType.init(mediaType:)) ?? contentType
        return OperatorEventStreamConnection(
            master: answer.master, contentType: negotiated, response: answer.response, body: answer.body)
    }
}

/// An open SUBSCRIBE response of the master's operator API: the RecordIO body of ``MasterEvent``s, unread.
public struct OperatorEventStreamConnection: Sendable {
    /// The master streaming the events (after redirects).
    public var master: MasterLocation?
    /// The encoding of each record.
    public var contentType: MesosContentType
    /// The response head.
    public var response: MesosHTTPResponse
    /// The body, as it arrives: RecordIO records, each one ``MasterEvent``.
    public var body: MesosResponseBody

    /// Creates a stream value (the client opens them; tests and fakes may build their own).
    public init(master: MasterLocation?, contentType: MesosContentType, response: MesosHTTPResponse, body: MesosResponseBody) {
        self.master = master
        self.contentType = contentType
        self.response = response
        self.body = body
    }

    /// Decodes one record of the stream.
    ///
    /// - Parameter record: One RecordIO record.
    /// - Returns: The event.
    /// - Throws: ``MesosError/Code/decodingFailed``.
    public func decode(_ record: ArraySlice<UInt8>) throws(MesosError) -> MasterEvent {
        try OperatorWire.decode(MasterEvent.self, from: record, as: self.contentType)
    }
}
