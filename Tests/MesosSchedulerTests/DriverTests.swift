import Foundation
import Logging
import MesosCore
@testable import MesosScheduler
import MesosTestKit
import Testing

@Suite("Heartbeat watchdog uses the master's advertised interval", .timeLimit(.minutes(1)))
struct HeartbeatWatchdogTests {
    @Test("a master advertising a short interval that goes silent is detected by that interval, not the configured one")
    func advertisedIntervalDetectsSilence() async throws {
        // The client is configured for a 1-hour heartbeat (5 h with the tolerance); the master advertises 50 ms.
        // The watchdog runs on a manual clock: it fires when the clock reaches 250 ms after the last event.
        let clock = ManualClock()
        let master = makeMaster(heartbeat: .milliseconds(50))
        await master.inject(.goSilent(afterEvents: 2), matching: .subscribe)
        let scheduler = makeScheduler(master: master) {
            $0.heartbeatInterval = .seconds(3600)
            $0.heartbeatTolerance = 5
            $0.clock = clock
        }
        let lifecycle = scheduler.lifecycleEvents()
        try await whileRunning(scheduler) {
            let first = try await waitUntilSubscribed(scheduler)
            let (reason, retryAfter) = try await expireHeartbeat(on: clock, timeout: .milliseconds(250), lifecycle: lifecycle)
            #expect(reason.code == .heartbeatTimeout)
            #expect(reason.message.contains("0.25 seconds"), "\(reason)")
            #expect(clock.now.offset < .seconds(3600), "detected by the advertised interval, at \(clock.now)")
            await elapseBackoff(on: clock, retryAfter)
            let second = try await waitUntilResubscribed(scheduler, after: first)
            #expect(second.frameworkID == first.frameworkID)
        }
        #expect(await master.receivedCalls.filter { $0.type == .subscribe }.count >= 2)
    }

    @Test("the configured interval bounds only the wait for SUBSCRIBED")
    func configuredIntervalBoundsSubscribed() async throws {
        let clock = ManualClock()
        let master = makeMaster(heartbeat: .milliseconds(50))
        await master.inject(.goSilent(afterEvents: 0), matching: .subscribe)
        let scheduler = makeScheduler(master: master) {
            $0.heartbeatInterval = .seconds(2)
            $0.heartbeatTolerance = 5
            $0.clock = clock
        }
        let lifecycle = scheduler.lifecycleEvents()
        try await whileRunning(scheduler) {
            // No SUBSCRIBED comes: the first stream is given the configured 2 s × 5, counted from its start.
            let (reason, retryAfter) = try await expireHeartbeat(on: clock, timeout: .seconds(10), lifecycle: lifecycle)
            #expect(reason.code == .heartbeatTimeout)
            #expect(reason.message.contains("No SUBSCRIBED within 10.0 seconds"), "\(reason)")
            await elapseBackoff(on: clock, retryAfter)
            // The second attempt is answered normally.
            _ = try await waitUntilSubscribed(scheduler)
        }
    }

    @Test("an advertised interval longer than the configured one keeps a quiet but healthy stream")
    func longerAdvertisedIntervalIsHonoured() async throws {
        // The configured 100 ms × 5 bounds the wait for SUBSCRIBED; the master advertises 1 s, so after SUBSCRIBED
        // the watchdog allows 5 s. Time passes only on the manual clock.
        let clock = ManualClock()
        let master = makeMaster(heartbeat: .seconds(1))
        let scheduler = makeScheduler(master: master) {
            $0.heartbeatInterval = .milliseconds(100)
            $0.heartbeatTolerance = 5
            $0.clock = clock
        }
        let lifecycle = scheduler.lifecycleEvents()
        try await whileRunning(scheduler) {
            _ = try await waitUntilSubscribed(scheduler)
            // Armed for 5 s after the last event, not for the configured 500 ms.
            await clock.waitForDeadline(.seconds(5))
            // Two seconds pass: four times the configured budget, within the advertised one. The watchdog's only
            // wake-up is still at 5 s, so nothing can have fired.
            clock.advance(by: .seconds(2))
            #expect(clock.pendingDeadlines.contains(.seconds(5)))
            #expect(!clock.pendingDeadlines.contains { $0 <= .seconds(2) })
            #expect(scheduler.status.isSubscribed)
        }
        var disconnections = 0
        for await event in lifecycle {
            if case .disconnected = event { disconnections += 1 }
        }
        #expect(disconnections == 0)
        #expect(await master.receivedCalls.filter { $0.type == .subscribe }.count == 1)
    }
}

@Suite("mesos-go / mesoshttp driver surface", .timeLimit(.minutes(1)))
struct DriverSurfaceTests {
    @Test("start / join / stop(failover: true): the framework stays; statuses as mesos-go returns them")
    func startStopFailover() async throws {
        let master = makeMaster()
        let scheduler = makeScheduler(master: master)
        let recorder = RecordingScheduler()
        #expect(scheduler.driverStatus == .notStarted)
        #expect(await scheduler.stop() == .notStarted)
        #expect(scheduler.abort() == .notStarted)
        #expect(scheduler.start(recorder) == .running)
        #expect(scheduler.start() == .running)
        #expect(!scheduler.isStopped)
        _ = try await recorder.next(.registered)
        #expect(scheduler.isConnected)
        #expect(await scheduler.stop(failover: true) == .stopped)
        #expect(await scheduler.join() == .stopped)
        #expect(scheduler.isStopped && !scheduler.isConnected)
        #expect(scheduler.driverFailure == nil)
        #expect(await master.frameworks.first?.isRemoved == false)
        #expect(scheduler.start() == .stopped)
    }

    @Test("stop() without failover tears the framework down")
    func stopTearsDown() async throws {
        let master = makeMaster()
        let scheduler = makeScheduler(master: master)
        let recorder = RecordingScheduler()
        #expect(scheduler.start(recorder) == .running)
        _ = try await recorder.next(.registered)
        #expect(await scheduler.stop() == .stopped)
        #expect(await scheduler.join() == .stopped)
        #expect(await master.frameworks.first?.isRemoved == true)
        #expect(await master.receivedCalls.contains { $0.type == .teardown })
    }

    @Test("abort() disconnects without teardown; the status is aborted")
    func abortKeepsFramework() async throws {
        let master = makeMaster()
        let scheduler = makeScheduler(master: master)
        let recorder = RecordingScheduler()
        scheduler.start(recorder)
        _ = try await recorder.next(.registered)
        #expect(scheduler.abort() == .aborted)
        #expect(scheduler.abort() == .aborted)
        #expect(await scheduler.join() == .aborted)
        #expect(await scheduler.stop() == .aborted)
        #expect(await master.frameworks.first?.isRemoved == false)
        #expect(!(await master.receivedCalls.contains { $0.type == .teardown }))
    }

    @Test("runDriver: a permanent failure aborts the driver and reaches error(_:message:)")
    func fatalErrorReachesDelegate() async throws {
        let master = makeMaster()
        await master.inject(.respond(.text(401, "no credentials")), matching: .subscribe)
        let scheduler = makeScheduler(master: master)
        let recorder = RecordingScheduler()
        #expect(await scheduler.runDriver(recorder) == .aborted)
        #expect(scheduler.driverFailure?.code == .unauthenticated)
        let calls = recorder.calls
        #expect(calls.map(\.kind) == [.error])
        if case .error(let message) = calls.first {
            #expect(message.contains("401"), "\(message)")
        }
    }

    @Test("mesoshttp's bounded reconnects: attempts exhausted reach error(_:message:) once, after each disconnected")
    func boundedReconnects() async throws {
        let master = makeMaster()
        await master.inject(.respond(.text(503, "busy")), matching: .subscribe, times: nil)
        let scheduler = makeScheduler(master: master) { $0.limitReconnectAttempts() }
        #expect(scheduler.configuration.maximumSubscriptionAttempts == 3)
        let recorder = RecordingScheduler()
        await #expect(throws: MesosError(code: .unavailable)) { try await scheduler.run(recorder) }
        #expect(recorder.calls.map(\.kind) == [.disconnected, .disconnected, .error])
        #expect(await master.receivedCalls.filter { $0.type == .subscribe }.count == 3)
    }

    @Test("an ERROR event reaches error(_:message:) once, not again as the failure it causes")
    func errorEventOnce() async throws {
        let master = makeMaster()
        let scheduler = makeScheduler(master: master)
        let recorder = RecordingScheduler()
        scheduler.start(recorder)
        guard case .registered(let id, _) = try await recorder.next(.registered) else {
            Issue.record("registered expected")
            return
        }
        try await master.send(.error(message: "Framework failed over"), to: id)
        #expect(await scheduler.join() == .aborted)
        #expect(scheduler.driverFailure?.code == .frameworkFailedOver)
        #expect(recorder.calls(.error) == [.error(message: "Framework failed over")])
    }

    @Test("registered always comes before the offers sent right after SUBSCRIBED")
    func registeredFirst() async throws {
        let master = makeMaster()
        let scheduler = makeScheduler(master: master)
        let (gate, open) = AsyncStream<Void>.makeStream()
        let (log, logged) = AsyncStream<String>.makeStream()
        struct Delegate: Scheduler {
            let gate: AsyncStream<Void>
            let log: AsyncStream<String>.Continuation
            func registered(_ driver: MesosScheduler, frameworkID: FrameworkID, masterInfo: MasterInfo?) async {
                // Held until the master has already sent offers behind SUBSCRIBED.
                for await _ in self.gate { break }
                self.log.yield("registered")
            }
            func resourceOffers(_ driver: MesosScheduler, offers: [Offer]) async {
                self.log.yield("offers:\(offers.count)")
            }
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await scheduler.run(Delegate(gate: gate, log: logged)) }
            try await master.waitUntil { !$0.subscribedFrameworkIDs.isEmpty }
            let id = try #require(await master.subscribedFrameworkIDs.first)
            try await master.sendOffers(2, to: id)
            open.yield()
            var iterator = log.makeAsyncIterator()
            #expect(await iterator.next() == "registered")
            #expect(await iterator.next() == "offers:2")
            scheduler.disconnect()
            try await group.waitForAll()
        }
    }

    @Test("run(delegate) twice (after disconnect) dispatches each event once")
    func twoRuns() async throws {
        let master = makeMaster()
        let scheduler = makeScheduler(master: master)
        let recorder = RecordingScheduler()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await scheduler.run(recorder) }
            _ = try await recorder.next(.registered)
            scheduler.disconnect()
            try await group.waitForAll()
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await scheduler.run(recorder) }
            guard case .registered(let id, _) = try await recorder.next(.registered) else {
                Issue.record("registered expected")
                return
            }
            _ = try await recorder.next(.reregistered)
            try await master.sendOffers(1, to: id)
            try await master.send(.rescind(OfferID("marker")), to: id)
            // Callbacks are delivered in stream order: once the marker is in, every delivery of the offers is too.
            _ = try await recorder.next(.offerRescinded)
            scheduler.disconnect()
            try await group.waitForAll()
        }
        #expect(recorder.calls(.resourceOffers).count == 1)
        #expect(recorder.calls(.offerRescinded).count == 1)
        #expect(recorder.calls.map(\.kind) == [.registered, .reregistered, .resourceOffers, .offerRescinded])
    }

    @Test("typed callbacks for every event kind")
    func typedCallbacks() async throws {
        let master = makeMaster(heartbeat: .seconds(30))
        let scheduler = makeScheduler(master: master)
        let log = Locked<[String]>([])
        scheduler.onSubscribed { subscribed in log.withLock { $0.append("subscribed:\(subscribed.frameworkID.value.hasSuffix("-0000"))") } }
        scheduler.onHeartbeat { log.withLock { $0.append("heartbeat") } }
        scheduler.onRescind { id in log.withLock { $0.append("rescind:\(id.value)") } }
        scheduler.onInverseOffers { offers in log.withLock { $0.append("inverse:\(offers.map(\.id.value))") } }
        scheduler.onMessage { message in log.withLock { $0.append("message:\(String(decoding: message.data, as: UTF8.self))") } }
        scheduler.onFailure { failure in log.withLock { $0.append("failure:\(failure.agentID.value)") } }
        scheduler.onUpdateOperationStatus { status in log.withLock { $0.append("operation:\(status.operationID.value)") } }
        scheduler.onError { message in log.withLock { $0.append("error:\(message)") } }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                await #expect(throws: MesosError(code: .frameworkError)) { try await scheduler.run() }
            }
            let id = try #require(try await waitUntilSubscribed(scheduler).frameworkID)
            try await master.send(.rescind(OfferID("o1")), to: id)
            try await master.send(.rescindInverseOffer(OfferID("i1")), to: id)
            var inverse = InverseOffer()
            inverse.id = OfferID("i2")
            try await master.send(.inverseOffers([inverse]), to: id)
            var message = SchedulerEvent.FrameworkMessage()
            message.agentID = AgentID("a")
            message.executorID = ExecutorID("e")
            message.data = Data("hi".utf8)
            try await master.send(.message(message), to: id)
            var failure = SchedulerEvent.Failure()
            failure.agentID = AgentID("a9")
            try await master.send(.failure(failure), to: id)
            var operation = OperationStatus()
            operation.operationID = OperationID("op1")
            operation.state = .operationFinished
            try await master.send(.updateOperationStatus(operation), to: id)
            try await master.send(.error(message: "boom"), to: id)
            try await group.waitForAll()
        }
        #expect(log.withLock { $0 } == [
            "subscribed:true", "heartbeat", "rescind:o1", "rescind:i1", "inverse:[\"i2\"]", "message:hi", "failure:a9",
            "operation:op1", "error:boom",
        ])
    }

    @Test("OfferHandle / UpdateHandle from the events API")
    func handlesFromEvents() async throws {
        let master = makeMaster()
        let scheduler = makeScheduler(master: master) { $0.acknowledgements = .explicit }
        let events = scheduler.events
        try await whileRunning(scheduler) {
            let id = try #require(try await waitUntilSubscribed(scheduler).frameworkID)
            let offers = try await master.sendOffers(1, to: id)
            try await master.send(.update(runningUpdate(task: "t1")), to: id)
            for try await event in events {
                if case .offers(let received) = event {
                    for handle in scheduler.handles(for: received) { try await handle.decline() }
                }
                if case .update(let status) = event {
                    let handle = UpdateHandle(status: status, scheduler: scheduler)
                    #expect(handle.needsAcknowledgement)
                    try await handle.acknowledge()
                    break
                }
            }
            let calls = await master.receivedCalls.filter { $0.type != .subscribe }
            #expect(calls.map(\.type) == [.decline, .acknowledge])
            #expect(calls.first?.call?.decline.offerIds == [offers[0].id])
        }
    }

    @Test("a call-only client from a saved framework id and stream id sends calls on that subscription")
    func callOnlyClient() async throws {
        let master = makeMaster()
        let scheduler = makeScheduler(master: master)
        try await whileRunning(scheduler) {
            let status = try await waitUntilSubscribed(scheduler)
            let client = SchedulerCallClient(
                master: MasterLocation(host: "fake-master", port: 5050),
                frameworkID: try #require(status.frameworkID), streamID: try #require(status.streamID),
                transport: master.transport, contentType: .json)
            try await client.kill(TaskID("t1"), agentID: AgentID("a1"))
            try await scheduler.callClient().reconcile()
            await #expect(throws: MesosError(code: .invalidCall)) {
                try await client.send(.subscribe(frameworkInfo: testFrameworkInfo()))
            }
            let calls = await master.receivedCalls.filter { $0.type != .subscribe }
            #expect(calls.map(\.type) == [.kill, .reconcile])
            #expect(calls.map(\.status) == [202, 202])
            for call in calls {
                #expect(call.streamID == status.streamID)
                #expect(call.call?.frameworkID == status.frameworkID)
            }
        }
        let stale = SchedulerCallClient(
            master: MasterLocation(host: "fake-master", port: 5050), frameworkID: FrameworkID("gone"), streamID: "old",
            transport: master.transport, contentType: .json)
        await #expect(throws: MesosError.self) { try await stale.kill(TaskID("t1")) }
    }

    @Test("at most maximumCallsInFlight calls are in flight; the others wait their turn")
    func boundedCalls() async throws {
        let master = makeMaster()
        let holding = HoldingTransport(base: master.transport)
        let scheduler = makeScheduler(master: master, transport: holding) { $0.maximumCallsInFlight = 2 }
        try await whileRunning(scheduler) {
            _ = try await waitUntilSubscribed(scheduler)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<5 {
                    group.addTask { try await scheduler.kill(TaskID("t\(index)")) }
                }
                // Readiness: three callers wait at the gate; then exactly two calls are in the transport.
                try await waitFor { scheduler.callGate.waiting == 3 }
                #expect(holding.held == 2)
                #expect(scheduler.callGate.inFlight == 2)
                holding.releaseAll()
                try await group.waitForAll()
            }
            #expect(holding.maximumHeld == 2)
            #expect(await master.receivedCalls.filter { $0.type == .kill }.count == 5)
        }
    }

    @Test("FrameworkInfo.addCapability adds each capability once")
    func capabilityHelper() {
        var info = FrameworkInfo()
        info.addCapability(.multiRole)
        info.addCapability(.multiRole)
        info.addCapability(.partitionAware)
        #expect(info.capabilities.map(\.type) == [.multiRole, .partitionAware])
    }

    @Test("the default logger logs nothing; Basic credentials fill an empty principal, a set one is kept")
    func defaultsAndPrincipal() throws {
        let master = makeMaster()
        let quiet = makeScheduler(master: master) { $0.authenticator = try? BasicAuthenticator(principal: "alice", secret: "s") }
        #expect(quiet.logger.handler is SwiftLogNoOpLogHandler)
        #expect(quiet.configuration.frameworkInfo.principal == "alice")
        let named = makeScheduler(master: master) {
            $0.frameworkInfo.principal = "bob"
            $0.authenticator = try? BasicAuthenticator(principal: "alice", secret: "s")
        }
        #expect(named.configuration.frameworkInfo.principal == "bob")
    }
}

/// Polls `condition` (a readiness signal, not a time bound: the suite's time limit is the only bound).
func waitFor(_ condition: @Sendable () -> Bool) async throws {
    while !condition() {
        try await Task.sleep(for: .milliseconds(2))
    }
}

/// A transport that holds every non-SUBSCRIBE request until released, counting how many it holds at once.
final class HoldingTransport: MesosTransport, Sendable {
    private struct State {
        var held = 0
        var maximum = 0
        var released = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    let base: any MesosTransport
    private let state = Locked(State())

    init(base: any MesosTransport) {
        self.base = base
    }

    var held: Int { self.state.withLock { $0.held } }
    var maximumHeld: Int { self.state.withLock { $0.maximum } }

    func releaseAll() {
        let waiters = self.state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.released = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    func send(_ request: MesosHTTPRequest) async throws(MesosError) -> (MesosHTTPResponse, MesosResponseBody) {
        if request.headers["Mesos-Stream-Id"] != nil {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let proceed = self.state.withLock { state -> Bool in
                    state.held += 1
                    state.maximum = max(state.maximum, state.held)
                    if state.released { return true }
                    state.waiters.append(continuation)
                    return false
                }
                if proceed { continuation.resume() }
            }
            self.state.withLock { $0.held -= 1 }
        }
        return try await self.base.send(request)
    }
}

@Suite("Scheduler logging")
struct SchedulerLoggingTests {
    @Test("an input the state machine refuses is logged, not silently turned into closeStream")
    func invalidStateIsLogged() {
        let records = Locked<[(Logger.Level, String)]>([])
        var logger = Logger(label: "test") { _ in CapturingLogHandler(records: records) }
        logger.logLevel = .trace
        let scheduler = MesosScheduler(
            configuration: MesosSchedulerConfiguration(
                frameworkInfo: testFrameworkInfo(), master: .fixed(MasterLocation(host: "fake-master", port: 5050)),
                transport: makeMaster().transport),
            logger: logger)
        // Not subscribing: a backoff that elapses now is an input the machine refuses.
        let action = scheduler.transition { machine throws(MesosError) in try machine.backoffElapsed() }
        #expect(action == .closeStream)
        let logged = records.withLock { $0 }
        #expect(logged.count == 1)
        #expect(logged.first?.0 == .debug)  // unsubscribed: a stop raced the loop, expected
        #expect(logged.first?.1.contains("refused an input") == true)
    }
}

/// Records every log line (level and message).
struct CapturingLogHandler: LogHandler {
    let records: Locked<[(Logger.Level, String)]>
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { self.metadata[key] }
        set { self.metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        self.records.withLock { $0.append((event.level, event.message.description)) }
    }
}
