import MesosCore

/// An offer together with the scheduler it came from, so it can answer itself: `offer.accept(…)`,
/// `offer.decline()` (mesoshttp's `Offer.accept/decline`).
public struct OfferHandle: Sendable {
    /// The offer.
    public let offer: Offer
    /// The scheduler that received it.
    public let scheduler: MesosScheduler

    /// Wraps an offer received from any of the scheduler's event APIs (``MesosScheduler/events``,
    /// ``MesosScheduler/on(_:_:)``, a ``Scheduler`` delegate); see also ``MesosScheduler/handles(for:)``.
    public init(offer: Offer, scheduler: MesosScheduler) {
        self.offer = offer
        self.scheduler = scheduler
    }

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

    /// Wraps a status update received from any of the scheduler's event APIs; see also
    /// ``MesosScheduler/handle(for:)``.
    public init(status: TaskStatus, scheduler: MesosScheduler) {
        self.status = status
        self.scheduler = scheduler
    }

    /// `true` when the update carries a uuid and must be acknowledged.
    public var needsAcknowledgement: Bool { self.status.needsAcknowledgement }

    /// Acknowledges the update (with explicit acknowledgements; automatic mode does it for you).
    public func acknowledge() async throws(MesosError) {
        try await self.scheduler.acknowledge(self.status)
    }
}

extension MesosScheduler {
    /// Answerable offers, from offers received through any event API.
    public func handles(for offers: [Offer]) -> [OfferHandle] {
        offers.map { OfferHandle(offer: $0, scheduler: self) }
    }

    /// An acknowledgeable update, from a status received through any event API.
    public func handle(for status: TaskStatus) -> UpdateHandle {
        UpdateHandle(status: status, scheduler: self)
    }

    // MARK: - Typed callbacks

    /// Registers a callback for OFFERS that receives answerable offers.
    public func onOffers(_ callback: @escaping @Sendable ([OfferHandle]) async throws -> Void) {
        self.on(.offers) { [unowned self] event in
            guard case .offers(let offers) = event else { return }
            try await callback(self.handles(for: offers))
        }
    }

    /// Registers a callback for UPDATE that receives acknowledgeable updates.
    public func onUpdate(_ callback: @escaping @Sendable (UpdateHandle) async throws -> Void) {
        self.on(.update) { [unowned self] event in
            guard case .update(let status) = event else { return }
            try await callback(self.handle(for: status))
        }
    }

    /// Registers a callback for SUBSCRIBED (every subscription, first or re-subscription; see
    /// ``lifecycleEvents()`` to tell them apart).
    public func onSubscribed(_ callback: @escaping @Sendable (SchedulerEvent.Subscribed) async throws -> Void) {
        self.on(.subscribed) { event in
            guard case .subscribed(let subscribed) = event else { return }
            try await callback(subscribed)
        }
    }

    /// Registers a callback for RESCIND and RESCIND_INVERSE_OFFER: the offer id that is no longer valid.
    public func onRescind(_ callback: @escaping @Sendable (OfferID) async throws -> Void) {
        let handler: @Sendable (SchedulerEvent) async throws -> Void = { event in
            switch event {
            case .rescind(let id), .rescindInverseOffer(let id):
                try await callback(id)
            default:
                return
            }
        }
        self.on(.rescind, handler)
        self.on(.rescindInverseOffer, handler)
    }

    /// Registers a callback for MESSAGE (bytes from an executor).
    public func onMessage(_ callback: @escaping @Sendable (SchedulerEvent.FrameworkMessage) async throws -> Void) {
        self.on(.message) { event in
            guard case .message(let message) = event else { return }
            try await callback(message)
        }
    }

    /// Registers a callback for FAILURE (an agent or an executor was lost).
    public func onFailure(_ callback: @escaping @Sendable (SchedulerEvent.Failure) async throws -> Void) {
        self.on(.failure) { event in
            guard case .failure(let failure) = event else { return }
            try await callback(failure)
        }
    }

    /// Registers a callback for INVERSE_OFFERS.
    public func onInverseOffers(_ callback: @escaping @Sendable ([InverseOffer]) async throws -> Void) {
        self.on(.inverseOffers) { event in
            guard case .inverseOffers(let offers) = event else { return }
            try await callback(offers)
        }
    }

    /// Registers a callback for UPDATE_OPERATION_STATUS. With automatic acknowledgements, the status is
    /// acknowledged after the callbacks returned.
    public func onUpdateOperationStatus(_ callback: @escaping @Sendable (OperationStatus) async throws -> Void) {
        self.on(.updateOperationStatus) { event in
            guard case .updateOperationStatus(let status) = event else { return }
            try await callback(status)
        }
    }

    /// Registers a callback for HEARTBEAT.
    public func onHeartbeat(_ callback: @escaping @Sendable () async throws -> Void) {
        self.on(.heartbeat) { event in
            guard case .heartbeat = event else { return }
            try await callback()
        }
    }

    /// Registers a callback for ERROR: the master's message. The subscription ends after it; ``run()`` throws.
    public func onError(_ callback: @escaping @Sendable (String) async throws -> Void) {
        self.on(.error) { event in
            guard case .error(let message) = event else { return }
            try await callback(message)
        }
    }
}

extension FrameworkInfo {
    /// Adds a capability unless the framework already declares it (mesoshttp's `add_capability`):
    /// `info.addCapability(.multiRole)`.
    public mutating func addCapability(_ type: FrameworkInfo.Capability.TypeEnum) {
        guard !self.capabilities.contains(where: { $0.type == type }) else { return }
        var capability = FrameworkInfo.Capability()
        capability.type = type
        self.capabilities.append(capability)
    }
}
