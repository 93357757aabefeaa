import Foundation
import MesosCore
@testable import MesosFramework
import MesosScheduler
import MesosTestKit
import Synchronization
import Testing

/// A store that refuses writes to one namespace while told to (the write fails before anything is stored).
final class FlakyStore: FrameworkStateStore {
    let inner = InMemoryStateStore()
    private let failing = Mutex<Set<String>>([])

    func setFailing(_ namespace: StateNamespace, _ fail: Bool) {
        self.failing.withLock { if fail { $0.insert(namespace.name) } else { $0.remove(namespace.name) } }
    }

    func load(_ namespace: StateNamespace) async throws(StateStoreError) -> [String: VersionedRecord] {
        try await self.inner.load(namespace)
    }

    func get(_ namespace: StateNamespace, key: String) async throws(StateStoreError) -> VersionedRecord? {
        try await self.inner.get(namespace, key: key)
    }

    func put(_ namespace: StateNamespace, key: String, data: Data, expected: ExpectedVersion)
        async throws(StateStoreError) -> Int64
    {
        if self.failing.withLock({ $0.contains(namespace.name) }) {
            throw StateStoreError(kind: .unavailable, message: "test store refuses \(namespace)")
        }
        return try await self.inner.put(namespace, key: key, data: data, expected: expected)
    }

    func delete(_ namespace: StateNamespace, key: String, expected: ExpectedVersion) async throws(StateStoreError) {
        try await self.inner.delete(namespace, key: key, expected: expected)
    }
}

/// The runtime's decisions against the test kit's fake master, with a real ``MesosScheduler`` over the in-memory
/// transport and every delay on a manual clock.
@Suite("FrameworkRuntime on the fake master", .timeLimit(.minutes(2)))
struct RuntimeTests {
    static func schedulerConfiguration(_ master: FakeMaster) -> MesosSchedulerConfiguration {
        var info = FrameworkInfo()
        info.user = "tester"
        info.name = "runtime-tests"
        info.roles = ["web"]
        info.addCapability(.multiRole)
        info.failoverTimeout = 3600
        var configuration = MesosSchedulerConfiguration(
            frameworkInfo: info, master: .fixed(MasterLocation(host: "fake-master", port: 5050)),
            transport: master.transport)
        configuration.contentType = .json
        configuration.backoff = BackoffPolicy(initial: .milliseconds(10), maximum: .milliseconds(50))
        configuration.heartbeatTolerance = 200
        return configuration
    }

    static func makeMaster() -> FakeMaster {
        FakeMaster(configuration: .init(hostname: "fake-master", port: 5050, heartbeatInterval: .milliseconds(50)))
    }

    static func makeRuntime(
        _ master: FakeMaster, store: any FrameworkStateStore, clock: ManualClock,
        configure: (inout FrameworkRuntime.Configuration) -> Void = { _ in }
    ) async throws -> FrameworkRuntime {
        var configuration = FrameworkRuntime.Configuration(services: .init(
            // Offers stay held (nothing is declined while a test waits on the manual clock).
            offers: .init(holdTime: .seconds(100_000), holdJitter: .zero),
            reconciliation: .init(unreachableGrace: .seconds(60)),
            clock: clock, random: SplitMix64(seed: 1)))
        configuration.serviceBackoff = Backoff(initial: .seconds(5), maximum: .seconds(20))
        configure(&configuration)
        return try await FrameworkRuntime(
            scheduler: Self.schedulerConfiguration(master), store: store, configuration: configuration)
    }

    /// Runs the runtime around `body`, then stops it.
    static func running(_ runtime: FrameworkRuntime, _ body: @Sendable () async throws -> Void) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await runtime.run() }
            defer {
                runtime.stop()
                group.cancelAll()
            }
            try await body()
        }
    }

    static func framework(_ master: FakeMaster) async throws -> FrameworkID {
        try await master.waitUntil(timeout: .seconds(60)) { !$0.subscribedFrameworkIDs.isEmpty }
        return try #require(await master.subscribedFrameworkIDs.last)
    }

    /// The task ids of every ACCEPT the master received, one array per ACCEPT.
    static func launches(_ master: FakeMaster) async -> [[String]] {
        await master.receivedCalls.filter { $0.type == .accept }.compactMap { received in
            received.call?.accept.operations.flatMap { $0.launch.taskInfos.map(\.taskID.value) }
        }
    }

    static func waitForLaunches(_ master: FakeMaster, _ count: Int) async throws {
        try await master.waitUntil(timeout: .seconds(60)) { $0.receivedCalls.filter { $0.type == .accept }.count >= count }
    }

    static func kills(_ master: FakeMaster) async -> [String] {
        await master.receivedCalls.filter { $0.type == .kill }.compactMap { $0.call?.kill.taskID.value }
    }

    static func acknowledged(_ master: FakeMaster) async -> [String] {
        await master.receivedCalls.filter { $0.type == .acknowledge }.compactMap { $0.call?.acknowledge.taskID.value }
    }

    /// Sends an update with a uuid and waits until the master got its acknowledgement.
    static func update(
        _ master: FakeMaster, _ framework: FrameworkID, _ task: String, _ state: TaskState, uuidByte: UInt8,
        reason: TaskStatus.Reason? = nil
    ) async throws {
        let before = await Self.acknowledged(master).count
        try await master.send(.update(status(task, state, agent: "A1", uuid: uuid(uuidByte), reason: reason)), to: framework)
        try await master.waitUntil(timeout: .seconds(60)) { $0.receivedCalls.filter { $0.type == .acknowledge }.count > before }
    }

    static func offers(_ master: FakeMaster, _ framework: FrameworkID, _ runtime: FrameworkRuntime, count: Int = 1, cpus: Double = 4)
        async throws
    {
        let sent = Set(try await master.sendOffers(count, to: framework, cpus: cpus).map(\.id))
        // Seen by the services: held in the book, or already used by a launch.
        try await master.waitUntil(timeout: .seconds(60)) { master in
            let accepted = Set(master.receivedCalls.filter { $0.type == .accept }.flatMap { $0.call?.accept.offerIds ?? [] })
            return sent.isSubset(of: Set(runtime.services.offers.map(\.id)).union(accepted))
        }
    }

    // MARK: - Tests

    @Test func badSpecsAreTypedErrors() async throws {
        let master = Self.makeMaster()
        let runtime = try await Self.makeRuntime(master, store: InMemoryStateStore(), clock: ManualClock())
        let cases: [(TaskSpec, TaskSpecError.Kind)] = [
            (TaskSpec(name: "Bad Name", command: .shell("true"), resources: "cpus:1"), .invalidName),
            (TaskSpec(name: "a", command: .shell(""), resources: "cpus:1"), .invalidCommand),
            (TaskSpec(name: "a", command: nil, resources: "cpus:1"), .invalidCommand),
            (TaskSpec(name: "a", command: .argv([]), resources: "cpus:1"), .invalidCommand),
            (TaskSpec(name: "a", command: .shell("true"), resources: "cpus:;;"), .invalidResources),
            (TaskSpec(name: "a", command: .shell("true"), resources: "cpus:1", instances: -1), .invalidInstances),
            (TaskSpec(name: "a", command: .shell("true"), resources: "cpus:1",
                      restart: .onFailure(maxAttempts: 0, backoff: .init())), .invalidRestartPolicy),
            (TaskSpec(name: "a", command: .shell("true"), resources: "cpus:1",
                      restart: .onFailure(maxAttempts: 2, backoff: .init(initial: .seconds(5), maximum: .seconds(1)))),
             .invalidRestartPolicy),
        ]
        for (spec, kind) in cases {
            #expect(await Self.errorKind { try await runtime.submit(spec) } == .invalidSpec(kind), "\(spec)")
        }
        var constrained = TaskSpec(name: "c", command: .shell("true"), resources: "cpus:1")
        constrained.constraints = ["hostname:NOPE"]
        #expect(await Self.errorKind { try await runtime.submit(constrained) } == .invalidSpec(.invalidConstraint))
        var otherRole = TaskSpec(name: "r", command: .shell("true"), resources: "cpus:1")
        otherRole.role = "db"
        #expect(await Self.errorKind { try await runtime.submit(otherRole) } == .unknownRole)
        try await runtime.submit(TaskSpec(name: "ok", command: .shell("true"), resources: "cpus:1"))
        #expect(await Self.errorKind {
            try await runtime.submit(TaskSpec(name: "ok", command: .shell("true"), resources: "cpus:1"))
        } == .duplicateSpec)
        #expect(await Self.errorKind { try await runtime.scale("nope", instances: 1) } == .unknownSpec)
        // No failover timeout: refused, since a restart could not take the tasks over.
        var configuration = Self.schedulerConfiguration(master)
        configuration.frameworkInfo.failoverTimeout = 0
        #expect(await Self.errorKind {
            _ = try await FrameworkRuntime(scheduler: configuration, store: InMemoryStateStore())
        } == .failoverTimeoutNotSet)
    }

    static func errorKind(_ body: () async throws -> Void) async -> FrameworkRuntimeError.Kind? {
        do {
            try await body()
            return nil
        } catch let error as FrameworkRuntimeError {
            return error.kind
        } catch {
            return nil
        }
    }

    @Test func backoffDelays() {
        let backoff = Backoff(initial: .seconds(2), maximum: .seconds(10), factor: 3)
        #expect(backoff.delay(afterFailures: 0) == .zero)
        #expect(backoff.delay(afterFailures: 1) == .seconds(2))
        #expect(backoff.delay(afterFailures: 2) == .seconds(6))
        #expect(backoff.delay(afterFailures: 3) == .seconds(10))
        #expect(backoff.delay(afterFailures: 1000) == .seconds(10))
    }

    @Test func placesAndLaunchesInstancesBinPacked() async throws {
        let master = Self.makeMaster()
        let store = InMemoryStateStore()
        let runtime = try await Self.makeRuntime(master, store: store, clock: ManualClock())
        try await Self.running(runtime) {
            let framework = try await Self.framework(master)
            var spec = TaskSpec(name: "web", command: .argv(["/bin/server", "--port"]), resources: "cpus:1;mem:128", instances: 3)
            spec.ports = 1
            spec.environment = ["MODE": "prod"]
            spec.labels = ["team": "a"]
            spec.killGracePeriod = .seconds(3)
            let events = runtime.events(of: "web")
            try await runtime.submit(spec)
            try await Self.offers(master, framework, runtime, count: 2, cpus: 2)
            try await Self.waitForLaunches(master, 2)
            let launches = await Self.launches(master)
            // Bin-packing: the first agent takes two instances, the second one.
            #expect(launches == [["web.0.1", "web.1.1"], ["web.2.1"]])
            let task = try #require(await master.receivedCalls.first { $0.type == .accept }?.call?.accept.operations.first?.launch.taskInfos.first)
            #expect(task.command.shell == false)
            #expect(task.command.value == "/bin/server")
            #expect(task.command.environment.variables.map(\.name) == ["MODE", "RUNTIME_INSTANCE", "RUNTIME_ATTEMPT", "PORT0", "PORTS"])
            #expect(task.labels.labels.map(\.key) == ["team"])
            #expect(task.killPolicy.gracePeriod.nanoseconds == 3_000_000_000)
            // Persisted before the ACCEPT: the framework id, the spec and a record per task.
            #expect(try await store.loadFrameworkID() == framework)
            #expect(try await store.load(.specs).keys.sorted() == ["web"])
            #expect(try await store.load(.tasks).keys.sorted() == ["web.0.1", "web.1.1", "web.2.1"])
            var iterator = events.makeAsyncIterator()
            var staged: [String] = []
            for _ in 0..<3 { if let event = await iterator.next() { staged.append(event.taskID.value) } }
            #expect(staged.sorted() == ["web.0.1", "web.1.1", "web.2.1"])
            try await Self.update(master, framework, "web.1.1", .taskRunning, uuidByte: 1)
            let running = await iterator.next()
            #expect(running?.state == .taskRunning && running?.instance == 1 && running?.attempt == 1)
            #expect(runtime.instances(of: "web").map(\.state) == [.taskStaging, .taskRunning, .taskStaging])
        }
    }

    @Test func onFailureRetriesAfterTheBackoffThenGivesUp() async throws {
        let master = Self.makeMaster()
        let clock = ManualClock()
        let runtime = try await Self.makeRuntime(master, store: InMemoryStateStore(), clock: clock)
        try await Self.running(runtime) {
            let framework = try await Self.framework(master)
            try await runtime.submit(TaskSpec(
                name: "job", command: .shell("exit 1"), resources: "cpus:1",
                restart: .onFailure(maxAttempts: 2, backoff: .init(initial: .seconds(10), maximum: .seconds(60)))))
            try await Self.offers(master, framework, runtime)
            try await Self.waitForLaunches(master, 1)
            try await Self.update(master, framework, "job.0.1", .taskFailed, uuidByte: 1)
            #expect(runtime.nextDeadline == .seconds(10))
            try await Self.offers(master, framework, runtime)
            // The launch loop sleeps until the backoff ends; just before it, nothing is launched.
            await clock.waitForDeadline(.seconds(10))
            clock.advance(by: .seconds(9))
            await runtime.launchPending()
            #expect(await Self.launches(master).count == 1)
            #expect(runtime.instances(of: "job").first?.attempts == 1)
            clock.advance(by: .seconds(1))
            try await Self.waitForLaunches(master, 2)
            #expect(await Self.launches(master).last == ["job.0.2"])
            try await Self.update(master, framework, "job.0.2", .taskFailed, uuidByte: 2)
            let result = try await runtime.result(of: "job")
            #expect(!result.succeeded)
            #expect(result.instances.map(\.attempts) == [2])
            #expect(result.instances.first?.state == .taskFailed)
            #expect(runtime.nextDeadline == nil)
            // Given up: offers held, nothing launched.
            try await Self.offers(master, framework, runtime)
            await runtime.launchPending()
            #expect(await Self.launches(master).count == 2)
        }
    }

    @Test func alwaysReplacesALostInstance() async throws {
        let master = Self.makeMaster()
        let runtime = try await Self.makeRuntime(master, store: InMemoryStateStore(), clock: ManualClock())
        try await Self.running(runtime) {
            let framework = try await Self.framework(master)
            try await runtime.submit(TaskSpec(name: "svc", command: .shell("sleep 1000"), resources: "cpus:1", restart: .always))
            try await Self.offers(master, framework, runtime)
            try await Self.waitForLaunches(master, 1)
            try await Self.update(master, framework, "svc.0.1", .taskRunning, uuidByte: 1)
            try await Self.update(master, framework, "svc.0.1", .taskGone, uuidByte: 2)
            try await Self.offers(master, framework, runtime)
            try await Self.waitForLaunches(master, 2)
            #expect(await Self.launches(master).last == ["svc.0.2"])
            // A service that exits waits the service backoff (5 s) before its next launch.
            try await Self.update(master, framework, "svc.0.2", .taskFailed, uuidByte: 3)
            #expect(runtime.nextDeadline == .seconds(5))
            #expect(await Self.kills(master).isEmpty)
        }
    }

    @Test func scaleDownKillsTheHighestInstancesAndScaleUpContinuesAttempts() async throws {
        let master = Self.makeMaster()
        let runtime = try await Self.makeRuntime(master, store: InMemoryStateStore(), clock: ManualClock())
        try await Self.running(runtime) {
            let framework = try await Self.framework(master)
            try await runtime.submit(TaskSpec(name: "svc", command: .shell("sleep 1000"), resources: "cpus:1", instances: 3, restart: .always))
            try await Self.offers(master, framework, runtime)
            try await Self.waitForLaunches(master, 1)
            for (index, id) in ["svc.0.1", "svc.1.1", "svc.2.1"].enumerated() {
                try await Self.update(master, framework, id, .taskRunning, uuidByte: UInt8(index + 1))
            }
            try await runtime.scale("svc", instances: 1)
            try await master.waitUntil(timeout: .seconds(60)) { $0.receivedCalls.filter { $0.type == .kill }.count >= 2 }
            #expect(await Self.kills(master) == ["svc.2.1", "svc.1.1"])
            try await Self.update(master, framework, "svc.2.1", .taskKilled, uuidByte: 4)
            try await Self.update(master, framework, "svc.1.1", .taskKilled, uuidByte: 5)
            #expect(runtime.instances(of: "svc").map(\.instance) == [0])
            try await Self.offers(master, framework, runtime)
            await runtime.launchPending()
            #expect(await Self.launches(master).count == 1, "killed by the runtime: not replaced")
            try await runtime.scale("svc", instances: 2)
            try await Self.waitForLaunches(master, 2)
            #expect(await Self.launches(master).last == ["svc.1.2"], "a task id is never reused")
        }
    }

    @Test func cancelKillsTheTasksAndEndsTheResult() async throws {
        let master = Self.makeMaster()
        let store = InMemoryStateStore()
        let runtime = try await Self.makeRuntime(master, store: store, clock: ManualClock())
        try await Self.running(runtime) {
            let framework = try await Self.framework(master)
            try await runtime.submit(TaskSpec(name: "svc", command: .shell("sleep 1000"), resources: "cpus:1", instances: 2, restart: .always))
            try await Self.offers(master, framework, runtime)
            try await Self.waitForLaunches(master, 1)
            try await Self.update(master, framework, "svc.0.1", .taskRunning, uuidByte: 1)
            try await runtime.cancel("svc")
            try await master.waitUntil(timeout: .seconds(60)) { $0.receivedCalls.filter { $0.type == .kill }.count >= 2 }
            // Each once: a cancel during the ACCEPT leaves the KILL to the launch path (it once went out twice).
            let killed = await Self.kills(master)
            #expect(killed.sorted() == ["svc.0.1", "svc.1.1"], "\(killed)")
            let data = try #require(try await store.get(.specs, key: "svc")).data
            #expect(try JSONDecoder().decode(SpecRecord.self, from: data).cancelled)
            try await Self.update(master, framework, "svc.0.1", .taskKilled, uuidByte: 2)
            try await Self.update(master, framework, "svc.1.1", .taskKilled, uuidByte: 3)
            let result = try await runtime.result(of: "svc")
            #expect(result.cancelled)
            #expect(result.instances.map(\.state) == [.taskKilled, .taskKilled])
        }
    }

    @Test func acknowledgesOnlyAfterTheStoreWrite() async throws {
        let master = Self.makeMaster()
        let store = FlakyStore()
        let runtime = try await Self.makeRuntime(master, store: store, clock: ManualClock())
        try await Self.running(runtime) {
            let framework = try await Self.framework(master)
            try await runtime.submit(TaskSpec(name: "job", command: .shell("true"), resources: "cpus:1"))
            try await Self.offers(master, framework, runtime)
            try await Self.waitForLaunches(master, 1)
            store.setFailing(.statuses, true)
            let finished = status("job.0.1", .taskFinished, agent: "A1", uuid: uuid(9))
            try await master.send(.update(finished), to: framework)
            try await waitUntil { runtime.services.acknowledgementRecords.contains { if case .commitFailed = $0.outcome { true } else { false } } }
            #expect(await Self.acknowledged(master).isEmpty, "not stored, so not acknowledged")
            #expect(runtime.instances(of: "job").first?.state == .taskStaging, "not stored, so not applied")
            #expect(try await store.inner.load(.statuses).isEmpty)
            // The agent sends it again; now the write works: stored, applied, acknowledged.
            store.setFailing(.statuses, false)
            try await master.send(.update(finished), to: framework)
            try await master.waitUntil(timeout: .seconds(60)) { $0.receivedCalls.contains { $0.type == .acknowledge } }
            #expect(await Self.acknowledged(master) == ["job.0.1"])
            #expect(try await store.loadStatuses()["job.0.1"]?.status.state == .taskFinished)
            let result = try await runtime.result(of: "job")
            #expect(result.succeeded)
        }
    }

    @Test func unreachableIsReplacedAfterTheGraceAndTheReturnedCopyKilled() async throws {
        let master = Self.makeMaster()
        let clock = ManualClock()
        let runtime = try await Self.makeRuntime(master, store: InMemoryStateStore(), clock: clock)
        try await Self.running(runtime) {
            let framework = try await Self.framework(master)
            try await runtime.submit(TaskSpec(name: "svc", command: .shell("sleep 1000"), resources: "cpus:1", restart: .always))
            try await Self.offers(master, framework, runtime)
            try await Self.waitForLaunches(master, 1)
            try await Self.update(master, framework, "svc.0.1", .taskRunning, uuidByte: 1)
            try await Self.update(master, framework, "svc.0.1", .taskUnreachable, uuidByte: 2)
            #expect(runtime.nextDeadline == .seconds(60))
            try await Self.offers(master, framework, runtime)
            await runtime.launchPending()
            #expect(await Self.launches(master).count == 1, "within the grace the unreachable task is kept")
            await clock.waitForDeadline(.seconds(60))
            clock.advance(by: .seconds(60))
            try await Self.waitForLaunches(master, 2)
            #expect(await Self.launches(master).last == ["svc.0.2"])
            #expect(runtime.services.reconciliation.task(TaskID("svc.0.2"))?.replaces == TaskID("svc.0.1"))
            try await Self.update(master, framework, "svc.0.2", .taskRunning, uuidByte: 3)
            // The old copy comes back: the driver kills it (killReturned); the replacement keeps the instance.
            try await Self.update(master, framework, "svc.0.1", .taskRunning, uuidByte: 4, reason: .agentReregistered)
            try await master.waitUntil(timeout: .seconds(60)) { $0.receivedCalls.contains { $0.type == .kill } }
            #expect(await Self.kills(master) == ["svc.0.1"])
            try await Self.update(master, framework, "svc.0.1", .taskKilled, uuidByte: 5)
            try await Self.offers(master, framework, runtime)
            await runtime.launchPending()
            #expect(await Self.launches(master).count == 2, "the killed copy is not replaced")
            #expect(runtime.instances(of: "svc").map(\.taskID) == [TaskID("svc.0.2")])
            #expect(runtime.instances(of: "svc").map(\.state) == [.taskRunning])
        }
    }

    @Test func killReplacementPolicyKeepsTheReturnedTask() async throws {
        let master = Self.makeMaster()
        let clock = ManualClock()
        let store = InMemoryStateStore()
        let runtime = try await Self.makeRuntime(master, store: store, clock: clock) { configuration in
            configuration.services.reconciliation.returnedTaskPolicy = .killReplacement
        }
        try await Self.running(runtime) {
            let framework = try await Self.framework(master)
            try await runtime.submit(TaskSpec(name: "svc", command: .shell("sleep 1000"), resources: "cpus:1", restart: .always))
            try await Self.offers(master, framework, runtime)
            try await Self.waitForLaunches(master, 1)
            try await Self.update(master, framework, "svc.0.1", .taskRunning, uuidByte: 1)
            try await Self.update(master, framework, "svc.0.1", .taskUnreachable, uuidByte: 2)
            try await Self.offers(master, framework, runtime)
            await clock.waitForDeadline(.seconds(60))
            clock.advance(by: .seconds(60))
            try await Self.waitForLaunches(master, 2)
            try await Self.update(master, framework, "svc.0.2", .taskRunning, uuidByte: 3)
            try await Self.update(master, framework, "svc.0.1", .taskRunning, uuidByte: 4, reason: .agentReregistered)
            try await master.waitUntil(timeout: .seconds(60)) { $0.receivedCalls.contains { $0.type == .kill } }
            #expect(await Self.kills(master) == ["svc.0.2"])
            #expect(runtime.instances(of: "svc").map(\.taskID) == [TaskID("svc.0.1")])
            let record = try #require(try await store.get(.tasks, key: "svc.0.2"))
            #expect(try JSONDecoder().decode(TaskRecord.self, from: record.data).killedByUs, "stored before it is applied")
            try await Self.update(master, framework, "svc.0.2", .taskKilled, uuidByte: 5)
            try await Self.offers(master, framework, runtime)
            await runtime.launchPending()
            #expect(await Self.launches(master).count == 2, "the killed replacement is not replaced")
            #expect(runtime.instances(of: "svc").map(\.state) == [.taskRunning])
        }
    }

    @Test func aRunOnceTaskThatIsUnreachableIsNotReplaced() async throws {
        let master = Self.makeMaster()
        let clock = ManualClock()
        let runtime = try await Self.makeRuntime(master, store: InMemoryStateStore(), clock: clock)
        try await Self.running(runtime) {
            let framework = try await Self.framework(master)
            try await runtime.submit(TaskSpec(name: "once", command: .shell("true"), resources: "cpus:1"))
            try await Self.offers(master, framework, runtime)
            try await Self.waitForLaunches(master, 1)
            try await Self.update(master, framework, "once.0.1", .taskUnreachable, uuidByte: 1)
            clock.advance(by: .seconds(3600))
            try await Self.offers(master, framework, runtime)
            await runtime.launchPending()
            #expect(await Self.launches(master).count == 1)
            try await Self.update(master, framework, "once.0.1", .taskFinished, uuidByte: 2, reason: .agentReregistered)
            #expect(try await runtime.result(of: "once").succeeded)
        }
    }

    @Test func restartWithTheFileStoreAdoptsRunningTasks() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("runtime-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("state").path
        let master = Self.makeMaster()
        let first = try await FileStateStore.open(path: path)
        let runtime = try await Self.makeRuntime(master, store: first, clock: ManualClock())
        let framework = try await withThrowingTaskGroup(of: Void.self) { group -> FrameworkID in
            group.addTask { try await runtime.run() }
            defer { group.cancelAll() }
            let framework = try await Self.framework(master)
            try await runtime.submit(TaskSpec(name: "svc", command: .shell("sleep 1000"), resources: "cpus:1", instances: 2, restart: .always))
            try await Self.offers(master, framework, runtime)
            try await Self.waitForLaunches(master, 1)
            try await Self.update(master, framework, "svc.0.1", .taskRunning, uuidByte: 1)
            try await Self.update(master, framework, "svc.1.1", .taskRunning, uuidByte: 2)
            runtime.stop()
            #expect(runtime.isStopped)
            return framework
        }
        first.close()
        #expect(await master.receivedCalls.filter { $0.type == .teardown }.isEmpty)

        let second = try await FileStateStore.open(path: path)
        let restarted = try await Self.makeRuntime(master, store: second, clock: ManualClock())
        #expect(restarted.instances(of: "svc").map(\.state) == [.taskRunning, .taskRunning])
        let acceptsBefore = await Self.launches(master).count
        try await Self.running(restarted) {
            try await master.waitUntil(timeout: .seconds(60)) { $0.receivedCalls.filter { $0.type == .subscribe }.count >= 2 }
            let subscribe = await master.receivedCalls.filter { $0.type == .subscribe }.last?.call
            #expect(subscribe?.frameworkID == framework, "fails over to the stored framework id")
            #expect(subscribe?.subscribe.frameworkInfo.failoverTimeout == 3600)
            try await master.waitUntil(timeout: .seconds(60)) { $0.receivedCalls.contains { $0.type == .reconcile } }
            let reconcile = await master.receivedCalls.first { $0.type == .reconcile }?.call
            #expect(reconcile.map(reconciled)?.sorted() == ["svc.0.1@A1", "svc.1.1@A1"])
            for id in ["svc.0.1", "svc.1.1"] {
                try await master.send(.update(status(id, .taskRunning, agent: "A1", reason: .reconciliation)), to: framework)
            }
            try await waitUntil { restarted.services.reconciliation.unanswered.isEmpty }
            try await Self.offers(master, framework, restarted)
            await restarted.launchPending()
            #expect(await Self.launches(master).count == acceptsBefore, "adopted, not relaunched")
            #expect(restarted.instances(of: "svc").map(\.taskID) == [TaskID("svc.0.1"), TaskID("svc.1.1")])
            // An adopted task that ends is replaced as before.
            try await Self.update(master, framework, "svc.1.1", .taskLost, uuidByte: 3)
            try await Self.offers(master, framework, restarted)
            try await Self.waitForLaunches(master, acceptsBefore + 1)
            #expect(await Self.launches(master).last == ["svc.1.2"])
        }
        second.close()
    }

    @Test func stopEndsEverythingAtOnce() async throws {
        let master = Self.makeMaster()
        let store = FlakyStore()
        let runtime = try await Self.makeRuntime(master, store: store, clock: ManualClock())
        try await Self.running(runtime) {
            let framework = try await Self.framework(master)
            try await runtime.submit(TaskSpec(name: "svc", command: .shell("sleep 1000"), resources: "cpus:1", restart: .always))
            let events = runtime.events()
            runtime.stop()
            await #expect(throws: FrameworkRuntimeError.self) { try await runtime.result(of: "svc") }
            await #expect(throws: FrameworkRuntimeError.self) { try await runtime.scale("svc", instances: 2) }
            var iterator = events.makeAsyncIterator()
            #expect(await iterator.next() == nil, "the event stream ends")
            // Offers after the stop: nothing launched.
            _ = try? await master.sendOffers(1, to: framework)
            await runtime.launchPending()
            #expect(await Self.launches(master).isEmpty)
        }
    }
}
