#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Builders for every scheduler call type.
///
/// Each builder sets `type` and the matching sub-message. `frameworkID` is optional on the builders: a
/// scheduler service fills it in from the live subscription when it sends the call. Build, then check with
/// ``SchedulerCall/validate()`` (the service does that too).
///
/// ```swift
/// let call = SchedulerCall.decline(offerIDs: [offer.id], filters: .refuse(seconds: 120))
/// ```
extension SchedulerCall {
    private init(_ type: TypeEnum, frameworkID: FrameworkID?) {
        self.init()
        self.type = type
        if let frameworkID {
            self.frameworkID = frameworkID
        }
    }

    /// SUBSCRIBE: register a new framework, or fail over to an existing one when `frameworkInfo.id` is set
    /// (then `framework_id` is set to the same id, as Mesos requires).
    ///
    /// - Parameters:
    ///   - frameworkInfo: The framework's description; set `user` and `name`.
    ///   - suppressedRoles: Roles whose offers stay suppressed; Mesos forgets suppression on re-subscription.
    ///   - offerConstraints: Attribute constraints the master applies to offers (Mesos 1.11+).
    public static func subscribe(
        frameworkInfo: FrameworkInfo,
        suppressedRoles: [String] = [],
        offerConstraints: OfferConstraints? = nil
    ) -> SchedulerCall {
        var call = SchedulerCall(.subscribe, frameworkID: frameworkInfo.hasID ? frameworkInfo.id : nil)
        call.subscribe.frameworkInfo = frameworkInfo
        call.subscribe.suppressedRoles = suppressedRoles
        if let offerConstraints {
            call.subscribe.offerConstraints = offerConstraints
        }
        return call
    }

    /// TEARDOWN: remove the framework and kill all its tasks. Cannot be undone.
    public static func teardown(frameworkID: FrameworkID? = nil) -> SchedulerCall {
        SchedulerCall(.teardown, frameworkID: frameworkID)
    }

    /// ACCEPT: use offers (all from one agent) for these operations; unused resources are declined.
    ///
    /// - Parameters:
    ///   - offerIDs: The offers, each usable in one ACCEPT only.
    ///   - operations: What to do with the resources.
    ///   - filters: How long to refuse the unused remainder (Mesos's default is 5 s).
    ///   - frameworkID: The framework, or `nil` to let the service fill it in.
    public static func accept(
        offerIDs: [OfferID],
        operations: [OfferOperation],
        filters: Filters? = nil,
        frameworkID: FrameworkID? = nil
    ) -> SchedulerCall {
        var call = SchedulerCall(.accept, frameworkID: frameworkID)
        call.accept.offerIds = offerIDs
        call.accept.operations = operations
        if let filters { call.accept.filters = filters }
        return call
    }

    /// DECLINE: refuse offers for `filters.refuse_seconds` (default 5 s).
    public static func decline(
        offerIDs: [OfferID],
        filters: Filters? = nil,
        frameworkID: FrameworkID? = nil
    ) -> SchedulerCall {
        var call = SchedulerCall(.decline, frameworkID: frameworkID)
        call.decline.offerIds = offerIDs
        if let filters { call.decline.filters = filters }
        return call
    }

    /// ACCEPT_INVERSE_OFFERS: agree to give the resources back for maintenance.
    public static func acceptInverseOffers(
        inverseOfferIDs: [OfferID],
        filters: Filters? = nil,
        frameworkID: FrameworkID? = nil
    ) -> SchedulerCall {
        var call = SchedulerCall(.acceptInverseOffers, frameworkID: frameworkID)
        call.acceptInverseOffers.inverseOfferIds = inverseOfferIDs
        if let filters { call.acceptInverseOffers.filters = filters }
        return call
    }

    /// DECLINE_INVERSE_OFFERS: refuse to give the resources back.
    public static func declineInverseOffers(
        inverseOfferIDs: [OfferID],
        filters: Filters? = nil,
        frameworkID: FrameworkID? = nil
    ) -> SchedulerCall {
        var call = SchedulerCall(.declineInverseOffers, frameworkID: frameworkID)
        call.declineInverseOffers.inverseOfferIds = inverseOfferIDs
        if let filters { call.declineInverseOffers.filters = filters }
        return call
    }

    /// REVIVE: resume offers for these roles (all roles when empty) and clear their offer filters.
    public static func revive(roles: [String] = [], frameworkID: FrameworkID? = nil) -> SchedulerCall {
        var call = SchedulerCall(.revive, frameworkID: frameworkID)
        call.revive.roles = roles
        return call
    }

    /// SUPPRESS: stop offers for these roles (all roles when empty).
    public static func suppress(roles: [String] = [], frameworkID: FrameworkID? = nil) -> SchedulerCall {
        var call = SchedulerCall(.suppress, frameworkID: frameworkID)
        call.suppress.roles = roles
        return call
    }

    /// KILL: kill a task, optionally overriding its kill policy.
    public static func kill(
        taskID: TaskID,
        agentID: AgentID? = nil,
        killPolicy: KillPolicy? = nil,
        frameworkID: FrameworkID? = nil
    ) -> SchedulerCall {
        var call = SchedulerCall(.kill, frameworkID: frameworkID)
        call.kill.taskID = taskID
        if let agentID { call.kill.agentID = agentID }
        if let killPolicy { call.kill.killPolicy = killPolicy }
        return call
    }

    /// SHUTDOWN: stop an executor and all its tasks.
    public static func shutdown(
        executorID: ExecutorID,
        agentID: AgentID,
        frameworkID: FrameworkID? = nil
    ) -> SchedulerCall {
        var call = SchedulerCall(.shutdown, frameworkID: frameworkID)
        call.shutdown.executorID = executorID
        call.shutdown.agentID = agentID
        return call
    }

    /// ACKNOWLEDGE: confirm a status update, echoing its uuid (16 bytes).
    public static func acknowledge(
        agentID: AgentID,
        taskID: TaskID,
        uuid: Data,
        frameworkID: FrameworkID? = nil
    ) -> SchedulerCall {
        var call = SchedulerCall(.acknowledge, frameworkID: frameworkID)
        call.acknowledge.agentID = agentID
        call.acknowledge.taskID = taskID
        call.acknowledge.uuid = uuid
        return call
    }

    /// ACKNOWLEDGE for a received status update.
    ///
    /// - Parameter status: The update's status, which must carry a uuid (``TaskStatus/needsAcknowledgement``).
    /// - Throws: ``MesosError/Code/invalidCall`` if the update must not be acknowledged.
    public static func acknowledge(
        _ status: TaskStatus,
        frameworkID: FrameworkID? = nil
    ) throws(MesosError) -> SchedulerCall {
        guard status.needsAcknowledgement else {
            throw MesosError(
                code: .invalidCall,
                message: "The update for task \(status.taskID.value) has no uuid and must not be acknowledged"
            )
        }
        return .acknowledge(agentID: status.agentID, taskID: status.taskID, uuid: status.uuid, frameworkID: frameworkID)
    }

    /// ACKNOWLEDGE_OPERATION_STATUS: confirm an operation status update.
    public static func acknowledgeOperationStatus(
        operationID: OperationID,
        uuid: Data,
        agentID: AgentID?,
        resourceProviderID: ResourceProviderID? = nil,
        frameworkID: FrameworkID? = nil
    ) -> SchedulerCall {
        var call = SchedulerCall(.acknowledgeOperationStatus, frameworkID: frameworkID)
        call.acknowledgeOperationStatus.operationID = operationID
        call.acknowledgeOperationStatus.uuid = uuid
        if let agentID { call.acknowledgeOperationStatus.agentID = agentID }
        if let resourceProviderID { call.acknowledgeOperationStatus.resourceProviderID = resourceProviderID }
        return call
    }

    /// ACKNOWLEDGE_OPERATION_STATUS for a received operation status.
    ///
    /// - Throws: ``MesosError/Code/invalidCall`` if the status carries no uuid or operation id.
    public static func acknowledge(
        _ status: OperationStatus,
        frameworkID: FrameworkID? = nil
    ) throws(MesosError) -> SchedulerCall {
        guard status.needsAcknowledgement, status.hasOperationID else {
            throw MesosError(code: .invalidCall, message: "The operation status has no uuid or operation id")
        }
        return .acknowledgeOperationStatus(
            operationID: status.operationID,
            uuid: status.uuid.value,
            agentID: status.hasAgentID ? status.agentID : nil,
            resourceProviderID: status.hasResourceProviderID ? status.resourceProviderID : nil,
            frameworkID: frameworkID
        )
    }

    /// RECONCILE: ask for the latest state of these tasks (explicit), or of all known tasks when `tasks` is
    /// empty (implicit).
    ///
    /// - Parameter tasks: Task ids with their agent ids when known.
    public static func reconcile(
        tasks: [(taskID: TaskID, agentID: AgentID?)] = [],
        frameworkID: FrameworkID? = nil
    ) -> SchedulerCall {
        var call = SchedulerCall(.reconcile, frameworkID: frameworkID)
        // Setting the sub-message makes it present even when empty, as implicit reconciliation requires.
        call.reconcile = .init()
        call.reconcile.tasks = tasks.map { task in
            var entry = SchedulerCall.Reconcile.Task()
            entry.taskID = task.taskID
            if let agentID = task.agentID { entry.agentID = agentID }
            return entry
        }
        return call
    }

    /// RECONCILE_OPERATIONS: ask for the latest state of these operations (all when empty).
    public static func reconcileOperations(
        operations: [(operationID: OperationID, agentID: AgentID?, resourceProviderID: ResourceProviderID?)] = [],
        frameworkID: FrameworkID? = nil
    ) -> SchedulerCall {
        var call = SchedulerCall(.reconcileOperations, frameworkID: frameworkID)
        call.reconcileOperations = .init()
        call.reconcileOperations.operations = operations.map { operation in
            var entry = SchedulerCall.ReconcileOperations.Operation()
            entry.operationID = operation.operationID
            if let agentID = operation.agentID { entry.agentID = agentID }
            if let provider = operation.resourceProviderID { entry.resourceProviderID = provider }
            return entry
        }
        return call
    }

    /// MESSAGE: send bytes to an executor.
    public static func message(
        agentID: AgentID,
        executorID: ExecutorID,
        data: Data,
        frameworkID: FrameworkID? = nil
    ) -> SchedulerCall {
        var call = SchedulerCall(.message, frameworkID: frameworkID)
        call.message.agentID = agentID
        call.message.executorID = executorID
        call.message.data = data
        return call
    }

    /// REQUEST: ask the allocator for resources (the built-in allocator ignores it).
    public static func request(_ requests: [ResourceRequest], frameworkID: FrameworkID? = nil) -> SchedulerCall {
        var call = SchedulerCall(.request, frameworkID: frameworkID)
        call.request = .init()
        call.request.requests = requests
        return call
    }

    /// UPDATE_FRAMEWORK: change the framework's roles, capabilities, name, … without re-subscribing.
    /// `frameworkInfo.id` must be set and equal the framework id.
    public static func updateFramework(
        frameworkInfo: FrameworkInfo,
        suppressedRoles: [String] = [],
        offerConstraints: OfferConstraints? = nil
    ) -> SchedulerCall {
        var call = SchedulerCall(.updateFramework, frameworkID: frameworkInfo.hasID ? frameworkInfo.id : nil)
        call.updateFramework.frameworkInfo = frameworkInfo
        call.updateFramework.suppressedRoles = suppressedRoles
        if let offerConstraints { call.updateFramework.offerConstraints = offerConstraints }
        return call
    }
}

extension OfferOperation {
    private init(_ type: TypeEnum, id: OperationID?) {
        self.init()
        self.type = type
        if let id { self.id = id }
    }

    /// LAUNCH: start tasks, each with a command or an executor.
    public static func launch(_ tasks: [TaskInfo]) -> OfferOperation {
        var operation = OfferOperation(.launch, id: nil)
        operation.launch.taskInfos = tasks
        return operation
    }

    /// LAUNCH_GROUP: start a group of tasks together in one executor.
    public static func launchGroup(executor: ExecutorInfo, tasks: [TaskInfo]) -> OfferOperation {
        var operation = OfferOperation(.launchGroup, id: nil)
        operation.launchGroup.executor = executor
        operation.launchGroup.taskGroup.tasks = tasks
        return operation
    }

    /// RESERVE: dynamically reserve resources (with `source` for reservation refinement).
    public static func reserve(_ resources: [Resource], source: [Resource] = [], id: OperationID? = nil) -> OfferOperation {
        var operation = OfferOperation(.reserve, id: id)
        operation.reserve.resources = resources
        operation.reserve.source = source
        return operation
    }

    /// UNRESERVE: release dynamically reserved resources.
    public static func unreserve(_ resources: [Resource], id: OperationID? = nil) -> OfferOperation {
        var operation = OfferOperation(.unreserve, id: id)
        operation.unreserve.resources = resources
        return operation
    }

    /// CREATE: create persistent volumes.
    public static func create(volumes: [Resource], id: OperationID? = nil) -> OfferOperation {
        var operation = OfferOperation(.create, id: id)
        operation.create.volumes = volumes
        return operation
    }

    /// DESTROY: destroy persistent volumes.
    public static func destroy(volumes: [Resource], id: OperationID? = nil) -> OfferOperation {
        var operation = OfferOperation(.destroy, id: id)
        operation.destroy.volumes = volumes
        return operation
    }

    /// GROW_VOLUME: add disk space to a persistent volume.
    public static func growVolume(_ volume: Resource, addition: Resource, id: OperationID? = nil) -> OfferOperation {
        var operation = OfferOperation(.growVolume, id: id)
        operation.growVolume.volume = volume
        operation.growVolume.addition = addition
        return operation
    }

    /// SHRINK_VOLUME: remove disk space (in MB) from a persistent volume.
    public static func shrinkVolume(_ volume: Resource, subtract megabytes: Double, id: OperationID? = nil) -> OfferOperation {
        var operation = OfferOperation(.shrinkVolume, id: id)
        operation.shrinkVolume.volume = volume
        operation.shrinkVolume.subtract.value = megabytes
        return operation
    }

    /// CREATE_DISK: turn a RAW disk resource into a MOUNT or BLOCK disk.
    public static func createDisk(
        source: Resource,
        targetType: Resource.DiskInfo.Source.TypeEnum,
        targetProfile: String? = nil,
        id: OperationID? = nil
    ) -> OfferOperation {
        var operation = OfferOperation(.createDisk, id: id)
        operation.createDisk.source = source
        operation.createDisk.targetType = targetType
        if let targetProfile { operation.createDisk.targetProfile = targetProfile }
        return operation
    }

    /// DESTROY_DISK: turn a MOUNT or BLOCK disk back into a RAW disk.
    public static func destroyDisk(source: Resource, id: OperationID? = nil) -> OfferOperation {
        var operation = OfferOperation(.destroyDisk, id: id)
        operation.destroyDisk.source = source
        return operation
    }
}

extension Filters {
    /// Filters that refuse the declined resources for `seconds` (Mesos caps it at 365 days).
    public static func refuse(seconds: Double) -> Filters {
        var filters = Filters()
        filters.refuseSeconds = seconds
        return filters
    }
}

extension Resource {
    /// A scalar resource such as `cpus` or `mem` (MB).
    ///
    /// - Parameters:
    ///   - name: The resource name.
    ///   - value: The amount.
    ///   - role: The role it is allocated to, when the framework has several.
    public static func scalar(_ name: String, _ value: Double, role: String? = nil) -> Resource {
        var resource = Resource()
        resource.name = name
        resource.type = .scalar
        resource.scalar.value = value
        if let role { resource.allocationInfo.role = role }
        return resource
    }

    /// A ranges resource such as `ports`.
    public static func ranges(_ name: String, _ ranges: [ClosedRange<UInt64>], role: String? = nil) -> Resource {
        var resource = Resource()
        resource.name = name
        resource.type = .ranges
        resource.ranges.range = ranges.map { range in
            var value = Value.Range()
            value.begin = range.lowerBound
            value.end = range.upperBound
            return value
        }
        if let role { resource.allocationInfo.role = role }
        return resource
    }

    /// A set resource.
    public static func set(_ name: String, _ items: [String], role: String? = nil) -> Resource {
        var resource = Resource()
        resource.name = name
        resource.type = .set
        resource.set.item = items
        if let role { resource.allocationInfo.role = role }
        return resource
    }
}

// Identifier conveniences: `TaskID("web-1")`.

extension FrameworkID {
    /// Creates an id with this value.
    public init(_ value: String) { self.init(); self.value = value }
}

extension OfferID {
    /// Creates an id with this value.
    public init(_ value: String) { self.init(); self.value = value }
}

extension AgentID {
    /// Creates an id with this value.
    public init(_ value: String) { self.init(); self.value = value }
}

extension TaskID {
    /// Creates an id with this value.
    public init(_ value: String) { self.init(); self.value = value }
}

extension ExecutorID {
    /// Creates an id with this value.
    public init(_ value: String) { self.init(); self.value = value }
}

extension OperationID {
    /// Creates an id with this value.
    public init(_ value: String) { self.init(); self.value = value }
}

extension ResourceProviderID {
    /// Creates an id with this value.
    public init(_ value: String) { self.init(); self.value = value }
}

extension SchedulerCall.TypeEnum {
    /// The name Mesos uses for this call type (`ACKNOWLEDGE`, `UPDATE_FRAMEWORK`, …), for logs and metrics.
    public var wireName: String {
        switch self {
        case .unknown: return "UNKNOWN"
        case .subscribe: return "SUBSCRIBE"
        case .teardown: return "TEARDOWN"
        case .accept: return "ACCEPT"
        case .decline: return "DECLINE"
        case .acceptInverseOffers: return "ACCEPT_INVERSE_OFFERS"
        case .declineInverseOffers: return "DECLINE_INVERSE_OFFERS"
        case .revive: return "REVIVE"
        case .kill: return "KILL"
        case .shutdown: return "SHUTDOWN"
        case .acknowledge: return "ACKNOWLEDGE"
        case .acknowledgeOperationStatus: return "ACKNOWLEDGE_OPERATION_STATUS"
        case .reconcile: return "RECONCILE"
        case .reconcileOperations: return "RECONCILE_OPERATIONS"
        case .message: return "MESSAGE"
        case .request: return "REQUEST"
        case .suppress: return "SUPPRESS"
        case .updateFramework: return "UPDATE_FRAMEWORK"
        }
    }
}
