import ArgumentParser
import Foundation
import MesosCore
import MesosFramework
import MesosInMemoryTransport
import MesosScheduler
import MesosTestKit
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// `runtime`: a ``FrameworkRuntime`` with a real ``MesosScheduler`` against the test kit's fake master, in
/// memory. N tasks in S specs are submitted, placed on A agents' offers, launched and answered with
/// TASK_RUNNING (with uuids, so every one is committed and acknowledged); then the subscription is closed, the
/// scheduler subscribes again and the runtime's explicit reconciliation asks for every task, which the fake
/// master answers one update per task.
///
/// In memory rather than over HTTP: the figures are the runtime's bookkeeping, which the transport does not
/// change (the scheduler still encodes and decodes every call and event, and the `local` mode measures the
/// HTTP transports); over loopback HTTP the 200,000 calls would mostly measure the socket path on a 2-core box.
struct RuntimeRun: BenchMode {
    static let configuration = CommandConfiguration(
        commandName: "runtime",
        abstract: "Submit, place, launch and reconcile N tasks with FrameworkRuntime against the fake master."
    )

    @Option(help: "Tasks to run.")
    var tasks = 100_000

    @Option(help: "Agents offering resources (default: one per 100 tasks, at least 1).")
    var agents: Int?

    @Option(help: "Specs the tasks are split into (default: as few as TaskSpec.maximumInstances allows).")
    var specs: Int?

    @Option(help: "Seconds to wait for each phase before giving up.")
    var timeout = 600

    @Option(help: "The state store: memory (InMemoryStateStore, every record in this process) or external (task and status records are written and counted but leave the process, as with ZooKeeper).")
    var store: StoreKind = .memory

    @Flag(inversion: .prefixedNo, help: "Follow the launch through runtime.events() (with --no-watch-launch, through the acknowledgements, each sent after its update was committed; the event subscription then starts before the reconciliation).")
    var watchLaunch = true

    enum StoreKind: String, ExpressibleByArgument {
        case memory
        case external
    }

    func runBenchmark() async throws {
        guard self.tasks > 0 else { throw BenchError("--tasks must be positive") }
        let agentCount = self.agents ?? max(1, self.tasks / 100)
        let specCount = self.specs ?? (self.tasks + TaskSpec.maximumInstances - 1) / TaskSpec.maximumInstances
        guard agentCount > 0, specCount > 0, specCount <= self.tasks,
            (self.tasks + specCount - 1) / specCount <= TaskSpec.maximumInstances
        else {
            throw BenchError("--agents and --specs must be positive, and no spec may exceed \(TaskSpec.maximumInstances) instances")
        }
        let phaseTimeout = Duration.seconds(self.timeout)
        let fake = FakeAgents()
        let master = FakeMaster(configuration: .init(hostname: "fake-master", port: 5050, recordsRequests: false))
        // Every record of a batch of events in one chunk, as a busy master's stream delivers them.
        await master.inject(.rechunk(.coalesced), matching: .subscribe, times: nil)
        await master.react { call, _ in fake.react(to: call) }

        var info = FrameworkInfo()
        info.user = "bench"
        info.name = "runtime-bench"
        info.roles = ["bench"]
        info.addCapability(.multiRole)
        info.failoverTimeout = 3600
        var scheduler = MesosSchedulerConfiguration(
            frameworkInfo: info, master: .fixed(MasterLocation(host: "fake-master", port: 5050)),
            transport: fake.timed(master.transport))
        scheduler.backoff = BackoffPolicy(initial: .milliseconds(10), maximum: .milliseconds(100))
        let runtime = try await FrameworkRuntime(
            scheduler: scheduler, store: self.store == .memory ? InMemoryStateStore() : ExternalStore(),
            configuration: .init(services: .init(offers: .init(holdTime: .seconds(3600), holdJitter: .zero))))
        let progress = Progress()
        let counting = LockedTask()
        let watch = { @Sendable in
            let events = runtime.events()
            counting.set(Task {
                for await event in events { progress.note(event) }
            })
        }
        if self.watchLaunch { watch() }
        let running = Task { try await runtime.run() }
        defer {
            runtime.stop()
            running.cancel()
            counting.cancel()
        }

        try await master.waitUntil(timeout: phaseTimeout) { !$0.subscribedFrameworkIDs.isEmpty }
        guard let frameworkID = await master.subscribedFrameworkIDs.first else { throw BenchError("not subscribed") }

        // Offers: each agent has room for its share of the tasks and a quarter more.
        let perAgent = (self.tasks + agentCount - 1) / agentCount * 5 / 4 + 1
        let offers = (0..<agentCount).map { index in
            var offer = FakeMaster.makeOffer(
                id: "O\(index)", frameworkID: frameworkID, agentID: "S\(index)", hostname: "agent-\(index).fake",
                cpus: Double(perAgent) / 100, memoryMB: Double(perAgent * 8))
            offer.allocationInfo.role = "bench"
            return offer
        }
        try await master.send(.offers(offers), to: frameworkID)
        try await Self.wait(phaseTimeout, "the offers") { runtime.services.offers.count == agentCount }

        let base = Memory.sample()
        say(
            "runtime: tasks=\(self.tasks) specs=\(specCount) agents=\(agentCount) transport=in-memory codec=protobuf "
                + "store=\(self.store.rawValue) heap=\(Memory.source) base_heap_mb=\(fmt(base.heapMB, 1)) base_rss_mb=\(fmt(base.rssMB, 1))"
        )
        let clock = ContinuousClock()
        let launchStart = clock.now
        fake.resetTime()
        for index in 0..<specCount {
            let count = self.tasks / specCount + (index < self.tasks % specCount ? 1 : 0)
            try await runtime.submit(TaskSpec(
                name: "bench-\(index)", command: .shell("sleep 3600"), resources: "cpus:0.01;mem:8",
                instances: count, restart: .always))
        }
        if self.watchLaunch {
            try await Self.wait(phaseTimeout, "every task RUNNING") { progress.running >= self.tasks }
        } else {
            try await Self.wait(phaseTimeout, "every task RUNNING") { fake.acknowledgements >= self.tasks }
        }
        let launchSeconds = Measure.seconds(clock.now - launchStart)
        let launchMaster = fake.masterSeconds
        try await Self.wait(phaseTimeout, "every acknowledgement") { fake.acknowledgements >= self.tasks }
        let acknowledgedSeconds = Measure.seconds(clock.now - launchStart)
        let loaded = Memory.sample()
        let bytesPerTask = (loaded.heapMB - base.heapMB) * 1_048_576 / Double(self.tasks)
        let rssPerTask = (loaded.rssMB - base.rssMB) * 1_048_576 / Double(self.tasks)
        say(
            "  launch: running_s=\(fmt(launchSeconds, 2)) acknowledged_s=\(fmt(acknowledgedSeconds, 2)) "
                + "accepts=\(fake.accepts) acks=\(fake.acknowledgements) fake_master_call_s=\(fmt(launchMaster, 2))"
        )
        say(
            "  memory: heap_mb=\(fmt(loaded.heapMB, 1)) rss_mb=\(fmt(loaded.rssMB, 1)) "
                + "heap_bytes_per_task=\(fmt(bytesPerTask, 0)) rss_bytes_per_task=\(fmt(rssPerTask, 0))"
        )

        // Explicit reconciliation: the master closes the stream; the scheduler subscribes again and the
        // services' reconciliation driver asks for every task.
        if !self.watchLaunch { watch() }
        fake.resetTime()
        let reconcileStart = clock.now
        try await master.closeSubscription(of: frameworkID)
        try await Self.wait(phaseTimeout, "every reconciliation answer") { progress.reconciled >= self.tasks }
        let reconcileSeconds = Measure.seconds(clock.now - reconcileStart)
        let firstReconcile = fake.firstReconcile.map { Measure.seconds($0 - reconcileStart) }
        say(
            "  reconcile: first_reconcile_call_ms=\(fmt((firstReconcile ?? .nan) * 1000, 1)) "
                + "reconcile_calls=\(fake.reconcileCalls) answers=\(fake.reconcileAnswers) "
                + "fake_master_call_s=\(fmt(fake.masterSeconds, 2))"
        )
        let reconciled = Memory.sample()
        say(
            "  memory after reconciliation: heap_mb=\(fmt(reconciled.heapMB, 1)) "
                + "heap_bytes_per_task=\(fmt((reconciled.heapMB - base.heapMB) * 1_048_576 / Double(self.tasks), 0))"
        )
        let peak = ProcessStats.peakRSSMegabytes() ?? .nan
        say(
            "launch_s=\(fmt(launchSeconds, 2)) reconcile_s=\(fmt(reconcileSeconds, 2)) peak_rss_mb=\(fmt(peak, 1)) "
                + "bytes_per_task=\(fmt(bytesPerTask, 0))"
        )
    }

    /// Polls `condition` every few milliseconds until it holds.
    static func wait(_ timeout: Duration, _ what: String, _ condition: @Sendable () -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while !condition() {
            guard ContinuousClock.now < deadline else { throw BenchError("timed out waiting for \(what)") }
            try await Task.sleep(for: .milliseconds(2))
        }
    }
}

/// The event-counting task, started now or later.
private final class LockedTask: Sendable {
    private let task = Mutex<Task<Void, Never>?>(nil)

    func set(_ task: Task<Void, Never>) { self.task.withLock { $0 = task } }
    func cancel() { self.task.withLock { $0?.cancel() } }
}

/// Counts the runtime's events: tasks seen RUNNING for the first time, and reconciliation answers committed.
private final class Progress: Sendable {
    private struct Counts {
        var running = 0
        var reconciled = 0
    }

    private let counts = Mutex(Counts())

    var running: Int { self.counts.withLock { $0.running } }
    var reconciled: Int { self.counts.withLock { $0.reconciled } }

    func note(_ event: TaskEvent) {
        guard event.state == .taskRunning, let status = event.status else { return }
        self.counts.withLock { counts in
            if status.hasReason, status.reason == .reconciliation {
                counts.reconciled += 1
            } else {
                counts.running += 1
            }
        }
    }
}

/// The agents behind the fake master: every launched task answers TASK_RUNNING (with a uuid, from the
/// executor), and every explicit RECONCILE gets one TASK_RUNNING per task from the master (no uuid, reason
/// RECONCILIATION). No task ever ends in this run, so the answer needs no per-task state. It also times the
/// fake master's handling of each call.
private final class FakeAgents: Sendable {
    private struct State {
        var nextUUID: UInt64 = 0
        var accepts = 0
        var acknowledgements = 0
        var reconcileCalls = 0
        var reconcileAnswers = 0
        var firstReconcile: ContinuousClock.Instant?
        var masterTime: Duration = .zero
    }

    private let state = Mutex(State())

    var accepts: Int { self.state.withLock { $0.accepts } }
    var acknowledgements: Int { self.state.withLock { $0.acknowledgements } }
    var reconcileCalls: Int { self.state.withLock { $0.reconcileCalls } }
    var reconcileAnswers: Int { self.state.withLock { $0.reconcileAnswers } }
    var firstReconcile: ContinuousClock.Instant? { self.state.withLock { $0.firstReconcile } }
    /// Time spent in the fake master's answers to calls since ``resetTime()`` (summed; calls can overlap).
    var masterSeconds: Double { self.state.withLock { Measure.seconds($0.masterTime) } }

    func resetTime() {
        self.state.withLock { $0.masterTime = .zero }
    }

    /// A transport that hands each request straight to the fake master's handler and times the exchange.
    ///
    /// Not `MesosInMemoryTransport` itself: it races every request with a timer task for the request's timeout
    /// (75 s for calls), and a cancelled sleep stays queued, holding its task, until its deadline, so every
    /// call left about 2 KB behind for 75 s, which the per-task memory figure would have counted. (A socket
    /// transport has no such timer per call.) Calls here never time out; none is slow enough to matter.
    func timed(_ transport: MesosInMemoryTransport) -> DirectTransport {
        DirectTransport(handler: transport.handler) { elapsed in self.state.withLock { $0.masterTime += elapsed } }
    }

    func react(to call: SchedulerCall) -> [SchedulerEvent] {
        switch call.type {
        case .accept:
            let launched = call.accept.operations.flatMap(\.launch.taskInfos)
            let first = self.state.withLock { state -> UInt64 in
                state.accepts += 1
                defer { state.nextUUID += UInt64(launched.count) }
                return state.nextUUID
            }
            return launched.enumerated().map { offset, task in
                var status = TaskStatus()
                status.taskID = task.taskID
                status.agentID = task.agentID
                status.state = .taskRunning
                status.source = .executor
                status.timestamp = Date().timeIntervalSince1970
                status.uuid = Self.uuid(first + UInt64(offset))
                return .update(status)
            }
        case .acknowledge:
            self.state.withLock { $0.acknowledgements += 1 }
            return []
        case .reconcile where !call.reconcile.tasks.isEmpty:
            let tasks = call.reconcile.tasks
            self.state.withLock { state in
                state.reconcileCalls += 1
                state.reconcileAnswers += tasks.count
                if state.firstReconcile == nil { state.firstReconcile = .now }
            }
            return tasks.map { task in
                var status = TaskStatus()
                status.taskID = task.taskID
                if task.hasAgentID { status.agentID = task.agentID }
                status.state = .taskRunning
                status.source = .master
                status.reason = .reconciliation
                status.timestamp = Date().timeIntervalSince1970
                return .update(status)
            }
        default:
            return []
        }
    }

    /// A version-4-shaped uuid made of a counter.
    private static func uuid(_ value: UInt64) -> Data {
        var bytes = [UInt8](repeating: 0, count: 16)
        for index in 0..<8 { bytes[8 + index] = UInt8(truncatingIfNeeded: value >> (8 * (7 - index))) }
        bytes[6] = 0x40
        bytes[8] = 0x80 | (bytes[8] & 0x3F)
        bytes[0] = 0xBE
        return Data(bytes)
    }
}

/// See ``FakeAgents/timed(_:)``.
private struct DirectTransport: MesosTransport {
    let handler: MesosInMemoryTransport.Handler
    let spent: @Sendable (Duration) -> Void

    func send(_ request: MesosHTTPRequest) async throws(MesosError) -> (MesosHTTPResponse, MesosResponseBody) {
        let start = ContinuousClock.now
        defer { self.spent(ContinuousClock.now - start) }
        do {
            return try await self.handler(request)
        } catch let error as MesosError {
            throw error
        } catch {
            throw MesosError(code: .transportFailure, message: "fake master: \(error)", cause: error)
        }
    }
}

/// Heap in use (glibc's `mallinfo2`: every arena and mmapped block) and resident set size.
private enum Memory {
    static func sample() -> (heapMB: Double, rssMB: Double) {
        let rss = ProcessStats.currentRSSMegabytes()?.total ?? .nan
        return (Self.heapInUse().map { Double($0) / 1_048_576 } ?? rss, rss)
    }

    /// Where the heap figure comes from: `mallinfo2`, or the RSS where it cannot be called.
    static var source: String { Self.heapInUse() == nil ? "rss" : "mallinfo2" }

    /// `uordblks + hblkhd` of `mallinfo2()`. Swift's Glibc module does not include `<malloc.h>`, so the function
    /// is looked up by name; it returns its 80-byte struct through a hidden pointer, which on x86-64 System V is
    /// the first argument register, so it is called with a pointer to a buffer (elsewhere: `nil`).
    static func heapInUse() -> Int? {
        #if os(Linux) && arch(x86_64)
            guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallinfo2") else { return nil }
            typealias Call = @convention(c) (UnsafeMutableRawPointer) -> UnsafeMutableRawPointer
            let call = unsafeBitCast(symbol, to: Call.self)
            var fields = [Int](repeating: 0, count: 10)  // arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks …
            fields.withUnsafeMutableBytes { _ = call($0.baseAddress!) }
            return fields[7] + fields[4]
        #else
            return nil
        #endif
    }
}

/// A store whose task and status records leave the process (as with a ZooKeeper or database store): they are
/// counted, not kept. The framework id and the specs are kept, so the runtime works as with any store.
private final class ExternalStore: FrameworkStateStore {
    private let kept = InMemoryStateStore()
    private let written = Mutex<(records: Int, bytes: Int)>((0, 0))

    func load(_ namespace: StateNamespace) async throws(StateStoreError) -> [String: VersionedRecord] {
        try await self.kept.load(namespace)
    }

    func get(_ namespace: StateNamespace, key: String) async throws(StateStoreError) -> VersionedRecord? {
        try await self.kept.get(namespace, key: key)
    }

    func put(_ namespace: StateNamespace, key: String, data: Data, expected: ExpectedVersion)
        async throws(StateStoreError) -> Int64
    {
        guard namespace == .tasks || namespace == .statuses else {
            return try await self.kept.put(namespace, key: key, data: data, expected: expected)
        }
        self.written.withLock { $0 = ($0.records + 1, $0.bytes + data.count) }
        return 0
    }

    func delete(_ namespace: StateNamespace, key: String, expected: ExpectedVersion) async throws(StateStoreError) {
        try await self.kept.delete(namespace, key: key, expected: expected)
    }
}
