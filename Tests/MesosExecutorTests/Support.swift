import Foundation
import MesosCore
import MesosExecutor
import MesosTestKit
import Testing

/// A delegate that writes down every callback, and lets a test plug behaviour into launch and shutdown.
final class RecordingExecutor: Executor {
    let log = LockedValue<[String]>([])
    let errors = LockedValue<[MesosError]>([])
    let onLaunch: (@Sendable (MesosExecutor, TaskInfo) async -> Void)?
    let onShutdown: (@Sendable (MesosExecutor) async -> Void)?

    init(
        onLaunch: (@Sendable (MesosExecutor, TaskInfo) async -> Void)? = nil,
        onShutdown: (@Sendable (MesosExecutor) async -> Void)? = nil
    ) {
        self.onLaunch = onLaunch
        self.onShutdown = onShutdown
    }

    var entries: [String] { self.log.withLock { $0 } }

    private func note(_ entry: String) {
        self.log.withLock { $0.append(entry) }
    }

    func registered(_ executor: MesosExecutor, _ subscribed: ExecutorEvent.Subscribed) async {
        self.note("registered:\(subscribed.agentInfo.id.value)")
    }

    func reregistered(_ executor: MesosExecutor, _ subscribed: ExecutorEvent.Subscribed) async {
        self.note("reregistered")
    }

    func disconnected(_ executor: MesosExecutor, reason: MesosError) async {
        self.note("disconnected")
    }

    func launchTask(_ executor: MesosExecutor, _ task: TaskInfo) async {
        self.note("launch:\(task.taskID.value)")
        await self.onLaunch?(executor, task)
    }

    func launchTaskGroup(_ executor: MesosExecutor, _ group: TaskGroupInfo) async {
        self.note("launchGroup:\(group.tasks.map(\.taskID.value).joined(separator: ","))")
    }

    func killTask(_ executor: MesosExecutor, _ taskID: TaskID, killPolicy: KillPolicy?) async {
        self.note("kill:\(taskID.value):\(killPolicy.map { "\($0.gracePeriod.nanoseconds)" } ?? "-")")
    }

    func acknowledged(_ executor: MesosExecutor, taskID: TaskID, uuid: Data) async {
        self.note("ack:\(taskID.value)")
    }

    func frameworkMessage(_ executor: MesosExecutor, _ data: [UInt8]) async {
        self.note("message:\(String(decoding: data, as: UTF8.self))")
    }

    func shutdown(_ executor: MesosExecutor) async {
        self.note("shutdown")
        await self.onShutdown?(executor)
    }

    func error(_ executor: MesosExecutor, _ error: MesosError) async {
        self.note("error:\(error.code)")
        self.errors.withLock { $0.append(error) }
    }
}

/// An executor on a fake agent, its manual clock and its run.
struct Harness {
    let agent: FakeAgent
    let clock: ManualClock
    let executor: MesosExecutor
    let delegate: RecordingExecutor
    let run: Task<ExecutorTermination, Never>

    init(
        agent: FakeAgent = FakeAgent(),
        checkpoint: Bool = true,
        delegate: RecordingExecutor = RecordingExecutor(),
        configure: (inout ExecutorConfiguration) -> Void = { _ in }
    ) {
        let clock = ManualClock()
        var configuration = ExecutorConfiguration(
            endpoint: agent.inMemoryEndpoint,
            frameworkID: Self.frameworkID(agent),
            executorID: Self.executorID(agent),
            checkpoint: checkpoint,
            recoveryTimeout: .seconds(3600),
            subscriptionBackoffMax: .seconds(2),
            shutdownGracePeriod: .seconds(5)
        )
        configuration.clock = clock
        configuration.jitterSeed = 7
        configuration.heartbeatInterval = nil
        configure(&configuration)
        let executor = MesosExecutor(configuration: configuration, transport: agent.transport)
        self.agent = agent
        self.clock = clock
        self.executor = executor
        self.delegate = delegate
        self.run = Task { await executor.run(delegate: delegate) }
    }

    static func frameworkID(_ agent: FakeAgent) -> FrameworkID {
        var id = FrameworkID()
        id.value = agent.configuration.frameworkID
        return id
    }

    static func executorID(_ agent: FakeAgent) -> ExecutorID {
        var id = ExecutorID()
        id.value = agent.configuration.executorID
        return id
    }

    /// Waits until the executor is subscribed (the agent has a stream and the delegate heard of it).
    func subscribed(times: Int = 1) async throws {
        try await self.agent.waitUntil { $0.isSubscribed && $0.subscriptionCount >= times }
        try await self.waitForEntry(times == 1 ? "registered:fake-agent-S0" : "reregistered", count: times == 1 ? 1 : times - 1)
    }

    /// Waits until the delegate logged `entry` at least `count` times.
    func waitForEntry(_ entry: String, count: Int = 1) async throws {
        try await waitFor("\(count)× \(entry) in \(self.delegate.entries)") {
            self.delegate.entries.filter { $0 == entry }.count >= count
        }
    }

    /// Moves the clock from deadline to deadline, whenever `sleepers` sleeps wait, until the run ends.
    func driveToEnd(sleepers: Int = 1, maximumSteps: Int = 1000) async -> ExecutorTermination? {
        for _ in 0..<maximumSteps {
            let ended = await self.endOrSleepers(sleepers)
            if let ended {
                return ended
            }
            self.clock.advanceToNextDeadline()
        }
        return nil
    }
}

extension Harness {
    /// Waits until the run ends (its termination) or `sleepers` sleeps wait on the clock (`nil`), whichever is
    /// first. (`run.value` cannot be cancelled, so the two waits race outside a task group.)
    func endOrSleepers(_ sleepers: Int) async -> ExecutorTermination? {
        let run = self.run
        let clock = self.clock
        let resumed = LockedValue(false)
        let waiter = LockedValue<Task<Void, Never>?>(nil)
        let result: ExecutorTermination? = await withCheckedContinuation { continuation in
            let resume: @Sendable (ExecutorTermination?) -> Void = { value in
                let first = resumed.withLock { done -> Bool in
                    defer { done = true }
                    return !done
                }
                if first { continuation.resume(returning: value) }
            }
            waiter.withLock { $0 = Task { await clock.waitForSleepers(sleepers); resume(nil) } }
            Task { resume(await run.value) }
        }
        waiter.withLock { $0 }?.cancel()
        return result
    }
}

/// Waits for a condition on state the test does not own, checking every few milliseconds (a safety bound of
/// 30 s for a broken test, not a timing assertion).
func waitFor(_ what: @autoclosure () -> String, _ condition: () -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(30)
    while !condition() {
        guard ContinuousClock.now < deadline else {
            Issue.record("Timed out waiting for \(what())")
            throw MesosError(code: .timeout, message: "waitFor timed out")
        }
        try await Task.sleep(for: .milliseconds(2))
    }
}

func task(_ id: String) -> TaskInfo {
    var task = TaskInfo()
    task.name = id
    task.taskID.value = id
    task.agentID.value = "fake-agent-S0"
    return task
}

func status(_ id: String, _ state: TaskState) -> TaskStatus {
    var status = TaskStatus()
    status.taskID.value = id
    status.state = state
    return status
}

/// One RecordIO record: the length in decimal, a newline, the bytes.
func frame(_ bytes: [UInt8]) -> [UInt8] {
    Array("\(bytes.count)\n".utf8) + bytes
}
