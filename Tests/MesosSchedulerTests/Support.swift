import Foundation
import MesosCore
import MesosInMemoryTransport
import MesosScheduler
import MesosTestKit
import Synchronization
import Testing

/// Routes in-memory requests to one of several fake masters by `host:port`, so that redirects between masters
/// work without sockets.
struct RoutingTransport: MesosTransport {
    let masters: [String: FakeMaster]

    func send(_ request: MesosHTTPRequest) async throws(MesosError) -> (MesosHTTPResponse, MesosResponseBody) {
        try await MesosError.catching(context: "\(request.method) \(request.url)") { try await self.exchange(request) }
    }

    private func exchange(_ request: MesosHTTPRequest) async throws -> (MesosHTTPResponse, MesosResponseBody) {
        let key = "\(request.url.host ?? ""):\(request.url.port ?? 80)"
        guard let master = self.masters[key] else {
            throw MesosError(code: .transportFailure, message: "connection refused: \(key)")
        }
        return try await master.transport.send(request)
    }
}

/// A framework the fake master accepts.
func testFrameworkInfo(roles: [String] = ["batch"], failoverTimeout: Double = 3600) -> FrameworkInfo {
    var info = FrameworkInfo()
    info.user = "tester"
    info.name = "scheduler-tests"
    info.roles = roles
    var capability = FrameworkInfo.Capability()
    capability.type = .multiRole
    info.capabilities = [capability]
    info.failoverTimeout = failoverTimeout
    return info
}

/// A scheduler configured for fast tests against `master` (in memory).
func makeScheduler(
    master: FakeMaster,
    host: String = "fake-master",
    port: Int = 5050,
    transport: (any MesosTransport)? = nil,
    configure: (inout MesosSchedulerConfiguration) -> Void = { _ in }
) -> MesosScheduler {
    var configuration = MesosSchedulerConfiguration(
        frameworkInfo: testFrameworkInfo(),
        master: .fixed(MasterLocation(host: host, port: port)),
        transport: transport ?? master.transport
    )
    configuration.contentType = .json
    configuration.backoff = BackoffPolicy(initial: .milliseconds(10), maximum: .milliseconds(50))
    // The fake masters here advertise heartbeats of a few milliseconds, and the watchdog follows the advertised
    // interval: with Mesos's tolerance of 5 a loaded 2-core machine that stalls the stream for 25-250 ms would
    // look like a dead master. Only the tests of the watchdog itself set a tight tolerance.
    configuration.heartbeatTolerance = 200
    configure(&configuration)
    return MesosScheduler(configuration: configuration)
}

/// A fake master with fast heartbeats.
func makeMaster(hostname: String = "fake-master", port: Int = 5050, heartbeat: Duration = .milliseconds(50)) -> FakeMaster {
    FakeMaster(configuration: .init(hostname: hostname, port: port, heartbeatInterval: heartbeat))
}

/// Runs `body` while the scheduler runs; stops the scheduler afterwards and returns what `run()` threw.
@discardableResult
func whileRunning(
    _ scheduler: MesosScheduler,
    _ body: @Sendable () async throws -> Void
) async throws -> (any Error)? {
    let outcome = Locked<(any Error)??>(nil)
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask {
            do {
                try await scheduler.run()
                outcome.withLock { $0 = .some(nil) }
            } catch {
                outcome.withLock { $0 = .some(error) }
            }
        }
        defer { group.cancelAll() }
        try await body()
        scheduler.disconnect()
        try await group.waitForAll()
    }
    return outcome.withLock { $0 ?? nil }
}

/// Waits until the scheduler reports a live subscription.
func waitUntilSubscribed(_ scheduler: MesosScheduler, timeout: Duration = .seconds(60)) async throws -> SchedulerStatus {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        let status = scheduler.status
        if status.isSubscribed { return status }
        try await Task.sleep(for: .milliseconds(5))
    }
    throw MesosError(code: .timeout, message: "never subscribed: \(scheduler.status.state)")
}

/// Drives a scheduler's manual clock until its heartbeat watchdog declares the stream dead, and returns the
/// first disconnection (its reason and the backoff announced with it).
///
/// Each round waits until the watchdog sleeps toward `now + timeout`, which it does once the last event before the
/// silence was handled (a readiness signal, not a pause), then moves the clock there. The real clock plays no
/// part, so a loaded machine cannot make a healthy stream look dead or a dead one look alive.
func expireHeartbeat(
    on clock: ManualClock,
    timeout: Duration,
    lifecycle: AsyncStream<SchedulerLifecycleEvent>
) async throws -> (reason: MesosError, retryAfter: Duration) {
    try await withThrowingTaskGroup(of: (reason: MesosError, retryAfter: Duration)?.self) { group in
        group.addTask {
            for await event in lifecycle {
                if case .disconnected(let reason, let retryAfter) = event { return (reason, retryAfter) }
            }
            throw MesosError(code: .streamEnded, message: "the scheduler stopped without a disconnection")
        }
        group.addTask {
            while !Task.isCancelled {
                await clock.waitForDeadline(clock.now.offset + timeout)
                if Task.isCancelled { break }
                clock.advance(by: timeout)
            }
            return nil
        }
        defer { group.cancelAll() }
        while let result = try await group.next() {
            if let result { return result }
        }
        throw MesosError(code: .streamEnded, message: "no disconnection")
    }
}

/// Lets the scheduler's backoff of `delay` (on a manual clock) pass, once it has started waiting.
func elapseBackoff(on clock: ManualClock, _ delay: Duration) async {
    guard delay > .zero else { return }
    await clock.waitForDeadline(clock.now.offset + delay)
    clock.advance(by: delay)
}

/// A status update with a uuid, as an executor sends it.
func runningUpdate(task: String, agent: String = "agent-0") -> TaskStatus {
    var status = TaskStatus()
    status.taskID = TaskID(task)
    status.agentID = AgentID(agent)
    status.state = .taskRunning
    status.source = .executor
    status.uuid = withUnsafeBytes(of: UUID().uuid) { Data($0) }
    return status
}

/// Collects events from an async sequence until `count` match `predicate`.
func collect(
    _ events: SchedulerEventStream,
    count: Int,
    where predicate: @Sendable (SchedulerEvent) -> Bool = { _ in true }
) async throws -> [SchedulerEvent] {
    var result: [SchedulerEvent] = []
    for try await event in events where predicate(event) {
        result.append(event)
        if result.count == count { break }
    }
    return result
}

/// A value behind a lock, shareable between tasks.
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { self.mutex = Mutex(value) }
    func withLock<R>(_ body: (inout Value) -> R) -> R { self.mutex.withLock { body(&$0) } }
}
