import Foundation
import MesosCore
import MesosScheduler
import MesosTestKit
import Testing

@Suite("Scheduler service over the in-memory fake master", .timeLimit(.minutes(1)))
struct SchedulerTests {
    @Test("subscribes, delivers typed events in order, and exposes its status")
    func subscribeAndEvents() async throws {
        let master = makeMaster()
        let scheduler = makeScheduler(master: master)
        #expect(!scheduler.status.isSubscribed)
        let lifecycle = scheduler.lifecycleEvents()
        let events = scheduler.events
        try await whileRunning(scheduler) {
            var iterator = events.makeAsyncIterator()
            guard case .subscribed(let subscribed)? = try await iterator.next() else {
                Issue.record("first event is not SUBSCRIBED")
                return
            }
            let status = try await waitUntilSubscribed(scheduler)
            #expect(status.frameworkID == subscribed.frameworkID)
            #expect(status.streamID == (await master.streamID(of: subscribed.frameworkID)))
            #expect(status.masterInfo?.hostname == "fake-master")
            try await master.sendOffers(2, to: subscribed.frameworkID)
            var sawOffers = false
            while let event = try await iterator.next() {
                if case .offers(let offers) = event {
                    #expect(offers.count == 2)
                    sawOffers = true
                    break
                }
                #expect(event == .heartbeat)
            }
            #expect(sawOffers)
        }
        var lifecycleIterator = lifecycle.makeAsyncIterator()
        guard case .subscribed? = await lifecycleIterator.next() else {
            Issue.record("lifecycle did not start with subscribed")
            return
        }
    }

    @Test(
        "events arrive in stream order whether decoded on the reading task or on decoding tasks",
        arguments: [0, 1, 2], [MesosContentType.json, .protobuf])
    func decodingConcurrencyKeepsOrder(concurrency: Int, contentType: MesosContentType) async throws {
        let master = makeMaster(heartbeat: .seconds(3600))
        let scheduler = makeScheduler(master: master) {
            $0.decodingConcurrency = concurrency
            $0.contentType = contentType
        }
        let events = scheduler.events
        try await whileRunning(scheduler) {
            var iterator = events.makeAsyncIterator()
            guard case .subscribed(let subscribed)? = try await iterator.next() else {
                Issue.record("first event is not SUBSCRIBED")
                return
            }
            for count in 1...5 {
                try await master.sendOffers(count, to: subscribed.frameworkID)
            }
            var counts: [Int] = []
            while counts.count < 5, let event = try await iterator.next() {
                if case .offers(let offers) = event {
                    counts.append(offers.count)
                }
            }
            #expect(counts == [1, 2, 3, 4, 5])
        }
    }

    @Test("a call before the subscription fails fast with notSubscribed")
    func callWhileNotSubscribed() async throws {
        let scheduler = makeScheduler(master: makeMaster())
        await #expect(throws: MesosError(code: .notSubscribed)) {
            try await scheduler.decline([OfferID("o1")])
        }
        await #expect(throws: MesosError(code: .notSubscribed)) { try await scheduler.teardown() }
    }

    @Test("every call carries the framework id and the stream id, and is validated first")
    func callsCarryIDs() async throws {
        let master = makeMaster()
        let scheduler = makeScheduler(master: master)
        try await whileRunning(scheduler) {
            let status = try await waitUntilSubscribed(scheduler)
            try await scheduler.decline([OfferID("o1")], filters: .refuse(seconds: 10))
            try await scheduler.revive(roles: ["batch"])
            try await scheduler.suppress(roles: ["batch"])
            try await scheduler.kill(TaskID("t1"))
            try await scheduler.reconcile()
            try await scheduler.reconcile([(TaskID("t1"), nil)])
            try await scheduler.message(agentID: AgentID("a"), executorID: ExecutorID("e"), data: Data("x".utf8))
            try await scheduler.shutdown(executorID: ExecutorID("e"), agentID: AgentID("a"))
            try await scheduler.request([ResourceRequest()])
            try await scheduler.updateFramework(testFrameworkInfo())
            await #expect(throws: MesosError(code: .invalidCall)) {
                try await scheduler.accept([], operations: [])
            }
            let calls = await master.receivedCalls.filter { $0.type != .subscribe }
            #expect(calls.map(\.status).allSatisfy { $0 == 202 || $0 == 200 }, "\(calls.map(\.status))")
            #expect(calls.count == 10)
            for received in calls {
                #expect(received.call?.frameworkID == status.frameworkID)
                #expect(received.request.headers["Mesos-Stream-Id"] == status.streamID)
            }
        }
    }

    @Test("updates with a uuid are acknowledged after the consumer moves on; others never")
    func automaticAcknowledgement() async throws {
        let master = makeMaster()
        let scheduler = makeScheduler(master: master)
        let events = scheduler.events
        try await whileRunning(scheduler) {
            let id = try #require(try await waitUntilSubscribed(scheduler).frameworkID)
            let withUUID = runningUpdate(task: "t1")
            var withoutUUID = runningUpdate(task: "t2")
            withoutUUID.clearUuid()
            try await master.send(.update(withUUID), to: id)
            try await master.send(.update(withoutUUID), to: id)
            try await master.send(.rescind(OfferID("o9")), to: id)
            var iterator = events.makeAsyncIterator()
            var seen: [String] = []
            while seen.count < 3, let event = try await iterator.next() {
                switch event {
                case .update(let status): seen.append(status.taskID.value)
                case .rescind: seen.append("rescind")
                default: break
                }
                if seen == ["t1"] {
                    // Not acknowledged while the consumer still holds the event.
                    #expect(await master.receivedCalls.filter { $0.type == .acknowledge }.isEmpty)
                }
            }
            #expect(seen == ["t1", "t2", "rescind"])
            try await master.waitUntil { $0.receivedCalls.contains { $0.type == .acknowledge } }
            let acks = await master.receivedCalls.filter { $0.type == .acknowledge }
            #expect(acks.count == 1)
            #expect(acks.first?.call?.acknowledge.taskID.value == "t1")
            #expect(acks.first?.call?.acknowledge.uuid == withUUID.uuid)
        }
    }

    @Test("explicit acknowledgement mode leaves acknowledging to the framework")
    func explicitAcknowledgement() async throws {
        let master = makeMaster()
        let scheduler = makeScheduler(master: master) { $0.acknowledgements = .explicit }
        let events = scheduler.events
        try await whileRunning(scheduler) {
            let id = try #require(try await waitUntilSubscribed(scheduler).frameworkID)
            try await master.send(.update(runningUpdate(task: "t1")), to: id)
            try await master.send(.rescind(OfferID("o")), to: id)
            let received = try await collect(events, count: 2) { event in
                if case .update = event { return true }
                if case .rescind = event { return true }
                return false
            }
            guard case .update(let status) = received[0] else {
                Issue.record("expected the update first, got \(received)")
                return
            }
            // Readiness: the consumer has moved past the update (it holds the RESCIND), which is when automatic
            // mode acknowledges, awaited inside the iterator; then a marker call. Everything the scheduler sent
            // up to here is in the master's log, in order.
            try await scheduler.reconcile()
            #expect(await master.receivedCalls.filter { $0.type != .subscribe }.map(\.type) == [.reconcile])
            try await scheduler.acknowledge(status)
            #expect(await master.receivedCalls.filter { $0.type == .acknowledge }.count == 1)
        }
    }

    @Test("callbacks: on(kind), onOffers with offer.decline(), onUpdate with automatic acks")
    func callbacks() async throws {
        let master = makeMaster()
        let scheduler = makeScheduler(master: master)
        let seen = Locked<[String]>([])
        scheduler.on(.subscribed) { _ in seen.withLock { $0.append("subscribed") } }
        scheduler.on(nil) { event in seen.withLock { $0.append("any:\(event.typeName)") } }
        scheduler.onOffers { offers in
            for offer in offers { try await offer.decline(filters: .refuse(seconds: 1)) }
        }
        scheduler.onUpdate { update in seen.withLock { $0.append("update:\(update.status.taskID.value)") } }
        try await whileRunning(scheduler) {
            let id = try #require(try await waitUntilSubscribed(scheduler).frameworkID)
            let offers = try await master.sendOffers(1, to: id)
            try await master.send(.update(runningUpdate(task: "t7")), to: id)
            try await master.waitUntil { master in
                master.receivedCalls.contains { $0.type == .decline } && master.receivedCalls.contains { $0.type == .acknowledge }
            }
            let decline = await master.receivedCalls.first { $0.type == .decline }
            #expect(decline?.call?.decline.offerIds == [offers[0].id])
        }
        let log = seen.withLock { $0 }
        #expect(log.first == "subscribed")
        #expect(log.contains("update:t7"))
        #expect(log.contains("any:OFFERS"))
    }

    @Test("a Scheduler delegate gets the classic callbacks")
    func delegate() async throws {
        let master = makeMaster()
        let scheduler = makeScheduler(master: master)
        let recorder = RecordingScheduler(onOffers: { driver, offers in try? await driver.decline(offers.map(\.id)) })
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await scheduler.run(recorder) }
            guard case .registered(let id, let masterInfo) = try await recorder.next(.registered) else {
                Issue.record("registered expected")
                return
            }
            #expect(masterInfo?.hostname == "fake-master")
            try await master.sendOffers(3, to: id)
            try await master.send(.update(runningUpdate(task: "t1")), to: id)
            var failure = SchedulerEvent.Failure()
            failure.agentID = AgentID("a")
            failure.executorID = ExecutorID("e")
            failure.status = 256
            try await master.send(.failure(failure), to: id)
            var agentGone = SchedulerEvent.Failure()
            agentGone.agentID = AgentID("a")
            try await master.send(.failure(agentGone), to: id)
            _ = try await recorder.next(.agentLost)
            scheduler.disconnect()
            try await group.waitForAll()
        }
        let summary = recorder.calls.map { call -> String in
            switch call {
            case .registered: return "registered"
            case .resourceOffers(let offers): return "offers:\(offers.count)"
            case .statusUpdate(let status): return "update:\(status.taskID.value)"
            case .executorLost(_, _, let status): return "executorLost:\(status)"
            case .agentLost: return "agentLost"
            default: return "\(call.kind)"
            }
        }
        #expect(summary == ["registered", "offers:3", "update:t1", "executorLost:256", "agentLost"])
        // The offers were declined from the callback, and the update acknowledged after it.
        #expect(await master.receivedCalls.contains { $0.type == .decline })
        #expect(await master.receivedCalls.contains { $0.type == .acknowledge })
    }

    @Test("teardown removes the framework and stops run(); disconnect leaves it registered")
    func teardownAndDisconnect() async throws {
        let master = makeMaster()
        let scheduler = makeScheduler(master: master)
        let error = try await whileRunning(scheduler) {
            _ = try await waitUntilSubscribed(scheduler)
            try await scheduler.teardown()
        }
        #expect(error == nil)
        #expect(await master.frameworks.first?.isRemoved == true)
        #expect(scheduler.status.frameworkID == nil)

        let other = makeMaster()
        let leaving = makeScheduler(master: other)
        try await whileRunning(leaving) { _ = try await waitUntilSubscribed(leaving) }
        #expect(await other.frameworks.first?.isRemoved == false)
        #expect(leaving.status.frameworkID != nil)
        #expect(leaving.status.state == .unsubscribed)
    }

    @Test("teardown keeps the stream open until TEARDOWN is answered, though events keep arriving meanwhile")
    func teardownWhileEventsArrive() async throws {
        // Mesos answers 403 "Framework is not subscribed" to a TEARDOWN that arrives after the framework's stream
        // closed. Here the TEARDOWN takes 200 ms to reach the master while heartbeats flow every 5 ms: an event
        // that arrives in that window must not make the scheduler close the stream early.
        let master = makeMaster(heartbeat: .milliseconds(5))
        await master.inject(.delayArrival(.milliseconds(200)), matching: .call(.teardown))
        // 5 ms × 400 = 2 s: the watchdog follows the advertised interval; only a real silence may end the stream.
        let scheduler = makeScheduler(master: master) { $0.heartbeatTolerance = 400 }
        let error = try await whileRunning(scheduler) {
            _ = try await waitUntilSubscribed(scheduler)
            try await scheduler.teardown()
        }
        #expect(error == nil)
        #expect(await master.frameworks.first?.isRemoved == true)
        #expect(await master.receivedCalls.last?.status == 202)
    }

    @Test("withSubscription scopes the subscription to its body")
    func scoped() async throws {
        let master = makeMaster()
        let scheduler = makeScheduler(master: master)
        let frameworkID = try await scheduler.withSubscription { events in
            for try await event in events {
                if case .subscribed(let subscribed) = event { return subscribed.frameworkID }
            }
            return FrameworkID("none")
        }
        #expect(frameworkID.value.hasSuffix("-0000"))
        try await master.waitUntil { $0.subscribedFrameworkIDs.isEmpty }
    }

    @Test("after disconnect, running again resubscribes with the same framework id and delivers events")
    func runAgain() async throws {
        let master = makeMaster()
        let scheduler = makeScheduler(master: master)
        func firstSubscribed() async throws -> FrameworkID {
            try await scheduler.withSubscription { events in
                for try await event in events {
                    if case .subscribed(let subscribed) = event { return subscribed.frameworkID }
                }
                throw MesosError(code: .streamEnded, message: "no SUBSCRIBED")
            }
        }
        let first = try await firstSubscribed()
        let second = try await firstSubscribed()
        #expect(first == second)
        let subscribes = await master.receivedCalls.filter { $0.type == .subscribe }
        #expect(subscribes.count == 2)
        #expect(subscribes.last?.call?.subscribe.frameworkInfo.id == first)
    }
}
