import MesosCore

/// One step of a ``ClusterStateMirror``: the event, and the state right after applying it.
public struct ClusterStateUpdate: Sendable {
    /// The event just applied.
    public var event: OperatorEvent
    /// The cluster after the event (after SUBSCRIBED: rebuilt from its snapshot).
    public var state: ClusterState
}

/// A live ``ClusterState``: the operator event stream's events applied in order, each handed out with the state
/// it produced.
///
/// Every SUBSCRIBED (the first, and the one after each reconnection) replaces the state with its snapshot, so
/// the mirror is consistent again after any loss; HEARTBEAT and unknown events are handed out with the state
/// unchanged. Events are applied as the consumer asks for them, on the consumer's task, so that a state the
/// consumer let go of is updated in place (no copy of the tables per event).
///
/// ```swift
/// for try await update in master.clusterState() {
///     let running = update.state.taskCount(in: .taskRunning)
///     print(update.event.typeName, running)
/// }
/// ```
public struct ClusterStateMirror<Events: AsyncSequence>: AsyncSequence where Events.Element == OperatorEvent {
    /// The event with the state after it.
    public typealias Element = ClusterStateUpdate

    private let events: Events
    private let limits: ClusterStateLimits

    /// Mirrors any sequence of operator events (the master's stream, a recording, a test's script).
    ///
    /// - Parameters:
    ///   - events: The events, in order.
    ///   - limits: The limits on kept history.
    public init(events: Events, limits: ClusterStateLimits = ClusterStateLimits()) {
        self.events = events
        self.limits = limits
    }

    /// Starts reading the events.
    public func makeAsyncIterator() -> Iterator {
        Iterator(events: self.events.makeAsyncIterator(), state: ClusterState(limits: self.limits))
    }

    /// Applies one event per call.
    public struct Iterator: AsyncIteratorProtocol {
        private var events: Events.AsyncIterator
        private var state: ClusterState

        init(events: Events.AsyncIterator, state: ClusterState) {
            self.events = events
            self.state = state
        }

        /// The next event with the state after it, or `nil` when the events end.
        ///
        /// - Throws: What the event sequence throws (for the master's stream, a ``MesosError``).
        public mutating func next() async throws -> ClusterStateUpdate? {
            guard let event = try await self.events.next() else {
                return nil
            }
            self.state.apply(event)
            return ClusterStateUpdate(event: event, state: self.state)
        }
    }
}

extension ClusterStateMirror: Sendable where Events: Sendable {}

extension MesosMasterOperator {
    /// The cluster's state, mirrored live from the operator event stream.
    ///
    /// - Parameters:
    ///   - configuration: The event stream's watchdog, backoff and limits.
    ///   - limits: The limits on kept history.
    /// - Returns: Each event with the state after it; the first is SUBSCRIBED with the master's snapshot.
    public func clusterState(
        _ configuration: OperatorEventStreamConfiguration = OperatorEventStreamConfiguration(),
        limits: ClusterStateLimits = ClusterStateLimits()
    ) -> ClusterStateMirror<OperatorEventStream> {
        ClusterStateMirror(events: self.events(configuration), limits: limits)
    }
}
