import Foundation
import MesosCore
import MesosLocalCluster
import MesosScheduler
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Builds clusters, schedulers and tasks for the tests.
enum Harness {
    /// A small, fast cluster: 2 cpus, 1024 MB per agent, offers every 100 ms.
    static func configuration(
        agents: Int = 1,
        resources: String = "cpus:2;mem:1024;disk:1024;ports:[31000-31010]",
        output: (@Sendable (TaskOutputChunk) -> Void)? = nil
    ) throws -> LocalCluster.Configuration {
        var configuration = LocalCluster.Configuration(agents: agents, agentResources: try .init(parsing: resources))
        configuration.allocationInterval = .milliseconds(100)
        configuration.defaultKillGracePeriod = .seconds(1)
        configuration.output = output
        return configuration
    }

    static func frameworkInfo(_ name: String, multiRole: Bool = true, failoverTimeout: Double = 0) -> FrameworkInfo {
        var info = FrameworkInfo()
        info.user = ProcessInfo.processInfo.environment["USER"] ?? "root"
        info.name = name
        if multiRole {
            info.roles = ["*"]
            var capability = FrameworkInfo.Capability()
            capability.type = .multiRole
            info.capabilities = [capability]
        }
        if failoverTimeout > 0 { info.failoverTimeout = failoverTimeout }
        return info
    }

    static func scheduler(
        _ cluster: LocalCluster,
        _ name: String,
        contentType: MesosContentType = .protobuf,
        acknowledgements: MesosSchedulerConfiguration.AcknowledgementMode = .automatic,
        info: FrameworkInfo? = nil,
        authenticator: (any MesosAuthenticator)? = nil
    ) -> MesosScheduler {
        var configuration = MesosSchedulerConfiguration(
            frameworkInfo: info ?? Self.frameworkInfo(name),
            master: cluster.detector,
            transport: cluster.transport
        )
        configuration.contentType = contentType
        configuration.acknowledgements = acknowledgements
        configuration.authenticator = authenticator
        configuration.maximumSubscriptionAttempts = 1
        return MesosScheduler(configuration: configuration)
    }

    static func task(
        _ id: String,
        command: String,
        offer: Offer,
        cpus: Double = 0.1,
        mem: Double = 32,
        role: String? = "*"
    ) -> TaskInfo {
        var task = TaskInfo()
        task.name = id
        task.taskID = TaskID(id)
        task.agentID = offer.agentID
        task.resources = [.scalar("cpus", cpus, role: role), .scalar("mem", mem, role: role)]
        task.command.shell = true
        task.command.value = command
        return task
    }

    /// The scalar `name` in an offer.
    static func scalar(_ name: String, in resources: [Resource]) -> Double {
        resources.filter { $0.name == name }.reduce(0) { $0 + $1.scalar.value }
    }

    /// Whether a process (or, for a negative number, a process group) still has a live member. Zombies do not
    /// count: an orphaned grandchild stays a zombie until init reaps it, which some containers do late.
    static func processExists(_ pid: Int32) -> Bool {
        #if os(Linux)
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return kill(pid, 0) == 0 }
        for entry in entries where entry.allSatisfy(\.isNumber) {
            guard let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { continue }
            // After "pid (comm) ": state ppid pgrp …
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 2, fields[0] != "Z" else { continue }
            if pid > 0 ? Int32(entry) == pid : Int32(fields[2]) == -pid {
                return true
            }
        }
        return false
        #else
        return kill(pid, 0) == 0 || errno != ESRCH
        #endif
    }

    /// Polls `condition` until it holds or `timeout` passes.
    static func eventually(timeout: Duration = .seconds(60), _ condition: () -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return condition()
    }
}

/// Reads events in order, setting aside (not losing) those a test does not ask for yet: an OFFERS event may come
/// before the update a test waits for, and is still there when the test asks for offers.
struct EventReader {
    var iterator: SchedulerEventStream.Iterator
    var setAside: [SchedulerEvent] = []

    init(_ events: SchedulerEventStream) {
        self.iterator = events.makeAsyncIterator()
    }

    /// The oldest event matching `predicate`; heartbeats that do not match are dropped.
    mutating func next(where predicate: (SchedulerEvent) -> Bool = { _ in true }) async throws -> SchedulerEvent {
        if let index = self.setAside.firstIndex(where: predicate) {
            return self.setAside.remove(at: index)
        }
        while let event = try await self.iterator.next() {
            if predicate(event) { return event }
            if event != .heartbeat { self.setAside.append(event) }
        }
        throw MesosError(code: .streamEnded, message: "The event stream ended")
    }

    /// The next OFFERS event.
    mutating func offers() async throws -> [Offer] {
        let event = try await self.next { if case .offers = $0 { return true }; return false }
        guard case .offers(let offers) = event else { return [] }
        return offers
    }

    /// The next UPDATE for `taskID`.
    mutating func update(for taskID: String) async throws -> TaskStatus {
        let event = try await self.next {
            if case .update(let status) = $0, status.taskID.value == taskID { return true }
            return false
        }
        guard case .update(let status) = event else { throw MesosError(code: .streamEnded, message: "no update") }
        return status
    }

    /// The next reconciliation answer (reason RECONCILIATION) for `taskID`.
    mutating func reconciliation(for taskID: String) async throws -> TaskStatus {
        let event = try await self.next {
            if case .update(let status) = $0 { return status.taskID.value == taskID && status.reason == .reconciliation }
            return false
        }
        guard case .update(let status) = event else { throw MesosError(code: .streamEnded, message: "no update") }
        return status
    }

    /// Updates for `taskID` until a terminal one.
    mutating func updatesUntilTerminal(for taskID: String) async throws -> [TaskStatus] {
        var statuses: [TaskStatus] = []
        while statuses.last?.state.isTerminal != true {
            statuses.append(try await self.update(for: taskID))
        }
        return statuses
    }
}

extension MesosScheduler {
    /// Like `withSubscription`, but disconnects after `limit` so that a broken cluster fails the test (the event
    /// stream ends) instead of hanging it.
    func withWatchedSubscription<Result: Sendable>(
        limit: Duration = .seconds(30),
        _ body: @Sendable (SchedulerEventStream) async throws -> Result
    ) async throws -> Result {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await Task.sleep(for: limit)
                Issue.record("The test took longer than \(limit); disconnecting")
                self.disconnect()
            }
            defer { group.cancelAll() }
            return try await self.withSubscription(body)
        }
    }
}

/// Collects task output chunks.
final class OutputCollector: Sendable {
    private let chunks = Mutex<[TaskOutputChunk]>([])

    var sink: @Sendable (TaskOutputChunk) -> Void {
        { chunk in self.chunks.withLock { $0.append(chunk) } }
    }

    func text(of taskID: String, _ stream: TaskOutputChunk.Stream) -> String {
        self.chunks.withLock { chunks in
            String(decoding: chunks.filter { $0.taskID.value == taskID && $0.stream == stream }.flatMap(\.bytes), as: UTF8.self)
        }
    }
}
