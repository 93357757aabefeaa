import Foundation
import MesosCore
import MesosFramework
import MesosLocalCluster
import MesosScheduler
import Synchronization
import Testing

/// The toolkit end to end on the embedded local cluster (agents that really run the commands): placement with a
/// constraint, carving across reserved and unreserved resources, ports handed to the command, the launch through
/// the services (offers taken from the book, tasks tracked), acknowledgements and the tasks' ends.
@Suite("placeAndLaunch on the local cluster", .timeLimit(.minutes(2)))
struct PlaceAndLaunchTests {
    /// Two agents on two racks; the first holds resources reserved to role `batch`.
    static func cluster(output: @escaping @Sendable (TaskOutputChunk) -> Void) throws -> LocalCluster {
        var configuration = LocalCluster.Configuration(agents: 2)
        configuration.allocationInterval = .milliseconds(100)
        configuration.output = output
        configuration.agentDefinitions = [
            try .parsing(resources: "cpus:1;mem:1024;cpus(batch):1;mem(batch):512;ports:[31000-31010]",
                         attributes: "rack:r1", hostname: "agent1.local"),
            try .parsing(resources: "cpus:2;mem:2048;ports:[32000-32010]", attributes: "rack:r2", hostname: "agent2.local"),
        ]
        return LocalCluster(configuration: configuration)
    }

    static func scheduler(_ cluster: LocalCluster) -> MesosScheduler {
        var info = FrameworkInfo()
        info.user = ProcessInfo.processInfo.environment["USER"] ?? "root"
        info.name = "place-and-launch"
        info.roles = ["batch"]
        info.addCapability(.multiRole)
        var configuration = MesosSchedulerConfiguration(frameworkInfo: info, master: cluster.detector, transport: cluster.transport)
        configuration.acknowledgements = .explicit
        configuration.maximumSubscriptionAttempts = 1
        return MesosScheduler(configuration: configuration)
    }

    @Test func threeTasksOneRackEachTwoRacks() async throws {
        let output = Mutex<[String: String]>([:])
        let cluster = try Self.cluster { chunk in
            output.withLock { $0[chunk.taskID.value, default: ""] += String(decoding: chunk.bytes, as: UTF8.self) }
        }
        let scheduler = Self.scheduler(cluster)
        let log = NoticeLog()
        let services = FrameworkServices(scheduler: scheduler, notices: { log.append($0) })
        let requests = try (1...3).map { index in
            TaskRequest(
                id: "web-\(index)", group: "web",
                demand: try ResourceDemand(parsing: "cpus:1.5;mem:64", ports: 1),
                constraints: [try PlacementConstraint(parsing: "rack:UNIQUE")])
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await scheduler.run() }
            group.addTask { await services.run() }
            defer { group.cancelAll() }
            try await waitUntil { Set(services.offers.map(\.offer.hostname)) == ["agent1.local", "agent2.local"] }

            let launch = try await services.placeAndLaunch(requests) { request, placed, _ in
                var task = TaskInfo()
                task.name = request.id
                task.command.value = "echo port=$PORT0"
                var port = Environment.Variable()
                port.name = "PORT0"
                port.value = String(placed.ports.first ?? 0)
                task.command.environment.variables = [port]
                return task
            }
            #expect(launch.failures.isEmpty)
            #expect(launch.launched.count == 2)
            #expect(Set(launch.plan.agents.map(\.hostname)) == ["agent1.local", "agent2.local"])
            // The third task: rack:UNIQUE refuses both agents (the first also lacks cpus by then).
            let unplaced = try #require(launch.plan.unplaced.first)
            #expect(launch.plan.unplaced.count == 1)
            #expect(unplaced.rejections.count == 2)
            #expect(unplaced.rejections.contains { if case .constraint = $0.reason { true } else { false } })

            // On agent1, 1.5 cpus need both halves (TOOLKIT T6: the unreserved piece first, then the reservation to
            // batch), every piece allocated to batch.
            let onAgent1 = try #require(launch.launched.first { task in
                launch.plan.agents.first { $0.agentID == task.agentID }?.hostname == "agent1.local"
            })
            let cpus = onAgent1.resources.filter { $0.name == "cpus" }
            #expect(cpus.count == 2)
            #expect(Resources(cpus).scalar("cpus") == 1.5)
            #expect(cpus.contains { $0.role == "batch" || $0.reservations.contains { $0.role == "batch" } })
            #expect(cpus.contains { ($0.role.isEmpty || $0.role == "*") && $0.reservations.isEmpty })
            #expect(onAgent1.resources.allSatisfy { $0.allocationInfo.role == "batch" })
            let port = try #require(onAgent1.resources.first { $0.name == "ports" }?.ranges.range.first)
            #expect(port.begin == 31000 && port.end == 31000)

            // Both run to the end; the services acknowledge every update and the launched tasks were tracked.
            try await waitUntil(timeout: .seconds(60)) {
                log.transitions.filter { $0.to == .taskFinished }.count == 2
            }
            #expect(Set(log.transitions.map(\.taskID.value)).isSubset(of: Set(launch.launched.map(\.taskID.value))))
            #expect(output.withLock { $0[onAgent1.taskID.value] }?.contains("port=31000") == true)
            try await waitUntil { services.acknowledgementRecords.filter { $0.outcome == .acknowledged }.count >= 6 }
            #expect(services.offers.allSatisfy { !launch.plan.agents.flatMap(\.offerIDs).contains($0.id) })
            try await scheduler.teardown()
        }
        await cluster.shutdown()
    }
}
