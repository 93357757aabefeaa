import MesosCore

/// The value of a SET resource: distinct text items, such as `disks:{ssd1,ssd2}`.
///
/// Equality is true set equality (Mesos's own `Value::Set ==` depends on item order; its `Resources ==`
/// does not, and neither does this type).
public struct ResourceSet: Sendable, Hashable, CustomStringConvertible {
    /// The items in their stored order.
    public private(set) var items: [String]

    /// Creates a set from items, kept as given (duplicates make it invalid, see ``validate()``).
    ///
    /// - Parameter items: The items.
    public init(_ items: [String] = []) {
        self.items = items
    }

    /// Creates a set from the wire form.
    ///
    /// - Parameter value: A `Value.Set`.
    public init(_ value: Value.Set) {
        self.items = value.item
    }

    /// The wire form.
    public var value: Value.Set {
        var value = Value.Set()
        value.item = self.items
        return value
    }

    /// Whether there are no items.
    public var isEmpty: Bool { self.items.isEmpty }

    /// Checks that no item appears twice.
    ///
    /// - Throws: ``ResourcesError`` naming the duplicate.
    public func validate() throws(ResourcesError) {
        var seen = Set<String>()
        for item in self.items where !seen.insert(item).inserted {
            throw ResourcesError(.invalidResource, "set item '\(item)' appears twice")
        }
    }

    /// Whether ``validate()`` succeeds.
    public var isValid: Bool { Set(self.items).count == self.items.count }

    /// Whether every item of `other` is in `self`.
    ///
    /// - Parameter other: The candidate subset.
    public func contains(_ other: ResourceSet) -> Bool {
        let mine = Set(self.items)
        return other.items.allSatisfy { mine.contains($0) }
    }

    /// The union without duplicates: `lhs`'s items, then `rhs`'s new ones.
    public static func + (lhs: ResourceSet, rhs: ResourceSet) -> ResourceSet {
        var seen = Set(lhs.items)
        var items = lhs.items
        for item in rhs.items where seen.insert(item).inserted {
            items.append(item)
        }
        return ResourceSet(items)
    }

    /// `lhs` without `rhs`'s items; `rhs` need not be a subset.
    public static func - (lhs: ResourceSet, rhs: ResourceSet) -> ResourceSet {
        let removed = Set(rhs.items)
        return ResourceSet(lhs.items.filter { !removed.contains($0) })
    }

    /// True set equality, ignoring order.
    public static func == (lhs: ResourceSet, rhs: ResourceSet) -> Bool {
        Set(lhs.items) == Set(rhs.items)
    }

    /// Hashes the items as a set, consistent with `==`.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(Set(self.items))
    }

    /// Mesos's text form: `{a, b, c}`.
    public var description: String {
        "{" + self.items.joined(separator: ", ") + "}"
    }
}
