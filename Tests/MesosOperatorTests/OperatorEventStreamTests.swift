import Foundation
import MesosCore
@testable import MesosOperator
import MesosTestKit
import Testing

/// A fake master serving a scripted operator event stream in memory, and a client on a manual clock.
struct StreamFixture {
    let master = FakeMaster()
    let feed: FakeOperatorEventFeed
    let clock = ManualClock()
    let client: MesosMasterOperator
    let disconnections = LockedValue<[OperatorStreamDisconnection]>([])

    init(contentType: MesosContentType = .json, snapshot: MasterState = MasterState(), heartbeatIntervalSeconds: Double = 15) async {
        self.feed = FakeOperatorEventFeed(snapshot: snapshot, heartbeatIntervalSeconds: heartbeatIntervalSeconds)
        await self.master.serveOperatorEvents(self.feed)
        let configuration = MesosOperatorConfiguration(
            transport: self.master.transport, contentType: contentType, clock: self.clock)
        self.client = MesosMasterOperator(master: MasterLocation(host: "fake-master", port: 5050), configuration: configuration)
    }

    /// The stream's configuration: no jitter (delays are the backoff's ceilings), disconnections recorded.
    func configuration(tolerance: Int = 5, maximumAttempts: Int? = nil) -> OperatorEventStreamConfiguration {
        let log = self.disconnections
        return OperatorEventStreamConfiguration(
            reconnectBackoff: BackoffPolicy(initial: .milliseconds(500), maximum: .seconds(8), jitter: false),
            heartbeatTolerance: tolerance,
            maximumReconnectAttempts: maximumAttempts,
            onDisconnect: { disconnection in log.withLock { $0.append(disconnection) } })
    }

    /// Reads `count` events on a task of its own.
    func read<S: AsyncSequence & Sendable>(_ count: Int, from sequence: S) -> Task<[S.Element], any Error>
    where S.Element: Sendable {
        Task {
            var iterator = sequence.makeAsyncIterator()
            var elements: [S.Element] = []
            while elements.count < count, let element = try await iterator.next() {
                elements.append(element)
            }
            return elements
        }
    }
}

extension MasterEvent {
    static func of(_ event: OperatorEvent) -> MasterEvent { event.message }
}

@Suite("The operator event stream", .timeLimit(.minutes(1)))
struct OperatorEventStreamTests {
    @Test("records decode into typed events, in JSON and in protobuf", arguments: [MesosContentType.json, .protobuf])
    func decodesBothEncodings(contentType: MesosContentType) async throws {
        let snapshot = Cluster.snapshot(agents: [Cluster.agent("S1")], frameworks: [Cluster.framework("F1")])
        let fixture = await StreamFixture(contentType: contentType, snapshot: snapshot)
        let reader = fixture.read(9, from: fixture.client.events(fixture.configuration()))
        await fixture.feed.waitForSubscriptions(1)
        var info = FrameworkInfo()
        info.id.value = "F1"
        await fixture.feed.publish([
            .of(.taskAdded(Cluster.task("t1"))),
            .of(Cluster.updated("t1", .taskRunning, uuid: [9, 9])),
            .of(.agentAdded(Cluster.agent("S2"))),
            .of(.agentRemoved(AgentID("S2"))),
            .of(.frameworkAdded(Cluster.framework("F2"))),
            .of(.frameworkUpdated(Cluster.framework("F2", name: "again"))),
            .of(.frameworkRemoved(info)),
        ])
        let events = try await reader.value
        #expect(events.map(\.typeName) == [
            "SUBSCRIBED", "HEARTBEAT", "TASK_ADDED", "TASK_UPDATED", "AGENT_ADDED", "AGENT_REMOVED",
            "FRAMEWORK_ADDED", "FRAMEWORK_UPDATED", "FRAMEWORK_REMOVED",
        ])
        guard case .subscribed(let subscribed) = events[0], case .taskUpdated(let update) = events[3],
            case .frameworkUpdated(let framework) = events[7]
        else {
            Issue.record("unexpected events \(events)")
            return
        }
        #expect(subscribed.heartbeatIntervalSeconds == 15)
        #expect(subscribed.getState.getAgents.agents.map(\.agentInfo.id.value) == ["S1"])
        #expect(update.status.uuid == Data([9, 9]))
        #expect(update.state == .taskRunning)
        #expect(framework.frameworkInfo.name == "again")
        #expect(fixture.feed.subscriptionCount == 1)
    }

    @Test("Mesos's own JSON sample of TASK_UPDATED decodes, and unknown event types become .unknown")
    func samplesAndUnknownTypes() throws {
        let sample = #"{"type":"TASK_UPDATED","task_updated":{"framework_id":{"value":"b3c1d2e4-5f60-4a7b-8c9d-0e1f2a3b4c5d-0007"},"status":{"task_id":{"value":"etl-42"},"state":"TASK_KILLED","message":"Command terminated with signal Terminated","source":"SOURCE_EXECUTOR","agent_id":{"value":"b3c1d2e4-5f60-4a7b-8c9d-0e1f2a3b4c5d-S3"},"executor_id":{"value":"swift-exec-1"},"timestamp":1732262999.75,"uuid":"xKHi81tsTX6PkKGyw9Tl9g==","container_status":{"container_id":{"value":"7a9c1e52-3f4b-4d2a-9c8e-1b2d3f4a5b6c"}}},"state":"TASK_KILLED"}}"#
        guard case .taskUpdated(let update) = try OperatorEvent.decode(Array(sample.utf8), as: .json) else {
            Issue.record("not a TASK_UPDATED")
            return
        }
        #expect(update.status.taskID.value == "etl-42")
        #expect(update.state == .taskKilled)
        #expect(update.status.uuid.count == 16)

        let json = try OperatorEvent.decode(Array(#"{"type":"SOMETHING_NEW","something_new":{"x":1}}"#.utf8), as: .json)
        #expect(json.typeName == "UNKNOWN")
        // Field 1 (type) = 42, a value this library does not know.
        let protobuf = try OperatorEvent.decode([0x08, 42], as: .protobuf)
        #expect(protobuf.typeName == "UNKNOWN")
        // A known type without its message is surfaced as unknown too, not as an empty event.
        let hollow = try OperatorEvent.decode(Array(#"{"type":"TASK_ADDED"}"#.utf8), as: .json)
        #expect(hollow.typeName == "UNKNOWN")
        #expect(throws: MesosError.self) { try OperatorEvent.decode(Array("{not json".utf8), as: .json) }
        // The heartbeat record of EXECUTOR-OPERATOR.md §5.
        #expect(try OperatorEvent.decode(Array(#"{"type":"HEARTBEAT"}"#.utf8), as: .json).typeName == "HEARTBEAT")
    }

    @Test("an unknown event on the wire is handed on and the stream goes on", arguments: [MesosContentType.json, .protobuf])
    func unknownEventIsNotFatal(contentType: MesosContentType) async throws {
        let fixture = await StreamFixture(contentType: contentType)
        let reader = fixture.read(4, from: ClusterStateMirror(events: fixture.client.events(fixture.configuration())))
        await fixture.feed.waitForSubscriptions(1)
        let unknown: [UInt8] = contentType == .json ? Array(#"{"type":"SOMETHING_NEW"}"#.utf8) : [0x08, 42]
        await fixture.feed.publish(raw: RecordIOEncoderBridge.frame(unknown), to: contentType)
        await fixture.feed.publish([.of(.taskAdded(Cluster.task("t1")))])
        let updates = try await reader.value
        #expect(updates.map(\.event.typeName) == ["SUBSCRIBED", "HEARTBEAT", "UNKNOWN", "TASK_ADDED"])
        #expect(updates[2].state.ignoredEventCount == 1)
        #expect(updates[3].state.taskCount == 1)
        #expect(fixture.feed.subscriptionCount == 1)
    }

    @Test("after EOF the stream subscribes again after the backoff, and the mirror is rebuilt from the new snapshot")
    func reconnectResyncs() async throws {
        let first = Cluster.snapshot(agents: [Cluster.agent("S1")], tasks: [Cluster.task("a", state: .taskRunning)])
        let fixture = await StreamFixture(snapshot: first)
        let mirror = ClusterStateMirror(events: fixture.client.events(fixture.configuration()))
        let reader = fixture.read(5, from: mirror)
        await fixture.feed.waitForSubscriptions(1)
        await fixture.feed.publish([.of(.taskAdded(Cluster.task("b")))])
        fixture.feed.snapshot = Cluster.snapshot(agents: [Cluster.agent("S7")], tasks: [Cluster.task("z", agent: "S7", state: .taskRunning)])
        fixture.feed.closeSubscriptions()
        // The first attempt after a stream that had subscribed waits the backoff's first delay.
        await fixture.clock.waitForDeadline(.milliseconds(500))
        #expect(fixture.feed.subscriptionCount == 1)
        fixture.clock.advance(by: .milliseconds(500))
        let updates = try await reader.value
        #expect(updates.map(\.event.typeName) == ["SUBSCRIBED", "HEARTBEAT", "TASK_ADDED", "SUBSCRIBED", "HEARTBEAT"])
        #expect(updates[2].state.tasks().map(\.taskID.value) == ["a", "b"])
        #expect(updates[3].state.tasks().map(\.taskID.value) == ["z"])
        #expect(updates[3].state.agents.map(\.agentInfo.id.value) == ["S7"])
        #expect(fixture.feed.subscriptionCount == 2)
        let lost = fixture.disconnections.withLock { $0 }
        #expect(lost.map(\.reason.code) == [.streamEnded])
        #expect(lost.map(\.retryAfter) == [.milliseconds(500)])
        #expect(lost.first?.wasSubscribed == true)
    }

    @Test("silence longer than the advertised heartbeat interval × tolerance ends the stream, which resubscribes")
    func heartbeatWatchdog() async throws {
        let fixture = await StreamFixture(heartbeatIntervalSeconds: 1)
        let reader = fixture.read(4, from: fixture.client.events(fixture.configuration(tolerance: 3)))
        await fixture.feed.waitForSubscriptions(1)
        // SUBSCRIBED advertised 1 s: the watchdog now waits for 3 s of silence, not the 75 s allowed for SUBSCRIBED.
        await fixture.clock.waitForDeadline(.seconds(3))
        #expect(fixture.clock.pendingDeadlines == [.seconds(3)])
        fixture.clock.advance(by: .seconds(3))
        await fixture.clock.waitForDeadline(.milliseconds(3500))
        fixture.clock.advance(by: .milliseconds(500))
        let events = try await reader.value
        #expect(events.map(\.typeName) == ["SUBSCRIBED", "HEARTBEAT", "SUBSCRIBED", "HEARTBEAT"])
        let lost = fixture.disconnections.withLock { $0 }
        #expect(lost.map(\.reason.code) == [.heartbeatTimeout])
        #expect(fixture.feed.subscriptionCount == 2)
    }

    @Test("a heartbeat resets the watchdog")
    func heartbeatKeepsStreamAlive() async throws {
        let fixture = await StreamFixture(heartbeatIntervalSeconds: 1)
        var events = fixture.client.events(fixture.configuration(tolerance: 3)).makeAsyncIterator()
        var seen: [String] = []
        for _ in 0..<2 { seen.append(try await events.next()?.typeName ?? "end") }
        await fixture.clock.waitForDeadline(.seconds(3))
        fixture.clock.advance(by: .seconds(2))
        await fixture.feed.publish([.of(.heartbeat), .of(.heartbeat)])
        for _ in 0..<2 { seen.append(try await events.next()?.typeName ?? "end") }
        // Past the first deadline (3 s) but within 3 s of the heartbeats: the subscription must still be the first.
        fixture.clock.advance(by: .seconds(2))
        await fixture.feed.publish([.of(.taskAdded(Cluster.task("t1")))])
        seen.append(try await events.next()?.typeName ?? "end")
        #expect(seen == ["SUBSCRIBED", "HEARTBEAT", "HEARTBEAT", "HEARTBEAT", "TASK_ADDED"])
        #expect(fixture.disconnections.withLock { $0 }.isEmpty)
        #expect(fixture.feed.subscriptionCount == 1)
    }

    @Test("refusals are retried with growing delays on the client's clock until the master answers")
    func backoffGrows() async throws {
        let fixture = await StreamFixture()
        await fixture.master.inject(.noLeader, matching: .any, times: 3)
        let reader = fixture.read(1, from: fixture.client.events(fixture.configuration()))
        var now = Duration.zero
        for delay in [Duration.milliseconds(500), .seconds(1), .seconds(2)] {
            now += delay
            await fixture.clock.waitForDeadline(now)
            fixture.clock.advance(by: delay)
        }
        let events = try await reader.value
        #expect(events.map(\.typeName) == ["SUBSCRIBED"])
        let lost = fixture.disconnections.withLock { $0 }
        #expect(lost.map(\.reason.code) == [.unavailable, .unavailable, .unavailable])
        #expect(lost.map(\.attempt) == [1, 2, 3])
        #expect(lost.map(\.retryAfter) == [.milliseconds(500), .seconds(1), .seconds(2)])
    }

    @Test("a refusal no retry can cure ends the stream with the master's status")
    func permanentRefusal() async throws {
        let fixture = await StreamFixture()
        await fixture.master.inject(.respond(.text(401, "Unauthorized")), matching: .any, times: 1)
        let refused = await fixture.read(1, from: fixture.client.events(fixture.configuration())).result
        guard case .failure(let error as MesosError) = refused else {
            Issue.record("expected a MesosError, got \(refused)")
            return
        }
        #expect(error.code == .unauthenticated)
        #expect(error.httpStatus == 401)
        // The fault was used up: a new stream subscribes.
        let events = try await fixture.read(1, from: fixture.client.events(fixture.configuration())).value
        #expect(events.map(\.typeName) == ["SUBSCRIBED"])
        #expect(fixture.disconnections.withLock { $0 }.isEmpty)
    }

    @Test("after the configured number of retries the last failure is thrown")
    func attemptsAreBounded() async throws {
        let fixture = await StreamFixture()
        await fixture.master.inject(.noLeader, matching: .any, times: nil)
        let reader = fixture.read(1, from: fixture.client.events(fixture.configuration(maximumAttempts: 2)))
        await fixture.clock.waitForDeadline(.milliseconds(500))
        fixture.clock.advance(by: .milliseconds(500))
        await fixture.clock.waitForDeadline(.milliseconds(1500))
        fixture.clock.advance(by: .seconds(1))
        let result = await reader.result
        guard case .failure(let error as MesosError) = result else {
            Issue.record("expected a MesosError, got \(result)")
            return
        }
        #expect(error.code == .unavailable)
        // Two retries after the first failure; the third failure ends the stream without a callback.
        #expect(fixture.disconnections.withLock { $0 }.count == 2)
    }

    @Test("a record that is not an event ends that subscription, not the stream")
    func malformedRecordReconnects() async throws {
        let fixture = await StreamFixture()
        let reader = fixture.read(3, from: fixture.client.events(fixture.configuration()))
        await fixture.feed.waitForSubscriptions(1)
        await fixture.feed.publish(raw: RecordIOEncoderBridge.frame(Array("{oops".utf8)), to: .json)
        await fixture.clock.waitForDeadline(.milliseconds(500))
        fixture.clock.advance(by: .milliseconds(500))
        let events = try await reader.value
        #expect(events.map(\.typeName) == ["SUBSCRIBED", "HEARTBEAT", "SUBSCRIBED"])
        #expect(fixture.disconnections.withLock { $0 }.map(\.reason.code) == [.decodingFailed])
    }
}

/// RecordIO framing for raw test records: the length in decimal, a newline, the bytes.
enum RecordIOEncoderBridge {
    static func frame(_ record: [UInt8]) -> [UInt8] {
        Array("\(record.count)\n".utf8) + record
    }
}
