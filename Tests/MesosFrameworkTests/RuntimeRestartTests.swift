import Foundation
import MesosCore
import MesosFramework
import MesosScheduler
import MesosTestKit
import Testing

@testable import MesosFramework

/// What a restarted runtime keeps from its store besides its tasks: where they run (for constraints), how often
/// its instances failed (for `maxAttempts` and backoffs), and a store that does not grow with every attempt.
@Suite("FrameworkRuntime across restarts and over time", .timeLimit(.minutes(2)))
struct RuntimeRestartTests {
    typealias R = RuntimeTests

    /// Sends an update from the given agent and waits for its acknowledgement.
    static func update(
        _ master: FakeMaster, _ framework: FrameworkID, _ task: String, _ state: TaskState, agent: String,
        uuidByte: UInt8
    ) async throws {
        let before = await R.acknowledged(master).count
        try await master.send(.update(status(task, state, agent: agent, uuid: uuid(uuidByte))), to: framework)
        try await master.waitUntil(timeout: .seconds(60)) { $0.receivedCalls.filter { $0.type == .acknowledge }.count > before }
    }

    /// The agent each launched task went to, from the ACCEPT calls.
    static func agents(_ master: FakeMaster) async -> [String: String] {
        var agents: [String: String] = [:]
        for received in await master.receivedCalls where received.type == .accept {
            for operation in received.call?.accept.operations ?? [] {
                for task in operation.launch.taskInfos { agents[task.taskID.value] = task.agentID.value }
            }
        }
        return agents
    }

    /// Waits until an asynchronous condition holds (background store deletes); the bound only turns a hang into
    /// a failure.
    static func eventually(_ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while try await !condition() {
            guard ContinuousClock.now < deadline else {
                throw MesosError(code: .timeout, message: "condition still false after 60 s")
            }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    static func storedTaskKeys(_ store: InMemoryStateStore) async throws -> [String] {
        try await store.load(.tasks).keys.sorted()
    }

    @Test func aRestartedRuntimeCountsAdoptedTasksForConstraints() async throws {
        let master = R.makeMaster()
        let store = InMemoryStateStore()
        var spec = TaskSpec(name: "svc", command: .shell("sleep 1000"), resources: "cpus:1", restart: .always)
        spec.constraints = ["hostname:UNIQUE"]
        let first = try await R.makeRuntime(master, store: store, clock: ManualClock())
        let framework = try await withThrowingTaskGroup(of: Void.self) { group -> FrameworkID in
            group.addTask { try await first.run() }
            defer { group.cancelAll() }
            let framework = try await R.framework(master)
            try await first.submit(spec)
            try await R.offers(master, framework, first)
            try await R.waitForLaunches(master, 1)
            let agent = try #require(await Self.agents(master)["svc.0.1"])
            try await Self.update(master, framework, "svc.0.1", .taskRunning, agent: agent, uuidByte: 1)
            first.stop()
            return framework
        }
        let stored = try #require(try await store.get(.tasks, key: "svc.0.1"))
        let record = try JSONDecoder().decode(TaskRecord.self, from: stored.data)
        #expect(record.site?.hostname == "agent-0.fake", "the site is stored with the task before its ACCEPT")

        let restarted = try await R.makeRuntime(master, store: store, clock: ManualClock())
        try await R.running(restarted) {
            try await master.waitUntil(timeout: .seconds(60)) { $0.receivedCalls.filter { $0.type == .subscribe }.count >= 2 }
            try await restarted.scale("svc", instances: 2)
            // Only the adopted task's host offers: UNIQUE keeps the new instance off it, although that agent has
            // not been seen by this process (no offer, no update) yet.
            try await R.offers(master, framework, restarted, count: 1)
            await restarted.launchPending()
            #expect(await R.launches(master).count == 1)
            try await R.offers(master, framework, restarted, count: 2)
            try await R.waitForLaunches(master, 2)
            #expect(await R.launches(master).last == ["svc.1.1"])
            #expect(await Self.agents(master)["svc.1.1"] != Self.agents(master)["svc.0.1"])
        }
    }

    @Test func failuresAndBackoffSurviveARestartAndEarlierAttemptsArePruned() async throws {
        let master = R.makeMaster()
        let store = InMemoryStateStore()
        let policy = RestartPolicy.onFailure(maxAttempts: 3, backoff: .init(initial: .seconds(10), maximum: .seconds(100)))
        let clock = ManualClock()
        let first = try await R.makeRuntime(master, store: store, clock: clock)
        let framework = try await withThrowingTaskGroup(of: Void.self) { group -> FrameworkID in
            group.addTask { try await first.run() }
            defer { group.cancelAll() }
            let framework = try await R.framework(master)
            try await first.submit(TaskSpec(name: "job", command: .shell("exit 1"), resources: "cpus:1", restart: policy))
            try await R.offers(master, framework, first)
            try await R.waitForLaunches(master, 1)
            try await R.update(master, framework, "job.0.1", .taskFailed, uuidByte: 1)
            try await R.offers(master, framework, first)
            await clock.waitForDeadline(.seconds(10))
            clock.advance(by: .seconds(10))
            try await R.waitForLaunches(master, 2)
            // The earlier attempt is over and superseded: its record and status go.
            try await waitUntil {
                first.instances(of: "job").first?.attempts == 2
            }
            try await Self.eventually { try await Self.storedTaskKeys(store) == ["job.0.2"] }
            try await R.update(master, framework, "job.0.2", .taskFailed, uuidByte: 2)
            #expect(first.nextDeadline == .seconds(30), "second failure: 20 s after the moment it came")
            first.stop()
            return framework
        }
        #expect(try await store.loadStatuses()["job.0.1"] == nil)

        // Restarted: two failures are known from the one record left; the backoff after the second failure
        // (20 s) starts again from the restart.
        let secondClock = ManualClock()
        let restarted = try await R.makeRuntime(master, store: store, clock: secondClock)
        #expect(restarted.instances(of: "job").map(\.attempts) == [2])
        #expect(restarted.nextDeadline == .seconds(20))
        try await R.running(restarted) {
            try await master.waitUntil(timeout: .seconds(60)) { $0.receivedCalls.filter { $0.type == .subscribe }.count >= 2 }
            try await R.offers(master, framework, restarted)
            await restarted.launchPending()
            #expect(await R.launches(master).count == 2, "the backoff holds after the restart")
            await secondClock.waitForDeadline(.seconds(20))
            secondClock.advance(by: .seconds(20))
            try await R.waitForLaunches(master, 3)
            #expect(await R.launches(master).last == ["job.0.3"])
            try await R.update(master, framework, "job.0.3", .taskFailed, uuidByte: 3)
            let result = try await restarted.result(of: "job")
            #expect(!result.succeeded)
            #expect(result.instances.map(\.attempts) == [3], "maxAttempts counts the failures before the restart")
        }
    }

    @Test func forgetRemovesADoneSpecAndItsRecords() async throws {
        let master = R.makeMaster()
        let store = InMemoryStateStore()
        let runtime = try await R.makeRuntime(master, store: store, clock: ManualClock())
        try await R.running(runtime) {
            let framework = try await R.framework(master)
            try await runtime.submit(TaskSpec(name: "job", command: .shell("true"), resources: "cpus:1"))
            try await runtime.submit(TaskSpec(name: "svc", command: .shell("sleep 1000"), resources: "cpus:1", restart: .always))
            let error = await R.errorKind { try await runtime.forget("svc") }
            #expect(error == .specNotDone)
            #expect(await R.errorKind { try await runtime.forget("nothing") } == .unknownSpec)
            try await R.offers(master, framework, runtime)
            try await R.waitForLaunches(master, 1)
            try await R.update(master, framework, "job.0.1", .taskFinished, uuidByte: 1)
            let result = try await runtime.forget("job")
            #expect(result.succeeded)
            #expect(runtime.specs.map(\.name) == ["svc"])
            #expect(try await store.get(.specs, key: "job") == nil)
            #expect(try await store.get(.tasks, key: "job.0.1") == nil)
            #expect(try await store.loadStatuses()["job.0.1"] == nil)
            #expect(try await store.get(.specs, key: "svc") != nil)
        }
    }

    @Test func aStartDeletesWhatAnInterruptedRemovalLeft() async throws {
        let store = InMemoryStateStore()
        // A task record and status of a spec that is gone, and a status without a task record.
        let record = TaskRecord(spec: "gone", instance: 0, attempt: 1, agentID: "A1", killedByUs: false, replaces: nil)
        try await store.put(.tasks, key: "gone.0.1", data: try JSONEncoder().encode(record), expected: .absent)
        try await store.saveStatus(status("gone.0.1", .taskFinished))
        try await store.saveStatus(status("stray.0.1", .taskFailed))
        let master = R.makeMaster()
        let runtime = try await R.makeRuntime(master, store: store, clock: ManualClock())
        #expect(runtime.specs.isEmpty)
        try await Self.eventually {
            let tasks = try await store.load(.tasks)
            let statuses = try await store.loadStatuses()
            return tasks.isEmpty && statuses.isEmpty
        }
    }

    @Test func waitingForAResultEndsWhenTheWaiterIsCancelled() async throws {
        let master = R.makeMaster()
        let runtime = try await R.makeRuntime(master, store: InMemoryStateStore(), clock: ManualClock())
        try await R.running(runtime) {
            try await runtime.submit(TaskSpec(name: "svc", command: .shell("sleep 1000"), resources: "cpus:1", restart: .always))
            let waiter = Task { try await runtime.result(of: "svc") }
            let other = Task { try await runtime.result(of: "svc") }
            waiter.cancel()
            await #expect(throws: CancellationError.self) { try await waiter.value }
            #expect(!runtime.isStopped, "the spec and the runtime go on")
            // Another waiter of the same spec still gets the result once there is one.
            try await runtime.cancel("svc")
            let result = try await other.value
            #expect(result.cancelled)
        }
    }

    @Test func eventsCanKeepOnlyTheNewest() async throws {
        let master = R.makeMaster()
        let runtime = try await R.makeRuntime(master, store: InMemoryStateStore(), clock: ManualClock())
        try await R.running(runtime) {
            let framework = try await R.framework(master)
            let newest = runtime.events(bufferingPolicy: .bufferingNewest(1))
            let all = runtime.events()
            try await runtime.submit(TaskSpec(name: "job", command: .shell("true"), resources: "cpus:1"))
            try await R.offers(master, framework, runtime)
            try await R.waitForLaunches(master, 1)
            try await R.update(master, framework, "job.0.1", .taskRunning, uuidByte: 1)
            try await R.update(master, framework, "job.0.1", .taskFinished, uuidByte: 2)
            var iterator = all.makeAsyncIterator()
            var states: [TaskState] = []
            while states.last != .taskFinished, let event = await iterator.next() { states.append(event.state) }
            #expect(states == [.taskStaging, .taskRunning, .taskFinished])
            var kept = newest.makeAsyncIterator()
            #expect(await kept.next()?.state == .taskFinished, "a consumer that lagged sees only the newest")
        }
    }
}
