import Foundation
import MesosCore
import Testing
@testable import MesosCurlTransport

@Suite("MesosCurlTransport against a scripted local server")
struct MesosCurlTransportTests {
    let server: ScriptedHTTPServer
    let transport = MesosCurlTransport()

    init() async throws {
        self.server = try await ScriptedHTTPServer.start()
    }

    // MARK: - Heads, headers and bodies

    @Test func returnsStatusHeadersAndBody() async throws {
        let (response, body) = try await self.transport.send(MesosHTTPRequest(method: "GET", url: self.server.url("/hello")))
        #expect(response.status == 200)
        #expect(response.headers["content-length"] == "5")
        #expect(response.headers.fields.filter { $0.name == "X-Many" }.map(\.value) == ["1", "2"])
        #expect(try await text(of: body) == "hello")
    }

    @Test func emptyBodyEndsImmediately() async throws {
        let (response, body) = try await self.transport.send(MesosHTTPRequest(url: self.server.url("/accepted"), body: []))
        #expect(response.status == 202)
        #expect(try await body.collect(upTo: 1024).isEmpty)
    }

    @Test func sendsMethodHeadersAndBodyExactlyAsGiven() async throws {
        // Over 1024 bytes, where curl would otherwise add `Expect: 100-continue`.
        let payload = (0..<3000).map { UInt8(truncatingIfNeeded: $0) }
        let request = MesosHTTPRequest(
            url: self.server.url("/echo"),
            headers: ["Content-Type": "application/json", "X-Custom": "value with spaces"],
            body: payload
        )
        let (response, body) = try await self.transport.send(request)
        #expect(response.status == 200)

        struct Echo: Decodable {
            let method: String
            let headers: [[String]]
            let body: [UInt8]
        }
        let echo = try JSONDecoder().decode(Echo.self, from: Data(try await body.collect(upTo: 1 << 20)))
        #expect(echo.method == "POST")
        #expect(echo.body == payload)
        let names = echo.headers.map { $0[0].lowercased() }
        #expect(echo.headers.contains(["Content-Type", "application/json"]))
        #expect(echo.headers.contains(["X-Custom", "value with spaces"]))
        #expect(!names.contains("accept"))
        #expect(!names.contains("expect"))
        #expect(!names.contains("accept-encoding"))
        #expect(names.contains("content-length"))
    }

    @Test func putWithoutBodyUsesTheGivenMethod() async throws {
        let (_, body) = try await self.transport.send(MesosHTTPRequest(method: "PUT", url: self.server.url("/echo")))
        let text = try await text(of: body)
        #expect(text.contains("\"method\": \"PUT\""))
    }

    @Test func interimResponsesAreSkipped() async throws {
        let (response, body) = try await self.transport.send(MesosHTTPRequest(method: "GET", url: self.server.url("/early")))
        #expect(response.status == 200)
        #expect(response.headers["X-Final"] == "yes")
        #expect(response.headers["Link"] == nil)
        #expect(try await text(of: body) == "final")
    }

    @Test func redirectsAreReturnedNotFollowed() async throws {
        let (response, body) = try await self.transport.send(MesosHTTPRequest(url: self.server.url("/redirect"), body: [1]))
        #expect(response.status == 307)
        #expect(response.headers["Location"] == "/hello")
        #expect(try await body.collect(upTo: 1024).isEmpty)
    }

    @Test func contentEncodingIsNotDecoded() async throws {
        let (response, body) = try await self.transport.send(MesosHTTPRequest(method: "GET", url: self.server.url("/gzip")))
        #expect(response.headers["Content-Encoding"] == "gzip")
        let bytes = try await body.collect(upTo: 1024)
        #expect(bytes.starts(with: [0x1F, 0x8B]))
        #expect(bytes.count == Int(response.headers["Content-Length"] ?? "") ?? -1)
    }

    // MARK: - Streaming and backpressure

    @Test func streamsChunksBeforeTheResponseEnds() async throws {
        let (response, body) = try await self.transport.send(MesosHTTPRequest(method: "GET", url: self.server.url("/gated?wait=10")))
        #expect(response.status == 200)
        var iterator = body.makeAsyncIterator()
        // The server holds the response open until /release is called, so this chunk can only arrive by streaming.
        let first = try await iterator.next()
        #expect(first.map { Array($0) } == Array("first".utf8))
        let (_, released) = try await self.transport.send(MesosHTTPRequest(method: "GET", url: self.server.url("/release")))
        #expect(try await text(of: released) == "ok")
        var rest: [UInt8] = []
        while let chunk = try await iterator.next() {
            rest += chunk
        }
        #expect(String(decoding: rest, as: UTF8.self) == "released")
    }

    @Test func deliversManyChunksInOrder() async throws {
        let count = 5000
        let (_, body) = try await self.transport.send(MesosHTTPRequest(method: "GET", url: self.server.url("/chunks?n=\(count)")))
        let received = try await text(of: body, limit: 1 << 20)
        let expected = (0..<count).map { "chunk-\($0);" }.joined()
        #expect(received == expected)
    }

    @Test(.enabled(if: procFilesystemAvailable)) func backpressureKeepsMemoryBounded() async throws {
        let total = 100 << 20
        let baseline = try #require(residentSetSize())
        let (response, body) = try await self.transport.send(
            MesosHTTPRequest(method: "GET", url: self.server.url("/big?bytes=\(total)"))
        )
        #expect(response.status == 200)
        var received = 0
        var peak = baseline
        var sinceSleep = 0
        for try await chunk in body {
            received += chunk.count
            sinceSleep += chunk.count
            if sinceSleep >= 1 << 20 {
                // A slow consumer: 1 MiB, then a pause, so the server could run far ahead without backpressure.
                sinceSleep = 0
                try await Task.sleep(for: .milliseconds(20))
                peak = max(peak, residentSetSize() ?? 0)
            }
        }
        #expect(received == total)
        let growth = peak - baseline
        #expect(growth < 64 << 20, "RSS grew by \(growth >> 20) MiB while streaming \(total >> 20) MiB")
    }

    @Test func idleTimeoutDoesNotCountTimePausedForASlowConsumer() async throws {
        let transport = MesosCurlTransport(configuration: .init(maximumBufferedBytesPerResponse: 64 << 10))
        let total = 8 << 20
        let (_, body) = try await transport.send(
            MesosHTTPRequest(method: "GET", url: self.server.url("/big?bytes=\(total)"), idleTimeout: .seconds(1))
        )
        var iterator = body.makeAsyncIterator()
        var received = try await iterator.next()?.count ?? 0
        // The buffer fills and the transfer pauses for far longer than the idle timeout.
        try await Task.sleep(for: .seconds(3))
        while let chunk = try await iterator.next() {
            received += chunk.count
        }
        #expect(received == total)
    }

    // MARK: - Connections

    @Test func reusesKeptAliveConnections() async throws {
        for _ in 0..<50 {
            let (response, body) = try await self.transport.send(MesosHTTPRequest(method: "GET", url: self.server.url("/hello")))
            #expect(response.status == 200)
            #expect(try await text(of: body) == "hello")
        }
        let stats = try await stats(of: self.server)
        // One connection for the 50 calls, one for the stats request's own transport.
        #expect(stats.connections == 2)
    }

    @Test func runsCallsConcurrently() async throws {
        // The server answers "together" only once all 32 requests wait at the same time (else "alone" after 60 s):
        // they are really in flight at once, whatever the machine's load.
        let answers = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<32 {
                group.addTask {
                    let (_, body) = try await self.transport.send(
                        MesosHTTPRequest(method: "GET", url: self.server.url("/barrier?n=32"), timeout: .seconds(90))
                    )
                    return try await text(of: body)
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(answers == Array(repeating: "together", count: 32))
    }

    @Test func connectionsPerHostCanBeLimited() async throws {
        let transport = MesosCurlTransport(configuration: .init(maximumConnectionsPerHost: 1))
        let started = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    let (response, body) = try await transport.send(
                        MesosHTTPRequest(method: "GET", url: self.server.url("/sleep?s=0.3"), timeout: .seconds(30))
                    )
                    #expect(response.status == 200)
                    _ = try await body.collect(upTo: 1024)
                }
            }
            try await group.waitForAll()
        }
        // Queued on one connection, one after another.
        #expect(ContinuousClock.now - started >= .milliseconds(1200))
        #expect(try await stats(of: self.server).connections == 2)
    }

    @Test func aStreamOutlivesItsTransportAndTheThreadThenEnds() async throws {
        var transport: MesosCurlTransport? = MesosCurlTransport()
        let engine = try #require(transport?.engine)
        let (_, body) = try await #require(transport).send(
            MesosHTTPRequest(method: "GET", url: self.server.url("/gated?wait=10"))
        )
        transport = nil
        var iterator = body.makeAsyncIterator()
        #expect(try await iterator.next().map { Array($0) } == Array("first".utf8))
        #expect(engine.isRunning)
        let (_, released) = try await self.transport.send(MesosHTTPRequest(method: "GET", url: self.server.url("/release")))
        _ = try await released.collect(upTo: 1024)
        var rest: [UInt8] = []
        while let chunk = try await iterator.next() {
            rest += chunk
        }
        #expect(String(decoding: rest, as: UTF8.self) == "released")
        let ended = await eventually { !engine.isRunning }
        #expect(ended, "the engine thread kept running after its transport and last stream were gone")
    }

    // MARK: - Timeouts and failures

    @Test func callTimeoutIsATimeout() async throws {
        // /slowhead never answers: it waits up to 30 s for the client to close, then closes without a response
        // (which would be a transportFailure, not a timeout). So a `.timeout` can only come from the call's own
        // limit, and the server's EOF (counted only if the client closed within those 30 s) shows it came first.
        let error = await #expect(throws: MesosError.self) {
            _ = try await self.transport.send(
                MesosHTTPRequest(method: "GET", url: self.server.url("/slowhead"), timeout: .milliseconds(300))
            )
        }
        #expect(error?.code == .timeout)
        #expect(error?.cause is CurlError)
        // The timeout closed the connection: the server saw the client go away.
        let closed = try await eventually { try await stats(of: self.server).eofs >= 1 }
        #expect(closed, "the timed-out call's connection was not closed")
    }

    @Test func defaultCallTimeoutAppliesWhenTheRequestHasNone() async throws {
        let transport = MesosCurlTransport.curl(configuration: .init(defaultCallTimeout: .milliseconds(300)))
        let error = await #expect(throws: MesosError.self) {
            _ = try await transport.send(MesosHTTPRequest(method: "GET", url: self.server.url("/sleep?s=5")))
        }
        #expect(error?.code == .timeout)
    }

    @Test func idleTimeoutIsATimeout() async throws {
        let (_, body) = try await self.transport.send(
            MesosHTTPRequest(method: "GET", url: self.server.url("/idle?s=60"), idleTimeout: .seconds(1))
        )
        var iterator = body.makeAsyncIterator()
        let first = try await iterator.next()
        #expect(first.map { Array($0) } == Array("a".utf8))
        // The server's next chunk comes after 60 s: a timeout before it can only be the idle limit. The bound
        // is wide on purpose (a loaded machine), and still far below the server's silence.
        let started = ContinuousClock.now
        let error = await #expect(throws: MesosError.self) {
            _ = try await iterator.next()
        }
        #expect(error?.code == .timeout)
        #expect(ContinuousClock.now - started < .seconds(30))
    }

    @Test func idleTimeoutAlsoCoversAMissingHead() async throws {
        let error = await #expect(throws: MesosError.self) {
            _ = try await self.transport.send(
                MesosHTTPRequest(method: "GET", url: self.server.url("/slowhead"), idleTimeout: .milliseconds(300))
            )
        }
        #expect(error?.code == .timeout)
    }

    @Test func connectionRefusedIsATransportFailure() async throws {
        let url = URL(string: "http://127.0.0.1:\(unusedPort())/api/v1/scheduler")!
        let error = await #expect(throws: MesosError.self) {
            _ = try await self.transport.send(MesosHTTPRequest(url: url, body: []))
        }
        #expect(error?.code == .transportFailure)
        #expect(error?.message.contains("Couldn't connect") == true, "\(String(describing: error))")
        #expect((error?.cause as? CurlError)?.code == 7)
    }

    @Test(arguments: ["/cut", "/cutchunked"])
    func serverClosingMidBodyFailsTheBody(path: String) async throws {
        let (response, body) = try await self.transport.send(MesosHTTPRequest(method: "GET", url: self.server.url(path)))
        #expect(response.status == 200)
        var received = 0
        let error = await #expect(throws: MesosError.self) {
            for try await chunk in body {
                received += chunk.count
            }
        }
        #expect(error?.code == .transportFailure)
        #expect(error?.message.contains("while reading the response body") == true, "\(String(describing: error))")
        #expect(received > 0)
    }

    @Test func invalidRequestsAreRejectedBeforeSending() async throws {
        let badHeader = MesosHTTPRequest(url: self.server.url("/echo"), headers: ["X-Bad": "a\r\nInjected: 1"])
        await #expect(throws: MesosError(code: .transportFailure)) {
            _ = try await self.transport.send(badHeader)
        }
        let badScheme = MesosHTTPRequest(url: URL(string: "ftp://127.0.0.1/file")!)
        await #expect(throws: MesosError(code: .transportFailure)) {
            _ = try await self.transport.send(badScheme)
        }
        let badMethod = MesosHTTPRequest(method: "PO ST", url: self.server.url("/echo"))
        await #expect(throws: MesosError(code: .transportFailure)) {
            _ = try await self.transport.send(badMethod)
        }
    }

    // MARK: - Cancellation

    @Test func cancellingTheConsumerClosesTheConnection() async throws {
        let (_, body) = try await self.transport.send(MesosHTTPRequest(method: "GET", url: self.server.url("/hang")))
        let (gotFirst, firstArrived) = AsyncStream.makeStream(of: Void.self)
        let consumer = Task { () -> MesosError? in
            do {
                for try await _ in body {
                    firstArrived.yield()
                }
                return nil
            } catch let error as MesosError {
                return error
            } catch {
                return nil
            }
        }
        for await _ in gotFirst {
            break
        }
        consumer.cancel()
        let error = await consumer.value
        #expect(error?.code == .cancelled)
        let closed = try await eventually { try await stats(of: self.server).eofs == 1 }
        #expect(closed, "the server did not see the connection close")
    }

    @Test func droppingTheBodyClosesTheConnection() async throws {
        do {
            let (response, _) = try await self.transport.send(MesosHTTPRequest(method: "GET", url: self.server.url("/hang")))
            #expect(response.status == 200)
        }
        let closed = try await eventually { try await stats(of: self.server).eofs == 1 }
        #expect(closed, "the server did not see the connection close")
    }

    @Test func breakingOutOfTheLoopClosesTheConnection() async throws {
        let (_, body) = try await self.transport.send(MesosHTTPRequest(method: "GET", url: self.server.url("/hang")))
        for try await _ in body {
            break
        }
        let closed = try await eventually { try await stats(of: self.server).eofs == 1 }
        #expect(closed, "the server did not see the connection close")
        _ = body
    }

    @Test func cancellingSendBeforeTheHeadAborts() async throws {
        let transport = self.transport
        let url = self.server.url("/slowhead")
        let sender = Task { () -> MesosError? in
            do {
                _ = try await transport.send(MesosHTTPRequest(method: "GET", url: url))
                return nil
            } catch let error as MesosError {
                return error
            } catch {
                return nil
            }
        }
        // Cancel once the server holds the request, so there is a connection to close.
        let arrived = try await eventually { try await stats(of: self.server).waiting == 1 }
        #expect(arrived)
        sender.cancel()
        let error = await sender.value
        #expect(error?.code == .cancelled)
        // The server counts the EOF only if the client closed before its own 30 s wait ended: the abort was prompt.
        let closed = try await eventually { try await stats(of: self.server).eofs == 1 }
        #expect(closed, "the server did not see the connection close")
    }

    // MARK: - Idle cost

    @Test(.enabled(if: procFilesystemAvailable)) func anIdleStreamCostsNoCPU() async throws {
        let (_, body) = try await self.transport.send(MesosHTTPRequest(method: "GET", url: self.server.url("/quiet?s=10")))
        var iterator = body.makeAsyncIterator()
        _ = try await iterator.next()
        let before = try #require(self.transport.engineThreadCPUTime)
        try await Task.sleep(for: .seconds(3))
        let after = try #require(self.transport.engineThreadCPUTime)
        // A busy-polling loop would burn close to 3 s here.
        #expect(after - before < .milliseconds(30), "the curl thread used \(after - before) in 3 s of silence")
        _ = iterator
    }
}
