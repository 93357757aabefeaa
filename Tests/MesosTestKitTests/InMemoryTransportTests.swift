import Foundation
import MesosCore
import MesosInMemoryTransport
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

    @Test func wholeCallTimeoutCoversTheHead() async throws {
        let transport = MesosInMemoryTransport { _ in
            try await Task.sleep(for: .seconds(30))
            return (MesosHTTPResponse(status: 200), .empty)
        }
        let start = ContinuousClock.now
        let error = await #expect(throws: MesosError.self) {
            _ = try await transport.send(MesosHTTPRequest(url: Self.url, timeout: .milliseconds(100)))
        }
        #expect(error?.code == .timeout)
        #expect(ContinuousClock.now - start < .seconds(10))
    }

    @Test func wholeCallTimeoutCoversTheBody() async throws {
        let transport = MesosInMemoryTransport { _ in
            (MesosHTTPResponse(status: 200), Self.body(first: 1, period: .milliseconds(20)))
        }
        let (_, body) = try await transport.send(
            MesosHTTPRequest(url: Self.url, timeout: .milliseconds(600), idleTimeout: .seconds(30))
        )
        var chunks = 0
        let start = ContinuousClock.now
        let error = await #expect(throws: MesosError.self) {
            for try await _ in body { chunks += 1 }
        }
        #expect(error?.code == .timeout)
        #expect(chunks >= 1)
        #expect(ContinuousClock.now - start < .seconds(10))
    }

    @Test func idleTimeoutFiresOnSilence() async throws {
        let transport = MesosInMemoryTransport { _ in
            (MesosHTTPResponse(status: 200), Self.body(first: 2, period: nil))
        }
        let (_, body) = try await transport.send(MesosHTTPRequest(url: Self.url, idleTimeout: .milliseconds(150)))
        var iterator = body.makeAsyncIterator()
        #expect(try await iterator.next() == [1, 2, 3])
        #expect(try await iterator.next() == [1, 2, 3])
        let start = ContinuousClock.now
        let error = await #expect(throws: MesosError.self) { _ = try await iterator.next() }
        #expect(error?.code == .timeout)
        #expect(ContinuousClock.now - start >= .milliseconds(140))
        // After a failure the body is over.
        #expect(try await iterator.next() == nil)
    }

    @Test func steadyChunksDoNotTripTheIdleTimeout() async throws {
        let transport = MesosInMemoryTransport { _ in
            (MesosHTTPResponse(status: 200), Self.body(first: 0, period: .milliseconds(200)))
        }
        // 15 chunks take about 3 s, longer than the idle timeout: each chunk must restart it.
        let (_, body) = try await transport.send(MesosHTTPRequest(url: Self.url, idleTimeout: .seconds(2)))
        var iterator = body.makeAsyncIterator()
        let start = ContinuousClock.now
        for _ in 0..<15 {
            #expect(try await iterator.next() == [4])
        }
        #expect(ContinuousClock.now - start > .seconds(2))
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
