import MesosCore

/// An agent as the master's operator API describes it (`mesos.v1.master.Response.GetAgents.Agent`).
public typealias MasterAgent = Mesos_V1_Master_Response.GetAgents.Agent
/// A framework as the master's operator API describes it (`mesos.v1.master.Response.GetFrameworks.Framework`).
public typealias MasterFramework = Mesos_V1_Master_Response.GetFrameworks.Framework
/// The master's whole state at one instant (`mesos.v1.master.Response.GetState`).
public typealias MasterState = Mesos_V1_Master_Response.GetState

/// One typed event of the master's operator event stream (`mesos.v1.master.Event`, EXECUTOR-OPERATOR.md §3.2).
///
/// SUBSCRIBED is always the first event of a subscription and carries the whole state (filtered by what the
/// subscriber may view); every later change arrives as one of the other events, in the master's processing order.
/// An event type this library does not know (a newer master) is ``unknown(_:)``, never an error.
public enum OperatorEvent: Sendable {
    /// SUBSCRIBED: the snapshot the subscription starts from, and the heartbeat interval (15 s on Mesos 1.11).
    case subscribed(MasterEvent.Subscribed)
    /// TASK_ADDED: a task became known to the master (a launch was accepted, or an agent re-registered with it).
    case taskAdded(MesosTask)
    /// TASK_UPDATED: the master processed a status update that changed the task's state (or a check or health
    /// update); `state` is the agent's latest knowledge and may be newer than `status.state`.
    case taskUpdated(MasterEvent.TaskUpdated)
    /// AGENT_ADDED: an agent registered or re-registered.
    case agentAdded(MasterAgent)
    /// AGENT_REMOVED: an agent was removed (it unregistered, or another agent registered at its address). Agents
    /// marked unreachable or gone produce no AGENT_REMOVED: their tasks' TASK_UPDATED events say so instead.
    case agentRemoved(AgentID)
    /// FRAMEWORK_ADDED: a framework subscribed for the first time, or a failed-over master learnt of it.
    case frameworkAdded(MasterFramework)
    /// FRAMEWORK_UPDATED: a framework re-subscribed or its `FrameworkInfo` changed.
    case frameworkUpdated(MasterFramework)
    /// FRAMEWORK_REMOVED: a framework was torn down or its failover timeout expired.
    case frameworkRemoved(FrameworkInfo)
    /// HEARTBEAT: the master is alive (right after SUBSCRIBED, then every 15 s).
    case heartbeat
    /// An event of a type this library does not know, or one missing the message its type requires; kept whole
    /// so that it can still be printed or inspected.
    case unknown(MasterEvent)

    /// Reads a wire event. An unknown type, or a known type without its message, becomes ``unknown(_:)``.
    ///
    /// - Parameter message: The decoded `mesos.v1.master.Event`.
    public init(_ message: MasterEvent) {
        switch message.type {
        case .subscribed where message.hasSubscribed:
            self = .subscribed(message.subscribed)
        case .taskAdded where message.hasTaskAdded && message.taskAdded.hasTask:
            self = .taskAdded(message.taskAdded.task)
        case .taskUpdated where message.hasTaskUpdated && message.taskUpdated.hasStatus:
            self = .taskUpdated(message.taskUpdated)
        case .agentAdded where message.hasAgentAdded && message.agentAdded.hasAgent:
            self = .agentAdded(message.agentAdded.agent)
        case .agentRemoved where message.hasAgentRemoved && message.agentRemoved.hasAgentID:
            self = .agentRemoved(message.agentRemoved.agentID)
        case .frameworkAdded where message.hasFrameworkAdded && message.frameworkAdded.hasFramework:
            self = .frameworkAdded(message.frameworkAdded.framework)
        case .frameworkUpdated where message.hasFrameworkUpdated && message.frameworkUpdated.hasFramework:
            self = .frameworkUpdated(message.frameworkUpdated.framework)
        case .frameworkRemoved where message.hasFrameworkRemoved && message.frameworkRemoved.hasFrameworkInfo:
            self = .frameworkRemoved(message.frameworkRemoved.frameworkInfo)
        case .heartbeat:
            self = .heartbeat
        default:
            self = .unknown(message)
        }
    }

    /// Decodes one RecordIO record of the stream.
    ///
    /// - Parameters:
    ///   - record: The record's bytes.
    ///   - contentType: The stream's encoding.
    /// - Returns: The typed event.
    /// - Throws: ``MesosError/Code/decodingFailed`` when the bytes are not a `mesos.v1.master.Event`.
    public static func decode(
        _ record: some Collection<UInt8>, as contentType: MesosContentType
    ) throws(MesosError) -> OperatorEvent {
        // The purpose-built decoder first (protobuf: FastOperatorEventDecoder), swift-protobuf for whatever it
        // declines; both give the same value for the same bytes.
        if contentType == .protobuf, let message = FastOperatorEventDecoder.decode(record) {
            return OperatorEvent(message)
        }
        return OperatorEvent(try OperatorWire.decode(MasterEvent.self, from: record, as: contentType))
    }

    /// The event's type as Mesos spells it: `SUBSCRIBED`, `TASK_ADDED`, …, `UNKNOWN`.
    public var typeName: String {
        switch self {
        case .subscribed: "SUBSCRIBED"
        case .taskAdded: "TASK_ADDED"
        case .taskUpdated: "TASK_UPDATED"
        case .agentAdded: "AGENT_ADDED"
        case .agentRemoved: "AGENT_REMOVED"
        case .frameworkAdded: "FRAMEWORK_ADDED"
        case .frameworkUpdated: "FRAMEWORK_UPDATED"
        case .frameworkRemoved: "FRAMEWORK_REMOVED"
        case .heartbeat: "HEARTBEAT"
        case .unknown: "UNKNOWN"
        }
    }

    /// The event as a wire message again (for printing it as Mesos's JSON, or re-encoding it).
    public var message: MasterEvent {
        var event = MasterEvent()
        switch self {
        case .subscribed(let subscribed):
            event.type = .subscribed
            event.subscribed = subscribed
        case .taskAdded(let task):
            event.type = .taskAdded
            event.taskAdded.task = task
        case .taskUpdated(let update):
            event.type = .taskUpdated
            event.taskUpdated = update
        case .agentAdded(let agent):
            event.type = .agentAdded
            event.agentAdded.agent = agent
        case .agentRemoved(let agentID):
            event.type = .agentRemoved
            event.agentRemoved.agentID = agentID
        case .frameworkAdded(let framework):
            event.type = .frameworkAdded
            event.frameworkAdded.framework = framework
        case .frameworkUpdated(let framework):
            event.type = .frameworkUpdated
            event.frameworkUpdated.framework = framework
        case .frameworkRemoved(let info):
            event.type = .frameworkRemoved
            event.frameworkRemoved.frameworkInfo = info
        case .heartbeat:
            event.type = .heartbeat
        case .unknown(let message):
            event = message
        }
        return event
    }
}
