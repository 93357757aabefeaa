import Foundation
import MesosCore
import MesosOperator
import SwiftProtobuf
import Testing

/// The operator calls' encodings: JSON with Mesos's field and enum names, protobuf with Mesos's field numbers,
/// and answers decoded leniently (the fact sheet's samples, unknown fields, unknown enum values).
@Suite struct OperatorWireTests {
    private func json(_ call: MasterCall) throws -> String {
        String(decoding: try OperatorWire.encode(call, as: .json), as: UTF8.self)
    }

    private func agentJSON(_ call: AgentCall) throws -> String {
        String(decoding: try OperatorWire.encode(call, as: .json), as: UTF8.self)
    }

    private func object(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    // MARK: JSON, master calls

    @Test func callsWithoutSubMessageAreJustTheTypeName() throws {
        #expect(try json(.getHealth()) == #"{"type":"GET_HEALTH"}"#)
        #expect(try json(.getState()) == #"{"type":"GET_STATE"}"#)
        #expect(try json(.getOperations()) == #"{"type":"GET_OPERATIONS"}"#)
        #expect(try json(.getMaintenanceSchedule()) == #"{"type":"GET_MAINTENANCE_SCHEDULE"}"#)
        #expect(try json(.subscribe()) == #"{"type":"SUBSCRIBE"}"#)
    }

    @Test func getMetricsAlwaysCarriesItsSubMessage() throws {
        #expect(try json(.getMetrics()) == #"{"type":"GET_METRICS","get_metrics":{}}"#)
        let withTimeout = try object(try json(.getMetrics(timeout: .seconds(5))))
        let metrics = try #require(withTimeout["get_metrics"] as? [String: Any])
        let timeout = try #require(metrics["timeout"] as? [String: Any])
        #expect("\(timeout["nanoseconds"]!)" == "5000000000")
    }

    @Test func teardownUsesMesosFieldNames() throws {
        #expect(
            try json(.teardown(frameworkID: FrameworkID.with { $0.value = "fw-7" }))
                == #"{"type":"TEARDOWN","teardown":{"framework_id":{"value":"fw-7"}}}"#)
    }

    @Test func readFileAndListFiles() throws {
        let read = try object(try json(.readFile(path: "/master/log", offset: 0, length: 65536)))
        #expect(read["type"] as? String == "READ_FILE")
        let body = try #require(read["read_file"] as? [String: Any])
        #expect(body["path"] as? String == "/master/log")
        #expect("\(body["offset"]!)" == "0")
        #expect("\(body["length"]!)" == "65536")
        #expect(try json(.listFiles(path: "/master")) == #"{"type":"LIST_FILES","list_files":{"path":"/master"}}"#)
    }

    @Test func drainAgentDurationIsAPlainMessageInJSON() throws {
        let call = MasterCall.drainAgent(AgentID.with { $0.value = "S3" }, maxGracePeriod: .seconds(600), markGone: true)
        let text = try json(call)
        #expect(!text.contains(#""600s""#))
        let drain = try #require(try object(text)["drain_agent"] as? [String: Any])
        let period = try #require(drain["max_grace_period"] as? [String: Any])
        #expect(period["seconds"] as? Int == 600)
        #expect(period["nanos"] as? Int == 0)
        #expect(drain["mark_gone"] as? Bool == true)
        #expect((drain["agent_id"] as? [String: Any])?["value"] as? String == "S3")

        // Without a grace period the body is the generated JSON.
        #expect(
            try json(.drainAgent(AgentID.with { $0.value = "S3" }))
                == #"{"type":"DRAIN_AGENT","drain_agent":{"agent_id":{"value":"S3"}}}"#)
        // Fractions of a second go to nanos.
        let fractional = try object(try json(.drainAgent(AgentID.with { $0.value = "S3" }, maxGracePeriod: .milliseconds(1500))))
        let fractionalPeriod = try #require((fractional["drain_agent"] as? [String: Any])?["max_grace_period"] as? [String: Any])
        #expect(fractionalPeriod["seconds"] as? Int == 1)
        #expect(fractionalPeriod["nanos"] as? Int == 500_000_000)
    }

    @Test func updateQuotaMapsAreObjectsKeyedByResourceName() throws {
        let config = QuotaConfig.with {
            $0.role = "dev"
            $0.guarantees = ["cpus": .with { $0.value = 1 }]
            $0.limits = ["mem": .with { $0.value = 2048 }]
        }
        #expect(
            try json(.updateQuota([config]))
                == #"{"type":"UPDATE_QUOTA","update_quota":{"quota_configs":[{"role":"dev","guarantees":{"cpus":{"value":1.0}},"limits":{"mem":{"value":2048.0}}}]}}"#
        )
    }

    @Test func maintenanceScheduleAndWeights() throws {
        let schedule = MaintenanceSchedule.with {
            $0.windows = [
                .with {
                    $0.machineIds = [.with { $0.hostname = "agent-3"; $0.ip = "10.0.0.23" }]
                    $0.unavailability.start.nanoseconds = 1_732_262_400_000_000_000
                }
            ]
        }
        let update = try object(try json(.updateMaintenanceSchedule(schedule)))
        let windows = try #require(
            ((update["update_maintenance_schedule"] as? [String: Any])?["schedule"] as? [String: Any])?["windows"] as? [[String: Any]])
        let machine = try #require((windows.first?["machine_ids"] as? [[String: Any]])?.first)
        #expect(machine["hostname"] as? String == "agent-3")
        #expect(machine["ip"] as? String == "10.0.0.23")
        let start = try #require((windows.first?["unavailability"] as? [String: Any])?["start"] as? [String: Any])
        #expect("\(start["nanoseconds"]!)" == "1732262400000000000")

        #expect(
            try json(.updateWeights([.with { $0.role = "batch"; $0.weight = 2.5 }]))
                == #"{"type":"UPDATE_WEIGHTS","update_weights":{"weight_infos":[{"weight":2.5,"role":"batch"}]}}"#)
    }

    @Test func reserveResourcesCarriesReservations() throws {
        let cpus = Resource.with {
            $0.name = "cpus"
            $0.type = .scalar
            $0.scalar.value = 1
            $0.reservations = [.with { $0.type = .dynamic; $0.role = "ops"; $0.principal = "ops" }]
        }
        let text = try json(.reserveResources(agentID: AgentID.with { $0.value = "S0" }, resources: [cpus]))
        #expect(
            text
                == #"{"type":"RESERVE_RESOURCES","reserve_resources":{"agent_id":{"value":"S0"},"resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":1.0},"reservations":[{"principal":"ops","role":"ops","type":"DYNAMIC"}]}]}}"#
        )
    }

    // MARK: Protobuf field numbers

    @Test func teardownProtobufUsesMesosNumbers() throws {
        let bytes = try OperatorWire.encode(MasterCall.teardown(frameworkID: FrameworkID.with { $0.value = "fw" }), as: .protobuf)
        // 1: type = 31 (TEARDOWN); 16: teardown { 1: framework_id { 1: "fw" } }
        #expect(bytes == [0x08, 31, 0x82, 0x01, 0x06, 0x0A, 0x04, 0x0A, 0x02, 0x66, 0x77])
    }

    @Test func drainAgentProtobufUsesMesosNumbers() throws {
        let bytes = try OperatorWire.encode(
            MasterCall.drainAgent(AgentID.with { $0.value = "a" }, maxGracePeriod: .seconds(600), markGone: true),
            as: .protobuf)
        // 1: type = 37; 21: drain_agent { 1: agent_id { 1: "a" }, 2: { 1: 600 }, 3: true }
        #expect(
            bytes == [
                0x08, 37, 0xAA, 0x01, 0x0C,
                0x0A, 0x03, 0x0A, 0x01, 0x61,
                0x12, 0x03, 0x08, 0xD8, 0x04,
                0x18, 0x01,
            ])
    }

    @Test func callTypeAndSubMessageNumbersMatchMesos() throws {
        // (call, Call.type value, sub-message field number or nil)
        let agent = AgentID.with { $0.value = "a" }
        let cases: [(MasterCall, Int, Int?)] = [
            (.getHealth(), 1, nil), (.getFlags(), 2, nil), (.getVersion(), 3, nil), (.getMetrics(), 4, 2),
            (.getLoggingLevel(), 5, nil), (.setLoggingLevel(1, for: .seconds(60)), 6, 3),
            (.listFiles(path: "/"), 7, 4), (.readFile(path: "/x", offset: 0), 8, 5), (.getState(), 9, nil),
            (.getAgents(), 10, nil), (.getFrameworks(), 11, nil), (.getExecutors(), 12, nil),
            (.getOperations(), 33, nil), (.getTasks(), 13, nil), (.getRoles(), 14, nil), (.getWeights(), 15, nil),
            (.updateWeights([.with { $0.weight = 1 }]), 16, 6), (.getMaster(), 17, nil), (.subscribe(), 18, nil),
            (.reserveResources(agentID: agent, resources: []), 19, 7),
            (.unreserveResources(agentID: agent, resources: []), 20, 8),
            (.createVolumes(agentID: agent, volumes: []), 21, 9), (.destroyVolumes(agentID: agent, volumes: []), 22, 10),
            (.growVolume(agentID: agent, volume: Resource(), addition: Resource()), 34, 18),
            (.shrinkVolume(agentID: agent, volume: Resource(), subtract: 1), 35, 19),
            (.getMaintenanceStatus(), 23, nil), (.getMaintenanceSchedule(), 24, nil),
            (.updateMaintenanceSchedule(MaintenanceSchedule()), 25, 11),
            (.startMaintenance(machines: [.with { $0.hostname = "h" }]), 26, 12),
            (.stopMaintenance(machines: [.with { $0.hostname = "h" }]), 27, 13),
            (.drainAgent(agent), 37, 21), (.deactivateAgent(agent), 38, 22), (.reactivateAgent(agent), 39, 23),
            (.getQuota(), 28, nil), (.updateQuota([.with { $0.role = "r" }]), 36, 20),
            (.setQuota(role: "r", guarantee: []), 29, 14), (.removeQuota(role: "r"), 30, 15),
            (.teardown(frameworkID: FrameworkID.with { $0.value = "f" }), 31, 16), (.markAgentGone(agent), 32, 17),
        ]
        for (call, type, field) in cases {
            let bytes = try OperatorWire.encode(call, as: .protobuf)
            var reader = WireReader(bytes)
            let read = reader.next()
            let first = try #require(read)
            #expect(first.field == 1 && first.varint == UInt64(type), "type of \(call.type)")
            let second = reader.next()
            #expect(second?.field == field, "sub-message of \(call.type)")
            #expect(reader.next() == nil)
            try call.validate()
        }
    }

    @Test func validationRejectsMissingRequiredFields() {
        #expect(throws: MesosError.self) { try MasterCall.teardown(frameworkID: FrameworkID()).validate() }
        #expect(throws: MesosError.self) { try MasterCall.markAgentGone(AgentID()).validate() }
        #expect(throws: MesosError.self) { try MasterCall(.getMetrics).validate() }
        #expect(throws: MesosError.self) { try MasterCall.readFile(path: "", offset: 0).validate() }
        #expect(throws: MesosError.self) { try MasterCall().validate() }
        #expect(throws: MesosError.self) { try MasterCall.updateQuota([QuotaConfig()]).validate() }
        do {
            try MasterCall.teardown(frameworkID: FrameworkID()).validate()
        } catch {
            #expect(error.code == .invalidCall)
            #expect(error.message.contains("TEARDOWN"))
        }
    }

    // MARK: Decoding answers

    @Test func decodesTheFactSheetStateSampleIgnoringUnknownKeys() throws {
        let body = #"""
            {"type":"GET_STATE","get_state":{
             "get_tasks":{"tasks":[{"name":"etl-42","task_id":{"value":"etl-42"},
                "framework_id":{"value":"fw-0007"},"executor_id":{"value":"swift-exec-1"},
                "agent_id":{"value":"S3"},"state":"TASK_RUNNING",
                "resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":1.0},"allocation_info":{"role":"batch"}}],
                "statuses":[{"task_id":{"value":"etl-42"},"state":"TASK_RUNNING","source":"SOURCE_EXECUTOR",
                  "timestamp":1732262400.125,"uuid":"P44rahxNTn+aK1xtfo+aCw=="}],
                "status_update_state":"TASK_RUNNING","status_update_uuid":"P44rahxNTn+aK1xtfo+aCw==",
                "kill_policy":{"grace_period":{"nanoseconds":30000000000}}}],
               "unreachable_tasks":[],"completed_tasks":[]},
             "get_executors":{"executors":[{"executor_info":{"executor_id":{"value":"swift-exec-1"},"…":"…"},"agent_id":{"…":"…"}}]},
             "get_frameworks":{"frameworks":[{"framework_info":{"name":"swift-batch-scheduler","…":"…"},
                "active":true,"connected":true,"recovered":false,"registered_time":{"nanoseconds":1732262000000000000}}],
               "completed_frameworks":[]},
             "get_agents":{"agents":[{"agent_info":{"hostname":"agent-3.example.com","port":5051,"…":"…"},
                "active":true,"deactivated":false,"version":"1.11.0","pid":"slave(1)@10.0.0.23:5051",
                "registered_time":{"nanoseconds":1732000000000000000},"capabilities":[{"type":"MULTI_ROLE"}],
                "drain_info":{"state":"DRAINING","config":{"max_grace_period":{"nanoseconds":600000000000}}}}],
               "recovered_agents":[]},
             "a_future_field":{"x":1}}}
            """#
        let response = try OperatorWire.decode(MasterResponse.self, from: Array(body.utf8), as: .json)
        #expect(response.type == .getState)
        let task = try #require(response.getState.getTasks.tasks.first)
        #expect(task.taskID.value == "etl-42")
        #expect(task.state == .taskRunning)
        #expect(task.statuses.first?.uuid.count == 16)
        #expect(task.killPolicy.gracePeriod.nanoseconds == 30_000_000_000)
        #expect(response.getState.getExecutors.executors.first?.executorInfo.executorID.value == "swift-exec-1")
        #expect(response.getState.getFrameworks.frameworks.first?.connected == true)
        let agent = try #require(response.getState.getAgents.agents.first)
        #expect(agent.pid == "slave(1)@10.0.0.23:5051")
        #expect(agent.agentInfo.port == 5051)
        #expect(agent.drainInfo.state == .draining)
        #expect(agent.drainInfo.config.maxGracePeriod.nanoseconds == 600_000_000_000)
    }

    @Test func unknownEnumValuesAndFieldsAreTolerated() throws {
        let json = #"{"type":"A_NEW_RESPONSE","get_tasks":{"tasks":[{"name":"t","state":"TASK_FROM_THE_FUTURE"}]}}"#
        let response = try OperatorWire.decode(MasterResponse.self, from: Array(json.utf8), as: .json)
        #expect(response.type == .unknown)
        #expect(response.getTasks.tasks.first?.name == "t")

        // Protobuf: field 99 (varint) inside the response and an enum value Mesos may add later.
        var bytes = try MasterResponse.with {
            $0.type = .getHealth
            $0.getHealth.healthy = true
        }.serializedBytes() as [UInt8]
        bytes += [0x98, 0x06, 0x01]  // field 99, varint 1
        let decoded = try OperatorWire.decode(MasterResponse.self, from: bytes, as: .protobuf)
        #expect(decoded.getHealth.healthy)
        let futureType: [UInt8] = [0x08, 0x7F]  // type = 127
        #expect(try OperatorWire.decode(MasterResponse.self, from: futureType, as: .protobuf).type != .getHealth)
    }

    @Test func decodesTaskUpdatedEventAndAgentReadFile() throws {
        let event = #"""
            {"type":"TASK_UPDATED","task_updated":{"framework_id":{"value":"fw-0007"},
             "status":{"task_id":{"value":"etl-42"},"state":"TASK_KILLED","message":"Command terminated with signal Terminated",
              "source":"SOURCE_EXECUTOR","agent_id":{"value":"S3"},"executor_id":{"value":"swift-exec-1"},
              "timestamp":1732262999.75,"uuid":"xKHi81tsTX6PkKGyw9Tl9g=="},
             "state":"TASK_KILLED"}}
            """#
        let decoded = try OperatorWire.decode(MasterEvent.self, from: Array(event.utf8), as: .json)
        #expect(decoded.type == .taskUpdated)
        #expect(decoded.taskUpdated.state == .taskKilled)
        #expect(decoded.taskUpdated.status.taskID.value == "etl-42")

        let read = #"{"type":"READ_FILE","read_file":{"size":33,"data":"c3RhcnRpbmcgam9iIDQyCmxvYWRlZCAxMDAwIHJvd3MK"}}"#
        let response = try OperatorWire.decode(AgentResponse.self, from: Array(read.utf8), as: .json)
        #expect(response.readFile.size == 33)
        #expect(String(decoding: response.readFile.data, as: UTF8.self) == "starting job 42\nloaded 1000 rows\n")
    }

    @Test func getQuotaAndMaintenanceStatusDecode() throws {
        let quota = #"{"type":"GET_QUOTA","get_quota":{"status":{"configs":[{"role":"dev","guarantees":{"cpus":{"value":1.5}},"limits":{"cpus":{"value":4}}}]}}}"#
        let response = try OperatorWire.decode(MasterResponse.self, from: Array(quota.utf8), as: .json)
        let config = try #require(response.getQuota.status.configs.first)
        #expect(config.guarantees["cpus"]?.value == 1.5)
        #expect(config.limits["cpus"]?.value == 4)

        let status = #"{"type":"GET_MAINTENANCE_STATUS","get_maintenance_status":{"status":{"draining_machines":[{"id":{"hostname":"h1"},"statuses":[{"status":"ACCEPT","framework_id":{"value":"f"},"timestamp":{"nanoseconds":5}}]}],"down_machines":[{"ip":"10.0.0.9"}]}}}"#
        let maintenance = try OperatorWire.decode(MasterResponse.self, from: Array(status.utf8), as: .json)
        #expect(maintenance.getMaintenanceStatus.status.drainingMachines.first?.statuses.first?.status == .accept)
        #expect(maintenance.getMaintenanceStatus.status.downMachines.first?.ip == "10.0.0.9")
    }

    // MARK: Agent calls

    @Test func agentContainerCallsNestParents() throws {
        let child = ContainerID.with {
            $0.value = "child"
            $0.parent = .with { $0.value = "executor-container" }
        }
        #expect(
            try agentJSON(AgentCall.waitContainer(child))
                == #"{"type":"WAIT_CONTAINER","wait_container":{"container_id":{"value":"child","parent":{"value":"executor-container"}}}}"#
        )
        #expect(
            try agentJSON(AgentCall.killContainer(child, signal: 15))
                == #"{"type":"KILL_CONTAINER","kill_container":{"container_id":{"value":"child","parent":{"value":"executor-container"}},"signal":15}}"#
        )
        let launch = try agentJSON(
            AgentCall.launchContainer(child, command: .with { $0.shell = true; $0.value = "sleep 1" }))
        #expect(
            launch
                == #"{"type":"LAUNCH_CONTAINER","launch_container":{"container_id":{"value":"child","parent":{"value":"executor-container"}},"command":{"value":"sleep 1","shell":true}}}"#
        )
        #expect(try agentJSON(AgentCall.getContainers(showNested: true)) == #"{"type":"GET_CONTAINERS","get_containers":{"show_nested":true}}"#)
        #expect(try agentJSON(AgentCall.getMetrics()) == #"{"type":"GET_METRICS","get_metrics":{}}"#)
        #expect(try agentJSON(AgentCall.getAgent()) == #"{"type":"GET_AGENT"}"#)
    }

    @Test func agentCallNumbersMatchMesos() throws {
        let id = ContainerID.with { $0.value = "c"; $0.parent = .with { $0.value = "p" } }
        let cases: [(AgentCall, Int, Int?)] = [
            (.getHealth(), 1, nil), (.getFlags(), 2, nil), (.getVersion(), 3, nil), (.getMetrics(), 4, 2),
            (.getLoggingLevel(), 5, nil), (.setLoggingLevel(1, for: .seconds(1)), 6, 3), (.listFiles(path: "/"), 7, 4),
            (.readFile(path: "/x", offset: 0), 8, 5), (.getState(), 9, nil), (.getContainers(), 10, 20),
            (.getFrameworks(), 11, nil), (.getExecutors(), 12, nil), (.getOperations(), 31, nil), (.getTasks(), 13, nil),
            (.getAgent(), 20, nil), (.getResourceProviders(), 26, nil),
            (.launchNestedContainer(id, command: CommandInfo()), 14, 6), (.waitNestedContainer(id), 15, 7),
            (.killNestedContainer(id), 16, 8), (.removeNestedContainer(id), 21, 12),
            (.launchNestedContainerSession(id, command: CommandInfo()), 17, 9), (.attachContainerOutput(id), 19, 11),
            (.launchContainer(id, command: CommandInfo()), 22, 13), (.waitContainer(id), 23, 14),
            (.killContainer(id), 24, 15), (.removeContainer(id), 25, 16),
        ]
        for (call, type, field) in cases {
            let bytes = try OperatorWire.encode(call, as: .protobuf)
            var reader = WireReader(bytes)
            let read = reader.next()
            let first = try #require(read)
            #expect(first.field == 1 && first.varint == UInt64(type), "type of \(call.type)")
            #expect(reader.next()?.field == field, "sub-message of \(call.type)")
            try call.validate()
        }
        #expect(throws: MesosError.self) { try AgentCall.launchNestedContainer(ContainerID.with { $0.value = "c" }).validate() }
        #expect(throws: MesosError.self) { try AgentCall.waitContainer(ContainerID.with { $0.value = "a/b" }).validate() }
        #expect(throws: MesosError.self) { try AgentCall.killContainer(ContainerID.with { $0.value = ".." }).validate() }
    }
}

/// Reads top-level protobuf fields: just enough to check field numbers.
struct WireReader {
    struct Field: Equatable {
        var field: Int
        var varint: UInt64?
    }

    private let bytes: [UInt8]
    private var index = 0

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    private mutating func readVarint() -> UInt64? {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            value |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return value }
            shift += 7
        }
        return nil
    }

    mutating func next() -> Field? {
        guard index < bytes.count, let key = readVarint() else { return nil }
        let field = Int(key >> 3)
        switch key & 7 {
        case 0:
            return Field(field: field, varint: readVarint())
        case 2:
            guard let length = readVarint() else { return nil }
            index += Int(length)
            return Field(field: field, varint: nil)
        case 1:
            index += 8
            return Field(field: field, varint: nil)
        case 5:
            index += 4
            return Field(field: field, varint: nil)
        default:
            return nil
        }
    }
}
