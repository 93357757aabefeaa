import MesosCore
import Testing

@testable import MesosCurlTransport

/// The curl adapter's pure parts: the head parser and the bounded body queue.
@Suite("libcurl adapter parts")
struct CurlPartsTests {
    private func feed(_ parser: inout CurlHeadParser, _ line: String) -> Bool {
        Array(line.utf8).withUnsafeBufferPointer { parser.consume($0) }
    }

    @Test("the head: status, fields trimmed in order, folded lines, completion on the blank line only")
    func head() {
        var parser = CurlHeadParser()
        #expect(!feed(&parser, "HTTP/1.1 200 OK\r\n"))
        #expect(!feed(&parser, "Content-Type:  application/json \r\n"))
        #expect(!feed(&parser, "X-Long: first\r\n"))
        #expect(!feed(&parser, "\t second\r\n"))
        #expect(!feed(&parser, "no colon here\r\n"))
        #expect(!parser.isComplete)
        #expect(feed(&parser, "\r\n"))
        #expect(parser.isComplete)
        let response = parser.response(curlStatus: 0)
        #expect(response.status == 200)
        #expect(response.headers["content-type"] == "application/json")
        #expect(response.headers["X-Long"] == "first second")
        #expect(response.headers.fields.count == 2)
        // Trailers after the head change nothing.
        #expect(!feed(&parser, "X-Trailer: 1\r\n"))
        #expect(!feed(&parser, "\r\n"))
        #expect(parser.response(curlStatus: 0).headers.fields.count == 2)
        let again = parser.complete()
        #expect(!again)
    }

    @Test("an interim 100 Continue is dropped; curl's status wins over the parsed one; odd status lines give 0")
    func interimAndStatus() {
        var parser = CurlHeadParser()
        #expect(!feed(&parser, "HTTP/1.1 100 Continue\r\n"))
        #expect(!feed(&parser, "\r\n"))
        #expect(!parser.isComplete)
        #expect(!feed(&parser, "HTTP/1.1 307 Temporary Redirect\r\n"))
        #expect(!feed(&parser, "Location: //m2:5050\r\n"))
        #expect(feed(&parser, "\r\n"))
        #expect(parser.response(curlStatus: 0).status == 307)
        #expect(parser.response(curlStatus: 308).status == 308)
        #expect(parser.response(curlStatus: 0).headers["Location"] == "//m2:5050")

        var odd = CurlHeadParser()
        #expect(!feed(&odd, "HTTP/1.1 20x OK\r\n"))
        #expect(!feed(&odd, "\r\n"), "a blank line before any status or field does not end a head")
        #expect(!feed(&odd, "Server: odd\r\n"))
        #expect(feed(&odd, "\r\n"))
        #expect(odd.status == 0)
        var ended = CurlHeadParser()
        let completed = ended.complete()
        #expect(completed)
        #expect(ended.isComplete)
    }

    @Test("the body queue pauses its producer when full and resumes it at half")
    func bodyQueue() {
        var queue = CurlBodyQueue(capacity: 10)
        let accepted = [queue.append(Array(repeating: 1, count: 6)[...]), queue.append(Array(repeating: 2, count: 6)[...])]
        #expect(accepted == [true, true])
        #expect(queue.bufferedBytes == 12)
        let full = queue.append([3][...])
        #expect(!full)
        #expect(queue.isPaused)
        let first = queue.take()
        #expect(first.chunk == Array(repeating: 1, count: 6)[...])
        #expect(!first.resume, "6 bytes left, above half of 10")
        #expect(queue.isPaused)
        let belowCapacity = queue.append([3][...])
        #expect(belowCapacity, "below the capacity again")
        let second = queue.take()
        #expect(second.chunk?.count == 6)
        #expect(second.resume, "1 byte left: the paused producer may go on")
        #expect(!queue.isPaused)
        #expect(queue.take().chunk == [3][...])
        #expect(queue.isEmpty)
        #expect(queue.take().chunk == nil)
        let more = queue.append([4, 4][...])
        #expect(more)
        queue.removeAll()
        #expect(queue.isEmpty && queue.bufferedBytes == 0)
    }

    @Test("a queue the consumer never quite empties keeps bounded storage")
    func neverEmptyQueue() {
        var queue = CurlBodyQueue(capacity: 1 << 20)
        for _ in 0..<3 { _ = queue.append([1, 2, 3][...]) }
        var largest = 0
        for _ in 0..<50_000 {
            _ = queue.append([4, 5][...])
            _ = queue.take()
            largest = max(largest, queue.storageCount)
        }
        #expect(largest < 100, "the storage grew to \(largest) slots for 3 unread chunks")
    }
}
