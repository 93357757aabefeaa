import Foundation
import MesosCore
import MesosURLSessionTransport
import Testing

@Suite("URLSession transport: streaming, backpressure, connections")
struct StreamingTests {
    @Test("send returns at the head and chunks arrive while the response is still open")
    func chunksArriveAsTheyCome() async throws {
        let server = try await ScriptedServer.start()
        let transport = MesosURLSessionTransport(configuration: .forTests)
        // The server sends the head, then nothing until we call /release: send must return before that.
        let (response, body) = try await transport.send(post(server.url("/gated?first=0"), timeout: nil))
        #expect(response.status == 200)
        let (released, _) = try await transport.send(post(server.url("/release")))
        #expect(released.status == 200)
        #expect(try await body.text() == "second;")

        // A first chunk, then the server waits: the chunk must reach us while the response is still open.
        let second = try await ScriptedServer.start()
        let (_, stream) = try await transport.send(post(second.url("/gated"), timeout: nil))
        var iterator = stream.makeAsyncIterator()
        let first = try await iterator.next().map { String(decoding: $0, as: UTF8.self) }
        #expect(first == "first;")
        _ = try await transport.send(post(second.url("/release")))
        var rest = ""
        while let chunk = try await iterator.next() {
            rest += String(decoding: chunk, as: UTF8.self)
        }
        #expect(rest == "second;")
    }

    @Test("chunks arrive in order")
    func chunksInOrder() async throws {
        let server = try await ScriptedServer.start()
        let transport = MesosURLSessionTransport(configuration: .forTests)
        let (_, body) = try await transport.send(post(server.url("/chunks?n=50&delay=0.01"), timeout: nil))
        let expected = (0..<50).map { "chunk-\($0);" }.joined()
        #expect(try await body.text() == expected)
    }

    @Test("backpressure: a slow consumer of a 128 MiB stream keeps memory bounded and the server waits")
    func backpressureBoundsMemory() async throws {
        let server = try await ScriptedServer.start()
        var configuration = MesosURLSessionTransport.Configuration.forTests
        configuration.maximumBufferedBytesPerResponse = 1 << 20
        let transport = MesosURLSessionTransport(configuration: configuration)
        let baseline = try #require(residentBytes())
        let (response, body) = try await transport.send(post(server.url("/big?mb=128"), timeout: nil))
        #expect(response.status == 200)
        var iterator = body.makeAsyncIterator()
        var received = 0
        while received < 2 << 20, let chunk = try await iterator.next() {
            received += chunk.count
        }
        // Stop reading: the transport must stop reading too, so the server blocks in send. Readiness, not a
        // fixed pause: wait until the server is observed stalled (its count unchanged over three readings),
        // then check where it stalled. Without backpressure it would only stall at the end, 128 MiB.
        var readings: [Int] = []
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            readings.append(try server.stats().bigBytesSent)
            if readings.count >= 3, Set(readings.suffix(3)).count == 1 { break }
            try await Task.sleep(for: .milliseconds(300))
        }
        let stalledAt = try #require(readings.last)
        #expect(readings.count >= 3 && Set(readings.suffix(3)).count == 1, "the server never stalled: \(readings)")
        #expect(stalledAt < 40 << 20, "server sent \(stalledAt) bytes to a paused consumer")
        var peak = try #require(residentBytes())
        // Now read everything, slowly at first.
        var reads = 0
        while let chunk = try await iterator.next() {
            received += chunk.count
            reads += 1
            if reads % 512 == 0 {
                peak = max(peak, residentBytes() ?? 0)
                if reads < 4096 { try await Task.sleep(for: .milliseconds(20)) }
            }
        }
        #expect(received == 128 << 20)
        let growth = peak - baseline
        print("backpressure: server had sent \(stalledAt >> 20) MiB while the consumer paused; RSS grew \(growth >> 20) MiB for a 128 MiB body")
        #expect(growth < 48 << 20, "RSS grew by \(growth >> 20) MiB for a 128 MiB body")
    }

    @Test("keep-alive: consecutive calls reuse one connection")
    func keepAlive() async throws {
        let server = try await ScriptedServer.start()
        let transport = MesosURLSessionTransport(configuration: .forTests)
        for _ in 0..<5 {
            let (response, body) = try await transport.send(post(server.url("/fixed?len=100")))
            #expect(response.status == 200)
            #expect(try await body.collect(upTo: 1000).count == 100)
        }
        let stats = try server.stats()
        #expect(stats.requests.count == 5)
        #expect(stats.connections == 1)
    }

    @Test("concurrent calls run at the same time")
    func concurrentCalls() async throws {
        let server = try await ScriptedServer.start()
        let transport = MesosURLSessionTransport(configuration: .forTests)
        // The server answers /barrier only when all 5 requests are waiting there together.
        let texts = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<5 {
                group.addTask {
                    let (_, body) = try await transport.send(post(server.url("/barrier?n=5"), timeout: .seconds(30)))
                    return try await body.text()
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(texts == Array(repeating: "together", count: 5))
        #expect(try server.stats().maxOpenConnections >= 5)
    }

    @Test("a stream gets its own connection next to ordinary calls")
    func streamAlongsideCalls() async throws {
        let server = try await ScriptedServer.start()
        let transport = MesosURLSessionTransport(configuration: .forTests)
        let (_, stream) = try await transport.send(post(server.url("/idle"), timeout: nil))
        var iterator = stream.makeAsyncIterator()
        #expect(try await iterator.next().map { String(decoding: $0, as: UTF8.self) } == "hello")
        for _ in 0..<3 {
            let (response, body) = try await transport.send(post(server.url("/fixed?len=5"), timeout: .seconds(30)))
            #expect(response.status == 200)
            #expect(try await body.collect(upTo: 100).count == 5)
        }
        withExtendedLifetime(iterator) {}
    }

    @Test("the request goes out as given, with Accept-Encoding: identity added when absent")
    func requestAsGiven() async throws {
        let server = try await ScriptedServer.start()
        let transport = MesosURLSessionTransport(configuration: .forTests)
        let request = MesosHTTPRequest(
            method: "POST",
            url: server.url("/echo"),
            headers: ["Content-Type": "application/json", "Mesos-Stream-Id": "abc-123", "X-Repeat": "1"],
            body: Array(#"{"type":"TEARDOWN"}"#.utf8),
            timeout: .seconds(30)
        )
        let (response, body) = try await transport.send(request)
        #expect(response.status == 200)
        #expect(response.headers["content-type"] == "application/json")
        let echo = try #require(try JSONSerialization.jsonObject(with: Data(try await body.collect(upTo: 1 << 16))) as? [String: Any])
        let headers = try #require(echo["headers"] as? [String: String])
        #expect(echo["method"] as? String == "POST")
        #expect(echo["body"] as? String == #"{"type":"TEARDOWN"}"#)
        #expect(headers["content-type"] == "application/json")
        #expect(headers["mesos-stream-id"] == "abc-123")
        #expect(headers["accept-encoding"] == "identity")
    }

    @Test("non-2xx statuses are returned, not thrown", arguments: [400, 401, 403, 404, 409, 415, 503])
    func statusesReturned(code: Int) async throws {
        let server = try await ScriptedServer.start()
        let transport = MesosURLSessionTransport(configuration: .forTests)
        let (response, body) = try await transport.send(post(server.url("/status?code=\(code)"), timeout: .seconds(30)))
        #expect(response.status == code)
        #expect(try await body.text() == "status \(code)")
    }

    @Test("307 is returned with its Location and body, not followed")
    func redirectNotFollowed() async throws {
        let server = try await ScriptedServer.start()
        let transport = MesosURLSessionTransport(configuration: .forTests)
        let (response, body) = try await transport.send(post(server.url("/redirect"), timeout: .seconds(30)))
        #expect(response.status == 307)
        #expect(response.headers["Location"] == "//127.0.0.1:\(server.port)/fixed?len=3")
        #expect(try await body.text() == "moved")
        let (bare, bareBody) = try await transport.send(post(server.url("/redirect-noloc"), timeout: .seconds(30)))
        #expect(bare.status == 307)
        #expect(try await bareBody.collect(upTo: 100).isEmpty)
        #expect(try server.stats().requests.map(\.path) == ["/redirect", "/redirect-noloc"])
    }

    @Test("URLSession's transparent gzip decoding is reflected in the head")
    func compressionReflectedInHead() async throws {
        let server = try await ScriptedServer.start()
        let transport = MesosURLSessionTransport(configuration: .forTests)
        let plain = String(repeating: "mesos ", count: 2000)
        let (asIs, asIsBody) = try await transport.send(post(server.url("/gzip"), timeout: .seconds(30)))
        #expect(asIs.headers["X-Seen-Accept-Encoding"] == "identity")
        #expect(asIs.headers["Content-Encoding"] == nil)
        #expect(try await asIsBody.text() == plain)

        let request = post(server.url("/gzip"), timeout: .seconds(30), headers: ["Accept-Encoding": "gzip"])
        let (decoded, decodedBody) = try await transport.send(request)
        #expect(decoded.headers["X-Seen-Accept-Encoding"] == "gzip")
        #expect(decoded.headers["Content-Encoding"] == nil)
        #expect(decoded.headers["Content-Length"] == nil)
        #expect(try await decodedBody.text() == plain)
    }
}
