import Foundation
import MesosCore
import MesosTestKit
import MesosURLSessionTransport
import Testing

extension TransportConformance {
/// Connection handling: closing on cancel and drop, keep-alive, concurrency, backpressure.
@Suite struct ConnectionConformanceTests {
    @Test(arguments: TransportKind.allCases)
    func cancellingTheReaderClosesTheConnection(kind: TransportKind) async throws {
        try await Endpoint.with(kind) { endpoint in
            let (subscribed, signal) = AsyncStream<Void>.makeStream()
            let reader = Task {
                var (_, _, events) = try await endpoint.subscribe()
                signal.yield()
                while try await events.next() != nil {}
            }
            var iterator = subscribed.makeAsyncIterator()
            await iterator.next()
            reader.cancel()
            let error = await #expect(throws: MesosError.self) { try await reader.value }
            #expect(error?.code == .cancelled)
            try await self.expectClosedByClient(endpoint)
        }
    }

    @Test(arguments: TransportKind.allCases)
    func droppingTheBodyClosesTheConnection(kind: TransportKind) async throws {
        try await Endpoint.with(kind) { endpoint in
            do {
                var (_, _, events) = try await endpoint.subscribe()
                #expect(try await events.next() == .heartbeat)
            }
            try await self.expectClosedByClient(endpoint)
        }
    }

    @Test(arguments: TransportKind.allCases)
    func droppingAnUnreadBodyClosesTheConnection(kind: TransportKind) async throws {
        try await Endpoint.with(kind) { endpoint in
            do {
                let (head, _) = try await endpoint.transport.send(
                    try endpoint.request(.subscribe(frameworkInfo: Endpoint.frameworkInfo()))
                )
                #expect(head.status == 200)
            }
            try await self.expectClosedByClient(endpoint)
        }
    }

    /// The subscription stream ended because the client went away, the master noticed, and the TCP connection
    /// that carried it is closed.
    private func expectClosedByClient(_ endpoint: Endpoint) async throws {
        let master = endpoint.master
        try await master.waitUntil { $0.responseStreams.first { $0.streamID != nil }?.state == .closedByClient }
        try await master.waitUntil { $0.subscribedFrameworkIDs.isEmpty }
        let subscribe = await master.receivedCalls.first { $0.type == .subscribe && $0.status == 200 }
        let connection = try #require(subscribe?.request.connectionID ?? (endpoint.server == nil ? 0 : nil))
        let deadline = ContinuousClock.now + .seconds(60)
        while !endpoint.connectionClosed(connection), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(endpoint.connectionClosed(connection), "connection \(connection) is still open")
    }

    @Test(arguments: TransportKind.networked)
    func sequentialCallsReuseConnections(kind: TransportKind) async throws {
        try await Endpoint.with(kind) { endpoint in
            // Keep the subscription open (dropping its body would unsubscribe the framework).
            let (head, frameworkID, events) = try await endpoint.subscribe()
            defer { withExtendedLifetime(events) {} }
            let streamID = try #require(head.headers["Mesos-Stream-Id"])
            for _ in 0..<30 {
                #expect(try await endpoint.call(.revive(frameworkID: frameworkID), streamID: streamID).status == 202)
            }
            for _ in 0..<10 {
                let (version, body) = try await endpoint.transport.send(
                    MesosHTTPRequest(method: "GET", url: endpoint.url("version"), timeout: .seconds(60))
                )
                #expect(version.status == 200)
                _ = try await body.collect(upTo: 1 << 16)
            }
            let revives = await endpoint.master.receivedCalls.filter { $0.type == .revive }.map(\.request)
            let versions = await endpoint.master.receivedRequests.filter { $0.path == "/version" }
            let connections = (revives + versions).compactMap(\.connectionID)
            #expect(connections.count == 40)
            #expect(Set(connections).count <= 2, "40 sequential calls used \(Set(connections).count) connections: \(connections)")
        }
    }

    @Test(arguments: TransportKind.allCases)
    func manyCallsInFlightAtOnce(kind: TransportKind) async throws {
        try await Endpoint.with(kind) { endpoint in
            // Keep the subscription open (dropping its body would unsubscribe the framework).
            let (head, frameworkID, events) = try await endpoint.subscribe()
            defer { withExtendedLifetime(events) {} }
            let streamID = try #require(head.headers["Mesos-Stream-Id"])
            // 32 calls at once, each with its own offer and the stream id.
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for index in 0..<32 {
                    group.addTask {
                        let offer = OfferID.with { $0.value = "offer-\(index)" }
                        return try await endpoint.call(.decline(offerIDs: [offer], frameworkID: frameworkID), streamID: streamID).status
                    }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(statuses == Array(repeating: 202, count: 32))
            // And really in flight together: this route answers "together" only once as many requests as the transport
            // may have open at once (all 32; URLSession's session allows 6 per host by default) wait in it at the same
            // time ("alone" after 50 s), whatever the machine's load.
            let together = kind == .urlSession ? MesosURLSessionTransport.Configuration().maximumConnectionsPerHost : 32
            let arrived = LockedValue(0)
            await endpoint.master.route("GET", "/barrier") { _ in
                arrived.withLock { $0 += 1 }
                let deadline = ContinuousClock.now + .seconds(50)
                while arrived.withLock({ $0 }) < together, ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(5))
                }
                return .text(200, arrived.withLock { $0 } >= together ? "together" : "alone")
            }
            let answers = try await withThrowingTaskGroup(of: String.self) { group in
                for _ in 0..<32 {
                    group.addTask {
                        let (_, body) = try await endpoint.transport.send(
                            MesosHTTPRequest(method: "GET", url: endpoint.url("barrier"), timeout: .seconds(60)))
                        return String(decoding: try await body.collect(upTo: 1 << 10), as: UTF8.self)
                    }
                }
                return try await group.reduce(into: [String]()) { $0.append($1) }
            }
            #expect(answers == Array(repeating: "together", count: 32))
            let offers = await endpoint.master.receivedCalls.compactMap { $0.call?.decline.offerIds.first?.value }
            #expect(Set(offers).count == 32)
        }
    }

    @Test(arguments: TransportKind.allCases)
    func aSlowConsumerKeepsMemoryBounded(kind: TransportKind) async throws {
        try await Endpoint.with(kind) { endpoint in
            let chunk = ArraySlice(repeating: UInt8(ascii: "m"), count: 64 << 10)
            let total = 200 << 20
            await endpoint.master.route("POST", "/firehose") { _ in
                .stream(headers: ["Content-Type": "application/octet-stream"]) { writer in
                    for _ in 0..<(total / chunk.count) { try await writer.write(chunk) }
                }
            }
            let memoryBefore = residentMemory()
            let (head, body) = try await endpoint.transport.send(MesosHTTPRequest(method: "POST", url: endpoint.url("firehose")))
            #expect(head.status == 200)
            var iterator = body.makeAsyncIterator()
            var read = 0
            var maximumAhead = 0
            // Read 16 MiB slowly, pausing now and then for long enough that an unbounded transport would race ahead.
            while read < 16 << 20, let data = try await iterator.next() {
                read += data.count
                if read % (4 << 20) < data.count {
                    try await Task.sleep(for: .milliseconds(400))
                    let written = try #require(endpoint.master.responseStreams.last).bytesWritten
                    maximumAhead = max(maximumAhead, written - read)
                }
            }
            let stream = try #require(endpoint.master.responseStreams.last)
            #expect(stream.path == "/firehose")
            #expect(stream.state == .open)
            // What may legitimately sit between the server and the reader: the kernel's socket buffers (which
            // autotune up to tcp_rmem/tcp_wmem maxima) plus 16 MiB for the transport and NIO.
            let allowance = socketBufferAllowance() + (16 << 20)
            #expect(stream.bytesWritten < read + allowance, "the server wrote \(stream.bytesWritten) bytes for \(read) read")
            #expect(maximumAhead < allowance, "the server got \(maximumAhead) bytes ahead of the reader")
            if let before = memoryBefore, let after = residentMemory() {
                #expect(after - before < 120 << 20, "resident memory grew by \(after - before) bytes")
            }
            _ = iterator
        }
    }
}
}
