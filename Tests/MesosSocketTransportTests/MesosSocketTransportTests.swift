import Foundation
import MesosCore
import Testing

@testable import MesosSocketTransport

/// The transport over real sockets against ``RawServer``: unix sockets, wire errors, cancellation,
/// backpressure, keep-alive.
@Suite struct MesosSocketTransportTests {
    /// A short unix socket path in the temporary directory (sun_path holds 107 bytes).
    static func socketPath() -> String {
        "/tmp/mesos-socket-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock"
    }

    static func chunk(_ text: String) -> String {
        String(text.utf8.count, radix: 16) + "\r\n" + text + "\r\n"
    }

    @Test func aUnixDomainSocketRoundTrip() async throws {
        let path = Self.socketPath()
        let server = try RawServer(unixPath: path) { connection, events in
            guard let (head, body) = connection.readRequest() else { return }
            events.yield(head)
            events.yield("body " + String(decoding: body, as: UTF8.self))
            connection.write("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
            connection.write(Self.chunk("{\"type\":"))
            connection.write(Self.chunk("\"SUBSCRIBED\"}"))
            connection.write("0\r\n\r\n")
        }
        defer { server.stop() }
        let transport = MesosSocketTransport(configuration: .init(unixSocketPath: path))
        let request = MesosHTTPRequest(
            url: URL(string: "http://agent.local:5051/api/v1/executor?x=1")!,
            headers: ["Content-Type": "application/json", "Accept": "application/json"],
            body: Array("{\"call\":1}".utf8),
            timeout: .seconds(30)
        )
        let (head, body) = try await transport.send(request)
        #expect(head.status == 200)
        #expect(head.headers["Content-Type"] == "application/json")
        #expect(String(decoding: try await body.collect(upTo: 1 << 16), as: UTF8.self) == "{\"type\":\"SUBSCRIBED\"}")

        var events = server.events.makeAsyncIterator()
        #expect(await events.next() == "connection 1")
        let lines = try #require(await events.next()).components(separatedBy: "\r\n")
        #expect(lines.first == "POST /api/v1/executor?x=1 HTTP/1.1")
        #expect(lines.contains("Host: agent.local:5051"))
        #expect(lines.contains("Content-Type: application/json"))
        #expect(lines.contains("Accept: application/json"))
        #expect(lines.contains("Content-Length: 10"))
        #expect(await events.next() == "body {\"call\":1}")
    }

    @Test(arguments: ["https://127.0.0.1:5051/api/v1/executor", "ftp://127.0.0.1/x"])
    func nonHTTPURLsAreRefusedWithATypedError(url: String) async throws {
        let transport = MesosSocketTransport()
        let error = await #expect(throws: MesosError.self) {
            _ = try await transport.send(MesosHTTPRequest(url: URL(string: url)!))
        }
        #expect(error?.code == .invalidConfiguration)
        if url.hasPrefix("https") {
            #expect(error?.message.contains("no TLS") == true)
            #expect(error?.message.contains("MesosCurlTransport") == true)
        }
    }

    @Test func headersThatWouldSplitTheRequestAreRefused() async throws {
        let transport = MesosSocketTransport()
        let url = URL(string: "http://127.0.0.1:1/x")!
        for headers: MesosHTTPHeaders in [["X-Evil": "a\r\nInjected: yes"], ["Bad Name": "x"]] {
            let error = await #expect(throws: MesosError.self) {
                _ = try await transport.send(MesosHTTPRequest(url: url, headers: headers))
            }
            #expect(error?.code == .invalidCall)
        }
        let error = await #expect(throws: MesosError.self) {
            _ = try await transport.send(MesosHTTPRequest(method: "GET /x", url: url))
        }
        #expect(error?.code == .invalidCall)
    }

    @Test func theRequestHeadCarriesTargetHostAndFraming() throws {
        let v6 = MesosHTTPRequest(method: "GET", url: URL(string: "http://[::1]:5051/a%20b/c?q=1&r=%2F")!, headers: ["Content-Length": "999"])
        let head = try HTTPRequestHead(v6, unixSocketPath: nil, context: "test")
        #expect(head.destination == .tcp(host: "::1", port: 5051))
        let text = String(decoding: head.bytes, as: UTF8.self)
        #expect(text == "GET /a%20b/c?q=1&r=%2F HTTP/1.1\r\nHost: [::1]:5051\r\n\r\n")

        let post = MesosHTTPRequest(url: URL(string: "http://agent")!, headers: ["Host": "custom"])
        let postHead = try HTTPRequestHead(post, unixSocketPath: "/run/agent.sock", context: "test")
        #expect(postHead.destination == .unix(path: "/run/agent.sock"))
        #expect(String(decoding: postHead.bytes, as: UTF8.self) == "POST / HTTP/1.1\r\nHost: custom\r\nContent-Length: 0\r\n\r\n")
    }

    @Test(arguments: [
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + "5\r\nhello\r\n" + "zz\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + "a\r\nhel",
        "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort",
    ])
    func brokenBodiesOnTheWireFailTheBodyWithATransportFailure(response: String) async throws {
        let server = try RawServer { connection, _ in
            guard connection.readRequest() != nil else { return }
            connection.write(response)
            // then close
        }
        defer { server.stop() }
        let transport = MesosSocketTransport()
        let (head, body) = try await transport.send(MesosHTTPRequest(method: "GET", url: server.baseURL, timeout: .seconds(30)))
        #expect(head.status == 200)
        let error = await #expect(throws: MesosError.self) { _ = try await body.collect(upTo: 1 << 20) }
        #expect(error?.code == .transportFailure)
        #expect(error?.cause is HTTPParseError)
    }

    @Test func anOversizedHeadOnTheWireIsATransportFailure() async throws {
        let server = try RawServer { connection, _ in
            guard connection.readRequest() != nil else { return }
            connection.write("HTTP/1.1 200 OK\r\nX-Big: " + String(repeating: "b", count: 10_000) + "\r\nContent-Length: 0\r\n\r\n")
        }
        defer { server.stop() }
        let transport = MesosSocketTransport(configuration: .init(maximumHeaderBytes: 4096))
        let error = await #expect(throws: MesosError.self) {
            _ = try await transport.send(MesosHTTPRequest(method: "GET", url: server.baseURL, timeout: .seconds(30)))
        }
        #expect(error?.code == .transportFailure)
        #expect((error?.cause as? HTTPParseError)?.kind == .headTooLarge)
    }

    @Test func cancellingTheReaderClosesTheConnection() async throws {
        let server = try RawServer { connection, events in
            guard connection.readRequest() != nil else { return }
            connection.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + Self.chunk("first"))
            // Then silence: only the client can end this.
            events.yield(connection.waitForEOF(seconds: 30) ? "eof" : "no eof")
        }
        defer { server.stop() }
        let transport = MesosSocketTransport()
        let (firstChunk, signal) = AsyncStream<String>.makeStream()
        let reader = Task {
            let (_, body) = try await transport.send(MesosHTTPRequest(method: "GET", url: server.baseURL))
            var iterator = body.makeAsyncIterator()
            signal.yield(String(decoding: try await iterator.next() ?? [], as: UTF8.self))
            while try await iterator.next() != nil {}
        }
        var chunks = firstChunk.makeAsyncIterator()
        #expect(await chunks.next() == "first")
        reader.cancel()
        let error = await #expect(throws: MesosError.self) { try await reader.value }
        #expect(error?.code == .cancelled)
        var events = server.events.makeAsyncIterator()
        #expect(await events.next() == "connection 1")
        #expect(await events.next() == "eof")
    }

    @Test func cancellingBeforeTheHeadClosesTheConnection() async throws {
        let server = try RawServer { connection, events in
            // Cancelled before the request was complete, or while waiting for the answer: either way, EOF.
            guard connection.readRequest() != nil else {
                events.yield("eof")
                return
            }
            events.yield(connection.waitForEOF(seconds: 30) ? "eof" : "no eof")
        }
        defer { server.stop() }
        let transport = MesosSocketTransport()
        var events = server.events.makeAsyncIterator()
        let sender = Task {
            _ = try await transport.send(MesosHTTPRequest(method: "GET", url: server.baseURL))
        }
        #expect(await events.next() == "connection 1")
        sender.cancel()
        let error = await #expect(throws: MesosError.self) { try await sender.value }
        #expect(error?.code == .cancelled)
        #expect(await events.next() == "eof")
    }

    @Test func droppingTheBodyUnreadClosesTheConnection() async throws {
        let server = try RawServer { connection, events in
            guard connection.readRequest() != nil else { return }
            connection.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + Self.chunk("never read"))
            events.yield(connection.waitForEOF(seconds: 30) ? "eof" : "no eof")
        }
        defer { server.stop() }
        let transport = MesosSocketTransport()
        do {
            let (head, _) = try await transport.send(MesosHTTPRequest(method: "GET", url: server.baseURL))
            #expect(head.status == 200)
        }
        var events = server.events.makeAsyncIterator()
        #expect(await events.next() == "connection 1")
        #expect(await events.next() == "eof")
    }

    @Test func aSlowConsumerHoldsBackTheServerAndMemoryStaysBounded() async throws {
        // 128 times the buffer: enough for many pauses and resumes, small enough for a debug build's byte loops.
        let total = 8 << 20
        let capacity = 64 << 10
        let written = LockedValue(0)
        let server = try RawServer { connection, events in
            guard connection.readRequest() != nil else { return }
            connection.write("HTTP/1.1 200 OK\r\nContent-Length: \(total)\r\n\r\n")
            var block = [UInt8](repeating: 0, count: 16 << 10)
            var offset = 0
            while offset < total {
                for index in block.indices { block[index] = UInt8(truncatingIfNeeded: (offset + index) / 7) }
                guard connection.write(block) else { return }
                offset += block.count
                written.withLock { $0 = offset }
            }
            events.yield("wrote all")
        }
        defer { server.stop() }
        let transport = MesosSocketTransport(configuration: .init(maximumBufferedBytesPerResponse: capacity))
        let (head, body) = try await transport.send(MesosHTTPRequest(method: "GET", url: server.baseURL))
        #expect(head.status == 200)

        // Read nothing until the transport has paused: the server can then write no more than the socket
        // buffers take, far less than the whole body.
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(30)
        while transport.statistics.pauses == 0, clock.now < deadline {
            try await Task.sleep(for: .milliseconds(5))
        }
        #expect(transport.statistics.pauses >= 1)
        #expect(written.withLock { $0 } < total, "the server wrote the whole body to a reader that read nothing")

        var iterator = body.makeAsyncIterator()
        var read = 0
        var intact = true
        while let chunk = try await iterator.next() {
            for (index, byte) in chunk.enumerated() where byte != UInt8(truncatingIfNeeded: (read + index) / 7) {
                intact = false
                break
            }
            read += chunk.count
        }
        #expect(read == total)
        #expect(intact)
        #expect(transport.statistics.pauses > 1)
        // The unread buffer never exceeded its capacity plus one socket read.
        #expect(transport.statistics.peakBufferedBytes <= capacity + SocketExchange.readSize)
    }

    @Test func sequentialCallsReuseTheConnectionAndAStaleOneIsReplaced() async throws {
        let server = try RawServer { connection, events in
            // Two answers on one connection, then the server closes it.
            for index in 1...2 {
                guard let (head, _) = connection.readRequest() else { return }
                events.yield(head.components(separatedBy: "\r\n")[0])
                connection.write("HTTP/1.1 202 Accepted\r\nContent-Length: 1\r\n\r\n\(index)")
            }
        }
        defer { server.stop() }
        let transport = MesosSocketTransport()
        var answers: [String] = []
        for call in 1...4 {
            let (head, body) = try await transport.send(
                MesosHTTPRequest(url: server.baseURL.appending(path: "call\(call)"), body: [], timeout: .seconds(30))
            )
            #expect(head.status == 202)
            answers.append(String(decoding: try await body.collect(upTo: 16), as: UTF8.self))
        }
        #expect(answers == ["1", "2", "1", "2"])
        var events = server.events.makeAsyncIterator()
        var seen: [String] = []
        while seen.count < 6, let event = await events.next() { seen.append(event) }
        #expect(seen.filter { $0.hasPrefix("connection") } == ["connection 1", "connection 2"])
        #expect(seen.filter { $0.hasPrefix("POST") } == (1...4).map { "POST /call\($0) HTTP/1.1" })
    }

    @Test func droppingTheBodyOfACompleteAnswerKeepsTheConnection() async throws {
        let server = try RawServer { connection, events in
            while let (head, _) = connection.readRequest() {
                events.yield(head.components(separatedBy: "\r\n")[0])
                connection.write("HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n")
            }
        }
        defer { server.stop() }
        let transport = MesosSocketTransport()
        for call in 1...3 {
            // The head of an answer with no body comes back only once the connection is parked, so dropping
            // the body at once does not close it.
            let (head, _) = try await transport.send(MesosHTTPRequest(url: server.baseURL.appending(path: "c\(call)"), body: [], timeout: .seconds(30)))
            #expect(head.status == 202)
        }
        var events = server.events.makeAsyncIterator()
        var seen: [String] = []
        while seen.count < 4, let event = await events.next() { seen.append(event) }
        #expect(seen == ["connection 1", "POST /c1 HTTP/1.1", "POST /c2 HTTP/1.1", "POST /c3 HTTP/1.1"])
    }

    @Test func aRefusedUnixSocketIsATransportFailure() async throws {
        let transport = MesosSocketTransport(configuration: .init(unixSocketPath: Self.socketPath()))
        let error = await #expect(throws: MesosError.self) {
            _ = try await transport.send(MesosHTTPRequest(method: "GET", url: URL(string: "http://agent/")!, timeout: .seconds(60)))
        }
        #expect(error?.code == .transportFailure)
        #expect(error?.cause is SocketError)
    }

    @Test func anUnresolvableHostIsATransportFailure() async throws {
        let transport = MesosSocketTransport()
        let error = await #expect(throws: MesosError.self) {
            _ = try await transport.send(MesosHTTPRequest(method: "GET", url: URL(string: "http://no-such-host.invalid/")!, timeout: .seconds(30)))
        }
        #expect(error?.code == .transportFailure)
    }

    @Test func aWholeCallTimeoutWhileTheConsumerIsSlowIsATimeout() async throws {
        // An endless body, and a consumer that reads nothing: the transport pauses on its full buffer, and only
        // the whole-call deadline can end the exchange (the server then sees its peer go).
        let server = try RawServer { connection, events in
            guard connection.readRequest() != nil else { return }
            connection.write("HTTP/1.1 200 OK\r\nContent-Length: \(1 << 40)\r\n\r\n")
            let block = [UInt8](repeating: 1, count: 16 << 10)
            while connection.write(block) {}
            events.yield("peer gone")
        }
        defer { server.stop() }
        let transport = MesosSocketTransport(configuration: .init(maximumBufferedBytesPerResponse: 16 << 10))
        let (_, body) = try await transport.send(MesosHTTPRequest(method: "GET", url: server.baseURL, timeout: .milliseconds(300)))
        var events = server.events.makeAsyncIterator()
        #expect(await events.next() == "connection 1")
        #expect(await events.next() == "peer gone")
        #expect(transport.statistics.pauses >= 1)
        var read = 0
        let error = await #expect(throws: MesosError.self) {
            for try await chunk in body { read += chunk.count }
        }
        #expect(error?.code == .timeout)
        #expect(read > 0)
    }
}
