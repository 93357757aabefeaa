import MesosCore

/// A combined collection of resources with Mesos's semantics.
///
/// Every resource is kept in the post-refinement format (`reservations` stack). Adding a resource merges
/// it into the first entry it is *addable* to (same name, type, allocation role, reservations, disk,
/// revocable, provider; never for MOUNT/BLOCK disks, RAW disks with an id or persistent volumes), or
/// appends it. Identical shared resources are counted instead of added. Empty resources (scalar 0 in
/// fixed point, no ranges, no set items) are dropped.
///
/// `-` follows Mesos: it subtracts from the first *subtractable* entry and silently drops an entry that
/// becomes empty or negative. Use ``subtracting(_:)`` for a checked subtraction.
///
/// Equality is mutual ``contains(_:)-(Resources)``, as in Mesos. Iterating yields each entry; a shared
/// resource counted *n* times is yielded *n* times, so `Resources(Array(r)) == r`.
///
/// ```swift
/// let offer = try Resources(parsing: "cpus:4;mem:1024;ports:[31000-32000]")
/// let task = try Resources(parsing: "cpus:1;mem:128;ports:[31000-31000]")
/// offer.contains(task)          // true
/// try offer.subtracting(task)   // cpus:3;mem:896;ports:[31001-32000]
/// ```
public struct Resources: Sendable, Hashable, Sequence, ExpressibleByArrayLiteral, CustomStringConvertible {
    /// One combined entry: a resource, and how many copies of it when it is shared.
    struct Entry: Sendable {
        var resource: Resource
        /// 1 for non-shared resources.
        var count: Int
    }

    private(set) var entries: [Entry] = []

    /// An empty collection.
    public init() {}

    /// Builds a collection the way Mesos does: resources are normalised to the refinement format, invalid
    /// and empty ones are silently dropped, the rest are combined.
    ///
    /// - Parameter resources: The resources.
    public init(_ resources: some Sequence<Resource>) {
        for resource in resources {
            guard let normalized = try? resource.normalizedToRefinementFormat(), normalized.isValidAsMesos else {
                continue
            }
            self.add(normalized, count: 1)
        }
    }

    /// Builds a collection, refusing invalid resources instead of dropping them. Empty resources are
    /// still dropped (they are valid).
    ///
    /// - Parameter resources: The resources.
    /// - Throws: ``ResourcesError`` for the first invalid resource, with its index.
    public init(validating resources: some Sequence<Resource>) throws(ResourcesError) {
        for (index, resource) in resources.enumerated() {
            do {
                let normalized = try resource.normalizedToRefinementFormat()
                try normalized.validateAsMesos()
                self.add(normalized, count: 1)
            } catch {
                throw ResourcesError(error.code, "resource \(index): \(error.message)")
            }
        }
    }

    /// Builds a collection from resource literals (invalid ones are dropped, as in Mesos).
    ///
    /// - Parameter elements: The resources.
    public init(arrayLiteral elements: Resource...) {
        self.init(elements)
    }

    // MARK: Sequence

    /// Iterates over the entries; a shared resource counted *n* times is yielded *n* times.
    public struct Iterator: IteratorProtocol {
        private let entries: [Entry]
        private var index = 0
        private var emitted = 0

        init(_ entries: [Entry]) { self.entries = entries }

        /// The next resource.
        public mutating func next() -> Resource? {
            while self.index < self.entries.count {
                let entry = self.entries[self.index]
                if self.emitted < entry.count {
                    self.emitted += 1
                    return entry.resource
                }
                self.index += 1
                self.emitted = 0
            }
            return nil
        }
    }

    /// An iterator over the resources.
    public func makeIterator() -> Iterator { Iterator(self.entries) }

    /// The combined entries, each once (shared resources once, whatever their count).
    public var combined: [Resource] { self.entries.map(\.resource) }

    /// The resources as a plain array, suitable for a call (shared resources repeated by their count).
    public var array: [Resource] { Array(self) }

    /// Whether there are no resources.
    public var isEmpty: Bool { self.entries.isEmpty }

    /// How many copies of the shared resource `resource` the collection holds (0 when none, or when
    /// `resource` is not shared).
    ///
    /// - Parameter resource: A shared resource.
    public func sharedCount(of resource: Resource) -> Int {
        guard resource.hasShared, let normalized = try? resource.normalizedToRefinementFormat() else { return 0 }
        return self.entries.first { $0.resource.hasShared && $0.resource.isMesosEqual(to: normalized) }?.count ?? 0
    }

    // MARK: Combining

    private mutating func add(_ resource: Resource, count: Int) {
        guard count > 0, !resource.isEmptyValue else { return }
        for index in self.entries.indices where Resource.addable(self.entries[index].resource, resource) {
            if resource.hasShared {
                self.entries[index].count += count
            } else {
                self.entries[index].resource.addValue(of: resource)
            }
            return
        }
        self.entries.append(Entry(resource: resource, count: count))
    }

    private mutating func subtract(_ resource: Resource, count: Int) {
        guard count > 0, !resource.isEmptyValue else { return }
        for index in self.entries.indices where Resource.subtractable(self.entries[index].resource, resource) {
            var remove: Bool
            if resource.hasShared {
                self.entries[index].count -= count
                remove = self.entries[index].count <= 0
            } else {
                let nonNegative = self.entries[index].resource.subtractValue(of: resource)
                remove = !nonNegative || self.entries[index].resource.isEmptyValue
            }
            if remove { self.entries.remove(at: index) }
            return
        }
    }

    /// Whether a single entry contains `resource` (shared ones: equal, with at least `count` copies).
    private func containsEntry(_ resource: Resource, count: Int) -> Bool {
        self.entries.contains { entry in
            guard entry.resource.hasShared == resource.hasShared else { return false }
            if resource.hasShared { return entry.count >= count && entry.resource.isMesosEqual(to: resource) }
            return Resource.contains(entry.resource, resource)
        }
    }

    /// The sum: every entry of `rhs` is added to `lhs` (combined).
    public static func + (lhs: Resources, rhs: Resources) -> Resources {
        var result = lhs
        result += rhs
        return result
    }

    /// Adds every entry of `rhs`.
    public static func += (lhs: inout Resources, rhs: Resources) {
        for entry in rhs.entries { lhs.add(entry.resource, count: entry.count) }
    }

    /// Adds one resource (normalised first; dropped when invalid or empty, as in Mesos).
    public static func + (lhs: Resources, rhs: Resource) -> Resources {
        lhs + Resources([rhs])
    }

    /// Mesos's subtraction: each entry of `rhs` is taken from the first subtractable entry of `lhs`; an
    /// entry that becomes empty or negative is dropped. Asking for more than is there is not an error
    /// (`{cpus 1} − {cpus 2}` is empty): check ``contains(_:)-(Resources)`` first, or use
    /// ``subtracting(_:)``.
    public static func - (lhs: Resources, rhs: Resources) -> Resources {
        var result = lhs
        result -= rhs
        return result
    }

    /// Subtracts every entry of `rhs` with Mesos's semantics (see `-`).
    public static func -= (lhs: inout Resources, rhs: Resources) {
        for entry in rhs.entries { lhs.subtract(entry.resource, count: entry.count) }
    }

    /// Subtracts one resource with Mesos's semantics (normalised first; ignored when invalid).
    public static func - (lhs: Resources, rhs: Resource) -> Resources {
        lhs - Resources([rhs])
    }

    /// A checked subtraction.
    ///
    /// - Parameter other: What to take away.
    /// - Returns: `self − other`.
    /// - Throws: ``ResourcesError/Code/notContained`` when `self` does not contain `other`.
    public func subtracting(_ other: Resources) throws(ResourcesError) -> Resources {
        guard self.contains(other) else {
            throw ResourcesError(.notContained, "\(self) does not contain \(other)")
        }
        return self - other
    }

    // MARK: Containment and equality

    /// Whether every entry of `other` is contained in a single entry of `self` (persistent volumes are
    /// used up as they match, so two copies of a volume need two).
    ///
    /// - Parameter other: The candidate subset.
    public func contains(_ other: Resources) -> Bool {
        var remaining = self
        for entry in other.entries {
            guard remaining.containsEntry(entry.resource, count: entry.count) else { return false }
            if entry.resource.isPersistentVolume { remaining.subtract(entry.resource, count: entry.count) }
        }
        return true
    }

    /// Whether `self` contains the single resource `resource` (normalised first; false when invalid).
    ///
    /// - Parameter resource: The resource.
    public func contains(_ resource: Resource) -> Bool {
        guard let normalized = try? resource.normalizedToRefinementFormat(), normalized.isValidAsMesos else {
            return false
        }
        return self.contains(Resources([normalized]))
    }

    /// Mutual containment, as Mesos defines `Resources ==`.
    public static func == (lhs: Resources, rhs: Resources) -> Bool {
        lhs.contains(rhs) && rhs.contains(lhs)
    }

    /// Hashes the distinct resource names, which equal collections share.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(Set(self.entries.map(\.resource.name)))
    }

    // MARK: Queries

    /// The total of the scalar resources named `name` (in fixed point), or `nil` when there are none.
    ///
    /// - Parameter name: E.g. `"cpus"`.
    public func scalar(_ name: String) -> Double? {
        var total: FixedScalar?
        for entry in self.entries where entry.resource.name == name && entry.resource.type == .scalar {
            let value = FixedScalar(entry.resource.scalar.value) ?? .zero
            total = (total ?? .zero) + value
        }
        return total?.doubleValue
    }

    /// The union of the ranges resources named `name`, coalesced, or `nil` when there are none.
    ///
    /// - Parameter name: E.g. `"ports"`.
    public func ranges(_ name: String) -> ResourceRanges? {
        var total: ResourceRanges?
        for entry in self.entries where entry.resource.name == name && entry.resource.type == .ranges {
            total = (total ?? ResourceRanges()) + entry.resource.rangesValue
        }
        return total
    }

    /// The union of the set resources named `name`, or `nil` when there are none.
    ///
    /// - Parameter name: The resource name.
    public func set(_ name: String) -> ResourceSet? {
        var total: ResourceSet?
        for entry in self.entries where entry.resource.name == name && entry.resource.type == .set {
            total = (total ?? ResourceSet()) + ResourceSet(entry.resource.set)
        }
        return total
    }

    /// The distinct resource names, in first-seen order.
    public var names: [String] {
        var seen = Set<String>()
        return self.entries.map(\.resource.name).filter { seen.insert($0).inserted }
    }

    /// Scalar totals by name, ignoring all metadata (Mesos's `ResourceQuantities` for scalars).
    public var scalarQuantities: [String: Double] {
        self.fixedScalarTotals.mapValues(\.doubleValue)
    }

    private var fixedScalarTotals: [String: FixedScalar] {
        var totals: [String: FixedScalar] = [:]
        for entry in self.entries where entry.resource.type == .scalar {
            totals[entry.resource.name, default: .zero] =
                totals[entry.resource.name, default: .zero] + (FixedScalar(entry.resource.scalar.value) ?? .zero)
        }
        return totals
    }

    /// Name and scalar value only, every other field dropped, re-combined (Mesos's
    /// `createStrippedScalarQuantity`); non-scalar resources are left out.
    public func strippedScalarQuantities() -> Resources {
        var result = Resources()
        for entry in self.entries where entry.resource.type == .scalar {
            var stripped = Resource()
            stripped.name = entry.resource.name
            stripped.type = .scalar
            stripped.scalar.value = entry.resource.scalar.value
            result.add(stripped, count: entry.count)
        }
        return result
    }

    /// Whether, for every name in `quantities`, the scalar total here is at least that much, ignoring all
    /// metadata (Mesos's `contains(ResourceQuantities)` for scalars). Compared in fixed point; a
    /// quantity that is not finite or not convertible is never contained, and a zero one always is.
    ///
    /// - Parameter quantities: Totals by name, e.g. `["cpus": 2, "mem": 512]`.
    public func containsQuantities(_ quantities: [String: Double]) -> Bool {
        let totals = self.fixedScalarTotals
        for (name, quantity) in quantities {
            guard let wanted = FixedScalar(quantity) else { return false }
            if wanted > totals[name, default: .zero] { return false }
        }
        return true
    }

    // MARK: Filters

    /// The entries for which `isIncluded` is true (counts kept).
    ///
    /// - Parameter isIncluded: The predicate.
    public func filtered(_ isIncluded: (Resource) throws -> Bool) rethrows -> Resources {
        var result = Resources()
        result.entries = try self.entries.filter { try isIncluded($0.resource) }
        return result
    }

    /// Resources whose top reservation is to `role`, or all reserved resources when `role` is `nil`.
    ///
    /// - Parameter role: The role, or `nil` for any.
    public func reserved(_ role: String? = nil) -> Resources {
        self.filtered { resource in
            guard let reserved = resource.reservationRole else { return false }
            return role == nil || reserved == role
        }
    }

    /// Unreserved resources.
    public func unreserved() -> Resources { self.filtered(\.isUnreserved) }

    /// Resources that may be allocated to `role` (see ``MesosCore/Mesos_V1_Resource/isAllocatable(to:)``).
    ///
    /// - Parameter role: The role.
    public func allocatable(to role: String) -> Resources { self.filtered { $0.isAllocatable(to: role) } }

    /// Revocable resources.
    public func revocable() -> Resources { self.filtered(\.hasRevocable) }

    /// Non-revocable resources.
    public func nonRevocable() -> Resources { self.filtered { !$0.hasRevocable } }

    /// Shared resources.
    public func shared() -> Resources { self.filtered(\.hasShared) }

    /// Non-shared resources.
    public func nonShared() -> Resources { self.filtered { !$0.hasShared } }

    /// Persistent volumes.
    public func persistentVolumes() -> Resources { self.filtered(\.isPersistentVolume) }

    /// The resources grouped by `allocation_info.role`; resources without one are left out.
    public var allocations: [String: Resources] {
        var result: [String: Resources] = [:]
        for entry in self.entries where entry.resource.hasAllocationInfo && entry.resource.allocationInfo.hasRole {
            result[entry.resource.allocationInfo.role, default: Resources()].add(entry.resource, count: entry.count)
        }
        return result
    }

    // MARK: Reservations and allocation

    /// Every resource with `allocation_info.role` set to `role`, re-combined.
    ///
    /// - Parameter role: The offer's role.
    public func allocated(to role: String) -> Resources {
        var result = Resources()
        for var entry in self.entries {
            entry.resource.allocationInfo.role = role
            result.add(entry.resource, count: entry.count)
        }
        return result
    }

    /// Every resource without `allocation_info`, re-combined.
    public func unallocated() -> Resources {
        var result = Resources()
        for var entry in self.entries {
            entry.resource.clearAllocationInfo()
            result.add(entry.resource, count: entry.count)
        }
        return result
    }

    /// Every reservation stack cleared, re-combined (Mesos's `toUnreserved`, the replacement of
    /// `flatten`). Use it to compare quantities, never to build task resources.
    public func toUnreserved() -> Resources {
        var result = Resources()
        for var entry in self.entries {
            entry.resource.reservations = []
            result.add(entry.resource, count: entry.count)
        }
        return result
    }

    /// Every resource with `reservation` pushed onto its stack, re-combined.
    ///
    /// - Parameter reservation: The new top entry: DYNAMIC, its role a strict sub-role of the current top
    ///   (any valid role, not `*`, on unreserved resources).
    /// - Throws: ``ResourcesError/Code/invalidReservation`` otherwise.
    public func pushingReservation(_ reservation: Resource.ReservationInfo) throws(ResourcesError) -> Resources {
        guard reservation.hasType, reservation.type == .dynamic else {
            throw ResourcesError(.invalidReservation, "only a DYNAMIC reservation can be pushed")
        }
        var result = Resources()
        for var entry in self.entries {
            let below = entry.resource.reservations.last
            try Resource.validateReservation(reservation, at: entry.resource.reservations.count, below: below)
            entry.resource.reservations.append(reservation)
            result.add(entry.resource, count: entry.count)
        }
        return result
    }

    /// Every resource with its top reservation removed, re-combined (what UNRESERVE gives back).
    ///
    /// - Throws: ``ResourcesError/Code/invalidReservation`` when a resource is unreserved.
    public func poppingReservation() throws(ResourcesError) -> Resources {
        var result = Resources()
        for var entry in self.entries {
            guard !entry.resource.reservations.isEmpty else {
                throw ResourcesError(.invalidReservation, "cannot pop a reservation of the unreserved '\(entry.resource.name)'")
            }
            entry.resource.reservations.removeLast()
            result.add(entry.resource, count: entry.count)
        }
        return result
    }

    /// What a framework's RESERVE of `targets` consumes from `offer`, checked locally as the master would.
    ///
    /// Each target must carry a DYNAMIC top reservation, an `allocation_info.role` equal to that reservation's
    /// role, and all targets must share one role (and `principal`, when given). The consumed resources are
    /// the targets with that entry popped; `offer` must contain them.
    ///
    /// - Parameters:
    ///   - targets: The RESERVE operation's resources.
    ///   - offer: The offer's resources (or what is left of them after earlier operations).
    ///   - principal: The framework's principal, when it is authenticated.
    ///   - frameworkRoles: The framework's roles, when known: the reservation role must be one of them.
    /// - Returns: The resources taken from the offer.
    /// - Throws: ``ResourcesError`` saying which rule is broken.
    public static func consumedByReserving(
        _ targets: Resources,
        from offer: Resources,
        principal: String? = nil,
        frameworkRoles: Set<String>? = nil
    ) throws(ResourcesError) -> Resources {
        guard !targets.isEmpty else { throw ResourcesError(.invalidReservation, "RESERVE with no resources") }
        var role: String?
        for entry in targets.entries {
            let resource = entry.resource
            guard let top = resource.reservations.last, top.type == .dynamic else {
                throw ResourcesError(.invalidReservation, "RESERVE target '\(resource.name)' has no DYNAMIC top reservation")
            }
            guard resource.hasAllocationInfo, resource.allocationInfo.role == top.role else {
                throw ResourcesError(
                    .roleMismatch,
                    "RESERVE target '\(resource.name)' must be allocated to its reservation role '\(top.role)'"
                )
            }
            if let role, role != top.role {
                throw ResourcesError(.roleMismatch, "RESERVE targets use the roles '\(role)' and '\(top.role)'")
            }
            role = top.role
            if let frameworkRoles, !frameworkRoles.contains(top.role) {
                throw ResourcesError(.roleMismatch, "the framework is not subscribed to the role '\(top.role)'")
            }
            if let principal, top.hasPrincipal, top.principal != principal {
                throw ResourcesError(
                    .invalidReservation,
                    "RESERVE principal '\(top.principal)' is not the framework's '\(principal)'"
                )
            }
        }
        let consumed = try targets.poppingReservation()
        guard offer.contains(consumed) else {
            throw ResourcesError(.notContained, "the offer \(offer) does not contain \(consumed)")
        }
        return consumed
    }
}
