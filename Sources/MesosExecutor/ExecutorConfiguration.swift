#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import MesosCore

/// Everything a ``MesosExecutor`` needs to know: where the agent is, who the executor is, and the timing rules
/// the agent set for it. An executor launched by a Mesos agent builds it with ``fromEnvironment(_:)``.
public struct ExecutorConfiguration: Sendable {
    /// The agent's executor endpoint, `http://<MESOS_AGENT_ENDPOINT>[/<agent process>]/api/v1/executor` (the
    /// agent's process name from `MESOS_SLAVE_PID` when it is set).
    public var endpoint: URL
    /// The framework the executor belongs to (`MESOS_FRAMEWORK_ID`).
    public var frameworkID: FrameworkID
    /// The executor's id (`MESOS_EXECUTOR_ID`; for a command task, the task id).
    public var executorID: ExecutorID
    /// The sandbox as the executor sees it (`MESOS_SANDBOX`, else `MESOS_DIRECTORY`), if known.
    public var sandbox: String?
    /// Whether the framework checkpoints (`MESOS_CHECKPOINT=1`): then the executor survives an agent restart by
    /// re-subscribing; without it, the executor ends when the agent goes away.
    public var checkpoint: Bool
    /// How long to keep re-subscribing after the agent went away (`MESOS_RECOVERY_TIMEOUT`, default 15 min).
    public var recoveryTimeout: Duration
    /// The cap of one wait between re-subscription attempts (`MESOS_SUBSCRIPTION_BACKOFF_MAX`, default 2 s).
    public var subscriptionBackoffMax: Duration
    /// How long the agent waits after SHUTDOWN before destroying the container
    /// (`MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD`, default 5 s); the executor ends by then.
    public var shutdownGracePeriod: Duration
    /// The bearer token for executor authentication (`MESOS_EXECUTOR_AUTHENTICATION_TOKEN`), if any.
    public var authenticationToken: String?
    /// The agent's unix domain socket for the executor API (`MESOS_DOMAIN_SOCKET`, set when the agent runs with
    /// `--http_executor_domain_sockets`), or `nil`. When set, an executor should connect to this socket instead of
    /// `endpoint`'s host and port (for example `MesosSocketTransport`'s `unixSocketPath`); `endpoint` then still
    /// gives the request path, `/slave(1)/api/v1/executor`.
    public var domainSocket: String?
    /// The encoding of calls and events (protobuf by default: smaller and cheaper to decode).
    public var contentType: MesosContentType = .protobuf
    /// How often the first SUBSCRIBE is retried while the agent answers 503/404 or cannot be reached (1 s,
    /// as Mesos's own executors).
    public var subscribeRetryInterval: Duration = .seconds(1)
    /// How long the first subscription may take before the executor gives up (the agent's own
    /// `--executor_registration_timeout` default, 1 min).
    public var registrationTimeout: Duration = .seconds(60)
    /// Whether the executor ends once every task it was given has a terminal update and all updates are
    /// acknowledged (`true`, as Mesos's command executor). Turn it off for an executor that waits for more tasks.
    public var endsAfterLastTerminalUpdate = true
    /// How long to wait for the acknowledgement of the last terminal update before ending anyway (60 s).
    public var terminalAcknowledgementTimeout: Duration = .seconds(60)
    /// The period of the HEARTBEAT calls the executor posts to keep the call connection alive (30 min, as
    /// Mesos's library), or `nil` for none.
    public var heartbeatInterval: Duration? = .seconds(1800)
    /// The longest an ordinary call (UPDATE, MESSAGE, HEARTBEAT) may take (30 s); SUBSCRIBE has no limit.
    public var callTimeout: Duration = .seconds(30)
    /// The largest event accepted, in bytes.
    public var maximumEventSize = 16 << 20
    /// The clock every delay and timeout is measured on (`ContinuousClock` unless a test drives time).
    public var clock: any Clock<Duration> = ContinuousClock()
    /// The wall time put in an update's `timestamp` when it has none: seconds since the epoch.
    public var wallClock: @Sendable () -> Double = { Date().timeIntervalSince1970 }
    /// The seed of the re-subscription jitter, or `nil` for a random one (tests fix it).
    public var jitterSeed: UInt64?

    /// Creates a configuration.
    ///
    /// - Parameters:
    ///   - endpoint: The agent's executor endpoint URL.
    ///   - frameworkID: The framework id.
    ///   - executorID: The executor id.
    ///   - sandbox: The sandbox directory.
    ///   - checkpoint: Whether the framework checkpoints.
    ///   - recoveryTimeout: How long to try re-subscribing after a disconnection.
    ///   - subscriptionBackoffMax: The cap of one wait between attempts.
    ///   - shutdownGracePeriod: The time allowed after SHUTDOWN.
    ///   - authenticationToken: The executor's bearer token.
    public init(
        endpoint: URL,
        frameworkID: FrameworkID,
        executorID: ExecutorID,
        sandbox: String? = nil,
        checkpoint: Bool = false,
        recoveryTimeout: Duration = .seconds(900),
        subscriptionBackoffMax: Duration = .seconds(2),
        shutdownGracePeriod: Duration = .seconds(5),
        authenticationToken: String? = nil
    ) {
        self.endpoint = endpoint
        self.frameworkID = frameworkID
        self.executorID = executorID
        self.sandbox = sandbox
        self.checkpoint = checkpoint
        self.recoveryTimeout = recoveryTimeout
        self.subscriptionBackoffMax = subscriptionBackoffMax
        self.shutdownGracePeriod = shutdownGracePeriod
        self.authenticationToken = authenticationToken
    }

    /// Reads the configuration from the environment a Mesos agent gives its executors
    /// (EXECUTOR-OPERATOR.md §1.2).
    ///
    /// Required: `MESOS_AGENT_ENDPOINT` (`ip:port`), `MESOS_FRAMEWORK_ID`, `MESOS_EXECUTOR_ID`, and with
    /// `MESOS_CHECKPOINT=1` also `MESOS_RECOVERY_TIMEOUT` and `MESOS_SUBSCRIPTION_BACKOFF_MAX`. Optional:
    /// `MESOS_CHECKPOINT` (`1` or `0`, absent = `0`), `MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD` (default 5 s),
    /// `MESOS_SANDBOX`/`MESOS_DIRECTORY`, `MESOS_EXECUTOR_AUTHENTICATION_TOKEN`, `MESOS_DOMAIN_SOCKET` (an
    /// absolute path) and `LIBPROCESS_SSL_ENABLED` (`1`/`true` for https). Durations are stout strings (`15mins`,
    /// `2secs`).
    ///
    /// - Parameter environment: The variables; the process's own by default.
    /// - Returns: The configuration.
    /// - Throws: ``ExecutorEnvironmentError`` naming the first missing or invalid variable.
    public static func fromEnvironment(
        _ environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ExecutorEnvironmentError) -> ExecutorConfiguration {
        func required(_ name: String) throws(ExecutorEnvironmentError) -> String {
            guard let value = environment[name], !value.isEmpty else {
                throw ExecutorEnvironmentError(variable: name, problem: .missing)
            }
            return value
        }
        func duration(_ name: String, default fallback: Duration?) throws(ExecutorEnvironmentError) -> Duration {
            guard let text = environment[name], !text.isEmpty else {
                if let fallback { return fallback }
                throw ExecutorEnvironmentError(variable: name, problem: .missing)
            }
            guard let value = Duration(stout: text) else {
                throw ExecutorEnvironmentError(
                    variable: name, problem: .invalid(value: text, expected: "a duration such as 15mins or 2secs"))
            }
            return value
        }

        let endpointText = try required("MESOS_AGENT_ENDPOINT")
        let secure: Bool
        switch environment["LIBPROCESS_SSL_ENABLED"]?.lowercased() {
        case nil, "", "0", "false": secure = false
        case "1", "true": secure = true
        case let other?:
            throw ExecutorEnvironmentError(
                variable: "LIBPROCESS_SSL_ENABLED", problem: .invalid(value: other, expected: "1, 0, true or false"))
        }
        // The agent's libprocess id (`slave(1)` of `MESOS_SLAVE_PID=slave(1)@ip:port`) prefixes the path, as the
        // C++ library does: a stand-alone agent serves both forms, but where several agents share one port (local
        // mode) only the prefixed path reaches this executor's agent; the bare one goes to the master.
        var prefix = ""
        if let pid = environment["MESOS_SLAVE_PID"], let at = pid.firstIndex(of: "@") {
            let name = pid[..<at]
            guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || "()_-.".contains($0) }) else {
                throw ExecutorEnvironmentError(
                    variable: "MESOS_SLAVE_PID", problem: .invalid(value: pid, expected: "name@ip:port"))
            }
            prefix = "/" + name
        }
        guard let authority = HostPort.parse(endpointText[...]), authority.port != nil,
            let endpoint = URL(string: "\(secure ? "https" : "http")://\(endpointText)\(prefix)/api/v1/executor")
        else {
            throw ExecutorEnvironmentError(
                variable: "MESOS_AGENT_ENDPOINT", problem: .invalid(value: endpointText, expected: "ip:port"))
        }
        var frameworkID = FrameworkID()
        frameworkID.value = try required("MESOS_FRAMEWORK_ID")
        var executorID = ExecutorID()
        executorID.value = try required("MESOS_EXECUTOR_ID")

        let checkpoint: Bool
        switch environment["MESOS_CHECKPOINT"] {
        case nil, "", "0": checkpoint = false
        case "1": checkpoint = true
        case let other?:
            throw ExecutorEnvironmentError(variable: "MESOS_CHECKPOINT", problem: .invalid(value: other, expected: "1 or 0"))
        }
        var configuration = ExecutorConfiguration(endpoint: endpoint, frameworkID: frameworkID, executorID: executorID)
        configuration.checkpoint = checkpoint
        // Without checkpointing the agent sets neither recovery variable; the defaults are then unused.
        configuration.recoveryTimeout = try duration("MESOS_RECOVERY_TIMEOUT", default: checkpoint ? nil : .seconds(900))
        configuration.subscriptionBackoffMax = try duration(
            "MESOS_SUBSCRIPTION_BACKOFF_MAX", default: checkpoint ? nil : .seconds(2))
        configuration.shutdownGracePeriod = try duration("MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD", default: .seconds(5))
        configuration.sandbox = [environment["MESOS_SANDBOX"], environment["MESOS_DIRECTORY"]]
            .compactMap { $0 }.first { !$0.isEmpty }
        if let socket = environment["MESOS_DOMAIN_SOCKET"], !socket.isEmpty {
            guard socket.hasPrefix("/") else {
                throw ExecutorEnvironmentError(
                    variable: "MESOS_DOMAIN_SOCKET", problem: .invalid(value: socket, expected: "an absolute socket path"))
            }
            configuration.domainSocket = socket
            // Over the socket the agent's libprocess routes by path alone: always the prefixed form.
            if prefix.isEmpty, let url = URL(string: "http://\(endpointText)/slave(1)/api/v1/executor") {
                configuration.endpoint = url
            }
        }
        if let token = environment["MESOS_EXECUTOR_AUTHENTICATION_TOKEN"], !token.isEmpty {
            configuration.authenticationToken = token
        }
        return configuration
    }
}

/// A variable of the executor's environment is missing or unusable.
public struct ExecutorEnvironmentError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong with the variable.
    public enum Problem: Sendable, Equatable {
        /// The variable is not set (or empty).
        case missing
        /// The variable's value cannot be used; `expected` says what would be.
        case invalid(value: String, expected: String)
    }

    /// The variable's name, such as `MESOS_RECOVERY_TIMEOUT`.
    public var variable: String
    /// What is wrong.
    public var problem: Problem

    /// Creates the error.
    public init(variable: String, problem: Problem) {
        self.variable = variable
        self.problem = problem
    }

    /// `MESOS_X is not set` or `MESOS_X='…' is invalid: expected …`.
    public var description: String {
        switch self.problem {
        case .missing:
            return "\(self.variable) is not set"
        case .invalid(let value, let expected):
            return "\(self.variable)='\(value)' is invalid: expected \(expected)"
        }
    }
}
