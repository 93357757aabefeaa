import Foundation
import MesosCore
import MesosInMemoryTransport
import MesosTestKit
import Testing

/// `MesosInMemoryTransport` meets the transport port's contract by itself, whatever the handler does.
@Suite struct InMemoryTransportTests {
    private static let url = URL(string: "http://in-memory:5050/api/v1/scheduler")!

    private struct HandlerFailure: Error {}

    /// A body that yields `first` chunks at once, then one chunk every `period`, forever (or never, if `nil`).
    private static func body(first: Int, period: Duration?) -> MesosResponseBody {
        MesosResponseBody(AsyncThrowingStream<ArraySlice<UInt8>, any Error> { continuation in
            let task = Task {
                for _ in 0..<first { continuation.yield([1, 2, 3]) }
                guard let period else {
                    try? await Task.sleep(for: .seconds(3600))
                    return
                }
                while !Task.isCancelled {
                    try? await Task.sleep(for: period)
                    continuation.yield([4])
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        })
    }

    @Test func passesRequestsAndAnswersThrough() async throws {
        let transport: MesosInMemoryTransport = .inMemory { request in
            #expect(request.headers["X-Test"] == "1")
            #expect(request.body == [9])
            return (MesosHTTPResponse(status: 202, headers: ["A": "b"]), MesosResponseBody(bytes: [1, 2]))
        }
        let (head, body) = try await transport.send(MesosHTTPRequest(url: Self.url, headers: ["X-Test": "1"], body: [9]))
        #expect(head == MesosHTTPResponse(status: 202, headers: ["A": "b"]))
        #expect(try await body.collect(upTo: 10) == [1, 2])
    }

    /// A body the test feeds chunk by chunk.
    private static func fedBody() -> (MesosResponseBody, AsyncStream<ArraySlice<UInt8>>.Continuation) {
        let (stream, feed) = AsyncStream<ArraySlice<UInt8>>.makeStream()
        return (MesosResponseBody(stream), feed)
    }

    /// Reads `body` on a task, reporting each chunk on `received`; the task's value is the chunk count and the
    /// error that ended the body, if any.
    private static func read(
        _ body: MesosResponseBody
    ) -> (Task<(Int, MesosError?), Never>, AsyncStream<ArraySlice<UInt8>>) {
        let (received, report) = AsyncStream<ArraySlice<UInt8>>.makeStream()
        let reader = Task { () -> (Int, MesosError?) in
            var count = 0
            defer { report.finish() }
            do {
                for try await chunk in body {
                    count += 1
                    report.yield(chunk)
                }
                return (count, nil)
            } catch {
                return (count, error as? MesosError)
            }
        }
        return (reader, received)
    }

    @Test(.timeLimit(.minutes(1))) func wholeCallTimeoutCoversTheHead() async throws {
        let clock = ManualClock()
        let transport = MesosInMemoryTransport(clock: clock) { _ in
            try await Task.sleep(for: .seconds(3600))
            return (MesosHTTPResponse(status: 200), .empty)
        }
        let call = Task { try await transport.send(MesosHTTPRequest(url: Self.url, timeout: .seconds(5))) }
        await clock.waitForSleepers(1)
        #expect(clock.pendingDeadlines == [.seconds(5)])
        clock.advance(by: .seconds(5))
        let error = await #expect(throws: MesosError.self) { _ = try await call.value }
        #expect(error?.code == .timeout)
    }

    @Test(.timeLimit(.minutes(1))) func wholeCallTimeoutCoversTheBody() async throws {
        let clock = ManualClock()
        let (upstream, feed) = Self.fedBody()
        let transport = MesosInMemoryTransport(clock: clock) { _ in (MesosHTTPResponse(status: 200), upstream) }
        let (_, body) = try await transport.send(
            MesosHTTPRequest(url: Self.url, timeout: .seconds(6), idleTimeout: .seconds(30))
        )
        let (reader, received) = Self.read(body)
        var chunks = received.makeAsyncIterator()
        // Chunks keep coming (well within the idle timeout), but the whole exchange may take 6 s only.
        for _ in 0..<3 {
            await clock.waitForSleepers(1)
            #expect(clock.pendingDeadlines == [.seconds(6)], "the earlier of the deadline and the idle limit")
            clock.advance(by: .seconds(1))
            feed.yield([4])
            #expect(await chunks.next() == [4])
        }
        await clock.waitForSleepers(1)
        clock.advance(by: .seconds(3))
        let (count, error) = await reader.value
        #expect(count == 3)
        #expect(error?.code == .timeout)
        feed.finish()
    }

    @Test(.timeLimit(.minutes(1))) func idleTimeoutFiresOnSilence() async throws {
        let clock = ManualClock()
        let transport = MesosInMemoryTransport(clock: clock) { _ in
            (MesosHTTPResponse(status: 200), Self.body(first: 2, period: nil))
        }
        let (_, body) = try await transport.send(MesosHTTPRequest(url: Self.url, idleTimeout: .milliseconds(150)))
        let (reader, received) = Self.read(body)
        var chunks = received.makeAsyncIterator()
        #expect(await chunks.next() == [1, 2, 3])
        #expect(await chunks.next() == [1, 2, 3])
        // Now the reader waits for a third chunk that never comes.
        await clock.waitForSleepers(1)
        #expect(clock.pendingDeadlines == [.milliseconds(150)])
        clock.advance(by: .milliseconds(149))
        #expect(clock.sleeperCount == 1, "not yet: the idle timeout has not passed")
        clock.advance(by: .milliseconds(1))
        let (count, error) = await reader.value
        #expect(count == 2)
        #expect(error?.code == .timeout)
    }

    @Test(.timeLimit(.minutes(1))) func steadyChunksDoNotTripTheIdleTimeout() async throws {
        let clock = ManualClock()
        let (upstream, feed) = Self.fedBody()
        let transport = MesosInMemoryTransport(clock: clock) { _ in (MesosHTTPResponse(status: 200), upstream) }
        let (_, body) = try await transport.send(MesosHTTPRequest(url: Self.url, idleTimeout: .seconds(2)))
        let (reader, received) = Self.read(body)
        var chunks = received.makeAsyncIterator()
        // 15 chunks 1.5 s apart: 22.5 s in all, far longer than the idle timeout; each chunk restarts it.
        for index in 0..<15 {
            await clock.waitForSleepers(1)
            let now = clock.now.offset
            #expect(clock.pendingDeadlines == [now + .seconds(2)], "chunk \(index): the idle timer restarted")
            clock.advance(by: .milliseconds(1500))
            feed.yield([4])
            #expect(await chunks.next() == [4])
        }
        // Then silence: the idle timeout fires 2 s after the last chunk.
        await clock.waitForSleepers(1)
        clock.advance(by: .seconds(2))
        let (count, error) = await reader.value
        #expect(count == 15)
        #expect(error?.code == .timeout)
        #expect(clock.now.offset == .milliseconds(24_500))
        feed.finish()
    }

    @Test func errorsAreMappedToMesosErrors() async throws {
        let failing = MesosInMemoryTransport { _ in throw HandlerFailure() }
        let failure = await #expect(throws: MesosError.self) { _ = try await failing.send(MesosHTTPRequest(url: Self.url)) }
        #expect(failure?.code == .transportFailure)
        #expect(failure?.cause is HandlerFailure)

        let typed = MesosInMemoryTransport { _ in throw MesosError(code: .unavailable) }
        let passed = await #expect(throws: MesosError.self) { _ = try await typed.send(MesosHTTPRequest(url: Self.url)) }
        #expect(passed?.code == .unavailable)

        let brokenBody = MesosInMemoryTransport { _ in
            (MesosHTTPResponse(status: 200), MesosResponseBody(AsyncThrowingStream<ArraySlice<UInt8>, any Error> {
                $0.yield([1])
                $0.finish(throwing: HandlerFailure())
            }))
        }
        let (_, body) = try await brokenBody.send(MesosHTTPRequest(url: Self.url))
        let bodyError = await #expect(throws: MesosError.self) { _ = try await body.collect(upTo: 100) }
        #expect(bodyError?.code == .transportFailure)
    }

    @Test func cancellationIsReportedAsCancelled() async throws {
        let slowHead = MesosInMemoryTransport { _ in
            try await Task.sleep(for: .seconds(30))
            return (MesosHTTPResponse(status: 200), .empty)
        }
        let head = Task { try await slowHead.send(MesosHTTPRequest(url: Self.url, timeout: .seconds(30))) }
        try await Task.sleep(for: .milliseconds(50))
        head.cancel()
        let headError = await #expect(throws: MesosError.self) { _ = try await head.value }
        #expect(headError?.code == .cancelled)

        let silent = MesosInMemoryTransport { _ in (MesosHTTPResponse(status: 200), Self.body(first: 0, period: nil)) }
        let (_, body) = try await silent.send(MesosHTTPRequest(url: Self.url))
        let reader = Task { try await body.collect(upTo: 100) }
        try await Task.sleep(for: .milliseconds(50))
        reader.cancel()
        let bodyError = await #expect(throws: MesosError.self) { _ = try await reader.value }
        #expect(bodyError?.code == .cancelled)

        let alreadyCancelled = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await silent.send(MesosHTTPRequest(url: Self.url))
        }
        let early = await #expect(throws: MesosError.self) { _ = try await alreadyCancelled.value }
        #expect(early?.code == .cancelled)
    }
}
