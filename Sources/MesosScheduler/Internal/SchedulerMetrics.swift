import Metrics
import MesosCore

/// The scheduler's swift-metrics instruments. Labels are bounded: event type names, call type names and
/// status codes (or error codes), never ids.
struct SchedulerMetrics: Sendable {
    static let eventsLabel = "mesos_scheduler_events_total"
    static let callsLabel = "mesos_scheduler_calls_total"
    static let reconnectsLabel = "mesos_scheduler_reconnects_total"
    static let missedHeartbeatsLabel = "mesos_scheduler_missed_heartbeats_total"
    static let bufferDepthLabel = "mesos_scheduler_event_buffer_depth"

    func event(_ event: SchedulerEvent) {
        let type: String
        if case .unknown = event { type = "UNKNOWN" } else { type = event.typeName }
        Counter(label: Self.eventsLabel, dimensions: [("type", type)]).increment()
    }

    func call(type: String, status: String) {
        Counter(label: Self.callsLabel, dimensions: [("type", type), ("status", status)]).increment()
    }

    func reconnect(reason: MesosError) {
        Counter(label: Self.reconnectsLabel, dimensions: [("reason", reason.shortDescription)]).increment()
    }

    func missedHeartbeat() {
        Counter(label: Self.missedHeartbeatsLabel).increment()
    }

    func bufferDepth(_ depth: Int) {
        Gauge(label: Self.bufferDepthLabel).record(depth)
    }
}
