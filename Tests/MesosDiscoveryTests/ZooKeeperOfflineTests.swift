import Foundation
import MesosCore
import MesosDiscovery
import MesosZooKeeper
import Synchronization
import Testing

/// The ZooKeeper detector when no server can be reached: needs the C client only, no ZooKeeper.
@Suite("ZooKeeper detector without a server")
struct ZooKeeperOfflineTests {
    func expectTransportFailure(_ servers: String, within limit: Duration) async throws {
        let events = Mutex<[MasterDetectors.ZooKeeper.SessionEvent]>([])
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

    @Test("no server listening: transportFailure after the connect timeout")
    func nothingListening() async throws {
        try await self.expectTransportFailure("127.0.0.1:\(try TestEnvironment.freePort())", within: .seconds(4))
    }

    @Test("an unresolvable server name: transportFailure")
    func unresolvable() async throws {
        try await self.expectTransportFailure("zk.invalid:2181", within: .seconds(15))
    }

    @Test("cancelling while connecting ends promptly with CancellationError")
    func cancelWhileConnecting() async throws {
        var configuration = try MasterDetectors.ZooKeeper.Configuration(
            url: "zk://127.0.0.1:\(try TestEnvironment.freePort())/mesos"
        )
        configuration.connectTimeout = .seconds(60)
        let detector = MasterDetector.zooKeeper(configuration)
        let task = Task {
            var leaders = detector.leaders.makeAsyncIterator()
            return try await leaders.next()
        }
        try await Task.sleep(for: .milliseconds(300))
        let clock = ContinuousClock()
        let cancelled = clock.now
        task.cancel()
        let result = await task.result
        #expect(clock.now - cancelled < .seconds(2))
        #expect(throws: CancellationError.self) { try result.get() }
    }
}
