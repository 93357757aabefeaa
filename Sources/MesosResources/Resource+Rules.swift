import MesosCore

// Mesos's rules for a single `Resource`: format normalisation, validation, equality, addable/subtractable,
// containment and value arithmetic. `Resources` builds on these.

extension Resource {
    /// This resource in the post-refinement format: a pre-refinement `role` (and `reservation`) becomes a
    /// one-entry `reservations` stack (STATIC, or DYNAMIC when `reservation` is set), and the deprecated
    /// fields are cleared. Resources already in the new format are returned with `role: "*"` cleared.
    ///
    /// - Throws: ``ResourcesError/Code/invalidResource`` when both formats are mixed, or when a
    ///   `reservation` comes without a role.
    public func normalizedToRefinementFormat() throws(ResourcesError) -> Resource {
        var resource = self
        if !resource.reservations.isEmpty {
            if resource.hasReservation || (resource.hasRole && resource.role != MesosRole.any) {
                throw ResourcesError(
                    .invalidResource,
                    "resource '\(self.name)' sets both 'reservations' and the deprecated 'role'/'reservation'"
                )
            }
            resource.clearRole()
            return resource
        }
        let role = resource.hasRole ? resource.role : MesosRole.any
        if role == MesosRole.any {
            if resource.hasReservation {
                throw ResourcesError(.invalidResource, "resource '\(self.name)' has a 'reservation' but role '*'")
            }
        } else {
            var entry = Resource.ReservationInfo()
            entry.role = role
            if resource.hasReservation {
                entry.type = .dynamic
                if resource.reservation.hasPrincipal { entry.principal = resource.reservation.principal }
                if resource.reservation.hasLabels { entry.labels = resource.reservation.labels }
            } else {
                entry.type = .static
            }
            resource.reservations = [entry]
        }
        resource.clearRole()
        resource.clearReservation()
        return resource
    }

    /// This resource in the pre-refinement format (`role` and `reservation`), for frameworks without the
    /// RESERVATION_REFINEMENT capability.
    ///
    /// - Throws: ``ResourcesError/Code/notRepresentable`` when the stack has more than one entry.
    public func preRefinementFormat() throws(ResourcesError) -> Resource {
        var resource = try self.normalizedToRefinementFormat()
        guard resource.reservations.count <= 1 else {
            throw ResourcesError(
                .notRepresentable,
                "resource '\(self.name)' has \(resource.reservations.count) reservations; the pre-refinement format holds one"
            )
        }
        if let entry = resource.reservations.first {
            resource.role = entry.role
            if entry.type == .dynamic {
                var info = Resource.ReservationInfo()
                if entry.hasPrincipal { info.principal = entry.principal }
                if entry.hasLabels { info.labels = entry.labels }
                resource.reservation = info
            }
        } else {
            resource.role = MesosRole.any
        }
        resource.reservations = []
        return resource
    }

    /// Checks Mesos's validation rules; the resource must be in the post-refinement format (see
    /// ``normalizedToRefinementFormat()``).
    ///
    /// Rules: a non-empty name; type SCALAR, RANGES or SET with exactly the matching value field; a scalar
    /// that is finite, not negative and convertible to fixed point (and whole for `gpus`); ranges with
    /// begin ≤ end that do not overlap; a set without duplicates; reservations whose roles are valid and not
    /// `*`, only the first of which may be STATIC, each later one a strict sub-role of the one before;
    /// `disk` info only on `disk`, a persistence id not empty; `shared` only on persistent volumes; a valid
    /// `allocation_info` role.
    ///
    /// - Throws: ``ResourcesError`` saying which rule is broken.
    public func validateAsMesos() throws(ResourcesError) {
        guard !self.name.isEmpty else { throw ResourcesError(.invalidResource, "empty resource name") }
        guard self.hasType else { throw ResourcesError(.invalidResource, "resource '\(self.name)' has no type") }
        switch self.type {
        case .scalar:
            guard self.hasScalar, !self.hasRanges, !self.hasSet else {
                throw ResourcesError(.invalidResource, "SCALAR resource '\(self.name)' needs exactly a scalar value")
            }
            let value = self.scalar.value
            guard value.isFinite else {
                throw ResourcesError(.invalidResource, "resource '\(self.name)' has the non-finite value \(value)")
            }
            guard value >= 0 else {
                throw ResourcesError(.invalidResource, "resource '\(self.name)' has the negative value \(value)")
            }
            guard let fixed = FixedScalar(value) else {
                throw ResourcesError(.invalidResource, "resource '\(self.name)' has the value \(value), too large")
            }
            if self.name == "gpus", fixed.thousandths % 1000 != 0 {
                throw ResourcesError(.invalidResource, "'gpus' must be a whole number, not \(fixed)")
            }
        case .ranges:
            guard self.hasRanges, !self.hasScalar, !self.hasSet else {
                throw ResourcesError(.invalidResource, "RANGES resource '\(self.name)' needs exactly a ranges value")
            }
            try ResourceRanges(self.ranges).validate()
        case .set:
            guard self.hasSet, !self.hasScalar, !self.hasRanges else {
                throw ResourcesError(.invalidResource, "SET resource '\(self.name)' needs exactly a set value")
            }
            try ResourceSet(self.set).validate()
        default:
            throw ResourcesError(.invalidResource, "resource '\(self.name)' has the unsupported type \(self.type)")
        }
        if !self.reservations.isEmpty && (self.hasReservation || (self.hasRole && self.role != MesosRole.any)) {
            throw ResourcesError(.invalidResource, "resource '\(self.name)' mixes reservation formats")
        }
        for (index, entry) in self.reservations.enumerated() {
            try Self.validateReservation(entry, at: index, below: index > 0 ? self.reservations[index - 1] : nil)
        }
        if self.hasAllocationInfo, self.allocationInfo.hasRole {
            try MesosRole.validate(self.allocationInfo.role)
        }
        if self.hasDisk {
            guard self.name == "disk" else {
                throw ResourcesError(.invalidResource, "DiskInfo set on the non-disk resource '\(self.name)'")
            }
            if self.disk.hasPersistence, !self.disk.persistence.hasID || self.disk.persistence.id.isEmpty {
                throw ResourcesError(.invalidResource, "a persistent volume needs a persistence id")
            }
        }
        if self.hasShared {
            guard self.name == "disk", self.isPersistentVolume else {
                throw ResourcesError(.invalidResource, "only persistent volumes can be shared, not '\(self.name)'")
            }
        }
    }

    static func validateReservation(
        _ entry: Resource.ReservationInfo,
        at index: Int,
        below previous: Resource.ReservationInfo?
    ) throws(ResourcesError) {
        guard entry.hasType, entry.type == .static || entry.type == .dynamic else {
            throw ResourcesError(.invalidReservation, "reservation \(index) has no STATIC/DYNAMIC type")
        }
        guard entry.hasRole else { throw ResourcesError(.invalidReservation, "reservation \(index) has no role") }
        guard entry.role != MesosRole.any else {
            throw ResourcesError(.invalidReservation, "reservation \(index) has the role '*'")
        }
        do {
            try MesosRole.validate(entry.role)
        } catch {
            throw ResourcesError(.invalidReservation, "reservation \(index): \(error.message)")
        }
        if entry.type == .static, index > 0 {
            throw ResourcesError(.invalidReservation, "reservation \(index) is STATIC; only the first may be")
        }
        if let previous, !MesosRole.isStrictSubrole(entry.role, of: previous.role) {
            throw ResourcesError(
                .invalidReservation,
                "reservation \(index) role '\(entry.role)' is not a strict sub-role of '\(previous.role)'"
            )
        }
    }

    /// Whether ``validateAsMesos()`` succeeds.
    public var isValidAsMesos: Bool {
        do { try self.validateAsMesos(); return true } catch { return false }
    }

    /// Whether the value is empty: a scalar of 0 in fixed point, no ranges, or no set items.
    public var isEmptyValue: Bool {
        switch self.type {
        case .scalar: return FixedScalar(self.scalar.value)?.isZero ?? false
        case .ranges: return self.ranges.range.isEmpty
        case .set: return self.set.item.isEmpty
        default: return false
        }
    }

    /// Whether the resource is unreserved (empty stack, and no pre-refinement role other than `*`).
    public var isUnreserved: Bool {
        self.reservations.isEmpty && (!self.hasRole || self.role == MesosRole.any)
    }

    /// The role the resource is reserved to (the top of the stack), or `nil` when unreserved.
    public var reservationRole: String? {
        if let top = self.reservations.last { return top.role }
        if self.hasRole, self.role != MesosRole.any { return self.role }
        return nil
    }

    /// Whether the resource may be allocated to `role`: it is unreserved, or its top reservation's role is
    /// `role` or an ancestor of it. Resources reserved to `eng/backend` are never allocatable to `eng`.
    ///
    /// - Parameter role: The role.
    public func isAllocatable(to role: String) -> Bool {
        guard let reserved = self.reservationRole else { return true }
        return MesosRole.isSameOrSubrole(role, of: reserved)
    }

    /// Whether this is a persistent volume (`disk.persistence` set).
    public var isPersistentVolume: Bool { self.hasDisk && self.disk.hasPersistence }

    /// Mesos's equality (§1.2): metadata compared field by field (labels as multisets, `disk.volume`
    /// ignored) and values compared in fixed point, ranges coalesced, sets as sets.
    ///
    /// - Parameter other: The other resource.
    public func isMesosEqual(to other: Resource) -> Bool {
        Self.sameMetadata(self, other) && self.hasShared == other.hasShared && Self.sameValue(self, other)
    }

    static func sameValue(_ lhs: Resource, _ rhs: Resource) -> Bool {
        switch lhs.type {
        case .scalar: return FixedScalar(lhs.scalar.value) == FixedScalar(rhs.scalar.value)
        case .ranges: return lhs.rangesValue == rhs.rangesValue
        case .set: return ResourceSet(lhs.set) == ResourceSet(rhs.set)
        default: return false
        }
    }

    /// Name, type, allocation info, reservations, disk, revocable and provider; not the value, not shared.
    static func sameMetadata(_ lhs: Resource, _ rhs: Resource) -> Bool {
        guard lhs.name == rhs.name, lhs.type == rhs.type else { return false }
        guard lhs.hasAllocationInfo == rhs.hasAllocationInfo else { return false }
        if lhs.hasAllocationInfo {
            guard lhs.allocationInfo.hasRole == rhs.allocationInfo.hasRole,
                lhs.allocationInfo.role == rhs.allocationInfo.role
            else { return false }
        }
        guard lhs.reservations.count == rhs.reservations.count else { return false }
        for (a, b) in zip(lhs.reservations, rhs.reservations) where !Self.sameReservation(a, b) {
            return false
        }
        guard lhs.hasDisk == rhs.hasDisk else { return false }
        if lhs.hasDisk, !Self.sameDisk(lhs.disk, rhs.disk) { return false }
        guard lhs.hasRevocable == rhs.hasRevocable else { return false }
        guard lhs.hasProviderID == rhs.hasProviderID else { return false }
        if lhs.hasProviderID, lhs.providerID.value != rhs.providerID.value { return false }
        return true
    }

    static func sameReservation(_ a: Resource.ReservationInfo, _ b: Resource.ReservationInfo) -> Bool {
        a.hasType == b.hasType && a.type == b.type && a.hasRole == b.hasRole && a.role == b.role
            && a.hasPrincipal == b.hasPrincipal && a.principal == b.principal
            && a.hasLabels == b.hasLabels && Self.sameLabels(a.labels, b.labels)
    }

    /// Labels as an unordered multiset of (key, value presence, value).
    static func sameLabels(_ a: Labels, _ b: Labels) -> Bool {
        guard a.labels.count == b.labels.count else { return false }
        func key(_ label: Label) -> String {
            // Length-prefixed so that no two different labels collide.
            let value = label.hasValue ? "v\(label.value.utf8.count):\(label.value)" : "-"
            return "\(label.key.utf8.count):\(label.key)|\(value)"
        }
        var counts: [String: Int] = [:]
        for label in a.labels { counts[key(label), default: 0] += 1 }
        for label in b.labels {
            let k = key(label)
            guard let count = counts[k], count > 0 else { return false }
            counts[k] = count - 1
        }
        return true
    }

    static func sameDisk(_ a: Resource.DiskInfo, _ b: Resource.DiskInfo) -> Bool {
        guard a.hasSource == b.hasSource, a.hasPersistence == b.hasPersistence else { return false }
        if a.hasPersistence, a.persistence.id != b.persistence.id { return false }
        if a.hasSource {
            let s = a.source, t = b.source
            guard s.hasType == t.hasType, s.type == t.type,
                s.hasPath == t.hasPath, s.path.hasRoot == t.path.hasRoot, s.path.root == t.path.root,
                s.hasMount == t.hasMount, s.mount.hasRoot == t.mount.hasRoot, s.mount.root == t.mount.root,
                s.hasID == t.hasID, s.id == t.id,
                s.hasProfile == t.hasProfile, s.profile == t.profile,
                s.hasVendor == t.hasVendor, s.vendor == t.vendor,
                s.hasMetadata == t.hasMetadata, Self.sameLabels(s.metadata, t.metadata)
            else { return false }
        }
        return true
    }

    /// Whether the disk is exclusive (MOUNT, BLOCK, RAW with an id) or a persistent volume: such
    /// resources are never added together and are subtracted only when equal.
    var isExclusiveDisk: Bool {
        guard self.hasDisk else { return false }
        if self.disk.hasPersistence { return true }
        guard self.disk.hasSource else { return false }
        switch self.disk.source.type {
        case .mount, .block: return true
        case .raw: return self.disk.source.hasID
        default: return false
        }
    }

    /// Mesos's `addable` (§1.3).
    static func addable(_ lhs: Resource, _ rhs: Resource) -> Bool {
        guard lhs.hasShared == rhs.hasShared else { return false }
        if lhs.hasShared { return lhs.isMesosEqual(to: rhs) }
        guard Self.sameMetadata(lhs, rhs) else { return false }
        return !lhs.isExclusiveDisk
    }

    /// Mesos's `subtractable` (§1.3).
    static func subtractable(_ lhs: Resource, _ rhs: Resource) -> Bool {
        guard lhs.hasShared == rhs.hasShared else { return false }
        if lhs.hasShared { return lhs.isMesosEqual(to: rhs) }
        guard Self.sameMetadata(lhs, rhs) else { return false }
        if lhs.isExclusiveDisk { return lhs.isMesosEqual(to: rhs) }
        return true
    }

    /// Mesos's single-resource `contains`: subtractable, and `rhs`'s value fits in `lhs`'s.
    static func contains(_ lhs: Resource, _ rhs: Resource) -> Bool {
        guard Self.subtractable(lhs, rhs) else { return false }
        switch lhs.type {
        case .scalar:
            guard let l = FixedScalar(lhs.scalar.value), let r = FixedScalar(rhs.scalar.value) else { return false }
            return r <= l
        case .ranges: return lhs.rangesValue.contains(rhs.rangesValue)
        case .set: return ResourceSet(lhs.set).contains(ResourceSet(rhs.set))
        default: return false
        }
    }

    /// The ranges value, with reversed intervals (invalid, never inside `Resources`) dropped.
    var rangesValue: ResourceRanges {
        ResourceRanges(self.ranges.range.compactMap { $0.begin <= $0.end ? $0.begin...$0.end : nil })
    }

    /// Sets the value from ranges.
    mutating func setRanges(_ ranges: ResourceRanges) {
        self.ranges = ranges.value
    }

    /// Adds `other`'s value (the caller checked `addable`).
    mutating func addValue(of other: Resource) {
        switch self.type {
        case .scalar:
            let sum = (FixedScalar(self.scalar.value) ?? .zero) + (FixedScalar(other.scalar.value) ?? .zero)
            self.scalar.value = sum.doubleValue
        case .ranges:
            self.setRanges(self.rangesValue + other.rangesValue)
        case .set:
            self.set = (ResourceSet(self.set) + ResourceSet(other.set)).value
        default:
            break
        }
    }

    /// Subtracts `other`'s value (the caller checked `subtractable`). Returns false when the result is
    /// negative (a scalar below zero), which Mesos drops.
    mutating func subtractValue(of other: Resource) -> Bool {
        switch self.type {
        case .scalar:
            let difference = (FixedScalar(self.scalar.value) ?? .zero) - (FixedScalar(other.scalar.value) ?? .zero)
            self.scalar.value = difference.doubleValue
            return difference.thousandths >= 0
        case .ranges:
            self.setRanges(self.rangesValue - other.rangesValue)
        case .set:
            self.set = (ResourceSet(self.set) - ResourceSet(other.set)).value
        default:
            break
        }
        return true
    }
}
