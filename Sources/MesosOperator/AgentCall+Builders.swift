import MesosCore

/// Builders for the agent operator calls, each with the sub-message Mesos requires for its type.
///
/// Container calls take a ``MesosCore/ContainerID``; nested containers name their parent
/// (`ContainerID.with { $0.value = "debug-1"; $0.parent = executorContainer }`).
extension AgentCall {
    /// A call of a type that carries no sub-message (GET_HEALTH, GET_STATE, …).
    ///
    /// - Parameter type: The call type.
    public init(_ type: TypeEnum) {
        self.init()
        self.type = type
    }

    /// GET_HEALTH.
    public static func getHealth() -> AgentCall { AgentCall(.getHealth) }
    /// GET_FLAGS.
    public static func getFlags() -> AgentCall { AgentCall(.getFlags) }
    /// GET_VERSION.
    public static func getVersion() -> AgentCall { AgentCall(.getVersion) }
    /// GET_LOGGING_LEVEL.
    public static func getLoggingLevel() -> AgentCall { AgentCall(.getLoggingLevel) }
    /// GET_STATE.
    public static func getState() -> AgentCall { AgentCall(.getState) }
    /// GET_FRAMEWORKS.
    public static func getFrameworks() -> AgentCall { AgentCall(.getFrameworks) }
    /// GET_EXECUTORS.
    public static func getExecutors() -> AgentCall { AgentCall(.getExecutors) }
    /// GET_OPERATIONS.
    public static func getOperations() -> AgentCall { AgentCall(.getOperations) }
    /// GET_TASKS.
    public static func getTasks() -> AgentCall { AgentCall(.getTasks) }
    /// GET_AGENT.
    public static func getAgent() -> AgentCall { AgentCall(.getAgent) }
    /// GET_RESOURCE_PROVIDERS.
    public static func getResourceProviders() -> AgentCall { AgentCall(.getResourceProviders) }

    /// GET_METRICS; the `get_metrics` sub-message is always present.
    public static func getMetrics(timeout: Duration? = nil) -> AgentCall {
        var call = AgentCall(.getMetrics)
        call.getMetrics = GetMetrics()
        if let timeout {
            call.getMetrics.timeout = DurationInfo(duration: timeout)
        }
        return call
    }

    /// SET_LOGGING_LEVEL: glog verbosity `level` for `duration`.
    public static func setLoggingLevel(_ level: UInt32, for duration: Duration) -> AgentCall {
        var call = AgentCall(.setLoggingLevel)
        call.setLoggingLevel.level = level
        call.setLoggingLevel.duration = DurationInfo(duration: duration)
        return call
    }

    /// LIST_FILES of a virtual path (e.g. a sandbox, `/frameworks/<fid>/executors/<eid>/runs/latest`).
    public static func listFiles(path: String) -> AgentCall {
        var call = AgentCall(.listFiles)
        call.listFiles.path = path
        return call
    }

    /// READ_FILE: `length` bytes (or up to the agent's cap when `nil`) from byte `offset`.
    public static func readFile(path: String, offset: UInt64, length: UInt64? = nil) -> AgentCall {
        var call = AgentCall(.readFile)
        call.readFile.path = path
        call.readFile.offset = offset
        if let length {
            call.readFile.length = length
        }
        return call
    }

    /// GET_CONTAINERS; nested and standalone containers are listed only when asked for.
    public static func getContainers(showNested: Bool = false, showStandalone: Bool = false) -> AgentCall {
        var call = AgentCall(.getContainers)
        call.getContainers = GetContainers()
        if showNested { call.getContainers.showNested = true }
        if showStandalone { call.getContainers.showStandalone = true }
        return call
    }

    /// LAUNCH_CONTAINER: a standalone container (no parent; `resources` required) or a nested one (with a parent).
    public static func launchContainer(
        _ containerID: ContainerID,
        command: CommandInfo? = nil,
        container: ContainerInfo? = nil,
        resources: [Resource] = [],
        limits: [String: Double] = [:]
    ) -> AgentCall {
        var call = AgentCall(.launchContainer)
        call.launchContainer.containerID = containerID
        if let command { call.launchContainer.command = command }
        if let container { call.launchContainer.container = container }
        call.launchContainer.resources = resources
        call.launchContainer.limits = limits.mapValues { value in Value.Scalar.with { $0.value = value } }
        return call
    }

    /// WAIT_CONTAINER: answered when the container exits.
    public static func waitContainer(_ containerID: ContainerID) -> AgentCall {
        var call = AgentCall(.waitContainer)
        call.waitContainer.containerID = containerID
        return call
    }

    /// KILL_CONTAINER with a signal (default SIGKILL on the agent).
    public static func killContainer(_ containerID: ContainerID, signal: Int32? = nil) -> AgentCall {
        var call = AgentCall(.killContainer)
        call.killContainer.containerID = containerID
        if let signal { call.killContainer.signal = signal }
        return call
    }

    /// REMOVE_CONTAINER (of an exited container).
    public static func removeContainer(_ containerID: ContainerID) -> AgentCall {
        var call = AgentCall(.removeContainer)
        call.removeContainer.containerID = containerID
        return call
    }

    /// LAUNCH_NESTED_CONTAINER (deprecated in Mesos; LAUNCH_CONTAINER with a parent).
    public static func launchNestedContainer(
        _ containerID: ContainerID, command: CommandInfo? = nil, container: ContainerInfo? = nil
    ) -> AgentCall {
        var call = AgentCall(.launchNestedContainer)
        call.launchNestedContainer.containerID = containerID
        if let command { call.launchNestedContainer.command = command }
        if let container { call.launchNestedContainer.container = container }
        return call
    }

    /// WAIT_NESTED_CONTAINER (deprecated in Mesos).
    public static func waitNestedContainer(_ containerID: ContainerID) -> AgentCall {
        var call = AgentCall(.waitNestedContainer)
        call.waitNestedContainer.containerID = containerID
        return call
    }

    /// KILL_NESTED_CONTAINER (deprecated in Mesos).
    public static func killNestedContainer(_ containerID: ContainerID, signal: Int32? = nil) -> AgentCall {
        var call = AgentCall(.killNestedContainer)
        call.killNestedContainer.containerID = containerID
        if let signal { call.killNestedContainer.signal = signal }
        return call
    }

    /// REMOVE_NESTED_CONTAINER (deprecated in Mesos).
    public static func removeNestedContainer(_ containerID: ContainerID) -> AgentCall {
        var call = AgentCall(.removeNestedContainer)
        call.removeNestedContainer.containerID = containerID
        return call
    }

    /// LAUNCH_NESTED_CONTAINER_SESSION: a nested container whose output is the response stream.
    public static func launchNestedContainerSession(
        _ containerID: ContainerID, command: CommandInfo? = nil, container: ContainerInfo? = nil
    ) -> AgentCall {
        var call = AgentCall(.launchNestedContainerSession)
        call.launchNestedContainerSession.containerID = containerID
        if let command { call.launchNestedContainerSession.command = command }
        if let container { call.launchNestedContainerSession.container = container }
        return call
    }

    /// ATTACH_CONTAINER_OUTPUT: the container's output as a stream.
    public static func attachContainerOutput(_ containerID: ContainerID) -> AgentCall {
        var call = AgentCall(.attachContainerOutput)
        call.attachContainerOutput.containerID = containerID
        return call
    }

    /// The first record of an ATTACH_CONTAINER_INPUT stream: which container.
    public static func attachContainerInput(_ containerID: ContainerID) -> AgentCall {
        var call = AgentCall(.attachContainerInput)
        call.attachContainerInput.type = .containerID
        call.attachContainerInput.containerID = containerID
        return call
    }

    /// A later record of an ATTACH_CONTAINER_INPUT stream: stdin bytes (empty = end of input), a heartbeat or
    /// a terminal resize.
    public static func attachContainerInput(_ processIO: ProcessIO) -> AgentCall {
        var call = AgentCall(.attachContainerInput)
        call.attachContainerInput.type = .processIo
        call.attachContainerInput.processIo = processIO
        return call
    }

    /// Whether the call only reads.
    public var isReadOnly: Bool {
        switch self.type {
        case .getHealth, .getFlags, .getVersion, .getMetrics, .getLoggingLevel, .listFiles, .readFile, .getState,
            .getContainers, .getFrameworks, .getExecutors, .getOperations, .getTasks, .getAgent, .getResourceProviders,
            .waitContainer, .waitNestedContainer, .attachContainerOutput:
            return true
        default:
            return false
        }
    }

    /// Checks what Mesos requires of the call, before it is sent: required fields, container ids that are valid
    /// path components, and a parent for the nested-container calls.
    ///
    /// - Throws: ``MesosError/Code/invalidCall`` naming what is wrong.
    public func validate() throws(MesosError) {
        let name = mesosEnumName(self.type)
        func require(_ condition: Bool, _ what: String) throws(MesosError) {
            guard condition else {
                throw MesosError(code: .invalidCall, message: "\(name) needs \(what)")
            }
        }
        func container(_ id: ContainerID, nested: Bool) throws(MesosError) {
            try Self.validateContainerID(id, call: name)
            if nested {
                try require(id.hasParent, "a container id with a parent")
            }
        }
        switch self.type {
        case .unknown:
            throw MesosError(code: .invalidCall, message: "An agent call needs a type")
        case .getMetrics:
            try require(self.hasGetMetrics, "get_metrics")
        case .setLoggingLevel:
            try require(self.setLoggingLevel.hasLevel && self.setLoggingLevel.hasDuration, "a level and a duration")
        case .listFiles:
            try require(!self.listFiles.path.isEmpty, "a path")
        case .readFile:
            try require(!self.readFile.path.isEmpty && self.readFile.hasOffset, "a path and an offset")
        case .launchNestedContainer:
            try container(self.launchNestedContainer.containerID, nested: true)
        case .waitNestedContainer:
            try container(self.waitNestedContainer.containerID, nested: true)
        case .killNestedContainer:
            try container(self.killNestedContainer.containerID, nested: true)
        case .removeNestedContainer:
            try container(self.removeNestedContainer.containerID, nested: true)
        case .launchNestedContainerSession:
            try container(self.launchNestedContainerSession.containerID, nested: true)
        case .attachContainerOutput:
            try container(self.attachContainerOutput.containerID, nested: false)
        case .launchContainer:
            try container(self.launchContainer.containerID, nested: false)
        case .waitContainer:
            try container(self.waitContainer.containerID, nested: false)
        case .killContainer:
            try container(self.killContainer.containerID, nested: false)
        case .removeContainer:
            try container(self.removeContainer.containerID, nested: false)
        case .attachContainerInput:
            if self.attachContainerInput.type == .containerID {
                try container(self.attachContainerInput.containerID, nested: false)
            }
        default:
            break
        }
    }

    /// Mesos's rule for container ids: each level non-empty, not `.` or `..`, without `/`.
    static func validateContainerID(_ id: ContainerID, call: String) throws(MesosError) {
        var level: ContainerID? = id
        var depth = 0
        while let current = level {
            let value = current.value
            guard !value.isEmpty, value != ".", value != "..", !value.contains("/") else {
                throw MesosError(
                    code: .invalidCall, message: "\(call): container id '\(value)' is not a valid path component")
            }
            depth += 1
            guard depth <= 64 else {
                throw MesosError(code: .invalidCall, message: "\(call): container id nested too deeply")
            }
            level = current.hasParent ? current.parent : nil
        }
    }
}
