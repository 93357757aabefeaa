import Foundation
import MesosCore
import MesosDiscovery
import MesosTestKit
import MesosZooKeeper
import Testing

/// The ZooKeeper detector when no server can be reached: needs the C client only, no ZooKeeper.
@Suite("ZooKeeper detector without a server")
struct ZooKeeperOfflineTests {
    func expectTransportFailure(_ servers: String, within limit: Duration) async throws {
        let events = LockedValue<[MasterDetectors.ZooKeeper.SessionEvent]>([])
        var configuration = try MasterDetectors.ZooKeeper.Configuration(url: "zk://\(servers)/mesos")
        configuration.connectTimeout = .seconds(1)
        configuration.sessionObserver = { event in events.withLock { $0.append(event) } }
        var leaders = MasterDetector.zooKeeper(configuration).leaders.makeAsyncIterator()
        let clock = ContinuousClock()
        let started = clock.now
        let error = await #expect(throws: MesosError.self) { try await leaders.next() }
        #expect(error?.code == .transportFailure)
        #expect(error?.message.contains(servers) == true, "\(error?.message ?? "")")
        #expect(clock.now - started < limit)
        // Finished after an error (a new iterator starts over), and the session is closed.
        #expect(try await leaders.next() == nil)
        #expect(events.withLock { $0.map(\.kind) }.allSatisfy { $0 == .closed })
    }

    @Test("no server listening: transportFailure when the connect timeout passes, not before", .timeLimit(.minutes(1)))
    func nothingListening() async throws {
        let servers = "127.0.0.1:\(try TestEnvironment.freePort())"
        let events = LockedValue<[MasterDetectors.ZooKeeper.SessionEvent]>([])
        var configuration = try MasterDetectors.ZooKeeper.Configuration(url: "zk://\(servers)/mesos")
        configuration.connectTimeout = .seconds(10)
        configuration.sessionObserver = { event in events.withLock { $0.append(event) } }
        let clock = ManualClock()
        let detector = MasterDetector.zooKeeper(configuration, clock: clock)
        let connecting = Task {
            var leaders = detector.leaders.makeAsyncIterator()
            let result: Result<MasterLocation??, any Error>
            do {
                result = .success(try await leaders.next())
            } catch {
                result = .failure(error)
            }
            // Finished after an error: a new iterator starts over.
            let after = try await leaders.next()
            return (result, after)
        }
        // The detector waits for the connect timeout on the clock; the C client keeps trying meanwhile.
        await clock.waitForSleepers(1)
        #expect(clock.pendingDeadlines == [.seconds(10)])
        clock.advance(by: .seconds(10))
        let (result, after) = try await connecting.value
        let error = #expect(throws: MesosError.self) { try result.get() }
        #expect(error?.code == .transportFailure)
        #expect(error?.message.contains(servers) == true, "\(error?.message ?? "")")
        #expect(after == nil)
        // The session was closed (zookeeper_close returned) before next() threw.
        #expect(events.withLock { $0.map(\.kind) } == [.closed])
    }

    @Test("an unresolvable server name: transportFailure")
    func unresolvable() async throws {
        // Name resolution is real (zookeeper_init, on a thread of its own): a wide bound only.
        try await self.expectTransportFailure("zk.invalid:2181", within: .seconds(60))
    }

    @Test("cancelling while connecting ends promptly with CancellationError")
    func cancelWhileConnecting() async throws {
        var configuration = try MasterDetectors.ZooKeeper.Configuration(
            url: "zk://127.0.0.1:\(try TestEnvironment.freePort())/mesos"
        )
        configuration.connectTimeout = .seconds(60)
        let clock = ManualClock()
        let detector = MasterDetector.zooKeeper(configuration, clock: clock)
        let task = Task {
            var leaders = detector.leaders.makeAsyncIterator()
            return try await leaders.next()
        }
        // Connecting: the connect deadline is armed. The clock never moves, so only cancellation ends it.
        await clock.waitForSleepers(1)
        task.cancel()
        let result = await task.result
        #expect(throws: CancellationError.self) { try result.get() }
        #expect(clock.sleeperCount == 0)
    }
}
