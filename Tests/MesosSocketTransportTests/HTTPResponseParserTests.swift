import Foundation
import MesosCore
import Testing

@testable import MesosSocketTransport

/// What a parser produced from some input.
private struct Parsed {
    var heads: [MesosHTTPResponse] = []
    var body: [UInt8] = []
    var consumed = 0
    var complete = false
    var keepAlive = false
    var error: HTTPParseError?
}

/// Feeds `input` to a fresh parser in pieces of `step` bytes (all at once for `nil`), then the end of the
/// connection if `eof`.
private func parse(_ input: String, step: Int? = nil, eof: Bool = false, method: String = "GET", maximumHeadBytes: Int = 4096) -> Parsed {
    let bytes = Array(input.utf8)
    var parser = HTTPResponseParser(maximumHeadBytes: maximumHeadBytes, method: method)
    var result = Parsed()
    var offset = 0
    do throws(HTTPParseError) {
        while offset < bytes.count {
            let end = min(bytes.count, offset + (step ?? bytes.count))
            let piece = Array(bytes[offset..<end])
            let consumed = try piece.withUnsafeBufferPointer { (buffer) throws(HTTPParseError) -> Int in
                try parser.consume(buffer, head: { result.heads.append($0) }, body: { result.body += $0 })
            }
            result.consumed += consumed
            offset = end
            if consumed < piece.count { break }
        }
        if eof { try parser.finish() }
    } catch {
        result.error = error
    }
    result.complete = parser.isComplete
    result.keepAlive = parser.keepAlive
    return result
}

@Suite struct HTTPResponseParserTests {
    static let chunked = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        + "5;name=value;other=\"quoted\"\r\nhello\r\n"
        + "1 ; ext\r\n \r\n"
        + "A\r\n0123456789\r\n"
        + "0\r\nX-Trailer: one\r\nX-Other: two\r\n\r\n"

    @Test(arguments: [nil, 1, 2, 3, 7])
    func chunkedBodiesWithExtensionsAndTrailersWhateverTheSplit(step: Int?) {
        let result = parse(Self.chunked, step: step)
        #expect(result.error == nil)
        #expect(result.heads.count == 1)
        #expect(result.heads.first?.status == 200)
        #expect(result.heads.first?.headers["content-type"] == "application/json")
        #expect(String(decoding: result.body, as: UTF8.self) == "hello 0123456789")
        #expect(result.complete)
        #expect(result.keepAlive)
        #expect(result.consumed == Self.chunked.utf8.count)
    }

    @Test func bytesAfterTheEndOfTheResponseAreNotConsumed() {
        let result = parse("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA")
        #expect(result.complete)
        #expect(result.body == Array("ok".utf8))
        #expect(result.consumed == "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".utf8.count)
    }

    @Test(arguments: ["zz\r\n", "\r\n", "5x\r\n", "1234567890123456\r\n", "-1\r\n"])
    func aBadChunkSizeIsATypedError(sizeLine: String) {
        let result = parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + sizeLine + "hello\r\n0\r\n\r\n", step: 1)
        #expect(result.error?.kind == .badChunkSize)
        #expect(!result.complete)
    }

    @Test func chunkDataNotFollowedByCRLFIsATypedError() {
        let result = parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n")
        #expect(result.error?.kind == .badChunkEnd)
    }

    @Test func anOversizedHeadIsATypedError() {
        let head = "HTTP/1.1 200 OK\r\nX-Big: " + String(repeating: "a", count: 5000) + "\r\n\r\n"
        let result = parse(head, step: 100, maximumHeadBytes: 4096)
        #expect(result.error?.kind == .headTooLarge)
        #expect(result.heads.isEmpty)
        let fits = parse("HTTP/1.1 200 OK\r\nX-Small: " + String(repeating: "a", count: 3000) + "\r\nContent-Length: 0\r\n\r\n", maximumHeadBytes: 4096)
        #expect(fits.error == nil && fits.complete)
    }

    @Test func oversizedTrailersAreATypedError() {
        let trailers = "X-T: " + String(repeating: "t", count: 5000) + "\r\n\r\n"
        let result = parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n" + trailers, maximumHeadBytes: 4096)
        #expect(result.error?.kind == .trailersTooLarge)
    }

    @Test(arguments: [
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", "in chunk data"),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", "before the next size"),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n", "in the trailers"),
        ("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", "Content-Length short"),
    ])
    func aConnectionClosedBeforeTheEndIsATypedError(input: String, where: String) {
        let result = parse(input, step: 3, eof: true)
        #expect(result.error?.kind == .truncatedBody, "\(`where`)")
        #expect(!result.complete)
        #expect(result.heads.count == 1)
    }

    @Test func aConnectionClosedBeforeOrInsideTheHeadIsTold() {
        #expect(parse("", eof: true).error?.kind == .closedBeforeHead)
        #expect(parse("HTTP/1.1 200 OK\r\nConte", eof: true).error?.kind == .closedInHead)
    }

    @Test func withoutLengthOrChunkingTheBodyRunsUntilTheClose() {
        let result = parse("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it", step: 4, eof: true)
        #expect(result.error == nil)
        #expect(String(decoding: result.body, as: UTF8.self) == "all of it")
        #expect(result.complete)
        #expect(!result.keepAlive)
    }

    @Test func interimHeadsAreSkipped() {
        let result = parse("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\nX: y\r\n\r\nHTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n", step: 5)
        #expect(result.heads.map(\.status) == [202])
        #expect(result.complete)
    }

    @Test func responsesWithoutABody() {
        let head = parse("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", method: "HEAD")
        #expect(head.complete && head.body.isEmpty)
        let noContent = parse("HTTP/1.1 204 No Content\r\n\r\n")
        #expect(noContent.complete && noContent.keepAlive)
    }

    @Test func headerFieldsKeepOrderNamesAndTrimmedValues() throws {
        let result = parse("HTTP/1.1 307 Temporary Redirect\r\nLocation:  //m2:5050/api/v1/scheduler \r\nX-A: 1\r\nx-a: 2\r\nContent-Length: 0\r\n\r\n")
        let head = try #require(result.heads.first)
        #expect(head.status == 307)
        #expect(head.headers.fields.map(\.name) == ["Location", "X-A", "x-a", "Content-Length"])
        #expect(head.headers["location"] == "//m2:5050/api/v1/scheduler")
        #expect(head.headers.fields.filter { $0.name.lowercased() == "x-a" }.map(\.value) == ["1", "2"])
    }

    @Test func connectionCloseAndHTTP10AreNotKeptAlive() {
        #expect(!parse("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n").keepAlive)
        #expect(!parse("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").keepAlive)
        #expect(parse("HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n").keepAlive)
    }

    @Test(arguments: [
        "HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
    ])
    func invalidContentLengthsAreTypedErrors(input: String) {
        #expect(parse(input).error?.kind == .badContentLength)
    }

    @Test func repeatedEqualContentLengthsAreAccepted() {
        let result = parse("HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nok")
        #expect(result.error == nil && result.complete && result.body == Array("ok".utf8))
    }

    @Test(arguments: ["HTTP/2 200 OK\r\n\r\n", "HTTP/1.1 20 OK\r\n\r\n", "HTTP/1.1 2000 OK\r\n\r\n", "ICY 200 OK\r\n\r\n"])
    func malformedStatusLinesAreTypedErrors(input: String) {
        #expect(parse(input).error?.kind == .malformedStatusLine)
    }

    @Test(arguments: ["HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n", "HTTP/1.1 200 OK\r\n: empty name\r\n\r\n", "HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n"])
    func malformedHeaderLinesAreTypedErrors(input: String) {
        #expect(parse(input).error?.kind == .malformedHeader)
    }

    @Test func aStatusLineWithoutReasonAndBareLineFeedsAreAccepted() {
        let result = parse("HTTP/1.1 200\nContent-Length: 2\n\nok")
        #expect(result.error == nil && result.complete && result.heads.first?.status == 200)
    }

    @Test func switchingProtocolsIsRefused() {
        #expect(parse("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n").error?.kind == .unsupportedStatus)
    }

    @Test func deadlinesSaturateAndPickTheEarliest() {
        #expect(Deadline.after(5, from: 10) == 15)
        #expect(Deadline.after(.max, from: 10) == .max)
        #expect(Deadline.after(-5, from: 10) == 10)
        #expect(Deadline.earliest(nil, nil) == nil)
        #expect(Deadline.earliest(3, nil) == 3)
        #expect(Deadline.earliest(nil, 4) == 4)
        #expect(Deadline.earliest(9, 4) == 4)
    }
}
