import Foundation
import MesosCore
@testable import MesosFramework
import MesosFrameworkZooKeeper
import MesosScheduler
import MesosTestKit
import MesosZooKeeper
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
        info.roles = ["*"]
        info.failoverTimeout = 3600
        var configuration = MesosSchedulerConfiguration(
            frameworkInfo: info, master: .fixed(MasterLocation(host: "fake-master", port: 5050)),
            transport: master.transport)
        configuration.contentType = .json
        configuration.backoff = BackoffPolicy(initial: .milliseconds(10), maximum: .milliseconds(50))
        configuration.heartbeatTolerance = 200
        return configuration
    }

    static func instance(_ name: String, path: String, master: FakeMaster) throws -> HighlyAvailableFramework {
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
    static func running(_ master: FakeMaster, _ framework: FrameworkID, _ task: String, uuid byte: UInt8) async throws {
        var status = TaskStatus()
        status.taskID = TaskID(task)
        status.state = .taskRunning
        status.agentID = AgentID("A1")
        status.uuid = Data(repeating: byte, count: 16)
        let before = Self.acknowledgements(of: task, in: await master.receivedCalls)
        try await master.send(.update(status), to: framework)
        try await master.waitUntil { Self.acknowledgements(of: task, in: $0.receivedCalls) > before }
    }

    @Test("one instance subscribes; its session is taken away; the other fails over to the same framework id and adopts the running tasks")
    func failover() async throws {
        let path = ZooKeeperTestServer.uniquePath("ha")
        let master = FakeMaster(configuration: .init(hostname: "fake-master", port: 5050, heartbeatInterval: .milliseconds(50)))
        let a = try Self.instance("a", path: path, master: master)
        let b = try Self.instance("b", path: path, master: master)
        let changesA = a.changes()
        let recordA = LockedBox<[String]>([])
        let watcher = Task {
            for await change in changesA { recordA.withLock { $0.append(change.description) } }
        }
        defer { watcher.cancel() }

        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await a.run() }
            defer { group.cancelAll() }
            try await waitUntil("a leads with a runtime") { a.runtime != nil }
            group.addTask { try await b.run() }
            try await waitUntil("b is a candidate") { b.election.node != nil }
            #expect(a.isLeader)
            #expect(!b.isLeader)
            #expect(b.runtime == nil)

            // The leader subscribes; the standby does not.
            try await master.waitUntil { !$0.subscribedFrameworkIDs.isEmpty }
            let framework = try #require(await master.subscribedFrameworkIDs.last)
            let runtimeA = try #require(a.runtime)
            try await runtimeA.submit(TaskSpec(name: "svc", command: .shell("sleep 1000"), resources: "cpus:1", instances: 2, restart: .always))
            _ = try await master.sendOffers(1, to: framework, cpus: 4)
            try await master.waitUntil { $0.receivedCalls.contains { $0.type == .accept } }
            #expect(await Self.launches(master) == [["svc.0.1", "svc.1.1"]])
            try await Self.running(master, framework, "svc.0.1", uuid: 1)
            try await Self.running(master, framework, "svc.1.1", uuid: 2)
            #expect(await Self.subscribes(master).count == 1, "exactly one instance subscribed")
            let streamA = await master.streamID(of: framework)

            // Take a's election session away (its connection drops first: deposed on suspension, then expired).
            let session = try #require(a.election.sessionCredentials)
            try await ZooKeeperTestServer.expire(session) { a.election.sessionCredentials?.id != session.id }
            try await waitUntil("b leads with a runtime") { b.runtime != nil }
            #expect(runtimeA.isStopped, "the deposed leader's runtime was stopped")
            #expect(!a.isLeader)
            #expect(a.runtime == nil)
            #expect(recordA.withLock { $0 }.contains { $0.hasPrefix("deposed") })

            try await master.waitUntil { $0.receivedCalls.filter { $0.type == .subscribe }.count >= 2 }
            let subscribes = await Self.subscribes(master)
            #expect(subscribes.count == 2)
            #expect(subscribes.last?.call?.frameworkID == framework, "fails over to the stored framework id")
            let runtimeB = try #require(b.runtime)
            #expect(runtimeB.specs.map(\.name) == ["svc"], "the successor loaded the stored specs")
            #expect(runtimeB.instances(of: "svc").map(\.taskID) == [TaskID("svc.0.1"), TaskID("svc.1.1")])

            // Reconciliation: the master reports both running; nothing is launched again.
            try await master.waitUntil { $0.receivedCalls.contains { $0.type == .reconcile } }
            for id in ["svc.0.1", "svc.1.1"] {
                var status = TaskStatus()
                status.taskID = TaskID(id)
                status.state = .taskRunning
                status.agentID = AgentID("A1")
                status.reason = .reconciliation
                try await master.send(.update(status), to: framework)
            }
            try await waitUntil("reconciled") { runtimeB.services.reconciliation.unanswered.isEmpty }
            _ = try await master.sendOffers(1, to: framework, cpus: 4)
            try await master.waitUntil { master in
                runtimeB.services.offers.count == 1
                    || master.receivedCalls.filter { $0.type == .accept }.count > 1
            }
            await runtimeB.launchPending()
            #expect(await Self.launches(master).count == 1, "the running tasks were adopted, not relaunched")
            #expect(runtimeB.instances(of: "svc").map(\.state) == [.taskRunning, .taskRunning])

            // The deposed instance made no call after the successor subscribed.
            let calls = await master.receivedCalls
            let successorSubscribed = try #require(calls.lastIndex { $0.type == .subscribe })
            let late = calls[successorSubscribed...].filter { $0.streamID != nil && $0.streamID == streamA }
            #expect(late.isEmpty, "calls of the deposed leader after the takeover: \(late.compactMap(\.type))")

            // A stays a standby on its new session.
            try await waitUntil("a is a candidate again") { a.election.node != nil }
            #expect(!a.isLeader)
        }
        let cleanup = try await ZooKeeperTestServer.client()
        await ZooKeeperTestServer.deleteRecursively(path, client: cleanup)
        await cleanup.close()
    }
}
