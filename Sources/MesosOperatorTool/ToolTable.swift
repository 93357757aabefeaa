import Foundation
import MesosCore

/// A plain-text table: a header row in capitals and left-aligned columns separated by two spaces, as
/// `kubectl get` prints them. Cells have their line breaks replaced so that every row stays on one line.
struct ToolTable {
    var headers: [String]
    var rows: [[String]] = []

    init(_ headers: String...) {
        self.headers = headers
    }

    mutating func add(_ cells: String...) {
        self.rows.append(cells)
    }

    /// The table, one line per row; `emptyMessage` alone when there are no rows.
    func render(emptyMessage: String) -> String {
        guard !self.rows.isEmpty else { return emptyMessage + "\n" }
        let all = [self.headers] + self.rows.map { row in
            row.map { $0.replacingOccurrences(of: "\n", with: " ").replacingOccurrences(of: "\t", with: " ") }
        }
        var widths = Array(repeating: 0, count: self.headers.count)
        for row in all {
            for (index, cell) in row.enumerated() where index < widths.count {
                widths[index] = max(widths[index], cell.count)
            }
        }
        var text = ""
        for row in all {
            var line = ""
            for (index, cell) in row.enumerated() where index < widths.count {
                let last = index == widths.count - 1
                line += last ? cell : cell.padding(toLength: widths[index] + 2, withPad: " ", startingAt: 0)
            }
            while line.hasSuffix(" ") { line.removeLast() }
            text += line + "\n"
        }
        return text
    }
}

/// Formatting of the values the tables show.
enum ToolFormat {
    /// The scalar resources by name, summed over reservations (`cpus`, `mem`, `disk`, `gpus`, …).
    static func scalars(_ resources: [Resource]) -> [String: Double] {
        var sums: [String: Double] = [:]
        for resource in resources where resource.type == .scalar {
            sums[resource.name, default: 0] += resource.scalar.value
        }
        return sums
    }

    /// A number without a useless fraction: `2`, `0.5`, `1.25`.
    static func number(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 {
            return String(Int64(value))
        }
        var text = String(format: "%.3f", value)
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text
    }

    /// `used/total` for one scalar resource.
    static func usage(_ name: String, used: [String: Double], total: [String: Double]) -> String {
        "\(self.number(used[name] ?? 0))/\(self.number(total[name] ?? 0))"
    }

    /// The scalars as `cpus:2;mem:1024`, Mesos's resource text, sorted by name.
    static func resourceText(_ sums: [String: Double]) -> String {
        sums.isEmpty ? "-" : sums.sorted { $0.key < $1.key }.map { "\($0.key):\(self.number($0.value))" }.joined(separator: ";")
    }

    /// A `Value.Scalar` map as `cpus:1;mem:512`.
    static func scalarMap(_ map: [String: Mesos_V1_Value.Scalar]) -> String {
        self.resourceText(map.mapValues(\.value))
    }

    /// A TimeInfo as UTC `2026-12-05T15:04:05Z`, or `-` when absent.
    static func time(_ info: TimeInfo, present: Bool) -> String {
        guard present else { return "-" }
        let date = Date(timeIntervalSince1970: Double(info.nanoseconds) / 1e9)
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: date)
    }

    /// A task state's Mesos name (`TASK_RUNNING`).
    static func state(_ state: TaskState) -> String {
        let name = String(describing: state)
        // SwiftProtobuf's case names are lowerCamel (`taskRunning`); Mesos spells them TASK_RUNNING.
        var result = ""
        for character in name {
            if character.isUppercase, !result.isEmpty { result += "_" }
            result += character.uppercased()
        }
        return result
    }

    /// `yes`/`no`.
    static func yesNo(_ value: Bool) -> String {
        value ? "yes" : "no"
    }
}
