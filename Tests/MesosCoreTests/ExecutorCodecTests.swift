import Foundation
import MesosCore
import MesosRecordIO
import Testing

/// The executor wire model against the composed samples of EXECUTOR-OPERATOR.md §5.
@Suite("Executor codec")
struct ExecutorCodecTests {
    let json = MesosCodec(.json)
    let proto = MesosCodec(.protobuf)

    static let frameworkID = "b3c1d2e4-5f60-4a7b-8c9d-0e1f2a3b4c5d-0007"
    static let agentID = "b3c1d2e4-5f60-4a7b-8c9d-0e1f2a3b4c5d-S3"
    /// 3f8e2b6a-1c4d-4e7f-9a2b-5c6d7e8f9a0b.
    static let uuid42 = Data(base64Encoded: "P44rahxNTn+aK1xtfo+aCw==")!

    static let subscribeSample = #"{"executor_id":{"value":"swift-exec-1"},"framework_id":{"value":"b3c1d2e4-5f60-4a7b-8c9d-0e1f2a3b4c5d-0007"},"# +
        #""type":"SUBSCRIBE","subscribe":{"unacknowledged_tasks":[{"name":"etl-42","task_id":{"value":"etl-42"},"# +
        #""agent_id":{"value":"b3c1d2e4-5f60-4a7b-8c9d-0e1f2a3b4c5d-S3"},"# +
        #""resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":1.0},"allocation_info":{"role":"batch"}}],"# +
        #""executor":{"executor_id":{"value":"swift-exec-1"},"# +
        #""framework_id":{"value":"b3c1d2e4-5f60-4a7b-8c9d-0e1f2a3b4c5d-0007"},"# +
        #""command":{"shell":true,"value":"./swift-executor"}},"# +
        #""kill_policy":{"grace_period":{"nanoseconds":30000000000}},"data":"eyJqb2IiOjQyfQ=="}],"# +
        #""unacknowledged_updates":[{"status":{"task_id":{"value":"etl-42"},"state":"TASK_RUNNING","# +
        #""source":"SOURCE_EXECUTOR","executor_id":{"value":"swift-exec-1"},"timestamp":1732262400.125,"# +
        #""uuid":"P44rahxNTn+aK1xtfo+aCw=="}}]}}"#

    static let subscribedSample = #"{"type":"SUBSCRIBED","subscribed":{"# +
        #""executor_info":{"executor_id":{"value":"swift-exec-1"},"# +
        #""framework_id":{"value":"b3c1d2e4-5f60-4a7b-8c9d-0e1f2a3b4c5d-0007"},"type":"CUSTOM","# +
        #""command":{"shell":true,"value":"./swift-executor"},"# +
        #""resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":0.1},"allocation_info":{"role":"batch"}}],"# +
        #""shutdown_grace_period":{"nanoseconds":10000000000}},"# +
        #""framework_info":{"user":"svc-batch","name":"swift-batch-scheduler","# +
        #""id":{"value":"b3c1d2e4-5f60-4a7b-8c9d-0e1f2a3b4c5d-0007"},"failover_timeout":604800.0,"checkpoint":true,"# +
        #""roles":["batch"],"capabilities":[{"type":"MULTI_ROLE"},{"type":"PARTITION_AWARE"},{"type":"TASK_KILLING_STATE"}]},"# +
        #""agent_info":{"hostname":"agent-3.example.com","port":5051,"id":{"value":"b3c1d2e4-5f60-4a7b-8c9d-0e1f2a3b4c5d-S3"},"# +
        #""attributes":[{"name":"rack","type":"TEXT","text":{"value":"r12"}}]},"# +
        #""container_id":{"value":"7a9c1e52-3f4b-4d2a-9c8e-1b2d3f4a5b6c"}}}"#

    static let launchSample = #"{"type":"LAUNCH","launch":{"task":{"name":"etl-43","task_id":{"value":"etl-43"},"# +
        #""agent_id":{"value":"b3c1d2e4-5f60-4a7b-8c9d-0e1f2a3b4c5d-S3"},"# +
        #""resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":0.5},"allocation_info":{"role":"batch"}}],"# +
        #""executor":{"executor_id":{"value":"swift-exec-1"},"# +
        #""framework_id":{"value":"b3c1d2e4-5f60-4a7b-8c9d-0e1f2a3b4c5d-0007"},"command":{"shell":true,"value":"./swift-executor"}},"# +
        #""data":"eyJqb2IiOjQzfQ==","labels":{"labels":[{"key":"team","value":"infra"}]}}}}"#

    static let updateSample = #"{"executor_id":{"value":"swift-exec-1"},"framework_id":{"value":"b3c1d2e4-5f60-4a7b-8c9d-0e1f2a3b4c5d-0007"},"# +
        #""type":"UPDATE","update":{"status":{"task_id":{"value":"etl-43"},"state":"TASK_RUNNING","# +
        #""source":"SOURCE_EXECUTOR","executor_id":{"value":"swift-exec-1"},"timestamp":1732262460.5,"# +
        #""message":"started pid 4711","uuid":"mxwtPk9QSmGLcsPU5fanuA=="}}}"#

    @Test("sample (1): a recovering SUBSCRIBE with its unacknowledged task and update")
    func subscribeSample() throws {
        let call = try json.decode(ExecutorCall.self, from: Array(Self.subscribeSample.utf8)[...])
        #expect(call.type == .subscribe)
        #expect(call.frameworkID.value == Self.frameworkID && call.executorID.value == "swift-exec-1")
        let task = try #require(call.subscribe.unacknowledgedTasks.first)
        #expect(task.taskID.value == "etl-42" && task.killPolicy.gracePeriod.nanoseconds == 30_000_000_000)
        #expect(String(decoding: task.data, as: UTF8.self) == #"{"job":42}"#)
        let update = try #require(call.subscribe.unacknowledgedUpdates.first)
        #expect(update.status.uuid == Self.uuid42 && update.status.state == .taskRunning)
        #expect(update.status.timestamp == 1732262400.125 && update.status.source == .executor)
        try call.validate()

        // The builder makes the same call, and it survives both encodings.
        let built = ExecutorCall.subscribe(
            executorID: call.executorID, frameworkID: call.frameworkID,
            unacknowledgedTasks: [task], unacknowledgedUpdates: [update])
        #expect(built == call)
        #expect(try json.decode(ExecutorCall.self, from: try json.encode(call: built)[...]) == call)
        #expect(try proto.decode(ExecutorCall.self, from: try proto.encode(call: built)[...]) == call)
    }

    @Test("a fresh SUBSCRIBE carries an empty subscribe object, which the agent requires")
    func emptySubscribe() throws {
        var executorID = ExecutorID()
        executorID.value = "e"
        var frameworkID = FrameworkID()
        frameworkID.value = "f"
        let call = ExecutorCall.subscribe(executorID: executorID, frameworkID: frameworkID)
        let text = String(decoding: try json.encode(call: call), as: UTF8.self)
        #expect(text.contains(#""subscribe":{}"#))
        #expect(text.contains(#""executor_id":{"value":"e"}"#) && text.contains(#""type":"SUBSCRIBE""#))
        var missing = call
        missing.clearSubscribe()
        #expect(throws: MesosError(code: .invalidCall)) { try missing.validate() }
    }

    @Test("sample (2): SUBSCRIBED")
    func subscribedSample() throws {
        let event = try json.decodeExecutorEvent(Array(Self.subscribedSample.utf8)[...])
        guard case .subscribed(let subscribed) = event else {
            Issue.record("decoded as \(event.typeName)")
            return
        }
        #expect(subscribed.agentInfo.id.value == Self.agentID && subscribed.agentInfo.port == 5051)
        #expect(subscribed.agentInfo.hostname == "agent-3.example.com")
        #expect(subscribed.containerID.value == "7a9c1e52-3f4b-4d2a-9c8e-1b2d3f4a5b6c")
        #expect(subscribed.frameworkInfo.checkpoint && subscribed.frameworkInfo.capabilities.count == 3)
        #expect(subscribed.executorInfo.shutdownGracePeriod.nanoseconds == 10_000_000_000)
        #expect(try proto.decodeExecutorEvent(try proto.encode(event.wireMessage)[...]) == event)
    }

    @Test("sample (3): LAUNCH")
    func launchSample() throws {
        let event = try json.decodeExecutorEvent(Array(Self.launchSample.utf8)[...])
        guard case .launch(let task) = event else {
            Issue.record("decoded as \(event.typeName)")
            return
        }
        #expect(task.taskID.value == "etl-43" && task.labels.labels.first?.value == "infra")
        #expect(task.resources.first?.scalar.value == 0.5 && task.executor.command.value == "./swift-executor")
        #expect(event.kind == .launch && event.typeName == "LAUNCH")
    }

    @Test("sample (4): the UPDATE call validates, and the validator catches what the agent refuses")
    func updateSample() throws {
        let call = try json.decode(ExecutorCall.self, from: Array(Self.updateSample.utf8)[...])
        try call.validate()
        #expect(call.update.status.message == "started pid 4711")

        func refused(_ change: (inout TaskStatus) -> Void) -> Bool {
            var bad = call
            change(&bad.update.status)
            do {
                try bad.validate()
                return false
            } catch {
                return error.code == .invalidCall
            }
        }
        #expect(refused { $0.uuid = Data("d40f3f4f-1b2c-4d5e-8f9a-0b1c2d3e4f5a\n".utf8) })  // the docs' 37-byte string
        #expect(refused { $0.uuid = Data(repeating: 0, count: 16) })                       // version nibble 0
        #expect(refused { $0.clearUuid() })
        #expect(refused { $0.state = .taskStaging })
        #expect(refused { $0.source = .agent })
        #expect(refused { $0.executorID.value = "someone-else" })
        #expect(refused { $0.clearTaskID() })
    }

    @Test("executorUpdate fills a fresh v4 uuid, the source, the ids and a missing timestamp")
    func executorUpdateFills() throws {
        var status = TaskStatus()
        status.taskID.value = "t1"
        status.state = .taskRunning
        status.agentID.value = "stale"
        var executorID = ExecutorID()
        executorID.value = "e"
        var agentID = AgentID()
        agentID.value = "a"
        let first = status.executorUpdate(executorID: executorID, agentID: agentID, timestamp: 12.5)
        let second = status.executorUpdate(executorID: executorID, agentID: nil, timestamp: 13)
        #expect(first.uuid.count == 16 && first.uuid.isValidMesosUUID && first.uuid != second.uuid)
        #expect(first.uuid[first.uuid.startIndex + 6] >> 4 == 4)
        #expect(first.source == .executor && first.executorID == executorID && first.agentID == agentID)
        #expect(first.timestamp == 12.5 && !second.hasAgentID)
        status.timestamp = 99
        #expect(status.executorUpdate(executorID: executorID, agentID: nil, timestamp: 1).timestamp == 99)
    }

    @Test("sample (5): ACKNOWLEDGED in its exact RecordIO framing, and HEARTBEAT's record")
    func acknowledgedFraming() throws {
        let record = #"{"type":"ACKNOWLEDGED","acknowledged":{"task_id":{"value":"etl-42"},"uuid":"P44rahxNTn+aK1xtfo+aCw=="}}"#
        #expect(record.utf8.count == 103)
        let framed = Array("103\n\(record)20\n{\"type\":\"HEARTBEAT\"}".utf8)
        var decoder = RecordIODecoder()
        decoder.append(framed[...])
        var records: [ArraySlice<UInt8>] = []
        while let record = try decoder.next() {
            records.append(record)
        }
        #expect(records.count == 2)
        let acknowledged = try json.decodeExecutorEvent(records[0])
        guard case .acknowledged(let ack) = acknowledged else {
            Issue.record("decoded as \(acknowledged.typeName)")
            return
        }
        #expect(ack.taskID.value == "etl-42" && ack.uuid == Self.uuid42)
        #expect(try json.decodeExecutorEvent(records[1]) == .heartbeat)
        // Encoding the event gives the same record back.
        #expect(RecordIOEncoder.encode(try json.encode(acknowledged.wireMessage)) == Array("103\n\(record)".utf8))
    }

    @Test("sample (6): KILL with a kill-policy override")
    func killSample() throws {
        let text = #"{"type":"KILL","kill":{"task_id":{"value":"etl-42"},"kill_policy":{"grace_period":{"nanoseconds":10000000000}}}}"#
        guard case .kill(let kill) = try json.decodeExecutorEvent(Array(text.utf8)[...]) else {
            Issue.record("not a kill")
            return
        }
        #expect(kill.taskID.value == "etl-42" && kill.hasKillPolicy && kill.killPolicy.gracePeriod.nanoseconds == 10_000_000_000)
    }

    @Test("SHUTDOWN, MESSAGE, ERROR, LAUNCH_GROUP round-trip in both encodings; MESSAGE data is field 2 in calls")
    func otherEvents() throws {
        var group = TaskGroupInfo()
        var task = TaskInfo()
        task.taskID.value = "g1"
        group.tasks = [task]
        let events: [ExecutorEvent] = [.shutdown, .message([1, 2, 3]), .error(message: "boom"), .launchGroup(group), .heartbeat]
        for event in events {
            #expect(try json.decodeExecutorEvent(try json.encode(event.wireMessage)[...]) == event)
            #expect(try proto.decodeExecutorEvent(try proto.encode(event.wireMessage)[...]) == event)
        }
        var executorID = ExecutorID()
        executorID.value = "e"
        var frameworkID = FrameworkID()
        frameworkID.value = "f"
        let message = try proto.encode(call: .message([0xAB], executorID: executorID, frameworkID: frameworkID))
        // Call.message (field 6, length-delimited) holds data as field 2: tag 0x12, length 1, 0xAB.
        #expect(message.suffix(5) == [0x32, 3, 0x12, 1, 0xAB])
    }

    @Test("unknown fields, unknown enum values and unknown event types are ignored")
    func leniency() throws {
        let unknownField = #"{"type":"MESSAGE","message":{"data":"AQI=","future":1},"brand_new":{"x":true}}"#
        #expect(try json.decodeExecutorEvent(Array(unknownField.utf8)[...]) == .message([1, 2]))
        let unknownType = #"{"type":"TELEPORTED","teleported":{}}"#
        guard case .unknown = try json.decodeExecutorEvent(Array(unknownType.utf8)[...]) else {
            Issue.record("an unknown type should decode as .unknown")
            return
        }
        var future = ExecutorEventMessage()
        future.type = .shutdown
        var bytes = try proto.encode(future)
        bytes[1] = 42  // type = 42, a value this library does not know
        guard case .unknown = try proto.decodeExecutorEvent(bytes[...]) else {
            Issue.record("an unknown protobuf type should decode as .unknown")
            return
        }
        #expect(throws: MesosError(code: .decodingFailed)) { try json.decodeExecutorEvent(Array("{not json".utf8)[...]) }
    }

    @Test("stout durations parse as Mesos writes them; anything else is refused")
    func stoutDurations() {
        let good: [(String, Duration)] = [
            ("1secs", .seconds(1)), ("15mins", .seconds(900)), ("2.5hrs", .seconds(9000)), ("100ms", .milliseconds(100)),
            ("3days", .seconds(259_200)), ("1weeks", .seconds(604_800)), ("10ns", .nanoseconds(10)),
            ("5us", .microseconds(5)), ("1500ms", .milliseconds(1500)), ("0secs", .zero), (".5secs", .milliseconds(500)),
        ]
        for (text, expected) in good {
            #expect(Duration(stout: text) == expected, "\(text)")
        }
        for bad in ["", "5", "secs", "5 secs", "-1secs", "1e3ms", "1.2.3secs", "5s", "5sec", "5minutes", ".secs", "10NS"] {
            #expect(Duration(stout: bad) == nil, "\(bad)")
        }
    }
}
