import Foundation
import MesosCore
import MesosRecordIO
import MesosTestKit
import Testing

/// Injected faults, in both modes.
@Suite struct FaultInjectionTests {
    private static let subscribeCall = SchedulerCall.subscribe(frameworkInfo: Harness.frameworkInfo())

    @Test(arguments: Mode.allCases)
    func replacementAnswersAndRuleCounting(mode: Mode) async throws {
        try await Harness.with(mode) { harness in
            let master = harness.master
            await master.inject(.redirect(to: "m2.example:5050"), matching: .subscribe)
            await master.inject(.noLeader, matching: .subscribe, times: 2)
            await master.inject(.respond(.text(429, "slow down", headers: ["Retry-After": "1"])), matching: .subscribe)

            let redirected = try await harness.exchange(try harness.request(Self.subscribeCall))
            #expect(redirected.status == 307)
            #expect(redirected.headers["Location"] == "//m2.example:5050/api/v1/scheduler")
            for _ in 0..<2 {
                let unavailable = try await harness.exchange(try harness.request(Self.subscribeCall))
                #expect(unavailable.status == 503)
                #expect(unavailable.text == "No leader elected")
            }
            let limited = try await harness.exchange(try harness.request(Self.subscribeCall))
            #expect(limited.status == 429)
            #expect(limited.text == "slow down")
            #expect(limited.headers["Retry-After"] == "1")

            // Rules are used up: the next SUBSCRIBE works.
            var session = try await harness.subscribe()
            #expect(try await session.events.next() == .heartbeat)
            #expect(await master.receivedCalls.map(\.status) == [307, 503, 503, 429, 200])

            // A matcher on the call type leaves other calls alone; `times: nil` lasts until cleared.
            await master.inject(.noLeader, matching: .call(.decline), times: nil)
            let offer = OfferID.with { $0.value = "o" }
            for _ in 0..<3 {
                #expect(try await harness.call(.decline(offerIDs: [offer], frameworkID: session.frameworkID), streamID: session.streamID).status == 503)
            }
            #expect(try await harness.call(.revive(frameworkID: session.frameworkID), streamID: session.streamID).status == 202)
            await master.clearFaults()
            #expect(try await harness.call(.decline(offerIDs: [offer], frameworkID: session.frameworkID), streamID: session.streamID).status == 202)
        }
    }

    @Test(arguments: Mode.allCases)
    func closeConnectionBeforeResponding(mode: Mode) async throws {
        try await Harness.with(mode) { harness in
            await harness.master.inject(.closeConnection, matching: .path("/version"))
            let error = await #expect(throws: MesosError.self) {
                _ = try await harness.transport.send(MesosHTTPRequest(method: "GET", url: harness.baseURL.appending(path: "version")))
            }
            #expect(error?.code == .transportFailure)
            let version = try await harness.exchange(MesosHTTPRequest(method: "GET", url: harness.baseURL.appending(path: "version")))
            #expect(version.status == 200)
        }
    }

    @Test(arguments: Mode.allCases)
    func neverAnswerAndDelayedHead(mode: Mode) async throws {
        try await Harness.with(mode) { harness in
            let url = harness.baseURL.appending(path: "version")
            await harness.master.inject(.neverAnswer)
            let pending = Task {
                try await harness.transport.send(MesosHTTPRequest(method: "GET", url: url))
            }
            // Readiness, not a pause: the master has the request and is holding it. (Wide: a full parallel run
            // once took more than 10 s to get this connection's request to the server.)
            try await harness.master.waitUntil(timeout: .seconds(60)) { $0.receivedRequests.count >= 1 }
            pending.cancel()
            if mode == .inMemory {
                let error = await #expect(throws: MesosError.self) { _ = try await pending.value }
                #expect(error?.code == .cancelled)
            }

            await harness.master.inject(.delayHead(.milliseconds(250)))
            let start = ContinuousClock.now
            let (head, _) = try await harness.transport.send(MesosHTTPRequest(method: "GET", url: url))
            #expect(head.status == 200)
            #expect(ContinuousClock.now - start >= .milliseconds(240))
        }
    }

    @Test func neverAnswerHitsTheInMemoryTimeout() async throws {
        try await Harness.with(.inMemory) { harness in
            await harness.master.inject(.neverAnswer, matching: .subscribe)
            let start = ContinuousClock.now
            let error = await #expect(throws: MesosError.self) {
                _ = try await harness.transport.send(try harness.request(Self.subscribeCall, timeout: .milliseconds(200)))
            }
            #expect(error?.code == .timeout)
            // Wide on purpose (a loaded machine): the point is that a request that is never answered ends at all.
            // The in-memory timeout itself is checked on a manual clock in InMemoryTransportTests.
            #expect(ContinuousClock.now - start < .seconds(60))
        }
    }

    @Test func rechunkingIsVisibleInMemory() async throws {
        try await Harness.with(.inMemory) { harness in
            func chunkSizes(_ fault: FakeMasterFault) async throws -> [Int] {
                await harness.master.inject(fault, matching: .subscribe)
                let (_, body) = try await harness.transport.send(try harness.request(Self.subscribeCall))
                var sizes: [Int] = []
                var total = 0
                for try await chunk in body {
                    sizes.append(chunk.count)
                    total += chunk.count
                    if total > 200 { break }
                }
                return sizes
            }
            let single = try await chunkSizes(.rechunk(.fixed(1)))
            #expect(single.allSatisfy { $0 == 1 })
            let random = try await chunkSizes(.rechunk(.random(sizes: 3...9, seed: 42)))
            #expect(random.allSatisfy { (3...9).contains($0) })
            #expect(Set(random).count > 1)
            let again = try await chunkSizes(.rechunk(.random(sizes: 3...9, seed: 42)))
            #expect(Array(again.prefix(10)) == Array(random.prefix(10)))

            // Coalesced: SUBSCRIBED and the first HEARTBEAT are queued together, so they share one chunk.
            await harness.master.inject(.rechunk(.coalesced), matching: .subscribe)
            let (_, body) = try await harness.transport.send(try harness.request(Self.subscribeCall))
            var iterator = body.makeAsyncIterator()
            let first = try #require(try await iterator.next())
            var records: [ArraySlice<UInt8>] = []
            for try await record in OneChunk(chunk: first).recordIORecords() {
                records.append(record)
            }
            #expect(records.count == 2)
        }
    }

    @Test(arguments: Mode.allCases)
    func reshapedStreamsStillDecode(mode: Mode) async throws {
        try await Harness.with(mode) { harness in
            for fault in [FakeMasterFault.rechunk(.fixed(1)), .rechunk(.random(sizes: 1...40, seed: 7)), .rechunk(.coalesced)] {
                await harness.master.inject(fault, matching: .subscribe)
                var session = try await harness.subscribe()
                for index in 0..<20 {
                    try await harness.master.send(.rescind(OfferID.with { $0.value = "offer-\(index)" }), to: session.frameworkID)
                }
                for index in 0..<20 {
                    #expect(try await session.nextNonHeartbeat() == .rescind(OfferID.with { $0.value = "offer-\(index)" }))
                }
            }
        }
    }

    @Test(arguments: Mode.allCases)
    func slowStreamPacesWrites(mode: Mode) async throws {
        try await Harness.with(mode) { harness in
            await harness.master.inject(.slowStream(delay: .milliseconds(5), bytesPerWrite: 16), matching: .subscribe)
            let start = ContinuousClock.now
            let session = try await harness.subscribe()
            let elapsed = ContinuousClock.now - start
            let stream = try #require(harness.master.responseStreams.last)
            #expect(stream.writes >= stream.bytesWritten / 16)
            #expect(stream.writes >= 10)
            #expect(elapsed >= .milliseconds(5) * (stream.writes - 1) * 3 / 4)
            _ = session
        }
    }

    @Test(arguments: Mode.allCases)
    func cutMidRecordTruncatesTheStream(mode: Mode) async throws {
        try await Harness.with(mode) { harness in
            await harness.master.inject(.cutMidRecord(afterEvents: 1), matching: .subscribe)
            var session = try await harness.subscribe()
            let error = await #expect(throws: MesosError.self) {
                _ = try await session.events.next()
            }
            #expect(error?.code == .transportFailure || error?.code == .streamTruncated)
            try await harness.master.waitUntil { $0.responseStreams.last?.state == .cut }
            try await harness.master.waitUntil { $0.subscribedFrameworkIDs.isEmpty }
        }
    }

    @Test(arguments: Mode.allCases)
    func garbageIsAMalformedStream(mode: Mode) async throws {
        try await Harness.with(mode) { harness in
            await harness.master.inject(.garbage(afterEvents: 2), matching: .subscribe)
            var session = try await harness.subscribe()
            #expect(try await session.events.next() == .heartbeat)
            let error = await #expect(throws: MesosError.self) {
                _ = try await session.events.next()
            }
            #expect(error?.code == .malformedStream)
        }
    }

    @Test(arguments: Mode.allCases)
    func goSilentKeepsTheConnectionOpen(mode: Mode) async throws {
        try await Harness.with(mode) { harness in
            await harness.master.inject(.goSilent(afterEvents: 1), matching: .subscribe)
            let (head, body) = try await harness.transport.send(try harness.request(Self.subscribeCall))
            #expect(head.status == 200)
            let (stream, continuation) = AsyncStream<Int>.makeStream()
            let reader = Task {
                var iterator = body.makeAsyncIterator()
                var total = 0
                while let chunk = try await iterator.next() {
                    total += chunk.count
                    continuation.yield(total)
                }
                continuation.finish()
            }
            var sizes = stream.makeAsyncIterator()
            let afterSubscribed = try #require(await sizes.next())
            // Readiness, not a pause: the producer has written SUBSCRIBED and gone silent for good, while the
            // master's heartbeat timer keeps running (every 50 ms) behind it.
            try await harness.master.waitUntil { $0.responseStreams.last?.isSilenced == true }
            let stats = try #require(harness.master.responseStreams.last)
            #expect(stats.bytesWritten == afterSubscribed)
            #expect(stats.state == .open)
            #expect(await harness.master.subscribedFrameworkIDs.count == 1)
            reader.cancel()
            try await harness.master.waitUntil { $0.responseStreams.last?.state == .closedByClient }
        }
    }

    @Test func redirectChainAcrossThreeServers() async throws {
        let masters = (0..<3).map { _ in FakeMaster(configuration: .init(heartbeatInterval: .milliseconds(50))) }
        var servers: [FakeMasterServer] = []
        for master in masters {
            servers.append(try await FakeMasterServer.start(master: master))
        }
        do {
            try await self.followChain(masters: masters, servers: servers)
        } catch {
            for server in servers { try? await server.shutdown() }
            throw error
        }
        for server in servers { try await server.shutdown() }
    }

    private func followChain(masters: [FakeMaster], servers: [FakeMasterServer]) async throws {
        await masters[0].inject(.redirect(to: servers[1].hostAndPort), matching: .subscribe)
        await masters[1].setLeadership(.follower(leader: servers[2].hostAndPort))

        var url = servers[0].url.appending(path: "api/v1/scheduler")
        var hops: [Int] = []
        let transport = RawHTTPTransport()
        let body = try Harness.json.encode(call: Self.subscribeCall)
        while true {
            let request = MesosHTTPRequest(url: url, headers: ["Content-Type": "application/json", "Accept": "application/json"], body: body)
            let (head, response) = try await transport.send(request)
            hops.append(head.status)
            guard head.status == 307, let location = head.headers["Location"] else {
                var events = response.schedulerEvents(codec: Harness.json).makeAsyncIterator()
                guard case .subscribed? = try await events.next() else {
                    Issue.record("no SUBSCRIBED at the end of the chain")
                    return
                }
                break
            }
            #expect(location.hasPrefix("//127.0.0.1:"))
            #expect(location.hasSuffix("/api/v1/scheduler"))
            url = try #require(URL(string: "http:" + location))
        }
        #expect(hops == [307, 307, 200])
        #expect(await masters[2].frameworks.count == 1)
        #expect(await masters[0].frameworks.isEmpty)
    }
}

/// One chunk as an asynchronous sequence.
private struct OneChunk: AsyncSequence, Sendable {
    typealias Element = ArraySlice<UInt8>
    let chunk: ArraySlice<UInt8>

    struct AsyncIterator: AsyncIteratorProtocol {
        var chunk: ArraySlice<UInt8>?
        mutating func next() async -> ArraySlice<UInt8>? {
            defer { self.chunk = nil }
            return self.chunk
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(chunk: self.chunk) }
}
