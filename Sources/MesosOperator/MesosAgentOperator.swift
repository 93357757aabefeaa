import Foundation
import MesosCore
import MesosRecordIO

/// A typed client of a Mesos agent's operator API (`POST /api/v1` on the agent): its read calls, files, and the
/// container calls.
///
/// Agents never redirect; a 503 (agent still recovering) is retried with backoff like the master's, and any
/// other failure status becomes a ``MesosError`` carrying the agent's text.
///
/// ```swift
/// let agents = try await master.getAgents().agents
/// let agent = try MesosAgentOperator(agent: agents[0], configuration: configuration)
/// let stdout = try await agent.readFile(path: sandbox + "/stdout", offset: 0)
/// ```
public struct MesosAgentOperator: Sendable {
    /// How calls are made.
    public var configuration: MesosOperatorConfiguration { self.exchange.configuration }
    /// The agent's base URL (`http://10.0.0.23:5051`).
    public let url: URL
    let exchange: OperatorExchange

    /// Creates a client for the agent at `url` (scheme, host and port; the endpoint path comes from the
    /// configuration).
    ///
    /// - Parameters:
    ///   - url: The agent's base URL.
    ///   - configuration: Transport, encoding, authentication, retries.
    public init(url: URL, configuration: MesosOperatorConfiguration) {
        self.url = url
        self.exchange = OperatorExchange(configuration: configuration, target: .agent(url))
    }

    /// Creates a client for an agent the master listed (GET_AGENTS).
    ///
    /// - Parameters:
    ///   - agent: The master's record of the agent.
    ///   - scheme: `http` (default) or `https`.
    ///   - configuration: Transport, encoding, authentication, retries.
    /// - Throws: ``MesosError/Code/invalidConfiguration`` when the record holds no usable address.
    public init(
        agent: MasterResponse.GetAgents.Agent, scheme: String = "http", configuration: MesosOperatorConfiguration
    ) throws(MesosError) {
        guard let url = Self.url(of: agent, scheme: scheme) else {
            throw MesosError(
                code: .invalidConfiguration,
                message: "Agent \(agent.agentInfo.id.value) has neither a pid nor a hostname and port")
        }
        self.init(url: url, configuration: configuration)
    }

    /// The base URL of an agent the master listed. From its `pid` (`slave(1)@10.0.0.23:5051`) when it has one:
    /// the address works where the hostname does not resolve, and the process id becomes the path prefix
    /// (`http://10.0.0.23:5051/slave(1)`), which reaches the agent also where it shares its process and port with
    /// a master (`mesos-local`). Else `hostname:port`.
    ///
    /// - Parameters:
    ///   - agent: The master's record of the agent.
    ///   - scheme: `http` or `https`.
    /// - Returns: The URL, or `nil` without an address.
    public static func url(of agent: MasterResponse.GetAgents.Agent, scheme: String = "http") -> URL? {
        if let at = agent.pid.lastIndex(of: "@") {
            let process = agent.pid[..<at]
            let address = agent.pid[agent.pid.index(after: at)...]
            if let hostPort = HostPort.parse(address), let port = hostPort.port,
                let base = Self.url(scheme: scheme, host: hostPort.host, port: port)
            {
                let valid = !process.isEmpty && process.allSatisfy { $0.isLetter || $0.isNumber || "()_-.".contains($0) }
                return valid ? URL(string: base.absoluteString + "/" + process) ?? base : base
            }
        }
        let info = agent.agentInfo
        guard !info.hostname.isEmpty else { return nil }
        return Self.url(scheme: scheme, host: info.hostname, port: Int(info.hasPort ? info.port : 5051))
    }

    private static func url(scheme: String, host: String, port: Int) -> URL? {
        let bracketed = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        return URL(string: "\(scheme)://\(bracketed):\(port)")
    }

    // MARK: - Generic

    /// Sends any agent call (not a streaming one) and returns the decoded answer, or `nil` for an empty one.
    ///
    /// - Parameter call: The call (validated first).
    /// - Returns: The response, or `nil` when the agent sent no body.
    /// - Throws: ``MesosError``: `.invalidCall`, the agent's status with its text, or a transport failure.
    @discardableResult
    public func send(_ call: AgentCall) async throws(MesosError) -> AgentResponse? {
        try await self.sendReturningStatus(call).response
    }

    /// Sends a call and returns the status with the decoded answer.
    func sendReturningStatus(_ call: AgentCall) async throws(MesosError) -> (status: Int, response: AgentResponse?) {
        switch call.type {
        case .attachContainerOutput, .launchNestedContainerSession, .attachContainerInput:
            throw MesosError(
                code: .invalidCall, message: "\(mesosEnumName(call.type)) streams: use the container stream methods")
        default:
            break
        }
        try call.validate()
        let name = mesosEnumName(call.type)
        let body = try OperatorWire.encode(call, as: self.configuration.contentType)
        let longPoll = call.type == .waitContainer || call.type == .waitNestedContainer
        let answer = try await self.exchange.call(body: body, readOnly: call.isReadOnly, name: name, longPoll: longPoll)
        guard answer.status == 200 || answer.status == 202 else {
            throw answer.error
        }
        guard !answer.body.isEmpty else {
            return (answer.status, nil)
        }
        let contentType = answer.contentType(default: self.configuration.contentType)
        return (answer.status, try OperatorWire.decode(AgentResponse.self, from: answer.body, as: contentType))
    }

    /// Sends a call that answers with data and returns the response of the expected type.
    func query(_ call: AgentCall, expecting expected: AgentResponse.TypeEnum) async throws(MesosError) -> AgentResponse {
        guard let response = try await self.send(call) else {
            throw MesosError(code: .decodingFailed, message: "\(mesosEnumName(call.type)): the agent sent an empty answer")
        }
        guard response.type == expected else {
            throw MesosError(
                code: .decodingFailed,
                message: "\(mesosEnumName(call.type)): expected a \(mesosEnumName(expected)) response, got \(mesosEnumName(response.type))")
        }
        return response
    }

    // MARK: - Reads

    /// GET_HEALTH.
    public func getHealth() async throws(MesosError) -> AgentResponse.GetHealth {
        try await self.query(.getHealth(), expecting: .getHealth).getHealth
    }

    /// GET_FLAGS (403 without VIEW_FLAGS).
    public func getFlags() async throws(MesosError) -> AgentResponse.GetFlags {
        try await self.query(.getFlags(), expecting: .getFlags).getFlags
    }

    /// GET_VERSION.
    public func getVersion() async throws(MesosError) -> AgentResponse.GetVersion {
        try await self.query(.getVersion(), expecting: .getVersion).getVersion
    }

    /// GET_METRICS.
    public func getMetrics(timeout: Duration? = nil) async throws(MesosError) -> AgentResponse.GetMetrics {
        try await self.query(.getMetrics(timeout: timeout), expecting: .getMetrics).getMetrics
    }

    /// GET_LOGGING_LEVEL.
    public func getLoggingLevel() async throws(MesosError) -> AgentResponse.GetLoggingLevel {
        try await self.query(.getLoggingLevel(), expecting: .getLoggingLevel).getLoggingLevel
    }

    /// SET_LOGGING_LEVEL: glog verbosity `level` for `duration`.
    public func setLoggingLevel(_ level: UInt32, for duration: Duration) async throws(MesosError) {
        try await self.send(.setLoggingLevel(level, for: duration))
    }

    /// LIST_FILES of a virtual path (404 when it does not exist).
    public func listFiles(path: String) async throws(MesosError) -> AgentResponse.ListFiles {
        try await self.query(.listFiles(path: path), expecting: .listFiles).listFiles
    }

    /// READ_FILE: `size` is the file's whole size, `data` at most `length` bytes (64 KiB cap) from `offset`.
    public func readFile(path: String, offset: UInt64, length: UInt64? = nil) async throws(MesosError) -> AgentResponse.ReadFile {
        try await self.query(.readFile(path: path, offset: offset, length: length), expecting: .readFile).readFile
    }

    /// GET_STATE: the agent's tasks, executors and frameworks.
    public func getState() async throws(MesosError) -> AgentResponse.GetState {
        try await self.query(.getState(), expecting: .getState).getState
    }

    /// GET_CONTAINERS.
    public func getContainers(showNested: Bool = false, showStandalone: Bool = false) async throws(MesosError) -> AgentResponse.GetContainers {
        try await self.query(.getContainers(showNested: showNested, showStandalone: showStandalone), expecting: .getContainers)
            .getContainers
    }

    /// GET_FRAMEWORKS.
    public func getFrameworks() async throws(MesosError) -> AgentResponse.GetFrameworks {
        try await self.query(.getFrameworks(), expecting: .getFrameworks).getFrameworks
    }

    /// GET_EXECUTORS.
    public func getExecutors() async throws(MesosError) -> AgentResponse.GetExecutors {
        try await self.query(.getExecutors(), expecting: .getExecutors).getExecutors
    }

    /// GET_OPERATIONS.
    public func getOperations() async throws(MesosError) -> AgentResponse.GetOperations {
        try await self.query(.getOperations(), expecting: .getOperations).getOperations
    }

    /// GET_TASKS: pending, queued, launched, terminated and completed tasks.
    public func getTasks() async throws(MesosError) -> AgentResponse.GetTasks {
        try await self.query(.getTasks(), expecting: .getTasks).getTasks
    }

    /// GET_AGENT: the agent's info and drain configuration.
    public func getAgent() async throws(MesosError) -> AgentResponse.GetAgent {
        try await self.query(.getAgent(), expecting: .getAgent).getAgent
    }

    /// GET_RESOURCE_PROVIDERS.
    public func getResourceProviders() async throws(MesosError) -> AgentResponse.GetResourceProviders {
        try await self.query(.getResourceProviders(), expecting: .getResourceProviders).getResourceProviders
    }

    // MARK: - Containers

    /// What LAUNCH_CONTAINER did.
    public enum LaunchOutcome: Sendable, Hashable {
        /// 200: the container was launched.
        case launched
        /// 202: a container with that id exists already; nothing was launched.
        case alreadyExists
    }

    /// LAUNCH_CONTAINER: a standalone container (no parent; give resources) or a nested one (with a parent).
    ///
    /// - Returns: Whether it was launched or already existed.
    /// - Throws: ``MesosError`` with the agent's text (400 invalid, 403, 500 launch failed).
    @discardableResult
    public func launchContainer(
        _ containerID: ContainerID,
        command: CommandInfo? = nil,
        container: ContainerInfo? = nil,
        resources: [Resource] = [],
        limits: [String: Double] = [:]
    ) async throws(MesosError) -> LaunchOutcome {
        let call = AgentCall.launchContainer(
            containerID, command: command, container: container, resources: resources, limits: limits)
        return try await self.sendReturningStatus(call).status == 202 ? .alreadyExists : .launched
    }

    /// WAIT_CONTAINER: waits (a long poll, without the configuration's call timeout; cancel the task to stop
    /// waiting) for the container to exit and returns how. `exitStatus` is a raw wait(2) status (exit code `<< 8`, or the signal number).
    public func waitContainer(_ containerID: ContainerID) async throws(MesosError) -> AgentResponse.WaitContainer {
        try await self.query(.waitContainer(containerID), expecting: .waitContainer).waitContainer
    }

    /// KILL_CONTAINER (404 when unknown or already killed).
    public func killContainer(_ containerID: ContainerID, signal: Int32? = nil) async throws(MesosError) {
        try await self.send(.killContainer(containerID, signal: signal))
    }

    /// REMOVE_CONTAINER of an exited container.
    public func removeContainer(_ containerID: ContainerID) async throws(MesosError) {
        try await self.send(.removeContainer(containerID))
    }

    /// LAUNCH_NESTED_CONTAINER (deprecated in Mesos; ``launchContainer(_:command:container:resources:limits:)``
    /// with a parent).
    public func launchNestedContainer(
        _ containerID: ContainerID, command: CommandInfo? = nil, container: ContainerInfo? = nil
    ) async throws(MesosError) {
        try await self.send(.launchNestedContainer(containerID, command: command, container: container))
    }

    /// WAIT_NESTED_CONTAINER (deprecated in Mesos).
    public func waitNestedContainer(_ containerID: ContainerID) async throws(MesosError) -> AgentResponse.WaitNestedContainer {
        try await self.query(.waitNestedContainer(containerID), expecting: .waitNestedContainer).waitNestedContainer
    }

    /// KILL_NESTED_CONTAINER (deprecated in Mesos).
    public func killNestedContainer(_ containerID: ContainerID, signal: Int32? = nil) async throws(MesosError) {
        try await self.send(.killNestedContainer(containerID, signal: signal))
    }

    /// REMOVE_NESTED_CONTAINER (deprecated in Mesos).
    public func removeNestedContainer(_ containerID: ContainerID) async throws(MesosError) {
        try await self.send(.removeNestedContainer(containerID))
    }

    /// ATTACH_CONTAINER_OUTPUT: the container's stdout and stderr as ``ProcessIO`` records (only containers with
    /// an I/O switchboard: TTY or debug containers; others answer 500).
    ///
    /// - Parameter containerID: The container.
    /// - Returns: The records, ending when the process closes its output.
    /// - Throws: ``MesosError`` with the agent's status and text.
    public func attachContainerOutput(_ containerID: ContainerID) async throws(MesosError) -> ProcessIOStream {
        try await self.openOutputStream(.attachContainerOutput(containerID))
    }

    /// LAUNCH_NESTED_CONTAINER_SESSION: launches a nested container and streams its output; the container is
    /// destroyed when the stream ends or is dropped.
    public func launchNestedContainerSession(
        _ containerID: ContainerID, command: CommandInfo? = nil, container: ContainerInfo? = nil
    ) async throws(MesosError) -> ProcessIOStream {
        try await self.openOutputStream(.launchNestedContainerSession(containerID, command: command, container: container))
    }

    private func openOutputStream(_ call: AgentCall) async throws(MesosError) -> ProcessIOStream {
        try call.validate()
        let contentType = self.configuration.contentType
        let body = try OperatorWire.encode(call, as: contentType)
        let answer = try await self.exchange.openStream(
            body: body, accept: "application/recordio", extraHeaders: ["Message-Accept": contentType.mediaType],
            idleTimeout: nil, name: mesosEnumName(call.type))
        let negotiated = answer.response.headers["Message-Content-Type"].flatMap(MesosContentType.init(mediaType:))
            ?? contentType
        return ProcessIOStream(body: answer.body, contentType: negotiated)
    }
}

/// The records of a container output stream (`application/recordio` of ``ProcessIO``), decoded as they arrive.
public struct ProcessIOStream: AsyncSequence, Sendable {
    /// One record.
    public typealias Element = ProcessIO
    /// The only error it throws.
    public typealias Failure = MesosError

    /// The response body.
    public let body: MesosResponseBody
    /// The encoding of each record (`Message-Content-Type`).
    public let contentType: MesosContentType

    /// Wraps a RecordIO body of `ProcessIO` records.
    ///
    /// - Parameters:
    ///   - body: The body.
    ///   - contentType: The encoding of each record.
    public init(body: MesosResponseBody, contentType: MesosContentType) {
        self.body = body
        self.contentType = contentType
    }

    /// Returns an iterator.
    public func makeAsyncIterator() -> Iterator {
        Iterator(body: self.body.makeAsyncIterator(), contentType: self.contentType)
    }

    /// Decodes records as their bytes arrive.
    public struct Iterator: AsyncIteratorProtocol {
        private var body: MesosResponseBody.Iterator
        private var decoder = RecordIODecoder(maximumRecordSize: 16 << 20)
        private let contentType: MesosContentType
        private var finished = false

        init(body: MesosResponseBody.Iterator, contentType: MesosContentType) {
            self.body = body
            self.contentType = contentType
        }

        /// The next record, or `nil` when the stream ends.
        ///
        /// - Throws: ``MesosError``: a transport failure, a malformed or truncated stream, a record that does
        ///   not decode.
        public mutating func next() async throws(MesosError) -> ProcessIO? {
            while true {
                let record: ArraySlice<UInt8>?
                do {
                    record = try self.decoder.next()
                } catch {
                    throw MesosError.recordIO(error)
                }
                if let record {
                    return try OperatorWire.decode(ProcessIO.self, from: record, as: self.contentType)
                }
                if self.finished {
                    return nil
                }
                if let chunk = try await self.body.next() {
                    self.decoder.append(chunk)
                } else {
                    self.finished = true
                    let rest: [ArraySlice<UInt8>]
                    do {
                        rest = try self.decoder.finish()
                    } catch {
                        throw MesosError.recordIO(error)
                    }
                    if let last = rest.first {
                        return try OperatorWire.decode(ProcessIO.self, from: last, as: self.contentType)
                    }
                    return nil
                }
            }
        }
    }
}
