import ArgumentParser
import Foundation

/// A duration on the command line: `1s`, `500ms`, `2m`, `1h`, `1.5`, or Mesos's `10secs`, `2mins`.
struct DurationArgument: ExpressibleByArgument, Sendable, CustomStringConvertible {
    let duration: Duration
    let text: String

    init?(argument: String) {
        let text = argument.trimmingCharacters(in: .whitespaces).lowercased()
        let digits = text.prefix { $0.isNumber || $0 == "." }
        guard let value = Double(digits), value.isFinite, value >= 0 else { return nil }
        let unit = text.dropFirst(digits.count).trimmingCharacters(in: .whitespaces)
        let seconds: Double
        switch unit {
        case "ns", "nsecs": seconds = value / 1e9
        case "us", "usecs": seconds = value / 1e6
        case "ms", "msecs": seconds = value / 1e3
        case "", "s", "sec", "secs", "second", "seconds": seconds = value
        case "m", "min", "mins", "minute", "minutes": seconds = value * 60
        case "h", "hr", "hrs", "hour", "hours": seconds = value * 3600
        case "d", "day", "days": seconds = value * 86400
        case "w", "week", "weeks": seconds = value * 604800
        default: return nil
        }
        guard seconds < 1e10 else { return nil }
        self.duration = Duration(saturatingSeconds: seconds)
        self.text = argument
    }

    var seconds: Double {
        self.duration.inSeconds
    }

    var description: String { self.text }

    static var defaultCompletionKind: CompletionKind { .default }
}

/// Parses `--env` values: `NAME=VALUE` (repeatable), or a JSON object `{"NAME":"VALUE"}` as Mesos's tool takes.
enum EnvironmentArgument {
    static func parse(_ values: [String]) throws -> [(name: String, value: String)] {
        var result: [(name: String, value: String)] = []
        for value in values {
            let trimmed = value.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("{") {
                guard let object = try? JSONSerialization.jsonObject(with: Data(trimmed.utf8)) as? [String: Any] else {
                    throw ValidationError("--env '\(value)' is not a JSON object of strings")
                }
                for (name, item) in object.sorted(by: { $0.key < $1.key }) {
                    guard let text = item as? String else {
                        throw ValidationError("--env: the value of '\(name)' must be a string")
                    }
                    result.append((name, text))
                }
                continue
            }
            guard let equals = trimmed.firstIndex(of: "="), equals != trimmed.startIndex else {
                throw ValidationError("--env '\(value)' is not NAME=VALUE")
            }
            result.append((String(trimmed[..<equals]), String(trimmed[trimmed.index(after: equals)...])))
        }
        return result
    }
}
