import MesosCore

/// The agent's `--attributes` text form: `rack:r1;zone:a;level:3;ids:[1-5];tags:{x,y}`.
///
/// Each `;`-separated entry is `name:value`. As Mesos reads it, a value in brackets is RANGES, in braces SET, a
/// number SCALAR, and anything else TEXT. Kept in this one file so that a shared parser can replace it.
enum AgentAttributes {
    /// Parses attributes.
    ///
    /// - Parameter text: The text; empty (or only `;`) for none.
    /// - Returns: The attributes in the order written.
    /// - Throws: ``MesosError/Code/invalidConfiguration`` naming the entry and its character offset.
    static func parse(_ text: String) throws(MesosError) -> [Attribute] {
        var result: [Attribute] = []
        var offset = 0
        for rawEntry in text.split(separator: ";", omittingEmptySubsequences: false) {
            let entryOffset = offset
            offset += rawEntry.count + 1
            func invalid(_ reason: String) -> MesosError {
                MesosError(
                    code: .invalidConfiguration,
                    message: "Malformed attributes '\(text)': at offset \(entryOffset) ('\(rawEntry)'): \(reason)")
            }
            let entry = rawEntry.trimmingWhitespace()
            if entry.isEmpty { continue }
            let parts = entry.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 2 else {
                throw invalid("expected name:value")
            }
            let name = String(parts[0].trimmingWhitespace())
            let value = String(parts[1].trimmingWhitespace())
            guard !name.isEmpty, name.allSatisfy({ !$0.isWhitespace && !"()[]{},".contains($0) }) else {
                throw invalid("'\(name)' is not an attribute name")
            }
            guard !value.isEmpty else { throw invalid("the value of '\(name)' is empty") }
            var attribute = Attribute()
            attribute.name = name
            if value.hasPrefix("[") {
                guard value.hasSuffix("]") else { throw invalid("'\(value)' misses its closing ']'") }
                attribute.type = .ranges
                for part in value.dropFirst().dropLast().split(separator: ",") {
                    let bounds = part.split(separator: "-", omittingEmptySubsequences: false).map { $0.trimmingWhitespace() }
                    guard bounds.count == 2, let low = UInt64(bounds[0]), let high = UInt64(bounds[1]), low <= high else {
                        throw invalid("'\(part)' is not a range begin-end")
                    }
                    var range = Value.Range()
                    range.begin = low
                    range.end = high
                    attribute.ranges.range.append(range)
                }
                guard !attribute.ranges.range.isEmpty else { throw invalid("'\(name)' has no ranges") }
            } else if value.hasPrefix("{") {
                guard value.hasSuffix("}") else { throw invalid("'\(value)' misses its closing '}'") }
                attribute.type = .set
                let items = value.dropFirst().dropLast().split(separator: ",", omittingEmptySubsequences: false)
                    .map { String($0.trimmingWhitespace()) }
                guard !items.contains("") else { throw invalid("'\(name)' has an empty set item") }
                attribute.set.item = items
            } else if let number = Double(value), number.isFinite {
                attribute.type = .scalar
                attribute.scalar.value = number
            } else {
                guard value.allSatisfy({ !$0.isWhitespace && !"()[]{},".contains($0) }) else {
                    throw invalid("'\(value)' is not a text value")
                }
                attribute.type = .text
                attribute.text.value = value
            }
            result.append(attribute)
        }
        return result
    }

    /// The attributes in the text form, `rack:r1;zone:a`.
    static func format(_ attributes: [Attribute]) -> String {
        attributes.map { "\($0.name):\(Self.formatValue($0))" }.joined(separator: ";")
    }

    /// One attribute's value as text.
    static func formatValue(_ attribute: Attribute) -> String {
        switch attribute.type {
        case .scalar:
            let value = attribute.scalar.value
            if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
            return String(value)
        case .ranges:
            return "[" + attribute.ranges.range.map { "\($0.begin)-\($0.end)" }.joined(separator: ",") + "]"
        case .set:
            return "{" + attribute.set.item.joined(separator: ",") + "}"
        case .text:
            return attribute.text.value
        }
    }
}
