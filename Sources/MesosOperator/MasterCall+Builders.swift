import MesosCore
import SwiftProtobuf

/// Builders for every master operator call, each with the sub-message Mesos requires for its type (GET_METRICS
/// always carries `get_metrics`, even empty).
///
/// ```swift
/// let call = MasterCall.teardown(frameworkID: FrameworkID("b3c1…-0007"))
/// let body = try OperatorWire.encode(call, as: .json)
/// ```
extension MasterCall {
    /// A call of a type that carries no sub-message (GET_HEALTH, GET_STATE, SUBSCRIBE, …).
    ///
    /// - Parameter type: The call type.
    public init(_ type: TypeEnum) {
        self.init()
        self.type = type
    }

    /// GET_HEALTH.
    public static func getHealth() -> MasterCall { MasterCall(.getHealth) }
    /// GET_FLAGS.
    public static func getFlags() -> MasterCall { MasterCall(.getFlags) }
    /// GET_VERSION.
    public static func getVersion() -> MasterCall { MasterCall(.getVersion) }
    /// GET_LOGGING_LEVEL.
    public static func getLoggingLevel() -> MasterCall { MasterCall(.getLoggingLevel) }
    /// GET_STATE.
    public static func getState() -> MasterCall { MasterCall(.getState) }
    /// GET_AGENTS.
    public static func getAgents() -> MasterCall { MasterCall(.getAgents) }
    /// GET_FRAMEWORKS.
    public static func getFrameworks() -> MasterCall { MasterCall(.getFrameworks) }
    /// GET_EXECUTORS.
    public static func getExecutors() -> MasterCall { MasterCall(.getExecutors) }
    /// GET_OPERATIONS.
    public static func getOperations() -> MasterCall { MasterCall(.getOperations) }
    /// GET_TASKS.
    public static func getTasks() -> MasterCall { MasterCall(.getTasks) }
    /// GET_ROLES.
    public static func getRoles() -> MasterCall { MasterCall(.getRoles) }
    /// GET_WEIGHTS.
    public static func getWeights() -> MasterCall { MasterCall(.getWeights) }
    /// GET_MASTER.
    public static func getMaster() -> MasterCall { MasterCall(.getMaster) }
    /// SUBSCRIBE (the operator event stream).
    public static func subscribe() -> MasterCall { MasterCall(.subscribe) }
    /// GET_MAINTENANCE_STATUS.
    public static func getMaintenanceStatus() -> MasterCall { MasterCall(.getMaintenanceStatus) }
    /// GET_MAINTENANCE_SCHEDULE.
    public static func getMaintenanceSchedule() -> MasterCall { MasterCall(.getMaintenanceSchedule) }
    /// GET_QUOTA.
    public static func getQuota() -> MasterCall { MasterCall(.getQuota) }

    /// GET_METRICS; the `get_metrics` sub-message is always present.
    ///
    /// - Parameter timeout: How long the master may wait for slow metrics (absent ones are left out), or `nil`.
    public static func getMetrics(timeout: Duration? = nil) -> MasterCall {
        var call = MasterCall(.getMetrics)
        call.getMetrics = GetMetrics()
        if let timeout {
            call.getMetrics.timeout = DurationInfo(duration: timeout)
        }
        return call
    }

    /// SET_LOGGING_LEVEL: glog verbosity `level` for `duration`, then back to the original level.
    public static func setLoggingLevel(_ level: UInt32, for duration: Duration) -> MasterCall {
        var call = MasterCall(.setLoggingLevel)
        call.setLoggingLevel.level = level
        call.setLoggingLevel.duration = DurationInfo(duration: duration)
        return call
    }

    /// LIST_FILES of a virtual path (e.g. `/master/log`).
    public static func listFiles(path: String) -> MasterCall {
        var call = MasterCall(.listFiles)
        call.listFiles.path = path
        return call
    }

    /// READ_FILE: `length` bytes (or up to the server's cap when `nil`) from byte `offset`.
    public static func readFile(path: String, offset: UInt64, length: UInt64? = nil) -> MasterCall {
        var call = MasterCall(.readFile)
        call.readFile.path = path
        call.readFile.offset = offset
        if let length {
            call.readFile.length = length
        }
        return call
    }

    /// UPDATE_WEIGHTS.
    public static func updateWeights(_ weights: [WeightInfo]) -> MasterCall {
        var call = MasterCall(.updateWeights)
        call.updateWeights.weightInfos = weights
        return call
    }

    /// RESERVE_RESOURCES on one agent; `source` names what a re-reservation starts from.
    public static func reserveResources(agentID: AgentID, resources: [Resource], source: [Resource] = []) -> MasterCall {
        var call = MasterCall(.reserveResources)
        call.reserveResources.agentID = agentID
        call.reserveResources.resources = resources
        call.reserveResources.source = source
        return call
    }

    /// UNRESERVE_RESOURCES on one agent.
    public static func unreserveResources(agentID: AgentID, resources: [Resource]) -> MasterCall {
        var call = MasterCall(.unreserveResources)
        call.unreserveResources.agentID = agentID
        call.unreserveResources.resources = resources
        return call
    }

    /// CREATE_VOLUMES on one agent.
    public static func createVolumes(agentID: AgentID, volumes: [Resource]) -> MasterCall {
        var call = MasterCall(.createVolumes)
        call.createVolumes.agentID = agentID
        call.createVolumes.volumes = volumes
        return call
    }

    /// DESTROY_VOLUMES on one agent.
    public static func destroyVolumes(agentID: AgentID, volumes: [Resource]) -> MasterCall {
        var call = MasterCall(.destroyVolumes)
        call.destroyVolumes.agentID = agentID
        call.destroyVolumes.volumes = volumes
        return call
    }

    /// GROW_VOLUME: adds `addition` (disk) to `volume`.
    public static func growVolume(agentID: AgentID, volume: Resource, addition: Resource) -> MasterCall {
        var call = MasterCall(.growVolume)
        call.growVolume.agentID = agentID
        call.growVolume.volume = volume
        call.growVolume.addition = addition
        return call
    }

    /// SHRINK_VOLUME: takes `subtract` (megabytes) away from `volume`.
    public static func shrinkVolume(agentID: AgentID, volume: Resource, subtract: Double) -> MasterCall {
        var call = MasterCall(.shrinkVolume)
        call.shrinkVolume.agentID = agentID
        call.shrinkVolume.volume = volume
        call.shrinkVolume.subtract.value = subtract
        return call
    }

    /// UPDATE_MAINTENANCE_SCHEDULE: replaces the whole schedule (an empty one clears it).
    public static func updateMaintenanceSchedule(_ schedule: MaintenanceSchedule) -> MasterCall {
        var call = MasterCall(.updateMaintenanceSchedule)
        call.updateMaintenanceSchedule.schedule = schedule
        return call
    }

    /// START_MAINTENANCE: the machines go down.
    public static func startMaintenance(machines: [MachineID]) -> MasterCall {
        var call = MasterCall(.startMaintenance)
        call.startMaintenance.machines = machines
        return call
    }

    /// STOP_MAINTENANCE: the machines come back up.
    public static func stopMaintenance(machines: [MachineID]) -> MasterCall {
        var call = MasterCall(.stopMaintenance)
        call.stopMaintenance.machines = machines
        return call
    }

    /// DRAIN_AGENT.
    ///
    /// - Parameters:
    ///   - agentID: The agent.
    ///   - maxGracePeriod: The longest any task gets to finish, or `nil` for each task's own kill policy.
    ///   - markGone: Whether to mark the agent gone once drained.
    public static func drainAgent(_ agentID: AgentID, maxGracePeriod: Duration? = nil, markGone: Bool = false) -> MasterCall {
        var call = MasterCall(.drainAgent)
        call.drainAgent.agentID = agentID
        if let maxGracePeriod {
            let (seconds, attoseconds) = maxGracePeriod.components
            call.drainAgent.maxGracePeriod = Google_Protobuf_Duration(
                seconds: seconds, nanos: Int32(clamping: attoseconds / 1_000_000_000))
        }
        if markGone {
            call.drainAgent.markGone = true
        }
        return call
    }

    /// DEACTIVATE_AGENT: the master stops offering the agent's resources.
    public static func deactivateAgent(_ agentID: AgentID) -> MasterCall {
        var call = MasterCall(.deactivateAgent)
        call.deactivateAgent.agentID = agentID
        return call
    }

    /// REACTIVATE_AGENT.
    public static func reactivateAgent(_ agentID: AgentID) -> MasterCall {
        var call = MasterCall(.reactivateAgent)
        call.reactivateAgent.agentID = agentID
        return call
    }

    /// UPDATE_QUOTA: sets each role's quota; a config with no guarantees and no limits removes the role's quota.
    ///
    /// - Parameters:
    ///   - configs: The roles' quotas.
    ///   - force: Skip the master's capacity check.
    public static func updateQuota(_ configs: [QuotaConfig], force: Bool = false) -> MasterCall {
        var call = MasterCall(.updateQuota)
        call.updateQuota.quotaConfigs = configs
        if force {
            call.updateQuota.force = true
        }
        return call
    }

    /// SET_QUOTA (deprecated in Mesos; prefer ``updateQuota(_:force:)``).
    public static func setQuota(role: String, guarantee: [Resource], force: Bool = false) -> MasterCall {
        var call = MasterCall(.setQuota)
        call.setQuota.quotaRequest.role = role
        call.setQuota.quotaRequest.guarantee = guarantee
        if force {
            call.setQuota.quotaRequest.force = true
        }
        return call
    }

    /// REMOVE_QUOTA (deprecated in Mesos; prefer ``updateQuota(_:force:)`` with an empty config).
    public static func removeQuota(role: String) -> MasterCall {
        var call = MasterCall(.removeQuota)
        call.removeQuota.role = role
        return call
    }

    /// TEARDOWN of a framework: all its tasks are killed and it is removed.
    public static func teardown(frameworkID: FrameworkID) -> MasterCall {
        var call = MasterCall(.teardown)
        call.teardown.frameworkID = frameworkID
        return call
    }

    /// MARK_AGENT_GONE: the agent never comes back; its tasks become TASK_GONE_BY_OPERATOR.
    public static func markAgentGone(_ agentID: AgentID) -> MasterCall {
        var call = MasterCall(.markAgentGone)
        call.markAgentGone.agentID = agentID
        return call
    }

    /// Whether the call only reads (so that a lost connection may be retried).
    public var isReadOnly: Bool {
        switch self.type {
        case .getHealth, .getFlags, .getVersion, .getMetrics, .getLoggingLevel, .listFiles, .readFile, .getState,
            .getAgents, .getFrameworks, .getExecutors, .getOperations, .getTasks, .getRoles, .getWeights, .getMaster,
            .subscribe, .getMaintenanceStatus, .getMaintenanceSchedule, .getQuota:
            return true
        default:
            return false
        }
    }

    /// Checks what Mesos requires of the call, before it is sent.
    ///
    /// - Throws: ``MesosError/Code/invalidCall`` naming the missing field.
    public func validate() throws(MesosError) {
        func require(_ condition: Bool, _ what: String) throws(MesosError) {
            guard condition else {
                throw MesosError(code: .invalidCall, message: "\(Self.name(of: self.type)) needs \(what)")
            }
        }
        switch self.type {
        case .unknown:
            throw MesosError(code: .invalidCall, message: "A master call needs a type")
        case .getMetrics:
            try require(self.hasGetMetrics, "get_metrics")
        case .setLoggingLevel:
            try require(self.setLoggingLevel.hasLevel && self.setLoggingLevel.hasDuration, "a level and a duration")
        case .listFiles:
            try require(!self.listFiles.path.isEmpty, "a path")
        case .readFile:
            try require(!self.readFile.path.isEmpty && self.readFile.hasOffset, "a path and an offset")
        case .updateWeights:
            try require(self.hasUpdateWeights, "update_weights")
        case .reserveResources:
            try require(!self.reserveResources.agentID.value.isEmpty, "an agent id")
        case .unreserveResources:
            try require(!self.unreserveResources.agentID.value.isEmpty, "an agent id")
        case .createVolumes:
            try require(!self.createVolumes.agentID.value.isEmpty, "an agent id")
        case .destroyVolumes:
            try require(!self.destroyVolumes.agentID.value.isEmpty, "an agent id")
        case .growVolume:
            try require(!self.growVolume.agentID.value.isEmpty, "an agent id")
            try require(self.growVolume.hasVolume && self.growVolume.hasAddition, "a volume and an addition")
        case .shrinkVolume:
            try require(!self.shrinkVolume.agentID.value.isEmpty, "an agent id")
            try require(self.shrinkVolume.hasVolume && self.shrinkVolume.hasSubtract, "a volume and a subtract")
        case .updateMaintenanceSchedule:
            try require(self.hasUpdateMaintenanceSchedule, "a schedule")
        case .startMaintenance:
            try require(self.hasStartMaintenance, "start_maintenance")
        case .stopMaintenance:
            try require(self.hasStopMaintenance, "stop_maintenance")
        case .drainAgent:
            try require(!self.drainAgent.agentID.value.isEmpty, "an agent id")
            if self.drainAgent.hasMaxGracePeriod {
                let period = self.drainAgent.maxGracePeriod
                try require(period.seconds >= 0 && period.nanos >= 0, "a non-negative max_grace_period")
            }
        case .deactivateAgent:
            try require(!self.deactivateAgent.agentID.value.isEmpty, "an agent id")
        case .reactivateAgent:
            try require(!self.reactivateAgent.agentID.value.isEmpty, "an agent id")
        case .updateQuota:
            try require(self.hasUpdateQuota, "update_quota")
            try require(self.updateQuota.quotaConfigs.allSatisfy { !$0.role.isEmpty }, "a role in every quota config")
        case .setQuota:
            try require(!self.setQuota.quotaRequest.role.isEmpty, "a role")
        case .removeQuota:
            try require(!self.removeQuota.role.isEmpty, "a role")
        case .teardown:
            try require(!self.teardown.frameworkID.value.isEmpty, "a framework id")
        case .markAgentGone:
            try require(!self.markAgentGone.agentID.value.isEmpty, "an agent id")
        default:
            break
        }
    }

    /// The Mesos name of a call type (`GET_HEALTH`).
    static func name(of type: TypeEnum) -> String {
        mesosEnumName(type)
    }
}

/// The Mesos spelling of a generated enum case: `getHealth` → `GET_HEALTH`.
func mesosEnumName(_ value: some Any) -> String {
    var name = ""
    for character in String(describing: value) {
        if character.isUppercase, !name.isEmpty {
            name.append("_")
        }
        name.append(contentsOf: character.uppercased())
    }
    return name
}

extension DurationInfo {
    /// Builds a `DurationInfo` of `duration`, in whole nanoseconds (saturating).
    init(duration: Duration) {
        self.init()
        self.nanoseconds = duration.inNanoseconds
    }
}
