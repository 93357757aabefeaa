#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The wire message of the executor API's calls (`mesos.v1.executor.Call`).
public typealias ExecutorCall = Mesos_V1_Executor_Call

/// The wire message of the executor API's events (`mesos.v1.executor.Event`).
public typealias ExecutorEventMessage = Mesos_V1_Executor_Event

/// An event from the agent's executor event stream, in a form you can `switch` over exhaustively.
///
/// Each case carries the payload of that event type. An event type this library does not know (a newer agent)
/// arrives as ``unknown(_:)`` with the raw message; treat it as ignorable.
///
/// ```swift
/// switch event {
/// case .launch(let task): …
/// case .kill(let kill): … kill.taskID, kill.hasKillPolicy ? kill.killPolicy : nil
/// case .shutdown: …
/// default: break
/// }
/// ```
public enum ExecutorEvent: Sendable, Equatable {
    /// The subscription was accepted: executor, framework and agent info, the executor's container.
    case subscribed(Subscribed)
    /// A task to run.
    case launch(TaskInfo)
    /// A group of tasks to run together.
    case launchGroup(TaskGroupInfo)
    /// A task to kill, with an optional kill policy that overrides the task's own.
    case kill(Kill)
    /// The agent accepted an update: its task id and the 16 bytes of its uuid.
    case acknowledged(Acknowledged)
    /// Opaque data from the scheduler.
    case message([UInt8])
    /// An error (the agent itself never sends one; client libraries inject it).
    case error(message: String)
    /// Shut down: kill every task, send their terminal updates, exit.
    case shutdown
    /// The agent is alive (every 30 minutes).
    case heartbeat
    /// An event type this library does not know, with whatever fields were recognised.
    case unknown(ExecutorEventMessage)

    /// The payload of SUBSCRIBED.
    public typealias Subscribed = Mesos_V1_Executor_Event.Subscribed
    /// The payload of KILL: the task id and an optional kill policy.
    public typealias Kill = Mesos_V1_Executor_Event.Kill
    /// The payload of ACKNOWLEDGED: the task id and the update's uuid bytes.
    public typealias Acknowledged = Mesos_V1_Executor_Event.Acknowledged

    /// The kinds of events, for per-kind callbacks.
    public enum Kind: Sendable, Hashable, CaseIterable {
        /// SUBSCRIBED.
        case subscribed
        /// LAUNCH.
        case launch
        /// LAUNCH_GROUP.
        case launchGroup
        /// KILL.
        case kill
        /// ACKNOWLEDGED.
        case acknowledged
        /// MESSAGE.
        case message
        /// ERROR.
        case error
        /// SHUTDOWN.
        case shutdown
        /// HEARTBEAT.
        case heartbeat
        /// An unknown type.
        case unknown
    }

    /// The kind of this event.
    public var kind: Kind {
        switch self {
        case .subscribed: return .subscribed
        case .launch: return .launch
        case .launchGroup: return .launchGroup
        case .kill: return .kill
        case .acknowledged: return .acknowledged
        case .message: return .message
        case .error: return .error
        case .shutdown: return .shutdown
        case .heartbeat: return .heartbeat
        case .unknown: return .unknown
        }
    }

    /// Builds the typed event from a decoded wire message.
    ///
    /// - Parameter message: The decoded message.
    public init(_ message: ExecutorEventMessage) {
        switch message.type {
        case .subscribed: self = .subscribed(message.subscribed)
        case .launch: self = .launch(message.launch.task)
        case .launchGroup: self = .launchGroup(message.launchGroup.taskGroup)
        case .kill: self = .kill(message.kill)
        case .acknowledged: self = .acknowledged(message.acknowledged)
        case .message: self = .message(Array(message.message.data))
        case .error: self = .error(message: message.error.message)
        case .shutdown: self = .shutdown
        case .heartbeat: self = .heartbeat
        case .unknown: self = .unknown(message)
        }
    }

    /// The wire message for this event (what an agent sends; used by test fakes).
    public var wireMessage: ExecutorEventMessage {
        var event = ExecutorEventMessage()
        switch self {
        case .subscribed(let subscribed):
            event.type = .subscribed
            event.subscribed = subscribed
        case .launch(let task):
            event.type = .launch
            event.launch.task = task
        case .launchGroup(let group):
            event.type = .launchGroup
            event.launchGroup.taskGroup = group
        case .kill(let kill):
            event.type = .kill
            event.kill = kill
        case .acknowledged(let acknowledged):
            event.type = .acknowledged
            event.acknowledged = acknowledged
        case .message(let data):
            event.type = .message
            event.message.data = Data(data)
        case .error(let message):
            event.type = .error
            event.error.message = message
        case .shutdown:
            event.type = .shutdown
        case .heartbeat:
            event.type = .heartbeat
        case .unknown(let message):
            event = message
        }
        return event
    }

    /// The wire name of the event type (`"LAUNCH"`, `"ACKNOWLEDGED"`, …); `"UNKNOWN"` for an unknown one.
    public var typeName: String {
        switch self {
        case .subscribed: return "SUBSCRIBED"
        case .launch: return "LAUNCH"
        case .launchGroup: return "LAUNCH_GROUP"
        case .kill: return "KILL"
        case .acknowledged: return "ACKNOWLEDGED"
        case .message: return "MESSAGE"
        case .error: return "ERROR"
        case .shutdown: return "SHUTDOWN"
        case .heartbeat: return "HEARTBEAT"
        case .unknown: return "UNKNOWN"
        }
    }
}
