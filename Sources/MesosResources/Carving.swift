import MesosCore

/// Task resources carved from an offer: the exact pieces to put in `TaskInfo.resources`, the numbers
/// picked from range resources, and what is left of the offer.
public struct Carving: Sendable {
    /// The pieces, each a copy of an offered piece (role, reservations, `allocation_info` and every other
    /// field kept) with its own value.
    public let resources: [Resource]
    /// The range numbers given to the task by resource name: static ones in the order asked, then the
    /// picked ones.
    public let numbers: [String: [UInt64]]
    /// What is left of the offer, ready for the next task.
    public let remaining: Resources

    /// The ports given to the task (`numbers["ports"]`).
    public var ports: [UInt64] { self.numbers["ports"] ?? [] }
}

extension Resources {
    /// Carves the resources of one task from these offered resources (TOOLKIT §1.10, T6, T7).
    ///
    /// Each amount is taken from the usable pieces in the order of `demand.reservation` (by default
    /// unreserved first, then pieces reserved to the role): a piece that covers the rest gives a part of
    /// itself, smaller ones are taken whole. Pieces allocated to another role, shared resources,
    /// persistent volumes and MOUNT/BLOCK disks are never carved.
    ///
    /// - Parameters:
    ///   - demand: What the task needs.
    ///   - role: The offer's allocation role; pieces without `allocation_info` get it. `nil`: the role of
    ///     the first piece that has one.
    ///   - portPolicy: How range numbers are picked.
    /// - Returns: The pieces and the rest; nothing is carved partially.
    /// - Throws: ``CarveError``: an invalid demand, a role mismatch, or every shortfall.
    public func carving(
        _ demand: ResourceDemand,
        allocationRole role: String? = nil,
        portPolicy: PortPolicy = .lowestFirst
    ) throws(CarveError) -> Carving {
        let role =
            role ?? self.combined.first { $0.hasAllocationInfo && $0.allocationInfo.hasRole }?.allocationInfo.role
        var pool = CarvePool(Array(self).map { ($0, 0) }, role: role)
        return try pool.carveChecked(demand, portPolicy: portPolicy)
    }

    /// Checks task resources against these offered resources as the master does on LAUNCH (TOOLKIT
    /// §1.10): pieces without `allocation_info` are allocated to `role`, a piece allocated to another role
    /// is refused, revocable and non-revocable resources of one name are refused, and the offer must
    /// contain the whole.
    ///
    /// - Parameters:
    ///   - task: The task's resources.
    ///   - role: The offer's allocation role, when the framework is MULTI_ROLE.
    /// - Returns: The task resources, allocated.
    /// - Throws: ``ResourcesError`` (`roleMismatch`, `invalidResource` or `notContained`).
    public func checkingLaunch(of task: [Resource], allocationRole role: String?) throws(ResourcesError) -> Resources {
        var allocated: [Resource] = []
        var revocableByName: [String: Bool] = [:]
        for var resource in task {
            if resource.hasAllocationInfo {
                if let role, resource.allocationInfo.role != role {
                    throw ResourcesError(
                        .roleMismatch,
                        "'\(resource.name)' is allocated to '\(resource.allocationInfo.role)', the offer to '\(role)'"
                    )
                }
            } else if let role {
                resource.allocationInfo.role = role
            }
            if let other = revocableByName.updateValue(resource.hasRevocable, forKey: resource.name),
                other != resource.hasRevocable
            {
                throw ResourcesError(.invalidResource, "the task mixes revocable and non-revocable '\(resource.name)'")
            }
            allocated.append(resource)
        }
        let resources = try Resources(validating: allocated)
        guard !resources.isEmpty else { throw ResourcesError(.invalidResource, "the task uses no resources") }
        guard self.contains(resources) else {
            throw ResourcesError(.notContained, "the offer \(self) does not contain the task's \(resources)")
        }
        return resources
    }
}

extension Offer {
    /// Carves the resources of one task from this offer; the pieces are copies of the offered ones, in
    /// their wire format, with the offer's `allocation_info`. See
    /// ``Resources/carving(_:allocationRole:portPolicy:)``.
    ///
    /// - Parameters:
    ///   - demand: What the task needs.
    ///   - portPolicy: How range numbers are picked.
    /// - Returns: The pieces and the rest of the offer.
    /// - Throws: ``CarveError``.
    public func carving(_ demand: ResourceDemand, portPolicy: PortPolicy = .lowestFirst) throws(CarveError) -> Carving {
        var pool = CarvePool(self.resources.map { ($0, 0) }, role: self.allocationRole)
        return try pool.carveChecked(demand, portPolicy: portPolicy)
    }
}

/// A demand with its names in a fixed order and its amounts in fixed point.
struct CompiledDemand: Sendable {
    var scalars: [(name: String, amount: Int64)] = []
    var counts: [(name: String, count: UInt64)] = []
    var numbers: [(name: String, values: [UInt64])] = []
    var items: [(name: String, values: [String])] = []
    /// The buckets to use, in order (see ``CarvePool/Entry/bucket``).
    var buckets: [Int] = []
    var role: String?

    init(_ demand: ResourceDemand) throws(CarveError) {
        try demand.validate()
        for name in demand.scalars.keys.sorted() {
            let amount = FixedScalar(demand.scalars[name] ?? 0)?.thousandths ?? 0
            if amount > 0 { self.scalars.append((name, amount)) }
        }
        for name in demand.rangeCounts.keys.sorted() {
            let count = demand.rangeCounts[name] ?? 0
            if count > 0 { self.counts.append((name, UInt64(count))) }
        }
        for name in demand.rangeValues.keys.sorted() {
            let values = demand.rangeValues[name] ?? []
            if !values.isEmpty { self.numbers.append((name, values)) }
        }
        for name in demand.setItems.keys.sorted() {
            let values = demand.setItems[name] ?? []
            if !values.isEmpty { self.items.append((name, values)) }
        }
        let revocable = demand.revocable ? 2 : 0
        switch demand.reservation {
        case .unreservedFirst: self.buckets = [0 + revocable, 1 + revocable]
        case .reservedFirst: self.buckets = [1 + revocable, 0 + revocable]
        case .reservedOnly: self.buckets = [1 + revocable]
        case .unreservedOnly: self.buckets = [0 + revocable]
        }
        self.role = demand.role
    }

    /// The names of range resources the demand touches, sorted, each once.
    var rangeNames: [String] {
        Array(Set(self.counts.map(\.name) + self.numbers.map(\.name))).sorted()
    }
}

/// The offered pieces of one agent and role (one or several offers) with what is left of each; carving
/// takes from them in place.
struct CarvePool: Sendable {
    struct Entry: Sendable {
        /// The piece as offered (with the pool's `allocation_info` when it had none); pieces copy it.
        var template: Resource
        /// The piece in the refinement format, for metadata comparisons.
        let normalized: Resource
        /// Which offer of the pool it comes from.
        let offer: Int
        /// 0 unreserved, 1 reserved; +2 when revocable.
        let bucket: Int
        /// Whether tasks may take part of it.
        let carvable: Bool
        /// What is left: a scalar in thousandths, sorted disjoint intervals, or set items.
        var fixed: Int64 = 0
        var intervals: [ClosedRange<UInt64>] = []
        var items: [String] = []

        /// The resource name and type (copied out of the message, which is slower to read).
        let name: String
        let type: Value.TypeEnum

        /// How many range numbers are left, saturating.
        var count: UInt64 {
            var total: UInt64 = 0
            for interval in self.intervals {
                let width = (interval.upperBound - interval.lowerBound).addingReportingOverflow(1)
                let sum = total.addingReportingOverflow(width.partialValue)
                if width.overflow || sum.overflow { return .max }
                total = sum.partialValue
            }
            return total
        }

        /// The piece with what is left, or `nil` when nothing is.
        var remainder: Resource? {
            var resource = self.template
            switch self.type {
            case .scalar:
                guard self.fixed > 0 else { return nil }
                resource.scalar.value = FixedScalar(thousandths: self.fixed).doubleValue
            case .ranges:
                guard !self.intervals.isEmpty else { return nil }
                resource.setRanges(ResourceRanges(self.intervals))
            case .set:
                guard !self.items.isEmpty else { return nil }
                resource.set.item = self.items
            default:
                break
            }
            return resource
        }
    }

    var entries: [Entry] = []
    let role: String?
    /// Which offers the last successful carve took from, by offer index.
    private(set) var lastUsedOffers: [Bool] = []
    /// How many offers the pool holds.
    private(set) var offerCount = 0

    /// Builds a pool from offered pieces and the index of the offer each comes from. Invalid and empty
    /// pieces are dropped, as Mesos does.
    init(_ resources: [(Resource, Int)], role: String?) {
        self.role = role
        for (resource, offer) in resources {
            guard let normalized = try? resource.normalizedToRefinementFormat(), normalized.isValidAsMesos,
                !normalized.isEmptyValue
            else { continue }
            self.offerCount = max(self.offerCount, offer + 1)
            var template = resource
            var sameRole = true
            if let role {
                if resource.hasAllocationInfo {
                    sameRole = resource.allocationInfo.role == role
                } else {
                    template.allocationInfo.role = role
                }
            }
            let reserved = !normalized.reservations.isEmpty
            let allocatable = role.map { normalized.isAllocatable(to: $0) } ?? true
            let carvable = sameRole && allocatable && !normalized.hasShared && !normalized.isExclusiveDisk
            var entry = Entry(
                template: template,
                normalized: normalized,
                offer: offer,
                bucket: (reserved ? 1 : 0) + (normalized.hasRevocable ? 2 : 0),
                carvable: carvable,
                name: normalized.name,
                type: normalized.type
            )
            switch normalized.type {
            case .scalar: entry.fixed = FixedScalar(normalized.scalar.value)?.thousandths ?? 0
            case .ranges: entry.intervals = normalized.rangesValue.coalesced().intervals
            case .set: entry.items = normalized.set.item
            default: continue
            }
            self.entries.append(entry)
        }
    }

    /// What is left of every piece, combined.
    var remaining: Resources { Resources(self.entries.compactMap(\.remainder)) }

    /// Carves with the demand checked first (validation and role).
    mutating func carveChecked(_ demand: ResourceDemand, portPolicy: PortPolicy) throws(CarveError) -> Carving {
        let compiled = try CompiledDemand(demand)
        if let wanted = compiled.role, wanted != self.role {
            throw .roleMismatch(offered: self.role, wanted: wanted)
        }
        var random = Self.random(for: portPolicy)
        let (pieces, numbers) = try self.carve(compiled, random: &random, offer: nil)
        return Carving(resources: pieces, numbers: numbers, remaining: self.remaining)
    }

    static func random(for policy: PortPolicy) -> SplitMix64? {
        if case .randomConsecutive(let seed) = policy { return SplitMix64(seed: seed) }
        return nil
    }

    /// One planned take from an entry.
    private enum Take {
        case scalar(Int64)
        case numbers([UInt64])
        case items([String])
    }

    /// Carves `demand` from the entries of one offer (or all when `offer` is `nil`); with several offers
    /// and `offer` `nil`, a single offer that can hold the task is used alone, as TOOLKIT §2.4 advises.
    /// Nothing changes when it throws.
    mutating func carve(
        _ demand: CompiledDemand,
        random: inout SplitMix64?,
        offer: Int?
    ) throws(CarveError) -> (pieces: [Resource], numbers: [String: [UInt64]]) {
        if offer == nil, self.offerCount > 1 {
            for single in 0..<self.offerCount {
                var trial = random
                if let result = try? self.carve(demand, random: &trial, offer: single) {
                    random = trial
                    return result
                }
            }
        }
        var takes: [(entry: Int, take: Take)] = []
        var numbersByName: [String: [UInt64]] = [:]
        var shortfalls: [Shortfall] = []

        func candidates(_ name: String, _ type: Value.TypeEnum) -> [Int] {
            var result: [Int] = []
            for bucket in demand.buckets {
                for index in self.entries.indices
                where self.entries[index].carvable && self.entries[index].bucket == bucket
                    && self.entries[index].type == type && self.entries[index].name == name
                    && (offer == nil || self.entries[index].offer == offer)
                {
                    result.append(index)
                }
            }
            return result
        }

        for (name, amount) in demand.scalars {
            var left = amount
            var available: Int64 = 0
            for index in candidates(name, .scalar) {
                let have = self.entries[index].fixed
                available += have
                guard left > 0, have > 0 else { continue }
                let take = min(have, left)
                takes.append((index, .scalar(take)))
                left -= take
            }
            if left > 0 {
                shortfalls.append(
                    Shortfall(
                        name: name,
                        kind: .scalar(
                            wanted: FixedScalar(thousandths: amount).doubleValue,
                            available: FixedScalar(thousandths: available).doubleValue
                        )
                    )
                )
            }
        }

        for name in demand.rangeNames {
            let indices = candidates(name, .ranges)
            var free: [Int: [ClosedRange<UInt64>]] = [:]
            for index in indices { free[index] = self.entries[index].intervals }
            var picked: [Int: [UInt64]] = [:]
            var given: [UInt64] = []
            var missing: [UInt64] = []
            for number in demand.numbers.first(where: { $0.name == name })?.values ?? [] {
                guard let index = indices.first(where: { free[$0]?.contains { $0.contains(number) } ?? false }) else {
                    missing.append(number)
                    continue
                }
                free[index] = Self.removing([number], from: free[index] ?? [])
                picked[index, default: []].append(number)
                given.append(number)
            }
            if !missing.isEmpty { shortfalls.append(Shortfall(name: name, kind: .numbers(missing))) }
            let wanted = demand.counts.first(where: { $0.name == name })?.count ?? 0
            if wanted > 0 {
                var segments: [(entry: Int, interval: ClosedRange<UInt64>)] = []
                var total: UInt64 = 0
                for index in indices {
                    for interval in free[index] ?? [] {
                        segments.append((index, interval))
                        let width = (interval.upperBound - interval.lowerBound).addingReportingOverflow(1)
                        let sum = total.addingReportingOverflow(width.partialValue)
                        total = width.overflow || sum.overflow ? .max : sum.partialValue
                    }
                }
                if total < wanted {
                    shortfalls.append(Shortfall(name: name, kind: .count(wanted: wanted, available: total)))
                } else {
                    var start: UInt64 = 0
                    if var generator = random {
                        start = UInt64.random(in: 0..<total, using: &generator)
                        random = generator
                    }
                    for (index, number) in Self.pick(wanted, from: segments, startingAt: start) {
                        picked[index, default: []].append(number)
                        given.append(number)
                    }
                }
            }
            for index in indices where picked[index] != nil {
                takes.append((index, .numbers(picked[index] ?? [])))
            }
            if !given.isEmpty { numbersByName[name] = given }
        }

        for (name, wantedItems) in demand.items {
            let indices = candidates(name, .set)
            var picked: [Int: [String]] = [:]
            var missing: [String] = []
            for item in wantedItems {
                guard let index = indices.first(where: { self.entries[$0].items.contains(item) }) else {
                    missing.append(item)
                    continue
                }
                picked[index, default: []].append(item)
            }
            if !missing.isEmpty { shortfalls.append(Shortfall(name: name, kind: .items(missing))) }
            for index in indices where picked[index] != nil { takes.append((index, .items(picked[index] ?? []))) }
        }

        guard shortfalls.isEmpty else { throw .insufficient(shortfalls) }

        var pieces: [(piece: Resource, normalized: Resource)] = []
        self.lastUsedOffers = Array(repeating: false, count: self.offerCount)
        for (index, take) in takes {
            self.lastUsedOffers[self.entries[index].offer] = true
            var piece = self.entries[index].template
            switch take {
            case .scalar(let amount):
                self.entries[index].fixed -= amount
                piece.scalar.value = FixedScalar(thousandths: amount).doubleValue
            case .numbers(let numbers):
                let sorted = numbers.sorted()
                self.entries[index].intervals = Self.removing(sorted, from: self.entries[index].intervals)
                piece.setRanges(ResourceRanges(Self.intervals(of: sorted)))
            case .items(let items):
                let taken = Set(items)
                self.entries[index].items.removeAll { taken.contains($0) }
                piece.set.item = items
            }
            // Pieces of two offers with the same metadata become one (only when offers are combined).
            let normalized = self.entries[index].normalized
            if let same = pieces.firstIndex(where: { Resource.sameMetadata($0.normalized, normalized) }) {
                pieces[same].piece.addValue(of: piece)
            } else {
                pieces.append((piece, normalized))
            }
        }
        return (pieces.map(\.piece), numbersByName)
    }

    /// `count` numbers from the segments, starting at position `start` (0-based over all their numbers)
    /// and wrapping around.
    static func pick(
        _ count: UInt64,
        from segments: [(entry: Int, interval: ClosedRange<UInt64>)],
        startingAt start: UInt64
    ) -> [(Int, UInt64)] {
        var result: [(Int, UInt64)] = []
        // Find the segment holding position `start`.
        var segment = 0
        var offset = start
        while segment < segments.count {
            let interval = segments[segment].interval
            let width = interval.upperBound - interval.lowerBound
            if offset <= width { break }
            offset -= width + 1
            segment += 1
        }
        if segment == segments.count {
            segment = 0
            offset = 0
        }
        while UInt64(result.count) < count, !segments.isEmpty {
            let (entry, interval) = segments[segment]
            let number = interval.lowerBound + offset
            result.append((entry, number))
            if number == interval.upperBound {
                segment = (segment + 1) % segments.count
                offset = 0
            } else {
                offset += 1
            }
        }
        return result
    }

    /// Sorted disjoint intervals without the sorted `numbers` (which they contain).
    static func removing(_ numbers: [UInt64], from intervals: [ClosedRange<UInt64>]) -> [ClosedRange<UInt64>] {
        guard !numbers.isEmpty else { return intervals }
        let numbers = numbers.sorted()
        var result: [ClosedRange<UInt64>] = []
        result.reserveCapacity(intervals.count + numbers.count)
        var next = 0
        for interval in intervals {
            var low = interval.lowerBound
            var open = true
            while next < numbers.count, numbers[next] <= interval.upperBound {
                let number = numbers[next]
                next += 1
                guard number >= low, open else { continue }
                if number > low { result.append(low...(number - 1)) }
                if number == interval.upperBound { open = false } else { low = number + 1 }
            }
            if open { result.append(low...interval.upperBound) }
        }
        return result
    }

    /// Sorted numbers as the fewest intervals.
    static func intervals(of sorted: [UInt64]) -> [ClosedRange<UInt64>] {
        var result: [ClosedRange<UInt64>] = []
        for number in sorted {
            if let last = result.last, last.upperBound != .max, last.upperBound + 1 == number {
                result[result.count - 1] = last.lowerBound...number
            } else if result.last?.upperBound != number {
                result.append(number...number)
            }
        }
        return result
    }
}
