import MesosCore

/// The offers a framework holds while it decides what to do with them.
///
/// Design: a value type with no clock and no I/O. Every method that depends on time takes `now`, an offset on
/// the clock of the ``FrameworkServices`` that owns the book (or of your own time line), so tests drive it
/// without sleeping. The book never sends calls; ``expire(now:rolesWithPendingWork:)`` returns the DECLINEs to send.
///
/// - Each offer gets an expiry: received + ``Configuration/holdTime`` + a jitter drawn uniformly from
///   `[0, holdJitter)`. Past it, ``expire(now:rolesWithPendingWork:)`` removes the offer and returns a DECLINE
///   whose `refuse_seconds` is ``Configuration/refuseSeconds`` plus a jitter from `[0, refuseJitter)`, so many
///   frameworks do not come back at the same moment; if the offer's role still has work pending (blocked on
///   something else), the filter is the short ``Configuration/refuseSecondsWhileWorkPending`` instead.
/// - RESCIND removes an offer; a lost agent (FAILURE with an agent id and no executor id) purges that agent's
///   offers; a disconnect or re-subscription empties the book without declining anything (the master has
///   rescinded those offers already).
/// - ``take(_:)`` removes offers for a launch and accepts only offers of one agent and one allocation role, the
///   only combination one ACCEPT may use.
/// - ``declines`` keeps the latest declines the book decided, with their reason.
///
/// The random source is injected (`SplitMix64(seed:)` in tests) so jitter is reproducible.
public struct OfferBook: Sendable {
    /// Hold time and decline filters.
    public struct Configuration: Sendable, Hashable {
        /// How long an offer may be held before it is declined (Fenzo 120 s, Aurora 5 min).
        public var holdTime: Duration
        /// Extra hold time, uniform in `[0, holdJitter)`, so that offers do not all expire together.
        public var holdJitter: Duration
        /// The filter of a hold-time decline: resources stay away at least this long (Mesos suggests long
        /// filters, such as 1 h, for offers a framework cannot use).
        public var refuseSeconds: Duration
        /// Extra filter time, uniform in `[0, refuseJitter)`.
        public var refuseJitter: Duration
        /// The filter of a hold-time decline for a role that still has work pending (work blocked on something
        /// else, such as another agent): short, so the resources come back soon (default 5 s, Mesos's own
        /// default filter).
        public var refuseSecondsWhileWorkPending: Duration
        /// How many past declines ``OfferBook/declines`` keeps.
        public var declineHistoryLimit: Int

        /// Creates a configuration.
        ///
        /// - Parameters:
        ///   - holdTime: Hold time (default 120 s).
        ///   - holdJitter: Hold jitter bound (default 10 s).
        ///   - refuseSeconds: Filter of a hold-time decline (default 1 h).
        ///   - refuseJitter: Filter jitter bound (default 5 min).
        ///   - refuseSecondsWhileWorkPending: Filter when the offer's role has work pending (default 5 s).
        ///   - declineHistoryLimit: Declines remembered (default 1000).
        public init(
            holdTime: Duration = .seconds(120),
            holdJitter: Duration = .seconds(10),
            refuseSeconds: Duration = .seconds(3600),
            refuseJitter: Duration = .seconds(300),
            refuseSecondsWhileWorkPending: Duration = .seconds(5),
            declineHistoryLimit: Int = 1000
        ) {
            self.holdTime = holdTime
            self.holdJitter = holdJitter
            self.refuseSeconds = refuseSeconds
            self.refuseJitter = refuseJitter
            self.refuseSecondsWhileWorkPending = refuseSecondsWhileWorkPending
            self.declineHistoryLimit = declineHistoryLimit
        }
    }

    /// An offer in the book.
    public struct HeldOffer: Sendable, Equatable {
        /// The offer as received.
        public var offer: Offer
        /// The role its resources are allocated to (`allocation_info.role`), or the empty string for a
        /// framework without MULTI_ROLE.
        public var role: String
        /// When it arrived.
        public var receivedAt: Duration
        /// When the book will decline it.
        public var expiresAt: Duration

        /// The offer's id.
        public var id: OfferID { self.offer.id }
        /// The agent it is on.
        public var agentID: AgentID { self.offer.agentID }
    }

    /// Why the book declined an offer.
    public enum DeclineReason: String, Sendable, Hashable {
        /// It was held for longer than the hold time and nothing pending for its role (long, jittered filter).
        case holdTimeExpired
        /// It was held for longer than the hold time while its role had work pending that did not use it
        /// (short filter).
        case holdTimeExpiredWithWorkPending
        /// The framework declined it explicitly (``OfferBook/decline(_:now:)``).
        case unusable
    }

    /// A DECLINE the book decided.
    public struct Decline: Sendable, Equatable {
        /// The offer.
        public var offerID: OfferID
        /// Its agent.
        public var agentID: AgentID
        /// Its allocation role.
        public var role: String
        /// Why.
        public var reason: DeclineReason
        /// The filter to send (`refuse_seconds`).
        public var refuseSeconds: Double
        /// When it was decided.
        public var at: Duration

        /// The DECLINE call for this offer.
        public var call: SchedulerCall {
            .decline(offerIDs: [self.offerID], filters: .refuse(seconds: self.refuseSeconds))
        }
    }

    /// The configuration.
    public let configuration: Configuration
    private var entries: [String: HeldOffer] = [:]
    /// The earliest expiry of the held offers, kept on every change: the services' timer asks for it (and
    /// expires offers) after every event, which must not cost a pass over every held offer.
    private var soonest: Duration?
    private var random: any RandomNumberGenerator & Sendable
    /// The latest declines the book decided, oldest first (at most ``Configuration/declineHistoryLimit``).
    public private(set) var declines: [Decline] = []

    /// Creates an empty book.
    ///
    /// - Parameters:
    ///   - configuration: Hold time and filters.
    ///   - random: The source of jitter (`SplitMix64(seed:)` for reproducible tests).
    public init(configuration: Configuration = .init(), random: some RandomNumberGenerator & Sendable = SplitMix64()) {
        self.configuration = configuration
        self.random = random
    }

    /// The offers held, oldest first.
    public var offers: [HeldOffer] {
        self.entries.values.sorted { ($0.receivedAt, $0.id.value) < ($1.receivedAt, $1.id.value) }
    }

    /// How many offers are held.
    public var count: Int { self.entries.count }

    /// The held offer with this id, if any.
    public func offer(_ id: OfferID) -> HeldOffer? {
        self.entries[id.value]
    }

    /// The held offers of one agent and one allocation role: the offers one ACCEPT may combine.
    public func offers(on agentID: AgentID, role: String) -> [HeldOffer] {
        self.offers.filter { $0.agentID == agentID && $0.role == role }
    }

    /// The earliest expiry among the held offers.
    public var nextExpiry: Duration? {
        self.soonest
    }

    /// The allocation role of an offer: the `allocation_info.role` of its resources (the empty string when they
    /// carry none, as for a framework without MULTI_ROLE).
    public static func allocationRole(of offer: Offer) -> String {
        offer.resources.first(where: { $0.hasAllocationInfo })?.allocationInfo.role ?? ""
    }

    /// Adds offers received at `now`. An offer already held keeps its original expiry.
    public mutating func add(_ offers: [Offer], now: Duration) {
        for offer in offers where self.entries[offer.id.value] == nil {
            let expiresAt = now + self.configuration.holdTime + self.jitter(below: self.configuration.holdJitter)
            self.entries[offer.id.value] = HeldOffer(
                offer: offer, role: Self.allocationRole(of: offer), receivedAt: now, expiresAt: expiresAt)
            self.soonest = min(self.soonest ?? expiresAt, expiresAt)
        }
    }

    /// Removes a rescinded offer. Returns whether it was held.
    @discardableResult
    public mutating func rescind(_ id: OfferID) -> Bool {
        self.remove(id.value) != nil
    }

    /// Removes every offer of an agent that was lost or removed. Returns the removed offers' ids.
    @discardableResult
    public mutating func removeOffers(on agentID: AgentID) -> [OfferID] {
        let gone = self.entries.values.filter { $0.agentID == agentID }.map(\.id)
        for id in gone { self.remove(id.value) }
        return gone.sorted { $0.value < $1.value }
    }

    /// Empties the book without declining: the connection was lost or the framework re-subscribed, so the
    /// master has rescinded every offer. Returns how many offers were dropped.
    @discardableResult
    public mutating func removeAll() -> Int {
        defer {
            self.entries.removeAll()
            self.soonest = nil
        }
        return self.entries.count
    }

    /// Takes offers out of the book for one ACCEPT.
    ///
    /// - Returns: The offers, in the order of `ids`.
    /// - Throws: ``OfferBookError`` if an id is not held (rescinded or taken already), is repeated, or the
    ///   offers are not all of one agent and one allocation role. Nothing is removed then.
    public mutating func take(_ ids: [OfferID]) throws(OfferBookError) -> [Offer] {
        guard !ids.isEmpty else { throw .empty }
        var seen = Set<String>()
        var held: [HeldOffer] = []
        for id in ids {
            guard seen.insert(id.value).inserted else { throw .duplicate(id) }
            guard let entry = self.entries[id.value] else { throw .notHeld(id) }
            held.append(entry)
        }
        let first = held[0]
        for other in held.dropFirst() {
            if other.agentID != first.agentID { throw .differentAgents(first.id, other.id) }
            if other.role != first.role { throw .differentRoles(first.id, other.id) }
        }
        for id in ids { self.remove(id.value) }
        return held.map(\.offer)
    }

    /// Removes held offers the framework cannot use and returns their DECLINEs (filter as for an expired offer).
    public mutating func decline(_ ids: [OfferID], now: Duration) -> [Decline] {
        ids.compactMap { id in
            guard let entry = self.remove(id.value) else { return nil }
            return self.recordDecline(entry, reason: .unusable, now: now)
        }
    }

    /// Removes the offers whose hold time is over at `now` and returns their DECLINEs, oldest first.
    ///
    /// - Parameters:
    ///   - now: The current time.
    ///   - rolesWithPendingWork: Roles that still have work waiting: their offers are declined with the short
    ///     ``Configuration/refuseSecondsWhileWorkPending`` filter instead of the long one.
    public mutating func expire(now: Duration, rolesWithPendingWork: Set<String> = []) -> [Decline] {
        guard let soonest = self.soonest, soonest <= now else { return [] }
        let due = self.entries.values.filter { $0.expiresAt <= now }
            .sorted { ($0.expiresAt, $0.id.value) < ($1.expiresAt, $1.id.value) }
        return due.map { entry in
            self.remove(entry.id.value)
            let reason: DeclineReason = rolesWithPendingWork.contains(entry.role) ? .holdTimeExpiredWithWorkPending : .holdTimeExpired
            return self.recordDecline(entry, reason: reason, now: now)
        }
    }

    /// Removes a held offer, and finds the earliest expiry again when it was the earliest.
    @discardableResult
    private mutating func remove(_ key: String) -> HeldOffer? {
        guard let entry = self.entries.removeValue(forKey: key) else { return nil }
        if entry.expiresAt == self.soonest { self.soonest = self.entries.values.map(\.expiresAt).min() }
        return entry
    }

    private mutating func recordDecline(_ entry: HeldOffer, reason: DeclineReason, now: Duration) -> Decline {
        let refuse = reason == .holdTimeExpiredWithWorkPending
            ? self.configuration.refuseSecondsWhileWorkPending
            : self.configuration.refuseSeconds + self.jitter(below: self.configuration.refuseJitter)
        let decline = Decline(
            offerID: entry.id, agentID: entry.agentID, role: entry.role, reason: reason,
            refuseSeconds: refuse.inSeconds, at: now)
        self.declines.append(decline)
        let overflow = self.declines.count - max(0, self.configuration.declineHistoryLimit)
        if overflow > 0 { self.declines.removeFirst(overflow) }
        return decline
    }

    private mutating func jitter(below bound: Duration) -> Duration {
        guard bound > .zero else { return .zero }
        let fraction = Double.random(in: 0..<1, using: &self.random)
        return bound * fraction
    }
}

/// Why ``OfferBook/take(_:)`` refused offers.
public enum OfferBookError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No offer ids were given.
    case empty
    /// The offer is not in the book (rescinded, declined, expired or taken).
    case notHeld(OfferID)
    /// The offer id appears twice.
    case duplicate(OfferID)
    /// The offers are on different agents; one ACCEPT may only combine offers of one agent.
    case differentAgents(OfferID, OfferID)
    /// The offers are allocated to different roles; one ACCEPT may only combine offers of one role.
    case differentRoles(OfferID, OfferID)

    /// A sentence describing the refusal.
    public var description: String {
        switch self {
        case .empty: return "No offers given"
        case .notHeld(let id): return "Offer \(id.value) is not held"
        case .duplicate(let id): return "Offer \(id.value) is given twice"
        case .differentAgents(let a, let b): return "Offers \(a.value) and \(b.value) are on different agents"
        case .differentRoles(let a, let b): return "Offers \(a.value) and \(b.value) are allocated to different roles"
        }
    }
}
