import Foundation
import MesosCore
@testable import MesosFramework
import MesosFrameworkZooKeeper
import MesosScheduler
import MesosTestKit
import MesosZooKeeper
import MetricsTestKit
import Testing

/// Two instances of a ``HighlyAvailableFramework`` against the test kit's fake master (in memory) and the real
/// ZooKeeper: one leads and subscribes; when its session is taken away the other takes over with the same
/// framework id, the stored specs, and the running tasks adopted.
@Suite(
    "HighlyAvailableFramework: election, failover, fencing",
    .enabled(if: ZooKeeperTestServer.enabled, "needs ZOOKEEPER_CONNECT (scripts/zookeeper.sh starts one)"),
    .serialized, .timeLimit(.minutes(2))
)
struct HighlyAvailableFrameworkTests {
    static func schedulerConfiguration(_ master: FakeMaster) -> MesosSchedulerConfiguration {
        var info = FrameworkInfo()
        info.user = "tester"
        info.name = "ha-tests"
        info.role = "*"
        info.failoverTimeout = 3600
        var configuration = MesosSchedulerConfiguration(
            frameworkInfo: info, master: .fixed(MasterLocation(host: "fake-master", port: 5050)),
            transport: master.transport)
        configuration.contentType = .json
        configuration.backoff = BackoffPolicy(initial: .milliseconds(10), maximum: .milliseconds(50))
        configuration.heartbeatTolerance = 200
        return configuration
    }

    static func instance(_ name: String, path: String, master: FakeMaster, metrics: TestMetrics? = nil) throws
        -> HighlyAvailableFramework
    {
        let servers = try ZooKeeperTestServer.servers()
        var configuration = HighlyAvailableFramework.Configuration(
            zooKeeper: ZooKeeperURL(servers: servers.split(separator: ",").map(String.init), path: path),
            sessionTimeout: .seconds(4), connectTimeout: .seconds(20),
            identity: .init(host: "127.0.0.1", pid: ProcessInfo.processInfo.processIdentifier, instance: name),
            retryDelay: .milliseconds(200))
        // Every runtime delay on a manual clock that never moves: offers stay held, nothing times out.
        configuration.runtime = FrameworkRuntime.Configuration(services: .init(
            offers: .init(holdTime: .seconds(100_000), holdJitter: .zero),
            reconciliation: .init(unreachableGrace: .seconds(60)),
            clock: ManualClock()))
        configuration.metricsFactory = metrics
        return HighlyAvailableFramework(configuration: configuration) { Self.schedulerConfiguration(master) }
    }

    static func subscribes(_ master: FakeMaster) async -> [ReceivedCall] {
        await master.receivedCalls.filter { $0.type == .subscribe }
    }

    static func launches(_ master: FakeMaster) async -> [[String]] {
        await master.receivedCalls.filter { $0.type == .accept }.compactMap { received in
            received.call?.accept.operations.flatMap { $0.launch.taskInfos.map(\.taskID.value) }
        }
    }

    static func acknowledgements(of task: String, in calls: [ReceivedCall]) -> Int {
        calls.filter { $0.type == .acknowledge && $0.call?.acknowledge.taskID.value == task }.count
    }

    /// Sends a status update with a uuid and waits for its acknowledgement.
    static func running(_ master: FakeMaster, _ framework: FrameworkID, _ task: String, agent: AgentID, uuid byte: UInt8)
        async throws
    {
        var status = TaskStatus()
        status.taskID = TaskID(task)
        status.state = .taskRunning
        status.agentID = agent
        status.source = .executor
        // A valid version 4 uuid.
        var bytes = [UInt8](repeating: byte, count: 16)
        bytes[6] = 0x40 | (byte & 0x0F)
        bytes[8] = 0x80 | (byte & 0x3F)
        status.uuid = Data(bytes)
        let before = Self.acknowledgements(of: task, in: await master.receivedCalls)
        try await master.send(.update(status), to: framework)
        try await master.waitUntil(#line) { Self.acknowledgements(of: task, in: $0.receivedCalls) > before }
    }

    @Test("one instance subscribes; its session is taken away; the other fails over to the same framework id and adopts the running tasks")
    func failover() async throws {
        let path = ZooKeeperTestServer.uniquePath("ha")
        let master = FakeMaster(configuration: .init(hostname: "fake-master", port: 5050, heartbeatInterval: .milliseconds(50)))
        let metricsA = TestMetrics()
        let metricsB = TestMetrics()
        let a = try Self.instance("a", path: path, master: master, metrics: metricsA)
        let b = try Self.instance("b", path: path, master: master, metrics: metricsB)
        let changesA = a.changes()
        let recordA = LockedBox<[String]>([])
        let watcher = Task {
            for await change in changesA { recordA.withLock { $0.append(change.description) } }
        }
        defer { watcher.cancel() }

        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                do { try await a.run() } catch { recordA.withLock { $0.append("run threw \(error)") } }
            }
            defer { group.cancelAll() }
            do {
                try await waitUntil("a leads with a runtime") { a.runtime != nil }
            } catch {
                Issue.record("leader: \(a.isLeader), changes: \(recordA.withLock { $0 }), error: \(String(describing: a.election.lastError))")
                throw error
            }
            group.addTask { try await b.run() }
            do {
                try await waitUntil("b is a candidate") { b.election.node != nil }
            } catch {
                Issue.record("b: \(b.isLeader) \(String(describing: b.election.lastError)) \(String(describing: b.election.sessionCredentials?.id))")
                throw error
            }
            #expect(a.isLeader)
            #expect(!b.isLeader)
            #expect(b.runtime == nil)

            // The leader subscribes; the standby does not.
            try await master.waitUntil(#line) { !$0.subscribedFrameworkIDs.isEmpty }
            let framework = try #require(await master.subscribedFrameworkIDs.last)
            let runtimeA = try #require(a.runtime)
            try await runtimeA.submit(TaskSpec(name: "svc", command: .shell("sleep 1000"), resources: "cpus:1", instances: 2, restart: .always))
            let agent = try #require(try await master.sendOffers(1, to: framework, cpus: 4).first?.agentID)
            try await master.waitUntil(#line) { $0.receivedCalls.contains { $0.type == .accept } }
            #expect(await Self.launches(master) == [["svc.0.1", "svc.1.1"]])
            try await Self.running(master, framework, "svc.0.1", agent: agent, uuid: 1)
            try await Self.running(master, framework, "svc.1.1", agent: agent, uuid: 2)
            #expect(await Self.subscribes(master).count == 1, "exactly one instance subscribed")

            // Take a's election session away (its connection drops first: deposed on suspension, then expired).
            let session = try #require(a.election.sessionCredentials)
            try await ZooKeeperTestServer.expire(session) { a.election.sessionCredentials?.id != session.id }
            try await waitUntil("b leads with a runtime") { b.runtime != nil }
            #expect(runtimeA.isStopped, "the deposed leader's runtime was stopped")
            #expect(!a.isLeader)
            #expect(a.runtime == nil)
            #expect(recordA.withLock { $0 }.contains { $0.hasPrefix("deposed") })

            try await master.waitUntil(#line) { $0.receivedCalls.filter { $0.type == .subscribe }.count >= 2 }
            let subscribes = await Self.subscribes(master)
            // (Forcing the expiry can first drop a's connection, so a may be deposed and re-elected on its same
            // session before the session goes: then a subscribed once more in between, as the leader.)
            #expect(subscribes.count >= 2)
            #expect(subscribes.first?.call?.hasFrameworkID == false)
            #expect(subscribes.dropFirst().allSatisfy { $0.call?.frameworkID == framework }, "every later subscription fails over")
            #expect(subscribes.last?.call?.frameworkID == framework, "fails over to the stored framework id")
            let runtimeB = try #require(b.runtime)
            #expect(runtimeB.specs.map(\.name) == ["svc"], "the successor loaded the stored specs")
            #expect(runtimeB.instances(of: "svc").map(\.taskID) == [TaskID("svc.0.1"), TaskID("svc.1.1")])

            // Reconciliation: the master reports both running; nothing is launched again.
            try await master.waitUntil(#line) { $0.receivedCalls.contains { $0.type == .reconcile } }
            for id in ["svc.0.1", "svc.1.1"] {
                var status = TaskStatus()
                status.taskID = TaskID(id)
                status.state = .taskRunning
                status.agentID = agent
                status.reason = .reconciliation
                status.source = .master
                try await master.send(.update(status), to: framework)
            }
            try await waitUntil("reconciled") { runtimeB.services.reconciliation.unanswered.isEmpty }
            _ = try await master.sendOffers(1, to: framework, cpus: 4)
            try await master.waitUntil(#line) { master in
                runtimeB.services.offers.count == 1
                    || master.receivedCalls.filter { $0.type == .accept }.count > 1
            }
            await runtimeB.launchPending()
            #expect(await Self.launches(master).count == 1, "the running tasks were adopted, not relaunched")
            #expect(runtimeB.instances(of: "svc").map(\.state) == [.taskRunning, .taskRunning])

            // Leaders never overlapped: no call on a subscription's stream after the next SUBSCRIBE.
            let calls = await master.receivedCalls
            var earlier: Set<String> = []
            var current: Set<String> = []
            var late: [String] = []
            for call in calls {
                if call.type == .subscribe {
                    earlier.formUnion(current)
                    current = []
                } else if let stream = call.streamID {
                    if earlier.contains(stream) { late.append("\(call.type.map { "\($0)" } ?? "-")@\(stream)") }
                    current.insert(stream)
                }
            }
            #expect(late.isEmpty, "calls of a deposed leader after its successor subscribed: \(late)")

            // A stays a standby on its new session.
            try await waitUntil("a is a candidate again") { a.election.node != nil }
            #expect(!a.isLeader)

            // Observable: statistics and metrics of both instances.
            let statsA = a.statistics
            #expect(!statsA.isLeader && statsA.term == nil)
            #expect(statsA.elections >= 1 && statsA.depositions == statsA.elections, "\(statsA)")
            #expect(statsA.lastTakeover != nil)
            let statsB = b.statistics
            #expect(statsB.isLeader && statsB.elections == 1 && statsB.depositions == 0, "\(statsB)")
            #expect(statsB.term == b.election.leadership?.term)
            let takeover = try #require(statsB.lastTakeover)
            print("HA takeover (elected → SUBSCRIBED, fake master): \(takeover)")
            #expect(takeover > .zero && takeover < .seconds(60))
            #expect(try metricsB.expectCounter("mesos_ha_elections_total").totalValue == 1)
            #expect(try metricsB.expectGauge("mesos_ha_leader").lastValue == 1)
            #expect(try metricsB.expectTimer("mesos_ha_takeover_seconds").values.count == 1)
            #expect(try metricsA.expectGauge("mesos_ha_leader").lastValue == 0)
            let deposedA = try metricsA.expectCounter("mesos_ha_depositions_total", [("reason", "sessionSuspended")])
                .totalValue
            let expiredA = (try? metricsA.expectCounter("mesos_ha_depositions_total", [("reason", "sessionExpired")]))?
                .totalValue ?? 0
            #expect(Int(deposedA + expiredA) <= statsA.depositions && deposedA >= 1)
        }
        let cleanup = try await ZooKeeperTestServer.client()
        await ZooKeeperTestServer.deleteRecursively(path, client: cleanup)
        await cleanup.close()
    }
}

extension FakeMaster {
    /// `waitUntil`, naming the test line that waited when it times out.
    func waitUntil(_ line: Int, _ condition: @Sendable (isolated FakeMaster) -> Bool) async throws {
        do {
            try await self.waitUntil(timeout: .seconds(20), condition)
        } catch {
            throw TimedOut(description: "line \(line): \(error); calls: \(self.receivedCalls.compactMap(\.type))")
        }
    }
}
