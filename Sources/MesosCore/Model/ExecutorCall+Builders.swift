#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Builders and client-side validation for executor calls (`mesos.v1.executor.Call`).
///
/// ```swift
/// let call = ExecutorCall.update(status, executorID: executorID, frameworkID: frameworkID)
/// try call.validate()
/// ```
extension ExecutorCall {
    /// A call of `type` from this executor.
    public init(_ type: ExecutorCall.TypeEnum, executorID: ExecutorID, frameworkID: FrameworkID) {
        self.init()
        self.type = type
        self.executorID = executorID
        self.frameworkID = frameworkID
    }

    /// SUBSCRIBE, with what the agent may not have received or persisted yet (both empty on a first
    /// subscription; the `subscribe` sub-message is always present, as the agent requires).
    ///
    /// - Parameters:
    ///   - unacknowledgedTasks: Tasks launched but with no update acknowledged yet.
    ///   - unacknowledgedUpdates: Updates sent but not acknowledged yet, in send order.
    public static func subscribe(
        executorID: ExecutorID,
        frameworkID: FrameworkID,
        unacknowledgedTasks: [TaskInfo] = [],
        unacknowledgedUpdates: [ExecutorCall.Update] = []
    ) -> ExecutorCall {
        var call = ExecutorCall(.subscribe, executorID: executorID, frameworkID: frameworkID)
        call.subscribe = ExecutorCall.Subscribe()
        call.subscribe.unacknowledgedTasks = unacknowledgedTasks
        call.subscribe.unacknowledgedUpdates = unacknowledgedUpdates
        return call
    }

    /// UPDATE: a task status update, sent as given (``TaskStatus/executorUpdate(executorID:agentID:timestamp:)`` fills one).
    public static func update(_ status: TaskStatus, executorID: ExecutorID, frameworkID: FrameworkID) -> ExecutorCall {
        var call = ExecutorCall(.update, executorID: executorID, frameworkID: frameworkID)
        call.update.status = status
        return call
    }

    /// MESSAGE: opaque bytes for the scheduler.
    public static func message(_ data: [UInt8], executorID: ExecutorID, frameworkID: FrameworkID) -> ExecutorCall {
        var call = ExecutorCall(.message, executorID: executorID, frameworkID: frameworkID)
        call.message.data = Data(data)
        return call
    }

    /// HEARTBEAT: keeps the call connection from looking idle.
    public static func heartbeat(executorID: ExecutorID, frameworkID: FrameworkID) -> ExecutorCall {
        ExecutorCall(.heartbeat, executorID: executorID, frameworkID: frameworkID)
    }

    /// Checks the call the way the agent does before it answers 400 (EXECUTOR-OPERATOR.md §1.4.1), and the
    /// nested updates of a SUBSCRIBE too (the agent does not check those, but replays them as UPDATEs).
    ///
    /// - Throws: ``MesosError/Code/invalidCall`` naming the first problem found.
    public func validate() throws(MesosError) {
        func fail(_ message: String) -> MesosError {
            MesosError(code: .invalidCall, message: "Invalid executor \(self.type) call: \(message)")
        }
        guard self.type != .unknown else { throw fail("type is required") }
        guard self.hasExecutorID, !self.executorID.value.isEmpty else { throw fail("executor_id is required") }
        guard self.hasFrameworkID, !self.frameworkID.value.isEmpty else { throw fail("framework_id is required") }
        switch self.type {
        case .subscribe:
            guard self.hasSubscribe else { throw fail("subscribe is required") }
            for update in self.subscribe.unacknowledgedUpdates {
                if let problem = Self.problem(in: update.status, executorID: self.executorID) {
                    throw fail("unacknowledged update: \(problem)")
                }
            }
        case .update:
            guard self.hasUpdate, self.update.hasStatus else { throw fail("update.status is required") }
            if let problem = Self.problem(in: self.update.status, executorID: self.executorID) {
                throw fail(problem)
            }
        case .message:
            guard self.hasMessage, self.message.hasData else { throw fail("message.data is required") }
        default:
            break
        }
    }

    /// What the agent would refuse in an executor's status, or `nil`.
    private static func problem(in status: TaskStatus, executorID: ExecutorID) -> String? {
        guard status.hasTaskID, !status.taskID.value.isEmpty else { return "status.task_id is required" }
        guard status.hasState else { return "status.state is required" }
        guard status.state != .taskStaging else { return "status.state must not be TASK_STAGING" }
        guard status.hasUuid, status.uuid.isValidMesosUUID else {
            return "status.uuid must be 16 bytes of a version 1-5 UUID"
        }
        guard status.source == .executor else { return "status.source must be SOURCE_EXECUTOR" }
        if status.hasExecutorID, status.executorID != executorID {
            return "status.executor_id \(status.executorID.value) is not the call's \(executorID.value)"
        }
        return nil
    }
}

extension TaskStatus {
    /// This status made ready to send as an executor's UPDATE: a fresh random (version 4) uuid, the source
    /// `SOURCE_EXECUTOR`, the executor's id, the agent's id when given (leave it `nil` unless it is exactly the
    /// id of the agent the executor runs on: the agent drops updates naming another agent), and a timestamp when
    /// the status has none.
    ///
    /// - Parameters:
    ///   - executorID: The executor's id.
    ///   - agentID: The agent's id, from SUBSCRIBED, or `nil` to let the agent fill it.
    ///   - timestamp: Seconds since the epoch, used when the status has no timestamp.
    /// - Returns: The status to send.
    public func executorUpdate(executorID: ExecutorID, agentID: AgentID?, timestamp: Double) -> TaskStatus {
        var status = self
        status.uuid = Data.randomMesosUUID()
        status.source = .executor
        status.executorID = executorID
        if let agentID {
            status.agentID = agentID
        } else {
            status.clearAgentID()
        }
        if !status.hasTimestamp {
            status.timestamp = timestamp
        }
        return status
    }
}

extension Data {
    /// 16 random bytes laid out as a version 4, variant 1 UUID (what Mesos accepts as a status uuid).
    public static func randomMesosUUID() -> Data {
        Swift.withUnsafeBytes(of: UUID().uuid) { Data($0) }
    }

    /// `true` for exactly 16 bytes whose version nibble is 1 to 5, as the agent requires of a status uuid.
    public var isValidMesosUUID: Bool {
        guard self.count == 16 else { return false }
        let version = self[self.startIndex + 6] >> 4
        return (1...5).contains(version)
    }
}
