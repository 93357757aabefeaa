/// An event from the master's scheduler event stream, in a form you can `switch` over exhaustively.
///
/// Each case carries the payload of that event type. An event type this library does not know (a newer
/// master) arrives as ``unknown(_:)`` with its name or number and the raw message, never silently dropped.
///
/// ```swift
/// switch event {
/// case .offers(let offers): …
/// case .update(let status) where status.needsAcknowledgement: …
/// case .heartbeat: break
/// default: break
/// }
/// ```
public enum SchedulerEvent: Sendable, Equatable {
    /// The subscription was accepted: framework id, heartbeat interval, master info.
    case subscribed(Subscribed)
    /// New resource offers.
    case offers([Offer])
    /// Requests to give resources back for maintenance.
    case inverseOffers([InverseOffer])
    /// An offer is no longer valid.
    case rescind(OfferID)
    /// An inverse offer is no longer valid.
    case rescindInverseOffer(OfferID)
    /// A task's status changed. Acknowledge it if ``TaskStatus/needsAcknowledgement`` is `true`.
    case update(TaskStatus)
    /// An offer operation's status changed. Acknowledge it if it carries a uuid.
    case updateOperationStatus(OperationStatus)
    /// A message from an executor.
    case message(FrameworkMessage)
    /// An agent was removed or an executor terminated.
    case failure(Failure)
    /// The master reports an error; it closes the stream after this event.
    case error(message: String)
    /// The master is alive (sent right after SUBSCRIBED and then every 15 s).
    case heartbeat
    /// An event type this library does not know.
    case unknown(UnknownEvent)

    /// The payload of SUBSCRIBED.
    public typealias Subscribed = Mesos_V1_Scheduler_Event.Subscribed
    /// The payload of MESSAGE: agent id, executor id and data.
    public typealias FrameworkMessage = Mesos_V1_Scheduler_Event.Message
    /// The payload of FAILURE: agent id, executor id and a raw wait status.
    public typealias Failure = Mesos_V1_Scheduler_Event.Failure

    /// An event whose type is not one of the eleven this library knows.
    public struct UnknownEvent: Sendable, Equatable {
        /// The `type` as it was on the wire: the enum name in JSON, the number in protobuf, when present.
        public var type: String?
        /// The whole message, with whatever fields were recognised.
        public var message: SchedulerEventMessage

        /// Creates an unknown event.
        public init(type: String?, message: SchedulerEventMessage) {
            self.type = type
            self.message = message
        }
    }

    /// Builds the typed event from a decoded wire message.
    ///
    /// - Parameters:
    ///   - message: The decoded message.
    ///   - rawType: The `type` as it was on the wire, used only when the type is not known.
    public init(_ message: SchedulerEventMessage, rawType: String? = nil) {
        switch message.type {
        case .subscribed: self = .subscribed(message.subscribed)
        case .offers: self = .offers(message.offers.offers)
        case .inverseOffers: self = .inverseOffers(message.inverseOffers.inverseOffers)
        case .rescind: self = .rescind(message.rescind.offerID)
        case .rescindInverseOffer: self = .rescindInverseOffer(message.rescindInverseOffer.inverseOfferID)
        case .update: self = .update(message.update.status)
        case .updateOperationStatus: self = .updateOperationStatus(message.updateOperationStatus.status)
        case .message: self = .message(message.message)
        case .failure: self = .failure(message.failure)
        case .error: self = .error(message: message.error.message)
        case .heartbeat: self = .heartbeat
        case .unknown: self = .unknown(UnknownEvent(type: rawType, message: message))
        }
    }

    /// The event as a wire message (the inverse of ``init(_:rawType:)``).
    public var wireMessage: SchedulerEventMessage {
        var event = SchedulerEventMessage()
        switch self {
        case .subscribed(let subscribed):
            event.type = .subscribed
            event.subscribed = subscribed
        case .offers(let offers):
            event.type = .offers
            event.offers.offers = offers
        case .inverseOffers(let inverseOffers):
            event.type = .inverseOffers
            event.inverseOffers.inverseOffers = inverseOffers
        case .rescind(let id):
            event.type = .rescind
            event.rescind.offerID = id
        case .rescindInverseOffer(let id):
            event.type = .rescindInverseOffer
            event.rescindInverseOffer.inverseOfferID = id
        case .update(let status):
            event.type = .update
            event.update.status = status
        case .updateOperationStatus(let status):
            event.type = .updateOperationStatus
            event.updateOperationStatus.status = status
        case .message(let message):
            event.type = .message
            event.message = message
        case .failure(let failure):
            event.type = .failure
            event.failure = failure
        case .error(let message):
            event.type = .error
            event.error.message = message
        case .heartbeat:
            event.type = .heartbeat
        case .unknown(let unknown):
            event = unknown.message
        }
        return event
    }

    /// The wire name of the event type (`"OFFERS"`, `"HEARTBEAT"`, …), or the raw type of an unknown event.
    /// Bounded, so it is safe as a metric label for known types.
    public var typeName: String {
        switch self {
        case .subscribed: return "SUBSCRIBED"
        case .offers: return "OFFERS"
        case .inverseOffers: return "INVERSE_OFFERS"
        case .rescind: return "RESCIND"
        case .rescindInverseOffer: return "RESCIND_INVERSE_OFFER"
        case .update: return "UPDATE"
        case .updateOperationStatus: return "UPDATE_OPERATION_STATUS"
        case .message: return "MESSAGE"
        case .failure: return "FAILURE"
        case .error: return "ERROR"
        case .heartbeat: return "HEARTBEAT"
        case .unknown(let unknown): return unknown.type ?? "UNKNOWN"
        }
    }
}

extension TaskStatus {
    /// `true` when this update carries a uuid, so the scheduler must ACKNOWLEDGE it. Updates the master makes
    /// up itself (reconciliation answers, most TASK_LOST) carry none and must not be acknowledged.
    public var needsAcknowledgement: Bool {
        self.hasUuid && !self.uuid.isEmpty
    }
}

extension OperationStatus {
    /// `true` when this operation status carries a uuid and must be acknowledged.
    public var needsAcknowledgement: Bool {
        self.hasUuid && !self.uuid.value.isEmpty
    }
}

extension TaskState {
    /// `true` for states a task never leaves: FINISHED, FAILED, KILLED, ERROR, LOST, DROPPED, GONE and
    /// GONE_BY_OPERATOR.
    public var isTerminal: Bool {
        switch self {
        case .taskFinished, .taskFailed, .taskKilled, .taskError, .taskLost, .taskDropped, .taskGone,
            .taskGoneByOperator:
            return true
        default:
            return false
        }
    }
}
