import MesosCore

/// Why a response could not be read: travels as ``MesosError/cause``.
struct HTTPParseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong.
    enum Kind: Sendable, Equatable {
        case headTooLarge, malformedStatusLine, malformedHeader, badContentLength, unsupportedStatus
        case badChunkSize, badChunkEnd, trailersTooLarge, closedBeforeHead, closedInHead, truncatedBody
    }

    let kind: Kind
    let detail: String

    init(_ kind: Kind, _ detail: String) {
        self.kind = kind
        self.detail = detail
    }

    var description: String { self.detail }
}

/// An incremental HTTP/1.1 response parser: bytes in as they are read (split anywhere), the head and body
/// bytes out. A value type with no I/O, so every edge case is testable byte by byte.
///
/// It skips interim 1xx heads, bounds the head and the trailers, and frames the body by `Content-Length`,
/// `Transfer-Encoding: chunked` (extensions and trailers ignored) or the end of the connection.
struct HTTPResponseParser {
    /// How the body is delimited.
    enum Framing: Equatable {
        case none, length(Int), chunked, untilClose
    }

    private enum State {
        case head
        case fixed(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd(sawCR: Bool)
        case trailers
        case untilClose
        case done
    }

    private let maximumHeadBytes: Int
    private let bodyless: Bool
    private var state = State.head
    /// The head so far (state `.head`), or the current chunk-size line.
    private var line: [UInt8] = []
    /// Where the current line of the head starts in ``line``.
    private var lineStart = 0
    private var trailerBytes = 0
    private var trailerLineLength = 0
    /// Bytes of any response (interim heads included) seen so far.
    private(set) var receivedAnything = false
    /// The final head's framing, once known.
    private(set) var framing: Framing?
    /// Whether the server allows the connection to be used again after this response.
    private(set) var keepAlive = false

    /// A parser for the answer to a request with `method` (a `HEAD` answer has no body).
    init(maximumHeadBytes: Int, method: String) {
        self.maximumHeadBytes = max(64, maximumHeadBytes)
        self.bodyless = method == "HEAD"
    }

    /// The whole response has been read.
    var isComplete: Bool {
        if case .done = self.state { return true }
        return false
    }

    /// The final head has been read.
    var hasHead: Bool { self.framing != nil }

    /// Consumes bytes, reporting the head (once) and body bytes in order; stops at the end of the response.
    ///
    /// - Returns: How many bytes were consumed (fewer than given only once the response is complete).
    mutating func consume(
        _ input: UnsafeBufferPointer<UInt8>,
        head onHead: (MesosHTTPResponse) -> Void,
        body onBody: (UnsafeBufferPointer<UInt8>) -> Void
    ) throws(HTTPParseError) -> Int {
        if !input.isEmpty { self.receivedAnything = true }
        var index = 0
        let count = input.count
        while index < count {
            switch self.state {
            case .head:
                let byte = input[index]
                index += 1
                guard self.line.count < self.maximumHeadBytes else {
                    throw HTTPParseError(.headTooLarge, "The response head is larger than \(self.maximumHeadBytes) bytes")
                }
                self.line.append(byte)
                if byte == UInt8(ascii: "\n") {
                    try self.endOfHeadLine(onHead)
                }
            case .fixed(let remaining):
                let take = min(remaining, count - index)
                onBody(UnsafeBufferPointer(rebasing: input[index..<(index + take)]))
                index += take
                self.state = remaining == take ? .done : .fixed(remaining: remaining - take)
            case .chunkSize:
                let byte = input[index]
                index += 1
                guard self.line.count < 1024 else {
                    throw HTTPParseError(.badChunkSize, "A chunk-size line is longer than 1024 bytes")
                }
                if byte == UInt8(ascii: "\n") {
                    let size = try Self.chunkSize(self.line)
                    self.line.removeAll(keepingCapacity: true)
                    if size == 0 {
                        self.state = .trailers
                        self.trailerLineLength = 0
                    } else {
                        self.state = .chunkData(remaining: size)
                    }
                } else {
                    self.line.append(byte)
                }
            case .chunkData(let remaining):
                let take = min(remaining, count - index)
                onBody(UnsafeBufferPointer(rebasing: input[index..<(index + take)]))
                index += take
                self.state = remaining == take ? .chunkDataEnd(sawCR: false) : .chunkData(remaining: remaining - take)
            case .chunkDataEnd(let sawCR):
                let byte = input[index]
                index += 1
                if byte == UInt8(ascii: "\n") {
                    self.state = .chunkSize
                } else if byte == UInt8(ascii: "\r") && !sawCR {
                    self.state = .chunkDataEnd(sawCR: true)
                } else {
                    throw HTTPParseError(.badChunkEnd, "A chunk's data is not followed by CRLF")
                }
            case .trailers:
                let byte = input[index]
                index += 1
                self.trailerBytes += 1
                guard self.trailerBytes <= self.maximumHeadBytes else {
                    throw HTTPParseError(.trailersTooLarge, "The trailers are larger than \(self.maximumHeadBytes) bytes")
                }
                if byte == UInt8(ascii: "\n") {
                    if self.trailerLineLength == 0 {
                        self.state = .done
                    }
                    self.trailerLineLength = 0
                } else if byte != UInt8(ascii: "\r") {
                    self.trailerLineLength += 1
                }
            case .untilClose:
                onBody(UnsafeBufferPointer(rebasing: input[index...]))
                index = count
            case .done:
                return index
            }
        }
        return index
    }

    /// The connection reached its end (EOF): fine if the body runs until the close or the response is complete.
    ///
    /// - Throws: ``HTTPParseError`` when the response was cut short.
    mutating func finish() throws(HTTPParseError) {
        switch self.state {
        case .done:
            return
        case .untilClose:
            self.state = .done
            self.keepAlive = false
        case .head:
            if !self.receivedAnything {
                throw HTTPParseError(.closedBeforeHead, "The server closed the connection before sending a response")
            }
            throw HTTPParseError(.closedInHead, "The server closed the connection in the middle of the response head")
        case .fixed(let remaining):
            throw HTTPParseError(.truncatedBody, "The server closed the connection \(remaining) bytes before the end of the body")
        case .chunkSize, .chunkData, .chunkDataEnd, .trailers:
            throw HTTPParseError(.truncatedBody, "The server closed the connection in the middle of a chunked body")
        }
    }

    // MARK: - Head

    /// A line of the head ended (its `\n` is the last byte of ``line``): an empty line ends the head.
    private mutating func endOfHeadLine(_ onHead: (MesosHTTPResponse) -> Void) throws(HTTPParseError) {
        var end = self.line.count - 1
        if end > self.lineStart && self.line[end - 1] == UInt8(ascii: "\r") {
            end -= 1
        }
        guard end == self.lineStart else {
            self.lineStart = self.line.count
            return
        }
        if self.lineStart == 0 {
            // An empty line before the status line: tolerated (RFC 9112, section 2.2).
            self.line.removeAll(keepingCapacity: true)
            return
        }
        let (response, version11, connectionClose) = try Self.parseHead(self.line[..<self.lineStart])
        self.line.removeAll(keepingCapacity: true)
        self.lineStart = 0
        if (100..<200).contains(response.status) {
            guard response.status != 101 else {
                throw HTTPParseError(.unsupportedStatus, "The server switched protocols (101), which this transport does not support")
            }
            return  // an interim answer: the final head follows
        }
        let framing = try self.framing(of: response)
        self.framing = framing
        self.keepAlive = version11 && !connectionClose && framing != .untilClose
        switch framing {
        case .none, .length(0): self.state = .done
        case .length(let count): self.state = .fixed(remaining: count)
        case .chunked: self.state = .chunkSize
        case .untilClose: self.state = .untilClose
        }
        onHead(response)
    }

    private func framing(of response: MesosHTTPResponse) throws(HTTPParseError) -> Framing {
        if self.bodyless || response.status == 204 || response.status == 304 {
            return .none
        }
        var transferEncoding: Substring?
        var length: Int?
        for field in response.headers.fields {
            if Self.equalsIgnoringCase(field.name, "Transfer-Encoding") {
                transferEncoding = field.value.split(separator: ",").last.map { $0.trimmingSpaces() }
            } else if Self.equalsIgnoringCase(field.name, "Content-Length") {
                for part in field.value.split(separator: ",", omittingEmptySubsequences: false) {
                    let text = part.trimmingSpaces()
                    guard !text.isEmpty, text.utf8.count <= 18, text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let value = Int(text),
                        length == nil || length == value
                    else {
                        throw HTTPParseError(.badContentLength, "Invalid Content-Length: \(field.value)")
                    }
                    length = value
                }
            }
        }
        if let transferEncoding {
            return Self.equalsIgnoringCase(String(transferEncoding), "chunked") ? .chunked : .untilClose
        }
        if let length {
            return .length(length)
        }
        return .untilClose
    }

    /// Parses a complete head (status line and fields, each ending in `\n`, without the empty line).
    private static func parseHead(_ bytes: ArraySlice<UInt8>) throws(HTTPParseError) -> (MesosHTTPResponse, Bool, Bool) {
        var lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }
        guard let statusLine = lines.first.map(Self.droppingCR) else {
            throw HTTPParseError(.malformedStatusLine, "Empty response head")
        }
        // HTTP/1.x SSS[ reason]
        let digits = statusLine.dropFirst(9).prefix(3)
        guard statusLine.count >= 12, statusLine.starts(with: Array("HTTP/1.".utf8)),
            statusLine[statusLine.startIndex + 8] == UInt8(ascii: " "),
            digits.allSatisfy({ $0 >= 48 && $0 <= 57 }),
            statusLine.count == 12 || statusLine[statusLine.startIndex + 12] == UInt8(ascii: " ")
        else {
            throw HTTPParseError(.malformedStatusLine, "Malformed status line: \(String(decoding: statusLine.prefix(100), as: UTF8.self))")
        }
        let status = digits.reduce(0) { $0 * 10 + Int($1 - 48) }
        let version11 = statusLine[statusLine.startIndex + 7] != UInt8(ascii: "0")
        var fields: [(name: String, value: String)] = []
        fields.reserveCapacity(lines.count - 1)
        var connectionClose = !version11
        for raw in lines.dropFirst() {
            let line = Self.droppingCR(raw)
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > line.startIndex,
                !line[..<colon].contains(where: { $0 == 32 || $0 == 9 })
            else {
                throw HTTPParseError(.malformedHeader, "Malformed header line: \(String(decoding: line.prefix(100), as: UTF8.self))")
            }
            let name = String(decoding: line[..<colon], as: UTF8.self)
            var value = line[(colon + 1)...]
            while let first = value.first, first == 32 || first == 9 { value.removeFirst() }
            while let last = value.last, last == 32 || last == 9 { value.removeLast() }
            let text = String(decoding: value, as: UTF8.self)
            if Self.equalsIgnoringCase(name, "Connection") {
                let tokens = text.split(separator: ",").map { $0.trimmingSpaces().lowercased() }
                if tokens.contains("close") { connectionClose = true }
                if tokens.contains("keep-alive") && !version11 { connectionClose = false }
            }
            fields.append((name: name, value: text))
        }
        return (MesosHTTPResponse(status: status, headers: MesosHTTPHeaders(fields)), version11, connectionClose)
    }

    private static func droppingCR(_ line: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        line.last == UInt8(ascii: "\r") ? line.dropLast() : line
    }

    /// The size at the start of a chunk-size line (hex), ignoring extensions after `;`.
    static func chunkSize(_ line: [UInt8]) throws(HTTPParseError) -> Int {
        var size = 0
        var digits = 0
        var index = 0
        while index < line.count {
            let byte = line[index]
            let value: Int
            switch byte {
            case 48...57: value = Int(byte - 48)
            case 65...70: value = Int(byte - 55)
            case 97...102: value = Int(byte - 87)
            default: value = -1
            }
            if value < 0 { break }
            digits += 1
            guard digits <= 15 else {
                throw HTTPParseError(.badChunkSize, "A chunk size has more than 15 hex digits")
            }
            size = size << 4 | value
            index += 1
        }
        guard digits > 0 else {
            throw HTTPParseError(.badChunkSize, "Invalid chunk-size line: \(String(decoding: line.prefix(64), as: UTF8.self))")
        }
        // Then optional whitespace, then nothing, `;` extensions, or the line's CR.
        while index < line.count, line[index] == 32 || line[index] == 9 { index += 1 }
        if index < line.count {
            let byte = line[index]
            let ok = byte == UInt8(ascii: ";") || (byte == UInt8(ascii: "\r") && index == line.count - 1)
            guard ok else {
                throw HTTPParseError(.badChunkSize, "Invalid chunk-size line: \(String(decoding: line.prefix(64), as: UTF8.self))")
            }
        }
        return size
    }

    static func equalsIgnoringCase(_ lhs: String, _ rhs: String) -> Bool {
        var left = lhs.utf8.makeIterator()
        var right = rhs.utf8.makeIterator()
        while true {
            switch (left.next(), right.next()) {
            case (nil, nil):
                return true
            case (let a?, let b?):
                let lowerA: UInt8 = a &- 65 < 26 ? a | 0x20 : a
                let lowerB: UInt8 = b &- 65 < 26 ? b | 0x20 : b
                if lowerA != lowerB { return false }
            default:
                return false
            }
        }
    }
}

extension Substring {
    /// Without leading and trailing spaces and tabs.
    func trimmingSpaces() -> Substring {
        var result = self
        while let first = result.first, first == " " || first == "\t" { result.removeFirst() }
        while let last = result.last, last == " " || last == "\t" { result.removeLast() }
        return result
    }
}
