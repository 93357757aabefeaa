#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Thrown by the fast JSON path when an input is outside what it handles exactly; the caller then decodes
/// the record with swift-protobuf, which decides whether it is valid.
struct FastJSONFallback: Error {}

/// A key inside the input buffer: offset and length of its raw (escape-free) bytes.
struct FastJSONKey {
    var start: Int
    var count: Int
}

/// A strict, allocation-free reader over one JSON document in memory.
///
/// It accepts only RFC 8259 JSON and gives up (``FastJSONFallback``) on anything the typed decoders must not
/// guess about: `null`, escaped keys, non-finite or quoted numbers, control characters in strings, invalid
/// UTF-8, and nesting deeper than ``maximumDepth``.
struct FastJSONReader {
    /// The deepest nesting the reader follows (well under swift-protobuf's default limit of 100).
    static let maximumDepth = 48

    let base: UnsafePointer<UInt8>
    let end: Int
    var index = 0
    var depth = 0
    /// Shared strings of the fields that recur across offers and events (``recurringString()``).
    var strings = RecurringStrings()

    init(_ buffer: UnsafeBufferPointer<UInt8>) throws(FastJSONFallback) {
        guard let base = buffer.baseAddress, buffer.count > 0 else { throw FastJSONFallback() }
        self.base = base
        self.end = buffer.count
    }

    // MARK: - Bytes

    @inline(__always)
    mutating func skipWhitespace() {
        while self.index < self.end {
            switch self.base[self.index] {
            case 0x20, 0x0A, 0x0D, 0x09: self.index += 1
            default: return
            }
        }
    }

    @inline(__always)
    func peek() throws(FastJSONFallback) -> UInt8 {
        guard self.index < self.end else { throw FastJSONFallback() }
        return self.base[self.index]
    }

    @inline(__always)
    mutating func expect(_ byte: UInt8) throws(FastJSONFallback) {
        guard self.index < self.end, self.base[self.index] == byte else { throw FastJSONFallback() }
        self.index += 1
    }

    /// Requires that only whitespace follows.
    mutating func finish() throws(FastJSONFallback) {
        self.skipWhitespace()
        guard self.index == self.end else { throw FastJSONFallback() }
    }

    // MARK: - Structure

    /// Consumes `{` and enters an object.
    mutating func beginObject() throws(FastJSONFallback) {
        self.skipWhitespace()
        try self.expect(UInt8(ascii: "{"))
        self.depth += 1
        guard self.depth <= Self.maximumDepth else { throw FastJSONFallback() }
    }

    /// Returns the next key of the current object (positioned on its value), or `nil` after the closing `}`.
    mutating func nextKey(_ first: inout Bool) throws(FastJSONFallback) -> FastJSONKey? {
        self.skipWhitespace()
        if first {
            first = false
            if try self.peek() == UInt8(ascii: "}") {
                self.index += 1
                self.depth -= 1
                return nil
            }
        } else {
            let byte = try self.peek()
            self.index += 1
            if byte == UInt8(ascii: "}") {
                self.depth -= 1
                return nil
            }
            guard byte == UInt8(ascii: ",") else { throw FastJSONFallback() }
            self.skipWhitespace()
        }
        try self.expect(UInt8(ascii: "\""))
        let start = self.index
        self.skipPlainASCII()
        while true {
            guard self.index < self.end else { throw FastJSONFallback() }
            let byte = self.base[self.index]
            if byte == UInt8(ascii: "\"") { break }
            // Escapes, control characters and non-ASCII keys: let swift-protobuf decide.
            guard byte >= 0x20, byte < 0x80, byte != UInt8(ascii: "\\") else { throw FastJSONFallback() }
            self.index += 1
        }
        let key = FastJSONKey(start: start, count: self.index - start)
        self.index += 1
        self.skipWhitespace()
        try self.expect(UInt8(ascii: ":"))
        self.skipWhitespace()
        return key
    }

    /// Consumes `[` and enters an array.
    mutating func beginArray() throws(FastJSONFallback) {
        self.skipWhitespace()
        try self.expect(UInt8(ascii: "["))
        self.depth += 1
        guard self.depth <= Self.maximumDepth else { throw FastJSONFallback() }
    }

    /// Returns whether another element follows (positioned on it), consuming `]` when not.
    mutating func nextElement(_ first: inout Bool) throws(FastJSONFallback) -> Bool {
        self.skipWhitespace()
        let byte = try self.peek()
        if byte == UInt8(ascii: "]") {
            self.index += 1
            self.depth -= 1
            return false
        }
        if first {
            first = false
            return true
        }
        guard byte == UInt8(ascii: ",") else { throw FastJSONFallback() }
        self.index += 1
        self.skipWhitespace()
        return true
    }

    /// Inside a string: skips eight bytes at a time while none of them is a quote, a backslash, a control
    /// character or non-ASCII. The test may stop at a word holding none of these, never skip one: the byte
    /// loops that follow decide.
    @inline(__always)
    mutating func skipPlainASCII() {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let high: UInt64 = 0x8080_8080_8080_8080
        while self.index &+ 8 <= self.end {
            let word = UnsafeRawPointer(self.base + self.index).loadUnaligned(as: UInt64.self)
            let quote = word ^ (ones &* 0x22)
            let backslash = word ^ (ones &* 0x5C)
            // A zero byte in `quote` or `backslash`, a byte below 0x20 (its subtraction borrows), or the high bit.
            let special =
                ((quote &- ones) & ~quote) | ((backslash &- ones) & ~backslash) | (word &- (ones &* 0x20)) | word
            if special & high != 0 { return }
            self.index &+= 8
        }
    }

    /// Whether `key` is exactly `name`.
    @inline(__always)
    func key(_ key: FastJSONKey, is name: StaticString) -> Bool {
        key.count == name.utf8CodeUnitCount && memcmp(self.base + key.start, name.utf8Start, key.count) == 0
    }

    // MARK: - Scalars

    /// Reads a string value.
    mutating func string() throws(FastJSONFallback) -> String {
        try self.string(recurring: false)
    }

    /// Reads a string value of a field whose values recur (framework and agent ids, hostnames): an unescaped
    /// one longer than the 15 bytes `String` stores inline is shared through ``strings``.
    mutating func recurringString() throws(FastJSONFallback) -> String {
        try self.string(recurring: true)
    }

    @inline(__always)
    private mutating func string(recurring: Bool) throws(FastJSONFallback) -> String {
        self.skipWhitespace()
        try self.expect(UInt8(ascii: "\""))
        let start = self.index
        var ascii = true
        self.skipPlainASCII()
        while true {
            guard self.index < self.end else { throw FastJSONFallback() }
            let byte = self.base[self.index]
            if byte == UInt8(ascii: "\"") {
                let bytes = UnsafeBufferPointer(start: self.base + start, count: self.index - start)
                self.index += 1
                if ascii {
                    guard recurring, bytes.count > 15 else {
                        return String(decoding: bytes, as: UTF8.self)
                    }
                    let (hit, slot) = self.strings.lookUp(bytes)
                    if let hit { return hit }
                    let string = String(decoding: bytes, as: UTF8.self)
                    self.strings.store(string, at: slot)
                    return string
                }
                guard let string = String(validating: bytes, as: UTF8.self) else { throw FastJSONFallback() }
                return string
            }
            if byte == UInt8(ascii: "\\") {
                return try self.escapedString(from: start)
            }
            guard byte >= 0x20 else { throw FastJSONFallback() }
            if byte >= 0x80 { ascii = false }
            self.index += 1
        }
    }

    /// The slow path of ``string()`` for strings with escapes, restarting at the first byte after the quote.
    private mutating func escapedString(from start: Int) throws(FastJSONFallback) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(self.index - start + 16)
        self.index = start
        while true {
            guard self.index < self.end else { throw FastJSONFallback() }
            let byte = self.base[self.index]
            self.index += 1
            switch byte {
            case UInt8(ascii: "\""):
                guard let string = String(validating: bytes, as: UTF8.self) else { throw FastJSONFallback() }
                return string
            case UInt8(ascii: "\\"):
                guard self.index < self.end else { throw FastJSONFallback() }
                let escape = self.base[self.index]
                self.index += 1
                switch escape {
                case UInt8(ascii: "\""): bytes.append(0x22)
                case UInt8(ascii: "\\"): bytes.append(0x5C)
                case UInt8(ascii: "/"): bytes.append(0x2F)
                case UInt8(ascii: "b"): bytes.append(0x08)
                case UInt8(ascii: "f"): bytes.append(0x0C)
                case UInt8(ascii: "n"): bytes.append(0x0A)
                case UInt8(ascii: "r"): bytes.append(0x0D)
                case UInt8(ascii: "t"): bytes.append(0x09)
                case UInt8(ascii: "u"):
                    let scalar = try self.hex4()
                    if (0xD800...0xDFFF).contains(scalar) {
                        // An escaped surrogate (pair): swift-protobuf 1.39 combines some pairs into a different
                        // code point than UTF-16 does (\ud87e\udc00 gives U+1F800, not U+2F800; a fuzzer find),
                        // and the fast path must agree with it, so such strings go to swift-protobuf. Mesos
                        // writes non-ASCII text as UTF-8, not as escapes.
                        throw FastJSONFallback()
                    }
                    guard let unicode = Unicode.Scalar(scalar) else { throw FastJSONFallback() }
                    bytes.append(contentsOf: String(Character(unicode)).utf8)
                default:
                    throw FastJSONFallback()
                }
            default:
                guard byte >= 0x20 else { throw FastJSONFallback() }
                bytes.append(byte)
            }
        }
    }

    private mutating func hex4() throws(FastJSONFallback) -> UInt32 {
        guard self.end - self.index >= 4 else { throw FastJSONFallback() }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = self.base[self.index]
            self.index += 1
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw FastJSONFallback()
            }
            value = value << 4 | UInt32(digit)
        }
        return value
    }

    /// Scans a JSON number and returns its byte range and whether it is a plain integer (`-?digits`).
    private mutating func numberToken() throws(FastJSONFallback) -> (start: Int, count: Int, integer: Bool) {
        self.skipWhitespace()
        let start = self.index
        var integer = true
        if self.index < self.end, self.base[self.index] == UInt8(ascii: "-") { self.index += 1 }
        // Integer part: 0 or [1-9][0-9]*.
        guard self.index < self.end else { throw FastJSONFallback() }
        if self.base[self.index] == UInt8(ascii: "0") {
            self.index += 1
        } else {
            guard self.isDigit() else { throw FastJSONFallback() }
            while self.isDigit() { self.index += 1 }
        }
        if self.index < self.end, self.base[self.index] == UInt8(ascii: ".") {
            integer = false
            self.index += 1
            guard self.isDigit() else { throw FastJSONFallback() }
            while self.isDigit() { self.index += 1 }
        }
        if self.index < self.end, self.base[self.index] | 0x20 == UInt8(ascii: "e") {
            integer = false
            self.index += 1
            if self.index < self.end, self.base[self.index] == UInt8(ascii: "+") || self.base[self.index] == UInt8(ascii: "-") {
                self.index += 1
            }
            guard self.isDigit() else { throw FastJSONFallback() }
            while self.isDigit() { self.index += 1 }
        }
        // swift-protobuf parses numbers through a 128-byte buffer and rejects longer ones (even when skipping an
        // unknown field): leave anything near that length to it (a fuzzer find).
        guard self.index - start < 100 else { throw FastJSONFallback() }
        return (start, self.index - start, integer)
    }

    @inline(__always)
    private func isDigit() -> Bool {
        self.index < self.end && self.base[self.index] &- UInt8(ascii: "0") < 10
    }

    /// Reads a finite double written as a JSON number (quoted values fall back).
    mutating func double() throws(FastJSONFallback) -> Double {
        let token = try self.numberToken()
        if token.integer, token.count <= 15 {
            // Exact: at most 15 digits fit a double without rounding.
            var value: Int64 = 0
            var position = token.start
            let negative = self.base[position] == UInt8(ascii: "-")
            if negative { position += 1 }
            while position < token.start + token.count {
                value = value * 10 + Int64(self.base[position] - UInt8(ascii: "0"))
                position += 1
            }
            // "-0" is negative zero in a double.
            return negative ? -Double(value) : Double(value)
        }
        if let exact = self.shortDecimal(token.start, token.count) {
            return exact
        }
        let text = String(decoding: UnsafeBufferPointer(start: self.base + token.start, count: token.count), as: UTF8.self)
        guard let value = Double(text), value.isFinite else { throw FastJSONFallback() }
        return value
    }

    /// Powers of ten that are exact doubles.
    private static let exactPowersOfTen: [Double] = (0...22).map { exponent in
        var value = 1.0
        for _ in 0..<exponent { value *= 10 }
        return value
    }

    /// `-?digits.digits` with at most 15 significant digits, converted exactly: the digits form an integer
    /// below 2^53 and 10^k (k ≤ 22) is exact, so one IEEE division is correctly rounded (Clinger's fast path).
    private func shortDecimal(_ start: Int, _ count: Int) -> Double? {
        var position = start
        let end = start + count
        let negative = self.base[position] == UInt8(ascii: "-")
        if negative { position += 1 }
        var mantissa: Int64 = 0
        var digits = 0
        var fraction = 0
        var seenPoint = false
        while position < end {
            let byte = self.base[position]
            if byte == UInt8(ascii: ".") {
                seenPoint = true
            } else if byte &- UInt8(ascii: "0") < 10 {
                mantissa = mantissa * 10 + Int64(byte - UInt8(ascii: "0"))
                digits += 1
                if seenPoint { fraction += 1 }
                guard digits <= 15 else { return nil }
            } else {
                return nil  // an exponent
            }
            position += 1
        }
        guard fraction <= 22 else { return nil }
        let value = Double(mantissa) / Self.exactPowersOfTen[fraction]
        return negative ? -value : value
    }

    /// Reads an unsigned 64-bit integer written as plain JSON digits, bare (as Mesos writes it) or quoted (as
    /// the protobuf JSON mapping writes 64-bit integers).
    mutating func uint64() throws(FastJSONFallback) -> UInt64 {
        self.skipWhitespace()
        let quoted = try self.peek() == UInt8(ascii: "\"")
        if quoted {
            self.index += 1
            // Inside quotes only the digits themselves.
            guard try self.peek() &- UInt8(ascii: "0") < 10 else { throw FastJSONFallback() }
        }
        let token = try self.numberToken()
        if quoted { try self.expect(UInt8(ascii: "\"")) }
        guard token.integer, self.base[token.start] != UInt8(ascii: "-") else { throw FastJSONFallback() }
        var value: UInt64 = 0
        for position in token.start..<(token.start + token.count) {
            let (times, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times.addingReportingOverflow(UInt64(self.base[position] - UInt8(ascii: "0")))
            guard !overflow1, !overflow2 else { throw FastJSONFallback() }
            value = sum
        }
        return value
    }

    /// Reads a signed 32-bit integer written as plain JSON digits.
    mutating func int32() throws(FastJSONFallback) -> Int32 {
        let token = try self.numberToken()
        guard token.integer, token.count <= 11 else { throw FastJSONFallback() }
        var position = token.start
        let negative = self.base[position] == UInt8(ascii: "-")
        if negative { position += 1 }
        var value: Int64 = 0
        while position < token.start + token.count {
            value = value * 10 + Int64(self.base[position] - UInt8(ascii: "0"))
            position += 1
        }
        if negative { value = -value }
        guard let result = Int32(exactly: value) else { throw FastJSONFallback() }
        return result
    }

    // MARK: - Runs

    /// The text of the array that starts at the next non-blank byte, brackets included, found by matching brackets
    /// outside strings (nothing is decoded or checked; the position does not move), or `nil` when the value is not
    /// an array or does not end within the record. A decoder that finds the same text again may reuse what it
    /// decoded from it (``RecurringRuns``).
    mutating func arrayText() -> UnsafeBufferPointer<UInt8>? {
        self.skipWhitespace()
        guard self.index < self.end, self.base[self.index] == UInt8(ascii: "[") else { return nil }
        var position = self.index
        var depth = 0
        while position < self.end {
            switch self.base[position] {
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                depth += 1
            case UInt8(ascii: "]"), UInt8(ascii: "}"):
                depth -= 1
                if depth == 0 {
                    return UnsafeBufferPointer(start: self.base + self.index, count: position + 1 - self.index)
                }
            case UInt8(ascii: "\""):
                position += 1
                while position < self.end, self.base[position] != UInt8(ascii: "\"") {
                    // An escape takes the next byte with it (an escaped quote does not end the string).
                    position += self.base[position] == UInt8(ascii: "\\") ? 2 : 1
                }
            default:
                break
            }
            position += 1
        }
        return nil
    }

    /// The offset just past `run` (from ``arrayText()``).
    func offset(after run: UnsafeBufferPointer<UInt8>) -> Int {
        run.baseAddress! - self.base + run.count
    }

    // MARK: - Skipping

    /// Skips any JSON value (an unknown field's), validating it strictly. `null` is accepted here: an unknown
    /// field's value does not reach the message.
    mutating func skipValue() throws(FastJSONFallback) {
        self.skipWhitespace()
        switch try self.peek() {
        case UInt8(ascii: "{"):
            try self.beginObject()
            var first = true
            while try self.nextKey(&first) != nil {
                try self.skipValue()
            }
        case UInt8(ascii: "["):
            try self.beginArray()
            var first = true
            while try self.nextElement(&first) {
                try self.skipValue()
            }
        case UInt8(ascii: "\""):
            _ = try self.string()
        case UInt8(ascii: "t"):
            try self.literal("true")
        case UInt8(ascii: "f"):
            try self.literal("false")
        case UInt8(ascii: "n"):
            try self.literal("null")
        default:
            // Parsed as a double so that values swift-protobuf would reject (out of range) fall back.
            _ = try self.double()
        }
    }

    private mutating func literal(_ word: StaticString) throws(FastJSONFallback) {
        let count = word.utf8CodeUnitCount
        guard self.end - self.index >= count, memcmp(self.base + self.index, word.utf8Start, count) == 0 else {
            throw FastJSONFallback()
        }
        self.index += count
    }
}
