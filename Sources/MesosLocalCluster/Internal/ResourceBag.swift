import MesosCore

/// Unreserved resources summed by name (scalars, ranges, sets), with the arithmetic offers and launches need.
///
/// Scalars are kept to three decimals, as the Mesos master does, so that `0.1 + 0.2` fits in `0.3`.
struct ResourceBag: Sendable, Equatable {
    var scalars: [String: Double] = [:]
    var ranges: [String: [ClosedRange<UInt64>]] = [:]
    var sets: [String: Set<String>] = [:]

    init() {}

    /// Sums resources, ignoring their roles (the caller checks roles) and text values.
    init(_ resources: [Resource]) {
        for resource in resources {
            self.add(resource)
        }
    }

    mutating func add(_ resource: Resource) {
        switch resource.type {
        case .scalar:
            self.scalars[resource.name] = Self.round((self.scalars[resource.name] ?? 0) + resource.scalar.value)
        case .ranges:
            let added = resource.ranges.range.compactMap { $0.begin <= $0.end ? $0.begin...$0.end : nil }
            self.ranges[resource.name] = Self.normalize((self.ranges[resource.name] ?? []) + added)
        case .set:
            self.sets[resource.name, default: []].formUnion(resource.set.item)
        default:
            break
        }
    }

    var isEmpty: Bool {
        self.scalars.values.allSatisfy { $0 <= 0 } && self.ranges.values.allSatisfy(\.isEmpty)
            && self.sets.values.allSatisfy(\.isEmpty)
    }

    /// Whether an offer of these resources is worth making (Mesos's minimum: 0.01 cpus or 32 MB).
    var isAllocatable: Bool {
        (self.scalars["cpus"] ?? 0) >= 0.01 || (self.scalars["mem"] ?? 0) >= 32
    }

    mutating func add(_ other: ResourceBag) {
        for (name, value) in other.scalars {
            self.scalars[name] = Self.round((self.scalars[name] ?? 0) + value)
        }
        for (name, value) in other.ranges {
            self.ranges[name] = Self.normalize((self.ranges[name] ?? []) + value)
        }
        for (name, value) in other.sets {
            self.sets[name, default: []].formUnion(value)
        }
        self.dropEmpty()
    }

    /// Removes `other`; whatever `other` holds beyond `self` is ignored.
    mutating func subtract(_ other: ResourceBag) {
        for (name, value) in other.scalars {
            self.scalars[name] = max(0, Self.round((self.scalars[name] ?? 0) - value))
        }
        for (name, value) in other.ranges {
            self.ranges[name] = Self.subtract(value, from: self.ranges[name] ?? [])
        }
        for (name, value) in other.sets {
            self.sets[name]?.subtract(value)
        }
        self.dropEmpty()
    }

    func subtracting(_ other: ResourceBag) -> ResourceBag {
        var copy = self
        copy.subtract(other)
        return copy
    }

    func adding(_ other: ResourceBag) -> ResourceBag {
        var copy = self
        copy.add(other)
        return copy
    }

    /// Whether every resource of `other` is in `self`.
    func contains(_ other: ResourceBag) -> Bool {
        for (name, value) in other.scalars where value > 0 {
            guard (self.scalars[name] ?? 0) + 0.0005 >= value else { return false }
        }
        for (name, value) in other.ranges {
            let mine = self.ranges[name] ?? []
            for range in value where !mine.contains(where: { $0.lowerBound <= range.lowerBound && range.upperBound <= $0.upperBound }) {
                return false
            }
        }
        for (name, value) in other.sets where !value.isSubset(of: self.sets[name] ?? []) {
            return false
        }
        return true
    }

    /// What `other` asks for beyond `self`, as text, for error messages.
    func shortfall(of other: ResourceBag) -> String {
        var missing: [String] = []
        for (name, value) in other.scalars.sorted(by: { $0.key < $1.key }) where value > (self.scalars[name] ?? 0) + 0.0005 {
            missing.append("\(name) \(Self.format(value)) > \(Self.format(self.scalars[name] ?? 0)) available")
        }
        for (name, value) in other.ranges.sorted(by: { $0.key < $1.key }) {
            let mine = ResourceBag(ranges: [name: self.ranges[name] ?? []])
            if !mine.contains(ResourceBag(ranges: [name: value])) {
                missing.append("\(name) \(Self.format(value)) not within \(Self.format(self.ranges[name] ?? []))")
            }
        }
        for (name, value) in other.sets.sorted(by: { $0.key < $1.key }) where !value.isSubset(of: self.sets[name] ?? []) {
            missing.append("\(name) {\(value.subtracting(self.sets[name] ?? []).sorted().joined(separator: ","))} not available")
        }
        return missing.joined(separator: ", ")
    }

    private init(ranges: [String: [ClosedRange<UInt64>]]) {
        self.ranges = ranges
    }

    /// The bag as wire resources. `role` sets the pre-refinement `role` field, `allocationRole` the
    /// `allocation_info.role` of a MULTI_ROLE framework.
    func resources(role: String?, allocationRole: String?) -> [Resource] {
        var result: [Resource] = []
        func finish(_ resource: inout Resource) {
            if let role { resource.role = role }
            if let allocationRole { resource.allocationInfo.role = allocationRole }
        }
        for name in Self.ordered(self.scalars.keys) {
            guard let value = self.scalars[name], value > 0 else { continue }
            var resource = Resource.scalar(name, value)
            finish(&resource)
            result.append(resource)
        }
        for name in Self.ordered(self.ranges.keys) {
            guard let value = self.ranges[name], !value.isEmpty else { continue }
            var resource = Resource.ranges(name, value)
            finish(&resource)
            result.append(resource)
        }
        for name in Self.ordered(self.sets.keys) {
            guard let value = self.sets[name], !value.isEmpty else { continue }
            var resource = Resource.set(name, value.sorted())
            finish(&resource)
            result.append(resource)
        }
        return result
    }

    /// `cpus:2;mem:1024;ports:[31000-32000]`, in Mesos's resource text format.
    var summary: String {
        ResourceText.format(self.resources(role: nil, allocationRole: nil))
    }

    // MARK: - Helpers

    private mutating func dropEmpty() {
        self.scalars = self.scalars.filter { $0.value > 0 }
        self.ranges = self.ranges.filter { !$0.value.isEmpty }
        self.sets = self.sets.filter { !$0.value.isEmpty }
    }

    /// cpus, mem, disk, gpus, ports first, then the rest by name.
    private static func ordered(_ names: Dictionary<String, some Any>.Keys) -> [String] {
        let preferred = ["cpus", "gpus", "mem", "disk", "ports"]
        return names.sorted { lhs, rhs in
            let left = preferred.firstIndex(of: lhs) ?? preferred.count
            let right = preferred.firstIndex(of: rhs) ?? preferred.count
            return left == right ? lhs < rhs : left < right
        }
    }

    static func round(_ value: Double) -> Double {
        (value * 1000).rounded() / 1000
    }

    static func format(_ value: Double) -> String {
        ResourceText.format(scalar: value)
    }

    static func format(_ ranges: [ClosedRange<UInt64>]) -> String {
        "[" + ranges.map { "\($0.lowerBound)-\($0.upperBound)" }.joined(separator: ",") + "]"
    }

    static func normalize(_ ranges: [ClosedRange<UInt64>]) -> [ClosedRange<UInt64>] {
        let sorted = ranges.sorted { $0.lowerBound < $1.lowerBound }
        var result: [ClosedRange<UInt64>] = []
        for range in sorted {
            if let last = result.last, range.lowerBound <= last.upperBound &+ 1, last.upperBound != .max {
                result[result.count - 1] = last.lowerBound...max(last.upperBound, range.upperBound)
            } else if let last = result.last, last.upperBound == .max {
                continue
            } else {
                result.append(range)
            }
        }
        return result
    }

    static func subtract(_ removed: [ClosedRange<UInt64>], from ranges: [ClosedRange<UInt64>]) -> [ClosedRange<UInt64>] {
        var result = ranges
        for cut in removed {
            var next: [ClosedRange<UInt64>] = []
            for range in result {
                if cut.upperBound < range.lowerBound || cut.lowerBound > range.upperBound {
                    next.append(range)
                    continue
                }
                if cut.lowerBound > range.lowerBound {
                    next.append(range.lowerBound...(cut.lowerBound - 1))
                }
                if cut.upperBound < range.upperBound {
                    next.append((cut.upperBound + 1)...range.upperBound)
                }
            }
            result = next
        }
        return result
    }
}
