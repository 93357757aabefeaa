import Foundation
import MesosCore
import MesosExecutor
import MesosTestKit
import Testing

@Suite("MesosExecutor against the fake agent")
struct MesosExecutorTests {
    @Test("subscribes with the right headers and an empty subscribe; events reach the delegate, callbacks and sequence in order")
    func subscribeAndEvents() async throws {
        let agent = FakeAgent()
        let delegate = RecordingExecutor()
        let clock = ManualClock()
        var configuration = ExecutorConfiguration(
            endpoint: agent.inMemoryEndpoint, frameworkID: Harness.frameworkID(agent), executorID: Harness.executorID(agent),
            authenticationToken: "secret-token")
        configuration.clock = clock
        configuration.heartbeatInterval = nil
        let executor = MesosExecutor(configuration: configuration, transport: agent.transport)
        let kinds = LockedValue<[ExecutorEvent.Kind]>([])
        let kills = LockedValue(0)
        executor.onEvent { event in kinds.withLock { $0.append(event.kind) } }
        executor.onEvent(.kill) { _ in kills.withLock { $0 += 1 } }
        let events = executor.events()
        let run = Task { await executor.run(delegate: delegate) }

        try await agent.waitUntil { $0.isSubscribed }
        let subscribe = try #require(await agent.calls.first)
        #expect(subscribe.call?.type == .subscribe && subscribe.call?.hasSubscribe == true)
        #expect(subscribe.call?.subscribe.unacknowledgedTasks.isEmpty == true)
        #expect(subscribe.headers["Content-Type"] == "application/x-protobuf")
        #expect(subscribe.headers["Accept"] == "application/x-protobuf")
        #expect(subscribe.headers["Authorization"] == "Bearer secret-token")
        #expect(subscribe.headers["Mesos-Stream-Id"] == nil)

        var policy = KillPolicy()
        policy.gracePeriod.nanoseconds = 10_000_000_000
        await agent.launch(task("t1"))
        var group = TaskGroupInfo()
        group.tasks = [task("g1"), task("g2")]
        await agent.send(.launchGroup(group))
        await agent.kill(task("t1").taskID, killPolicy: policy)
        await agent.kill(task("g1").taskID)
        await agent.message(Array("hello".utf8))
        await agent.heartbeat()
        await agent.error("odd")
        try await waitFor("the error") { delegate.entries.contains("error:frameworkError") }

        #expect(delegate.entries == [
            "registered:fake-agent-S0", "launch:t1", "launchGroup:g1,g2", "kill:t1:10000000000", "kill:g1:-",
            "message:hello", "error:frameworkError",
        ])
        #expect(kinds.withLock { $0 } == [.subscribed, .launch, .launchGroup, .kill, .kill, .message, .heartbeat, .error])
        #expect(kills.withLock { $0 } == 2)
        #expect(executor.subscribed?.containerID.value == "fake-container")
        #expect(executor.unacknowledgedTasks.map(\.taskID.value) == ["t1", "g1", "g2"])

        executor.stop()
        #expect(await run.value == .stopped)
        var seen: [String] = []
        for await event in events {
            seen.append(event.typeName)
        }
        #expect(seen == ["SUBSCRIBED", "LAUNCH", "LAUNCH_GROUP", "KILL", "KILL", "MESSAGE", "HEARTBEAT", "ERROR"])
    }

    @Test("an update gets a fresh uuid and the ids, is kept until ACKNOWLEDGED, and acknowledging it releases its task")
    func updatesKeptUntilAcknowledged() async throws {
        var agentConfiguration = FakeAgent.Configuration()
        agentConfiguration.acknowledgesAutomatically = false
        let harness = Harness(agent: FakeAgent(configuration: agentConfiguration)) { $0.wallClock = { 1732262460.5 } }
        try await harness.subscribed()
        await harness.agent.launch(task("t1"))
        try await harness.waitForEntry("launch:t1")

        let first = try await harness.executor.update(status("t1", .taskStarting))
        let second = try await harness.executor.update(status("t1", .taskRunning))
        let received = await harness.agent.updates
        #expect(received == [first, second])
        #expect(first.uuid.count == 16 && first.uuid != second.uuid && first.uuid.isValidMesosUUID)
        #expect(first.source == .executor && first.executorID.value == "fake-executor")
        #expect(first.agentID.value == "fake-agent-S0" && first.timestamp == 1732262460.5)
        #expect(harness.executor.unacknowledgedUpdates == [first, second])
        #expect(harness.executor.unacknowledgedTasks.map(\.taskID.value) == ["t1"])

        await harness.agent.acknowledge(second)
        try await harness.waitForEntry("ack:t1")
        #expect(harness.executor.unacknowledgedUpdates == [first])
        #expect(harness.executor.unacknowledgedTasks.isEmpty)

        // An acknowledgement for a uuid the executor never sent changes nothing.
        var stray = ExecutorEvent.Acknowledged()
        stray.taskID.value = "t1"
        stray.uuid = Data.randomMesosUUID()
        await harness.agent.send(.acknowledged(stray))
        try await harness.waitForEntry("ack:t1", count: 2)
        #expect(harness.executor.unacknowledgedUpdates == [first])

        await #expect(throws: MesosError(code: .invalidCall)) {
            try await harness.executor.update(status("t1", .taskStaging))
        }
        harness.executor.stop()
        #expect(await harness.run.value == .stopped)
    }

    @Test("after an agent restart the executor re-subscribes with its unacknowledged tasks and updates, and retries a 503'd update")
    func recoveryResendsUnacknowledged() async throws {
        var agentConfiguration = FakeAgent.Configuration()
        agentConfiguration.acknowledgesAutomatically = false
        let harness = Harness(agent: FakeAgent(configuration: agentConfiguration))
        let agent = harness.agent
        try await harness.subscribed()
        await agent.launch(task("t1"))
        await agent.launch(task("t2"))
        try await harness.waitForEntry("launch:t2")
        let running = try await harness.executor.update(status("t1", .taskRunning))

        await agent.restart(into: .recovering)
        try await harness.waitForEntry("disconnected")
        // Two attempts meet the recovering agent's 503, then the re-registration window opens.
        for expected in 2...3 {
            await harness.clock.waitForSleepers(2)  // the recovery timer and the backoff
            harness.clock.advanceToNextDeadline()
            try await agent.waitUntil { $0.calls.filter { $0.status == 503 }.count >= expected - 1 }
        }
        await agent.setAvailability(.reregistering)
        await harness.clock.waitForSleepers(2)
        harness.clock.advanceToNextDeadline()
        try await harness.subscribed(times: 2)

        let resubscribe = try #require(await agent.subscribeCalls.last)
        #expect(resubscribe.subscribe.unacknowledgedTasks.map(\.taskID.value) == ["t1", "t2"])
        #expect(resubscribe.subscribe.unacknowledgedUpdates.map(\.status) == [running])
        #expect(await agent.pendingAcknowledgements == [running])
        // The recovery timer was cancelled by SUBSCRIBED: nothing sleeps now.
        #expect(harness.clock.sleeperCount == 0)

        // While the agent still recovers, an UPDATE gets 503 and is retried with backoff.
        let update = Task { try await harness.executor.update(status("t2", .taskRunning)) }
        await harness.clock.waitForSleepers(1)
        #expect(await agent.calls.last?.status == 503)
        await agent.setAvailability(.running)
        harness.clock.advanceToNextDeadline()
        let sent = try await update.value
        #expect(await agent.updates.last == sent)
        #expect(await agent.calls.last?.status == 202)

        await agent.acknowledgeAll()
        try await waitFor("no unacknowledged updates") { harness.executor.unacknowledgedUpdates.isEmpty }
        #expect(harness.executor.unacknowledgedTasks.isEmpty)
        harness.executor.stop()
        #expect(await harness.run.value == .stopped)
    }

    @Test("re-subscription delays never exceed MESOS_SUBSCRIPTION_BACKOFF_MAX")
    func backoffCapped() async throws {
        let harness = Harness { $0.subscriptionBackoffMax = .seconds(2) }
        try await harness.subscribed()
        await harness.agent.restart(into: .down)
        try await harness.waitForEntry("disconnected")
        for _ in 0..<12 {
            await harness.clock.waitForSleepers(2)
            harness.clock.advanceToNextDeadline()
        }
        await harness.clock.waitForSleepers(2)
        // Leave out the recovery (3600 s) and registration (60 s) timers.
        let delays = harness.clock.sleepLog.filter { $0 != .seconds(3600) && $0 != .seconds(60) }
        #expect(delays.count >= 12)
        #expect(delays.allSatisfy { $0 <= .seconds(2) })
        #expect(delays.contains { $0 > .milliseconds(500) }, "the ceiling grows: \(delays)")
        #expect(await harness.agent.calls.count == 1 + 12)  // the first SUBSCRIBE, then one attempt per delay
        await harness.agent.setAvailability(.running)
        harness.clock.advanceToNextDeadline()
        try await harness.subscribed(times: 2)
        harness.executor.stop()
        #expect(await harness.run.value == .stopped)
    }

    @Test("the recovery timeout ends the executor after running its shutdown handler")
    func recoveryTimeoutEnds() async throws {
        let harness = Harness { $0.recoveryTimeout = .seconds(10) }
        try await harness.subscribed()
        await harness.agent.restart(into: .down)
        let end = await harness.driveToEnd(sleepers: 2)
        guard case .recoveryTimedOut(let reason) = end else {
            Issue.record("ended with \(String(describing: end))")
            return
        }
        #expect(reason.code == .transportFailure)
        #expect(harness.clock.now.offset >= .seconds(10) && harness.clock.now.offset < .seconds(12))
        #expect(harness.delegate.entries.suffix(2) == ["disconnected", "shutdown"])
        #expect(await harness.agent.calls.count > 4)
        #expect(end?.exitStatus == 1)
    }

    @Test("without checkpointing the executor ends as soon as the agent is gone")
    func noCheckpointEndsWhenAgentGone() async throws {
        let harness = Harness(checkpoint: false)
        try await harness.subscribed()
        await harness.agent.dropStream()
        let end = await harness.run.value
        guard case .agentGone(let reason) = end else {
            Issue.record("ended with \(end)")
            return
        }
        #expect(reason.code == .transportFailure)
        #expect(harness.delegate.entries == ["registered:fake-agent-S0", "disconnected", "shutdown"])
        #expect(await harness.agent.subscribeCalls.count == 1)
    }

    @Test("SHUTDOWN: the handler's terminal updates are acknowledged, then the executor ends")
    func shutdownAfterHandler() async throws {
        let delegate = RecordingExecutor(onShutdown: { executor in
            _ = try? await executor.update(status("t1", .taskKilled))
        })
        let harness = Harness(delegate: delegate)
        try await harness.subscribed()
        await harness.agent.launch(task("t1"))
        await harness.agent.shutdown()
        #expect(await harness.run.value == .shutdown)
        #expect(await harness.agent.updates.map(\.state) == [.taskKilled])
        #expect(delegate.entries.contains("ack:t1"))
    }

    @Test("SHUTDOWN: a handler that does not finish is cut off after the grace period")
    func shutdownGracePeriod() async throws {
        let never = ManualClock()
        let delegate = RecordingExecutor(onShutdown: { _ in try? await never.sleep(for: .seconds(1_000_000)) })
        let harness = Harness(delegate: delegate) { $0.shutdownGracePeriod = .seconds(7) }
        try await harness.subscribed()
        await harness.agent.shutdown()
        await harness.clock.waitForDeadline(.seconds(7))
        harness.clock.advance(by: .seconds(6))
        harness.clock.advance(by: .seconds(1))
        #expect(await harness.run.value == .shutdownGracePeriodExpired)
        #expect(harness.clock.now.offset == .seconds(7))
    }

    @Test("SHUTDOWN with nothing launched and a handler that returns ends at once; a SHUTDOWN-only stream too")
    func shutdownOnlyStream() async throws {
        let agent = FakeAgent()
        await agent.respondNext(to: .subscribe, with: .stream(200, headers: ["Content-Type": "application/json"]) { writer in
            try await writer.write(frame(Array(#"{"type":"SHUTDOWN"}"#.utf8))[...])
        })
        let harness = Harness(agent: agent)
        #expect(await harness.run.value == .shutdown)
        #expect(harness.delegate.entries == ["shutdown"])
    }

    @Test("the last terminal update's ACKNOWLEDGED ends the executor")
    func lastTerminalAcknowledgementEnds() async throws {
        var agentConfiguration = FakeAgent.Configuration()
        agentConfiguration.acknowledgesAutomatically = false
        let delegate = RecordingExecutor(onLaunch: { executor, task in
            _ = try? await executor.update(status(task.taskID.value, .taskRunning))
            _ = try? await executor.update(status(task.taskID.value, .taskFinished))
        })
        let harness = Harness(agent: FakeAgent(configuration: agentConfiguration), delegate: delegate)
        try await harness.subscribed()
        await harness.agent.launch(task("t1"))
        try await harness.agent.waitUntil { $0.updates.count == 2 }
        let updates = await harness.agent.updates
        await harness.agent.acknowledge(updates[1])
        try await harness.waitForEntry("ack:t1")
        // The RUNNING update is still unacknowledged: the executor waits for it.
        #expect(harness.executor.unacknowledgedUpdates == [updates[0]])
        await harness.agent.acknowledge(updates[0])
        #expect(await harness.run.value == .finished)
        #expect(harness.clock.now.offset == .zero)
    }

    @Test("without the last ACKNOWLEDGED the executor ends after the bounded wait")
    func lastTerminalAcknowledgementTimeout() async throws {
        var agentConfiguration = FakeAgent.Configuration()
        agentConfiguration.acknowledgesAutomatically = false
        let harness = Harness(agent: FakeAgent(configuration: agentConfiguration)) {
            $0.terminalAcknowledgementTimeout = .seconds(60)
        }
        try await harness.subscribed()
        await harness.agent.launch(task("t1"))
        try await harness.waitForEntry("launch:t1")
        try await harness.executor.update(status("t1", .taskFailed))
        await harness.clock.waitForDeadline(.seconds(60))
        harness.clock.advance(by: .seconds(59))
        #expect(harness.clock.sleeperCount == 1)
        harness.clock.advance(by: .seconds(1))
        let end = await harness.run.value
        #expect(end == .acknowledgementTimedOut && end.exitStatus == 1)
    }

    @Test("a first SUBSCRIBE answered 503 is retried every second; the registration timeout bounds the retries")
    func initialSubscribeRetries() async throws {
        let agent = FakeAgent()
        await agent.setAvailability(.recovering)
        let harness = Harness(agent: agent) { $0.registrationTimeout = .seconds(5) }
        await harness.clock.waitForDeadline(.seconds(1))
        harness.clock.advance(by: .seconds(1))
        await harness.clock.waitForDeadline(.seconds(2))
        await agent.setAvailability(.running)
        harness.clock.advance(by: .seconds(1))
        try await harness.subscribed()
        #expect(await agent.calls.map(\.status) == [503, 503, 200])
        harness.executor.stop()
        _ = await harness.run.value

        let down = FakeAgent()
        await down.setAvailability(.recovering)
        let never = Harness(agent: down) { $0.registrationTimeout = .seconds(5) }
        let end = await never.driveToEnd(sleepers: 2)
        guard case .registrationTimedOut(let reason) = end else {
            Issue.record("ended with \(String(describing: end))")
            return
        }
        #expect(reason.code == .unavailable && reason.httpStatus == 503)
        #expect(never.clock.now.offset == .seconds(5))
    }

    @Test("refusals end the executor with a typed error: 401 on SUBSCRIBE, a 200 that is not an event stream")
    func refusedSubscriptions() async throws {
        let unauthorized = FakeAgent()
        await unauthorized.respondNext(to: .subscribe, with: .text(401, "Unauthorized", headers: ["WWW-Authenticate": "Bearer realm=\"mesos-agent-executor\""]))
        let first = Harness(agent: unauthorized)
        let end = await first.run.value
        #expect(end == .failed(MesosError(code: .unauthenticated)))
        #expect(first.delegate.entries == ["error:unauthenticated"])

        let html = FakeAgent()
        await html.respondNext(to: .subscribe, with: .bytes(200, headers: ["Content-Type": "text/html"], Array("<html>".utf8)))
        let second = Harness(agent: html)
        guard case .failed(let error) = await second.run.value else {
            Issue.record("a text/html stream was accepted")
            return
        }
        #expect(error.code == .malformedStream)
    }

    @Test("a malformed frame or an undecodable record is a typed error and a lost stream")
    func malformedFrames() async throws {
        for (garbage, code) in [(Array("12x\n{}".utf8), MesosError.Code.malformedStream),
                                (frame([0xFF, 0xFF, 0xFF]), .decodingFailed)] {
            let harness = Harness(checkpoint: false)
            try await harness.subscribed()
            await harness.agent.sendRaw(garbage)
            guard case .agentGone(let reason) = await harness.run.value else {
                Issue.record("not ended as agentGone")
                continue
            }
            #expect(reason.code == code)
            #expect(harness.delegate.errors.withLock { $0.map(\.code) } == [code])
        }
    }

    @Test("an event before SUBSCRIBED is a protocol violation")
    func eventBeforeSubscribed() async throws {
        let agent = FakeAgent()
        await agent.respondNext(to: .subscribe, with: .stream(200, headers: ["Content-Type": "application/json"]) { writer in
            try await writer.write(frame(Array(#"{"type":"MESSAGE","message":{"data":"AQ=="}}"#.utf8))[...])
        })
        let harness = Harness(agent: agent)
        // The attempt is lost, and the next SUBSCRIBE (a second later) succeeds.
        await harness.clock.waitForDeadline(.seconds(1))
        harness.clock.advance(by: .seconds(1))
        try await harness.subscribed()
        #expect(harness.delegate.errors.withLock { $0.map(\.code) } == [.malformedStream])
        harness.executor.stop()
        _ = await harness.run.value
    }

    @Test("an UPDATE the agent refuses for good throws and is not resent")
    func refusedUpdate() async throws {
        let harness = Harness()
        try await harness.subscribed()
        await harness.agent.respondNext(to: .update, with: .text(400, "Task is unknown"))
        await #expect(throws: MesosError(code: .malformedRequest)) {
            try await harness.executor.update(status("t9", .taskRunning))
        }
        #expect(harness.executor.unacknowledgedUpdates.isEmpty)
        await #expect(throws: MesosError(code: .invalidState)) {
            harness.executor.stop()
            _ = await harness.run.value
            try await harness.executor.update(status("t9", .taskRunning))
        }
    }

    @Test("an UPDATE answered 403 'not subscribed' (the agent saw the stream go) is kept for the next SUBSCRIBE")
    func updateWhileAgentLostTheStream() async throws {
        let harness = Harness()
        try await harness.subscribed()
        await harness.agent.respondNext(to: .update, with: .text(403, "Executor is not subscribed"))
        let sent = try await harness.executor.update(status("t1", .taskRunning))
        #expect(harness.executor.unacknowledgedUpdates == [sent])
        await harness.agent.dropStream()
        await harness.clock.waitForSleepers(2)
        harness.clock.advanceToNextDeadline()
        try await harness.subscribed(times: 2)
        #expect(await harness.agent.subscribeCalls.last?.subscribe.unacknowledgedUpdates.map(\.status) == [sent])
        try await waitFor("the replayed update acknowledged") { harness.executor.unacknowledgedUpdates.isEmpty }
        harness.executor.stop()
        _ = await harness.run.value
    }

    @Test("MESSAGE goes to the agent; it is refused while not subscribed")
    func messages() async throws {
        let harness = Harness(checkpoint: false)
        await #expect(throws: MesosError(code: .notSubscribed)) { try await harness.executor.message([1]) }
        try await harness.subscribed()
        try await harness.executor.message(Array("echo: hi".utf8))
        #expect(await harness.agent.messages == [Array("echo: hi".utf8)])
        harness.executor.stop()
        _ = await harness.run.value
    }

    @Test("HEARTBEAT calls go out at the configured interval while subscribed")
    func heartbeats() async throws {
        let harness = Harness { $0.heartbeatInterval = .seconds(1800) }
        try await harness.subscribed()
        await harness.clock.waitForDeadline(.seconds(1800))
        harness.clock.advance(by: .seconds(1800))
        try await harness.agent.waitUntil { $0.calls.count == 2 }
        #expect(await harness.agent.calls.last?.call?.type == .heartbeat)
        #expect(await harness.agent.calls.last?.status == 202)
        harness.executor.stop()
        _ = await harness.run.value
    }
}
