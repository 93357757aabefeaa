import Dispatch
import Foundation
import MesosCore
import MesosTestKit
import Testing

extension TransportConformance {
/// The transports must not depend on free threads of Swift's cooperative pool (as many threads as cores: two on
/// a small CI machine). An application that embeds the library may keep its cores busy; if a transport (or its
/// test server) blocked a pool thread, waited on a semaphore in async code, or needed a second pool thread to
/// make progress, these scenarios would stall.
///
/// Each test blocks all pool threads but one, by design, and keeps the last one busy with tasks that spin and
/// yield only every millisecond, then runs a transport scenario (a stream with ordered events, concurrent calls,
/// a whole-call timeout and an idle timeout) on what is left.
///
/// Taking pool threads away would starve every other test running in parallel in the same process, so the
/// scenarios run in a child process: this test binary again, with a filter and ``childVariable`` set. There the
/// cases run one after the other: three at once would block more threads than a 2-core pool has.
@Suite(.serialized) struct PoolSaturationTests {
    /// Set in the child process, where the saturating test runs.
    static let childVariable = "MESOS_POOL_SATURATION_CHILD"
    static var isChild: Bool { ProcessInfo.processInfo.environment[Self.childVariable] == "1" }

    @Test(
        "every transport works with all cooperative threads but one blocked (run in a child process)",
        .enabled(if: !Self.isChild && FileManager.default.isExecutableFile(atPath: "/proc/self/exe"))
    )
    func inAChildProcess() async throws {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("mesos-pool-saturation-\(UUID().uuidString).log")
        defer { try? FileManager.default.removeItem(at: output) }
        let status = try await onDedicatedThread(name: "PoolSaturationTests.child") { () throws -> Int32 in
            _ = FileManager.default.createFile(atPath: output.path, contents: nil)
            let log = try FileHandle(forWritingTo: output)
            defer { try? log.close() }
            let child = Process()
            child.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
            child.arguments = ["--testing-library", "swift-testing", "--filter", "PoolSaturationTests"]
            child.environment = ProcessInfo.processInfo.environment.merging([Self.childVariable: "1"]) { $1 }
            child.standardInput = FileHandle.nullDevice
            child.standardOutput = log
            child.standardError = log
            try child.run()
            child.waitUntilExit()
            return child.terminationStatus
        }
        let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
        let summary = text.split(separator: "\n").filter { $0.contains("transportsWorkWithOnePoolThreadLeft") || $0.contains("Fatal") || $0.contains("recorded an issue") }
        #expect(status == 0, "the child exited with \(status):\n\(summary.joined(separator: "\n"))\n\(text.suffix(2000))")
        #expect(
            text.contains("transportsWorkWithOnePoolThreadLeft(kind:) with 5 test cases passed"),
            "the saturated scenarios did not run in the child:\n\(text.suffix(2000))"
        )
    }

    @Test(.enabled(if: Self.isChild), arguments: TransportKind.allCases)
    func transportsWorkWithOnePoolThreadLeft(kind: TransportKind) async throws {
        let occupier = await PoolOccupier.start(
            blocking: max(0, ProcessInfo.processInfo.activeProcessorCount - 1),
            spinning: 2
        )
        // If the transport blocked the last pool thread too, nothing in this process could run any more (not
        // even a test's time limit): a watchdog on a thread of its own ends the process with the reason.
        let watchdog = Watchdog.start(limit: Self.watchdogLimit, "the \(kind) scenario made no progress with one cooperative thread left: something blocks the pool")
        let outcome: Result<Void, any Error>
        do {
            try await Self.scenario(kind)
            outcome = .success(())
        } catch {
            outcome = .failure(error)
        }
        let stillBlocked = await occupier.stop()
        watchdog.disarm()
        // The pool really was saturated for the whole scenario: no blocker gave up waiting.
        #expect(stillBlocked == occupier.blockers, "only \(stillBlocked) of \(occupier.blockers) pool threads stayed blocked")
        try outcome.get()
    }

    /// How long a scenario may take before the watchdog ends the process (the scenario takes about a second).
    static let watchdogLimit = 180

    /// Streams events, runs calls side by side and lets both kinds of timeout fire; every wait is bounded only
    /// by ``Endpoint/with(_:configuration:_:)``'s wide 60 s deadline.
    static func scenario(_ kind: TransportKind) async throws {
        try await Endpoint.with(kind) { endpoint in
            let subscription = try await endpoint.subscribe()
            let frameworkID = subscription.frameworkID
            var events = subscription.events
            let streamID = try #require(subscription.head.headers["Mesos-Stream-Id"])

            // Events arrive, in order.
            try await endpoint.expectUpdatesInOrder(20, frameworkID: frameworkID, events: &events)

            // Calls side by side, next to the open stream.
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        try await endpoint.call(.revive(frameworkID: frameworkID), streamID: streamID).status
                    }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(statuses == Array(repeating: 202, count: 8))

            // A body that never ends: the whole-call timeout ends it.
            await endpoint.master.route("POST", "/never-ends") { _ in
                .stream(headers: ["Content-Type": "text/plain"]) { writer in
                    try await writer.write(Array("first".utf8)[...])
                    try await Task.sleep(for: .seconds(3600))
                }
            }
            let (_, endless) = try await endpoint.transport.send(
                MesosHTTPRequest(url: endpoint.url("never-ends"), body: [], timeout: .milliseconds(500))
            )
            let callTimeout = await #expect(throws: MesosError.self) { _ = try await endless.collect(upTo: 1 << 20) }
            #expect(callTimeout?.code == .timeout)

            // A stream that falls silent: the idle timeout ends it.
            let (_, silent) = try await endpoint.transport.send(
                MesosHTTPRequest(url: endpoint.url("never-ends"), body: [], idleTimeout: .milliseconds(500))
            )
            let idleTimeout = await #expect(throws: MesosError.self) { _ = try await silent.collect(upTo: 1 << 20) }
            #expect(idleTimeout?.code == .timeout)

            // The subscription is still alive: another event arrives on it.
            var status = TaskStatus()
            status.taskID.value = "task-last"
            status.state = .taskFinished
            try await endpoint.master.send(.update(status), to: frameworkID)
            while let event = try await events.next() {
                if case .update(let update) = event {
                    #expect(update.taskID.value == "task-last")
                    break
                }
            }
        }
    }
}
}

/// Occupies Swift's cooperative pool on purpose: `blocking` tasks each block their thread on a semaphore, and
/// `spinning` tasks burn CPU on the threads that are left, yielding only every millisecond.
final class PoolOccupier: Sendable {
    let blockers: Int
    private let gate = DispatchSemaphore(value: 0)
    private let stopSpinning = LockedValue(false)
    private let blockerTasks: LockedValue<[Task<Bool, Never>]> = LockedValue([])
    private let spinnerTasks: LockedValue<[Task<Void, Never>]> = LockedValue([])

    private init(blockers: Int) {
        self.blockers = blockers
    }

    /// Starts the occupying tasks and returns once every blocker holds a thread (a readiness signal, not a
    /// pause).
    static func start(blocking: Int, spinning: Int) async -> PoolOccupier {
        let occupier = PoolOccupier(blockers: blocking)
        let (started, signal) = AsyncStream<Void>.makeStream()
        let gate = occupier.gate
        let blockers = (0..<blocking).map { _ in
            Task.detached { () -> Bool in
                signal.yield()
                // Released by stop(); the long limit only keeps a broken test from hanging the process.
                return blockThread(on: gate, atMost: 120)
            }
        }
        occupier.blockerTasks.withLock { $0 = blockers }
        var arrivals = started.makeAsyncIterator()
        for _ in 0..<blocking {
            await arrivals.next()
        }
        let stop = occupier.stopSpinning
        let spinners = (0..<spinning).map { _ in
            Task.detached {
                while !stop.withLock({ $0 }) {
                    spin(for: .milliseconds(1))
                    await Task.yield()
                }
            }
        }
        occupier.spinnerTasks.withLock { $0 = spinners }
        return occupier
    }

    /// Stops the spinners, releases the blocked threads and returns how many were still blocked (had not
    /// timed out).
    func stop() async -> Int {
        self.stopSpinning.withLock { $0 = true }
        for _ in 0..<self.blockers {
            self.gate.signal()
        }
        var released = 0
        for task in self.blockerTasks.withLock({ $0 }) where await task.value {
            released += 1
        }
        for task in self.spinnerTasks.withLock({ $0 }) {
            await task.value
        }
        return released
    }
}

/// Ends the process with a message unless disarmed within the limit; runs on a thread of its own, so it works
/// when every cooperative thread is blocked.
final class Watchdog: Sendable {
    private let disarmed = DispatchSemaphore(value: 0)

    static func start(limit seconds: Int, _ message: String) -> Watchdog {
        let watchdog = Watchdog()
        let disarmed = watchdog.disarmed
        Thread {
            if !blockThread(on: disarmed, atMost: seconds) {
                fatalError("PoolSaturationTests: \(message) (\(seconds) s)")
            }
        }.start()
        return watchdog
    }

    func disarm() {
        self.disarmed.signal()
    }
}

/// Blocks the calling thread on `semaphore` for at most `seconds`; `true` if it was signalled. Synchronous on
/// purpose: this is the blocking that library code must never do, done here to take a pool thread away.
private func blockThread(on semaphore: DispatchSemaphore, atMost seconds: Int) -> Bool {
    semaphore.wait(timeout: .now() + .seconds(seconds)) == .success
}

/// Keeps the calling thread busy for `duration`.
private func spin(for duration: Duration) {
    let clock = ContinuousClock()
    let end = clock.now + duration
    var counter = 0
    while clock.now < end {
        counter &+= 1
    }
    _ = counter
}
