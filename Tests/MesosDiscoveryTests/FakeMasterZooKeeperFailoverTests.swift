import CZooKeeper
import Foundation
import MesosCore
import MesosCurlTransport
import MesosDiscovery
import MesosScheduler
import MesosTestKit
import MesosZooKeeper
import Testing

/// End to end failover with a task (issue 5): two fake masters served over HTTP on 127.0.0.1 take part in a
/// Mesos-style election in a real ZooKeeper (`ZOOKEEPER_CONNECT`), each through its own ZooKeeper session with an
/// ephemeral sequential `json.info_` node. A ``MesosScheduler`` finds the leader through the ZooKeeper detector and
/// talks to it with libcurl.
@Suite("Failover between fake masters elected in ZooKeeper", .enabled(if: TestEnvironment.zooKeeperTestsRun, "set ZOOKEEPER_CONNECT to run"))
struct FakeMasterZooKeeperFailoverTests {
    let servers: String

    init() throws {
        self.servers = try TestEnvironment.requireZooKeeper()
    }

    /// What happens to the old leader besides losing its ZooKeeper node.
    enum OldLeader: String, Sendable, CaseIterable, CustomTestStringConvertible {
        /// Its server shuts down at once, cutting the subscription (a crashed master).
        case serverShutsDown
        /// Its server keeps serving the stream (a master cut off from ZooKeeper only): the scheduler must leave it
        /// on the detector's word alone.
        case serverKeepsRunning

        var testDescription: String { self.rawValue }
    }

    @Test(
        "a task's updates survive a leader change found in ZooKeeper: same framework id, ACKs to the right master, no duplicates",
        arguments: OldLeader.allCases
    )
    func taskUpdatesAcrossLeaderChange(oldLeader: OldLeader) async throws {
        let admin = try await ZooKeeperAdmin(servers: self.servers)
        let path = TestEnvironment.uniquePath("fake-failover")
        try admin.ensure(path)
        defer { try? admin.deleteRecursively(path) }

        let suffix = UUID().uuidString.prefix(8).lowercased()
        let master1 = FakeMaster(configuration: .init(masterID: "fake-master-1-\(suffix)", heartbeatInterval: .milliseconds(500)))
        let master2 = FakeMaster(configuration: .init(masterID: "fake-master-2-\(suffix)", heartbeatInterval: .milliseconds(500)))
        let server1 = try await FakeMasterServer.start(master: master1)
        let server2: FakeMasterServer
        do {
            server2 = try await FakeMasterServer.start(master: master2)
        } catch {
            try? await server1.shutdown()
            throw error
        }
        await master2.setLeadership(.follower(leader: server1.hostAndPort))

        let harness = Harness()
        do {
            try await self.failover(
                path: path, admin: admin, master1: master1, server1: server1, master2: master2, server2: server2,
                oldLeader: oldLeader, harness: harness
            )
        } catch {
            await harness.stop()
            try? await server1.shutdown()
            try? await server2.shutdown()
            throw error
        }
        await harness.stop()
        try await server1.shutdown()
        try await server2.shutdown()
    }

    private func failover(
        path: String,
        admin: ZooKeeperAdmin,
        master1: FakeMaster,
        server1: FakeMasterServer,
        master2: FakeMaster,
        server2: FakeMasterServer,
        oldLeader: OldLeader,
        harness: Harness
    ) async throws {
        // The masters' election sessions: the lowest sequence number leads.
        let session1 = try await ZooKeeperAdmin(servers: self.servers, sessionTimeout: .seconds(4))
        let session2 = try await ZooKeeperAdmin(servers: self.servers, sessionTimeout: .seconds(4))
        defer { session2.close() }
        let node1 = try session1.create(
            path + "/json.info_",
            data: ZooKeeperAdmin.masterInfoJSON(port: server1.port, host: "127.0.0.1"),
            mode: ZOO_EPHEMERAL_SEQUENTIAL
        )
        let node2 = try session2.create(
            path + "/json.info_",
            data: ZooKeeperAdmin.masterInfoJSON(port: server2.port, host: "127.0.0.1"),
            mode: ZOO_EPHEMERAL_SEQUENTIAL
        )
        #expect(node1 < node2, "the first master's node sorts first: \(node1), \(node2)")

        var info = FrameworkInfo()
        info.user = "test"
        info.name = "zk-failover-\(UUID().uuidString.prefix(8))"
        info.failoverTimeout = 3600
        var configuration = MesosSchedulerConfiguration(
            frameworkInfo: info,
            master: try MasterDetector.zooKeeper(url: "zk://\(self.servers)\(path)"),
            transport: MesosCurlTransport(configuration: .init())
        )
        configuration.backoff = BackoffPolicy(initial: .milliseconds(50), maximum: .milliseconds(200))
        configuration.contentType = .json
        let scheduler = MesosScheduler(configuration: configuration)
        harness.start(scheduler)

        // 1. Subscribed to the leader, master 1.
        try await harness.eventually("SUBSCRIBED from the first master") { harness.subscribedEvents.count == 1 }
        let frameworkID = try #require(harness.subscribedEvents.first?.frameworkID)
        #expect(harness.subscribedEvents.first?.masterInfo.port == UInt32(server1.port))
        #expect(await master1.framework(frameworkID)?.isSubscribed == true)
        #expect(await master2.receivedCalls.isEmpty, "the follower was not contacted")
        let stream1 = try #require(await master1.streamID(of: frameworkID))

        // 2. The task runs: the leader forwards TASK_RUNNING, the consumer sees it, and asking for the next event
        //    acknowledges it to the leader on the current stream.
        let taskID = "task-\(UUID().uuidString.prefix(8))"
        let runningUUID = Self.uuidBytes()
        try await master1.send(.update(Self.status(taskID, .taskRunning, uuid: runningUUID)), to: frameworkID)
        try await harness.eventually("TASK_RUNNING delivered") { harness.updates.count == 1 }
        try await master1.waitUntil(timeout: .seconds(60)) { master in
            master.receivedCalls.contains { $0.type == .acknowledge && $0.call?.acknowledge.uuid == runningUUID }
        }
        let acks1 = await master1.receivedCalls.filter { $0.type == .acknowledge }
        #expect(acks1.count == 1)
        #expect(acks1.first?.status == 202)
        #expect(acks1.first?.streamID == stream1)
        #expect(acks1.first?.call?.frameworkID == frameworkID)
        #expect(acks1.first?.call?.acknowledge.taskID.value == taskID)
        #expect(acks1.first?.call?.acknowledge.agentID.value == "agent-1")

        // 3. The leader goes away: its ZooKeeper session ends (taking its ephemeral node along), master 2 wins the
        //    election; the old master's server goes down with its connections, or keeps serving.
        let removal = ContinuousClock.now
        await session1.closeAndWait()
        await master2.setLeadership(.leader)
        if oldLeader == .serverShutsDown {
            try await server1.shutdown()
        }
        #expect(try admin.children(path) == [String(node2.split(separator: "/").last ?? "")])

        // 4. The scheduler finds master 2 in ZooKeeper and subscribes there with the same framework id.
        try await harness.eventually("SUBSCRIBED from the second master") { harness.subscribedEvents.count == 2 }
        let resubscribedAt = try #require(harness.resubscribedAt)
        let elapsed = resubscribedAt - removal
        print("FakeMasterZooKeeperFailover[\(oldLeader.rawValue)]: leader node removed -> SUBSCRIBED on the new master in \(elapsed)")
        #expect(elapsed < .seconds(10))
        #expect(harness.subscribedEvents.last?.frameworkID == frameworkID)
        #expect(harness.subscribedEvents.last?.masterInfo.port == UInt32(server2.port))
        #expect(harness.subscribedEvents.last?.masterInfo.id == (await master2.configuration.masterID))
        let subscribes2 = await master2.receivedCalls.filter { $0.type == .subscribe }
        #expect(subscribes2.count == 1)
        #expect(subscribes2.first?.call?.frameworkID == frameworkID)
        #expect(subscribes2.first?.call?.subscribe.frameworkInfo.id == frameworkID)
        #expect(await master2.framework(frameworkID)?.subscriptionCount == 1)
        #expect(scheduler.status.frameworkID == frameworkID)
        #expect(scheduler.status.master?.port == server2.port)
        let stream2 = try #require(await master2.streamID(of: frameworkID))
        #expect(stream2 != stream1)

        // 5. The task's later update comes from the new leader and is acknowledged there, once.
        let finishedUUID = Self.uuidBytes()
        try await master2.send(.update(Self.status(taskID, .taskFinished, uuid: finishedUUID)), to: frameworkID)
        try await harness.eventually("TASK_FINISHED delivered") { harness.updates.count == 2 }
        try await master2.waitUntil(timeout: .seconds(60)) { master in
            master.receivedCalls.contains { $0.type == .acknowledge && $0.call?.acknowledge.uuid == finishedUUID }
        }
        // Give a stray duplicate (an update replayed, a second ACK) time to show up.
        try await Task.sleep(for: .milliseconds(300))

        let updates = harness.updates
        #expect(updates.map(\.taskID.value) == [taskID, taskID])
        #expect(updates.map(\.state) == [.taskRunning, .taskFinished])
        #expect(updates.map(\.uuid) == [runningUUID, finishedUUID])
        let pairs = updates.map { "\($0.taskID.value)/\($0.uuid.base64EncodedString())" }
        #expect(Set(pairs).count == pairs.count, "an update was delivered twice: \(pairs)")
        let acks2 = await master2.receivedCalls.filter { $0.type == .acknowledge }
        #expect(acks2.map { $0.call?.acknowledge.uuid } == [finishedUUID], "only the new update is acknowledged to master 2")
        #expect(acks2.first?.streamID == stream2)
        #expect(acks2.first?.status == 202)
        #expect(await master1.receivedCalls.filter { $0.type == .acknowledge }.count == 1)
        #expect(scheduler.status.frameworkID == frameworkID)

        // The lifecycle: subscribed to master 1, lost it, resubscribed to master 2; never failed.
        let lifecycle = harness.lifecycle
        #expect(lifecycle.first.map(Self.isSubscribed) == true)
        #expect(!lifecycle.contains { if case .failed = $0 { true } else { false } }, "\(lifecycle)")
        let resubscription = lifecycle.compactMap { event -> SubscriptionStateMachine.Subscription? in
            if case .resubscribed(let subscription) = event { subscription } else { nil }
        }
        #expect(resubscription.count == 1)
        #expect(resubscription.first?.frameworkID == frameworkID)
        #expect(resubscription.first?.streamID == stream2)
        if oldLeader == .serverKeepsRunning {
            // The scheduler itself left the old leader: it closed that stream and made no call there since.
            try await master1.waitUntil(timeout: .seconds(60)) { $0.framework(frameworkID)?.isSubscribed == false }
            #expect(await master1.receivedCalls.count == 2, "SUBSCRIBE and ACKNOWLEDGE only")
        }
    }

    private static func isSubscribed(_ event: SchedulerLifecycleEvent) -> Bool {
        if case .subscribed = event { true } else { false }
    }

    /// A status update uuid: 16 raw bytes, as the agent makes them.
    private static func uuidBytes() -> Data {
        withUnsafeBytes(of: UUID().uuid) { Data($0) }
    }

    private static func status(_ taskID: String, _ state: TaskState, uuid: Data) -> TaskStatus {
        var status = TaskStatus()
        status.taskID.value = taskID
        status.agentID.value = "agent-1"
        status.state = state
        status.source = .executor
        status.uuid = uuid
        status.timestamp = Date().timeIntervalSince1970
        return status
    }
}

/// Runs the scheduler, its consumer loop and a lifecycle observer, and records what they saw.
private final class Harness: Sendable {
    private struct Recorded {
        var events: [SchedulerEvent] = []
        var lifecycle: [SchedulerLifecycleEvent] = []
        var resubscribedAt: ContinuousClock.Instant?
    }

    private let recorded = LockedValue(Recorded())
    private let tasks = LockedValue<(scheduler: MesosScheduler, runner: Task<Void, any Error>, consumer: Task<Void, Never>, observer: Task<Void, Never>)?>(nil)

    func start(_ scheduler: MesosScheduler) {
        let lifecycle = scheduler.lifecycleEvents()
        let events = scheduler.events
        let observer = Task {
            for await event in lifecycle {
                let now = ContinuousClock.now
                self.recorded.withLock { recorded in
                    recorded.lifecycle.append(event)
                    if case .resubscribed = event, recorded.resubscribedAt == nil { recorded.resubscribedAt = now }
                }
            }
        }
        let consumer = Task {
            do {
                for try await event in events {
                    if case .heartbeat = event { continue }
                    self.recorded.withLock { $0.events.append(event) }
                }
            } catch {}
        }
        let runner = Task { try await scheduler.run() }
        self.tasks.withLock { $0 = (scheduler, runner, consumer, observer) }
    }

    func stop() async {
        guard let tasks = self.tasks.withLock({ value in defer { value = nil }; return value }) else { return }
        tasks.scheduler.disconnect()
        _ = await tasks.runner.result
        tasks.consumer.cancel()
        await tasks.consumer.value
        await tasks.observer.value
    }

    var updates: [TaskStatus] {
        self.recorded.withLock { $0.events }.compactMap { if case .update(let status) = $0 { status } else { nil } }
    }

    var subscribedEvents: [SchedulerEvent.Subscribed] {
        self.recorded.withLock { $0.events }.compactMap { if case .subscribed(let subscribed) = $0 { subscribed } else { nil } }
    }

    var lifecycle: [SchedulerLifecycleEvent] {
        self.recorded.withLock { $0.lifecycle }
    }

    var resubscribedAt: ContinuousClock.Instant? {
        self.recorded.withLock { $0.resubscribedAt }
    }

    struct Timeout: Error, CustomStringConvertible {
        let description: String
    }

    /// Waits until `condition` holds, polling.
    func eventually(_ what: String, timeout: Duration = .seconds(60), _ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while !condition() {
            guard ContinuousClock.now < deadline else {
                throw Timeout(description: "timed out waiting for \(what); lifecycle: \(self.lifecycle)")
            }
            try await Task.sleep(for: .milliseconds(5))
        }
    }
}
