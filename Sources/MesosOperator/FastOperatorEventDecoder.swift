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

/// Thrown inside the fast path when the input is outside it; never escapes ``FastOperatorEventDecoder``.
struct OperatorFastPathExit: Error {}

/// Marks field `bit` as seen, giving up on a singular field seen twice.
@inline(__always)
private func mark(_ seen: inout UInt32, _ bit: UInt32) throws(OperatorFastPathExit) {
    let mask: UInt32 = 1 << bit
    guard seen & mask == 0 else { throw OperatorFastPathExit() }
    seen |= mask
}

/// A cursor over protobuf bytes; every message decoder reads up to the `end` offset it is given.
struct OperatorProtobufReader {
    private let base: UnsafeRawPointer
    private let count: Int
    private var position = 0

    /// The options swift-protobuf decodes with (those of `MesosCodec`).
    private static let options = BinaryDecodingOptions()

    init(base: UnsafeRawPointer, count: Int) {
        self.base = base
        self.count = count
    }

    private static let varintWire: UInt64 = 0
    private static let fixed64Wire: UInt64 = 1
    private static let delimitedWire: UInt64 = 2

    // MARK: - Primitives

    /// A varint of at most 10 bytes ending before `end` (bits beyond 64 dropped, as swift-protobuf does).
    @inline(__always)
    private mutating func varint(end: Int) throws(OperatorFastPathExit) -> UInt64 {
        guard self.position < end else { throw OperatorFastPathExit() }
        var byte = self.base.load(fromByteOffset: self.position, as: UInt8.self)
        self.position &+= 1
        if byte & 0x80 == 0 {
            return UInt64(byte)
        }
        var value = UInt64(byte & 0x7F)
        var shift: UInt64 = 7
        while true {
            guard self.position < end, shift <= 63 else { throw OperatorFastPathExit() }
            byte = self.base.load(fromByteOffset: self.position, as: UInt8.self)
            self.position &+= 1
            value |= UInt64(byte & 0x7F) &<< shift
            if byte & 0x80 == 0 {
                return value
            }
            shift &+= 7
        }
    }

    /// The next field's number and wire type, or `nil` at `end`. A tag takes at most five bytes, the fifth at
    /// most 15, and field 0 is invalid (swift-protobuf's rules; anything else is declined).
    @inline(__always)
    private mutating func tag(end: Int) throws(OperatorFastPathExit) -> (field: UInt64, wireType: UInt64)? {
        guard self.position < end else { return nil }
        let first = self.base.load(fromByteOffset: self.position, as: UInt8.self)
        if first & 0x80 == 0 {
            self.position &+= 1
            guard first >> 3 != 0 else { throw OperatorFastPathExit() }
            return (UInt64(first >> 3), UInt64(first & 7))
        }
        var tag: UInt64 = 0
        var shift: UInt64 = 0
        for index in 0..<5 {
            guard self.position < end else { throw OperatorFastPathExit() }
            let byte = self.base.load(fromByteOffset: self.position, as: UInt8.self)
            self.position &+= 1
            if index == 4, byte > 15 { throw OperatorFastPathExit() }
            tag |= UInt64(byte & 0x7F) &<< shift
            if byte & 0x80 == 0 {
                guard tag >> 3 != 0 else { throw OperatorFastPathExit() }
                return (tag >> 3, tag & 7)
            }
            shift &+= 7
        }
        throw OperatorFastPathExit()
    }

    /// Checks the wire type, reads a length and returns where the delimited value ends.
    @inline(__always)
    private mutating func delimited(_ wireType: UInt64, end: Int) throws(OperatorFastPathExit) -> Int {
        guard wireType == Self.delimitedWire else { throw OperatorFastPathExit() }
        let length = try self.varint(end: end)
        guard length <= UInt64(end &- self.position) else { throw OperatorFastPathExit() }
        return self.position &+ Int(length)
    }

    private mutating func string(_ wireType: UInt64, end: Int) throws(OperatorFastPathExit) -> String {
        let stop = try self.delimited(wireType, end: end)
        let bytes = UnsafeBufferPointer(
            start: (self.base + self.position).assumingMemoryBound(to: UInt8.self), count: stop &- self.position)
        self.position = stop
        // ASCII (nearly every Mesos string) is valid UTF-8 as it stands: no need for the validating initializer.
        if Self.isASCII(bytes) {
            return String(decoding: bytes, as: UTF8.self)
        }
        guard let string = String(validating: bytes, as: UTF8.self) else { throw OperatorFastPathExit() }
        return string
    }

    private mutating func bytes(_ wireType: UInt64, end: Int) throws(OperatorFastPathExit) -> Data {
        let stop = try self.delimited(wireType, end: end)
        let data = Data(bytes: self.base + self.position, count: stop &- self.position)
        self.position = stop
        return data
    }

    /// Whether every byte is below 0x80, eight bytes at a time.
    private static func isASCII(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        let count = bytes.count
        var index = 0
        var high: UInt64 = 0
        while index &+ 8 <= count {
            high |= UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self)
            index &+= 8
        }
        while index < count {
            high |= UInt64(base[index])
            index &+= 1
        }
        return high & 0x8080_8080_8080_8080 == 0
    }

    private mutating func uint64(_ wireType: UInt64, end: Int) throws(OperatorFastPathExit) -> UInt64 {
        guard wireType == Self.varintWire else { throw OperatorFastPathExit() }
        return try self.varint(end: end)
    }

    private mutating func int32(_ wireType: UInt64, end: Int) throws(OperatorFastPathExit) -> Int32 {
        Int32(truncatingIfNeeded: try self.uint64(wireType, end: end))
    }

    private mutating func int64(_ wireType: UInt64, end: Int) throws(OperatorFastPathExit) -> Int64 {
        Int64(bitPattern: try self.uint64(wireType, end: end))
    }

    private mutating func bool(_ wireType: UInt64, end: Int) throws(OperatorFastPathExit) -> Bool {
        try self.uint64(wireType, end: end) != 0
    }

    private mutating func double(_ wireType: UInt64, end: Int) throws(OperatorFastPathExit) -> Double {
        guard wireType == Self.fixed64Wire, end &- self.position >= 8 else { throw OperatorFastPathExit() }
        let bits = self.base.loadUnaligned(fromByteOffset: self.position, as: UInt64.self)
        self.position &+= 8
        return Double(bitPattern: UInt64(littleEndian: bits))
    }

    /// A closed (proto2) enum: a value the generated type does not know is declined (swift-protobuf would keep
    /// it as an unknown field).
    private mutating func enumValue<Value: RawRepresentable>(
        _ type: Value.Type, _ wireType: UInt64, end: Int
    ) throws(OperatorFastPathExit) -> Value where Value.RawValue == Int {
        let raw = try self.int32(wireType, end: end)
        guard let value = Value(rawValue: Int(raw)) else { throw OperatorFastPathExit() }
        return value
    }

    /// A message field this reader does not decode itself: swift-protobuf parses its bytes.
    private mutating func message<Message: SwiftProtobuf.Message>(
        _ type: Message.Type, _ wireType: UInt64, end: Int
    ) throws(OperatorFastPathExit) -> Message {
        let stop = try self.delimited(wireType, end: end)
        defer { self.position = stop }
        return try self.swiftProtobuf(type, from: self.position, to: stop)
    }

    /// Parses `start..<stop` with swift-protobuf, as `MesosCodec` would (partial messages accepted).
    private func swiftProtobuf<Message: SwiftProtobuf.Message>(
        _ type: Message.Type, from start: Int, to stop: Int
    ) throws(OperatorFastPathExit) -> Message {
        // A copy: the parsed message must not refer to the record's memory.
        let bytes = [UInt8](UnsafeRawBufferPointer(start: self.base + start, count: stop &- start))
        do {
            return try Message(serializedBytes: bytes, partial: true, options: Self.options)
        } catch {
            throw OperatorFastPathExit()
        }
    }

    /// Where a fallen-back element starts and ends.
    private mutating func elementBounds(_ wireType: UInt64, end: Int) throws(OperatorFastPathExit) -> (Int, Int) {
        let stop = try self.delimited(wireType, end: end)
        return (self.position, stop)
    }

    /// One MesosTask field: read here, or, if this reader gives up on it, by swift-protobuf.
    private mutating func taskElement(_ wireType: UInt64, end: Int) throws(OperatorFastPathExit) -> MesosTask {
        let (start, stop) = try self.elementBounds(wireType, end: end)
        do {
            return try self.task(end: stop)
        } catch {
            self.position = stop
            return try self.swiftProtobuf(MesosTask.self, from: start, to: stop)
        }
    }

    /// One TaskStatus field: read here, or, if this reader gives up on it, by swift-protobuf.
    private mutating func statusElement(_ wireType: UInt64, end: Int) throws(OperatorFastPathExit) -> TaskStatus {
        let (start, stop) = try self.elementBounds(wireType, end: end)
        do {
            return try self.status(end: stop)
        } catch {
            self.position = stop
            return try self.swiftProtobuf(TaskStatus.self, from: start, to: stop)
        }
    }

    /// One Resource field: read here, or, if this reader gives up on it, by swift-protobuf.
    private mutating func resourceElement(_ wireType: UInt64, end: Int) throws(OperatorFastPathExit) -> Resource {
        let (start, stop) = try self.elementBounds(wireType, end: end)
        do {
            return try self.resource(end: stop)
        } catch {
            self.position = stop
            return try self.swiftProtobuf(Resource.self, from: start, to: stop)
        }
    }

    /// One MasterAgent field: read here, or, if this reader gives up on it, by swift-protobuf.
    private mutating func agentElement(_ wireType: UInt64, end: Int) throws(OperatorFastPathExit) -> MasterAgent {
        let (start, stop) = try self.elementBounds(wireType, end: end)
        do {
            return try self.agent(end: stop)
        } catch {
            self.position = stop
            return try self.swiftProtobuf(MasterAgent.self, from: start, to: stop)
        }
    }

    /// One Mesos_V1_AgentInfo field: read here, or, if this reader gives up on it, by swift-protobuf.
    private mutating func agentInfoElement(_ wireType: UInt64, end: Int) throws(OperatorFastPathExit) -> Mesos_V1_AgentInfo {
        let (start, stop) = try self.elementBounds(wireType, end: end)
        do {
            return try self.agentInfo(end: stop)
        } catch {
            self.position = stop
            return try self.swiftProtobuf(Mesos_V1_AgentInfo.self, from: start, to: stop)
        }
    }

    // MARK: - Event

    mutating func event(end: Int) throws(OperatorFastPathExit) -> MasterEvent {
        var message = MasterEvent()
        var seen: UInt32 = 0
        while let (field, wireType) = try self.tag(end: end) {
            switch field {
            case 1:
                try mark(&seen, 0)
                message.type = try self.enumValue(MasterEvent.TypeEnum.self, wireType, end: end)
            case 2:
                try mark(&seen, 1)
                message.subscribed = try self.subscribed(end: try self.delimited(wireType, end: end))
            case 3:
                try mark(&seen, 2)
                let stop = try self.delimited(wireType, end: end)
                var added = MasterEvent.TaskAdded()
                var addedSeen: UInt32 = 0
                while let (field, wireType) = try self.tag(end: stop) {
                    guard field == 1 else { throw OperatorFastPathExit() }
                    try mark(&addedSeen, 0)
                    added.task = try self.taskElement(wireType, end: stop)
                }
                message.taskAdded = added
            case 4:
                try mark(&seen, 3)
                message.taskUpdated = try self.taskUpdated(end: try self.delimited(wireType, end: end))
            case 5:
                try mark(&seen, 4)
                let stop = try self.delimited(wireType, end: end)
                var added = MasterEvent.AgentAdded()
                var addedSeen: UInt32 = 0
                while let (field, wireType) = try self.tag(end: stop) {
                    guard field == 1 else { throw OperatorFastPathExit() }
                    try mark(&addedSeen, 0)
                    added.agent = try self.agentElement(wireType, end: stop)
                }
                message.agentAdded = added
            case 6:
                try mark(&seen, 5)
                let stop = try self.delimited(wireType, end: end)
                var removed = MasterEvent.AgentRemoved()
                var removedSeen: UInt32 = 0
                while let (field, wireType) = try self.tag(end: stop) {
                    guard field == 1 else { throw OperatorFastPathExit() }
                    try mark(&removedSeen, 0)
                    removed.agentID = AgentID(fastValue: try self.idValue(end: try self.delimited(wireType, end: stop)))
                }
                message.agentRemoved = removed
            case 7:
                try mark(&seen, 6)
                message.frameworkAdded = try self.message(MasterEvent.FrameworkAdded.self, wireType, end: end)
            case 8:
                try mark(&seen, 7)
                message.frameworkUpdated = try self.message(MasterEvent.FrameworkUpdated.self, wireType, end: end)
            case 9:
                try mark(&seen, 8)
                message.frameworkRemoved = try self.message(MasterEvent.FrameworkRemoved.self, wireType, end: end)
            default:
                throw OperatorFastPathExit()
            }
        }
        return message
    }

    private mutating func taskUpdated(end: Int) throws(OperatorFastPathExit) -> MasterEvent.TaskUpdated {
        var message = MasterEvent.TaskUpdated()
        var seen: UInt32 = 0
        while let (field, wireType) = try self.tag(end: end) {
            switch field {
            case 1:
                try mark(&seen, 0)
                message.frameworkID = FrameworkID(fastValue: try self.idValue(end: try self.delimited(wireType, end: end)))
            case 2:
                try mark(&seen, 1)
                message.status = try self.statusElement(wireType, end: end)
            case 3:
                try mark(&seen, 2)
                message.state = try self.enumValue(TaskState.self, wireType, end: end)
            default:
                throw OperatorFastPathExit()
            }
        }
        return message
    }

    // MARK: - SUBSCRIBED

    private mutating func subscribed(end: Int) throws(OperatorFastPathExit) -> MasterEvent.Subscribed {
        var message = MasterEvent.Subscribed()
        var seen: UInt32 = 0
        while let (field, wireType) = try self.tag(end: end) {
            switch field {
            case 1:
                try mark(&seen, 0)
                message.getState = try self.state(end: try self.delimited(wireType, end: end))
            case 2:
                try mark(&seen, 1)
                message.heartbeatIntervalSeconds = try self.double(wireType, end: end)
            default:
                throw OperatorFastPathExit()
            }
        }
        return message
    }

    private mutating func state(end: Int) throws(OperatorFastPathExit) -> MasterState {
        var message = MasterState()
        var seen: UInt32 = 0
        while let (field, wireType) = try self.tag(end: end) {
            switch field {
            case 1:
                try mark(&seen, 0)
                message.getTasks = try self.tasks(end: try self.delimited(wireType, end: end))
            case 2:
                try mark(&seen, 1)
                message.getExecutors = try self.message(Mesos_V1_Master_Response.GetExecutors.self, wireType, end: end)
            case 3:
                try mark(&seen, 2)
                message.getFrameworks = try self.message(Mesos_V1_Master_Response.GetFrameworks.self, wireType, end: end)
            case 4:
                try mark(&seen, 3)
                message.getAgents = try self.agents(end: try self.delimited(wireType, end: end))
            default:
                throw OperatorFastPathExit()
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

    private mutating func tasks(end: Int) throws(OperatorFastPathExit) -> Mesos_V1_Master_Response.GetTasks {
        // A first pass finds the elements, so that each list is one allocation and a large snapshot's tasks can
        // be decoded in parallel (each task's bytes are independent; the lists keep the wire order).
        var spans: [TaskSpan] = []
        var counts = [0, 0, 0, 0, 0]
        while let (field, wireType) = try self.tag(end: end) {
            guard (1...5).contains(field) else { throw OperatorFastPathExit() }
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
    private mutating func task(from start: Int, to stop: Int) throws(OperatorFastPathExit) -> MesosTask {
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
    ) throws(OperatorFastPathExit) -> [MesosTask] {
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
            guard let share else { throw OperatorFastPathExit() }
            tasks.append(contentsOf: share)
        }
        return tasks
    }

    private mutating func agents(end: Int) throws(OperatorFastPathExit) -> Mesos_V1_Master_Response.GetAgents {
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
                throw OperatorFastPathExit()
            }
        }
        message.agents = agents
        message.recoveredAgents = recovered
        return message
    }

    // MARK: - Task and status

    mutating func task(end: Int) throws(OperatorFastPathExit) -> MesosTask {
        var message = MesosTask()
        var seen: UInt32 = 0
        var resources: [Resource] = []
        var statuses: [TaskStatus] = []
        while let (field, wireType) = try self.tag(end: end) {
            switch field {
            case 1:
                try mark(&seen, 0)
                message.name = try self.string(wireType, end: end)
            case 2:
                try mark(&seen, 1)
                message.taskID = TaskID(fastValue: try self.idValue(end: try self.delimited(wireType, end: end)))
            case 3:
                try mark(&seen, 2)
                message.frameworkID = FrameworkID(fastValue: try self.idValue(end: try self.delimited(wireType, end: end)))
            case 4:
                try mark(&seen, 3)
                message.executorID = ExecutorID(fastValue: try self.idValue(end: try self.delimited(wireType, end: end)))
            case 5:
                try mark(&seen, 4)
                message.agentID = AgentID(fastValue: try self.idValue(end: try self.delimited(wireType, end: end)))
            case 6:
                try mark(&seen, 5)
                message.state = try self.enumValue(TaskState.self, wireType, end: end)
            case 7:
                if resources.isEmpty { resources.reserveCapacity(4) }
                resources.append(try self.resourceElement(wireType, end: end))
            case 8:
                if statuses.isEmpty { statuses.reserveCapacity(4) }
                statuses.append(try self.statusElement(wireType, end: end))
            case 9:
                try mark(&seen, 6)
                message.statusUpdateState = try self.enumValue(TaskState.self, wireType, end: end)
            case 10:
                try mark(&seen, 7)
                message.statusUpdateUuid = try self.bytes(wireType, end: end)
            case 11:
                try mark(&seen, 8)
                message.labels = try self.labels(end: try self.delimited(wireType, end: end))
            case 12:
                try mark(&seen, 9)
                message.discovery = try self.message(Mesos_V1_DiscoveryInfo.self, wireType, end: end)
            case 13:
                try mark(&seen, 10)
                message.container = try self.message(Mesos_V1_ContainerInfo.self, wireType, end: end)
            case 14:
                try mark(&seen, 11)
                message.user = try self.string(wireType, end: end)
            case 15:
                try mark(&seen, 12)
                message.healthCheck = try self.message(Mesos_V1_HealthCheck.self, wireType, end: end)
            case 16:
                try mark(&seen, 13)
                message.killPolicy = try self.message(Mesos_V1_KillPolicy.self, wireType, end: end)
            default:
                // 17 (`limits`, a map) and anything unknown: swift-protobuf takes the whole task.
                throw OperatorFastPathExit()
            }
        }
        if !resources.isEmpty { message.resources = resources }
        if !statuses.isEmpty { message.statuses = statuses }
        return message
    }

    mutating func status(end: Int) throws(OperatorFastPathExit) -> TaskStatus {
        var message = TaskStatus()
        var seen: UInt32 = 0
        while let (field, wireType) = try self.tag(end: end) {
            switch field {
            case 1:
                try mark(&seen, 0)
                message.taskID = TaskID(fastValue: try self.idValue(end: try self.delimited(wireType, end: end)))
            case 2:
                try mark(&seen, 1)
                message.state = try self.enumValue(TaskState.self, wireType, end: end)
            case 3:
                try mark(&seen, 2)
                message.data = try self.bytes(wireType, end: end)
            case 4:
                try mark(&seen, 3)
                message.message = try self.string(wireType, end: end)
            case 5:
                try mark(&seen, 4)
                message.agentID = AgentID(fastValue: try self.idValue(end: try self.delimited(wireType, end: end)))
            case 6:
                try mark(&seen, 5)
                message.timestamp = try self.double(wireType, end: end)
            case 7:
                try mark(&seen, 6)
                message.executorID = ExecutorID(fastValue: try self.idValue(end: try self.delimited(wireType, end: end)))
            case 8:
                try mark(&seen, 7)
                message.healthy = try self.bool(wireType, end: end)
            case 9:
                try mark(&seen, 8)
                message.source = try self.enumValue(TaskStatus.Source.self, wireType, end: end)
            case 10:
                try mark(&seen, 9)
                message.reason = try self.enumValue(TaskStatus.Reason.self, wireType, end: end)
            case 11:
                try mark(&seen, 10)
                message.uuid = try self.bytes(wireType, end: end)
            case 12:
                try mark(&seen, 11)
                message.labels = try self.labels(end: try self.delimited(wireType, end: end))
            case 13:
                try mark(&seen, 12)
                message.containerStatus = try self.message(Mesos_V1_ContainerStatus.self, wireType, end: end)
            case 14:
                try mark(&seen, 13)
                message.unreachableTime = try self.timeInfo(end: try self.delimited(wireType, end: end))
            case 15:
                try mark(&seen, 14)
                message.checkStatus = try self.message(Mesos_V1_CheckStatusInfo.self, wireType, end: end)
            case 16:
                try mark(&seen, 15)
                message.limitation = try self.message(Mesos_V1_TaskResourceLimitation.self, wireType, end: end)
            default:
                throw OperatorFastPathExit()
            }
        }
        return message
    }

    // MARK: - Agent

    mutating func agent(end: Int) throws(OperatorFastPathExit) -> MasterAgent {
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
                try mark(&seen, 0)
                message.agentInfo = try self.agentInfoElement(wireType, end: end)
            case 2:
                try mark(&seen, 1)
                message.active = try self.bool(wireType, end: end)
            case 3:
                try mark(&seen, 2)
                message.version = try self.string(wireType, end: end)
            case 4:
                try mark(&seen, 3)
                message.pid = try self.string(wireType, end: end)
            case 5:
                try mark(&seen, 4)
                message.registeredTime = try self.timeInfo(end: try self.delimited(wireType, end: end))
            case 6:
                try mark(&seen, 5)
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
                try mark(&seen, 6)
                message.deactivated = try self.bool(wireType, end: end)
            case 13:
                try mark(&seen, 7)
                message.drainInfo = try self.message(Mesos_V1_DrainInfo.self, wireType, end: end)
            case 14:
                try mark(&seen, 8)
                message.estimatedDrainStartTime = try self.timeInfo(end: try self.delimited(wireType, end: end))
            default:
                throw OperatorFastPathExit()
            }
        }
        if !total.isEmpty { message.totalResources = total }
        if !allocated.isEmpty { message.allocatedResources = allocated }
        if !offered.isEmpty { message.offeredResources = offered }
        if !capabilities.isEmpty { message.capabilities = capabilities }
        if !providers.isEmpty { message.resourceProviders = providers }
        return message
    }

    mutating func agentInfo(end: Int) throws(OperatorFastPathExit) -> Mesos_V1_AgentInfo {
        var message = Mesos_V1_AgentInfo()
        var seen: UInt32 = 0
        var resources: [Resource] = []
        var attributes: [Mesos_V1_Attribute] = []
        while let (field, wireType) = try self.tag(end: end) {
            switch field {
            case 1:
                try mark(&seen, 0)
                message.hostname = try self.string(wireType, end: end)
            case 3:
                resources.append(try self.resourceElement(wireType, end: end))
            case 5:
                attributes.append(try self.message(Mesos_V1_Attribute.self, wireType, end: end))
            case 6:
                try mark(&seen, 1)
                message.id = AgentID(fastValue: try self.idValue(end: try self.delimited(wireType, end: end)))
            case 8:
                try mark(&seen, 2)
                message.port = try self.int32(wireType, end: end)
            case 10:
                try mark(&seen, 3)
                message.domain = try self.message(Mesos_V1_DomainInfo.self, wireType, end: end)
            default:
                throw OperatorFastPathExit()
            }
        }
        if !resources.isEmpty { message.resources = resources }
        if !attributes.isEmpty { message.attributes = attributes }
        return message
    }

    private mutating func timeInfo(end: Int) throws(OperatorFastPathExit) -> Mesos_V1_TimeInfo {
        var message = Mesos_V1_TimeInfo()
        var seen: UInt32 = 0
        while let (field, wireType) = try self.tag(end: end) {
            guard field == 1 else { throw OperatorFastPathExit() }
            try mark(&seen, 0)
            message.nanoseconds = try self.int64(wireType, end: end)
        }
        return message
    }

    // MARK: - Small messages

    /// The `value` (field 1) of an id message, `nil` when absent.
    private mutating func idValue(end: Int) throws(OperatorFastPathExit) -> String? {
        var value: String?
        while let (field, wireType) = try self.tag(end: end) {
            guard field == 1, value == nil else { throw OperatorFastPathExit() }
            value = try self.string(wireType, end: end)
        }
        return value
    }

    private mutating func labels(end: Int) throws(OperatorFastPathExit) -> Mesos_V1_Labels {
        var message = Mesos_V1_Labels()
        var labels: [Mesos_V1_Label] = []
        while let (field, wireType) = try self.tag(end: end) {
            guard field == 1 else { throw OperatorFastPathExit() }
            let stop = try self.delimited(wireType, end: end)
            var label = Mesos_V1_Label()
            var seen: UInt32 = 0
            while let (field, wireType) = try self.tag(end: stop) {
                switch field {
                case 1:
                    try mark(&seen, 0)
                    label.key = try self.string(wireType, end: stop)
                case 2:
                    try mark(&seen, 1)
                    label.value = try self.string(wireType, end: stop)
                default:
                    throw OperatorFastPathExit()
                }
            }
            labels.append(label)
        }
        if !labels.isEmpty { message.labels = labels }
        return message
    }

    // MARK: - Resource

    mutating func resource(end: Int) throws(OperatorFastPathExit) -> Resource {
        var message = Resource()
        var seen: UInt32 = 0
        var reservations: [Resource.ReservationInfo] = []
        while let (field, wireType) = try self.tag(end: end) {
            switch field {
            case 1:
                try mark(&seen, 0)
                message.name = try self.string(wireType, end: end)
            case 2:
                try mark(&seen, 1)
                message.type = try self.enumValue(Mesos_V1_Value.TypeEnum.self, wireType, end: end)
            case 3:
                try mark(&seen, 2)
                let stop = try self.delimited(wireType, end: end)
                var scalar = Mesos_V1_Value.Scalar()
                var scalarSeen: UInt32 = 0
                while let (field, wireType) = try self.tag(end: stop) {
                    guard field == 1 else { throw OperatorFastPathExit() }
                    try mark(&scalarSeen, 0)
                    scalar.value = try self.double(wireType, end: stop)
                }
                message.scalar = scalar
            case 4:
                try mark(&seen, 3)
                message.ranges = try self.ranges(end: try self.delimited(wireType, end: end))
            case 5:
                try mark(&seen, 4)
                let stop = try self.delimited(wireType, end: end)
                var set = Mesos_V1_Value.Set()
                var items: [String] = []
                while let (field, wireType) = try self.tag(end: stop) {
                    guard field == 1 else { throw OperatorFastPathExit() }
                    items.append(try self.string(wireType, end: stop))
                }
                if !items.isEmpty { set.item = items }
                message.set = set
            case 6:
                try mark(&seen, 5)
                message.role = try self.string(wireType, end: end)
            case 7:
                try mark(&seen, 6)
                message.disk = try self.message(Resource.DiskInfo.self, wireType, end: end)
            case 8:
                try mark(&seen, 7)
                message.reservation = try self.message(Resource.ReservationInfo.self, wireType, end: end)
            case 9:
                try mark(&seen, 8)
                message.revocable = try self.message(Resource.RevocableInfo.self, wireType, end: end)
            case 10:
                try mark(&seen, 9)
                message.shared = try self.message(Resource.SharedInfo.self, wireType, end: end)
            case 11:
                try mark(&seen, 10)
                let stop = try self.delimited(wireType, end: end)
                var allocation = Resource.AllocationInfo()
                if let role = try self.idValue(end: stop) { allocation.role = role }
                message.allocationInfo = allocation
            case 12:
                try mark(&seen, 11)
                message.providerID = try self.message(Mesos_V1_ResourceProviderID.self, wireType, end: end)
            case 13:
                reservations.append(try self.reservation(end: try self.delimited(wireType, end: end)))
            default:
                throw OperatorFastPathExit()
            }
        }
        if !reservations.isEmpty { message.reservations = reservations }
        return message
    }

    private mutating func reservation(end: Int) throws(OperatorFastPathExit) -> Resource.ReservationInfo {
        var message = Resource.ReservationInfo()
        var seen: UInt32 = 0
        while let (field, wireType) = try self.tag(end: end) {
            switch field {
            case 1:
                try mark(&seen, 0)
                message.principal = try self.string(wireType, end: end)
            case 2:
                try mark(&seen, 1)
                message.labels = try self.labels(end: try self.delimited(wireType, end: end))
            case 3:
                try mark(&seen, 2)
                message.role = try self.string(wireType, end: end)
            case 4:
                try mark(&seen, 3)
                message.type = try self.enumValue(Resource.ReservationInfo.TypeEnum.self, wireType, end: end)
            default:
                throw OperatorFastPathExit()
            }
        }
        return message
    }

    private mutating func ranges(end: Int) throws(OperatorFastPathExit) -> Mesos_V1_Value.Ranges {
        var message = Mesos_V1_Value.Ranges()
        var ranges: [Mesos_V1_Value.Range] = []
        while let (field, wireType) = try self.tag(end: end) {
            guard field == 1 else { throw OperatorFastPathExit() }
            let stop = try self.delimited(wireType, end: end)
            var range = Mesos_V1_Value.Range()
            var seen: UInt32 = 0
            while let (field, wireType) = try self.tag(end: stop) {
                switch field {
                case 1:
                    try mark(&seen, 0)
                    range.begin = try self.uint64(wireType, end: stop)
                case 2:
                    try mark(&seen, 1)
                    range.end = try self.uint64(wireType, end: stop)
                default:
                    throw OperatorFastPathExit()
                }
            }
            ranges.append(range)
        }
        if !ranges.isEmpty { message.range = ranges }
        return message
    }
}

extension Mesos_V1_TaskID {
    fileprivate init(fastValue value: String?) {
        self.init()
        if let value { self.value = value }
    }
}

extension Mesos_V1_FrameworkID {
    fileprivate init(fastValue value: String?) {
        self.init()
        if let value { self.value = value }
    }
}

extension Mesos_V1_AgentID {
    fileprivate init(fastValue value: String?) {
        self.init()
        if let value { self.value = value }
    }
}

extension Mesos_V1_ExecutorID {
    fileprivate init(fastValue value: String?) {
        self.init()
        if let value { self.value = value }
    }
}
