import MesosCore

/// The value of a RANGES resource: closed intervals of `UInt64`, such as `ports:[31000-31005, 31010-31010]`.
///
/// The intervals are kept as given (Mesos does not coalesce a single resource's ranges until it adds to
/// them); equality, `+` and containment work on the coalesced form, where adjacent intervals fuse
/// (`[1-5] + [6-10] == [1-10]`). No operation overflows at `0` or `UInt64.max`.
public struct ResourceRanges: Sendable, Hashable, CustomStringConvertible {
    /// The intervals in their stored order.
    public private(set) var intervals: [ClosedRange<UInt64>]

    /// Creates ranges from intervals, kept as given.
    ///
    /// - Parameter intervals: The intervals.
    public init(_ intervals: [ClosedRange<UInt64>] = []) {
        self.intervals = intervals
    }

    /// Creates ranges from the wire form.
    ///
    /// - Parameter value: A `Value.Ranges`.
    /// - Throws: ``ResourcesError`` when an interval has `begin > end`.
    public init(_ value: Value.Ranges) throws(ResourcesError) {
        var intervals: [ClosedRange<UInt64>] = []
        intervals.reserveCapacity(value.range.count)
        for range in value.range {
            guard range.begin <= range.end else {
                throw ResourcesError(.invalidResource, "range [\(range.begin)-\(range.end)] has begin > end")
            }
            intervals.append(range.begin...range.end)
        }
        self.intervals = intervals
    }

    /// The wire form.
    public var value: Value.Ranges {
        var value = Value.Ranges()
        value.range = self.intervals.map { interval in
            var range = Value.Range()
            range.begin = interval.lowerBound
            range.end = interval.upperBound
            return range
        }
        return value
    }

    /// Whether there are no intervals.
    public var isEmpty: Bool { self.intervals.isEmpty }

    /// Checks Mesos's rule for one resource: no two intervals overlap (adjacent ones are fine).
    ///
    /// - Throws: ``ResourcesError`` naming the first overlapping pair.
    public func validate() throws(ResourcesError) {
        let sorted = self.intervals.sorted { ($0.lowerBound, $0.upperBound) < ($1.lowerBound, $1.upperBound) }
        guard sorted.count > 1 else { return }
        for index in 1..<sorted.count where sorted[index].lowerBound <= sorted[index - 1].upperBound {
            let a = sorted[index - 1], b = sorted[index]
            throw ResourcesError(
                .invalidResource,
                "ranges [\(a.lowerBound)-\(a.upperBound)] and [\(b.lowerBound)-\(b.upperBound)] overlap"
            )
        }
    }

    /// Whether ``validate()`` succeeds.
    public var isValid: Bool {
        do { try self.validate(); return true } catch { return false }
    }

    /// The same set of numbers as the fewest sorted, disjoint, non-adjacent intervals.
    public func coalesced() -> ResourceRanges {
        let sorted = self.intervals.sorted { ($0.lowerBound, $0.upperBound) < ($1.lowerBound, $1.upperBound) }
        var result: [ClosedRange<UInt64>] = []
        result.reserveCapacity(sorted.count)
        for interval in sorted {
            if let last = result.last,
                last.upperBound == .max || interval.lowerBound <= last.upperBound + 1
            {
                if interval.upperBound > last.upperBound {
                    result[result.count - 1] = last.lowerBound...interval.upperBound
                }
            } else {
                result.append(interval)
            }
        }
        return ResourceRanges(result)
    }

    /// How many numbers the intervals cover, Σ(end − begin + 1), counting overlaps once; saturates at
    /// `UInt64.max` (only `[0-18446744073709551615]` covers more).
    public var quantity: UInt64 {
        var total: UInt64 = 0
        for interval in self.coalesced().intervals {
            let (width, overflowWidth) = (interval.upperBound - interval.lowerBound).addingReportingOverflow(1)
            if overflowWidth { return .max }
            let (sum, overflowSum) = total.addingReportingOverflow(width)
            if overflowSum { return .max }
            total = sum
        }
        return total
    }

    /// Whether `number` lies in one of the intervals.
    ///
    /// - Parameter number: The number, e.g. a port.
    public func contains(_ number: UInt64) -> Bool {
        self.intervals.contains { $0.contains(number) }
    }

    /// Whether every interval of `other` lies inside a single interval of `self`, both coalesced.
    ///
    /// - Parameter other: The candidate subset.
    public func contains(_ other: ResourceRanges) -> Bool {
        let mine = self.coalesced().intervals
        for interval in other.coalesced().intervals {
            guard mine.contains(where: { $0.lowerBound <= interval.lowerBound && interval.upperBound <= $0.upperBound })
            else { return false }
        }
        return true
    }

    /// The union, coalesced.
    public static func + (lhs: ResourceRanges, rhs: ResourceRanges) -> ResourceRanges {
        ResourceRanges(lhs.intervals + rhs.intervals).coalesced()
    }

    /// Removes `rhs`'s numbers from `lhs` with Mesos's walk over both sides sorted by begin; numbers of
    /// `rhs` that are not in `lhs` are ignored. The result is not re-coalesced.
    public static func - (lhs: ResourceRanges, rhs: ResourceRanges) -> ResourceRanges {
        if lhs.isEmpty || rhs.isEmpty { return lhs }
        let left = lhs.intervals.sorted { ($0.lowerBound, $0.upperBound) < ($1.lowerBound, $1.upperBound) }
        let right = rhs.intervals.sorted { ($0.lowerBound, $0.upperBound) < ($1.lowerBound, $1.upperBound) }
        var result: [ClosedRange<UInt64>] = []
        var leftIndex = 0
        var rightIndex = 0
        // The current left interval, possibly trimmed.
        var current: ClosedRange<UInt64>? = left.first
        while let l = current {
            guard rightIndex < right.count else {
                result.append(l)
                leftIndex += 1
                current = leftIndex < left.count ? left[leftIndex] : nil
                continue
            }
            let r = right[rightIndex]
            if l.upperBound < r.lowerBound {
                // Entirely before: keep.
                result.append(l)
                leftIndex += 1
                current = leftIndex < left.count ? left[leftIndex] : nil
            } else if l.lowerBound > r.upperBound {
                // Entirely after: the next right interval.
                rightIndex += 1
            } else if l.lowerBound < r.lowerBound {
                // Starts before: keep the head. r.lowerBound > l.lowerBound >= 0, so no underflow.
                result.append(l.lowerBound...(r.lowerBound - 1))
                if l.upperBound > r.upperBound {
                    // r.upperBound < l.upperBound <= max, so no overflow.
                    current = (r.upperBound + 1)...l.upperBound
                    rightIndex += 1
                } else {
                    leftIndex += 1
                    current = leftIndex < left.count ? left[leftIndex] : nil
                }
            } else if l.upperBound <= r.upperBound {
                // Covered: drop.
                leftIndex += 1
                current = leftIndex < left.count ? left[leftIndex] : nil
            } else {
                // Starts inside r and extends past it: keep the tail.
                current = (r.upperBound + 1)...l.upperBound
                rightIndex += 1
            }
        }
        return ResourceRanges(result)
    }

    /// Equal when the coalesced forms are equal: `[1-10] == [1-5, 6-10]`.
    public static func == (lhs: ResourceRanges, rhs: ResourceRanges) -> Bool {
        lhs.coalesced().intervals == rhs.coalesced().intervals
    }

    /// Hashes the coalesced form, consistent with `==`.
    public func hash(into hasher: inout Hasher) {
        for interval in self.coalesced().intervals {
            hasher.combine(interval.lowerBound)
            hasher.combine(interval.upperBound)
        }
    }

    /// Mesos's text form: `[31000-31005, 31010-31010]`.
    public var description: String {
        "[" + self.intervals.map { "\($0.lowerBound)-\($0.upperBound)" }.joined(separator: ", ") + "]"
    }
}
