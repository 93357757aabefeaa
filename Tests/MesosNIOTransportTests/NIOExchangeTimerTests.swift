import Foundation
import MesosCore
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import MesosNIOTransport

/// The exchange's timers on NIO's embedded event loop, whose clock only moves when the test advances it.
@Suite struct NIOExchangeTimerTests {
    /// An exchange on an embedded channel with NIO's client codecs, its request already written.
    struct Harness {
        let loop: EmbeddedEventLoop
        let channel: EmbeddedChannel
        let exchange: NIOExchange
        let pool: NIOConnectionPool
        let head: EventLoopFuture<MesosHTTPResponse>
        /// The head as handed over, with the whole body when the answer had ended by then.
        let answer: EventLoopFuture<NIOHead>

        init(idleTimeout: Duration?, callTimeout: TimeAmount? = nil, maximumBuffered: Int = 1 << 20) throws {
            let loop = EmbeddedEventLoop()
            self.loop = loop
            self.channel = EmbeddedChannel(loop: loop)
            try self.channel.pipeline.syncOperations.addHTTPClientHandlers()
            try self.channel.pipeline.syncOperations.addHandler(NIOExchangeHandler())
            try self.channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 5050)).wait()
            self.pool = NIOConnectionPool(capacityPerHost: 4)
            let request = try NIORequest(
                MesosHTTPRequest(method: "GET", url: URL(string: "http://127.0.0.1:5050/stream")!), context: "GET /stream"
            )
            self.exchange = NIOExchange(
                channel: self.channel, call: NIOCallContext(method: "GET", url: URL(string: "http://127.0.0.1:5050/stream")!),
                destination: request.destination, pool: self.pool,
                statistics: NIOTransportStatistics(), maximumBuffered: maximumBuffered, idleTimeout: idleTimeout,
                reused: false
            )
            let answer = loop.makePromise(of: NIOHead.self)
            self.answer = answer.futureResult
            self.head = answer.futureResult.map(\.response)
            self.exchange.startOnLoop(request: request, deadline: callTimeout.map { loop.now + $0 }) { result in
                answer.completeWith(result.mapError { $0 as any Error })
            }
        }

        func receive(_ text: String) throws {
            try self.channel.writeInbound(ByteBuffer(string: text))
        }

        /// What a future holds now: nothing yet, a value, or an error.
        static func peek<T>(_ future: EventLoopFuture<T>) -> Result<T, any Error>? {
            // The embedded loop runs callbacks inline, on this thread; the lock only satisfies the checker.
            let result = LockedValue<Result<T, any Error>?>(nil)
            future.whenComplete { outcome in result.withLock { $0 = outcome } }
            return result.withLock { $0 }
        }
    }

    static func chunk(_ text: String) -> String {
        String(text.utf8.count, radix: 16) + "\r\n" + text + "\r\n"
    }

    static func code(_ result: Result<ArraySlice<UInt8>?, any Error>?) -> MesosError.Code? {
        guard case .failure(let error)? = result else { return nil }
        return (error as? MesosError)?.code
    }

    @Test func theIdleTimeoutFiresAfterSilenceOnly() throws {
        let harness = try Harness(idleTimeout: .seconds(1))
        // The request went out.
        let sent = try #require(try harness.channel.readOutbound(as: IOData.self))
        guard case .byteBuffer(let head) = sent else {
            Issue.record("the request head was not written as bytes")
            return
        }
        #expect(String(buffer: head).hasPrefix("GET /stream HTTP/1.1\r\n"))

        harness.loop.advanceTime(by: .milliseconds(999))
        #expect(Harness.peek(harness.head) == nil)
        try harness.receive("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        let response = try #require(try Harness.peek(harness.head)?.get())
        #expect(response.status == 200)

        // Bytes every 900 ms keep a 1 s idle timeout quiet.
        for index in 0..<5 {
            let next = harness.exchange.nextOnLoop()
            harness.loop.advanceTime(by: .milliseconds(900))
            #expect(Harness.peek(next) == nil)
            try harness.receive(Self.chunk("tick\(index)"))
            #expect(try Harness.peek(next)?.get() == Array("tick\(index)".utf8)[...])
        }

        // Then silence: 999 ms pass quietly, the next millisecond fails the body and closes the connection.
        let next = harness.exchange.nextOnLoop()
        harness.loop.advanceTime(by: .milliseconds(999))
        #expect(Harness.peek(next) == nil)
        harness.loop.advanceTime(by: .milliseconds(1))
        #expect(Self.code(Harness.peek(next)) == .timeout)
        #expect(!harness.channel.isActive)
        #expect(harness.pool.idleCount == 0)
    }

    @Test func waitingForASlowConsumerIsNotSilence() throws {
        // A 4-byte buffer: the first chunk fills it, and the transport stops asking the network for more.
        let harness = try Harness(idleTimeout: .seconds(1), maximumBuffered: 4)
        try harness.receive("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + Self.chunk("0123456789"))
        #expect(try Harness.peek(harness.head)?.get().status == 200)
        harness.loop.advanceTime(by: .seconds(30))
        #expect(harness.channel.isActive)
        #expect(try Harness.peek(harness.exchange.nextOnLoop())?.get() == Array("0123456789".utf8)[...])
        // Now the transport reads again and the consumer waits: silence counts.
        let next = harness.exchange.nextOnLoop()
        harness.loop.advanceTime(by: .seconds(1))
        #expect(Self.code(Harness.peek(next)) == .timeout)
    }

    @Test func theWholeCallTimeoutEndsAStreamThatKeepsTalking() throws {
        let harness = try Harness(idleTimeout: nil, callTimeout: .seconds(2))
        try harness.receive("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        #expect(try Harness.peek(harness.head)?.get().status == 200)
        var next = harness.exchange.nextOnLoop()
        for _ in 0..<19 {
            harness.loop.advanceTime(by: .milliseconds(100))
            try harness.receive(Self.chunk("tick"))
            #expect(try Harness.peek(next)?.get() == Array("tick".utf8)[...])
            next = harness.exchange.nextOnLoop()
        }
        harness.loop.advanceTime(by: .milliseconds(100))
        #expect(Self.code(Harness.peek(next)) == .timeout)
        #expect(!harness.channel.isActive)
    }

    @Test func aCleanEndPoolsTheConnectionAndDisarmsTheTimers() throws {
        let harness = try Harness(idleTimeout: .seconds(1), callTimeout: .seconds(2))
        try harness.receive("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
        #expect(try Harness.peek(harness.head)?.get().status == 200)
        #expect(harness.pool.idleCount == 1)
        harness.loop.advanceTime(by: .seconds(10))
        #expect(harness.channel.isActive)
        // The whole answer came in one read: it was handed over with the head; the exchange holds nothing more.
        #expect(try Harness.peek(harness.answer)?.get().completeBody == Array("hello".utf8))
        let end = Harness.peek(harness.exchange.nextOnLoop())
        guard case .success(nil)? = end else {
            Issue.record("expected the end of the body, got \(String(describing: end))")
            return
        }
    }

    @Test func aServerAskingToCloseIsNotPooled() throws {
        let harness = try Harness(idleTimeout: nil)
        try harness.receive("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        #expect(try Harness.peek(harness.head)?.get().status == 200)
        #expect(harness.pool.idleCount == 0)
        #expect(!harness.channel.isActive)
        #expect(try Harness.peek(harness.answer)?.get().completeBody == Array("ok".utf8))
    }

    @Test func aBodyCutShortIsATransportFailure() throws {
        let harness = try Harness(idleTimeout: nil)
        try harness.receive("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this")
        #expect(try Harness.peek(harness.head)?.get().status == 200)
        #expect(try Harness.peek(harness.exchange.nextOnLoop())?.get() == Array("only this".utf8)[...])
        let next = harness.exchange.nextOnLoop()
        harness.channel.pipeline.fireChannelInactive()
        #expect(Self.code(Harness.peek(next)) == .transportFailure)
    }
}
