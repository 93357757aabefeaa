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

    func send(_ request: MesosHTTPRequest) async throws -> (MesosHTTPResponse, MesosResponseBody) {
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
    // The fake masters advertise heartbeats of a few tens of milliseconds, and the scheduler follows the
    // advertised interval: a generous tolerance keeps a starved test process (a loaded 2-core machine) from
    // declaring a healthy stream dead. Tests about heartbeat loss set their own tolerance.
    configuration.heartbeatTolerance = 40
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
func waitUntilSubscribed(_ scheduler: MesosScheduler, timeout: Duration = .seconds(10)) async throws -> SchedulerStatus {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        let status = scheduler.status
        if status.isSubscribed { return status }
        try await Task.sleep(for: .milliseconds(5))
    }
    throw MesosError(code: .timeout, message: "never subscribed: \(scheduler.status.state)")
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
