import Foundation
import MesosCore

// The legacy `GET /files/read` and `/files/browse` endpoints (§4.3 of the fact sheet).
extension TaskFiles {
    /// `GET /files/read?path=&offset=&length=`: the data and the answer's `offset` (the requested offset, or the
    /// file's size for the `-1` probe).
    func legacyRead(path: String, offset: Int64, length: Int64) async throws(MesosError) -> (data: [UInt8], offset: Int64) {
        let url = self.agent.filesURL("read", query: [("path", path), ("offset", String(offset)), ("length", String(length))])
        let request = MesosHTTPRequest(method: "GET", url: url, headers: ["Accept": "application/json"], timeout: self.configuration.callTimeout)
        let (_, body) = try await self.exchange(request, what: "/files/read \(path)", limit: 1 << 20)
        return try LegacyFileRead.parse(body, path: path)
    }

    /// `GET /files/browse?path=`: a JSON array of entries with `mode` already in `ls -l` form and `mtime` in
    /// seconds.
    func legacyBrowse(path: String) async throws(MesosError) -> [TaskFileInfo] {
        let url = self.agent.filesURL("browse", query: [("path", path)])
        let request = MesosHTTPRequest(method: "GET", url: url, headers: ["Accept": "application/json"], timeout: self.configuration.callTimeout)
        let (_, body) = try await self.exchange(request, what: "/files/browse \(path)", limit: 16 << 20)
        // Names are bytes on the agent; replace invalid UTF-8 so that Foundation's strict parser accepts them.
        let text = Data(String(decoding: body, as: UTF8.self).utf8)
        guard let entries = (try? JSONSerialization.jsonObject(with: text)) as? [[String: Any]] else {
            throw MesosError(code: .decodingFailed, message: "/files/browse \(path): the answer is not a JSON array of objects")
        }
        return try entries.map { entry throws(MesosError) in
            guard let entryPath = entry["path"] as? String else {
                throw MesosError(code: .decodingFailed, message: "/files/browse \(path): an entry has no path")
            }
            return TaskFileInfo(
                path: entryPath,
                size: Self.unsigned(entry["size"]) ?? 0,
                linkCount: Int(clamping: Self.signed(entry["nlink"]) ?? 1),
                mode: entry["mode"] as? String ?? "----------",
                modificationTime: Self.signed(entry["mtime"]) ?? Int64((entry["mtime"] as? Double) ?? 0),
                user: entry["uid"] as? String ?? "",
                group: entry["gid"] as? String ?? ""
            )
        }
    }
}

/// Parses the `/files/read` answer `{"data":"…","offset":N}` leniently.
///
/// The agent puts the file's raw bytes into the JSON string: control characters are escaped, but bytes of 0x80
/// and above are copied as they are, valid UTF-8 or not. Foundation's parsers reject invalid UTF-8, so this
/// parser works on bytes: it keeps unescaped bytes as they are and turns `\uXXXX` escapes below 0x80 into single
/// bytes (others into their UTF-8 encoding), so that the next offset can be computed from the byte count.
enum LegacyFileRead {
    static func parse(_ bytes: [UInt8], path: String) throws(MesosError) -> (data: [UInt8], offset: Int64) {
        var parser = LenientJSONObjectParser(bytes: bytes)
        guard let fields = parser.parseTopLevelObject() else {
            throw MesosError(code: .decodingFailed, message: "/files/read \(path): the answer is not a JSON object")
        }
        guard case .number(let offsetText)? = fields["offset"], let offset = Int64(offsetText) ?? Double(offsetText).map({ Int64($0) }) else {
            throw MesosError(code: .decodingFailed, message: "/files/read \(path): the answer has no numeric offset")
        }
        switch fields["data"] {
        case .string(let data)?:
            return (data, offset)
        case nil:
            return ([], offset)
        default:
            throw MesosError(code: .decodingFailed, message: "/files/read \(path): data is not a string")
        }
    }
}

/// A byte-level parser for one flat JSON object whose string values are byte strings.
struct LenientJSONObjectParser {
    enum Value: Equatable {
        case string([UInt8])
        case number(String)
        case other
    }

    private let bytes: [UInt8]
    private var index = 0

    init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// The object's members (nested values are skipped and reported as `.other`), or `nil` if the input is not
    /// one JSON object.
    mutating func parseTopLevelObject() -> [String: Value]? {
        self.skipSpace()
        guard self.take(UInt8(ascii: "{")) else { return nil }
        var fields: [String: Value] = [:]
        self.skipSpace()
        if self.take(UInt8(ascii: "}")) { return self.atEnd() ? fields : nil }
        while true {
            self.skipSpace()
            guard let key = self.parseString() else { return nil }
            self.skipSpace()
            guard self.take(UInt8(ascii: ":")) else { return nil }
            self.skipSpace()
            guard let value = self.parseValue() else { return nil }
            fields[String(decoding: key, as: UTF8.self)] = value
            self.skipSpace()
            if self.take(UInt8(ascii: ",")) { continue }
            guard self.take(UInt8(ascii: "}")) else { return nil }
            return self.atEnd() ? fields : nil
        }
    }

    private mutating func atEnd() -> Bool {
        self.skipSpace()
        return self.index == self.bytes.count
    }

    private mutating func skipSpace() {
        while self.index < self.bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(self.bytes[self.index]) {
            self.index += 1
        }
    }

    private mutating func take(_ byte: UInt8) -> Bool {
        guard self.index < self.bytes.count, self.bytes[self.index] == byte else { return false }
        self.index += 1
        return true
    }

    private mutating func parseValue() -> Value? {
        guard self.index < self.bytes.count else { return nil }
        switch self.bytes[self.index] {
        case UInt8(ascii: "\""):
            return self.parseString().map(Value.string)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            let start = self.index
            while self.index < self.bytes.count,
                "+-.eE0123456789".utf8.contains(self.bytes[self.index])
            {
                self.index += 1
            }
            return .number(String(decoding: self.bytes[start..<self.index], as: UTF8.self))
        default:
            return self.skipValue() ? .other : nil
        }
    }

    /// Skips a nested object, array or literal (`true`, `null`, …), minding strings; stops before the `,` or `}`
    /// that follows it.
    private mutating func skipValue() -> Bool {
        var depth = 0
        while self.index < self.bytes.count {
            let byte = self.bytes[self.index]
            switch byte {
            case UInt8(ascii: "\""):
                guard self.parseString() != nil else { return false }
                if depth == 0 { return true }
                continue
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                if depth == 0 { return true }
                depth -= 1
                self.index += 1
                if depth == 0 { return true }
                continue
            case UInt8(ascii: ","):
                if depth == 0 { return true }
            default:
                break
            }
            self.index += 1
        }
        return depth == 0
    }

    /// Parses a string at the cursor into bytes.
    private mutating func parseString() -> [UInt8]? {
        guard self.take(UInt8(ascii: "\"")) else { return nil }
        var result: [UInt8] = []
        while self.index < self.bytes.count {
            let byte = self.bytes[self.index]
            self.index += 1
            switch byte {
            case UInt8(ascii: "\""):
                return result
            case UInt8(ascii: "\\"):
                guard self.index < self.bytes.count else { return nil }
                let escape = self.bytes[self.index]
                self.index += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): result.append(escape)
                case UInt8(ascii: "b"): result.append(0x08)
                case UInt8(ascii: "f"): result.append(0x0C)
                case UInt8(ascii: "n"): result.append(0x0A)
                case UInt8(ascii: "r"): result.append(0x0D)
                case UInt8(ascii: "t"): result.append(0x09)
                case UInt8(ascii: "u"):
                    guard var scalar = self.hex4() else { return nil }
                    if (0xD800..<0xDC00).contains(scalar), self.bytes.count - self.index >= 6,
                        self.bytes[self.index] == UInt8(ascii: "\\"), self.bytes[self.index + 1] == UInt8(ascii: "u")
                    {
                        let save = self.index
                        self.index += 2
                        if let low = self.hex4(), (0xDC00..<0xE000).contains(low) {
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        } else {
                            self.index = save
                        }
                    }
                    if scalar < 0x80 {
                        result.append(UInt8(scalar))
                    } else {
                        let unicode = Unicode.Scalar(scalar) ?? "\u{FFFD}"
                        result.append(contentsOf: Array(String(Character(unicode)).utf8))
                    }
                default:
                    return nil
                }
            default:
                result.append(byte)
            }
        }
        return nil
    }

    private mutating func hex4() -> UInt32? {
        guard self.bytes.count - self.index >= 4 else { return nil }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = self.bytes[self.index]
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default: return nil
            }
            value = value << 4 | digit
            self.index += 1
        }
        return value
    }
}
