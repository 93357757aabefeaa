import MesosCore

/// Builds a response head from the lines libcurl's header callback hands over, one at a time (status lines and
/// the blank line included). Lines are parsed as bytes: only field names and values become strings.
///
/// Interim responses (`100 Continue` and the like) are dropped, and lines after the head (trailers of a
/// chunked body) are ignored.
struct CurlHeadParser {
    /// The fields of the head so far, in order.
    private(set) var fields: [(name: String, value: String)] = []
    /// The status parsed from the last status line, 0 if none.
    private(set) var status = 0
    /// The blank line that ends the head was seen (or the transfer ended without one).
    private(set) var isComplete = false

    /// Consumes one header line, with or without its line ending.
    ///
    /// - Returns: `true` if this line completed the head.
    mutating func consume(_ line: UnsafeBufferPointer<UInt8>) -> Bool {
        guard !self.isComplete else {
            return false
        }
        var end = line.count
        while end > 0, line[end - 1] == 0x0D || line[end - 1] == 0x0A {
            end -= 1
        }
        if end == 0 {
            guard self.status != 0 || !self.fields.isEmpty else {
                return false
            }
            if (100..<200).contains(self.status) {
                // An interim response: the real head follows.
                self.fields.removeAll()
                self.status = 0
                return false
            }
            self.isComplete = true
            return true
        }
        if end >= 5, line[0] == UInt8(ascii: "H"), line[1] == UInt8(ascii: "T"), line[2] == UInt8(ascii: "T"),
            line[3] == UInt8(ascii: "P"), line[4] == UInt8(ascii: "/")
        {
            // A status line: "HTTP/1.1 202 Accepted".
            self.fields.removeAll()
            self.status = Self.statusCode(in: UnsafeBufferPointer(rebasing: line[..<end]))
            return false
        }
        if line[0] == 0x20 || line[0] == 0x09 {
            // An obsolete folded continuation of the previous field.
            if !self.fields.isEmpty {
                let more = Self.trimmed(UnsafeBufferPointer(rebasing: line[..<end]))
                self.fields[self.fields.count - 1].value += " " + String(decoding: more, as: UTF8.self)
            }
            return false
        }
        guard let colon = line[..<end].firstIndex(of: UInt8(ascii: ":")) else {
            return false
        }
        let name = Self.trimmed(UnsafeBufferPointer(rebasing: line[..<colon]))
        let value = Self.trimmed(UnsafeBufferPointer(rebasing: line[(colon + 1)..<end]))
        if !name.isEmpty {
            self.fields.append((name: String(decoding: name, as: UTF8.self), value: String(decoding: value, as: UTF8.self)))
        }
        return false
    }

    /// Marks the head complete without its blank line (a transfer that ended first). Returns `false` if it
    /// already was.
    mutating func complete() -> Bool {
        guard !self.isComplete else {
            return false
        }
        self.isComplete = true
        return true
    }

    /// The head, with curl's own idea of the status when it has one.
    func response(curlStatus: Int) -> MesosHTTPResponse {
        MesosHTTPResponse(status: curlStatus != 0 ? curlStatus : self.status, headers: MesosHTTPHeaders(self.fields))
    }

    /// The bytes without leading and trailing spaces and tabs.
    private static func trimmed(_ bytes: UnsafeBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8> {
        var start = 0
        var end = bytes.count
        while start < end, bytes[start] == 0x20 || bytes[start] == 0x09 {
            start += 1
        }
        while end > start, bytes[end - 1] == 0x20 || bytes[end - 1] == 0x09 {
            end -= 1
        }
        return UnsafeBufferPointer(rebasing: bytes[start..<end])
    }

    /// The status code of a status line (the digits after the first run of spaces), 0 if there is none.
    private static func statusCode(in line: UnsafeBufferPointer<UInt8>) -> Int {
        var index = 0
        while index < line.count, line[index] != 0x20 {
            index += 1
        }
        while index < line.count, line[index] == 0x20 {
            index += 1
        }
        var code = 0
        var digits = 0
        while index < line.count, line[index] >= UInt8(ascii: "0"), line[index] <= UInt8(ascii: "9"), digits < 4 {
            code = code * 10 + Int(line[index] - UInt8(ascii: "0"))
            index += 1
            digits += 1
        }
        guard digits > 0, index == line.count || line[index] == 0x20 else {
            return 0
        }
        return code
    }
}
