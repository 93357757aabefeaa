import Foundation
import MesosCore
import MesosCurlTransport
import MesosFramework
import MesosScheduler
import MesosTestKit
import Testing

/// The toolkit master (`$MESOS_TOOLKIT_MASTER_URL`): schedulers subscribed to it, its endpoints, and a run
/// that always ends with TEARDOWN, so that the next test finds the shared agent idle.
enum ToolkitMaster {
    /// The master's base URL.
    static func url() throws -> URL {
        try #require(URL(string: try TestServers.toolkitMasterURL()))
    }

    /// A MULTI_ROLE framework's scheduler for the toolkit master.
    ///
    /// - Parameters:
    ///   - name: The framework name (it shows in the master's metrics keys).
    ///   - roles: The framework's roles.
    ///   - partitionAware: Adds the PARTITION_AWARE capability.
    ///   - frameworkID: Subscribe again as this framework (a failover).
    ///   - failoverTimeout: How long the master keeps the framework after its connection closed (0: removed at
    ///     once).
    ///   - acknowledgements: Who acknowledges updates.
    static func scheduler(
        _ name: String,
        roles: [String] = ["*"],
        partitionAware: Bool = false,
        frameworkID: FrameworkID? = nil,
        failoverTimeout: Double = 0,
        acknowledgements: MesosSchedulerConfiguration.AcknowledgementMode = .automatic
    ) throws -> MesosScheduler {
        let url = try self.url()
        var info = RealMaster.frameworkInfo(name: name)
        info.roles = roles
        info.failoverTimeout = failoverTimeout
        if partitionAware { info.addCapability(.partitionAware) }
        if let frameworkID { info.id = frameworkID }
        var configuration = MesosSchedulerConfiguration(
            frameworkInfo: info,
            master: .fixed(MasterLocation(host: url.host ?? "127.0.0.1", port: url.port ?? 5050)),
            transport: MesosCurlTransport(configuration: .init())
        )
        configuration.contentType = .json
        configuration.acknowledgements = acknowledgements
        return MesosScheduler(configuration: configuration)
    }

    /// Runs `scheduler` (and the services' timers) around `body`, then sends TEARDOWN: the framework's tasks are
    /// killed and its offers and resources go back to the shared agent. When `body` throws, TEARDOWN is sent too.
    ///
    /// - Parameter teardown: `false` closes the connection without TEARDOWN when `body` succeeded, so that
    ///   another scheduler can subscribe as the same framework (give it a `failoverTimeout`); that one must tear
    ///   it down.
    static func running<Result: Sendable>(
        _ scheduler: MesosScheduler,
        services: FrameworkServices? = nil,
        teardown: Bool = true,
        _ body: @Sendable () async throws -> Result
    ) async throws -> Result {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await scheduler.run() }
            if let services { group.addTask { await services.run() } }
            do {
                let result = try await body()
                if teardown { try await scheduler.teardown() }
                scheduler.disconnect()
                group.cancelAll()
                return result
            } catch {
                try? await scheduler.teardown()
                scheduler.disconnect()
                group.cancelAll()
                throw error
            }
        }
    }

    /// A JSON endpoint of the master, such as `/master/state` or `/metrics/snapshot`.
    static func json(_ path: String) async throws -> [String: Any] {
        let url = try #require(URL(string: try TestServers.toolkitMasterURL() + path))
        let transport = MesosCurlTransport(configuration: .init())
        let (response, body) = try await transport.send(MesosHTTPRequest(method: "GET", url: url, timeout: .seconds(10)))
        try #require(response.status == 200, "GET \(path) answered \(response.status)")
        let bytes = try await body.collect(upTo: 32 << 20)
        return try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
    }

    /// A gauge or counter of one framework from `/metrics/snapshot`:
    /// `master/frameworks/<name>/<id>/<suffix>`, e.g. `roles/batch/suppressed` or `calls/suppress`.
    static func frameworkMetric(_ scheduler: MesosScheduler, _ suffix: String) async throws -> Double? {
        let id = try #require(scheduler.status.frameworkID).value
        let name = scheduler.configuration.frameworkInfo.name
        let metrics = try await self.json("/metrics/snapshot")
        return metrics["master/frameworks/\(name)/\(id)/\(suffix)"] as? Double
    }

    /// The task as `/master/state` shows it, and whether it is among its framework's completed tasks (where the
    /// master moves a task once its terminal update is acknowledged). Active and completed frameworks are searched.
    static func taskState(_ taskID: TaskID) async throws -> (task: [String: Any], completed: Bool)? {
        let state = try await self.json("/master/state")
        let frameworks = (state["frameworks"] as? [[String: Any]] ?? []) + (state["completed_frameworks"] as? [[String: Any]] ?? [])
        for framework in frameworks {
            if let task = (framework["tasks"] as? [[String: Any]])?.first(where: { $0["id"] as? String == taskID.value }) {
                return (task, false)
            }
            if let task = (framework["completed_tasks"] as? [[String: Any]])?.first(where: { $0["id"] as? String == taskID.value }) {
                return (task, true)
            }
        }
        return nil
    }

    /// Waits (at most 10 s) until the shared agent has nothing used and nothing offered: what the previous test's
    /// TEARDOWN must leave behind. Returns the agent's id.
    @discardableResult
    static func waitForIdleAgent() async throws -> String {
        var last = ""
        try await poll("the agent to be idle", timeout: .seconds(10)) {
            let state = try await self.json("/master/state")
            guard let agent = (state["slaves"] as? [[String: Any]])?.first else { return false }
            let used = agent["used_resources"] as? [String: Any] ?? [:]
            let offered = agent["offered_resources"] as? [String: Any] ?? [:]
            last = "used \(used), offered \(offered)"
            guard (used["cpus"] as? Double ?? 0) == 0, (offered["cpus"] as? Double ?? 0) == 0 else { return false }
            return true
        } failure: { last }
        let state = try await self.json("/master/state")
        return try #require((state["slaves"] as? [[String: Any]])?.first?["id"] as? String)
    }
}

/// A wait that gave up.
struct WaitTimedOut: Error, CustomStringConvertible {
    var description: String
}

/// Polls `condition` every 20 ms until it holds or `timeout` passes (then throws ``WaitTimedOut`` with
/// `failure()`'s explanation).
func poll(
    _ what: String,
    timeout: Duration,
    _ condition: () async throws -> Bool,
    failure: () -> String = { "" }
) async throws {
    let deadline = ContinuousClock.now + timeout
    while true {
        if try await condition() { return }
        guard ContinuousClock.now < deadline else {
            throw WaitTimedOut(description: "timed out after \(timeout) waiting for \(what) \(failure())")
        }
        try await Task.sleep(for: .milliseconds(20))
    }
}

/// Every event one scheduler delivered, with the moment it arrived, and bounded waits for the next one that
/// matters.
///
/// Create it after ``FrameworkServices/attach(to:)``: callbacks run in registration order, so an event is in the
/// log only once the services have handled it.
final class EventLog: Sendable {
    /// One event and when it arrived.
    struct Entry: Sendable {
        var at: ContinuousClock.Instant
        var event: SchedulerEvent
    }

    private struct State {
        var entries: [Entry] = []
        /// Entries before it were passed by ``next(_:timeout:_:)``.
        var cursor = 0
    }

    private let state = LockedValue(State())

    /// Starts recording the scheduler's events (register before it runs).
    init(_ scheduler: MesosScheduler) {
        scheduler.on(nil) { [state] event in
            state.withLock { $0.entries.append(Entry(at: .now, event: event)) }
        }
    }

    /// Every event so far.
    var entries: [Entry] { self.state.withLock { $0.entries } }

    /// Waits for the next event, after the one the previous call returned, that `match` maps to a value.
    ///
    /// - Throws: ``WaitTimedOut`` after `timeout`, naming the events that arrived meanwhile.
    func next<T>(
        _ what: String,
        timeout: Duration = .seconds(20),
        _ match: (SchedulerEvent) -> T?
    ) async throws -> (value: T, at: ContinuousClock.Instant) {
        var found: (T, ContinuousClock.Instant)?
        try await poll(what, timeout: timeout) {
            found = self.state.withLock { state -> (T, ContinuousClock.Instant)? in
                while state.cursor < state.entries.count {
                    let entry = state.entries[state.cursor]
                    state.cursor += 1
                    if let value = match(entry.event) { return (value, entry.at) }
                }
                return nil
            }
            return found != nil
        } failure: {
            "; events: \(self.entries.map { EventLog.describe($0.event) })"
        }
        let (value, at) = try #require(found)
        return (value, at)
    }

    /// The next OFFERS event.
    func nextOffers(timeout: Duration = .seconds(20)) async throws -> (value: [Offer], at: ContinuousClock.Instant) {
        try await self.next("OFFERS", timeout: timeout) { event in
            if case .offers(let offers) = event, !offers.isEmpty { return offers }
            return nil
        }
    }

    /// The next update of `taskID` in one of `states` (any state when `nil`).
    func nextUpdate(
        of taskID: TaskID, in states: Set<TaskState>? = nil, timeout: Duration = .seconds(20)
    ) async throws -> TaskStatus {
        try await self.next("an update of \(taskID.value)", timeout: timeout) { event in
            guard case .update(let status) = event, status.taskID == taskID else { return nil }
            return states.map { $0.contains(status.state) } ?? true ? status : nil
        }.value
    }

    /// The next update of `taskID` in a terminal state.
    func terminalUpdate(of taskID: TaskID, timeout: Duration = .seconds(20)) async throws -> TaskStatus {
        try await self.next("a terminal update of \(taskID.value)", timeout: timeout) { event in
            guard case .update(let status) = event, status.taskID == taskID, status.state.isTerminal else { return nil }
            return status
        }.value
    }

    /// The updates of `taskID` so far, in order.
    func updates(of taskID: TaskID) -> [TaskStatus] {
        self.entries.compactMap { entry in
            if case .update(let status) = entry.event, status.taskID == taskID { return status }
            return nil
        }
    }

    /// The OFFERS events that arrived at or after `instant`.
    func offers(since instant: ContinuousClock.Instant) -> [Entry] {
        self.entries.filter { entry in
            guard entry.at >= instant, case .offers = entry.event else { return false }
            return true
        }
    }

    static func describe(_ event: SchedulerEvent) -> String {
        switch event {
        case .update(let status): return "UPDATE(\(status.taskID.value) \(status.state))"
        case .offers(let offers): return "OFFERS(\(offers.count))"
        default: return "\(event)".prefix(40).description
        }
    }
}

/// A call sender that forwards to the scheduler and records what was sent, and when: what the services really
/// sent to the master.
final class RecordingSender: SchedulerCallSender {
    /// One call that the master accepted.
    struct Sent: Sendable {
        var at: ContinuousClock.Instant
        var call: SchedulerCall
    }

    private let target: MesosScheduler
    private let sent = LockedValue<[Sent]>([])

    init(_ target: MesosScheduler) {
        self.target = target
    }

    func send(_ call: SchedulerCall) async throws(MesosError) {
        try await self.target.send(call)
        self.sent.withLock { $0.append(Sent(at: .now, call: call)) }
    }

    /// The calls of one type the master accepted, in order.
    func calls(_ type: SchedulerCall.TypeEnum) -> [Sent] {
        self.sent.withLock { $0.filter { $0.call.type == type } }
    }
}

/// The toolkit master's single agent, leased to one user at a time across suites: the suites of this test process
/// run in parallel, and a test that measures offers (a decline filter, a suppressed role) is disturbed by another
/// framework's tasks freeing resources on the same agent. A suite or test that uses the toolkit master takes the
/// ``Trait/toolkitAgent`` trait; nested holders (a test inside a suite that holds the lease) pass through.
actor ToolkitAgentLease {
    static let shared = ToolkitAgentLease()
    /// Whether the current task already holds the lease.
    @TaskLocal static var isHeld = false

    private var held = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    private func acquire() async {
        guard self.held else {
            self.held = true
            return
        }
        await withCheckedContinuation { self.waiters.append($0) }
    }

    private func release() {
        if self.waiters.isEmpty {
            self.held = false
        } else {
            self.waiters.removeFirst().resume()
        }
    }

    /// Runs `body` holding the lease (first come, first served).
    static func exclusively(_ body: @Sendable () async throws -> Void) async throws {
        if Self.isHeld { return try await body() }
        await Self.shared.acquire()
        do {
            try await Self.$isHeld.withValue(true) { try await body() }
        } catch {
            await Self.shared.release()
            throw error
        }
        await Self.shared.release()
    }
}

/// Runs a suite or test holding the ``ToolkitAgentLease``.
struct ToolkitAgentTrait: TestTrait, SuiteTrait, TestScoping {
    func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        try await ToolkitAgentLease.exclusively(function)
    }
}

extension Trait where Self == ToolkitAgentTrait {
    /// The suite or test uses the toolkit master's agent alone (``ToolkitAgentLease``).
    static var toolkitAgent: Self { Self() }
}
