import Dispatch
import Foundation
import MesosCore
import SwiftProtobuf

/// A purpose-built protobuf (binary) decoder for the master's operator events (`mesos.v1.master.Event`).
///
/// It fills the same generated types swift-protobuf does and must give an EQUAL value for every input it
/// accepts. It reads the events a cluster mirror lives on (SUBSCRIBED with its `GetState`, TASK_ADDED,
/// TASK_UPDATED, AGENT_ADDED/REMOVED, FRAMEWORK_*, HEARTBEAT) and the messages that make up most of their bytes
/// (tasks, statuses, resources, agents) field by field.
///
/// Giving up is local: anything it does not decode itself inside an element of a repeated field (a task, a
/// status, a resource, an agent) — a field it does not know (swift-protobuf would keep it in `unknownFields`), an
/// enum value the generated type does not know, a singular field seen twice (swift-protobuf would merge or
/// overwrite), an unexpected wire type, invalid UTF-8 — makes it decode that one element's bytes with
/// swift-protobuf instead, which gives the same value as decoding it inside the whole record (a repeated
/// message field's elements are parsed independently). Messages it never reads itself (containers, health
/// checks, frameworks, executors, …) are handed to swift-protobuf the same way, one field at a time. Anything
/// wrong at the level of the event itself makes ``decode(_:)`` return `nil`, and the caller decodes the whole
/// record with swift-protobuf, which then accepts or reports it.
enum FastOperatorEventDecoder {
    /// Decodes one event, or returns `nil` when the input is outside the fast path.
    static func decode(_ bytes: some Collection<UInt8>) -> MasterEvent? {
        let decoded = bytes.withContiguousStorageIfAvailable { buffer -> MasterEvent? in
            Self.decode(UnsafeRawBufferPointer(buffer))
        }
        if let decoded {
            return decoded
        }
        return Array(bytes).withUnsafeBytes { Self.decode($0) }
    }

    private static func decode(_ buffer: UnsafeRawBufferPointer) -> MasterEvent? {
        guard let base = buffer.baseAddress else {
            return MasterEvent()
        }
        var reader = OperatorProtobufReader(base: base, count: buffer.count)
        do {
            return try reader.event(end: buffer.count)
        } catch {
            return nil
        }
    }
}

/// The reader the operator decoder runs: MesosCore's ``FastProtobufReader``, whose wire primitives and shared
/// messages (resources, labels, ids) it uses, extended here with the operator's own messages.
typealias OperatorProtobufReader = FastProtobufReader

extension OperatorProtobufReader {
    /// A length-delimited `bytes` field, copied out of the record.
    private mutating func bytes(_ wireType: UInt64, end: Int) throws(FastProtobufFallback) -> Data {
        let stop = try self.delimited(wireType, end: end)
        let data = Data(bytes: self.base + self.position, count: stop &- self.position)
        self.position = stop
        return data
    }

    /// One element of a repeated (or singular) message field: read by `decode`, or, if that gives up on it, by
    /// swift-protobuf, which gives the same value as parsing it inside the whole record.
    @inline(__always)
    private mutating func element<Element: SwiftProtobuf.Message>(
        _ type: Element.Type, _ wireType: UInt64, end: Int,
        _ decode: (inout Self, Int) throws(FastProtobufFallback) -> Element
    ) throws(FastProtobufFallback) -> Element {
        let stop = try self.delimited(wireType, end: end)
        let start = self.position
        do {
            return try decode(&self, stop)
        } catch {
            self.position = stop
            return try self.swiftProtobuf(type, from: start, to: stop)
        }
    }

    /// One MesosTask field: read here, or, if this reader gives up on it, by swift-protobuf.
    private mutating func taskElement(_ wireType: UInt64, end: Int) throws(FastProtobufFallback) -> MesosTask {
        try self.element(MesosTask.self, wireType, end: end) { reader, stop throws(FastProtobufFallback) in
            try reader.task(end: stop)
        }
    }

    /// One TaskStatus field: read here, or, if this reader gives up on it, by swift-protobuf.
    private mutating func statusElement(_ wireType: UInt64, end: Int) throws(FastProtobufFallback) -> TaskStatus {
        try self.element(TaskStatus.self, wireType, end: end) { reader, stop throws(FastProtobufFallback) in
            try reader.status(end: stop)
        }
    }

    /// One Resource field: read here (by the reader MesosCore shares), or, if it gives up on it, by swift-protobuf.
    private mutating func resourceElement(_ wireType: UInt64, end: Int) throws(FastProtobufFallback) -> Resource {
        try self.element(Resource.self, wireType, end: end) { reader, stop throws(FastProtobufFallback) in
            var resource = Resource()
            try reader.resource(into: &resource, end: stop, otherFields: .parseWithSwiftProtobuf)
            return resource
        }
    }

    /// One MasterAgent field: read here, or, if this reader gives up on it, by swift-protobuf.
    private mutating func agentElement(_ wireType: UInt64, end: Int) throws(FastProtobufFallback) -> MasterAgent {
        try self.element(MasterAgent.self, wireType, end: end) { reader, stop throws(FastProtobufFallback) in
            try reader.agent(end: stop)
        }
    }

    /// One Mesos_V1_AgentInfo field: read here, or, if this reader gives up on it, by swift-protobuf.
    private mutating func agentInfoElement(
        _ wireType: UInt64, end: Int
    ) throws(FastProtobufFallback) -> Mesos_V1_AgentInfo {
        try self.element(Mesos_V1_AgentInfo.self, wireType, end: end) { reader, stop throws(FastProtobufFallback) in
            try reader.agentInfo(end: stop)
        }
    }

    // MARK: - Event

    mutating func event(end: Int) throws(FastProtobufFallback) -> MasterEvent {
        var message = MasterEvent()
        var seen: UInt32 = 0
        while let (field, wireType) = try self.tag(end: end) {
            switch field {
            case 1:
                try Self.mark(&seen, 0)
                message.type = try self.enumValue(MasterEvent.TypeEnum.self, wireType, end: end)
            case 2:
                try Self.mark(&seen, 1)
                message.subscribed = try self.subscribed(end: try self.delimited(wireType, end: end))
            case 3:
                try Self.mark(&seen, 2)
                let stop = try self.delimited(wireType, end: end)
                var added = MasterEvent.TaskAdded()
                var addedSeen: UInt32 = 0
                while let (field, wireType) = try self.tag(end: stop) {
                    guard field == 1 else { throw FastProtobufFallback() }
                    try Self.mark(&addedSeen, 0)
                    added.task = try self.taskElement(wireType, end: stop)
                }
                message.taskAdded = added
            case 4:
                try Self.mark(&seen, 3)
                message.taskUpdated = try self.taskUpdated(end: try self.delimited(wireType, end: end))
            case 5:
                try Self.mark(&seen, 4)
                let stop = try self.delimited(wireType, end: end)
                var added = MasterEvent.AgentAdded()
                var addedSeen: UInt32 = 0
                while let (field, wireType) = try self.tag(end: stop) {
                    guard field == 1 else { throw FastProtobufFallback() }
                    try Self.mark(&addedSeen, 0)
                    added.agent = try self.agentElement(wireType, end: stop)
                }
                message.agentAdded = added
            case 6:
                try Self.mark(&seen, 5)
                let stop = try self.delimited(wireType, end: end)
                var removed = MasterEvent.AgentRemoved()
                var removedSeen: UInt32 = 0
                while let (field, wireType) = try self.tag(end: stop) {
                    guard field == 1 else { throw FastProtobufFallback() }
                    try Self.mark(&removedSeen, 0)
                    removed.agentID = try self.id(AgentID.self, wireType, end: stop)
                }
                message.agentRemoved = removed
            case 7:
                try Self.mark(&seen, 6)
                message.frameworkAdded = try self.message(MasterEvent.FrameworkAdded.self, wireType, end: end)
            case 8:
                try Self.mark(&seen, 7)
                message.frameworkUpdated = try self.message(MasterEvent.FrameworkUpdated.self, wireType, end: end)
            case 9:
                try Self.mark(&seen, 8)
                message.frameworkRemoved = try self.message(MasterEvent.FrameworkRemoved.self, wireType, end: end)
            default:
                throw FastProtobufFallback()
            }
        }
        return message
    }

    private mutating func taskUpdated(end: Int) throws(FastProtobufFallback) -> MasterEvent.TaskUpdated {
        var message = MasterEvent.TaskUpdated()
        var seen: UInt32 = 0
        while let (field, wireType) = try self.tag(end: end) {
            switch field {
            case 1:
                try Self.mark(&seen, 0)
                message.frameworkID = try self.id(FrameworkID.self, wireType, end: end)
            case 2:
                try Self.mark(&seen, 1)
                message.status = try self.statusElement(wireType, end: end)
            case 3:
                try Self.mark(&seen, 2)
                message.state = try self.enumValue(TaskState.self, wireType, end: end)
            default:
                throw FastProtobufFallback()
            }
        }
        return message
    }

    // MARK: - SUBSCRIBED

    private mutating func subscribed(end: Int) throws(FastProtobufFallback) -> MasterEvent.Subscribed {
        var message = MasterEvent.Subscribed()
        var seen: UInt32 = 0
        while let (field, wireType) = try self.tag(end: end) {
            switch field {
            case 1:
                try Self.mark(&seen, 0)
                message.getState = try self.state(end: try self.delimited(wireType, end: end))
            case 2:
                try Self.mark(&seen, 1)
                message.heartbeatIntervalSeconds = try self.double(wireType, end: end)
            default:
                throw FastProtobufFallback()
            }
        }
        return message
    }

    private mutating func state(end: Int) throws(FastProtobufFallback) -> MasterState {
        var message = MasterState()
        var seen: UInt32 = 0
        while let (field, wireType) = try self.tag(end: end) {
            switch field {
            case 1:
                try Self.mark(&seen, 0)
                message.getTasks = try self.tasks(end: try self.delimited(wireType, end: end))
            case 2:
                try Self.mark(&seen, 1)
                message.getExecutors = try self.message(Mesos_V1_Master_Response.GetExecutors.self, wireType, end: end)
            case 3:
                try Self.mark(&seen, 2)
                message.getFrameworks = try self.message(Mesos_V1_Master_Response.GetFrameworks.self, wireType, end: end)
            case 4:
                try Self.mark(&seen, 3)
                message.getAgents = try self.agents(end: try self.delimited(wireType, end: end))
            default:
                throw FastProtobufFallback()
            }
        }
        return message
    }

    /// Where one element of `GetTasks` lies, and which of its five lists it belongs to.
    private struct TaskSpan {
        var list: Int
        var start: Int
        var stop: Int
    }

    /// Snapshots with at least this many tasks are decoded on several threads.
    static let parallelTaskThreshold = 4096

    private mutating func tasks(end: Int) throws(FastProtobufFallback) -> Mesos_V1_Master_Response.GetTasks {
        // A first pass finds the elements, so that each list is one allocation and a large snapshot's tasks can
        // be decoded in parallel (each task's bytes are independent; the lists keep the wire order).
        var spans: [TaskSpan] = []
        var counts = [0, 0, 0, 0, 0]
        while let (field, wireType) = try self.tag(end: end) {
            guard (1...5).contains(field) else { throw FastProtobufFallback() }
            let stop = try self.delimited(wireType, end: end)
            spans.append(TaskSpan(list: Int(field) - 1, start: self.position, stop: stop))
            counts[Int(field) - 1] += 1
            self.position = stop
        }
        var lists: [[MesosTask]] = Array(repeating: [], count: 5)
        for index in 0..<5 where counts[index] > 0 {
            lists[index].reserveCapacity(counts[index])
        }
        let workers = min(4, ProcessInfo.processInfo.activeProcessorCount)
        if spans.count >= Self.parallelTaskThreshold, workers > 1 {
            let decoded = try Self.decodeInParallel(spans, base: self.base, count: self.count, workers: workers)
            for (span, task) in zip(spans, decoded) {
                lists[span.list].append(task)
            }
        } else {
            for span in spans {
                lists[span.list].append(try self.task(from: span.start, to: span.stop))
            }
        }
        var message = Mesos_V1_Master_Response.GetTasks()
        message.pendingTasks = lists[0]
        message.tasks = lists[1]
        message.completedTasks = lists[2]
        message.orphanTasks = lists[3]
        message.unreachableTasks = lists[4]
        return message
    }

    /// The task at `start..<stop`: read here, or by swift-protobuf if this reader gives up on it.
    private mutating func task(from start: Int, to stop: Int) throws(FastProtobufFallback) -> MesosTask {
        self.position = start
        do {
            return try self.task(end: stop)
        } catch {
            self.position = stop
            return try self.swiftProtobuf(MesosTask.self, from: start, to: stop)
        }
    }

    /// Decodes the tasks of `spans` on `workers` threads, each a contiguous share; the result is in span order.
    /// The bytes are only read, and each worker fills its own array.
    private static func decodeInParallel(
        _ spans: [TaskSpan], base: UnsafeRawPointer, count: Int, workers: Int
    ) throws(FastProtobufFallback) -> [MesosTask] {
        let shares = LockedValue<[[MesosTask]?]>(Array(repeating: nil, count: workers))
        let perWorker = (spans.count + workers - 1) / workers
        // The record's address, handed to the workers as a number (the caller keeps the bytes alive and unchanged
        // until they are done).
        let address = UInt(bitPattern: base)
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            let range = (worker * perWorker)..<min(spans.count, (worker + 1) * perWorker)
            guard let base = UnsafeRawPointer(bitPattern: address) else { return }
            var reader = OperatorProtobufReader(base: base, count: count)
            var tasks: [MesosTask] = []
            tasks.reserveCapacity(range.count)
            do {
                for index in range {
                    tasks.append(try reader.task(from: spans[index].start, to: spans[index].stop))
                }
            } catch {
                return  // Its share stays `nil`: the whole record goes to swift-protobuf.
            }
            shares.withLock { $0[worker] = tasks }
        }
        let results = shares.withLock { $0 }
        var tasks: [MesosTask] = []
        tasks.reserveCapacity(spans.count)
        for share in results {
            guard let share else { throw FastProtobufFallback() }
            tasks.append(contentsOf: share)
        }
        return tasks
    }

    private mutating func agents(end: Int) throws(FastProtobufFallback) -> Mesos_V1_Master_Response.GetAgents {
        var message = Mesos_V1_Master_Response.GetAgents()
        var agents: [MasterAgent] = []
        var recovered: [Mesos_V1_AgentInfo] = []
        while let (field, wireType) = try self.tag(end: end) {
            switch field {
            case 1:
                agents.append(try self.agentElement(wireType, end: end))
            case 2:
                recovered.append(try self.agentInfoElement(wireType, end: end))
            default:
                throw FastProtobufFallback()
            }
        }
        message.agents = agents
        message.recoveredAgents = recovered
        return message
    }

    // MARK: - Task and status

    mutating func task(end: Int) throws(FastProtobufFallback) -> MesosTask {
        var message = MesosTask()
        var seen: UInt32 = 0
        var resources: [Resource] = []
        var statuses: [TaskStatus] = []
        while let (field, wireType) = try self.tag(end: end) {
            switch field {
            case 1:
                try Self.mark(&seen, 0)
                message.name = try self.string(wireType, end: end)
            case 2:
                try Self.mark(&seen, 1)
                message.taskID = try self.id(TaskID.self, wireType, end: end)
            case 3:
                try Self.mark(&seen, 2)
                message.frameworkID = try self.id(FrameworkID.self, wireType, end: end)
            case 4:
                try Self.mark(&seen, 3)
                message.executorID = try self.id(ExecutorID.self, wireType, end: end)
            case 5:
                try Self.mark(&seen, 4)
                message.agentID = try self.id(AgentID.self, wireType, end: end)
            case 6:
                try Self.mark(&seen, 5)
                message.state = try self.enumValue(TaskState.self, wireType, end: end)
            case 7:
                if resources.isEmpty { resources.reserveCapacity(4) }
                resources.append(try self.resourceElement(wireType, end: end))
            case 8:
                if statuses.isEmpty { statuses.reserveCapacity(4) }
                statuses.append(try self.statusElement(wireType, end: end))
            case 9:
                try Self.mark(&seen, 6)
                message.statusUpdateState = try self.enumValue(TaskState.self, wireType, end: end)
            case 10:
                try Self.mark(&seen, 7)
                message.statusUpdateUuid = try self.bytes(wireType, end: end)
            case 11:
                try Self.mark(&seen, 8)
                message.labels = try self.labels(end: try self.delimited(wireType, end: end))
            case 12:
                try Self.mark(&seen, 9)
                message.discovery = try self.message(Mesos_V1_DiscoveryInfo.self, wireType, end: end)
            case 13:
                try Self.mark(&seen, 10)
                message.container = try self.message(Mesos_V1_ContainerInfo.self, wireType, end: end)
            case 14:
                try Self.mark(&seen, 11)
                message.user = try self.string(wireType, end: end)
            case 15:
                try Self.mark(&seen, 12)
                message.healthCheck = try self.message(Mesos_V1_HealthCheck.self, wireType, end: end)
            case 16:
                try Self.mark(&seen, 13)
                message.killPolicy = try self.message(Mesos_V1_KillPolicy.self, wireType, end: end)
            default:
                // 17 (`limits`, a map) and anything unknown: swift-protobuf takes the whole task.
                throw FastProtobufFallback()
            }
        }
        if !resources.isEmpty { message.resources = resources }
        if !statuses.isEmpty { message.statuses = statuses }
        return message
    }

    mutating func status(end: Int) throws(FastProtobufFallback) -> TaskStatus {
        var message = TaskStatus()
        var seen: UInt32 = 0
        while let (field, wireType) = try self.tag(end: end) {
            switch field {
            case 1:
                try Self.mark(&seen, 0)
                message.taskID = try self.id(TaskID.self, wireType, end: end)
            case 2:
                try Self.mark(&seen, 1)
                message.state = try self.enumValue(TaskState.self, wireType, end: end)
            case 3:
                try Self.mark(&seen, 2)
                message.data = try self.bytes(wireType, end: end)
            case 4:
                try Self.mark(&seen, 3)
                message.message = try self.string(wireType, end: end)
            case 5:
                try Self.mark(&seen, 4)
                message.agentID = try self.id(AgentID.self, wireType, end: end)
            case 6:
                try Self.mark(&seen, 5)
                message.timestamp = try self.double(wireType, end: end)
            case 7:
                try Self.mark(&seen, 6)
                message.executorID = try self.id(ExecutorID.self, wireType, end: end)
            case 8:
                try Self.mark(&seen, 7)
                message.healthy = try self.bool(wireType, end: end)
            case 9:
                try Self.mark(&seen, 8)
                message.source = try self.enumValue(TaskStatus.Source.self, wireType, end: end)
            case 10:
                try Self.mark(&seen, 9)
                message.reason = try self.enumValue(TaskStatus.Reason.self, wireType, end: end)
            case 11:
                try Self.mark(&seen, 10)
                message.uuid = try self.bytes(wireType, end: end)
            case 12:
                try Self.mark(&seen, 11)
                message.labels = try self.labels(end: try self.delimited(wireType, end: end))
            case 13:
                try Self.mark(&seen, 12)
                message.containerStatus = try self.message(Mesos_V1_ContainerStatus.self, wireType, end: end)
            case 14:
                try Self.mark(&seen, 13)
                message.unreachableTime = try self.timeInfo(end: try self.delimited(wireType, end: end))
            case 15:
                try Self.mark(&seen, 14)
                message.checkStatus = try self.message(Mesos_V1_CheckStatusInfo.self, wireType, end: end)
            case 16:
                try Self.mark(&seen, 15)
                message.limitation = try self.message(Mesos_V1_TaskResourceLimitation.self, wireType, end: end)
            default:
                throw FastProtobufFallback()
            }
        }
        return message
    }

    // MARK: - Agent

    mutating func agent(end: Int) throws(FastProtobufFallback) -> MasterAgent {
        var message = MasterAgent()
        var seen: UInt32 = 0
        var total: [Resource] = []
        var allocated: [Resource] = []
        var offered: [Resource] = []
        var capabilities: [Mesos_V1_AgentInfo.Capability] = []
        var providers: [MasterAgent.ResourceProvider] = []
        while let (field, wireType) = try self.tag(end: end) {
            switch field {
            case 1:
                try Self.mark(&seen, 0)
                message.agentInfo = try self.agentInfoElement(wireType, end: end)
            case 2:
                try Self.mark(&seen, 1)
                message.active = try self.bool(wireType, end: end)
            case 3:
                try Self.mark(&seen, 2)
                message.version = try self.string(wireType, end: end)
            case 4:
                try Self.mark(&seen, 3)
                message.pid = try self.string(wireType, end: end)
            case 5:
                try Self.mark(&seen, 4)
                message.registeredTime = try self.timeInfo(end: try self.delimited(wireType, end: end))
            case 6:
                try Self.mark(&seen, 5)
                message.reregisteredTime = try self.timeInfo(end: try self.delimited(wireType, end: end))
            case 7:
                total.append(try self.resourceElement(wireType, end: end))
            case 8:
                allocated.append(try self.resourceElement(wireType, end: end))
            case 9:
                offered.append(try self.resourceElement(wireType, end: end))
            case 10:
                capabilities.append(try self.message(Mesos_V1_AgentInfo.Capability.self, wireType, end: end))
            case 11:
                providers.append(try self.message(MasterAgent.ResourceProvider.self, wireType, end: end))
            case 12:
                try Self.mark(&seen, 6)
                message.deactivated = try self.bool(wireType, end: end)
            case 13:
                try Self.mark(&seen, 7)
                message.drainInfo = try self.message(Mesos_V1_DrainInfo.self, wireType, end: end)
            case 14:
                try Self.mark(&seen, 8)
                message.estimatedDrainStartTime = try self.timeInfo(end: try self.delimited(wireType, end: end))
            default:
                throw FastProtobufFallback()
            }
        }
        if !total.isEmpty { message.totalResources = total }
        if !allocated.isEmpty { message.allocatedResources = allocated }
        if !offered.isEmpty { message.offeredResources = offered }
        if !capabilities.isEmpty { message.capabilities = capabilities }
        if !providers.isEmpty { message.resourceProviders = providers }
        return message
    }

    mutating func agentInfo(end: Int) throws(FastProtobufFallback) -> Mesos_V1_AgentInfo {
        var message = Mesos_V1_AgentInfo()
        var seen: UInt32 = 0
        var resources: [Resource] = []
        var attributes: [Mesos_V1_Attribute] = []
        while let (field, wireType) = try self.tag(end: end) {
            switch field {
            case 1:
                try Self.mark(&seen, 0)
                message.hostname = try self.string(wireType, end: end)
            case 3:
                resources.append(try self.resourceElement(wireType, end: end))
            case 5:
                attributes.append(try self.message(Mesos_V1_Attribute.self, wireType, end: end))
            case 6:
                try Self.mark(&seen, 1)
                message.id = try self.id(AgentID.self, wireType, end: end)
            case 8:
                try Self.mark(&seen, 2)
                message.port = try self.int32(wireType, end: end)
            case 10:
                try Self.mark(&seen, 3)
                message.domain = try self.message(Mesos_V1_DomainInfo.self, wireType, end: end)
            default:
                throw FastProtobufFallback()
            }
        }
        if !resources.isEmpty { message.resources = resources }
        if !attributes.isEmpty { message.attributes = attributes }
        return message
    }

    private mutating func timeInfo(end: Int) throws(FastProtobufFallback) -> Mesos_V1_TimeInfo {
        var message = Mesos_V1_TimeInfo()
        var seen: UInt32 = 0
        while let (field, wireType) = try self.tag(end: end) {
            guard field == 1 else { throw FastProtobufFallback() }
            try Self.mark(&seen, 0)
            message.nanoseconds = try self.int64(wireType, end: end)
        }
        return message
    }
}
