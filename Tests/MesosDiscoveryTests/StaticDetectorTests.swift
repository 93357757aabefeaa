import Foundation
import MesosCore
import MesosDiscovery
import MesosInMemoryTransport
import MesosTestKit
import Testing

@Suite("Static-list detector (GET /master/redirect)")
struct StaticDetectorTests {
    /// A configuration with near-zero backoff so that failing rounds are quick.
    static func configuration(_ url: String, rounds: Int = 3) throws -> MasterDetectors.Static.Configuration {
        var configuration = try MasterDetectors.Static.Configuration(url: url)
        configuration.backoff = BackoffPolicy(initial: .milliseconds(1), maximum: .milliseconds(2))
        configuration.maximumRounds = rounds
        configuration.probeTimeout = .seconds(2)
        return configuration
    }

    static func detector(_ url: String, _ transport: any MesosTransport, rounds: Int = 3) throws -> MasterDetector {
        .staticList(try Self.configuration(url, rounds: rounds), transport: transport)
    }

    @Test("a 307 names the leader; the probe is GET /master/redirect with the configured timeout")
    func redirectNamesLeader() async throws {
        let transport = ScriptedTransport(["m1:5050": [.redirect("//m2:5051")]])
        let detector = try Self.detector("http://m1:5050", transport)
        #expect(detector.updateMode == .pull)
        var leaders = detector.leaders.makeAsyncIterator()
        #expect(try await leaders.next() == .some(MasterLocation(host: "m2", port: 5051)))
        let request = try #require(transport.requests.first)
        #expect(request.method == "GET")
        #expect(request.url.absoluteString == "http://m1:5050/master/redirect")
        #expect(request.timeout == .seconds(2))
        #expect(request.body == nil)
    }

    @Test(
        "Location values are resolved against the probed master",
        arguments: [
            ("http://m1:5050", "//leader:5050", "http://leader:5050"),
            ("http://m1:5050", "//leader:5050/master/redirect", "http://leader:5050"),
            ("http://m1:5050", "//leader", "http://leader:80"),
            ("https://m1:5050", "//leader", "https://leader:443"),
            ("https://m1:5050", "//leader:6060", "https://leader:6060"),
            ("http://m1:5050", "https://leader:6060/x?y=1", "https://leader:6060"),
            ("http://m1:5050", "//[::1]:5050", "http://[::1]:5050"),
            ("http://m1:5050", " //10.0.0.7:5050 ", "http://10.0.0.7:5050"),
        ]
    )
    func locationParsing(master: String, location: String, expected: String) async throws {
        let key = master.replacingOccurrences(of: "https://", with: "").replacingOccurrences(of: "http://", with: "")
        let transport = ScriptedTransport([key: [.redirect(location)]])
        var leaders = try Self.detector(master, transport).leaders.makeAsyncIterator()
        let leader = try #require(try await leaders.next() ?? nil)
        #expect(leader.description == expected)
    }

    @Test("503 everywhere: no leader right now (nil), not an error")
    func unavailableMeansNoLeader() async throws {
        let transport = ScriptedTransport([
            "m1:5050": [.status(503, "No leader elected")],
            "m2:5050": [.status(503, "No leader elected")],
        ])
        var leaders = try Self.detector("http://m1:5050,m2:5050", transport).leaders.makeAsyncIterator()
        let first = try await leaders.next()
        #expect(first == .some(nil))
        #expect(transport.probed == ["m1:5050", "m2:5050"])
    }

    @Test("a 503 from one master does not hide the leader another one names")
    func unavailableThenRedirect() async throws {
        let transport = ScriptedTransport([
            "m1:5050": [.status(503, "No leader elected")],
            "m2:5050": [.redirect("//m3:5050")],
        ])
        var leaders = try Self.detector("http://m1:5050,m2:5050", transport).leaders.makeAsyncIterator()
        #expect(try await leaders.next() == .some(MasterLocation(host: "m3", port: 5050)))
    }

    @Test("re-probes on every next(): the answer follows the masters")
    func reprobesOnEachNext() async throws {
        let transport = ScriptedTransport([
            "m1:5050": [.redirect("//m1:5050"), .status(503, ""), .redirect("//m2:5050")]
        ])
        var leaders = try Self.detector("http://m1:5050", transport).leaders.makeAsyncIterator()
        #expect(try await leaders.next() == .some(MasterLocation(host: "m1", port: 5050)))
        #expect(try await leaders.next() == .some(nil))
        #expect(try await leaders.next() == .some(MasterLocation(host: "m2", port: 5050)))
        #expect(transport.requests.count == 3)
    }

    @Test("a refused connection rotates to the next master, which is asked first next time")
    func refusedRotates() async throws {
        let transport = ScriptedTransport([
            "m1:5050": [.refused],
            "m2:5050": [.redirect("//m3:5050")],
            "m3:5050": [.redirect("//m3:5050")],
        ])
        var leaders = try Self.detector("http://m1:5050,m2:5050,m3:5050", transport).leaders.makeAsyncIterator()
        #expect(try await leaders.next() == .some(MasterLocation(host: "m3", port: 5050)))
        #expect(try await leaders.next() == .some(MasterLocation(host: "m3", port: 5050)))
        #expect(transport.probed == ["m1:5050", "m2:5050", "m2:5050"])
    }

    @Test("every master down: rounds with backoff, then transportFailure with the last cause")
    func allDown() async throws {
        let transport = ScriptedTransport([:])
        var leaders = try Self.detector("http://m1:5050,m2:5050", transport, rounds: 3).leaders.makeAsyncIterator()
        let error = await #expect(throws: MesosError.self) { try await leaders.next() }
        #expect(error?.code == .transportFailure)
        #expect(error?.message.contains("3 round") == true)
        #expect((error?.cause as? MesosError)?.code == .transportFailure)
        #expect(transport.probed == ["m1:5050", "m2:5050", "m1:5050", "m2:5050", "m1:5050", "m2:5050"])
        // The iterator keeps working once a master is back.
        transport.script("m2:5050", [.redirect("//m2:5050")])
        #expect(try await leaders.next() == .some(MasterLocation(host: "m2", port: 5050)))
    }

    @Test("the pause between fruitless rounds follows the backoff policy", .timeLimit(.minutes(1)))
    func backoffBetweenRounds() async throws {
        let transport = ScriptedTransport([:])
        var configuration = try MasterDetectors.Static.Configuration(url: "http://m1:5050")
        configuration.backoff = BackoffPolicy(initial: .milliseconds(100), maximum: .seconds(1), jitter: false)
        configuration.maximumRounds = 3
        let clock = ManualClock()
        let detector = MasterDetector.staticList(configuration, transport: transport, clock: clock)
        let probing = Task {
            var leaders = detector.leaders.makeAsyncIterator()
            return try await leaders.next()
        }
        // Round 1 failed: the detector sleeps 100 ms on the clock, and probes nothing meanwhile.
        await clock.waitForSleepers(1)
        #expect(clock.pendingDeadlines == [.milliseconds(100)])
        #expect(transport.probed == ["m1:5050"])
        clock.advance(by: .milliseconds(100))
        // Round 2 failed: 200 ms.
        await clock.waitForSleepers(1)
        #expect(clock.pendingDeadlines == [.milliseconds(300)])
        #expect(transport.probed == ["m1:5050", "m1:5050"])
        clock.advance(by: .milliseconds(200))
        // Round 3 is the last: no pause after it, the error comes at once.
        let error = await #expect(throws: MesosError.self) { try await probing.value }
        #expect(error?.code == .transportFailure)
        #expect(clock.sleepLog == [.milliseconds(100), .milliseconds(200)])
        #expect(transport.probed == ["m1:5050", "m1:5050", "m1:5050"])
    }

    @Test("masters that answer, but not with 307 or 503, rotate too and end in noLeader")
    func unusableAnswers() async throws {
        let transport = ScriptedTransport([
            "m1:5050": [.status(404, "starting")],
            "m2:5050": [.redirect(nil)],
            "m3:5050": [.redirect("not a location")],
        ])
        var leaders = try Self.detector("http://m1:5050,m2:5050,m3:5050", transport, rounds: 2)
            .leaders.makeAsyncIterator()
        let error = await #expect(throws: MesosError.self) { try await leaders.next() }
        #expect(error?.code == .noLeader)
        #expect(error?.message.contains("not a location") == true)
        #expect(transport.requests.count == 6)
    }

    @Test("a master that hangs is given up after the probe timeout and the next one is asked", .timeLimit(.minutes(1)))
    func hangingMasterTimesOut() async throws {
        let clock = ManualClock()
        let asked = LockedValue<[String]>([])
        let transport = MesosInMemoryTransport(clock: clock) { request in
            asked.withLock { $0.append(request.url.host ?? "") }
            if request.url.host == "slow" {
                // Never answers; only the probe timeout (on the manual clock) ends this, by cancellation.
                try await Task.sleep(for: .seconds(3600))
            }
            return (MesosHTTPResponse(status: 307, headers: ["Location": "//fast:5050"]), .empty)
        }
        var configuration = try Self.configuration("http://slow:5050,fast:5050")
        configuration.probeTimeout = .seconds(5)
        let detector = MasterDetector.staticList(configuration, transport: transport, clock: clock)
        let probing = Task {
            var leaders = detector.leaders.makeAsyncIterator()
            return try await leaders.next()
        }
        // The probe of `slow` waits for its timeout, and `fast` is not asked before it passes.
        await clock.waitForSleepers(1)
        #expect(clock.pendingDeadlines == [.seconds(5)])
        #expect(!asked.withLock { $0 }.contains("fast"))
        clock.advance(by: .seconds(5))
        #expect(try await probing.value == .some(MasterLocation(host: "fast", port: 5050)))
        #expect(asked.withLock { $0 } == ["slow", "fast"])
    }

    @Test("cancellation stops the probing promptly with CancellationError", .timeLimit(.minutes(1)))
    func cancellation() async throws {
        let transport = ScriptedTransport([:])
        var configuration = try MasterDetectors.Static.Configuration(url: "http://m1:5050")
        configuration.backoff = BackoffPolicy(initial: .seconds(30), maximum: .seconds(30), jitter: false)
        configuration.maximumRounds = 10
        let clock = ManualClock()
        let detector = MasterDetector.staticList(configuration, transport: transport, clock: clock)
        let task = Task {
            var leaders = detector.leaders.makeAsyncIterator()
            return try await leaders.next()
        }
        // In the 30 s pause after the first round; the clock never moves, so only cancellation can end it.
        await clock.waitForSleepers(1)
        task.cancel()
        let result = await task.result
        #expect(throws: CancellationError.self) { try result.get() }
        #expect(transport.requests.count == 1)
        #expect(clock.sleeperCount == 0)
    }

    @Test("an empty list is a configuration error at the first next()")
    func emptyList() async throws {
        let detector = MasterDetector.staticList(.init(masters: []), transport: ScriptedTransport([:]))
        var leaders = detector.leaders.makeAsyncIterator()
        let error = await #expect(throws: MesosError.self) { try await leaders.next() }
        #expect(error?.code == .invalidConfiguration)
    }

    @Test("an https list probes over https and reports https leaders")
    func https() async throws {
        let transport = ScriptedTransport(["m1:8443": [.redirect("//m2:8443")]])
        var leaders = try MasterDetectors.make(url: "https://m1:8443,m3:8443", transport: transport)
            .leaders.makeAsyncIterator()
        #expect(try await leaders.next() == .some(MasterLocation(scheme: "https", host: "m2", port: 8443)))
        #expect(transport.requests.first?.url.absoluteString == "https://m1:8443/master/redirect")
    }
}
