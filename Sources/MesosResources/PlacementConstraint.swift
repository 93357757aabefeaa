import MesosCore

/// A Marathon-style placement constraint, `field:OPERATOR[:value]`: `hostname:UNIQUE`, `rack:GROUP_BY:3`,
/// `zone:LIKE:us-east-1[ab]`, `hostname:MAX_PER:2`, `@region:IS:eu`.
///
/// Values are compared as strings, the way Marathon does (``AttributeValue/constraintText``). When the
/// agent lacks the field, only UNLIKE passes. Counting operators count the placed instances of the same
/// task group (an app): already running ones and those placed earlier in the same batch.
public struct PlacementConstraint: Sendable, Hashable, CustomStringConvertible {
    /// What a constraint looks at.
    public enum Field: Sendable, Hashable, CustomStringConvertible {
        /// The agent's hostname (`hostname` or `@hostname`).
        case hostname
        /// The agent's fault-domain region (`@region`).
        case region
        /// The agent's fault-domain zone (`@zone`).
        case zone
        /// The first agent attribute with this name.
        case attribute(String)

        /// `hostname`, `@region`, `@zone` or the attribute name.
        public var description: String {
            switch self {
            case .hostname: return "hostname"
            case .region: return "@region"
            case .zone: return "@zone"
            case .attribute(let name): return name
            }
        }
    }

    /// How the agent's value is judged.
    public enum Operator: Sendable, Hashable, CustomStringConvertible {
        /// No placed instance has the agent's value.
        case unique
        /// The value equals the given one; without one, it equals the value of the first placed instance.
        case cluster(String?)
        /// Spread evenly over the values. With `n` > 0: a new value only while fewer than `n` are in use,
        /// and at most `instances / n` per value (one more for `instances % n` of them). With 0 (the
        /// default): a new value always, a used one only while it has the fewest instances.
        case groupBy(Int)
        /// The value has fewer than `n` placed instances.
        case maxPer(Int)
        /// The whole value matches the regular expression.
        case like(String)
        /// The whole value does not match the regular expression (or the agent lacks the field).
        case unlike(String)
        /// The value is exactly this text (Marathon's IS; scalars as in `4` or `1.5`).
        case equals(String)

        /// `UNIQUE`, `CLUSTER:v`, `GROUP_BY:3`, `MAX_PER:2`, `LIKE:re`, `UNLIKE:re`, `IS:v`.
        public var description: String {
            switch self {
            case .unique: return "UNIQUE"
            case .cluster(let value): return value.map { "CLUSTER:\($0)" } ?? "CLUSTER"
            case .groupBy(let groups): return groups == 0 ? "GROUP_BY" : "GROUP_BY:\(groups)"
            case .maxPer(let count): return "MAX_PER:\(count)"
            case .like(let pattern): return "LIKE:\(pattern)"
            case .unlike(let pattern): return "UNLIKE:\(pattern)"
            case .equals(let value): return "IS:\(value)"
            }
        }
    }

    /// What the constraint looks at.
    public let field: Field
    /// How the value is judged.
    public let `operator`: Operator

    /// Creates a constraint, checking its operand.
    ///
    /// - Parameters:
    ///   - field: What it looks at.
    ///   - operator: How the value is judged.
    /// - Throws: ``ConstraintError`` for a negative count, a MAX_PER below 1, an empty value or an invalid
    ///   regular expression.
    public init(_ field: Field, _ operator: Operator) throws(ConstraintError) {
        if case .attribute(let name) = field, name.isEmpty || name.hasPrefix("@") {
            throw ConstraintError(
                .unknownField, offset: 0, "'\(name)' is not an attribute name, hostname, @region or @zone")
        }
        switch `operator` {
        case .groupBy(let groups) where groups < 0:
            throw ConstraintError(.invalidValue, offset: 0, "GROUP_BY needs a group count ≥ 0, not \(groups)")
        case .maxPer(let count) where count < 1:
            throw ConstraintError(.invalidValue, offset: 0, "MAX_PER needs a count ≥ 1, not \(count)")
        case .like(let pattern), .unlike(let pattern):
            guard !pattern.isEmpty else {
                throw ConstraintError(.missingValue, offset: 0, "LIKE and UNLIKE need a pattern")
            }
            do {
                _ = try Regex(pattern)
            } catch {
                throw ConstraintError(
                    .invalidValue, offset: 0, "'\(pattern)' is not a valid regular expression: \(error)")
            }
        case .equals(let value) where value.isEmpty:
            throw ConstraintError(.missingValue, offset: 0, "IS needs a value")
        case .cluster(let value?) where value.isEmpty:
            throw ConstraintError(.missingValue, offset: 0, "CLUSTER's value is empty (leave out the ':')")
        default:
            break
        }
        self.field = field
        self.operator = `operator`
    }

    /// Parses `field:OPERATOR[:value]`. The operator is case-insensitive; the value is everything after
    /// the second `:`, so a pattern may contain `:`.
    ///
    /// - Parameter text: E.g. `rack:GROUP_BY:3`.
    /// - Throws: ``ConstraintError`` naming the problem and its offset.
    public init(parsing text: String) throws(ConstraintError) {
        try self.init(parts: Self.split(text), offsets: Self.partOffsets(text))
    }

    /// Parses the JSON array form Marathon uses, `[["hostname","UNIQUE"],["rack","GROUP_BY","3"]]`; any
    /// other text is read as one constraint per non-empty line.
    ///
    /// - Parameter text: The constraints.
    /// - Returns: The constraints in order.
    /// - Throws: ``ConstraintError``; for the JSON form the offset is that of the offending array.
    public static func parseList(_ text: String) throws(ConstraintError) -> [PlacementConstraint] {
        let trimmed = text.trimmingWhitespace()
        guard trimmed.hasPrefix("[") else {
            var result: [PlacementConstraint] = []
            var offset = 0
            for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
                defer { offset += line.count + 1 }
                if line.allSatisfy(\.isWhitespace) { continue }
                do {
                    result.append(try PlacementConstraint(parsing: String(line).trimmingWhitespace()))
                } catch {
                    throw ConstraintError(error.code, offset: offset + error.offset, error.message)
                }
            }
            return result
        }
        var parser = StringArrayJSONParser(Array(text))
        let arrays = try parser.parseArrayOfArrays()
        var result: [PlacementConstraint] = []
        for (offset, parts) in arrays {
            do {
                result.append(try PlacementConstraint(parts: parts, offsets: nil))
            } catch {
                throw ConstraintError(error.code, offset: offset, error.message)
            }
        }
        return result
    }

    /// `field:OPERATOR[:value]`, which ``init(parsing:)`` reads back.
    public var description: String { "\(self.field):\(self.operator)" }

    // MARK: Parsing

    static func split(_ text: String) -> [String] {
        let parts = text.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
        return parts
    }

    static func partOffsets(_ text: String) -> [Int] {
        var offsets = [0]
        for (offset, character) in text.enumerated() where character == ":" && offsets.count < 3 {
            offsets.append(offset + 1)
        }
        return offsets
    }

    init(parts: [String], offsets: [Int]?) throws(ConstraintError) {
        func at(_ part: Int) -> Int { offsets.flatMap { part < $0.count ? $0[part] : $0.last } ?? 0 }
        guard let fieldText = parts.first, !fieldText.trimmingWhitespace().isEmpty else {
            throw ConstraintError(
                .missingField, offset: 0, "expected a field (hostname, @region, @zone or an attribute)")
        }
        let fieldName = fieldText.trimmingWhitespace()
        let field: Field
        switch fieldName {
        case "hostname", "@hostname": field = .hostname
        case "@region": field = .region
        case "@zone": field = .zone
        default:
            guard !fieldName.hasPrefix("@") else {
                throw ConstraintError(
                    .unknownField, offset: at(0), "unknown field '\(fieldName)' (known: @hostname, @region, @zone)")
            }
            field = .attribute(fieldName)
        }
        guard parts.count > 1, !parts[1].trimmingWhitespace().isEmpty else {
            throw ConstraintError(.missingOperator, offset: at(1), "expected an operator after '\(fieldName):'")
        }
        let name = parts[1].trimmingWhitespace().uppercased()
        let value: String? = parts.count > 2 ? parts[2] : nil
        func required() throws(ConstraintError) -> String {
            guard let value, !value.isEmpty else {
                throw ConstraintError(
                    .missingValue, offset: at(2), "\(name) needs a value ('\(fieldName):\(name):value')")
            }
            return value
        }
        func number() throws(ConstraintError) -> Int? {
            guard let value, !value.isEmpty else { return nil }
            guard let number = Int(value.trimmingWhitespace()) else {
                throw ConstraintError(.invalidValue, offset: at(2), "\(name) needs a whole number, not '\(value)'")
            }
            return number
        }
        let op: Operator
        switch name {
        case "UNIQUE":
            if let value, !value.isEmpty {
                throw ConstraintError(.unexpectedValue, offset: at(2), "UNIQUE takes no value, got '\(value)'")
            }
            op = .unique
        case "CLUSTER": op = .cluster(value.flatMap { $0.isEmpty ? nil : $0 })
        case "GROUP_BY": op = .groupBy(try number() ?? 0)
        case "MAX_PER":
            guard let count = try number() else {
                throw ConstraintError(.missingValue, offset: at(2), "MAX_PER needs a count ('\(fieldName):MAX_PER:2')")
            }
            op = .maxPer(count)
        case "LIKE": op = .like(try required())
        case "UNLIKE": op = .unlike(try required())
        case "IS": op = .equals(try required())
        default:
            throw ConstraintError(
                .unknownOperator,
                offset: at(1),
                "unknown operator '\(parts[1])' (UNIQUE, CLUSTER, GROUP_BY, MAX_PER, LIKE, UNLIKE, IS)"
            )
        }
        do {
            try self.init(field, op)
        } catch {
            throw ConstraintError(error.code, offset: at(2), error.message)
        }
    }

    // MARK: Evaluation

    /// The agent's value for the field, as Marathon compares it, or `nil` when the agent lacks it.
    ///
    /// - Parameter site: The agent.
    public func value(at site: AgentSite) -> String? {
        switch self.field {
        case .hostname: return site.hostname
        case .region: return site.region
        case .zone: return site.zone
        case .attribute(let name): return site.attributes.value(of: name)?.constraintText
        }
    }

    /// Whether a task may be placed on `site`, given where the instances of its group are already placed.
    /// This is the reference evaluation; ``PlacementPlan`` uses a precomputed equivalent.
    ///
    /// - Parameters:
    ///   - site: The candidate agent.
    ///   - placed: The agents of the group's placed instances (one entry per instance).
    ///   - instances: The group's total instance count, placed and to be placed (used by GROUP_BY:n).
    public func isSatisfied(by site: AgentSite, placed: [AgentSite], instances: Int) -> Bool {
        let counts = placed.compactMap { self.value(at: $0) }
        var histogram: [String: Int] = [:]
        for value in counts { histogram[value, default: 0] += 1 }
        return Self.judge(
            self.operator,
            value: self.value(at: site),
            count: { histogram[$0] ?? 0 },
            groups: histogram.count,
            minimum: histogram.values.min() ?? 0,
            first: counts.first,
            above: { quota in histogram.values.filter { $0 > quota }.count },
            instances: instances,
            matches: { pattern, value in (try? Regex(pattern).wholeMatch(in: value)) != nil }
        )
    }

    /// The operator rules, shared by the reference evaluation and the placer's precomputation.
    static func judge(
        _ op: Operator,
        value: String?,
        count: (String) -> Int,
        groups: Int,
        minimum: Int,
        first: String?,
        above: (Int) -> Int,
        instances: Int,
        matches: (String, String) -> Bool
    ) -> Bool {
        guard let value else {
            if case .unlike = op { return true }
            return false
        }
        switch op {
        case .unique: return count(value) == 0
        case .cluster(let wanted?): return value == wanted
        case .cluster(nil): return first.map { $0 == value } ?? true
        case .groupBy(let n):
            let mine = count(value)
            if n == 0 { return mine == 0 || mine == minimum }
            if mine == 0 { return groups < n }
            let quota = instances / n
            return mine < quota || (mine == quota && above(quota) < instances % n)
        case .maxPer(let limit): return count(value) < limit
        case .like(let pattern): return matches(pattern, value)
        case .unlike(let pattern): return !matches(pattern, value)
        case .equals(let wanted): return value == wanted
        }
    }
}

/// Why a placement constraint could not be parsed or built.
public struct ConstraintError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of problem.
    public enum Code: String, Sendable, Hashable {
        /// No field before the first `:`.
        case missingField
        /// A field starting with `@` other than `@hostname`, `@region` and `@zone`.
        case unknownField
        /// No operator after the field.
        case missingOperator
        /// An operator Marathon does not have.
        case unknownOperator
        /// An operator that needs a value has none.
        case missingValue
        /// UNIQUE with a value.
        case unexpectedValue
        /// A count that is not a whole number or out of range, or an invalid regular expression.
        case invalidValue
        /// The JSON array form is malformed.
        case invalidJSON
    }

    /// The kind of problem.
    public let code: Code
    /// The 0-based character offset of the problem in the parsed text (0 when built directly).
    public let offset: Int
    /// What is wrong, for people.
    public let message: String

    /// Creates an error.
    ///
    /// - Parameters:
    ///   - code: The kind of problem.
    ///   - offset: Where in the text.
    ///   - message: What is wrong.
    public init(_ code: Code, offset: Int, _ message: String) {
        self.code = code
        self.offset = offset
        self.message = message
    }

    /// `at offset 5: unknownOperator: …`.
    public var description: String { "at offset \(self.offset): \(self.code.rawValue): \(self.message)" }
}

/// Reads `[[ "a", "b" ], …]`: an array of arrays of strings (numbers are taken as their text).
struct StringArrayJSONParser {
    let characters: [Character]
    var index = 0

    init(_ characters: [Character]) { self.characters = characters }

    var current: Character? { self.index < self.characters.count ? self.characters[self.index] : nil }

    func error(_ expected: String) -> ConstraintError {
        let found = self.current.map { "'\($0)'" } ?? "end of input"
        return ConstraintError(.invalidJSON, offset: self.index, "expected \(expected), found \(found)")
    }

    mutating func skipWhitespace() {
        while let c = self.current, c.isWhitespace { self.index += 1 }
    }

    mutating func expect(_ character: Character) throws(ConstraintError) {
        self.skipWhitespace()
        guard self.current == character else { throw self.error("'\(character)'") }
        self.index += 1
    }

    mutating func parseArrayOfArrays() throws(ConstraintError) -> [(Int, [String])] {
        try self.expect("[")
        var result: [(Int, [String])] = []
        self.skipWhitespace()
        if self.current == "]" {
            self.index += 1
        } else {
            while true {
                self.skipWhitespace()
                let start = self.index
                result.append((start, try self.parseStrings()))
                self.skipWhitespace()
                if self.current == "," {
                    self.index += 1
                    continue
                }
                try self.expect("]")
                break
            }
        }
        self.skipWhitespace()
        guard self.current == nil else { throw self.error("end of input") }
        return result
    }

    mutating func parseStrings() throws(ConstraintError) -> [String] {
        try self.expect("[")
        var result: [String] = []
        self.skipWhitespace()
        if self.current == "]" {
            self.index += 1
            return result
        }
        while true {
            self.skipWhitespace()
            if self.current == "\"" {
                result.append(try self.parseString())
            } else {
                let start = self.index
                while let c = self.current, c.isNumber || c == "-" || c == "." { self.index += 1 }
                guard self.index > start else { throw self.error("a string") }
                result.append(String(self.characters[start..<self.index]))
            }
            self.skipWhitespace()
            if self.current == "," {
                self.index += 1
                continue
            }
            try self.expect("]")
            return result
        }
    }

    mutating func parseString() throws(ConstraintError) -> String {
        self.index += 1  // opening quote
        var result = ""
        while true {
            guard let c = self.current else { throw self.error("'\"' closing the string") }
            self.index += 1
            if c == "\"" { return result }
            guard c == "\\" else {
                result.append(c)
                continue
            }
            guard let escaped = self.current else { throw self.error("an escaped character") }
            self.index += 1
            switch escaped {
            case "\"", "\\", "/": result.append(escaped)
            case "n": result.append("\n")
            case "t": result.append("\t")
            case "r": result.append("\r")
            case "b": result.append("\u{08}")
            case "f": result.append("\u{0C}")
            case "u":
                guard self.index + 4 <= self.characters.count,
                    let code = UInt32(String(self.characters[self.index..<(self.index + 4)]), radix: 16),
                    let scalar = Unicode.Scalar(code)
                else { throw self.error("four hex digits") }
                self.index += 4
                result.unicodeScalars.append(scalar)
            default:
                self.index -= 1
                throw self.error("a valid escape")
            }
        }
    }
}

/// An agent as placement sees it: id, hostname, fault domain and attributes.
public struct AgentSite: Sendable, Hashable {
    /// The agent id.
    public var agentID: String
    /// The hostname.
    public var hostname: String
    /// The fault-domain region, if any.
    public var region: String?
    /// The fault-domain zone, if any.
    public var zone: String?
    /// The agent's attributes.
    public var attributes: [Attribute]

    /// Creates a site.
    ///
    /// - Parameters:
    ///   - agentID: The agent id.
    ///   - hostname: The hostname.
    ///   - region: The region.
    ///   - zone: The zone.
    ///   - attributes: The attributes.
    public init(
        agentID: String, hostname: String, region: String? = nil, zone: String? = nil, attributes: [Attribute] = []
    ) {
        self.agentID = agentID
        self.hostname = hostname
        self.region = region
        self.zone = zone
        self.attributes = attributes
    }

    /// The agent an offer comes from.
    ///
    /// - Parameter offer: The offer.
    public init(offer: Offer) {
        self.init(
            agentID: offer.agentID.value,
            hostname: offer.hostname,
            region: offer.region,
            zone: offer.zone,
            attributes: offer.attributes
        )
    }
}
