import Foundation
import MesosCore
@testable import MesosOperator
import SwiftProtobuf
import Testing

/// The purpose-built protobuf decoder of operator events must give exactly what swift-protobuf gives for the
/// same bytes: every field it reads, every field it hands to swift-protobuf, unknown fields and enum values kept
/// the way swift-protobuf keeps them, and malformed input declined.
@Suite struct FastOperatorEventDecoderTests {
    // MARK: - Builders

    /// Raw protobuf pieces, to write what the generated types cannot (unknown fields, unknown enum values).
    enum Wire {
        static func varint(_ value: UInt64) -> [UInt8] {
            var value = value
            var bytes: [UInt8] = []
            while value >= 0x80 {
                bytes.append(UInt8(value & 0x7F) | 0x80)
                value >>= 7
            }
            bytes.append(UInt8(value))
            return bytes
        }

        static func field(_ number: UInt64, varint value: UInt64) -> [UInt8] {
            varint(number << 3) + varint(value)
        }

        static func field(_ number: UInt64, bytes value: [UInt8]) -> [UInt8] {
            varint(number << 3 | 2) + varint(UInt64(value.count)) + value
        }
    }

    static func richResource(_ index: Int) -> Resource {
        var resource = Resource()
        switch index % 4 {
        case 0:
            resource.name = "cpus"
            resource.type = .scalar
            resource.scalar.value = 0.25 * Double(index + 1)
            resource.allocationInfo.role = "batch"
        case 1:
            resource.name = "ports"
            resource.type = .ranges
            var range = Mesos_V1_Value.Range()
            range.begin = 31_000
            range.end = 31_000 + UInt64(index)
            resource.ranges.range = [range, range]
            var reservation = Resource.ReservationInfo()
            reservation.type = .dynamic
            reservation.role = "batch"
            reservation.principal = "ops"
            var label = Mesos_V1_Label()
            label.key = "k"
            label.value = "v\(index)"
            reservation.labels.labels = [label]
            resource.reservations = [reservation]
        case 2:
            resource.name = "disk"
            resource.type = .scalar
            resource.scalar.value = 1024
            resource.disk.persistence.id = "vol-\(index)"
            resource.disk.volume.containerPath = "data"
            resource.disk.volume.mode = .rw
            resource.role = "batch"
            resource.shared = Resource.SharedInfo()
        default:
            resource.name = "gpus-é"  // not ASCII: the validating path
            resource.type = .set
            resource.set.item = ["a", "b", ""]
            resource.revocable = Resource.RevocableInfo()
            resource.providerID.value = "rp-1"
        }
        return resource
    }

    static func richStatus(_ index: Int, state: TaskState = .taskRunning) -> TaskStatus {
        var status = TaskStatus()
        status.taskID.value = "task-\(index)"
        status.state = state
        status.agentID.value = "S\(index % 3)"
        status.timestamp = 1_700_000_000.5 + Double(index)
        status.source = .executor
        status.uuid = Data((0..<16).map { UInt8(truncatingIfNeeded: index &+ $0) })
        if index % 2 == 0 {
            status.data = Data([0, 1, 2, 255])
            status.message = "message ✓ \(index)"
            status.executorID.value = "exec-\(index)"
            status.healthy = index % 4 == 0
            status.reason = .taskHealthCheckStatusUpdated
            var label = Mesos_V1_Label()
            label.key = "origin"
            status.labels.labels = [label]
            status.containerStatus.containerID.value = "c-\(index)"
            status.containerStatus.executorPid = UInt32(1000 + index)
            status.unreachableTime.nanoseconds = -5
            status.checkStatus.type = .command
            status.checkStatus.command.exitCode = 3
            status.limitation.resources = [richResource(index)]
        }
        return status
    }

    static func richTask(_ index: Int, state: TaskState = .taskRunning) -> MesosTask {
        var task = MesosTask()
        task.name = "task \(index)"
        task.taskID.value = "task-\(index)"
        task.frameworkID.value = "F\(index % 2)"
        task.agentID.value = "S\(index % 3)"
        task.state = state
        task.resources = (0..<4).map { richResource(index + $0) }
        task.statuses = [richStatus(index, state: .taskStaging), richStatus(index + 1, state: state)]
        task.statusUpdateState = state
        task.statusUpdateUuid = Data([UInt8(index & 0xFF), 7])
        if index % 2 == 1 {
            task.executorID.value = "exec-\(index)"
            var label = Mesos_V1_Label()
            label.key = "team"
            label.value = "storage"
            task.labels.labels = [label, Mesos_V1_Label()]
            task.discovery.visibility = .framework
            task.discovery.name = "svc"
            task.container.type = .docker
            task.container.docker.image = "busybox"
            task.container.hostname = "h"
            task.user = "nobody"
            task.healthCheck.type = .tcp
            task.healthCheck.tcp.port = 80
            task.killPolicy.gracePeriod.nanoseconds = 5
        }
        if index % 5 == 4 {
            var limit = Mesos_V1_Value.Scalar()
            limit.value = 2
            task.limits = ["cpus": limit]  // a map: swift-protobuf takes this task
        }
        return task
    }

    static func richAgent(_ index: Int) -> MasterAgent {
        var agent = MasterAgent()
        agent.agentInfo.id.value = "S\(index)"
        agent.agentInfo.hostname = "agent-\(index)"
        agent.agentInfo.port = 5051
        agent.agentInfo.resources = [richResource(index), richResource(index + 1)]
        var attribute = Mesos_V1_Attribute()
        attribute.name = "rack"
        attribute.type = .text
        attribute.text.value = "r\(index)"
        agent.agentInfo.attributes = [attribute]
        agent.agentInfo.domain.faultDomain.region.name = "eu"
        agent.agentInfo.domain.faultDomain.zone.name = "eu-1"
        agent.active = index % 2 == 0
        agent.version = "1.11.0"
        agent.pid = "slave(1)@10.0.0.\(index):5051"
        agent.registeredTime.nanoseconds = 1_700_000_000_000_000_000
        agent.reregisteredTime.nanoseconds = 1_700_000_000_000_000_001
        agent.totalResources = [richResource(index), richResource(index + 1), richResource(index + 2)]
        agent.allocatedResources = [richResource(index + 3)]
        agent.offeredResources = [richResource(index)]
        var capability = Mesos_V1_AgentInfo.Capability()
        capability.type = .multiRole
        agent.capabilities = [capability, capability]
        var provider = MasterAgent.ResourceProvider()
        provider.resourceProviderInfo.type = "org.apache.mesos.rp.local.storage"
        provider.resourceProviderInfo.name = "lvm"
        provider.totalResources = [richResource(index)]
        agent.resourceProviders = [provider]
        agent.deactivated = index % 3 == 0
        agent.drainInfo.state = .draining
        agent.estimatedDrainStartTime.nanoseconds = 42
        return agent
    }

    static func richState(tasks: Int = 12, agents: Int = 4) -> MasterState {
        var state = MasterState()
        state.getTasks.tasks = (0..<tasks).map { richTask($0) }
        state.getTasks.pendingTasks = [richTask(100, state: .taskStaging)]
        state.getTasks.completedTasks = [richTask(101, state: .taskFinished), richTask(102, state: .taskFailed)]
        state.getTasks.orphanTasks = [richTask(103)]
        state.getTasks.unreachableTasks = [richTask(104, state: .taskUnreachable)]
        state.getAgents.agents = (0..<agents).map { richAgent($0) }
        var recovered = Mesos_V1_AgentInfo()
        recovered.hostname = "recovered"
        recovered.id.value = "S99"
        state.getAgents.recoveredAgents = [recovered]
        state.getFrameworks.frameworks = [Cluster.framework("F0"), Cluster.framework("F1", name: "second")]
        state.getFrameworks.completedFrameworks = [Cluster.framework("F9")]
        var executor = Mesos_V1_Master_Response.GetExecutors.Executor()
        executor.executorInfo.executorID.value = "exec-1"
        executor.executorInfo.command.value = "run"
        executor.agentID.value = "S1"
        state.getExecutors.executors = [executor]
        return state
    }

    static func events() -> [MasterEvent] {
        var events: [MasterEvent] = []
        var subscribed = MasterEvent()
        subscribed.type = .subscribed
        subscribed.subscribed.getState = richState()
        subscribed.subscribed.heartbeatIntervalSeconds = 15
        events.append(subscribed)
        var emptySnapshot = MasterEvent()
        emptySnapshot.type = .subscribed
        emptySnapshot.subscribed.getState = MasterState()
        events.append(emptySnapshot)
        for index in 0..<6 {
            var added = MasterEvent()
            added.type = .taskAdded
            added.taskAdded.task = richTask(index)
            events.append(added)
            var updated = MasterEvent()
            updated.type = .taskUpdated
            updated.taskUpdated.frameworkID.value = "F\(index % 2)"
            updated.taskUpdated.status = richStatus(index, state: .taskFinished)
            updated.taskUpdated.state = .taskFinished
            events.append(updated)
        }
        var agentAdded = MasterEvent()
        agentAdded.type = .agentAdded
        agentAdded.agentAdded.agent = richAgent(7)
        events.append(agentAdded)
        var agentRemoved = MasterEvent()
        agentRemoved.type = .agentRemoved
        agentRemoved.agentRemoved.agentID.value = "S7"
        events.append(agentRemoved)
        var frameworkAdded = MasterEvent()
        frameworkAdded.type = .frameworkAdded
        frameworkAdded.frameworkAdded.framework = Cluster.framework("F3")
        events.append(frameworkAdded)
        var frameworkUpdated = MasterEvent()
        frameworkUpdated.type = .frameworkUpdated
        frameworkUpdated.frameworkUpdated.framework = Cluster.framework("F3", name: "renamed")
        events.append(frameworkUpdated)
        var frameworkRemoved = MasterEvent()
        frameworkRemoved.type = .frameworkRemoved
        frameworkRemoved.frameworkRemoved.frameworkInfo = Cluster.framework("F3").frameworkInfo
        events.append(frameworkRemoved)
        var heartbeat = MasterEvent()
        heartbeat.type = .heartbeat
        events.append(heartbeat)
        // Missing optional fields: an event with a type and nothing else, messages present but empty.
        var bare = MasterEvent()
        bare.type = .taskUpdated
        events.append(bare)
        var empty = MasterEvent()
        empty.type = .taskUpdated
        empty.taskUpdated = MasterEvent.TaskUpdated()
        events.append(empty)
        var emptyTask = MasterEvent()
        emptyTask.type = .taskAdded
        emptyTask.taskAdded.task = MesosTask()
        events.append(emptyTask)
        events.append(MasterEvent())
        return events
    }

    static func reference(_ bytes: [UInt8]) throws -> MasterEvent {
        try MasterEvent(serializedBytes: bytes, partial: true)
    }

    // MARK: - Tests

    @Test func everyEventDecodesAsSwiftProtobufDoes() throws {
        for event in Self.events() {
            let bytes: [UInt8] = try event.serializedBytes(partial: true)
            let fast = try #require(FastOperatorEventDecoder.decode(bytes), "declined \(event.type)")
            #expect(fast == (try Self.reference(bytes)), "\(event.type)")
            #expect(fast == event)
        }
    }

    @Test func theSnapshotKeepsEveryListInOrder() throws {
        var event = MasterEvent()
        event.type = .subscribed
        event.subscribed.getState = Self.richState(tasks: 300, agents: 30)
        let bytes: [UInt8] = try event.serializedBytes(partial: true)
        let fast = try #require(FastOperatorEventDecoder.decode(bytes))
        #expect(fast.subscribed.getState.getTasks.tasks.map(\.taskID.value) == (0..<300).map { "task-\($0)" })
        #expect(fast.subscribed.getState.getAgents.agents.count == 30)
        #expect(fast == event)
        // Through the public entry point and the mirror: the same state as swift-protobuf's event gives.
        let typed = try OperatorEvent.decode(bytes, as: .protobuf)
        let state = ClusterState(subscribed: try #require(Self.subscribedPayload(typed)))
        let reference = ClusterState(subscribed: event.subscribed)
        #expect(state.taskCount == reference.taskCount)
        #expect(state.agents == reference.agents)
        #expect(state.task(frameworkID: "F1", taskID: "task-7") == reference.task(frameworkID: "F1", taskID: "task-7"))
    }

    static func subscribedPayload(_ event: OperatorEvent) -> MasterEvent.Subscribed? {
        if case .subscribed(let subscribed) = event { return subscribed }
        return nil
    }

    /// Unknown fields at every level the fast path reads: the element (or the record) goes to swift-protobuf,
    /// which keeps them in `unknownFields`; the result is the same message.
    @Test func unknownFieldsAreKeptAsSwiftProtobufKeepsThem() throws {
        let unknownVarint = Wire.field(99, varint: 7)
        let unknownBytes = Wire.field(1234, bytes: Array("x".utf8))
        let task: [UInt8] = try Self.richTask(0).serializedBytes(partial: true)
        let status: [UInt8] = try Self.richStatus(2).serializedBytes(partial: true)
        let agent: [UInt8] = try Self.richAgent(1).serializedBytes(partial: true)
        let resource: [UInt8] = try Self.richResource(0).serializedBytes(partial: true)
        let plainTask: [UInt8] = try Cluster.task("t").serializedBytes(partial: true)

        var records: [[UInt8]] = []
        // In a task of TASK_ADDED.
        records.append(Wire.field(1, varint: 2) + Wire.field(3, bytes: Wire.field(1, bytes: task + unknownVarint)))
        // In a resource of a task, and in an id of a task.
        records.append(
            Wire.field(1, varint: 2)
                + Wire.field(3, bytes: Wire.field(1, bytes: plainTask + Wire.field(7, bytes: resource + unknownBytes))))
        records.append(
            Wire.field(1, varint: 2)
                + Wire.field(3, bytes: Wire.field(1, bytes: plainTask + Wire.field(2, bytes: Wire.field(1, bytes: [0x61]) + unknownVarint))))
        // In the status of TASK_UPDATED, and in TASK_UPDATED itself.
        records.append(Wire.field(1, varint: 3) + Wire.field(4, bytes: Wire.field(2, bytes: status + unknownBytes)))
        records.append(Wire.field(1, varint: 3) + Wire.field(4, bytes: Wire.field(2, bytes: status) + unknownVarint))
        // In the event itself.
        records.append(Wire.field(1, varint: 9) + unknownVarint)
        // In a snapshot's task, agent, GetTasks, GetState and Subscribed.
        let getTasks = Wire.field(2, bytes: task) + Wire.field(2, bytes: task + unknownVarint) + Wire.field(5, bytes: plainTask)
        let getAgents = Wire.field(1, bytes: agent + unknownBytes) + Wire.field(1, bytes: agent)
        let getState = Wire.field(1, bytes: getTasks) + Wire.field(4, bytes: getAgents)
        records.append(Wire.field(1, varint: 1) + Wire.field(2, bytes: Wire.field(1, bytes: getState)))
        records.append(Wire.field(1, varint: 1) + Wire.field(2, bytes: Wire.field(1, bytes: Wire.field(1, bytes: getTasks + unknownVarint))))
        records.append(Wire.field(1, varint: 1) + Wire.field(2, bytes: Wire.field(1, bytes: getState + unknownBytes)))
        records.append(Wire.field(1, varint: 1) + Wire.field(2, bytes: Wire.field(1, bytes: getState) + unknownVarint))
        // In an agent of AGENT_ADDED (inside its agent_info).
        records.append(
            Wire.field(1, varint: 4)
                + Wire.field(5, bytes: Wire.field(1, bytes: Wire.field(1, bytes: Wire.field(1, bytes: Array("h".utf8)) + unknownVarint))))

        for record in records {
            let reference = try Self.reference(record)
            if let fast = FastOperatorEventDecoder.decode(record) {
                #expect(fast == reference)
            }
            // The public decoder gives swift-protobuf's value whatever path it took.
            let typed = try OperatorEvent.decode(record, as: .protobuf)
            #expect(typed.message == OperatorEvent(reference).message)
        }
        // The ones whose unknown field sits inside an element are still decoded by the fast path.
        #expect(FastOperatorEventDecoder.decode(records[0]) != nil)
        #expect(FastOperatorEventDecoder.decode(records[3]) != nil)
        #expect(FastOperatorEventDecoder.decode(records[6]) != nil)
        // Unknown fields somewhere reach `unknownFields` exactly as swift-protobuf puts them there.
        let snapshot = try #require(FastOperatorEventDecoder.decode(records[6]))
        #expect(!snapshot.subscribed.getState.getTasks.tasks[1].unknownFields.data.isEmpty)
        #expect(!snapshot.subscribed.getState.getAgents.agents[0].unknownFields.data.isEmpty)
    }

    /// Enum values a newer master may send: swift-protobuf keeps them as unknown fields of proto2 messages.
    @Test func unknownEnumValuesAreKeptAsSwiftProtobufKeepsThem() throws {
        let plainTask: [UInt8] = try Cluster.task("t").serializedBytes(partial: true)
        let status: [UInt8] = try Cluster.status("t", .taskRunning).serializedBytes(partial: true)
        let records: [[UInt8]] = [
            // An event type from the future: UNKNOWN with the number kept.
            Wire.field(1, varint: 77),
            // A task state from the future in TASK_UPDATED's state, in its status, in a task's status source.
            Wire.field(1, varint: 3) + Wire.field(4, bytes: Wire.field(2, bytes: status) + Wire.field(3, varint: 40)),
            Wire.field(1, varint: 3) + Wire.field(4, bytes: Wire.field(2, bytes: status + Wire.field(2, varint: 40))),
            Wire.field(1, varint: 2) + Wire.field(3, bytes: Wire.field(1, bytes: plainTask + Wire.field(6, varint: 41))),
            Wire.field(1, varint: 2)
                + Wire.field(3, bytes: Wire.field(1, bytes: plainTask + Wire.field(8, bytes: status + Wire.field(9, varint: 9)))),
            // A negative number (ten-byte varint) for a resource type.
            Wire.field(1, varint: 2)
                + Wire.field(3, bytes: Wire.field(1, bytes: plainTask + Wire.field(7, bytes: Wire.field(2, varint: UInt64(bitPattern: -2))))),
        ]
        for record in records {
            let reference = try Self.reference(record)
            if let fast = FastOperatorEventDecoder.decode(record) {
                #expect(fast == reference)
            }
            #expect(try OperatorEvent.decode(record, as: .protobuf).message == OperatorEvent(reference).message)
        }
        #expect(FastOperatorEventDecoder.decode(records[2]) != nil)
        if case .unknown = try OperatorEvent.decode(records[0], as: .protobuf) {} else {
            Issue.record("an unknown event type is not .unknown")
        }
    }

    /// Repeated singular fields (swift-protobuf merges messages and keeps the last scalar), interleaved repeated
    /// fields, and field order other than Mesos's.
    @Test func repeatedAndReorderedFieldsDecodeAsSwiftProtobufDoes() throws {
        let task: [UInt8] = try Self.richTask(1).serializedBytes(partial: true)
        let otherTask: [UInt8] = try Self.richTask(2).serializedBytes(partial: true)
        let status: [UInt8] = try Self.richStatus(2).serializedBytes(partial: true)
        let records: [[UInt8]] = [
            // TASK_ADDED's task twice: merged.
            Wire.field(1, varint: 2) + Wire.field(3, bytes: Wire.field(1, bytes: task) + Wire.field(1, bytes: otherTask)),
            // A task with its name twice and its task_id twice.
            Wire.field(1, varint: 2)
                + Wire.field(3, bytes: Wire.field(1, bytes: task + Wire.field(1, bytes: Array("again".utf8)) + Wire.field(2, bytes: Wire.field(1, bytes: [0x62])))),
            // The event type twice; TASK_UPDATED before the type.
            Wire.field(1, varint: 3) + Wire.field(1, varint: 2),
            Wire.field(4, bytes: Wire.field(3, varint: 1) + Wire.field(2, bytes: status)) + Wire.field(1, varint: 3),
            // Snapshot lists interleaved.
            Wire.field(1, varint: 1)
                + Wire.field(2, bytes: Wire.field(1, bytes: Wire.field(1, bytes:
                    Wire.field(2, bytes: task) + Wire.field(3, bytes: otherTask) + Wire.field(2, bytes: otherTask) + Wire.field(1, bytes: task)))),
        ]
        for record in records {
            let reference = try Self.reference(record)
            if let fast = FastOperatorEventDecoder.decode(record) {
                #expect(fast == reference)
            }
            #expect(try OperatorEvent.decode(record, as: .protobuf).message == OperatorEvent(reference).message)
        }
        #expect(FastOperatorEventDecoder.decode(records[3]) != nil)
        #expect(FastOperatorEventDecoder.decode(records[4]) != nil)
    }

    /// Property: for every truncation and many single-byte corruptions of real records, the fast path either
    /// declines or gives swift-protobuf's value, and the public decoder fails exactly when swift-protobuf does.
    @Test func corruptedRecordsNeverDiverge() throws {
        var random = SplitMix64(seed: 0x5eed_0f_0ae7)
        var accepted = 0
        for event in Self.events().prefix(16) {
            let bytes: [UInt8] = try event.serializedBytes(partial: true)
            var variants: [[UInt8]] = []
            for cut in stride(from: 0, to: bytes.count, by: max(1, bytes.count / 40)) {
                variants.append(Array(bytes[..<cut]))
            }
            for _ in 0..<60 {
                var corrupted = bytes
                let index = Int.random(in: 0..<corrupted.count, using: &random)
                corrupted[index] = UInt8.random(in: 0...255, using: &random)
                variants.append(corrupted)
            }
            for variant in variants {
                let reference = try? Self.reference(variant)
                let fast = FastOperatorEventDecoder.decode(variant)
                if let fast {
                    accepted += 1
                    #expect(fast == reference)
                }
                let typed = try? OperatorEvent.decode(variant, as: .protobuf)
                #expect((typed == nil) == (reference == nil))
                if let typed, let reference {
                    #expect(typed.message == OperatorEvent(reference).message)
                }
            }
        }
        #expect(accepted > 0)
    }

    /// A snapshot above the parallel threshold: its tasks are decoded on several threads, in wire order, with the
    /// per-task fallback to swift-protobuf still working; one task swift-protobuf cannot read declines the record.
    @Test func aLargeSnapshotDecodesInParallelInWireOrder() throws {
        let count = OperatorProtobufReader.parallelTaskThreshold + 123
        var event = MasterEvent()
        event.type = .subscribed
        event.subscribed.getState.getTasks.tasks = (0..<count).map { Self.richTask($0) }
        event.subscribed.getState.getTasks.completedTasks = (0..<40).map { Self.richTask(20_000 + $0, state: .taskFinished) }
        event.subscribed.getState.getAgents.agents = [Self.richAgent(1)]
        let bytes: [UInt8] = try event.serializedBytes(partial: true)
        let fast = try #require(FastOperatorEventDecoder.decode(bytes))
        #expect(fast == event)
        #expect(fast.subscribed.getState.getTasks.tasks.map(\.taskID.value) == (0..<count).map { "task-\($0)" })

        // Invalid UTF-8 in one task's name, after many plain and empty tasks: swift-protobuf rejects the record,
        // and so does the fast path.
        let badTask = Wire.field(2, bytes: Wire.field(1, bytes: [0x61, 0xFF, 0xFE]))
        let emptyTasks = (0..<(count / 10)).flatMap { _ in Wire.field(2, bytes: []) }
        let plain: [UInt8] = try Cluster.task("t").serializedBytes(partial: true)
        let manyPlain = (0..<count).flatMap { _ in Wire.field(2, bytes: plain) }
        let record = Wire.field(1, varint: 1)
            + Wire.field(2, bytes: Wire.field(1, bytes: Wire.field(1, bytes: manyPlain + emptyTasks + badTask)))
        #expect((try? Self.reference(record)) == nil)
        #expect(FastOperatorEventDecoder.decode(record) == nil)
        #expect(throws: MesosError.self) { try OperatorEvent.decode(record, as: .protobuf) }
    }

    /// A record that is a slice of a larger buffer (as the RecordIO decoder hands them out) decodes the same.
    @Test func slicesAndNonContiguousCollectionsDecode() throws {
        var event = MasterEvent()
        event.type = .taskUpdated
        event.taskUpdated.frameworkID.value = "F1"
        event.taskUpdated.status = Self.richStatus(4)
        event.taskUpdated.state = .taskRunning
        let bytes: [UInt8] = try event.serializedBytes(partial: true)
        let padded = [1, 2, 3] + bytes + [4, 5]
        #expect(FastOperatorEventDecoder.decode(padded[3..<(3 + bytes.count)]) == event)
        #expect(FastOperatorEventDecoder.decode(Data(bytes)) == event)
        #expect(FastOperatorEventDecoder.decode(bytes.lazy.map { $0 }) == event)
    }
}
