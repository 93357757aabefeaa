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

    /// The README's "Writing a framework with the toolkit" snippet, as written there (only the command, the store
    /// and the cluster differ): three `rack:UNIQUE` tasks, two racks.
    @Test func readmeExample() async throws {
        var clusterConfiguration = LocalCluster.Configuration(agents: 2)
        clusterConfiguration.allocationInterval = .milliseconds(100)
        clusterConfiguration.agentDefinitions = [
            try .parsing(resources: "cpus:2;mem:1024;ports:[31000-31010]", attributes: "rack:r1", hostname: "agent1.local"),
            try .parsing(resources: "cpus:2;mem:1024;ports:[32000-32010]", attributes: "rack:r2", hostname: "agent2.local"),
        ]
        let cluster = LocalCluster(configuration: clusterConfiguration)
        var info = FrameworkInfo()
        info.user = ProcessInfo.processInfo.environment["USER"] ?? "root"
        info.name = "readme-toolkit"
        info.roles = ["web"]
        info.addCapability(.multiRole)
        let (detector, transport) = (cluster.detector, cluster.transport)
        let store = SavedUpdates()
        let offerRounds = Mutex(0)
        // The round in which the second task was launched: every later round is "more offers".
        let launchRound = Mutex<Int?>(nil)

        // From the README:
        var configuration = MesosSchedulerConfiguration(frameworkInfo: info, master: detector, transport: transport)
        configuration.acknowledgements = .explicit
        let scheduler = MesosScheduler(configuration: configuration)
        let services = FrameworkServices(scheduler: scheduler, configuration: .init(
            acknowledgements: .afterCommit { update in try await store.save(update) }),
            notices: { notice in print(notice) })

        let web = try (1...3).map { index in
            TaskRequest(id: "web-\(index)", group: "web",
                        demand: try ResourceDemand(parsing: "cpus:1.5;mem:256", ports: 1),
                        constraints: [try PlacementConstraint(parsing: "rack:UNIQUE")])
        }
        let state = Mutex((pending: web, running: [RunningTask]()))
        scheduler.onOffers { _ in
            let (pending, running) = state.withLock { ($0.pending, $0.running) }
            let launch = try await services.placeAndLaunch(pending, running: running, strategy: .spreading) { request, placed, _ in
                var task = TaskInfo()
                task.name = request.id
                task.command.value = "echo --port \(placed.ports[0])"
                return task
            }
            let left = state.withLock { state in
                let launched = Set(launch.launched.map(\.taskID.value))
                state.pending.removeAll { launched.contains($0.id) }
                state.running += launch.running
                return state.pending.count
            }
            try services.setPendingWork(left, for: "web")
            let round = offerRounds.withLock { $0 += 1; return $0 }
            if state.withLock({ $0.running.count }) == 2 { launchRound.withLock { $0 = $0 ?? round } }
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await scheduler.run() }
            group.addTask { await services.run() }
            defer { group.cancelAll() }
            // Two tasks run, one per rack, and finish; every update is saved before it is acknowledged.
            try await waitUntil(timeout: .seconds(60)) {
                Set(store.finished) == ["web-1", "web-2"] || Set(store.finished) == ["web-1", "web-3"]
                    || Set(store.finished) == ["web-2", "web-3"]
            }
            let running = state.withLock { $0.running }
            #expect(running.count == 2)
            #expect(Set(running.map { $0.site.attributes.value(of: "rack")?.description ?? "" }) == ["r1", "r2"])
            #expect(state.withLock { $0.pending.count } == 1)
            try await waitUntil { services.acknowledgementRecords.filter { $0.outcome == .acknowledged }.count == store.count }
            // More offers come (what the finished tasks freed); the third task stays pending, nothing is launched twice.
            // Counted from the launch, not from now: on a loaded machine the round of what the finished tasks freed
            // can come before this line, and the next one only when held offers expire (two minutes).
            let rounds = try #require(launchRound.withLock { $0 })
            try await waitUntil(timeout: .seconds(30)) { offerRounds.withLock { $0 } > rounds }
            #expect(state.withLock { $0.pending.count } == 1)
            #expect(Set(store.taskIDs).count == 2)
            try await scheduler.teardown()
        }
        await cluster.shutdown()
    }
}

/// A stand-in for the application's store: the updates saved, in order.
final class SavedUpdates: Sendable {
    private let updates = Mutex<[TaskStatus]>([])

    func save(_ update: StatusUpdate) async throws {
        guard case .task(let status) = update else { return }
        self.updates.withLock { $0.append(status) }
    }

    var count: Int { self.updates.withLock { $0.count } }
    var taskIDs: [String] { self.updates.withLock { $0.map(\.taskID.value) } }
    var finished: [String] { self.updates.withLock { $0.filter { $0.state == .taskFinished }.map(\.taskID.value) } }
}
