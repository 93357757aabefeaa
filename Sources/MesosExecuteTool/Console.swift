import Foundation
import MesosCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Everything the tool prints goes through here: human lines or one JSON object per line, task output, errors.
/// Writes are serialized, so that lines from the event loop and chunks from the task's output never interleave
/// mid-line.
final class Console: Sendable {
    let json: Bool
    let verbose: Bool
    private let lock = LockedValue(())

    init(json: Bool, verbose: Bool) {
        self.json = json
        self.verbose = verbose
    }

    /// A line for a person (ignored in JSON mode).
    func say(_ line: String) {
        guard !self.json else { return }
        self.emit(Array((line + "\n").utf8), to: 1)
    }

    /// A detail shown with `--verbose` only, on standard error.
    func detail(_ line: String) {
        guard self.verbose else { return }
        self.emit(Array(("mesos-execute: " + line + "\n").utf8), to: 2)
    }

    /// A structured event (JSON mode only): `{"event": name, …}`.
    func event(_ name: String, _ fields: [String: JSONValue]) {
        guard self.json else { return }
        var object = fields
        object["event"] = .string(name)
        self.emit(Array((JSONValue.object(object).text + "\n").utf8), to: 1)
    }

    /// The task's own output: raw to standard output or error, or as an `output` event in JSON mode.
    func taskOutput(stderr: Bool, bytes: [UInt8]) {
        if self.json {
            self.event("output", ["stream": .string(stderr ? "stderr" : "stdout"), "data": .string(String(decoding: bytes, as: UTF8.self))])
        } else {
            self.emit(bytes, to: stderr ? 2 : 1)
        }
    }

    /// The one line that explains why the tool failed: on standard error, or as an `error` event in JSON mode.
    func error(_ message: String, exitCode: Int32) {
        let line = Self.oneLine(message)
        if self.json {
            self.event("error", ["message": .string(line), "exit_code": .number(Double(exitCode))])
        } else {
            self.emit(Array(("mesos-execute: error: " + line + "\n").utf8), to: 2)
        }
    }

    /// Collapses line breaks (`\n`, `\r\n`, `\r`: an HTTP error page has CRLFs) so that an error is always one line.
    static func oneLine(_ text: String) -> String {
        text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }.joined(separator: "; ")
    }

    private func emit(_ bytes: [UInt8], to fd: Int32) {
        self.lock.withLock { _ in
            var offset = 0
            while offset < bytes.count {
                let written = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                if written < 0 {
                    if errno == EINTR { continue }
                    return
                }
                offset += written
            }
        }
    }

    /// `HH:mm:ss.SSS` in local time for a Mesos timestamp (seconds since the epoch).
    static func clock(_ timestamp: Double) -> String {
        let seconds = timestamp.isFinite && timestamp > 0 ? timestamp : Date().timeIntervalSince1970
        var time = time_t(seconds)
        var parts = tm()
        localtime_r(&time, &parts)
        let milliseconds = Int((seconds - seconds.rounded(.down)) * 1000)
        return String(format: "%02d:%02d:%02d.%03d", parts.tm_hour, parts.tm_min, parts.tm_sec, milliseconds)
    }

    /// A generated enum case as Mesos writes it: `taskRunning` → `TASK_RUNNING`, with an optional prefix.
    static func wireName(_ value: some Any, prefix: String = "") -> String {
        var result = prefix
        for character in "\(value)" {
            if character.isUppercase { result.append("_") }
            result.append(contentsOf: character.uppercased())
        }
        return result
    }
}

/// Holds the task's output back until its TASK_RUNNING line is printed, so that what a person reads is in the
/// order it happened (the output arrives directly, the states through the event stream).
final class OutputGate: Sendable {
    private struct State: Sendable {
        var isOpen = false
        var held: [(stderr: Bool, bytes: [UInt8])] = []
        var heldBytes = 0
    }

    private let console: Console
    private let state = LockedValue(State())
    /// Beyond this much held output, the gate opens by itself.
    private static let limit = 1 << 20

    init(console: Console) {
        self.console = console
    }

    func write(stderr: Bool, bytes: [UInt8]) {
        let release = self.state.withLock { state -> [(stderr: Bool, bytes: [UInt8])]? in
            if state.isOpen { return [(stderr, bytes)] }
            state.held.append((stderr, bytes))
            state.heldBytes += bytes.count
            guard state.heldBytes > Self.limit else { return nil }
            state.isOpen = true
            defer { state.held = [] }
            return state.held
        }
        for chunk in release ?? [] {
            self.console.taskOutput(stderr: chunk.stderr, bytes: chunk.bytes)
        }
    }

    /// Prints what was held and lets the rest through.
    func open() {
        let held = self.state.withLock { state -> [(stderr: Bool, bytes: [UInt8])] in
            state.isOpen = true
            defer { state.held = [] }
            return state.held
        }
        for chunk in held {
            self.console.taskOutput(stderr: chunk.stderr, bytes: chunk.bytes)
        }
    }
}

/// A JSON value, written with sorted keys so that output is stable.
enum JSONValue: Sendable {
    case string(String)
    case number(Double)
    case bool(Bool)
    case object([String: JSONValue])

    var text: String {
        switch self {
        case .string(let value):
            return Self.quote(value)
        case .number(let value):
            if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
            return value.isFinite ? String(value) : "null"
        case .bool(let value):
            return value ? "true" : "false"
        case .object(let fields):
            return "{" + fields.sorted { $0.key < $1.key }.map { Self.quote($0.key) + ":" + $0.value.text }.joined(separator: ",") + "}"
        }
    }

    private static func quote(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case _ where scalar.value < 0x20:
                result += String(format: "\\u%04x", scalar.value)
            default:
                result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }
}
