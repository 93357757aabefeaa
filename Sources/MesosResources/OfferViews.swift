import MesosCore

/// A wire message that carries a list of resources: an offer, a task or an executor. Its extension reads
/// those resources with Mesos's semantics (``Resources``).
public protocol ResourceHolding {
    /// The resources, as on the wire.
    var resources: [Resource] { get }
}

extension Offer: ResourceHolding {}
extension TaskInfo: ResourceHolding {}
extension ExecutorInfo: ResourceHolding {}

extension ResourceHolding {
    /// The resources as a combined ``Resources`` collection (normalised; invalid ones dropped, as in Mesos).
    public var resourceView: Resources { Resources(self.resources) }

    /// The total of the scalar resources named `name` over every role and reservation, or `nil` when
    /// there are none: `offer.scalar("cpus")`.
    ///
    /// - Parameter name: E.g. `"cpus"`, `"mem"`, `"disk"`, `"gpus"`.
    public func scalar(_ name: String) -> Double? { self.resourceView.scalar(name) }

    /// The union of the ranges resources named `name`, coalesced, or `nil` when there are none:
    /// `offer.ranges("ports")`.
    ///
    /// - Parameter name: E.g. `"ports"`.
    public func ranges(_ name: String) -> ResourceRanges? { self.resourceView.ranges(name) }

    /// The union of the set resources named `name`, or `nil` when there are none.
    ///
    /// - Parameter name: The resource name.
    public func set(_ name: String) -> ResourceSet? { self.resourceView.set(name) }

    /// The resources named `name`, optionally only those of one role.
    ///
    /// - Parameters:
    ///   - name: The resource name.
    ///   - role: `nil` for every resource, `"*"` for unreserved ones, otherwise those whose top
    ///     reservation is to `role`.
    public func resources(named name: String, role: String? = nil) -> Resources {
        let named = self.resourceView.filtered { $0.name == name }
        switch role {
        case nil: return named
        case MesosRole.any?: return named.unreserved()
        case let role?: return named.reserved(role)
        }
    }
}

extension Offer {
    /// The value of the first attribute named `name`, or `nil`: `offer.attribute("rack")`.
    ///
    /// - Parameter name: The attribute name.
    public func attribute(_ name: String) -> AttributeValue? { self.attributes.value(of: name) }

    /// Every attribute with its typed value, in offer order (attributes whose type does not match their
    /// value are left out).
    public var attributeValues: [(name: String, value: AttributeValue)] {
        self.attributes.compactMap { attribute in attribute.value.map { (attribute.name, $0) } }
    }

    /// The agent's fault-domain region, or `nil` when the offer has none.
    public var region: String? {
        guard self.hasDomain, self.domain.hasFaultDomain, self.domain.faultDomain.hasRegion else { return nil }
        return self.domain.faultDomain.region.name
    }

    /// The agent's fault-domain zone, or `nil` when the offer has none.
    public var zone: String? {
        guard self.hasDomain, self.domain.hasFaultDomain, self.domain.faultDomain.hasZone else { return nil }
        return self.domain.faultDomain.zone.name
    }

    /// The role the offer is allocated to (`allocation_info.role`, set for MULTI_ROLE frameworks), else the
    /// role of the first resource that carries one, else `nil`.
    public var allocationRole: String? {
        if self.hasAllocationInfo, self.allocationInfo.hasRole { return self.allocationInfo.role }
        for resource in self.resources where resource.hasAllocationInfo && resource.allocationInfo.hasRole {
            return resource.allocationInfo.role
        }
        return nil
    }
}
