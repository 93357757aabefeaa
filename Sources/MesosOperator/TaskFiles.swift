import Foundation
import Logging
import MesosCore

/// Reads the files of task sandboxes on one agent: size, read, list, and follow (`tail -f`).
///
/// Reads go to the agent that ran the task (the master's own files API only shows the master's log). Each call
/// first tries the operator API (`READ_FILE` / `LIST_FILES` at the agent's `/api/v1`), which carries the bytes as
/// base64 and reports the file's size with every read; where the agent refuses that call (an agent without the
/// v1 API answers 404, 405, 415 or 501) the legacy `GET /files/read` and `/files/browse` endpoints are used, and
/// after a refusal other than 404 the operator call is not tried again on this value's agent.
///
/// ```swift
/// let files = TaskFiles(agent: try SandboxAgentEndpoint(pid: "slave(1)@10.0.0.23:5051"), transport: transport)
/// let page = try await files.read(path: sandbox.path(of: "stdout"), offset: 0, length: 65536)
/// for try await chunk in files.follow(path: sandbox.path(of: "stdout"), options: .init(start: .lastBytes(4096))) {
///     FileHandle.standardOutput.write(Data(chunk))
/// }
/// ```
///
/// Paths are the agent's virtual paths (``SandboxLocation``), or any other path the agent has attached
/// (`/slave/log`, a sandbox's host directory). Errors are ``MesosError`` values carrying the agent's text:
/// ``MesosError/Code/notFound`` for a missing file or sandbox (not there yet, or garbage-collected),
/// ``MesosError/Code/malformedRequest`` for a directory or an inaccessible path, ``MesosError/Code/forbidden``
/// when the agent's ACLs refuse it, ``MesosError/Code/unauthenticated`` for missing credentials.
public struct TaskFiles: Sendable {
    /// Which of the agent's APIs to use.
    public struct API: Sendable, Hashable, CustomStringConvertible {
        private enum Wrapped: Hashable, Sendable { case automatic, operatorOnly, legacyOnly }
        private let wrapped: Wrapped
        private init(_ wrapped: Wrapped) { self.wrapped = wrapped }

        /// `READ_FILE`/`LIST_FILES` first, the legacy `/files/*` endpoints where the agent refuses them.
        public static let automatic = API(.automatic)
        /// Only the operator calls.
        public static let operatorOnly = API(.operatorOnly)
        /// Only the legacy `/files/*` endpoints.
        public static let legacyOnly = API(.legacyOnly)

        var triesOperator: Bool { self.wrapped != .legacyOnly }
        var fallsBack: Bool { self.wrapped == .automatic }

        /// `automatic`, `operator` or `legacy`.
        public var description: String {
            switch self.wrapped {
            case .automatic: "automatic"
            case .operatorOnly: "operator"
            case .legacyOnly: "legacy"
            }
        }
    }

    /// The result of one read.
    public struct Page: Sendable, Hashable {
        /// The bytes read, at most the requested length (and at most 64 KiB per request by the agent's cap).
        public var data: [UInt8]
        /// The file's size at the time of the read, when the API reports it (`READ_FILE` does; the legacy
        /// endpoint does not, and ``TaskFiles/size(path:)`` asks for it separately).
        public var size: UInt64?

        /// Creates a page.
        public init(data: [UInt8], size: UInt64?) {
            self.data = data
            self.size = size
        }
    }

    /// The agent read from.
    public let agent: SandboxAgentEndpoint
    /// How calls are made: transport, authentication, timeouts, retries of 503s.
    public let configuration: MesosOperatorConfiguration
    /// Which API to use.
    public let api: API
    /// The agent's operator client (`READ_FILE`, `LIST_FILES`), at the agent process's own path.
    let agentOperator: MesosAgentOperator
    private let operatorRefused: LockedValue<Bool>

    /// The most bytes one request asks for: the agent's own cap (16 pages of 4 KiB).
    public static let maximumReadLength: UInt64 = 65536

    /// Creates a reader for one agent.
    ///
    /// - Parameters:
    ///   - agent: The agent.
    ///   - configuration: Transport, encoding, authentication, timeouts and retries; its `path` is replaced by
    ///     the agent process's operator path.
    ///   - api: Which API to use (``API/automatic`` by default).
    public init(agent: SandboxAgentEndpoint, configuration: MesosOperatorConfiguration, api: API = .automatic) {
        var configuration = configuration
        configuration.path = agent.operatorPath
        self.agent = agent
        self.configuration = configuration
        self.api = api
        self.agentOperator = MesosAgentOperator(url: agent.baseURL, configuration: configuration)
        self.operatorRefused = LockedValue(false)
    }

    /// Creates a reader for one agent with the default configuration over `transport`.
    ///
    /// - Parameters:
    ///   - agent: The agent.
    ///   - transport: The HTTP transport.
    ///   - authenticator: Supplies the `Authorization` header; `nil` sends none.
    ///   - api: Which API to use (``API/automatic`` by default).
    public init(
        agent: SandboxAgentEndpoint,
        transport: any MesosTransport,
        authenticator: (any MesosAuthenticator)? = nil,
        api: API = .automatic
    ) {
        self.init(
            agent: agent,
            configuration: MesosOperatorConfiguration(transport: transport, authenticator: authenticator),
            api: api
        )
    }

    /// Reads up to `length` bytes at `offset`.
    ///
    /// A short page does not mean the end of the file: the agent caps every read at 64 KiB. Reading at or
    /// beyond the end gives an empty page.
    ///
    /// - Parameters:
    ///   - path: The file's path on the agent.
    ///   - offset: The byte offset.
    ///   - length: The most bytes to read (capped at ``maximumReadLength``).
    /// - Returns: The bytes, and the file's size when the API reports it.
    /// - Throws: ``MesosError`` with the agent's text.
    public func read(path: String, offset: UInt64, length: UInt64 = TaskFiles.maximumReadLength) async throws(MesosError) -> Page {
        let length = min(length, Self.maximumReadLength)
        return try await self.withFallback(call: "READ_FILE \(path)") { () async throws(MesosError) -> Page in
            try await self.operatorRead(path: path, offset: offset, length: length)
        } legacy: { () async throws(MesosError) -> Page in
            let (data, _) = try await self.legacyRead(path: path, offset: Int64(clamping: offset), length: Int64(clamping: length))
            return Page(data: data, size: nil)
        }
    }

    /// The file's current size in bytes.
    ///
    /// - Parameter path: The file's path on the agent.
    /// - Returns: The size.
    /// - Throws: ``MesosError`` with the agent's text.
    public func size(path: String) async throws(MesosError) -> UInt64 {
        try await self.withFallback(call: "READ_FILE \(path)") { () async throws(MesosError) -> UInt64 in
            let page = try await self.operatorRead(path: path, offset: 0, length: 0)
            return page.size ?? 0
        } legacy: { () async throws(MesosError) -> UInt64 in
            // Offset -1 is the legacy endpoint's size probe: no data, and the size in `offset`.
            let (_, size) = try await self.legacyRead(path: path, offset: -1, length: -1)
            guard size >= 0 else {
                throw MesosError(code: .decodingFailed, message: "/files/read reported a negative size \(size) for \(path)")
            }
            return UInt64(size)
        }
    }

    /// Reads a whole file, page by page, until the size seen at the start.
    ///
    /// - Parameters:
    ///   - path: The file's path on the agent.
    ///   - limit: The most bytes to accept.
    /// - Returns: The bytes.
    /// - Throws: ``MesosError``; ``MesosError/Code/recordTooLarge`` when the file is larger than `limit`.
    public func readAll(path: String, limit: UInt64 = 64 << 20) async throws(MesosError) -> [UInt8] {
        var bytes: [UInt8] = []
        var end = try await self.size(path: path)
        guard end <= limit else {
            throw MesosError(code: .recordTooLarge, message: "\(path) has \(end) bytes, more than the limit of \(limit)")
        }
        while UInt64(bytes.count) < end {
            let page = try await self.read(path: path, offset: UInt64(bytes.count), length: min(Self.maximumReadLength, end - UInt64(bytes.count)))
            if page.data.isEmpty {
                // Truncated while we read: stop at what is there.
                end = page.size ?? UInt64(bytes.count)
                if end <= UInt64(bytes.count) { break }
                continue
            }
            bytes.append(contentsOf: page.data)
        }
        return bytes
    }

    /// Lists a directory.
    ///
    /// - Parameter path: The directory's path on the agent.
    /// - Returns: Its entries, sorted by path.
    /// - Throws: ``MesosError`` with the agent's text.
    public func list(path: String) async throws(MesosError) -> [TaskFileInfo] {
        let entries = try await self.withFallback(call: "LIST_FILES \(path)") { () async throws(MesosError) -> [TaskFileInfo] in
            try await self.operatorList(path: path)
        } legacy: { () async throws(MesosError) -> [TaskFileInfo] in
            try await self.legacyBrowse(path: path)
        }
        return entries.sorted { $0.path < $1.path }
    }

    /// Follows a file as `tail -f` does: an asynchronous sequence of the bytes appended to it.
    ///
    /// - Parameters:
    ///   - path: The file's path on the agent.
    ///   - options: Where to start, how often to poll, how much to read per request.
    ///   - clock: The clock the poll interval is measured on (`ContinuousClock` by default).
    ///   - isFinished: Asked when the follower has caught up with the file; `true` (the task is in a terminal
    ///     state) makes the follower read what is left and end. `nil` follows until cancelled.
    /// - Returns: The follower.
    public func follow<C: Clock>(
        path: String,
        options: TaskFileFollower.Options = .init(),
        clock: C,
        isFinished: (@Sendable () async throws(MesosError) -> Bool)? = nil
    ) -> TaskFileFollower where C.Duration == Duration {
        TaskFileFollower(files: self, path: path, options: options, time: TimeSource(clock), isFinished: isFinished)
    }

    /// Follows a file on `ContinuousClock`; see ``follow(path:options:clock:isFinished:)``.
    ///
    /// - Parameters:
    ///   - path: The file's path on the agent.
    ///   - options: Where to start, how often to poll, how much to read per request.
    ///   - isFinished: Asked when the follower has caught up; `true` ends it after a last read.
    /// - Returns: The follower.
    public func follow(
        path: String,
        options: TaskFileFollower.Options = .init(),
        isFinished: (@Sendable () async throws(MesosError) -> Bool)? = nil
    ) -> TaskFileFollower {
        self.follow(path: path, options: options, clock: ContinuousClock(), isFinished: isFinished)
    }

    // MARK: - Choosing the API

    /// The statuses with which an agent says it does not serve the operator call at all.
    static func refusesOperatorCall(_ error: MesosError) -> Bool {
        switch error.httpStatus {
        case 404, 405, 406, 415, 501: true
        default: false
        }
    }

    private func withFallback<Result>(
        call: String,
        operator operatorCall: () async throws(MesosError) -> Result,
        legacy: () async throws(MesosError) -> Result
    ) async throws(MesosError) -> Result {
        guard self.api.triesOperator, !(self.api.fallsBack && self.operatorRefused.withLock({ $0 })) else {
            return try await legacy()
        }
        do {
            return try await operatorCall()
        } catch {
            guard self.api.fallsBack, Self.refusesOperatorCall(error) else { throw error }
            // 404 is also the answer for a missing file, so only the other refusals are remembered.
            if error.httpStatus != 404 {
                self.operatorRefused.withLock { $0 = true }
                self.configuration.logger?.notice(
                    "The agent refused the operator call; using the legacy /files endpoints",
                    metadata: ["agent": "\(self.agent)", "call": "\(call)", "error": "\(error.message)"]
                )
            }
            return try await legacy()
        }
    }

    // MARK: - HTTP

    /// Sends a request with the authenticator's header, once more with a refreshed one after a 401, and returns
    /// the body of a 200 (or throws the status's error with the agent's text).
    func exchange(_ base: MesosHTTPRequest, what: String, limit: Int) async throws(MesosError) -> (MesosHTTPResponse, [UInt8]) {
        var refresh = false
        while true {
            var request = base
            if let authenticator = self.configuration.authenticator {
                let header: String?
                do {
                    header = try await authenticator.authorization(refresh: refresh)
                } catch let error as MesosError {
                    throw error
                } catch {
                    throw MesosError(code: .authenticationFailed, message: "Obtaining credentials failed: \(error)", cause: error)
                }
                request.headers["Authorization"] = header
            }
            let (head, body) = try await self.configuration.transport.send(request)
            if head.status == 200 {
                return (head, try await body.collect(upTo: limit))
            }
            let text = await body.prefixText()
            if head.status == 401, self.configuration.authenticator != nil, !refresh {
                refresh = true
                continue
            }
            var error = MesosError.httpStatus(head.status, body: text.trimmingCharacters(in: .whitespacesAndNewlines))
            error.message = "\(what) on agent \(self.agent): \(error.message)"
            throw error
        }
    }
}
