import Foundation
import MesosCore
import MesosScheduler
import MesosTestKit
import Testing

@Suite("Scheduler resilience (in memory)", .timeLimit(.minutes(1)))
struct ResilienceTests {
    @Test("a stream cut mid-record leads to a re-subscription with the same framework id")
    func cutStreamResubscribes() async throws {
        let master = makeMaster()
        await master.inject(.cutMidRecord(afterEvents: 2), matching: .subscribe)
        let scheduler = makeScheduler(master: master)
        let lifecycle = scheduler.lifecycleEvents()
        try await whileRunning(scheduler) {
            try await master.waitUntil { $0.receivedCalls.filter { $0.type == .subscribe }.count >= 2 }
            let status = try await waitUntilSubscribed(scheduler)
            let subscribes = await master.receivedCalls.filter { $0.type == .subscribe }
            #expect(subscribes.count == 2)
            #expect(subscribes.last?.call?.frameworkID == status.frameworkID)
            #expect(subscribes.last?.call?.subscribe.frameworkInfo.id == status.frameworkID)
        }
        var kinds: [String] = []
        var reason: MesosError?
        for await event in lifecycle {
            switch event {
            case .subscribed: kinds.append("subscribed")
            case .resubscribed: kinds.append("resubscribed")
            case .disconnected(let error, _):
                reason = error
                kinds.append("disconnected")
            case .failed: kinds.append("failed")
            case .stopped: kinds.append("stopped")
            }
        }
        #expect(kinds == ["subscribed", "disconnected", "resubscribed", "stopped"])
        #expect(reason?.indicatesSubscriptionLoss == true || reason?.isTemporary == true, "\(String(describing: reason))")
    }

    @Test("suppressed roles are declared again on re-subscription")
    func suppressedRolesRedeclared() async throws {
        let master = makeMaster()
        let scheduler = makeScheduler(master: master)
        try await whileRunning(scheduler) {
            let first = try await waitUntilSubscribed(scheduler)
            try await scheduler.suppress(roles: ["batch"])
            try await master.closeSubscription(of: try #require(first.frameworkID), abruptly: true)
            let second = try await waitUntilResubscribed(scheduler, after: first)
            #expect(second.frameworkID == first.frameworkID)
            let last = try #require(await master.receivedCalls.filter { $0.type == .subscribe }.last?.call)
            #expect(last.subscribe.suppressedRoles == ["batch"])
            try await scheduler.revive(roles: ["batch"])
            try await master.closeSubscription(of: try #require(first.frameworkID), abruptly: false)
            _ = try await waitUntilResubscribed(scheduler, after: second)
            let latest = try #require(await master.receivedCalls.filter { $0.type == .subscribe }.last?.call)
            #expect(latest.subscribe.suppressedRoles.isEmpty)
        }
    }

    @Test("heartbeat loss: a silent stream is replaced")
    func heartbeatLoss() async throws {
        let clock = ManualClock()
        let master = makeMaster(heartbeat: .milliseconds(40))
        let scheduler = makeScheduler(master: master) {
            $0.heartbeatInterval = .milliseconds(40)
            $0.heartbeatTolerance = 3
            $0.clock = clock
        }
        let lifecycle = scheduler.lifecycleEvents()
        await master.inject(.goSilent(afterEvents: 1), matching: .subscribe)
        try await whileRunning(scheduler) {
            let first = try await waitUntilSubscribed(scheduler)
            // 3 × the advertised 40 ms after SUBSCRIBED, on the manual clock.
            let (reason, retryAfter) = try await expireHeartbeat(on: clock, timeout: .milliseconds(120), lifecycle: lifecycle)
            #expect(reason.code == .heartbeatTimeout)
            await elapseBackoff(on: clock, retryAfter)
            let second = try await waitUntilResubscribed(scheduler, after: first, timeout: .seconds(30))
            #expect(second.frameworkID == first.frameworkID)
        }
    }

    @Test("503 is retried with backoff until the master leads")
    func unavailableIsRetried() async throws {
        let master = makeMaster()
        await master.inject(.noLeader, matching: .subscribe, times: 3)
        let scheduler = makeScheduler(master: master)
        try await whileRunning(scheduler) {
            _ = try await waitUntilSubscribed(scheduler)
        }
        let subscribes = await master.receivedCalls.filter { $0.type == .subscribe }
        #expect(subscribes.map(\.status) == [503, 503, 503, 200])
    }

    @Test("a 307 chain is followed to the leader; calls then go to the leader")
    func redirectChain() async throws {
        let m1 = makeMaster(hostname: "m1", port: 5050)
        let m2 = makeMaster(hostname: "m2", port: 5050)
        let m3 = makeMaster(hostname: "m3", port: 5050)
        await m1.setLeadership(.follower(leader: "m2:5050"))
        await m2.setLeadership(.follower(leader: "m3:5050"))
        let transport = RoutingTransport(masters: ["m1:5050": m1, "m2:5050": m2, "m3:5050": m3])
        let scheduler = makeScheduler(master: m1, host: "m1", transport: transport)
        try await whileRunning(scheduler) {
            let status = try await waitUntilSubscribed(scheduler)
            #expect(status.master?.host == "m3")
            try await scheduler.revive()
            #expect(await m3.receivedCalls.contains { $0.type == .revive })
            #expect(await m1.receivedCalls.filter { $0.type == .revive }.isEmpty)
        }
    }

    @Test("a redirect loop is cut off and, with an attempt limit, fails with tooManyRedirects")
    func redirectLoop() async throws {
        let m1 = makeMaster(hostname: "m1", port: 5050)
        let m2 = makeMaster(hostname: "m2", port: 5050)
        await m1.setLeadership(.follower(leader: "m2:5050"))
        await m2.setLeadership(.follower(leader: "m1:5050"))
        let transport = RoutingTransport(masters: ["m1:5050": m1, "m2:5050": m2])
        let scheduler = makeScheduler(master: m1, host: "m1", transport: transport) { $0.maximumSubscriptionAttempts = 2 }
        await #expect(throws: MesosError(code: .tooManyRedirects)) { try await scheduler.run() }
        #expect(await m1.receivedCalls.count <= 4)
    }

    @Test("'Framework failed over' ends run() with that error and no resubscribe storm")
    func failedOver() async throws {
        let master = makeMaster()
        let first = makeScheduler(master: master)
        let events = first.events
        let (firstEnded, ended) = AsyncStream<Void>.makeStream()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                await #expect(throws: MesosError(code: .frameworkFailedOver)) { try await first.run() }
                ended.finish()
            }
            group.addTask {
                // Drain events so the ERROR is delivered.
                do { for try await _ in events {} } catch {}
            }
            let id = try #require(try await waitUntilSubscribed(first).frameworkID)
            var info = testFrameworkInfo()
            info.id = id
            let second = makeScheduler(master: master) { $0.frameworkInfo = info }
            try await whileRunning(second) {
                _ = try await waitUntilSubscribed(second)
                // Readiness: the first scheduler's run() ends by itself with the failover error; once it has
                // ended it cannot subscribe again, so the count below is final.
                for await _ in firstEnded {}
            }
            try await group.waitForAll()
        }
        let subscribes = await master.receivedCalls.filter { $0.type == .subscribe }
        #expect(subscribes.count == 2)
    }

    @Test("a 403 'not subscribed' answer to a call makes the scheduler re-subscribe")
    func forbiddenCallResubscribes() async throws {
        let master = makeMaster()
        let scheduler = makeScheduler(master: master)
        try await whileRunning(scheduler) {
            let first = try await waitUntilSubscribed(scheduler)
            await master.inject(.respond(.text(403, "Framework is not subscribed")), matching: .call(.revive))
            await #expect(throws: MesosError(code: .unsubscribed)) { try await scheduler.revive() }
            let second = try await waitUntilResubscribed(scheduler, after: first)
            #expect(second.frameworkID == first.frameworkID)
            try await scheduler.revive()
        }
    }

    @Test("a stale stream id (400) makes the scheduler re-subscribe")
    func staleStreamResubscribes() async throws {
        let master = makeMaster()
        let scheduler = makeScheduler(master: master)
        try await whileRunning(scheduler) {
            let first = try await waitUntilSubscribed(scheduler)
            await master.inject(
                .respond(.text(400, "The stream ID 'x' included in this request didn't match the stream ID currently associated with framework ID y")),
                matching: .call(.kill))
            await #expect(throws: MesosError(code: .streamIDMismatch)) { try await scheduler.kill(TaskID("t")) }
            _ = try await waitUntilResubscribed(scheduler, after: first)
        }
    }

    @Test("a slow consumer pauses the stream; no event is lost or reordered")
    func slowConsumerLosesNothing() async throws {
        let master = makeMaster(heartbeat: .seconds(30))
        let scheduler = makeScheduler(master: master) { $0.eventBufferSize = 2 }
        let events = scheduler.events
        try await whileRunning(scheduler) {
            let id = try #require(try await waitUntilSubscribed(scheduler).frameworkID)
            for index in 0..<100 {
                try await master.send(.rescind(OfferID("o\(index)")), to: id)
            }
            var received: [String] = []
            for try await event in events {
                if case .rescind(let offerID) = event {
                    received.append(offerID.value)
                    if received.count % 10 == 0 { try await Task.sleep(for: .milliseconds(5)) }
                    if received.count == 100 { break }
                }
            }
            #expect(received == (0..<100).map { "o\($0)" })
        }
    }

    @Test("401 refreshes the credentials once and retries")
    func unauthorizedRefreshes() async throws {
        actor CountingAuthenticator: MesosAuthenticator {
            var refreshes = 0
            var requests = 0
            func authorization(refresh: Bool) async throws -> String? {
                requests += 1
                if refresh { refreshes += 1 }
                return "Basic dGVzdDp0ZXN0"
            }
        }
        let authenticator = CountingAuthenticator()
        let master = makeMaster()
        await master.inject(.respond(.text(401, "")), matching: .subscribe)
        let scheduler = makeScheduler(master: master) { $0.authenticator = authenticator }
        try await whileRunning(scheduler) {
            _ = try await waitUntilSubscribed(scheduler)
            try await scheduler.revive()
        }
        #expect(await authenticator.refreshes == 1)
        let received = await master.receivedCalls
        #expect(received.allSatisfy { $0.request.headers["Authorization"] == "Basic dGVzdDp0ZXN0" })
        #expect(received.first?.status == 401 && received.dropFirst().first?.status == 200)
    }

    @Test("two 401s in a row fail the subscription as unauthenticated")
    func unauthorizedTwiceFails() async throws {
        let master = makeMaster()
        await master.inject(.respond(.text(401, "")), matching: .subscribe, times: 2)
        let scheduler = makeScheduler(master: master) {
            $0.authenticator = try? BasicAuthenticator(principal: "p", secret: "s")
        }
        await #expect(throws: MesosError(code: .unauthenticated)) { try await scheduler.run() }
    }
}

/// Waits until the scheduler is subscribed on a stream other than `previous`'s.
func waitUntilResubscribed(
    _ scheduler: MesosScheduler,
    after previous: SchedulerStatus,
    timeout: Duration = .seconds(60)
) async throws -> SchedulerStatus {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        let status = scheduler.status
        if status.isSubscribed, status.streamID != previous.streamID { return status }
        try await Task.sleep(for: .milliseconds(5))
    }
    throw MesosError(code: .timeout, message: "never re-subscribed: \(scheduler.status.state)")
}
