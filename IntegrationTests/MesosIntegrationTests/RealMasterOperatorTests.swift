import Foundation
import MesosCore
import MesosCurlTransport
import MesosOperator
import MesosRecordIO
import MesosScheduler
import MesosTestKit
import MesosZooKeeper
import Testing

/// The dedicated operator master `scripts/test.sh` starts (`$MESOS_OPERATOR_MASTER_URL`, port 5154, one agent),
/// so that weights, quotas, maintenance and reservations changed here disturb no other suite's master.
enum OperatorMaster {
    static let variable = "MESOS_OPERATOR_MASTER_URL"

    static var shouldRun: Bool { TestServers.shouldRun(needing: variable) }

    static func location() throws -> MasterLocation {
        let url = try #require(URL(string: try TestServers.value(variable)))
        return MasterLocation(host: url.host ?? "127.0.0.1", port: url.port ?? 5050)
    }

    static func configuration(_ contentType: MesosContentType = .json, transport: TestTransport = .curl) -> MesosOperatorConfiguration {
        MesosOperatorConfiguration(transport: transport.make(), contentType: contentType, callTimeout: .seconds(30))
    }

    static func client(_ contentType: MesosContentType = .json, transport: TestTransport = .curl) throws -> MesosMasterOperator {
        MesosMasterOperator(master: try location(), configuration: configuration(contentType, transport: transport))
    }

    /// The master's one agent.
    static func agent(_ master: MesosMasterOperator) async throws -> MasterResponse.GetAgents.Agent {
        try #require(try await master.getAgents().agents.first, "the operator master has no agent")
    }
}

extension SharedClusterSuites {
    @Suite("Real master: operator API", .enabled(if: OperatorMaster.shouldRun, "needs MESOS_OPERATOR_MASTER_URL (scripts/test.sh starts one)"),
           .serialized, .timeLimit(.minutes(3)))
    struct RealMasterOperatorTests {
        @Test("every read call answers, in JSON and in protobuf", arguments: [MesosContentType.json, .protobuf], TestTransport.allCases)
        func readCalls(contentType: MesosContentType, transport: TestTransport) async throws {
            let master = try OperatorMaster.client(contentType, transport: transport)
            #expect(try await master.getHealth().healthy)
            let version = try await master.getVersion().versionInfo
            #expect(version.version == "1.11.0")
            #expect(version.gitTag == "1.11.0")
            let flags = try await master.getFlags().flags
            #expect(flags.contains { $0.name == "port" })
            let metrics = try await master.getMetrics(timeout: .seconds(5)).metrics
            #expect(metrics.contains { $0.name == "master/elected" && $0.value == 1 })
            #expect(try await master.getLoggingLevel().level >= 0)

            let state = try await master.getState()
            #expect(state.getAgents.agents.count == 1)
            let agents = try await master.getAgents().agents
            #expect(agents.count == 1)
            #expect(agents.first?.version == "1.11.0")
            #expect(agents.first?.active == true)
            #expect(agents.first?.totalResources.contains { $0.name == "cpus" } == true)
            _ = try await master.getFrameworks()
            _ = try await master.getExecutors()
            _ = try await master.getTasks()
            _ = try await master.getOperations()
            // Only roles with a framework, a weight or a quota are listed (not "*" on an idle master).
            let roles = try await master.getRoles().roles
            #expect(roles.allSatisfy { !$0.name.isEmpty && $0.weight > 0 })
            _ = try await master.getWeights()
            let info = try await master.getMaster()
            #expect(info.masterInfo.port == Int32(try OperatorMaster.location().port))
            #expect(info.electedTime > 0)
            _ = try await master.getMaintenanceStatus()
            _ = try await master.getMaintenanceSchedule()
            _ = try await master.getQuota()
            #expect(master.leader == (try OperatorMaster.location()))

            // The master's files: its log is only attached with --log_dir, so a listing is either a listing or a 404.
            do {
                _ = try await master.listFiles(path: "/master/log")
            } catch {
                #expect(error.code == .notFound)
            }
        }

        @Test("answers of 1 KiB and more come gzip-compressed and are decoded (Accept-Encoding: gzip)")
        func gzipAnswers() async throws {
            let recorder = HeadRecordingTransport(base: MesosCurlTransport(configuration: .init()))
            let configuration = MesosOperatorConfiguration(transport: recorder, contentType: .json)
            let master = MesosMasterOperator(master: try OperatorMaster.location(), configuration: configuration)
            let flags = try await master.getFlags().flags
            #expect(flags.count > 20)
            #expect(recorder.heads.last?.headers["Content-Encoding"] == "gzip")
            _ = try await master.getHealth()
            #expect(recorder.heads.last?.headers["Content-Encoding"] == nil)
            var plain = configuration
            plain.acceptsCompressedResponses = false
            let uncompressed = MesosMasterOperator(master: try OperatorMaster.location(), configuration: plain)
            #expect(try await uncompressed.getFlags().flags.count == flags.count)
            #expect(recorder.heads.last?.headers["Content-Encoding"] == nil)
        }

        @Test("a request the master refuses carries its text: TEARDOWN of an unknown framework is a 400")
        func refusalCarriesTheMastersText() async throws {
            let master = try OperatorMaster.client()
            let error = await #expect(throws: MesosError.self) {
                try await master.teardown(frameworkID: FrameworkID.with { $0.value = "no-such-framework-\(UUID().uuidString)" })
            }
            #expect(error?.httpStatus == 400)
            #expect(error?.code == .malformedRequest)
            #expect(error?.message.contains("No framework found with specified ID") == true)
        }

        @Test("UPDATE_WEIGHTS then GET_WEIGHTS shows the weight")
        func weights() async throws {
            let master = try OperatorMaster.client()
            let role = "it-operator-weights"
            try await master.updateWeights([.with { $0.role = role; $0.weight = 2.5 }])
            let weights = try await master.getWeights().weightInfos
            #expect(weights.first { $0.role == role }?.weight == 2.5)
            #expect(try await master.getRoles().roles.first { $0.name == role }?.weight == 2.5)
            try await master.updateWeights([.with { $0.role = role; $0.weight = 1 }])
            #expect(try await master.getWeights().weightInfos.first { $0.role == role }?.weight ?? 1 == 1)
        }

        @Test("UPDATE_QUOTA then GET_QUOTA shows it; an empty config removes its guarantees and limits",
              arguments: [MesosContentType.json, .protobuf])
        func quota(contentType: MesosContentType) async throws {
            let master = try OperatorMaster.client(contentType)
            let role = "it-operator-quota"
            let config = QuotaConfig.with {
                $0.role = role
                $0.guarantees = ["cpus": .with { $0.value = 0.25 }]
                $0.limits = ["cpus": .with { $0.value = 1 }, "mem": .with { $0.value = 256 }]
            }
            try await master.updateQuota([config])
            let configs = try await master.getQuota().status.configs
            let stored = try #require(configs.first { $0.role == role })
            #expect(stored.guarantees["cpus"]?.value == 0.25)
            #expect(stored.limits["cpus"]?.value == 1)
            #expect(stored.limits["mem"]?.value == 256)
            // The 1.11 master keeps listing the role, with no guarantees and no limits (the default quota).
            try await master.updateQuota([.with { $0.role = role }])
            let cleared = try await master.getQuota().status.configs.first { $0.role == role }
            #expect(cleared?.guarantees.isEmpty ?? true)
            #expect(cleared?.limits.isEmpty ?? true)
        }

        @Test("UPDATE_MAINTENANCE_SCHEDULE then GET_MAINTENANCE_SCHEDULE shows the window; an empty schedule clears it")
        func maintenanceSchedule() async throws {
            let master = try OperatorMaster.client()
            let start = Int64(Date().timeIntervalSince1970 + 3600) * 1_000_000_000
            let machine = MachineID.with { $0.hostname = "it-operator-maintenance"; $0.ip = "10.255.0.1" }
            let schedule = MaintenanceSchedule.with {
                $0.windows = [
                    .with {
                        $0.machineIds = [machine]
                        $0.unavailability.start.nanoseconds = start
                        $0.unavailability.duration.nanoseconds = 600_000_000_000
                    }
                ]
            }
            try await master.updateMaintenanceSchedule(schedule)
            let read = try await master.getMaintenanceSchedule().schedule
            let window = try #require(read.windows.first)
            #expect(window.machineIds == [machine])
            #expect(window.unavailability.start.nanoseconds == start)
            #expect(window.unavailability.duration.nanoseconds == 600_000_000_000)
            let status = try await master.getMaintenanceStatus().status
            #expect(status.downMachines.isEmpty)
            try await master.updateMaintenanceSchedule(MaintenanceSchedule())
            #expect(try await master.getMaintenanceSchedule().schedule.windows.isEmpty)
        }

        @Test("RESERVE_RESOURCES then UNRESERVE_RESOURCES on the agent, read back through GET_AGENTS")
        func reserveAndUnreserve() async throws {
            let master = try OperatorMaster.client()
            let agent = try await OperatorMaster.agent(master)
            let role = "it-operator-reserve"
            let cpus = Resource.with {
                $0.name = "cpus"
                $0.type = .scalar
                $0.scalar.value = 0.1
                $0.reservations = [.with { $0.type = .dynamic; $0.role = role }]
            }
            func reserved() async throws -> Double {
                let agents = try await master.getAgents().agents
                let total = try #require(agents.first { $0.agentInfo.id == agent.agentInfo.id }).totalResources
                return total.filter { $0.name == "cpus" && $0.reservations.last?.role == role }.reduce(0) { $0 + $1.scalar.value }
            }
            try await master.reserveResources(agentID: agent.agentInfo.id, resources: [cpus])
            #expect(abs(try await reserved() - 0.1) < 1e-9)
            let state = try await master.getState()
            #expect(state.getAgents.agents.first?.totalResources.contains { $0.reservations.last?.role == role } == true)
            try await master.unreserveResources(agentID: agent.agentInfo.id, resources: [cpus])
            #expect(try await reserved() == 0)

            // Unreserving what is not reserved is refused with the master's reason.
            let error = await #expect(throws: MesosError.self) {
                try await master.unreserveResources(agentID: agent.agentInfo.id, resources: [cpus])
            }
            #expect(error?.code == .conflict || error?.code == .malformedRequest)
            #expect(error?.message.isEmpty == false)
        }

        @Test("persistent volumes: RESERVE disk, CREATE_VOLUMES, GROW_VOLUME, SHRINK_VOLUME, DESTROY_VOLUMES, UNRESERVE (202 each)")
        func volumes() async throws {
            let master = try OperatorMaster.client(.protobuf)
            let id = try await OperatorMaster.agent(master).agentInfo.id
            let role = "it-operator-volumes"
            func disk(_ megabytes: Double, volume: Bool) -> Resource {
                Resource.with {
                    $0.name = "disk"
                    $0.type = .scalar
                    $0.scalar.value = megabytes
                    $0.reservations = [.with { $0.type = .dynamic; $0.role = role }]
                    if volume {
                        $0.disk.persistence.id = "it-operator-volume"
                        $0.disk.volume.containerPath = "data"
                        $0.disk.volume.mode = .rw
                    }
                }
            }
            func volumeSize() async throws -> Double? {
                let agents = try await master.getAgents().agents
                let total = try #require(agents.first { $0.agentInfo.id == id }).totalResources
                return total.first { $0.disk.persistence.id == "it-operator-volume" }?.scalar.value
            }
            try await master.reserveResources(agentID: id, resources: [disk(96, volume: false)])
            try await master.createVolumes(agentID: id, volumes: [disk(64, volume: true)])
            #expect(try await volumeSize() == 64)
            try await master.growVolume(agentID: id, volume: disk(64, volume: true), addition: disk(32, volume: false))
            #expect(try await volumeSize() == 96)
            try await master.shrinkVolume(agentID: id, volume: disk(96, volume: true), subtract: 32)
            #expect(try await volumeSize() == 64)
            try await master.destroyVolumes(agentID: id, volumes: [disk(64, volume: true)])
            #expect(try await volumeSize() == nil)
            try await master.unreserveResources(agentID: id, resources: [disk(96, volume: false)])
            let total = try #require(try await master.getAgents().agents.first { $0.agentInfo.id == id }).totalResources
            #expect(!total.contains { $0.reservations.last?.role == role })
        }

        @Test("TEARDOWN of a framework subscribed with MesosScheduler removes it")
        func teardownByID() async throws {
            let location = try OperatorMaster.location()
            var info = RealMaster.frameworkInfo(name: "it-operator-teardown")
            info.failoverTimeout = 600
            let configuration = MesosSchedulerConfiguration(
                frameworkInfo: info, master: .fixed(location), transport: MesosCurlTransport(configuration: .init()))
            let scheduler = MesosScheduler(configuration: configuration)
            let master = try OperatorMaster.client(.protobuf)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try? await scheduler.run() }
                defer { group.cancelAll() }
                let deadline = ContinuousClock.now + .seconds(30)
                var frameworkID: FrameworkID?
                while ContinuousClock.now < deadline {
                    if scheduler.status.isSubscribed, let id = scheduler.status.frameworkID {
                        frameworkID = id
                        break
                    }
                    try await Task.sleep(for: .milliseconds(20))
                }
                let id = try #require(frameworkID, "the framework did not subscribe")
                #expect(try await master.getFrameworks().frameworks.contains { $0.frameworkInfo.id == id })
                try await master.teardown(frameworkID: id)
                let frameworks = try await master.getFrameworks()
                #expect(!frameworks.frameworks.contains { $0.frameworkInfo.id == id })
                #expect(frameworks.completedFrameworks.contains { $0.frameworkInfo.id == id })
            }
        }

        @Test("the agent answers GET_VERSION, GET_STATE, GET_FLAGS, GET_AGENT and LIST_FILES at the URL GET_AGENTS gives")
        func agentCalls() async throws {
            let master = try OperatorMaster.client()
            let record = try await OperatorMaster.agent(master)
            for contentType in [MesosContentType.json, .protobuf] {
                let agent = try MesosAgentOperator(agent: record, configuration: OperatorMaster.configuration(contentType))
                #expect(try await agent.getHealth().healthy)
                #expect(try await agent.getVersion().versionInfo.version == "1.11.0")
                _ = try await agent.getState()
                #expect(try await agent.getFlags().flags.contains { $0.name == "work_dir" })
                #expect(try await agent.getAgent().agentInfo.id == record.agentInfo.id)
                _ = try await agent.getContainers()
                _ = try await agent.getTasks()
                _ = try await agent.getFrameworks()
                _ = try await agent.getExecutors()
                #expect(try await agent.getMetrics().metrics.contains { $0.name == "slave/registered" })
                // Only sandboxes and the log are attached: a path that is none of them is a 404 with the agent's text.
                let missing = await #expect(throws: MesosError.self) { try await agent.listFiles(path: "/no/such/sandbox") }
                #expect(missing?.code == .notFound)
            }
        }

        @Test("a task's sandbox: LIST_FILES and READ_FILE (size probe, then 4-byte reads) on the agent find its file")
        func sandboxFiles() async throws {
            let location = try OperatorMaster.location()
            var info = RealMaster.frameworkInfo(name: "it-operator-sandbox")
            info.failoverTimeout = 0
            var configuration = MesosSchedulerConfiguration(
                frameworkInfo: info, master: .fixed(location), transport: MesosCurlTransport(configuration: .init()))
            configuration.contentType = .json
            let scheduler = MesosScheduler(configuration: configuration)
            let master = try OperatorMaster.client()
            let record = try await OperatorMaster.agent(master)
            let agent = try MesosAgentOperator(agent: record, configuration: OperatorMaster.configuration(.protobuf))
            let marker = "hello-operator-\(UUID().uuidString.prefix(8))"
            try await scheduler.withSubscription { events in
                // realmesos's local mode sends a task's stdout to the master's log, so the task writes a file of its own.
                let statuses = try await RealMasterSchedulerTests.run(
                    "echo \(marker) > operator.txt", on: scheduler, events: events)
                #expect(statuses.last?.state == .taskFinished)
                let taskID = try #require(statuses.last?.taskID.value)
                let frameworkID = try #require(scheduler.status.frameworkID?.value)
                // A command task: no executor id in the master's Task, its executor id is the task id.
                let tasks = try await master.getTasks()
                let task = try #require((tasks.tasks + tasks.completedTasks).first { $0.taskID.value == taskID })
                #expect(!task.hasExecutorID)
                let sandbox = "/frameworks/\(frameworkID)/executors/\(taskID)/runs/latest"
                let listing = try await agent.listFiles(path: sandbox)
                #expect(listing.fileInfos.contains { $0.path == sandbox + "/stdout" })
                #expect(listing.fileInfos.contains { $0.path == sandbox + "/operator.txt" && $0.size == UInt64(marker.utf8.count + 1) })
                let size = try await agent.readFile(path: sandbox + "/operator.txt", offset: 0, length: 0)
                #expect(size.data.isEmpty)
                var text: [UInt8] = []
                while UInt64(text.count) < size.size {
                    let chunk = try await agent.readFile(path: sandbox + "/operator.txt", offset: UInt64(text.count), length: 4)
                    guard !chunk.data.isEmpty else { break }
                    text += chunk.data
                }
                #expect(String(decoding: text, as: UTF8.self) == marker + "\n")
                let missing = await #expect(throws: MesosError.self) {
                    try await agent.readFile(path: sandbox + "/no-such-file", offset: 0)
                }
                #expect(missing?.code == .notFound)
                try await scheduler.teardown()
            }
        }

        @Test("SUBSCRIBE opens the event stream: SUBSCRIBED with the state, then a HEARTBEAT",
              arguments: [MesosContentType.json, .protobuf], TestTransport.allCases)
        func eventStream(contentType: MesosContentType, transport: TestTransport) async throws {
            let master = try OperatorMaster.client(contentType, transport: transport)
            let connection = try await master.openEventStream()
            #expect(connection.contentType == contentType)
            var types: [MasterEvent.TypeEnum] = []
            for try await record in RecordIOSequence(upstream: connection.body) {
                let event = try connection.decode(record)
                types.append(event.type)
                if event.type == .subscribed {
                    #expect(event.subscribed.heartbeatIntervalSeconds == 15)
                    #expect(event.subscribed.getState.getAgents.agents.count == 1)
                }
                if types.count == 2 { break }
            }
            #expect(types == [.subscribed, .heartbeat])
        }

        @Test("a follower's URL: its 307 is followed to the leader", .enabled(if: HACluster.shouldRun, "needs MESOS_HA_MASTERS"))
        func followerRedirect() async throws {
            _ = try TestServers.value("MESOS_HA_MASTERS")
            let (leader, answering) = try await HACluster.agreedLeader()
            let follower = try #require(answering.first { $0 != leader }, "no follower answers: \(answering)")
            let master = MesosMasterOperator(
                master: MasterLocation(host: "127.0.0.1", port: follower), configuration: OperatorMaster.configuration())
            // GET_MASTER is answered by the leader the redirect reached (another test may fail the leader over
            // meanwhile; the client then follows the follower's next 307).
            let info = try await master.getMaster()
            let reached = try #require(master.leader)
            #expect(reached.port != follower)
            #expect(info.masterInfo.port == Int32(reached.port))
            #expect(try await master.getVersion().versionInfo.version == "1.11.0")
        }

        @Test("zk:// finds the HA leader", .enabled(if: HACluster.shouldRun, "needs MESOS_HA_ZK"))
        func zooKeeperLeader() async throws {
            let detector = try MasterDetector.zooKeeper(url: try TestServers.value("MESOS_HA_ZK"))
            let master = MesosMasterOperator(master: detector, configuration: OperatorMaster.configuration(.protobuf))
            #expect(try await master.getHealth().healthy)
            let leader = try #require(master.leader)
            #expect(HACluster.ports.contains(leader.port))
        }

        // Last on purpose (the shared suites run in source order, one at a time): a task launched right after
        // this test's REACTIVATE_AGENT came back TASK_LOST in CI (the agent had not yet left its drained state);
        // launched seconds later, tasks run again.
        @Test("DEACTIVATE_AGENT then REACTIVATE_AGENT; DRAIN_AGENT with max_grace_period in JSON, then REACTIVATE once drained")
        func deactivateAndDrain() async throws {
            let master = try OperatorMaster.client(.protobuf)
            let json = try OperatorMaster.client(.json)
            let id = try await OperatorMaster.agent(master).agentInfo.id
            func agent() async throws -> MasterResponse.GetAgents.Agent {
                try #require(try await master.getAgents().agents.first { $0.agentInfo.id == id })
            }
            do {
                try await master.deactivateAgent(id)
                #expect(try await agent().deactivated)
                try await master.reactivateAgent(id)
                #expect(try await agent().deactivated == false)

                // Mesos reads max_grace_period as {"seconds":N,"nanos":M}; the proto3 "Ns" form would be a 400.
                try await json.drainAgent(id, maxGracePeriod: .seconds(5))
                var drained = try await agent()
                #expect(drained.deactivated)
                #expect(drained.drainInfo.config.maxGracePeriod.nanoseconds == 5_000_000_000)
                let deadline = ContinuousClock.now + .seconds(60)
                while drained.drainInfo.state != .drained, ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(100))
                    drained = try await agent()
                }
                #expect(drained.drainInfo.state == .drained)
                try await master.reactivateAgent(id)
                let active = try await agent()
                #expect(active.deactivated == false)
                #expect(!active.hasDrainInfo)
            } catch {
                // Leave the agent usable for the other tests whatever failed.
                try? await master.reactivateAgent(id)
                throw error
            }
            // Reactivating an active agent is refused with the master's reason.
            let refused = await #expect(throws: MesosError.self) { try await master.reactivateAgent(id) }
            #expect(refused?.httpStatus == 400)
        }
    }
}

/// Passes requests to a transport and keeps every response head.
final class HeadRecordingTransport: MesosTransport, @unchecked Sendable {
    private let base: any MesosTransport
    private let lock = NSLock()
    private var recorded: [MesosHTTPResponse] = []

    init(base: any MesosTransport) {
        self.base = base
    }

    func send(_ request: MesosHTTPRequest) async throws(MesosError) -> (MesosHTTPResponse, MesosResponseBody) {
        let (head, body) = try await self.base.send(request)
        self.record(head)
        return (head, body)
    }

    private func record(_ head: MesosHTTPResponse) {
        lock.lock()
        recorded.append(head)
        lock.unlock()
    }

    var heads: [MesosHTTPResponse] {
        lock.lock()
        defer { lock.unlock() }
        return recorded
    }
}
