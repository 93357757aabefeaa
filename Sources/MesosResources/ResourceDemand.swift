import MesosCore

/// Which offered pieces a task may use, and in which order (TOOLKIT §1.10: Mesos's `find` order).
public enum ReservationPolicy: Sendable, Hashable {
    /// Unreserved pieces first, then pieces reserved to the offer's role (or an ancestor): Mesos's order for
    /// an unreserved target. The default.
    case unreservedFirst
    /// Reserved pieces first, then unreserved ones: Mesos's order for a reserved target.
    case reservedFirst
    /// Only reserved pieces (a task that must run on its role's reservation).
    case reservedOnly
    /// Only unreserved pieces.
    case unreservedOnly
}

/// How dynamic range numbers (ports) are picked.
public enum PortPolicy: Sendable, Hashable {
    /// The lowest free numbers first (Fenzo's way).
    case lowestFirst
    /// A run of consecutive free numbers starting at a random position, wrapping around (Marathon's way);
    /// deterministic for a given seed.
    case randomConsecutive(seed: UInt64)
}

/// What a task needs from an offer: scalar amounts, range numbers (a count of ports and/or static ports),
/// set items, and which pieces it may use.
///
/// ```swift
/// var demand = try ResourceDemand(parsing: "cpus:1.5;mem:600", ports: 2)
/// demand.staticPorts = [8080]
/// ```
public struct ResourceDemand: Sendable, Hashable {
    /// Scalar amounts by name: `["cpus": 1.5, "mem": 600]`.
    public var scalars: [String: Double]
    /// How many numbers to pick from each RANGES resource, by name: `["ports": 2]`.
    public var rangeCounts: [String: Int]
    /// Numbers that must be offered and are taken as they are, by name: `["ports": [8080]]`.
    public var rangeValues: [String: [UInt64]]
    /// Items of SET resources, by name.
    public var setItems: [String: [String]]
    /// Which pieces may be used, and in which order.
    public var reservation: ReservationPolicy
    /// When set, only offers allocated to this role can hold the task.
    public var role: String?
    /// Whether the task uses revocable resources (only revocable pieces) or not (only non-revocable ones);
    /// a task never mixes the two.
    public var revocable: Bool

    /// Creates a demand.
    ///
    /// - Parameters:
    ///   - cpus: CPUs (0: none).
    ///   - mem: Memory in MB (0: none).
    ///   - disk: Disk in MB (0: none).
    ///   - gpus: GPUs, a whole number (0: none).
    ///   - ports: How many ports to pick.
    ///   - staticPorts: Ports that must be offered.
    ///   - reservation: Which pieces may be used.
    ///   - role: The allocation role the offer must have, if any.
    public init(
        cpus: Double = 0,
        mem: Double = 0,
        disk: Double = 0,
        gpus: Double = 0,
        ports: Int = 0,
        staticPorts: [UInt64] = [],
        reservation: ReservationPolicy = .unreservedFirst,
        role: String? = nil
    ) {
        var scalars: [String: Double] = [:]
        for (name, value) in [("cpus", cpus), ("mem", mem), ("disk", disk), ("gpus", gpus)] where value != 0 {
            scalars[name] = value
        }
        self.scalars = scalars
        self.rangeCounts = ports != 0 ? ["ports": ports] : [:]
        self.rangeValues = staticPorts.isEmpty ? [:] : ["ports": staticPorts]
        self.setItems = [:]
        self.reservation = reservation
        self.role = role
        self.revocable = false
    }

    /// Reads a demand from Mesos's resource text syntax plus a port count: scalars become amounts, ranges
    /// become static numbers (`ports:[8080-8080]`), sets become items. The text takes no roles; use
    /// ``reservation`` and ``role`` instead.
    ///
    /// - Parameters:
    ///   - text: E.g. `cpus:1.5;mem:600`.
    ///   - ports: How many ports to pick besides any static ones.
    /// - Throws: ``ResourcesParseError`` for bad syntax, or for an entry with a role.
    public init(parsing text: String, ports: Int = 0) throws(ResourcesParseError) {
        let parsed = try Resources(parsing: text)
        self.init(ports: ports)
        for resource in parsed.combined {
            guard resource.reservations.isEmpty else {
                throw ResourcesParseError(
                    offset: text.firstIndex(of: "(").map { text.distance(from: text.startIndex, to: $0) } ?? 0,
                    expected: "resources without a role (set the demand's reservation policy instead)",
                    found: "'\(resource.name)' reserved to '\(resource.reservationRole ?? "")'"
                )
            }
            switch resource.type {
            case .scalar: self.scalars[resource.name] = resource.scalar.value
            case .ranges:
                guard resource.rangesValue.quantity <= Self.maximumStaticNumbers else {
                    throw ResourcesParseError(
                        offset: 0,
                        expected: "at most \(Self.maximumStaticNumbers) static numbers",
                        found: "'\(resource.name)' with \(resource.rangesValue.quantity)"
                    )
                }
                self.rangeValues[resource.name, default: []] += resource.rangesValue.intervals.flatMap { Array($0) }
            case .set: self.setItems[resource.name] = resource.set.item
            default: break
            }
        }
    }

    /// The most static numbers the text form may ask for (a whole port range would be absurd).
    static let maximumStaticNumbers: UInt64 = 65_536

    /// The number of ports to pick (`rangeCounts["ports"]`).
    public var ports: Int {
        get { self.rangeCounts["ports"] ?? 0 }
        set { self.rangeCounts["ports"] = newValue == 0 ? nil : newValue }
    }

    /// The ports that must be offered (`rangeValues["ports"]`).
    public var staticPorts: [UInt64] {
        get { self.rangeValues["ports"] ?? [] }
        set { self.rangeValues["ports"] = newValue.isEmpty ? nil : newValue }
    }

    /// Checks the demand itself: something is asked for (the master refuses a task without resources),
    /// amounts finite and not negative, GPUs whole, counts not negative, no number or item asked for twice.
    ///
    /// - Throws: ``CarveError/invalidDemand(_:)`` saying what is wrong.
    public func validate() throws(CarveError) {
        let asksForSomething =
            self.scalars.values.contains { $0 != 0 } || self.rangeCounts.values.contains { $0 != 0 }
            || self.rangeValues.values.contains { !$0.isEmpty } || self.setItems.values.contains { !$0.isEmpty }
        guard asksForSomething else { throw .invalidDemand("the demand asks for no resources") }
        for (name, amount) in self.scalars {
            guard amount >= 0, FixedScalar(amount) != nil else {
                throw .invalidDemand("'\(name)' amount \(amount) is negative or not a finite number")
            }
            if name == "gpus", amount.rounded(.towardZero) != amount {
                throw .invalidDemand("'gpus' must be a whole number, not \(amount)")
            }
        }
        for (name, count) in self.rangeCounts where count < 0 {
            throw .invalidDemand("'\(name)' count \(count) is negative")
        }
        for (name, numbers) in self.rangeValues {
            var seen = Set<UInt64>()
            for number in numbers where !seen.insert(number).inserted {
                throw .invalidDemand("'\(name)' number \(number) is asked for twice")
            }
        }
        for (name, items) in self.setItems {
            var seen = Set<String>()
            for item in items where !seen.insert(item).inserted {
                throw .invalidDemand("'\(name)' item '\(item)' is asked for twice")
            }
        }
    }
}

/// One resource an offer is short of, and by how much.
public struct Shortfall: Sendable, Hashable, CustomStringConvertible {
    /// What is missing.
    public enum Kind: Sendable, Hashable {
        /// A scalar: the amount asked for and the amount usable.
        case scalar(wanted: Double, available: Double)
        /// Range numbers to pick: how many were asked for and how many are free.
        case count(wanted: UInt64, available: UInt64)
        /// Specific range numbers (static ports) that are not offered.
        case numbers([UInt64])
        /// Set items that are not offered.
        case items([String])
    }

    /// The resource name, e.g. `cpus` or `ports`.
    public let name: String
    /// What is missing.
    public let kind: Kind

    /// Creates a shortfall.
    ///
    /// - Parameters:
    ///   - name: The resource name.
    ///   - kind: What is missing.
    public init(name: String, kind: Kind) {
        self.name = name
        self.kind = kind
    }

    /// `cpus short by 1.5 (wanted 4, usable 2.5)`, `ports 8080 not offered`.
    public var description: String {
        switch self.kind {
        case .scalar(let wanted, let available):
            let short = (FixedScalar(wanted) ?? .zero) - (FixedScalar(available) ?? .zero)
            return
                "\(self.name) short by \(short) (wanted \(FixedScalar(wanted) ?? .zero), usable \(FixedScalar(available) ?? .zero))"
        case .count(let wanted, let available):
            return "\(self.name) short by \(wanted - min(wanted, available)) (wanted \(wanted), free \(available))"
        case .numbers(let numbers):
            return "\(self.name) \(numbers.map(String.init).joined(separator: ",")) not offered"
        case .items(let items):
            return "\(self.name) {\(items.joined(separator: ","))} not offered"
        }
    }
}

/// Why task resources could not be carved from an offer. Nothing is carved when this is thrown.
public enum CarveError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The demand itself is invalid (a negative amount, fractional GPUs, a number asked for twice).
    case invalidDemand(String)
    /// The offer is allocated to another role than the demand's ``ResourceDemand/role``.
    case roleMismatch(offered: String?, wanted: String)
    /// The usable pieces are not enough; every short resource is listed.
    case insufficient([Shortfall])

    /// For people.
    public var description: String {
        switch self {
        case .invalidDemand(let why): return "invalid demand: \(why)"
        case .roleMismatch(let offered, let wanted):
            return "the offer is allocated to \(offered.map { "'\($0)'" } ?? "no role"), not '\(wanted)'"
        case .insufficient(let shortfalls): return shortfalls.map(\.description).joined(separator: "; ")
        }
    }
}

extension ResourceDemand {
    /// Two demands met together from one offer, e.g. a task and the executor it runs under: amounts and range
    /// counts add up, static numbers and set items are all asked for. Reservation policy, role and revocability
    /// are the left-hand side's.
    ///
    /// - Parameters:
    ///   - lhs: The first demand (its policy, role and revocability are kept).
    ///   - rhs: The second demand.
    /// - Returns: The demand of both.
    public static func + (lhs: ResourceDemand, rhs: ResourceDemand) -> ResourceDemand {
        var sum = lhs
        sum.scalars.merge(rhs.scalars, uniquingKeysWith: +)
        sum.rangeCounts.merge(rhs.rangeCounts, uniquingKeysWith: +)
        sum.rangeValues.merge(rhs.rangeValues, uniquingKeysWith: +)
        sum.setItems.merge(rhs.setItems, uniquingKeysWith: +)
        return sum
    }
}
