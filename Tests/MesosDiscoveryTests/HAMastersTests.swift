import Foundation
import MesosCore
import MesosDiscovery
import MesosZooKeeper
import Testing
import MesosTestKit

/// Against real Mesos 1.11 masters electing a leader through ZooKeeper:
/// `cd ../shared/realmesos && ./start-ha.sh local:2381 5161 5162 5163`, then
/// `MESOS_HA_ZK=zk://127.0.0.1:2381/mesos MESOS_HA_MASTERS=http://127.0.0.1:5161,http://127.0.0.1:5162,http://127.0.0.1:5163`.
/// The test kills the leader and restarts it, so the cluster keeps running with another leader afterwards.
@Suite(
    "Real HA masters",
    .serialized,
    .enabled(if: TestServers.shouldRun(needing: "MESOS_HA_ZK", "MESOS_HA_MASTERS"), "set MESOS_HA_ZK and MESOS_HA_MASTERS to run")
)
struct HAMastersTests {
    let zooKeeperURL: String
    let mastersURL: String

    init() throws {
        self.zooKeeperURL = try TestServers.value("MESOS_HA_ZK")
        self.mastersURL = try TestServers.value("MESOS_HA_MASTERS")
    }

    /// What each master's `/master/redirect` says, asked one by one.
    func redirectAnswers(_ transport: any MesosTransport) async throws -> [MasterLocation?] {
        var answers: [MasterLocation?] = []
        for master in try MasterDetectors.Static.Configuration(url: self.mastersURL).masters {
            var single = MasterDetectors.Static.Configuration(masters: [master])
            // A master busy with an election (or a loaded CI machine) may miss one short probe: a few rounds
            // with a generous timeout ask what each master says, not how fast it says it.
            single.maximumRounds = 3
            single.probeTimeout = .seconds(5)
            var iterator = MasterDetector.staticList(single, transport: transport).leaders.makeAsyncIterator()
            answers.append((try? await iterator.next()) ?? nil)
        }
        return answers
    }

    /// Brings back any master that does not answer. A Mesos master exits on purpose when its ZooKeeper session
    /// expires (2 s here), which a loaded CI machine starting several JVMs at once can cause before this suite
    /// runs; this test is about the detectors, so it starts from three live masters.
    func reviveSilentMasters(_ transport: any MesosTransport) async throws {
        let ports = try MasterDetectors.Static.Configuration(url: self.mastersURL).masters.map(\.port)
        for (port, answer) in zip(ports, try await self.redirectAnswers(transport)) where answer == nil {
            print("HA: master on port \(port) does not answer; restarting it")
            try await TestEnvironment.run(TestEnvironment.realMesos + "/start-ha.sh", [self.zooKeeperURL, String(port)])
        }
    }

    @Test("ZooKeeper and static detectors agree with /master/redirect, follow a failover, ignore a rejoin")
    func failover() async throws {
        let transport = URLSessionProbeTransport()
        try await self.reviveSilentMasters(transport)
        let registry = MasterDetectorRegistry.withZooKeeper
        let zooKeeper = try MasterDetectors.make(url: self.zooKeeperURL, transport: transport, registry: registry)
        #expect(zooKeeper.updateMode == .push)
        var staticConfiguration = try MasterDetectors.Static.Configuration(url: self.mastersURL)
        staticConfiguration.probeTimeout = .seconds(2)
        staticConfiguration.maximumRounds = 1
        var staticLeaders = MasterDetector.staticList(staticConfiguration, transport: transport).leaders.makeAsyncIterator()

        let recorder = LeaderRecorder.start(zooKeeper)
        let leader = try #require(try await recorder.element(1, timeout: .seconds(15)))
        #expect(try await staticLeaders.next() == .some(leader))
        let answers = try await self.redirectAnswers(transport)
        #expect(answers.allSatisfy { $0 == leader }, "every master names \(leader): \(answers)")
        print("HA: leader \(leader) (ZooKeeper, static and /master/redirect agree)")

        // Kill the leader (SIGKILL: a crash).
        let killed = ContinuousClock.now
        try await TestEnvironment.run(
            TestEnvironment.realMesos + "/stop-ha.sh", [String(leader.port)], environment: ["REALMESOS_STOP_SIGNAL": "KILL"]
        )

        // The static detector is polled with backoff, as a service that lost its leader would.
        var backoff = SplitMix64(seed: 7)
        let policy = BackoffPolicy(initial: .milliseconds(100), maximum: .milliseconds(500))
        var staticLeader: MasterLocation?
        var staticPolls = 0
        while ContinuousClock.now - killed < .seconds(60) {
            staticPolls += 1
            if case .some(.some(let found)) = try? await staticLeaders.next(), found != leader {
                staticLeader = found
                break
            }
            try await Task.sleep(for: policy.delay(forAttempt: min(staticPolls, 4), using: &backoff))
        }
        let staticElapsed = ContinuousClock.now - killed
        let newLeader = try #require(staticLeader, "the static detector found no new leader within 60 s")

        let entries = try await recorder.waitForCount(2, timeout: .seconds(30))
        let change = try #require(entries.dropFirst().first { $0.leader != nil })
        let zooKeeperElapsed = change.at - killed
        #expect(change.leader == newLeader)
        #expect(newLeader.port != leader.port)
        #expect(entries.dropFirst().allSatisfy { $0.leader != leader })
        print(
            "HA failover: ZooKeeper detector reported \(newLeader) \(zooKeeperElapsed) after the SIGKILL; "
                + "static detector \(staticElapsed) (\(staticPolls) polls)"
        )

        // Restart the killed master: it rejoins as a follower; nothing changes.
        let beforeRejoin = recorder.leaders.count
        try await TestEnvironment.run(TestEnvironment.realMesos + "/start-ha.sh", [self.zooKeeperURL, String(leader.port)])
        try await Task.sleep(for: .seconds(3))
        #expect(recorder.leaders.count == beforeRejoin, "no spurious change: \(recorder.leaders)")
        #expect(try await staticLeaders.next() == .some(newLeader))
        let rejoined = try await self.redirectAnswers(transport)
        #expect(rejoined.allSatisfy { $0 == newLeader }, "every master names \(newLeader): \(rejoined)")
        #expect(recorder.error == nil)
        await recorder.stop()
    }
}
