import MesosCore

/// The typed value of an agent attribute: text, a scalar, ranges or a set.
///
/// ```swift
/// offer.attribute("rack")      // .text("r1")
/// offer.attribute("cores")     // .scalar(4)
/// ```
public enum AttributeValue: Sendable, Hashable, CustomStringConvertible {
    /// A TEXT attribute, such as `rack:r1`.
    case text(String)
    /// A SCALAR attribute, such as `cores:4`.
    case scalar(Double)
    /// A RANGES attribute, such as `ports:[1-2]`.
    case ranges(ResourceRanges)
    /// A SET attribute, such as `tags:{a,b}`.
    case set(ResourceSet)

    /// The value of a wire attribute, or `nil` when its type field does not match a value it carries.
    ///
    /// - Parameter attribute: The attribute.
    public init?(_ attribute: Attribute) {
        switch attribute.type {
        case .text:
            self = .text(attribute.text.value)
        case .scalar:
            self = .scalar(attribute.scalar.value)
        case .ranges:
            guard let ranges = try? ResourceRanges(attribute.ranges) else { return nil }
            self = .ranges(ranges)
        case .set:
            self = .set(ResourceSet(attribute.set))
        }
    }

    /// The string Marathon compares constraints against: text unchanged, a scalar with at most three
    /// decimals (`4`, `1.5`; Mesos's fixed-point rounding), ranges as `[b-e,…]` sorted by begin, a set as
    /// `{…}` with its items sorted.
    public var constraintText: String {
        switch self {
        case .text(let text):
            return text
        case .scalar(let value):
            return FixedScalar(value)?.description ?? String(value)
        case .ranges(let ranges):
            let sorted = ranges.intervals.sorted { ($0.lowerBound, $0.upperBound) < ($1.lowerBound, $1.upperBound) }
            return "[" + sorted.map { "\($0.lowerBound)-\($0.upperBound)" }.joined(separator: ",") + "]"
        case .set(let set):
            return "{" + set.items.sorted().joined(separator: ",") + "}"
        }
    }

    /// The value in the agent's `--attributes` syntax: `r1`, `4`, `[1-2,5-6]`, `{a,b}` (items in stored order).
    public var description: String {
        switch self {
        case .text(let text): return text
        case .scalar(let value): return FixedScalar(value)?.description ?? String(value)
        case .ranges(let ranges):
            return "[" + ranges.intervals.map { "\($0.lowerBound)-\($0.upperBound)" }.joined(separator: ",") + "]"
        case .set(let set): return "{" + set.items.joined(separator: ",") + "}"
        }
    }
}

extension Attribute {
    /// Creates an attribute.
    ///
    /// - Parameters:
    ///   - name: The attribute name, e.g. `rack`.
    ///   - value: Its value.
    public init(name: String, value: AttributeValue) {
        self.init()
        self.name = name
        switch value {
        case .text(let text):
            self.type = .text
            self.text.value = text
        case .scalar(let scalar):
            self.type = .scalar
            self.scalar.value = scalar
        case .ranges(let ranges):
            self.type = .ranges
            self.ranges = ranges.value
        case .set(let set):
            self.type = .set
            self.set = set.value
        }
    }

    /// The typed value, or `nil` when the type does not match a value the attribute carries.
    public var value: AttributeValue? { AttributeValue(self) }

    /// The attribute in the agent's `--attributes` syntax: `rack:r3`, `cores:4`, `tags:{a,b}`.
    public var textForm: String {
        self.name + ":" + (self.value?.description ?? "")
    }
}

extension Array where Element == Attribute {
    /// Parses the agent's `--attributes` syntax: `name:value` pairs separated by `;`, such as
    /// `rack:r1;zone:a;cores:4;ports:[1-2];tags:{a,b}`.
    ///
    /// A value starting with `[` is ranges, one starting with `{` a set, a number a scalar, anything else
    /// text. Spaces inside a value are ignored (as Mesos does) and empty `;`-separated entries are
    /// skipped. The order is kept and names may repeat.
    ///
    /// - Parameter text: The text.
    /// - Throws: ``ResourcesParseError`` with the offset of the problem and what was expected there.
    public init(parsing text: String) throws(ResourcesParseError) {
        var parser = AttributeTextParser(text)
        self = try parser.parse()
    }

    /// The attributes in the agent's `--attributes` syntax, `;`-separated: `rack:r1;cores:4`.
    public var textForm: String {
        self.map(\.textForm).joined(separator: ";")
    }

    /// The value of the first attribute named `name` (Marathon and Mesos use the first), or `nil`.
    ///
    /// - Parameter name: The attribute name.
    public func value(of name: String) -> AttributeValue? {
        self.first { $0.name == name }?.value
    }
}

/// Reads `name:value;…` with offsets for errors.
struct AttributeTextParser {
    let characters: [Character]
    var index = 0

    init(_ text: String) { self.characters = Array(text) }

    var current: Character? { self.index < self.characters.count ? self.characters[self.index] : nil }

    func error(_ expected: String, at offset: Int) -> ResourcesParseError {
        let found = offset < self.characters.count ? "'\(self.characters[offset])'" : "end of input"
        return ResourcesParseError(offset: offset, expected: expected, found: found)
    }

    static let special: Set<Character> = ["[", "]", "{", "}", "(", ")", ",", ":"]

    mutating func parse() throws(ResourcesParseError) -> [Attribute] {
        var result: [Attribute] = []
        while self.index < self.characters.count {
            let start = self.index
            while let c = self.current, c != ";" { self.index += 1 }
            let end = self.index
            if self.current == ";" { self.index += 1 }
            if self.characters[start..<end].allSatisfy(\.isWhitespace) { continue }
            result.append(try self.entry(start, end))
        }
        return result
    }

    func entry(_ start: Int, _ end: Int) throws(ResourcesParseError) -> Attribute {
        guard let colon = self.characters[start..<end].firstIndex(of: ":") else {
            throw self.error("':' after the attribute name", at: end)
        }
        let name = String(self.characters[start..<colon]).trimmingWhitespace()
        guard !name.isEmpty else { throw self.error("an attribute name", at: start) }
        if let bad = self.characters[start..<colon].firstIndex(where: { Self.special.contains($0) }) {
            throw self.error("an attribute name without brackets, braces, parentheses or commas", at: bad)
        }
        // Spaces are dropped, as Mesos does; remember where each kept character came from.
        var value: [Character] = []
        var offsets: [Int] = []
        for offset in (colon + 1)..<end where self.characters[offset] != " " {
            value.append(self.characters[offset])
            offsets.append(offset)
        }
        guard let first = value.first else { throw self.error("a value", at: colon + 1) }
        func at(_ i: Int) -> Int { i < offsets.count ? offsets[i] : end }
        switch first {
        case "[":
            return Attribute(name: name, value: .ranges(try self.ranges(value, at)))
        case "{":
            return Attribute(name: name, value: .set(try self.set(value, at)))
        default:
            if let bad = value.firstIndex(where: { Self.special.contains($0) }) {
                throw self.error("a scalar or text value (use [..] for ranges and {..} for sets)", at: at(bad))
            }
            let text = String(value)
            if let number = Double(text), number.isFinite { return Attribute(name: name, value: .scalar(number)) }
            return Attribute(name: name, value: .text(text))
        }
    }

    func ranges(_ value: [Character], _ at: (Int) -> Int) throws(ResourcesParseError) -> ResourceRanges {
        guard value.last == "]" else { throw self.error("']' closing the ranges", at: at(value.count)) }
        var intervals: [ClosedRange<UInt64>] = []
        var i = 1
        let close = value.count - 1
        if i == close { return ResourceRanges() }
        while i < close {
            let beginAt = i
            guard let begin = Self.number(value, &i) else { throw self.error("a number", at: at(beginAt)) }
            guard i < close, value[i] == "-" else { throw self.error("'-'", at: at(i)) }
            i += 1
            let endAt = i
            guard let end = Self.number(value, &i) else { throw self.error("a number", at: at(endAt)) }
            guard begin <= end else { throw self.error("a range with begin ≤ end", at: at(beginAt)) }
            intervals.append(begin...end)
            if i < close {
                guard value[i] == "," else { throw self.error("',' or ']'", at: at(i)) }
                i += 1
                guard i < close else { throw self.error("a number", at: at(i)) }
            }
        }
        let ranges = ResourceRanges(intervals)
        guard ranges.isValid else { throw self.error("ranges that do not overlap", at: at(0)) }
        return ranges
    }

    static func number(_ value: [Character], _ i: inout Int) -> UInt64? {
        var result: UInt64 = 0
        let start = i
        while i < value.count, value[i].isASCII, let digit = value[i].wholeNumberValue {
            let (times10, o1) = result.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(UInt64(digit))
            if o1 || o2 { return nil }
            result = sum
            i += 1
        }
        return i > start ? result : nil
    }

    func set(_ value: [Character], _ at: (Int) -> Int) throws(ResourcesParseError) -> ResourceSet {
        guard value.last == "}" else { throw self.error("'}' closing the set", at: at(value.count)) }
        let inner = value[1..<(value.count - 1)]
        if inner.isEmpty { return ResourceSet() }
        var items: [String] = []
        var itemStart = 1
        for i in 1...(value.count - 1) where i == value.count - 1 || value[i] == "," {
            let item = value[itemStart..<i]
            guard !item.isEmpty else { throw self.error("a set item", at: at(itemStart)) }
            if let bad = item.firstIndex(where: { Self.special.contains($0) }) {
                throw self.error("a set item without brackets, braces or parentheses", at: at(bad))
            }
            items.append(String(item))
            itemStart = i + 1
        }
        let set = ResourceSet(items)
        guard set.isValid else { throw self.error("set items that do not repeat", at: at(0)) }
        return set
    }
}
