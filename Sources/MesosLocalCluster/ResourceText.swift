import MesosCore

/// Mesos's text form of resources, as its `--resources` flags take them: `cpus:0.1;mem:32;ports:[31000-32000]`.
///
/// Each `;`-separated entry is `name:value`, where the value is a scalar (`0.5`), ranges (`[1-5,10-20]`) or a
/// set (`{a,b}`). A role in parentheses (`cpus(*):1`) may only be `*`: reservations are not expressed here.
///
/// ```swift
/// let resources = try ResourceText.parse("cpus:0.1;mem:32", allocationRole: "*")
/// ResourceText.format(resources)   // "cpus:0.1;mem:32"
/// ```
public enum ResourceText {
    /// Parses resources.
    ///
    /// - Parameters:
    ///   - text: The text, such as `cpus:0.1;mem:32`.
    ///   - allocationRole: When set, each resource's `allocation_info.role` (needed by MULTI_ROLE frameworks).
    /// - Returns: The resources in the order written.
    /// - Throws: ``MesosError/Code/invalidConfiguration`` naming the entry that is malformed.
    public static func parse(_ text: String, allocationRole: String? = nil) throws(MesosError) -> [Resource] {
        func invalid(_ reason: String) -> MesosError {
            MesosError(code: .invalidConfiguration, message: "Malformed resources '\(text)': \(reason)")
        }
        var result: [Resource] = []
        for rawEntry in text.split(separator: ";", omittingEmptySubsequences: true) {
            let entry = rawEntry.trimmingWhitespace()
            if entry.isEmpty { continue }
            guard let colon = entry.firstIndex(of: ":") else {
                throw invalid("'\(entry)' is not name:value")
            }
            var name = entry[..<colon].trimmingWhitespace()
            let value = entry[entry.index(after: colon)...].trimmingWhitespace()
            if let open = name.firstIndex(of: "(") {
                guard name.last == ")" else { throw invalid("unbalanced '(' in '\(name)'") }
                let role = name[name.index(after: open)..<name.index(before: name.endIndex)]
                guard role == "*" else {
                    throw invalid("reserved resources ('\(name)') are not supported; use the role option instead")
                }
                name = name[..<open].trimmingWhitespace()
            }
            guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" || $0 == "." || $0 == "/" })
            else {
                throw invalid("'\(name)' is not a resource name")
            }
            var resource: Resource
            if value.first == "[" {
                guard value.last == "]" else { throw invalid("'\(value)' misses its closing ']'") }
                var ranges: [ClosedRange<UInt64>] = []
                for part in value.dropFirst().dropLast().split(separator: ",") {
                    let bounds = part.split(separator: "-", omittingEmptySubsequences: false).map { $0.trimmingWhitespace() }
                    guard bounds.count == 2, let low = UInt64(bounds[0]), let high = UInt64(bounds[1]), low <= high else {
                        throw invalid("'\(part)' is not a range begin-end")
                    }
                    ranges.append(low...high)
                }
                guard !ranges.isEmpty else { throw invalid("'\(name)' has no ranges") }
                resource = .ranges(String(name), ranges)
            } else if value.first == "{" {
                guard value.last == "}" else { throw invalid("'\(value)' misses its closing '}'") }
                let items = value.dropFirst().dropLast().split(separator: ",").map { String($0.trimmingWhitespace()) }
                guard !items.isEmpty, !items.contains("") else { throw invalid("'\(name)' has an empty set item") }
                resource = .set(String(name), items)
            } else {
                guard let number = Double(value), number.isFinite, number >= 0 else {
                    throw invalid("'\(value)' is not a non-negative number for '\(name)'")
                }
                resource = .scalar(String(name), number)
            }
            if let allocationRole {
                resource.allocationInfo.role = allocationRole
            }
            result.append(resource)
        }
        guard !result.isEmpty else {
            throw invalid("no resources given")
        }
        return result
    }

    /// Formats resources as text, without roles: `cpus:0.1;mem:32;ports:[31000-32000]`.
    ///
    /// - Parameter resources: The resources.
    /// - Returns: The text.
    public static func format(_ resources: [Resource]) -> String {
        resources.map { resource -> String in
            switch resource.type {
            case .scalar:
                return "\(resource.name):\(Self.format(scalar: resource.scalar.value))"
            case .ranges:
                return "\(resource.name):[" + resource.ranges.range.map { "\($0.begin)-\($0.end)" }.joined(separator: ",") + "]"
            case .set:
                return "\(resource.name):{" + resource.set.item.joined(separator: ",") + "}"
            default:
                return "\(resource.name):?"
            }
        }.joined(separator: ";")
    }

    /// A scalar as Mesos prints it: up to three decimals, without trailing zeros (`32`, `0.1`).
    ///
    /// - Parameter value: The value.
    /// - Returns: The text.
    public static func format(scalar value: Double) -> String {
        let rounded = (value * 1000).rounded() / 1000
        if rounded == rounded.rounded(), abs(rounded) < 1e15 {
            return String(Int64(rounded))
        }
        var text = String(rounded)
        if text.contains("e") { return text }
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text
    }
}

extension StringProtocol {
    func trimmingWhitespace() -> SubSequence {
        var start = self.startIndex
        var end = self.endIndex
        while start < end, self[start].isWhitespace { start = self.index(after: start) }
        while end > start, self[self.index(before: end)].isWhitespace { end = self.index(before: end) }
        return self[start..<end]
    }
}
