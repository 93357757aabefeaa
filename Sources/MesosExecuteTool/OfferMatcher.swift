import MesosCore

/// Decides whether an offer holds the resources a task asks for, counting only resources allocated to the task's
/// role (or carrying no allocation, as offers to single-role frameworks do).
enum OfferMatcher {
    static func fits(_ wanted: [Resource], in offer: Offer, role: String) -> Bool {
        let usable = offer.resources.filter { !$0.hasAllocationInfo || $0.allocationInfo.role == role }
        var scalars: [String: Double] = [:]
        for resource in wanted where resource.type == .scalar {
            scalars[resource.name, default: 0] += resource.scalar.value
        }
        for (name, amount) in scalars {
            let offered = usable.filter { $0.name == name && $0.type == .scalar }.reduce(0) { $0 + $1.scalar.value }
            if offered + 0.0005 < amount { return false }
        }
        for resource in wanted where resource.type == .ranges {
            let offered = usable.filter { $0.name == resource.name && $0.type == .ranges }.flatMap(\.ranges.range)
            for range in resource.ranges.range where !offered.contains(where: { $0.begin <= range.begin && range.end <= $0.end }) {
                return false
            }
        }
        for resource in wanted where resource.type == .set {
            let offered = Set(usable.filter { $0.name == resource.name && $0.type == .set }.flatMap(\.set.item))
            if !Set(resource.set.item).isSubset(of: offered) { return false }
        }
        return true
    }

    /// The offer's scalar resources, e.g. `cpus:2;mem:1024`, for messages.
    static func summary(_ offer: Offer) -> String {
        var totals: [(String, Double)] = []
        for resource in offer.resources where resource.type == .scalar {
            if let index = totals.firstIndex(where: { $0.0 == resource.name }) {
                totals[index].1 += resource.scalar.value
            } else {
                totals.append((resource.name, resource.scalar.value))
            }
        }
        return totals.map { "\($0.0):\(Self.format($0.1))" }.joined(separator: ";")
    }

    static func format(_ value: Double) -> String {
        let rounded = (value * 1000).rounded() / 1000
        if rounded == rounded.rounded() { return String(Int64(rounded)) }
        return String(rounded)
    }
}
