#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Client-side validation of calls, mirroring the checks the master makes before it answers 400.
///
/// The wire schema declares no field `required` (so that decoding is lenient); this is where the fields Mesos
/// requires are enforced, with a message naming the missing field instead of the master's generic 400.
extension SchedulerCall {
    /// Checks the call the way the master will.
    ///
    /// - Throws: ``MesosError/Code/invalidCall`` naming the first problem found.
    public func validate() throws(MesosError) {
        func fail(_ message: String) -> MesosError {
            MesosError(code: .invalidCall, message: "Invalid \(self.type) call: \(message)")
        }
        func requireID(_ present: Bool, _ value: String, _ name: String) throws(MesosError) {
            guard present, !value.isEmpty else { throw fail("\(name) is required") }
        }

        if self.type == .unknown {
            throw fail("type is required")
        }
        if self.type != .subscribe {
            try requireID(self.hasFrameworkID, self.frameworkID.value, "framework_id")
        }

        switch self.type {
        case .unknown:
            break
        case .subscribe:
            guard self.hasSubscribe else { throw fail("subscribe is required") }
            let info = self.subscribe.frameworkInfo
            try Self.validate(frameworkInfo: info, fail)
            if info.hasID || self.hasFrameworkID {
                guard self.frameworkID == info.id else {
                    throw fail("framework_id must equal subscribe.framework_info.id when re-subscribing")
                }
            }
            let roles = Set(info.roles)
            for role in self.subscribe.suppressedRoles where !roles.contains(role) && role != info.role {
                throw fail("suppressed role '\(role)' is not one of the framework's roles")
            }
        case .teardown, .revive, .suppress:
            break
        case .accept:
            guard self.hasAccept else { throw fail("accept is required") }
            guard !self.accept.offerIds.isEmpty else { throw fail("accept.offer_ids must not be empty") }
            for operation in self.accept.operations {
                try Self.validate(operation: operation, fail)
            }
        case .decline:
            guard self.hasDecline else { throw fail("decline is required") }
            guard !self.decline.offerIds.isEmpty else { throw fail("decline.offer_ids must not be empty") }
        case .acceptInverseOffers:
            guard self.hasAcceptInverseOffers else { throw fail("accept_inverse_offers is required") }
        case .declineInverseOffers:
            guard self.hasDeclineInverseOffers else { throw fail("decline_inverse_offers is required") }
        case .kill:
            guard self.hasKill else { throw fail("kill is required") }
            try requireID(self.kill.hasTaskID, self.kill.taskID.value, "kill.task_id")
        case .shutdown:
            guard self.hasShutdown else { throw fail("shutdown is required") }
            try requireID(self.shutdown.hasExecutorID, self.shutdown.executorID.value, "shutdown.executor_id")
            try requireID(self.shutdown.hasAgentID, self.shutdown.agentID.value, "shutdown.agent_id")
        case .acknowledge:
            guard self.hasAcknowledge else { throw fail("acknowledge is required") }
            try requireID(self.acknowledge.hasAgentID, self.acknowledge.agentID.value, "acknowledge.agent_id")
            try requireID(self.acknowledge.hasTaskID, self.acknowledge.taskID.value, "acknowledge.task_id")
            if let problem = Self.uuidProblem(self.acknowledge.uuid) {
                throw fail("acknowledge.uuid \(problem)")
            }
        case .acknowledgeOperationStatus:
            guard self.hasAcknowledgeOperationStatus else { throw fail("acknowledge_operation_status is required") }
            let ack = self.acknowledgeOperationStatus
            try requireID(ack.hasAgentID, ack.agentID.value, "acknowledge_operation_status.agent_id")
            try requireID(ack.hasOperationID, ack.operationID.value, "acknowledge_operation_status.operation_id")
            if let problem = Self.uuidProblem(ack.uuid) {
                throw fail("acknowledge_operation_status.uuid \(problem)")
            }
        case .reconcile:
            guard self.hasReconcile else { throw fail("reconcile is required (empty for implicit reconciliation)") }
            for task in self.reconcile.tasks {
                try requireID(task.hasTaskID, task.taskID.value, "reconcile.tasks.task_id")
            }
        case .reconcileOperations:
            guard self.hasReconcileOperations else { throw fail("reconcile_operations is required") }
            for operation in self.reconcileOperations.operations {
                try requireID(operation.hasOperationID, operation.operationID.value, "reconcile_operations.operation_id")
            }
        case .message:
            guard self.hasMessage else { throw fail("message is required") }
            try requireID(self.message.hasAgentID, self.message.agentID.value, "message.agent_id")
            try requireID(self.message.hasExecutorID, self.message.executorID.value, "message.executor_id")
            guard self.message.hasData else { throw fail("message.data is required") }
        case .request:
            guard self.hasRequest else { throw fail("request is required") }
        case .updateFramework:
            guard self.hasUpdateFramework else { throw fail("update_framework is required") }
            let info = self.updateFramework.frameworkInfo
            try Self.validate(frameworkInfo: info, fail)
            guard info.hasID, info.id == self.frameworkID else {
                throw fail("update_framework.framework_info.id must equal framework_id")
            }
        }
    }

    private static func validate(
        frameworkInfo info: FrameworkInfo,
        _ fail: (String) -> MesosError
    ) throws(MesosError) {
        guard info.hasUser, !info.user.isEmpty else { throw fail("framework_info.user is required") }
        guard info.hasName, !info.name.isEmpty else { throw fail("framework_info.name is required") }
        guard Set(info.roles).count == info.roles.count else { throw fail("framework_info.roles has duplicates") }
        let multiRole = info.capabilities.contains { $0.type == .multiRole }
        if !info.roles.isEmpty, !multiRole {
            throw fail("framework_info.roles needs the MULTI_ROLE capability")
        }
        for role in info.roles {
            if let problem = Self.roleProblem(role) { throw fail("role '\(role)': \(problem)") }
        }
    }

    /// Why a role name is invalid under Mesos's rules, or `nil` when it is valid.
    static func roleProblem(_ role: String) -> String? {
        if role == "*" { return nil }
        if role.isEmpty { return "empty" }
        if role.hasPrefix("/") || role.hasSuffix("/") { return "leading or trailing '/'" }
        for component in role.split(separator: "/", omittingEmptySubsequences: false) {
            if component.isEmpty { return "empty component ('//')" }
            if component == "." || component == ".." || component == "*" { return "component '\(component)'" }
            if component.hasPrefix("-") { return "component starts with '-'" }
            if component.contains(where: { $0.isWhitespace || $0 == "\\" || $0.asciiValue.map { $0 < 0x20 } == true }) {
                return "whitespace, control character or backslash"
            }
        }
        return nil
    }

    private static func validate(operation: OfferOperation, _ fail: (String) -> MesosError) throws(MesosError) {
        switch operation.type {
        case .unknown:
            throw fail("an operation has no type")
        case .launch:
            guard !operation.hasID else { throw fail("LAUNCH operations must not carry an operation id") }
            for task in operation.launch.taskInfos {
                try Self.validate(task: task, inGroup: false, fail)
            }
        case .launchGroup:
            guard !operation.hasID else { throw fail("LAUNCH_GROUP operations must not carry an operation id") }
            guard operation.launchGroup.hasExecutor, !operation.launchGroup.executor.executorID.value.isEmpty else {
                throw fail("launch_group.executor.executor_id is required")
            }
            for task in operation.launchGroup.taskGroup.tasks {
                try Self.validate(task: task, inGroup: true, fail)
            }
        case .reserve:
            guard !operation.reserve.resources.isEmpty else { throw fail("reserve.resources must not be empty") }
        case .unreserve:
            guard !operation.unreserve.resources.isEmpty else { throw fail("unreserve.resources must not be empty") }
        case .create:
            guard !operation.create.volumes.isEmpty else { throw fail("create.volumes must not be empty") }
        case .destroy:
            guard !operation.destroy.volumes.isEmpty else { throw fail("destroy.volumes must not be empty") }
        case .growVolume:
            guard operation.growVolume.hasVolume, operation.growVolume.hasAddition else {
                throw fail("grow_volume needs volume and addition")
            }
        case .shrinkVolume:
            guard operation.shrinkVolume.hasVolume, operation.shrinkVolume.hasSubtract else {
                throw fail("shrink_volume needs volume and subtract")
            }
        case .createDisk:
            guard operation.createDisk.hasSource, operation.createDisk.hasTargetType else {
                throw fail("create_disk needs source and target_type")
            }
        case .destroyDisk:
            guard operation.destroyDisk.hasSource else { throw fail("destroy_disk needs source") }
        }
    }

    private static func validate(task: TaskInfo, inGroup: Bool, _ fail: (String) -> MesosError) throws(MesosError) {
        guard task.hasName else { throw fail("task_info.name is required") }
        guard task.hasTaskID, !task.taskID.value.isEmpty else { throw fail("task_info.task_id is required") }
        if let problem = Self.idProblem(task.taskID.value) {
            throw fail("task id '\(task.taskID.value)': \(problem)")
        }
        guard task.hasAgentID, !task.agentID.value.isEmpty else { throw fail("task_info.agent_id is required") }
        if inGroup {
            guard !task.hasExecutor else { throw fail("tasks in a group must not set executor") }
        } else {
            guard task.hasExecutor != task.hasCommand else {
                throw fail("task '\(task.taskID.value)' must set exactly one of command and executor")
            }
        }
    }

    /// Why bytes are not a UUID the master accepts, or `nil`. Mesos wants exactly 16 bytes whose version
    /// nibble (the high half of byte 6) is 1 to 5; anything else gets 400 "Not a valid UUID".
    static func uuidProblem(_ uuid: Data) -> String? {
        guard uuid.count == 16 else { return "must be 16 bytes, not \(uuid.count)" }
        let version = uuid[uuid.startIndex + 6] >> 4
        guard (1...5).contains(version) else { return "is not a valid UUID (version \(version))" }
        return nil
    }

    /// Why a framework-chosen id is invalid under Mesos's rules, or `nil` when it is valid.
    static func idProblem(_ id: String) -> String? {
        if id.isEmpty { return "empty" }
        if id.utf8.count > 255 { return "longer than 255 bytes" }
        if id == "." || id == ".." { return "'.' and '..' are not allowed" }
        if id.contains(where: { $0 == "/" || $0 == "\\" || $0.asciiValue.map { $0 < 0x20 || $0 == 0x7F } == true }) {
            return "contains '/', '\\' or a control character"
        }
        return nil
    }
}
