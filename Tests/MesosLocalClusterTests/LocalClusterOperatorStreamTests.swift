import Foundation
import MesosCore
import MesosOperator
import MesosRecordIO
import MesosScheduler
import MesosTestKit
import Testing

@testable import MesosLocalCluster

/// The local cluster's operator event stream (SUBSCRIBE on `/api/v1`), through MesosOperator's event stream and
/// `ClusterState` mirror, and as raw RecordIO.
@Suite("Local cluster: operator event stream", .timeLimit(.minutes(2)))
struct LocalClusterOperatorStreamTests {
    static func client(_ cluster: LocalCluster, _ contentType: MesosContentType = .protobuf) -> MesosMasterOperator {
        MesosMasterOperator(
            master: cluster.masterLocation,
            configuration: MesosOperatorConfiguration(transport: cluster.transport, contentType: contentType, maximumAttempts: 1))
    }

    /// One subscription that is not subscribed again when it ends (the tests want to see the end).
    static let once = OperatorEventStreamConfiguration(maximumReconnectAttempts: 0)

    static func subscriberCount(_ cluster: LocalCluster) -> Int {
        cluster.master.state.withLock { $0.operatorSubscribers.count }
    }

    /// A raw SUBSCRIBE on `/api/v1`: the response head and the RecordIO body.
    static func rawSubscribe(_ cluster: LocalCluster, accept: String = "application/json") async throws -> (MesosHTTPResponse, MesosResponseBody?) {
        try await cluster.transport.send(MesosHTTPRequest(
            url: cluster.masterURL.appendingPathComponent("api/v1"),
            headers: ["Content-Type": "application/json", "Accept": accept],
            body: Array(#"{"type":"SUBSCRIBE"}"#.utf8)))
    }

    /// Subscribes a framework with raw JSON (no scheduler library), returning the response body to keep it open.
    static func rawFramework(_ cluster: LocalCluster, name: String) async throws -> MesosResponseBody? {
        let subscribe = #"{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"alice","name":"\#(name)","roles":["*"],"capabilities":[{"type":"MULTI_ROLE"}]}}}"#
        let (head, body) = try await cluster.transport.send(MesosHTTPRequest(
            url: cluster.masterURL.appendingPathComponent("api/v1/scheduler"),
            headers: ["Content-Type": "application/json", "Accept": "application/json"],
            body: Array(subscribe.utf8)))
        #expect(head.status == 200)
        return body
    }

    /// What the mirror showed for one task, event by event.
    struct Observation: Sendable, Equatable {
        var event: String
        var state: TaskState?
    }

    @Test("a task launched by a scheduler goes TASK_ADDED(TASK_STAGING) → TASK_UPDATED(TASK_FINISHED) in the ClusterState mirror",
          arguments: [MesosContentType.protobuf, .json])
    func mirrorSeesTaskLifecycle(contentType: MesosContentType) async throws {
        let cluster = LocalCluster(configuration: try Harness.configuration(agents: 2))
        let client = Self.client(cluster, contentType)
        let (subscribed, subscribedSignal) = AsyncStream.makeStream(of: Int.self)
        let mirror = Task { () throws -> (observations: [Observation], final: ClusterState?) in
            var observations: [Observation] = []
            for try await update in client.clusterState(Self.once) {
                switch update.event {
                case .subscribed:
                    subscribedSignal.yield(update.state.agentCount)
                case .taskAdded(let task):
                    observations.append(Observation(
                        event: "TASK_ADDED",
                        state: update.state.task(frameworkID: task.frameworkID.value, taskID: task.taskID.value)?.state))
                case .taskUpdated(let change):
                    let state = update.state.task(frameworkID: change.frameworkID.value, taskID: change.status.taskID.value)?.state
                    observations.append(Observation(event: "TASK_UPDATED", state: state))
                    if state?.isTerminal == true {
                        return (observations, update.state)
                    }
                default:
                    continue
                }
            }
            return (observations, nil)
        }
        defer { mirror.cancel() }
        var signals = subscribed.makeAsyncIterator()
        #expect(await signals.next() == 2, "the SUBSCRIBED snapshot has the cluster's two agents")

        let scheduler = Harness.scheduler(cluster, "mirrored")
        let (status, frameworkID) = try await scheduler.withWatchedSubscription { events in
            var reader = EventReader(events)
            let offer = try #require(try await reader.offers().first)
            try await scheduler.accept(offer, operations: [.launch([Harness.task("mirrored-1", command: "true", offer: offer)])])
            let statuses = try await reader.updatesUntilTerminal(for: "mirrored-1")
            return (statuses.last, scheduler.status.frameworkID)
        }
        #expect(status?.state == .taskFinished)
        let seen = try await mirror.value
        #expect(seen.observations.first == Observation(event: "TASK_ADDED", state: .taskStaging))
        #expect(seen.observations.dropFirst().map(\.event).allSatisfy { $0 == "TASK_UPDATED" })
        #expect(seen.observations.dropFirst().map(\.state) == [.taskStarting, .taskRunning, .taskFinished])
        let final = try #require(seen.final)
        let framework = try #require(frameworkID)
        let task = try #require(final.task(frameworkID: framework.value, taskID: "mirrored-1"))
        #expect(task.agentID == status?.agentID)
        #expect(final.framework(framework.value)?.frameworkInfo.name == "mirrored")
        await cluster.shutdown()
    }

    @Test("two subscribers each get SUBSCRIBED, HEARTBEAT, then FRAMEWORK_ADDED, FRAMEWORK_UPDATED and FRAMEWORK_REMOVED in order")
    func severalSubscribersSeeFrameworkEvents() async throws {
        let cluster = LocalCluster(configuration: try Harness.configuration())
        let client = Self.client(cluster, .json)
        var first = client.events(Self.once).makeAsyncIterator()
        var second = Self.client(cluster, .protobuf).events(Self.once).makeAsyncIterator()
        for index in 0..<2 {
            let subscribed = try await (index == 0 ? first.next() : second.next())
            guard case .subscribed(let snapshot) = try #require(subscribed) else {
                Issue.record("the first event is not SUBSCRIBED: \(String(describing: subscribed))")
                return
            }
            #expect(snapshot.heartbeatIntervalSeconds == 15)
            #expect(snapshot.getState.getAgents.agents.map(\.agentInfo.id) == cluster.agentIDs)
            let heartbeat = try await (index == 0 ? first.next() : second.next())
            guard case .heartbeat = try #require(heartbeat) else {
                Issue.record("the second event is not HEARTBEAT: \(String(describing: heartbeat))")
                return
            }
        }
        #expect(Self.subscriberCount(cluster) == 2)

        let info = Harness.frameworkInfo("watched")
        let scheduler = Harness.scheduler(cluster, "watched", info: info)
        try await scheduler.withWatchedSubscription { events in
            var reader = EventReader(events)
            _ = try await reader.offers()
            var updated = info
            updated.name = "watched-renamed"
            try await scheduler.updateFramework(updated)
            try await scheduler.teardown()
        }
        for index in 0..<2 {
            var names: [String] = []
            while names.count < 3, let event = try await (index == 0 ? first.next() : second.next()) {
                switch event {
                case .frameworkAdded(let framework): names.append("ADDED \(framework.frameworkInfo.name) \(framework.active)")
                case .frameworkUpdated(let framework): names.append("UPDATED \(framework.frameworkInfo.name)")
                case .frameworkRemoved(let removed): names.append("REMOVED \(removed.name)")
                default: continue
                }
            }
            #expect(names == ["ADDED watched true", "UPDATED watched-renamed", "REMOVED watched-renamed"], "subscriber \(index)")
        }
        await cluster.shutdown()
    }

    @Test("HEARTBEAT at once, then every heartbeat interval on the cluster's clock, not a moment before")
    func heartbeatsOnTheClusterClock() async throws {
        let clock = ManualClock()
        var configuration = try Harness.configuration()
        configuration.clock = clock
        let cluster = LocalCluster(configuration: configuration)
        var events = Self.client(cluster).events(Self.once).makeAsyncIterator()
        guard case .subscribed = try #require(try await events.next()) else { Issue.record("no SUBSCRIBED"); return }
        guard case .heartbeat = try #require(try await events.next()) else { Issue.record("no HEARTBEAT"); return }

        clock.advance(by: .milliseconds(14_990))
        cluster.master.tick()
        // A framework subscribing now is the next event: no heartbeat was due.
        let body = try await Self.rawFramework(cluster, name: "early")
        guard case .frameworkAdded(let framework) = try #require(try await events.next()) else {
            Issue.record("a HEARTBEAT came before the interval passed")
            return
        }
        #expect(framework.frameworkInfo.name == "early")

        clock.advance(by: .milliseconds(10))
        cluster.master.tick()
        guard case .heartbeat = try #require(try await events.next()) else { Issue.record("no HEARTBEAT after 15 s"); return }
        clock.advance(by: .seconds(15))
        cluster.master.tick()
        guard case .heartbeat = try #require(try await events.next()) else { Issue.record("no HEARTBEAT after 30 s"); return }
        withExtendedLifetime(body) {}
        await cluster.shutdown()
    }

    @Test("a subscriber that reads nothing keeps at most the queue limit, then its stream ends; the master forgets it")
    func slowSubscriberIsDropped() async throws {
        let clock = ManualClock()
        var configuration = try Harness.configuration()
        configuration.clock = clock
        configuration.operatorEventQueueLimit = 4
        let cluster = LocalCluster(configuration: configuration)
        let (head, body) = try await Self.rawSubscribe(cluster)
        #expect(head.status == 200)
        #expect(head.headers["Content-Type"] == "application/json")
        #expect(head.headers["Mesos-Stream-Id"] == nil)
        #expect(Self.subscriberCount(cluster) == 1)
        // SUBSCRIBED and HEARTBEAT are queued; three more heartbeats overflow the queue of 4.
        for _ in 0..<3 {
            clock.advance(by: .seconds(15))
            cluster.master.tick()
        }
        #expect(Self.subscriberCount(cluster) == 0)
        var types: [String] = []
        for try await record in try #require(body).recordIORecords() {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(record)) as? [String: Any])
            types.append(try #require(object["type"] as? String))
        }
        #expect(types == ["SUBSCRIBED", "HEARTBEAT", "HEARTBEAT", "HEARTBEAT"])
        await cluster.shutdown()
    }

    @Test("a subscriber that goes away is forgotten; SUBSCRIBE answers protobuf when asked")
    func goneSubscriberIsCleanedUp() async throws {
        let cluster = LocalCluster(configuration: try Harness.configuration())
        do {
            let (head, body) = try await Self.rawSubscribe(cluster, accept: "application/x-protobuf")
            #expect(head.headers["Content-Type"] == "application/x-protobuf")
            var iterator = try #require(body).recordIORecords().makeAsyncIterator()
            let record = try #require(try await iterator.next())
            let event = try MesosCodec(.protobuf).decode(Mesos_V1_Master_Event.self, from: record)
            #expect(event.type == .subscribed)
            #expect(Self.subscriberCount(cluster) == 1)
        }
        // The body and its iterator are gone: the connection is closed.
        #expect(await Harness.eventually { Self.subscriberCount(cluster) == 0 })
        await cluster.shutdown()
    }
}
