import Foundation
import MesosCore

/// A task or operation status update, as the acknowledgement manager and the commit hook see it.
public enum StatusUpdate: Sendable, Equatable {
    /// UPDATE: a task status.
    case task(TaskStatus)
    /// UPDATE_OPERATION_STATUS: an operation status.
    case operation(OperationStatus)

    /// The update's uuid, or `nil` when it carries none (or an empty one): such updates are never acknowledged.
    public var uuid: Data? {
        switch self {
        case .task(let status): return status.needsAcknowledgement ? status.uuid : nil
        case .operation(let status): return status.needsAcknowledgement ? status.uuid.value : nil
        }
    }

    /// The ACKNOWLEDGE or ACKNOWLEDGE_OPERATION_STATUS call, or `nil` when the update must not be acknowledged:
    /// no uuid, or (for an operation) no operation id or no agent id, which the master requires.
    public var acknowledgement: SchedulerCall? {
        switch self {
        case .task(let status):
            guard status.needsAcknowledgement, status.hasAgentID, status.hasTaskID else { return nil }
            return .acknowledge(agentID: status.agentID, taskID: status.taskID, uuid: status.uuid)
        case .operation(let status):
            guard status.needsAcknowledgement, status.hasOperationID, status.hasAgentID, !status.agentID.value.isEmpty
            else { return nil }
            return .acknowledgeOperationStatus(
                operationID: status.operationID, uuid: status.uuid.value, agentID: status.agentID,
                resourceProviderID: status.hasResourceProviderID ? status.resourceProviderID : nil)
        }
    }

    /// The task or operation id, for logs and records.
    public var subject: String {
        switch self {
        case .task(let status): return status.taskID.value
        case .operation(let status): return status.operationID.value
        }
    }
}

/// What happened to one status update.
public enum AcknowledgementOutcome: Sendable, Equatable {
    /// Committed (or nothing to commit) and acknowledged.
    case acknowledged
    /// A redelivery of an update already committed: not committed again, acknowledged again.
    case reacknowledged
    /// The update carries no uuid (or an empty one): committed, never acknowledged.
    case notAcknowledgeable
    /// An operation update without an agent id or operation id: committed, not acknowledged (the master would
    /// refuse the call).
    case missingIdentifiers
    /// The commit hook threw: not acknowledged, so the agent sends it again.
    case commitFailed(String)
    /// The connection was lost (or replaced) while the update was being committed: not acknowledged on the new
    /// stream; the agent redelivers it and the redelivery is acknowledged.
    case staleStream
    /// The ACKNOWLEDGE call failed; the redelivery will be acknowledged.
    case acknowledgementFailed(String)
    /// Committed; the attached ``MesosScheduler`` acknowledges updates itself (its acknowledgement mode is
    /// automatic), so the services sent nothing, to avoid a second acknowledgement.
    case leftToScheduler
}

/// Decides which status updates to acknowledge, and remembers which were committed and acknowledged.
///
/// Design: a value type; the owner (``FrameworkServices``) runs the commit hook and sends the calls, and
/// reports each step back. v1 has no implicit acknowledgements, so every update with a uuid needs one, and:
/// - ``Mode/automatic`` acknowledges as soon as the update arrives; ``Mode/afterCommit(_:)`` first awaits an
///   async hook that persists the update, and does not acknowledge if it throws (the agent redelivers).
/// - Updates are deduplicated by uuid: an update already committed is not committed again, only acknowledged
///   again (a redelivery means the earlier acknowledgement was lost).
/// - An update is acknowledged only on the stream it arrived on: each subscription is a new *generation*, and an
///   update received in an earlier generation is not acknowledged.
/// - Updates without a uuid (every update the master makes up, such as reconciliation answers) are committed
///   but never acknowledged; operation updates are acknowledged with ACKNOWLEDGE_OPERATION_STATUS only when they
///   carry a uuid, an operation id and an agent id.
public struct AcknowledgementManager: Sendable {
    /// When updates are acknowledged.
    public enum Mode: Sendable {
        /// As soon as they arrive.
        case automatic
        /// After the hook returned: persist the update there ("persist, then ack"). If it throws, the update is
        /// not acknowledged.
        case afterCommit(@Sendable (StatusUpdate) async throws -> Void)
    }

    /// A record of one update's handling.
    public struct Record: Sendable, Equatable {
        /// The task or operation id.
        public var subject: String
        /// The update's uuid, if any.
        public var uuid: Data?
        /// What happened.
        public var outcome: AcknowledgementOutcome
    }

    /// The mode.
    public let mode: Mode
    /// How many uuids (and records) are remembered.
    public let memoryLimit: Int
    private var committedUUIDs: Set<Data> = []
    /// The committed uuids in order; those before `committedStart` are forgotten already. The forgotten head is
    /// cut off once it is as long as the limit, so remembering one more uuid costs O(1) amortized.
    private var committedOrder: [Data] = []
    private var committedStart = 0
    /// The records, likewise: those before `recordStart` are dropped.
    private var recordLog: [Record] = []
    private var recordStart = 0

    /// The latest updates handled, oldest first.
    public var records: [Record] { Array(self.recordLog[self.recordStart...]) }

    /// Creates a manager.
    ///
    /// - Parameters:
    ///   - mode: Automatic, or after a commit hook.
    ///   - memoryLimit: How many committed uuids and records to remember (default 10 000).
    public init(mode: Mode = .automatic, memoryLimit: Int = 10_000) {
        self.mode = mode
        self.memoryLimit = max(1, memoryLimit)
    }

    /// Whether an update with this uuid was committed already (a redelivery).
    public func isCommitted(_ uuid: Data) -> Bool {
        self.committedUUIDs.contains(uuid)
    }

    /// Notes that an update was committed (or needed no commit).
    public mutating func markCommitted(_ update: StatusUpdate) {
        guard let uuid = update.uuid, self.committedUUIDs.insert(uuid).inserted else { return }
        self.committedOrder.append(uuid)
        if self.committedOrder.count - self.committedStart > self.memoryLimit {
            self.committedUUIDs.remove(self.committedOrder[self.committedStart])
            self.committedStart += 1
            if self.committedStart >= self.memoryLimit {
                self.committedOrder.removeFirst(self.committedStart)
                self.committedStart = 0
            }
        }
    }

    /// Records the outcome of an update.
    public mutating func record(_ update: StatusUpdate, _ outcome: AcknowledgementOutcome) {
        self.recordLog.append(Record(subject: update.subject, uuid: update.uuid, outcome: outcome))
        if self.recordLog.count - self.recordStart > self.memoryLimit {
            self.recordStart += 1
            if self.recordStart >= self.memoryLimit {
                self.recordLog.removeFirst(self.recordStart)
                self.recordStart = 0
            }
        }
    }
}
