import MesosCore

/// One-line human summaries of events.
enum EventSummary {
    /// Describes the event's most useful fields.
    static func describe(_ event: SchedulerEvent) -> String {
        switch event {
        case .subscribed(let subscribed):
            return "framework \(subscribed.frameworkID.value), heartbeat \(subscribed.heartbeatIntervalSeconds) s, "
                + "master \(subscribed.masterInfo.hostname):\(subscribed.masterInfo.port)"
        case .offers(let offers):
            return offers.map { "\($0.id.value)@\($0.hostname)" }.joined(separator: ", ")
        case .inverseOffers(let offers):
            return offers.map(\.id.value).joined(separator: ", ")
        case .rescind(let id), .rescindInverseOffer(let id):
            return id.value
        case .update(let status):
            var text = "task \(status.taskID.value) \(status.state)"
            if status.hasMessage { text += " '\(status.message)'" }
            if status.needsAcknowledgement { text += " (needs ACK)" }
            return text
        case .updateOperationStatus(let status):
            return "operation \(status.operationID.value) \(status.state)"
        case .message(let message):
            return "from executor \(message.executorID.value), \(message.data.count) bytes"
        case .failure(let failure):
            return "agent \(failure.agentID.value) executor \(failure.executorID.value) status \(failure.status)"
        case .error(let message):
            return message
        case .heartbeat:
            return ""
        case .unknown(let unknown):
            return "unknown event type \(unknown.type ?? "?")"
        }
    }
}
