import Foundation
import MesosCore
import MesosTestKit
import Testing

/// The fake master's HTTP/1.1 on the wire, read byte by byte with ``RawConnection``.
@Suite struct HTTPWireTests {
    private static func subscribeBody() throws -> [UInt8] {
        try Harness.json.encode(call: .subscribe(frameworkInfo: Harness.frameworkInfo()))
    }

    private static let jsonHeaders = [("Content-Type", "application/json"), ("Accept", "application/json")]

    @Test func subscriptionIsChunkedWithOneBytePerChunkWhenAsked() async throws {
        try await Harness.with(.http) { harness in
            let server = try #require(harness.server)
            await harness.master.inject(.rechunk(.fixed(1)), matching: .subscribe)
            let connection = try await RawConnection.connect(port: server.port)
            try await connection.send("POST", "/api/v1/scheduler", headers: Self.jsonHeaders, body: try Self.subscribeBody())
            var reader = ByteReader(connection)
            let head = try await reader.readHead()
            #expect(head.status == 200)
            #expect(head["Transfer-Encoding"] == "chunked")
            #expect(head["Content-Length"] == nil)
            #expect(head["Connection"] == nil)
            var record: [UInt8] = []
            for _ in 0..<60 {
                let chunk = try #require(try await reader.readChunk())
                #expect(chunk.count == 1)
                record += chunk
            }
            // The stream starts with the length of SUBSCRIBED and a newline.
            let text = String(decoding: record, as: UTF8.self)
            #expect(text.split(separator: "\n", maxSplits: 1).first.flatMap { Int($0) } != nil)
            await connection.close()
        }
    }

    @Test func cleanEndSendsTheLastChunkAndCutDoesNot() async throws {
        try await Harness.with(.http) { harness in
            let server = try #require(harness.server)
            for abruptly in [false, true] {
                let connection = try await RawConnection.connect(port: server.port)
                try await connection.send("POST", "/api/v1/scheduler", headers: Self.jsonHeaders, body: try Self.subscribeBody())
                var reader = ByteReader(connection)
                _ = try await reader.readHead()
                _ = try #require(try await reader.readChunk())   // SUBSCRIBED
                let framework = try #require(await harness.master.subscribedFrameworkIDs.first)
                try await harness.master.closeSubscription(of: framework, abruptly: abruptly)
                if abruptly {
                    await #expect(throws: ByteReader.EndOfStream.self) {
                        while try await reader.readChunk() != nil {}
                    }
                } else {
                    while try await reader.readChunk() != nil {}
                    // The connection stays usable after a clean end.
                    try await connection.send("GET", "/version")
                    #expect(try await reader.readResponse().head.status == 200)
                }
                await connection.close()
            }
        }
    }

    @Test func keepAliveServesManyRequestsOnOneConnection() async throws {
        try await Harness.with(.http) { harness in
            let server = try #require(harness.server)
            let connection = try await RawConnection.connect(port: server.port)
            var reader = ByteReader(connection)
            for _ in 0..<5 {
                try await connection.send("GET", "/version")
                let (head, body) = try await reader.readResponse()
                #expect(head.status == 200)
                #expect(!body.isEmpty)
            }
            #expect(server.acceptedConnections == 1)
            let ids = await harness.master.receivedRequests.map(\.connectionID)
            #expect(Set(ids).count == 1)
            #expect(ids.count == 5)

            try await connection.send("GET", "/version", headers: [("Connection", "close")])
            let (head, _) = try await reader.readResponse()
            #expect(head["Connection"] == "close")
            #expect(await reader.isAtEnd())
            try await server.waitForOpenConnections(atMost: 0)
        }
    }

    @Test func expectContinueIsAnswered() async throws {
        try await Harness.with(.http) { harness in
            let server = try #require(harness.server)
            let connection = try await RawConnection.connect(port: server.port)
            let body = try Self.subscribeBody()
            try await connection.write(
                "POST /api/v1/scheduler HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    + "Expect: 100-continue\r\nContent-Length: \(body.count)\r\n\r\n"
            )
            var reader = ByteReader(connection)
            #expect(try await reader.readLine() == "HTTP/1.1 100 Continue")
            while try await !reader.readLine().isEmpty {}
            try await connection.write(body)
            let head = try await reader.readHead()
            #expect(head.status == 200)
            await connection.close()
        }
    }

    @Test func closeBeforeResponseEndsTheConnection() async throws {
        try await Harness.with(.http) { harness in
            let server = try #require(harness.server)
            await harness.master.inject(.closeConnection)
            let connection = try await RawConnection.connect(port: server.port)
            try await connection.send("GET", "/version")
            var reader = ByteReader(connection)
            await #expect(throws: ByteReader.EndOfStream.self) { _ = try await reader.readHead() }
        }
    }

    @Test func routesServeExactBytesWithTheirHeaders() async throws {
        try await Harness.with(.http) { harness in
            let server = try #require(harness.server)
            let gzip: [UInt8] = [0x1F, 0x8B, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x01, 0x00, 0x00, 0xFF, 0xFF]
            await harness.master.route("GET", "/gzipped") { _ in
                .bytes(headers: ["Content-Encoding": "gzip", "Content-Type": "text/plain"], gzip)
            }
            let big = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
            await harness.master.route("GET", "/big") { _ in
                .stream(contentLength: big.count) { writer in
                    var offset = 0
                    while offset < big.count {
                        let end = min(offset + 50_000, big.count)
                        try await writer.write(big[offset..<end])
                        offset = end
                    }
                }
            }
            let connection = try await RawConnection.connect(port: server.port)
            var reader = ByteReader(connection)
            try await connection.send("GET", "/gzipped", headers: [("Accept-Encoding", "gzip")])
            let (gzipHead, gzipBody) = try await reader.readResponse()
            #expect(gzipHead["Content-Encoding"] == "gzip")
            #expect(gzipBody == gzip)
            try await connection.send("GET", "/big")
            let (bigHead, bigBody) = try await reader.readResponse()
            #expect(bigHead["Content-Length"] == String(big.count))
            #expect(bigHead["Transfer-Encoding"] == nil)
            #expect(bigBody == big)
            await connection.close()
        }
    }

    @Test func aClientThatDoesNotReadHoldsTheServerBack() async throws {
        try await Harness.with(.http) { harness in
            let server = try #require(harness.server)
            let chunk = ArraySlice(repeating: UInt8(ascii: "x"), count: 64 << 10)
            let total = 32 << 20
            await harness.master.route("GET", "/firehose") { _ in
                .stream { writer in
                    for _ in 0..<(total / chunk.count) { try await writer.write(chunk) }
                }
            }
            let connection = try await RawConnection.connect(port: server.port, autoRead: false)
            try await connection.send("GET", "/firehose")
            // Readiness, not a pause: the server's write waits for a connection the client does not read. The limit
            // only stops a hang: a plain `swift test` on two cores can keep the server's loop waiting for seconds.
            try await harness.master.waitUntil(timeout: .seconds(30)) {
                $0.responseStreams.count == 1 && $0.responseStreams[0].isHeldBack
            }
            let stalled = try #require(harness.master.responseStreams.first)
            #expect(stalled.state == .open)
            #expect(stalled.isWriting)
            // NIO's 64 KiB high-water mark plus the kernel's socket buffers: a few MiB, never the whole 32 MiB.
            #expect(stalled.bytesWritten < 16 << 20, "server wrote \(stalled.bytesWritten) bytes to a client that reads nothing")

            try await connection.setAutoRead(true)
            var reader = ByteReader(connection)
            let (head, _) = try await { () async throws -> (RawHead, Void) in (try await reader.readHead(), ()) }()
            #expect(head.status == 200)
            var received = 0
            while let data = try await reader.readChunk() { received += data.count }
            #expect(received == total)
            try await harness.master.waitUntil { $0.responseStreams[0].state == .finished }
            await connection.close()
        }
    }
}
