import Foundation
import MesosCore
import MesosCurlTransport
import MesosScheduler
import MesosTestKit
import Testing

/// The same faults as the in-memory suite, but over real HTTP on 127.0.0.1: the networked fake master, the
/// libcurl transport, real sockets, real chunked encoding.
@Suite("Scheduler faults over real HTTP (libcurl ↔ networked fake master)", .timeLimit(.minutes(2)))
struct NetworkedFaultTests {
    /// Starts a networked fake master and a scheduler pointing at it.
    static func start(
        heartbeat: Duration = .milliseconds(50),
        configure: (inout MesosSchedulerConfiguration) -> Void = { _ in }
    ) async throws -> (FakeMaster, FakeMasterServer, MesosScheduler) {
        let master = makeMaster(hostname: "127.0.0.1", heartbeat: heartbeat)
        let server = try await FakeMasterServer.start(master: master)
        let scheduler = makeScheduler(
            master: master, host: "127.0.0.1", port: server.port, transport: MesosCurlTransport(configuration: .init()),
            configure: configure)
        return (master, server, scheduler)
    }

    /// Runs `body`, then shuts the servers down and waits for them, whether `body` threw or not.
    static func withServers(
        _ servers: FakeMasterServer...,
        body: () async throws -> Void
    ) async throws {
        let outcome: Result<Void, any Error>
        do {
            try await body()
            outcome = .success(())
        } catch {
            outcome = .failure(error)
        }
        for server in servers {
            try await server.shutdown()
        }
        try outcome.get()
    }

    @Test("heartbeat loss: a silent connection is closed and replaced; the framework id is kept")
    func heartbeatLoss() async throws {
        // The watchdog runs on a manual clock: the silent connection is given up when the clock reaches 200 ms
        // after its last event, however slowly the machine delivers the real bytes.
        let clock = ManualClock()
        let (master, server, scheduler) = try await Self.start(heartbeat: .milliseconds(40)) {
            $0.heartbeatInterval = .milliseconds(40)
            $0.heartbeatTolerance = 5
            $0.clock = clock
        }
        let lifecycle = scheduler.lifecycleEvents()
        try await Self.withServers(server) {
            await master.inject(.goSilent(afterEvents: 2), matching: .subscribe)
            try await whileRunning(scheduler) {
                let first = try await waitUntilSubscribed(scheduler)
                let (reason, retryAfter) = try await expireHeartbeat(on: clock, timeout: .milliseconds(200), lifecycle: lifecycle)
                #expect(reason.code == .heartbeatTimeout)
                await elapseBackoff(on: clock, retryAfter)
                let second = try await waitUntilResubscribed(scheduler, after: first)
                #expect(second.frameworkID == first.frameworkID)
                let subscribes = await master.receivedCalls.filter { $0.type == .subscribe }
                #expect(subscribes.count == 2)
                #expect(subscribes.last?.call?.frameworkID == first.frameworkID)
            }
        }
    }

    @Test("a dropped connection and a stream cut mid-record both lead to a re-subscription")
    func droppedAndTruncated() async throws {
        let (master, server, scheduler) = try await Self.start()
        try await Self.withServers(server) {
            await master.inject(.cutMidRecord(afterEvents: 2), matching: .subscribe)
            await master.inject(.closeConnection, matching: .subscribe)
            try await whileRunning(scheduler) {
                try await master.waitUntil { $0.receivedCalls.filter { $0.type == .subscribe }.count >= 3 }
                _ = try await waitUntilSubscribed(scheduler)
            }
        }
    }

    @Test("a 307 chain across three HTTP servers reaches the leader; 503 first is retried")
    func redirectChainAnd503() async throws {
        let leader = makeMaster(hostname: "127.0.0.1")
        let leaderServer = try await FakeMasterServer.start(master: leader)
        let middle = makeMaster(hostname: "127.0.0.1")
        let middleServer = try await FakeMasterServer.start(master: middle)
        await middle.setLeadership(.follower(leader: leaderServer.hostAndPort))
        let (first, firstServer, scheduler) = try await Self.start()
try await Self.withServers(leaderServer, middleServer, firstServer) {
            await first.inject(.noLeader, matching: .subscribe)
            await first.setLeadership(.follower(leader: middleServer.hostAndPort))
            try await whileRunning(scheduler) {
                let status = try await waitUntilSubscribed(scheduler)
                #expect(status.master?.port == leaderServer.port)
                try await scheduler.revive()
                #expect(await leader.receivedCalls.contains { $0.type == .revive })
            }
        }
    }

    @Test("a stale stream id makes the scheduler re-subscribe; ERROR 'Framework failed over' ends it")
    func staleStreamAndError() async throws {
        let (master, server, scheduler) = try await Self.start()
        try await Self.withServers(server) {
            let events = scheduler.events
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    await #expect(throws: MesosError(code: .frameworkFailedOver)) { try await scheduler.run() }
                }
                group.addTask { do { for try await _ in events {} } catch {} }
                let first = try await waitUntilSubscribed(scheduler)
                await master.inject(.respond(.text(400, "The stream ID 'x' included in this request didn't match")), matching: .call(.kill))
                await #expect(throws: MesosError(code: .streamIDMismatch)) { try await scheduler.kill(TaskID("t")) }
                let second = try await waitUntilResubscribed(scheduler, after: first)
                try await master.send(.error(message: "Framework failed over"), to: try #require(second.frameworkID))
                try await group.waitForAll()
            }
            #expect(await master.receivedCalls.filter { $0.type == .subscribe }.count == 2)
        }
    }

    @Test("a slow consumer: 2,000 events through a buffer of 4 arrive complete and in order")
    func slowConsumer() async throws {
        let (master, server, scheduler) = try await Self.start(heartbeat: .seconds(30)) { $0.eventBufferSize = 4 }
        try await Self.withServers(server) {
            let events = scheduler.events
            try await whileRunning(scheduler) {
                let id = try #require(try await waitUntilSubscribed(scheduler).frameworkID)
                for index in 0..<2000 {
                    try await master.send(.rescind(OfferID("o\(index)")), to: id)
                }
                var received = 0
                for try await event in events {
                    guard case .rescind(let offerID) = event else { continue }
                    #expect(offerID.value == "o\(received)")
                    received += 1
                    if received % 200 == 0 { try await Task.sleep(for: .milliseconds(10)) }
                    if received == 2000 { break }
                }
                #expect(received == 2000)
            }
        }
    }
}
