import MesosCore

/// An offer together with the scheduler it came from, so it can answer itself: `offer.accept(…)`,
/// `offer.decline()` (mesoshttp's `Offer.accept/decline`).
public struct OfferHandle: Sendable {
    /// The offer.
    public let offer: Offer
    /// The scheduler that received it.
    public let scheduler: MesosScheduler

    /// Accepts the offer for these operations.
    public func accept(_ operations: [OfferOperation], filters: Filters? = nil) async throws(MesosError) {
        try await self.scheduler.accept(self.offer, operations: operations, filters: filters)
    }

    /// Declines the offer for `filters.refuse_seconds` (Mesos's default 5 s).
    public func decline(filters: Filters? = nil) async throws(MesosError) {
        try await self.scheduler.decline([self.offer.id], filters: filters)
    }
}

/// A status update together with the scheduler it came from, so it can acknowledge itself:
/// `update.acknowledge()` (mesoshttp's `Update.ack`).
public struct UpdateHandle: Sendable {
    /// The task status.
    public let status: TaskStatus
    /// The scheduler that received it.
    public let scheduler: MesosScheduler

    /// `true` when the update carries a uuid and must be acknowledged.
    public var needsAcknowledgement: Bool { self.status.needsAcknowledgement }

    /// Acknowledges the update (with explicit acknowledgements; automatic mode does it for you).
    public func acknowledge() async throws(MesosError) {
        try await self.scheduler.acknowledge(self.status)
    }
}

extension MesosScheduler {
    /// Registers a callback for OFFERS that receives answerable offers.
    public func onOffers(_ callback: @escaping @Sendable ([OfferHandle]) async throws -> Void) {
        self.on(.offers) { [unowned self] event in
            guard case .offers(let offers) = event else { return }
            try await callback(offers.map { OfferHandle(offer: $0, scheduler: self) })
        }
    }

    /// Registers a callback for UPDATE that receives acknowledgeable updates.
    public func onUpdate(_ callback: @escaping @Sendable (UpdateHandle) async throws -> Void) {
        self.on(.update) { [unowned self] event in
            guard case .update(let status) = event else { return }
            try await callback(UpdateHandle(status: status, scheduler: self))
        }
    }
}
