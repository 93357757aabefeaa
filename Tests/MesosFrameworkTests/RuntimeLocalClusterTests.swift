import Foundation
import MesosCore
import MesosFramework
import MesosLocalCluster
import MesosScheduler
import Synchronization
import Testing

/// The runtime on the embedded local cluster, where the commands really run: a batch whose odd instances fail
/// their first attempt (retried after a short backoff, all succeed), and a service that is cancelled (its
/// running tasks really killed).
@Suite("FrameworkRuntime on the local cluster", .timeLimit(.minutes(2)))
struct RuntimeLocalClusterTests {
    static func cluster() -> LocalCluster {
        var configuration = LocalCluster.Configuration(agents: 1)
        configuration.allocationInterval = .milliseconds(100)
        return LocalCluster(configuration: configuration)
    }

    static func schedulerConfiguration(_ cluster: LocalCluster) -> MesosSchedulerConfiguration {
        var info = FrameworkInfo()
        info.user = ProcessInfo.processInfo.environment["USER"] ?? "root"
        info.name = "runtime-local"
        info.roles = ["batch"]
        info.addCapability(.multiRole)
        info.failoverTimeout = 600
        var configuration = MesosSchedulerConfiguration(frameworkInfo: info, master: cluster.detector, transport: cluster.transport)
        configuration.maximumSubscriptionAttempts = 1
        return configuration
    }

    @Test func batchRetriesFailuresAndServiceIsCancelled() async throws {
        let cluster = Self.cluster()
        let store = InMemoryStateStore()
        let runtime = try await FrameworkRuntime(
            scheduler: Self.schedulerConfiguration(cluster), store: store,
            configuration: .init(services: .init(suppressRevive: .init(interval: .milliseconds(200), reviveCooldown: .milliseconds(200)))))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await runtime.run() }
            defer {
                runtime.stop()
                group.cancelAll()
            }
            let batch = TaskSpec(
                name: "batch",
                command: .shell(#"echo "instance $RUNTIME_INSTANCE attempt $RUNTIME_ATTEMPT"; [ $RUNTIME_ATTEMPT -ge 2 ] || [ $((RUNTIME_INSTANCE % 2)) -eq 0 ]"#),
                resources: "cpus:0.1;mem:16", instances: 4,
                restart: .onFailure(maxAttempts: 3, backoff: .init(initial: .milliseconds(100), maximum: .seconds(1))))
            try await runtime.submit(batch)
            let result = try await runtime.result(of: "batch")
            #expect(result.succeeded)
            #expect(result.instances.map(\.attempts) == [1, 2, 1, 2])
            #expect(result.instances.map(\.taskID?.value) == ["batch.0.1", "batch.1.2", "batch.2.1", "batch.3.2"])
            #expect(try await store.loadStatuses()["batch.1.2"]?.status.state == .taskFinished)

            var service = TaskSpec(name: "svc", command: .shell("sleep 60"), resources: "cpus:0.1;mem:16", instances: 2, restart: .always)
            service.killGracePeriod = .seconds(1)
            let events = runtime.events(of: "svc")
            try await runtime.submit(service)
            var running: Set<String> = []
            for await event in events where event.state == .taskRunning {
                running.insert(event.taskID.value)
                if running.count == 2 { break }
            }
            try await runtime.cancel("svc")
            let cancelled = try await runtime.result(of: "svc")
            #expect(cancelled.cancelled)
            #expect(cancelled.instances.map(\.state) == [.taskKilled, .taskKilled])
            #expect(cancelled.instances.map(\.attempts) == [1, 1], "killed by the runtime: not replaced")
        }
        await cluster.shutdown()
    }
}
