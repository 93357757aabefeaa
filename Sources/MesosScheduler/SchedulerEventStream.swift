import MesosCore

/// The scheduler's ordered event stream (see ``MesosScheduler/events``). Iterate it once.
///
/// With automatic acknowledgements, an update that needs one is acknowledged when the iterating loop asks
/// for the next event, that is after the loop body handled it; a loop that stops early leaves the last update
/// unacknowledged, so the agent sends it again later.
public struct SchedulerEventStream: AsyncSequence, Sendable {
    /// An event.
    public typealias Element = SchedulerEvent

    let scheduler: MesosScheduler

    /// Returns the iterator.
    public func makeAsyncIterator() -> Iterator {
        Iterator(scheduler: self.scheduler)
    }

    /// Pulls events from the scheduler's buffer.
    public struct Iterator: AsyncIteratorProtocol {
        let scheduler: MesosScheduler
        private var pendingAcknowledgement: SchedulerEvent?

        init(scheduler: MesosScheduler) {
            self.scheduler = scheduler
        }

        /// The next event; `nil` when the scheduler stopped.
        ///
        /// - Throws: The ``MesosError`` that ended the subscription.
        public mutating func next() async throws -> SchedulerEvent? {
            if let pending = self.pendingAcknowledgement {
                self.pendingAcknowledgement = nil
                await self.scheduler.acknowledgeAutomatically(pending)
            }
            guard let event = try await self.scheduler.buffer.next() else {
                return nil
            }
            if self.scheduler.configuration.acknowledgements == .automatic {
                switch event {
                case .update(let status) where status.needsAcknowledgement:
                    self.pendingAcknowledgement = event
                case .updateOperationStatus(let status) where status.needsAcknowledgement:
                    self.pendingAcknowledgement = event
                default:
                    break
                }
            }
            return event
        }
    }
}
