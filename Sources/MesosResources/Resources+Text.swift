import MesosCore

// Parsing and printing: Mesos's text syntax (`cpus:1;mem:128;ports:[31000-31005];cpus(role):2`) and the
// JSON array the agent's `--resources` flag also accepts.

extension Resources {
    /// Parses resources the way the agent's `--resources` flag does: a JSON array
    /// (`[{"name":"cpus","type":"SCALAR","scalar":{"value":1}}]`) when the text starts with `[`, otherwise
    /// the text syntax `name[(role)]:value;…`.
    ///
    /// In the text syntax a value is a scalar (`1.5`), ranges (`[31000-31005,32000-32000]`) or a set
    /// (`{a,b}`); spaces inside values are ignored, empty `;`-separated entries are skipped, and `(role)` makes
    /// a STATIC reservation (`(*)` is unreserved). Resources of the same kind are combined
    /// (`cpus:1;cpus:2` is `cpus:3`). Every resource is validated; an invalid one is an error, not skipped.
    ///
    /// - Parameters:
    ///   - text: The text.
    ///   - defaultRole: The role of entries without one (`*`: unreserved).
    /// - Throws: ``ResourcesParseError`` with the offset and what was expected there.
    public init(parsing text: String, defaultRole: String = MesosRole.any) throws(ResourcesParseError) {
        var parser = ResourceTextParser(text, defaultRole: defaultRole)
        self = try parser.parse()
    }

    /// The text syntax, which ``init(parsing:defaultRole:)`` reads back to an equal collection:
    /// `cpus:1.5;mem:128;ports:[31000-31005];disks:{a,b};cpus(web):2`.
    ///
    /// - Throws: ``ResourcesError/Code/notRepresentable`` when a resource has metadata the syntax cannot
    ///   express: a dynamic or refined reservation, `allocation_info`, `disk`, `revocable`, `shared`, a
    ///   provider, or a name or set item with separator characters or surrounding whitespace.
    public func textForm() throws(ResourcesError) -> String {
        var parts: [String] = []
        for resource in self.combined {
            parts.append(try Self.textForm(of: resource))
        }
        return parts.joined(separator: ";")
    }

    /// The JSON array form, in Mesos's field names (`[{"name":"cpus","type":"SCALAR",…}]`), which
    /// ``init(parsing:defaultRole:)`` reads back. Shared resources appear once per copy.
    public func jsonForm() -> String {
        let codec = MesosCodec(.json)
        var parts: [String] = []
        for resource in self {
            if let bytes = try? codec.encode(resource) {
                parts.append(String(decoding: bytes, as: UTF8.self))
            }
        }
        return "[" + parts.joined(separator: ",") + "]"
    }

    /// The text form when every resource can be expressed in it, otherwise the JSON form.
    public var description: String {
        (try? self.textForm()) ?? self.jsonForm()
    }

    static let reservedCharacters: Set<Character> = ["(", ")", ":", ";", "[", "]", "{", "}", ","]

    static func isPlainToken(_ token: String) -> Bool {
        !token.isEmpty && !token.contains { $0.isWhitespace || Self.reservedCharacters.contains($0) }
    }

    static func textForm(of resource: Resource) throws(ResourcesError) -> String {
        func refuse(_ why: String) -> ResourcesError {
            ResourcesError(.notRepresentable, "resource '\(resource.name)' has \(why), which the text syntax cannot express")
        }
        if resource.hasAllocationInfo { throw refuse("allocation_info") }
        if resource.hasDisk { throw refuse("disk info") }
        if resource.hasRevocable { throw refuse("revocable") }
        if resource.hasShared { throw refuse("shared") }
        if resource.hasProviderID { throw refuse("a provider id") }
        guard Self.isPlainToken(resource.name) else { throw refuse("a name with separators or whitespace") }
        var text = resource.name
        switch resource.reservations.count {
        case 0:
            break
        case 1 where resource.reservations[0].type == .static:
            text += "(\(resource.reservations[0].role))"
        default:
            throw refuse("a dynamic or refined reservation")
        }
        text += ":"
        switch resource.type {
        case .scalar:
            text += (FixedScalar(resource.scalar.value) ?? .zero).description
        case .ranges:
            text += "[" + resource.rangesValue.intervals.map { "\($0.lowerBound)-\($0.upperBound)" }.joined(separator: ",") + "]"
        case .set:
            for item in resource.set.item where !Self.isPlainToken(item) {
                throw refuse("the set item '\(item)'")
            }
            text += "{" + resource.set.item.joined(separator: ",") + "}"
        default:
            throw refuse("the type \(resource.type)")
        }
        return text
    }
}

/// A hand-written parser for the text syntax and the outer structure of the JSON form, tracking offsets.
struct ResourceTextParser {
    let characters: [Character]
    let defaultRole: String
    var index = 0

    init(_ text: String, defaultRole: String) {
        self.characters = Array(text)
        self.defaultRole = defaultRole
    }

    var atEnd: Bool { self.index >= self.characters.count }
    var current: Character? { self.atEnd ? nil : self.characters[self.index] }

    func describe(_ offset: Int) -> String {
        offset < self.characters.count ? "'\(self.characters[offset])'" : "end of input"
    }

    func error(_ expected: String, at offset: Int? = nil) -> ResourcesParseError {
        let offset = offset ?? self.index
        return ResourcesParseError(offset: offset, expected: expected, found: self.describe(offset))
    }

    mutating func skipWhitespace() {
        while let c = self.current, c.isWhitespace { self.index += 1 }
    }

    mutating func parse() throws(ResourcesParseError) -> Resources {
        do {
            try MesosRole.validate(self.defaultRole)
        } catch {
            throw ResourcesParseError(offset: 0, expected: "a valid default role", found: error.message)
        }
        self.skipWhitespace()
        if self.current == "[" { return try self.parseJSON() }
        var result = Resources()
        while true {
            self.skipWhitespace()
            guard let c = self.current else { break }
            if c == ";" {
                self.index += 1
                continue
            }
            let (resource, start) = try self.parseEntry()
            do {
                try resource.validateAsMesos()
            } catch {
                throw ResourcesParseError(offset: start, expected: "a valid resource", found: error.message)
            }
            result += Resources([resource])
            self.skipWhitespace()
            if let c = self.current, c != ";" { throw self.error("';' or end of input") }
        }
        return result
    }

    /// Reads characters up to one of `stops`, returning them trimmed.
    mutating func readToken(until stops: Set<Character>) -> String {
        let start = self.index
        while let c = self.current, !stops.contains(c) { self.index += 1 }
        return String(self.characters[start..<self.index]).trimmingWhitespace()
    }

    mutating func parseEntry() throws(ResourcesParseError) -> (Resource, Int) {
        let start = self.index
        let name = self.readToken(until: Resources.reservedCharacters)
        guard !name.isEmpty else { throw self.error("a resource name", at: start) }
        var role = self.defaultRole
        if self.current == "(" {
            self.index += 1
            let roleStart = self.index
            role = self.readToken(until: Resources.reservedCharacters)
            guard self.current == ")" else { throw self.error("')'") }
            guard !role.isEmpty else { throw self.error("a role", at: roleStart) }
            do {
                try MesosRole.validate(role)
            } catch {
                throw ResourcesParseError(offset: roleStart, expected: "a valid role", found: error.message)
            }
            self.index += 1
            self.skipWhitespace()
            guard self.current == ":" else { throw self.error("':'") }
        } else {
            guard self.current == ":" else { throw self.error("'(' or ':'") }
        }
        self.index += 1
        self.skipWhitespace()

        var resource = Resource()
        resource.name = name
        if role != MesosRole.any {
            var entry = Resource.ReservationInfo()
            entry.type = .static
            entry.role = role
            resource.reservations = [entry]
        }
        switch self.current {
        case "[":
            resource.type = .ranges
            resource.ranges = try self.parseRanges().value
        case "{":
            resource.type = .set
            resource.set = try self.parseSet().value
        default:
            resource.type = .scalar
            resource.scalar.value = try self.parseScalar()
        }
        return (resource, start)
    }

    mutating func parseUInt64() throws(ResourcesParseError) -> UInt64 {
        self.skipWhitespace()
        let start = self.index
        var value: UInt64 = 0
        while let c = self.current, let digit = c.wholeNumberValue, c.isASCII {
            let (times10, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(UInt64(digit))
            if o1 || o2 { throw self.error("a number ≤ \(UInt64.max)", at: start) }
            value = sum
            self.index += 1
        }
        guard self.index > start else { throw self.error("a number") }
        self.skipWhitespace()
        return value
    }

    mutating func parseRanges() throws(ResourcesParseError) -> ResourceRanges {
        self.index += 1  // "["
        var intervals: [ClosedRange<UInt64>] = []
        self.skipWhitespace()
        if self.current == "]" {
            self.index += 1
            return ResourceRanges()
        }
        while true {
            self.skipWhitespace()
            let rangeStart = self.index
            let begin = try self.parseUInt64()
            guard self.current == "-" else { throw self.error("'-'") }
            self.index += 1
            let end = try self.parseUInt64()
            guard begin <= end else {
                throw ResourcesParseError(
                    offset: rangeStart,
                    expected: "a range with begin ≤ end",
                    found: "[\(begin)-\(end)]"
                )
            }
            intervals.append(begin...end)
            switch self.current {
            case ",": self.index += 1
            case "]":
                self.index += 1
                return ResourceRanges(intervals)
            default: throw self.error("',' or ']'")
            }
        }
    }

    mutating func parseSet() throws(ResourcesParseError) -> ResourceSet {
        self.index += 1  // "{"
        var items: [String] = []
        self.skipWhitespace()
        if self.current == "}" {
            self.index += 1
            return ResourceSet()
        }
        while true {
            self.skipWhitespace()
            let itemStart = self.index
            let item = String(self.readToken(until: Resources.reservedCharacters).filter { $0 != " " })
            guard !item.isEmpty else { throw self.error("a set item", at: itemStart) }
            items.append(item)
            switch self.current {
            case ",": self.index += 1
            case "}":
                self.index += 1
                return ResourceSet(items)
            default: throw self.error("',' or '}'")
            }
        }
    }

    mutating func parseScalar() throws(ResourcesParseError) -> Double {
        let start = self.index
        let text = String(self.readToken(until: [";"]).filter { $0 != " " })
        guard !text.isEmpty, let value = Double(text) else {
            throw self.error("a number, '[' or '{'", at: start)
        }
        return value
    }

    // MARK: JSON

    /// Splits the top-level array into its objects (checking brackets and strings), decodes each with
    /// ``MesosCodec``, gives role-less ones the default role, then validates and combines them.
    mutating func parseJSON() throws(ResourcesParseError) -> Resources {
        self.index += 1  // "["
        var objects: [(start: Int, end: Int)] = []
        self.skipWhitespace()
        if self.current == "]" {
            self.index += 1
        } else {
            while true {
                self.skipWhitespace()
                guard self.current == "{" else { throw self.error("'{' (a resource object)") }
                let start = self.index
                try self.skipJSONValue()
                objects.append((start, self.index))
                self.skipWhitespace()
                if self.current == "," {
                    self.index += 1
                    continue
                }
                guard self.current == "]" else { throw self.error("',' or ']'") }
                self.index += 1
                break
            }
        }
        self.skipWhitespace()
        guard self.atEnd else { throw self.error("end of input") }

        let codec = MesosCodec(.json)
        var result = Resources()
        for object in objects {
            let bytes = Array(String(self.characters[object.start..<object.end]).utf8)
            var resource: Resource
            do {
                resource = try codec.decode(Resource.self, from: bytes[...])
            } catch {
                throw ResourcesParseError(offset: object.start, expected: "a Resource object", found: error.message)
            }
            if !resource.hasRole && resource.reservations.isEmpty { resource.role = self.defaultRole }
            do {
                let normalized = try resource.normalizedToRefinementFormat()
                try normalized.validateAsMesos()
                result += Resources([normalized])
            } catch {
                throw ResourcesParseError(offset: object.start, expected: "a valid resource", found: error.message)
            }
        }
        return result
    }

    /// Skips one JSON object or array starting at the current `{` or `[`, honouring strings and escapes.
    mutating func skipJSONValue() throws(ResourcesParseError) {
        var closers: [Character] = []
        repeat {
            guard let c = self.current else {
                throw self.error(closers.last.map { "'\($0)'" } ?? "a JSON value")
            }
            switch c {
            case "{": closers.append("}")
            case "[": closers.append("]")
            case "}", "]":
                guard closers.last == c else { throw self.error(closers.last.map { "'\($0)'" } ?? "a JSON value") }
                closers.removeLast()
            case "\"":
                self.index += 1
                while true {
                    guard let s = self.current else { throw self.error("'\"' (end of string)") }
                    if s == "\\" {
                        // Skip the escaped character, never past the end.
                        self.index = min(self.index + 2, self.characters.count)
                        continue
                    }
                    if s == "\"" { break }
                    self.index += 1
                }
            default:
                break
            }
            self.index += 1
        } while !closers.isEmpty
    }
}

extension String {
    /// The string without leading and trailing whitespace.
    func trimmingWhitespace() -> String {
        var slice = Substring(self)
        while let first = slice.first, first.isWhitespace { slice.removeFirst() }
        while let last = slice.last, last.isWhitespace { slice.removeLast() }
        return String(slice)
    }
}
