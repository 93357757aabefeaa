import Foundation
import MesosCore
import MesosTestKit
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import MesosNIOTransport

/// The per-call path: a whole answer handed over whole, the connection pooled before the caller resumes, idle
/// connections, header names and URL parsing.
@Suite struct NIOCallPathTests {
    /// What `startOnLoop` handed over, and how many idle connections the pool held at that moment.
    final class Outcome: @unchecked Sendable {
        // Written and read on the embedded loop's thread (the test's own) only.
        var head: Result<NIOHead, MesosError>?
        var idleWhenHanded = -1
    }

    /// Counts the reads asked of the channel.
    final class ReadCounter: ChannelOutboundHandler, @unchecked Sendable {
        typealias OutboundIn = Any
        // Touched on the embedded loop's thread (the test's own) only.
        var reads = 0

        func read(context: ChannelHandlerContext) {
            self.reads += 1
            context.read()
        }
    }

    /// An exchange on an embedded channel with NIO's client codecs, its request written.
    static func start(
        pool: NIOConnectionPool, maximumBuffered: Int = 1 << 20, reads: ReadCounter? = nil
    ) throws -> (EmbeddedChannel, NIOExchange, Outcome) {
        let loop = EmbeddedEventLoop()
        let channel = EmbeddedChannel(loop: loop)
        if let reads {
            try channel.pipeline.syncOperations.addHandler(reads)
        }
        try channel.pipeline.syncOperations.addHTTPClientHandlers()
        try channel.pipeline.syncOperations.addHandler(NIOExchangeHandler())
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 5050)).wait()
        let url = URL(string: "http://127.0.0.1:5050/api/v1/scheduler")!
        let request = try NIORequest(MesosHTTPRequest(method: "POST", url: url, body: [1, 2, 3]), context: "POST")
        let exchange = NIOExchange(
            channel: channel, call: NIOCallContext(method: "POST", url: url), destination: request.destination,
            pool: pool, statistics: NIOTransportStatistics(), maximumBuffered: maximumBuffered, idleTimeout: nil,
            reused: false
        )
        let outcome = Outcome()
        exchange.startOnLoop(request: request, deadline: nil) { result in
            outcome.head = result
            outcome.idleWhenHanded = pool.idleCount
        }
        return (channel, exchange, outcome)
    }

    @Test func anAnswerThatArrivesInOneReadIsHandedOverWholeWithItsConnectionPooled() throws {
        let pool = NIOConnectionPool(capacityPerHost: 4)
        let (channel, _, outcome) = try Self.start(pool: pool)
        #expect(outcome.head == nil)
        try channel.writeInbound(ByteBuffer(string: "HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\nok"))
        let head = try #require(try outcome.head?.get())
        #expect(head.response.status == 202)
        #expect(head.completeBody == Array("ok".utf8))
        // The connection was back in the pool before the caller heard of the answer.
        #expect(outcome.idleWhenHanded == 1)
    }

    @Test func aHeadWhoseBodyIsStillComingIsHandedOverAtTheEndOfItsRead() throws {
        let pool = NIOConnectionPool(capacityPerHost: 4)
        let (channel, exchange, outcome) = try Self.start(pool: pool)
        try channel.writeInbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n"))
        let head = try #require(try outcome.head?.get())
        #expect(head.response.status == 200)
        #expect(head.completeBody == nil)
        #expect(pool.idleCount == 0)
        #expect(try exchange.readyOnLoop()?.get() == Array("ab".utf8)[...])
        try channel.writeInbound(ByteBuffer(string: "0\r\n\r\n"))
        #expect(try exchange.readyOnLoop()?.get() == .some(nil))
        #expect(pool.idleCount == 1)
    }

    @Test func theSmallChunksOfOneReadReachAWaitingConsumerAsOneChunk() throws {
        let pool = NIOConnectionPool(capacityPerHost: 4)
        let (channel, exchange, outcome) = try Self.start(pool: pool)
        try channel.writeInbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"))
        #expect(try outcome.head?.get().response.status == 200)
        let next = exchange.nextOnLoop()
        // Three HTTP chunks (three records of a stream) in one read: nothing is handed over before the read ends.
        channel.pipeline.fireChannelRead(ByteBuffer(string: "3\r\nabc\r\n3\r\ndef\r\n3\r\nghi\r\n"))
        // EmbeddedChannel runs everything on the calling thread: the callback has run when fireChannelReadComplete returns.
        let received = LockedValue<ArraySlice<UInt8>??>(nil)
        next.whenSuccess { chunk in received.withLock { $0 = chunk } }
        #expect(received.withLock { $0 } == nil)
        channel.pipeline.fireChannelReadComplete()
        #expect(received.withLock { $0 } == .some(.some(Array("abcdefghi".utf8)[...])))
        #expect(exchange.readyOnLoop() == nil)
    }

    @Test("a consumer off the loop takes published chunks without the loop; on a full buffer the loop stops reading until the consumer brings it to half")
    func chunksAreTakenOffTheLoopAndReadingResumesAtHalf() throws {
        let pool = NIOConnectionPool(capacityPerHost: 4)
        let reads = ReadCounter()
        // A buffer limit of 8 bytes: one read of a few records fills it.
        let (channel, exchange, outcome) = try Self.start(pool: pool, maximumBuffered: 8, reads: reads)
        #expect(reads.reads == 1)
        try channel.writeInbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"))
        #expect(try outcome.head?.get().response.status == 200)
        let afterHead = reads.reads
        // Nothing is taken before the end of the read that brought it.
        channel.pipeline.fireChannelRead(ByteBuffer(string: "5\r\nabcde\r\n5\r\nfghij\r\n"))
        #expect(exchange.takeReadyChunk() == nil)
        channel.pipeline.fireChannelReadComplete()
        // 10 bytes buffered, over the limit: no further read was asked for.
        #expect(reads.reads == afterHead)
        #expect(exchange.takeReadyChunk() == Array("abcdefghij".utf8)[...])
        // Taking it brought the buffer to 0 (at most half the limit): the loop is asked to read on, through a task.
        (channel.eventLoop as! EmbeddedEventLoop).run()
        #expect(reads.reads == afterHead + 1)
        #expect(exchange.takeReadyChunk() == nil)
        // Two reads while nothing is taken: order is kept across reads, and the second read is not asked for
        // past the limit.
        channel.pipeline.fireChannelRead(ByteBuffer(string: "3\r\nklm\r\n"))
        channel.pipeline.fireChannelReadComplete()
        channel.pipeline.fireChannelRead(ByteBuffer(string: "6\r\nnopqrs\r\n0\r\n\r\n"))
        channel.pipeline.fireChannelReadComplete()
        #expect(exchange.takeReadyChunk() == Array("klm".utf8)[...])
        #expect(exchange.takeReadyChunk() == Array("nopqrs".utf8)[...])
        #expect(exchange.takeReadyChunk() == nil)
        // The end comes through the loop, after every chunk.
        #expect(try exchange.readyOnLoop()?.get() == .some(nil))
    }

    @Test func aWaitingConsumerGetsWhatArrivedBeforeAFailureAndThenTheFailure() throws {
        let pool = NIOConnectionPool(capacityPerHost: 4)
        let (channel, exchange, outcome) = try Self.start(pool: pool)
        try channel.writeInbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"))
        #expect(try outcome.head?.get().response.status == 200)
        let next = exchange.nextOnLoop()
        channel.pipeline.fireChannelRead(ByteBuffer(string: "3\r\nabc\r\n"))
        exchange.connectionClosedOnLoop()
        #expect(try next.wait() == Array("abc".utf8)[...])
        #expect(throws: MesosError.self) { try exchange.readyOnLoop()?.get() }
    }

    @Test func aFailureAfterTheHeadInTheSameReadEndsTheBodyNotTheHead() throws {
        let pool = NIOConnectionPool(capacityPerHost: 4)
        let (channel, exchange, outcome) = try Self.start(pool: pool)
        // The head and part of a body, then the connection closes before the rest.
        channel.pipeline.fireChannelRead(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"))
        exchange.connectionClosedOnLoop()
        let head = try #require(try outcome.head?.get())
        #expect(head.response.status == 200)
        #expect(head.completeBody == nil)
        #expect(try exchange.readyOnLoop()?.get() == Array("abc".utf8)[...])
        #expect(throws: MesosError.self) { try exchange.readyOnLoop()?.get() }
        #expect(pool.idleCount == 0)
    }

    @Test func bytesOnAnIdleConnectionCloseIt() throws {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHTTPClientHandlers()
        try channel.pipeline.syncOperations.addHandler(NIOExchangeHandler())
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 5050)).wait()
        #expect(channel.isActive)
        // The unexpected answer closes the channel; whatever writeInbound throws about that is not the point.
        _ = try? channel.writeInbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
        #expect(!channel.isActive)
    }

    @Test func theConnectionIsPooledBeforeTheCallerResumes() async throws {
        try await MesosNIOTransportTests.withServer { _, server, transport in
            for _ in 0..<5 {
                let (head, body) = try await transport.send(MesosNIOTransportTests.version(server))
                #expect(head.status == 200)
                // The body is not read yet: the whole answer came with the head, the connection is idle again.
                #expect(transport.core.pool.idleCount == 1)
                #expect(try await body.collect(upTo: 1 << 16).isEmpty == false)
            }
        }
    }

    @Test func headerNamesAreComparedWithoutCaseOrAllocation() {
        #expect(NIORequest.named("Content-Length", "content-length"))
        #expect(NIORequest.named("HOST", "host"))
        #expect(!NIORequest.named("Hostx", "host"))
        #expect(!NIORequest.named("Hosu", "host"))
        #expect(!NIORequest.named("", "host"))
    }

    @Test func requestsCarryTheURLsTargetAndHostAndSkipFramingHeaders() throws {
        let url = URL(string: "http://[::1]:5050/api/v1/scheduler?x=1")!
        let cache = NIOTargetCache()
        let call = NIOCallContext(method: "POST", url: url)
        let target = try cache.target(for: url, context: call)
        #expect(target.destination == NIODestination(tls: false, host: "::1", port: 5050))
        #expect(target.target == "/api/v1/scheduler?x=1")
        #expect(target.hostHeader == "[::1]:5050")
        let request = try NIORequest(
            MesosHTTPRequest(
                method: "POST", url: url, headers: ["content-LENGTH": "99", "Transfer-Encoding": "chunked", "Accept": "a/b"],
                body: [1, 2]),
            target: try cache.target(for: url, context: call), context: call)
        #expect(request.head.uri == "/api/v1/scheduler?x=1")
        #expect(request.head.headers["Host"] == ["[::1]:5050"])
        #expect(request.head.headers["Content-Length"] == ["2"])
        #expect(request.head.headers["Transfer-Encoding"].isEmpty)
        #expect(request.head.headers["Accept"] == ["a/b"])
        // Another URL is parsed anew, not served from the cache.
        let other = URL(string: "https://m2/api")!
        let second = try cache.target(for: other, context: NIOCallContext(method: "GET", url: other))
        #expect(second.destination == NIODestination(tls: true, host: "m2", port: 443))
        #expect(second.hostHeader == "m2")
    }
}
