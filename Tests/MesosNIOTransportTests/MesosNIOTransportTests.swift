import Foundation
import MesosCore
import MesosTestKit
import Testing

@testable import MesosNIOTransport

/// The NIO transport against the fake master over 127.0.0.1: pooling, streams, backpressure, cancellation.
@Suite struct MesosNIOTransportTests {
    /// Runs `body` with a fake master served over HTTP and a transport on a thread of its own; shuts both down
    /// afterwards whatever happens.
    static func withServer<T>(
        configuration: MesosNIOTransport.Configuration = .init(),
        _ body: (FakeMaster, FakeMasterServer, MesosNIOTransport) async throws -> T
    ) async throws -> T {
        let master = FakeMaster(configuration: .init(heartbeatInterval: .milliseconds(50)))
        let server = try await FakeMasterServer.start(master: master)
        let transport = MesosNIOTransport(configuration: configuration, ownThread: true)
        do {
            let result = try await body(master, server, transport)
            try await transport.shutdown()
            try await server.shutdown()
            return result
        } catch {
            try? await transport.shutdown()
            try? await server.shutdown()
            throw error
        }
    }

    /// Polls `condition` (a readiness check, not a timing assertion) until it holds or 10 s have passed.
    static func eventually(_ condition: () async -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            if await condition() { return true }
            try await Task.sleep(for: .milliseconds(10))
        }
        return await condition()
    }

    /// The fake master's `/version`. The 30 s limit only stops a hung exchange: the fake master runs on the shared
    /// NIO singleton group and the cooperative pool, which the whole parallel test run loads (10 s was once exceeded
    /// during a plain `swift test` on the 2-core machine).
    static func version(_ server: FakeMasterServer, headers: MesosHTTPHeaders = [:]) -> MesosHTTPRequest {
        MesosHTTPRequest(method: "GET", url: server.url.appending(path: "version"), headers: headers, timeout: .seconds(30))
    }

    /// A route whose body never ends: a tick every 20 ms.
    static func routeEndlessStream(_ master: FakeMaster) async {
        await master.route("POST", "/stream") { _ in
            .stream(headers: ["Content-Type": "text/plain"]) { writer in
                while true {
                    try await writer.write(Array("tick".utf8)[...])
                    try await Task.sleep(for: .milliseconds(20))
                }
            }
        }
    }

    @Test("a header or method that would change the request's framing is refused before anything is sent")
    func headerInjectionIsRefused() async throws {
        try await Self.withServer { _, server, transport in
            let bad: [MesosHTTPRequest] = [
                Self.version(server, headers: ["X-Note": "a\r\nInjected: 1"]),
                Self.version(server, headers: ["X-Note": "a\nb"]),
                Self.version(server, headers: ["X-Note": "a\u{0}b"]),
                Self.version(server, headers: ["Bad Name": "x"]),
                Self.version(server, headers: ["Bad:Name": "x"]),
                MesosHTTPRequest(method: "GET /x HTTP/1.1\r\n", url: server.url.appending(path: "version")),
            ]
            for request in bad {
                do {
                    _ = try await transport.send(request)
                    Issue.record("sent \(request.method) with \(request.headers.fields)")
                } catch let error as MesosError {
                    #expect(error.code == .invalidCall, "\(error)")
                }
            }
            // The transport is still fine, and a good request goes through.
            let (head, body) = try await transport.send(Self.version(server, headers: ["X-Note": "fine value: with colon"]))
            #expect(head.status == 200)
            _ = try await body.collect(upTo: 1 << 20)
        }
    }

    @Test func sequentialCallsReuseOneConnection() async throws {
        try await Self.withServer { master, server, transport in
            for _ in 0..<20 {
                let (head, body) = try await transport.send(Self.version(server))
                #expect(head.status == 200)
                #expect(try await body.collect(upTo: 1 << 16).isEmpty == false)
            }
            let connections = await master.receivedRequests.filter { $0.path == "/version" }.compactMap(\.connectionID)
            #expect(connections.count == 20)
            #expect(Set(connections).count == 1, "20 sequential calls used connections \(connections)")
            #expect(transport.core.pool.idleCount == 1)
            // Shutting down closes the idle connection.
            try await transport.shutdown()
            #expect(try await Self.eventually { server.openConnections == 0 })
        }
    }

    @Test func aServerThatClosesGetsANewConnection() async throws {
        try await Self.withServer { master, server, transport in
            for _ in 0..<3 {
                // The request asks for close; the server answers `Connection: close` and closes after the answer.
                let (head, body) = try await transport.send(Self.version(server, headers: ["Connection": "close"]))
                #expect(head.status == 200)
                #expect(head.headers["Connection"]?.lowercased() == "close")
                _ = try await body.collect(upTo: 1 << 16)
            }
            #expect(transport.core.pool.idleCount == 0)
            // A kept-alive call afterwards works, on a fourth connection, which is then pooled.
            let (head, body) = try await transport.send(Self.version(server))
            #expect(head.status == 200)
            _ = try await body.collect(upTo: 1 << 16)
            let connections = await master.receivedRequests.filter { $0.path == "/version" }.compactMap(\.connectionID)
            #expect(Set(connections).count == 4, "connections \(connections)")
            #expect(transport.core.pool.idleCount == 1)
        }
    }

    @Test func aPooledConnectionTheServerClosedIsReplaced() async throws {
        // The server closes every connection right after its answer, without saying so: the transport pools
        // each one, and the next call finds it dead (closed, or failing before any byte) and takes a new one.
        let server = try await TLSTestServer.start(nil, closeAfterAnswer: true)
        let transport = MesosNIOTransport(configuration: .init(), ownThread: true)
        for _ in 0..<5 {
            let (head, body) = try await transport.send(
                MesosHTTPRequest(method: "GET", url: URL(string: "http://127.0.0.1:\(server.port)/version")!, timeout: .seconds(60))
            )
            #expect(head.status == 200)
            #expect(String(decoding: try await body.collect(upTo: 1 << 10), as: UTF8.self) == "ok")
        }
        #expect(server.accepted.withLock { $0 } == 5)
        try await transport.shutdown()
        await server.stop()
    }

    @Test func aStreamLeftBeforeItsEndIsClosedNotPooled() async throws {
        try await Self.withServer { master, server, transport in
            await Self.routeEndlessStream(master)
            do {
                let (head, body) = try await transport.send(MesosHTTPRequest(url: server.url.appending(path: "stream")))
                #expect(head.status == 200)
                var iterator = body.makeAsyncIterator()
                #expect(try await iterator.next() != nil)
            }
            let streamConnection = try #require(await master.receivedRequests.first { $0.path == "/stream" }?.connectionID)
            #expect(try await Self.eventually { !server.openConnectionIDs.contains(streamConnection) })
            #expect(transport.core.pool.idleCount == 0)
            let (head, body) = try await transport.send(Self.version(server))
            #expect(head.status == 200)
            _ = try await body.collect(upTo: 1 << 16)
            let versionConnection = await master.receivedRequests.first { $0.path == "/version" }?.connectionID
            #expect(versionConnection != nil && versionConnection != streamConnection)
        }
    }

    @Test func aSlowConsumerBoundsWhatTheTransportBuffers() async throws {
        let limit = 64 << 10
        try await Self.withServer(configuration: .init(maximumBufferedBytesPerResponse: limit)) { master, server, transport in
            let chunk = ArraySlice(repeating: UInt8(ascii: "b"), count: 16 << 10)
            await master.route("POST", "/firehose") { _ in
                .stream(headers: ["Content-Type": "application/octet-stream"]) { writer in
                    for _ in 0..<(64 << 20) / chunk.count { try await writer.write(chunk) }
                }
            }
            let (head, body) = try await transport.send(MesosHTTPRequest(url: server.url.appending(path: "firehose")))
            #expect(head.status == 200)
            var iterator = body.makeAsyncIterator()
            var read = 0
            while read < 8 << 20, let data = try await iterator.next() {
                read += data.count
                if read % (1 << 20) < data.count {
                    // Pause now and then: an unbounded reader would buffer whatever the server sends meanwhile.
                    try await Task.sleep(for: .milliseconds(100))
                }
            }
            #expect(read >= 8 << 20)
            let held = transport.core.statistics.maximumBuffered
            // The limit plus at most one network read (NIO reads at most 64 KiB at a time by default).
            #expect(held > 0 && held <= limit + (64 << 10), "one response held \(held) unread bytes")
            let written = try #require(master.responseStreams.last).bytesWritten
            let allowance = Self.socketBufferAllowance() + limit + (1 << 20)
            #expect(written < read + allowance, "the server wrote \(written) bytes for \(read) read")
            _ = iterator
        }
    }

    @Test func cancellingTheReaderClosesTheConnection() async throws {
        try await Self.withServer { master, server, transport in
            await Self.routeEndlessStream(master)
            let (started, signal) = AsyncStream<Void>.makeStream()
            let reader = Task {
                let (_, body) = try await transport.send(MesosHTTPRequest(url: server.url.appending(path: "stream")))
                var iterator = body.makeAsyncIterator()
                _ = try await iterator.next()
                signal.yield()
                while try await iterator.next() != nil {}
            }
            var arrivals = started.makeAsyncIterator()
            await arrivals.next()
            reader.cancel()
            let error = await #expect(throws: MesosError.self) { try await reader.value }
            #expect(error?.code == .cancelled)
            let connection = try #require(await master.receivedRequests.first { $0.path == "/stream" }?.connectionID)
            #expect(try await Self.eventually { !server.openConnectionIDs.contains(connection) })
            #expect(transport.core.pool.idleCount == 0)
        }
    }

    @Test func theTaskExecutorRunsOnTheTransportsLoop() async throws {
        try await Self.withServer { _, server, transport in
            let executor = try #require(transport.taskExecutor)
            let loop = transport.eventLoop
            let status = try await withTaskExecutorPreference(executor) {
                #expect(loop.inEventLoop)
                let (head, body) = try await transport.send(Self.version(server))
                _ = try await body.collect(upTo: 1 << 16)
                #expect(loop.inEventLoop)
                return head.status
            }
            #expect(status == 200)
        }
    }

    @Test(arguments: ["ftp://127.0.0.1/x", "http:///nohost"])
    func unsupportedURLsAreTypedErrors(url: String) async throws {
        let transport = MesosNIOTransport()
        let error = await #expect(throws: MesosError.self) {
            _ = try await transport.send(MesosHTTPRequest(url: URL(string: url)!))
        }
        #expect(error?.code == .invalidConfiguration)
    }

    /// The most the kernel may buffer on one loopback connection: receive plus send buffer maxima.
    static func socketBufferAllowance() -> Int {
        func maximum(_ path: String) -> Int? {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
            return text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).last.flatMap { Int($0) }
        }
        if let receive = maximum("/proc/sys/net/ipv4/tcp_rmem"), let send = maximum("/proc/sys/net/ipv4/tcp_wmem") {
            return receive + send
        }
        return 16 << 20
    }
}
