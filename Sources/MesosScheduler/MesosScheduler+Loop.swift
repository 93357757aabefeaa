import Foundation
import Logging
import MesosCore

/// The subscription loop: it carries out the state machine's actions.
extension MesosScheduler {
    private enum Outcome: Sendable {
        case action(SubscriptionStateMachine.Action)
        case interrupted(Interruption)
    }

    /// Applies one input to the state machine. If the state moved under the loop's feet (a concurrent
    /// ``disconnect()`` or ``teardown()``), the answer is to close the stream.
    func transition(
        _ input: (inout SubscriptionStateMachine) throws(MesosError) -> SubscriptionStateMachine.Action
    ) -> SubscriptionStateMachine.Action {
        let outcome = self.state.withLock { state -> Result<SubscriptionStateMachine.Action, MesosError> in
            do throws(MesosError) {
                return .success(try input(&state.machine))
            } catch {
                return .failure(error)
            }
        }
        switch outcome {
        case .success(let action):
            return action
        case .failure(let error):
            // Expected when a stop raced the loop (the machine is already unsubscribed); anything else is a bug.
            let current = self.state.withLock { $0.machine.state }
            self.logger.log(
                level: current == .unsubscribed ? .debug : .warning,
                "The subscription state machine refused an input; closing the stream",
                metadata: ["mesos.error": "\(error)", "mesos.state": "\(current)"]
            )
            return .closeStream
        }
    }

    func runLoop() async throws {
        var action = try self.state.withLock { state throws(MesosError) -> SubscriptionStateMachine.Action in
            if state.pendingStop != nil {
                state.pendingStop = nil
                return .closeStream
            }
            return try state.machine.subscribeRequested()
        }
        var leaders = self.configuration.master.leaders.makeAsyncIterator()
        let push = self.configuration.master.updateMode == .push

        try await withThrowingTaskGroup(of: Void.self) { group in
            if push {
                group.addTask { await self.watchLeaders() }
            }
            defer { group.cancelAll() }
            while true {
                try Task.checkCancellation()
                switch action {
                case .openStream(let request):
                    action = await self.subscribeOnce(request, leaders: &leaders, push: push)
                case .resubscribe(let delay, let attempt, let reason):
                    self.metrics.reconnect(reason: reason)
                    self.logger.warning(
                        "Subscription lost; retrying",
                        metadata: ["mesos.reason": "\(reason)", "mesos.attempt": "\(attempt)", "mesos.delay": "\(delay)"]
                    )
                    await self.deliverLifecycle(.disconnected(reason: reason, retryAfter: delay))
                    if await self.sleepUnlessStopped(delay) {
                        return
                    }
                    action = self.transition { machine throws(MesosError) in try machine.backoffElapsed() }
                case .fail(let error):
                    self.logger.error("Subscription failed", metadata: ["mesos.error": "\(error)"])
                    throw error
                case .closeStream, .teardown:
                    return
                case .none, .subscribed:
                    // Both are answers the loop handles inside a subscription; reaching here means it ended.
                    return
                }
            }
        }
    }

    /// Waits out a backoff delay. Returns `true` if a stop was requested meanwhile.
    private func sleepUnlessStopped(_ delay: Duration) async -> Bool {
        let signal = Signal<Interruption>()
        let stopped = self.state.withLock { state -> Bool in
            if state.pendingStop != nil || state.machine.state == .unsubscribed {
                state.pendingStop = nil
                return true
            }
            state.interruption = signal
            return false
        }
        if stopped { return true }
        defer { self.state.withLock { $0.interruption = nil } }
        let interrupted = await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                try? await self.time.sleep(for: delay)
                return false
            }
            group.addTask {
                await signal.wait() != nil
            }
            let first = await group.next() ?? true
            group.cancelAll()
            return first
        }
        if interrupted {
            if case .resubscribe = signal.value { return false }
            return true
        }
        return Task.isCancelled
    }

    /// One subscription attempt, from finding the leader to the end of its stream.
    private func subscribeOnce(
        _ request: SubscriptionStateMachine.SubscribeRequest,
        leaders: inout MasterDetector.Leaders.Iterator,
        push: Bool
    ) async -> SubscriptionStateMachine.Action {
        let signal = Signal<Interruption>()
        let pending = self.state.withLock { state -> Interruption? in
            state.interruption = signal
            defer { state.pendingStop = nil }
            return state.pendingStop
        }
        defer { self.state.withLock { $0.interruption = nil } }
        if let pending {
            signal.fire(pending)
        }

        let leader: MasterLocation
        do {
            leader = try await (push ? self.pushedLeader() : self.pulledLeader(&leaders))
        } catch {
            return self.transition { machine throws(MesosError) in try machine.streamEnded(error) }
        }

        var info = self.configuration.frameworkInfo
        if let id = request.frameworkID {
            info.id = id
        }
        let call = SchedulerCall.subscribe(
            frameworkInfo: info,
            suppressedRoles: request.suppressedRoles,
            offerConstraints: self.configuration.offerConstraints
        )
        let body: [UInt8]
        do {
            try call.validate()
            body = try self.codec.encode(call)
        } catch {
            return self.transition { machine throws(MesosError) in try machine.streamEnded(error) }
        }
        self.logger.info(
            "Subscribing",
            metadata: ["mesos.master": "\(leader)", "mesos.attempt": "\(request.attempt)",
                       "mesos.framework_id": "\(request.frameworkID?.value ?? "new")"]
        )

        let outcome = await withTaskGroup(of: Outcome.self) { group in
            group.addTask {
                .action(await self.readSubscription(at: leader, body: body))
            }
            group.addTask {
                if let interruption = await signal.wait() {
                    return .interrupted(interruption)
                }
                return .interrupted(.disconnect)
            }
            let first = await group.next() ?? .interrupted(.disconnect)
            group.cancelAll()
            return first
        }
        switch outcome {
        case .action(let action):
            return action
        case .interrupted(.disconnect), .interrupted(.teardown):
            return .closeStream
        case .interrupted(.resubscribe(let reason)):
            return self.state.withLock { state in
                switch state.machine.state {
                case .subscribing, .subscribed:
                    return (try? state.machine.streamEnded(reason)) ?? .closeStream
                case .disconnected(let lost, let next):
                    // The stream had already ended on its own and scheduled the retry.
                    return .resubscribe(after: self.configuration.backoff.ceiling(forAttempt: next) / 4, attempt: next, reason: lost)
                default:
                    return .closeStream
                }
            }
        }
    }

    private enum StreamOutcome: Sendable {
        case read(SubscriptionStateMachine.Action)
        case silent(Duration)
    }

    /// Sends SUBSCRIBE and consumes the stream until it ends or goes silent; returns the state machine's next
    /// action.
    ///
    /// The heartbeat watchdog allows the configured `heartbeatInterval` × `heartbeatTolerance` for SUBSCRIBED
    /// to arrive, then the interval the master advertised in SUBSCRIBED × `heartbeatTolerance` between events.
    private func readSubscription(at leader: MasterLocation, body: [UInt8]) async -> SubscriptionStateMachine.Action {
        let watchdog = HeartbeatWatchdog(
            timeout: self.configuration.heartbeatInterval * self.configuration.heartbeatTolerance, time: self.time)
        let outcome = await withTaskGroup(of: StreamOutcome?.self) { group in
            group.addTask {
                .read(await self.readStream(at: leader, body: body, watchdog: watchdog))
            }
            group.addTask {
                await watchdog.expiry().map(StreamOutcome.silent)
            }
            var first: StreamOutcome?
            while let next = await group.next() {
                if let next {
                    first = next
                    break
                }
            }
            group.cancelAll()
            return first
        }
        switch outcome {
        case .read(let action):
            return action
        case .silent(let timeout):
            if Task.isCancelled { return .none }
            if self.state.withLock({ $0.machine.canSendCalls }) {
                self.metrics.missedHeartbeat()
                return self.transition { machine throws(MesosError) in try machine.heartbeatMissed() }
            }
            let error = MesosError(code: .heartbeatTimeout, message: "No SUBSCRIBED within \(timeout)")
            return self.transition { machine throws(MesosError) in try machine.streamEnded(error) }
        case nil:
            return .none
        }
    }

    /// The stream itself: SUBSCRIBE, then every event until the stream ends.
    private func readStream(
        at leader: MasterLocation,
        body: [UInt8],
        watchdog: HeartbeatWatchdog
    ) async -> SubscriptionStateMachine.Action {
        let answer: MasterExchange.Answer
        do {
            // No transport idle timeout: the watchdog enforces the heartbeat interval, which changes when
            // SUBSCRIBED arrives.
            answer = try await self.exchange.post(
                to: leader, path: self.configuration.schedulerPath, body: body, streamID: nil, timeout: nil,
                idleTimeout: nil)
        } catch {
            if Task.isCancelled { return .none }
            return self.transition { machine throws(MesosError) in try machine.streamEnded(error) }
        }
        self.state.withLock { $0.master = answer.location }
        guard answer.response.status == 200 else {
            let text = await answer.body.prefixText()
            let error = MesosError.httpStatus(answer.response.status, body: text, location: answer.response.headers["Location"])
            return self.transition { machine throws(MesosError) in try machine.streamEnded(error) }
        }
        let codec = answer.response.headers["Content-Type"].flatMap(MesosContentType.init(mediaType:)).map(MesosCodec.init)
            ?? self.codec
        let streamID = answer.response.headers["Mesos-Stream-Id"] ?? ""
        let opened = self.transition { machine throws(MesosError) in try machine.streamOpened(streamID: streamID) }
        guard opened == .none else {
            return opened
        }

        do {
            let events = SchedulerEventSource(
                body: answer.body, codec: codec, maximumRecordSize: self.configuration.maximumEventSize,
                decodingConcurrency: self.configuration.decodingConcurrency)
            for try await event in events {
                watchdog.pause()
                defer { watchdog.resume() }
                self.metrics.event(event)
                switch event {
                case .subscribed(let subscribed):
                    let action = self.transition { machine throws(MesosError) in
                        try machine.subscribedReceived(
                            frameworkID: subscribed.frameworkID,
                            heartbeatIntervalSeconds: subscribed.hasHeartbeatIntervalSeconds ? subscribed.heartbeatIntervalSeconds : nil,
                            masterInfo: subscribed.hasMasterInfo ? subscribed.masterInfo : nil
                        )
                    }
                    guard case .subscribed(let subscription, let heartbeatTimeout) = action else {
                        return action
                    }
                    // From now on the master's advertised interval governs, not the configured one.
                    watchdog.setTimeout(heartbeatTimeout)
                    self.state.withLock { $0.masterInfo = subscription.masterInfo }
                    self.logger.info(
                        subscription.isResubscription ? "Re-subscribed" : "Subscribed",
                        metadata: ["mesos.framework_id": "\(subscription.frameworkID.value)",
                                   "mesos.master": "\(answer.location)"]
                    )
                    await self.deliverLifecycle(subscription.isResubscription ? .resubscribed(subscription) : .subscribed(subscription))
                    await self.deliver(event)
                case .error(let message):
                    let action = self.transition { machine throws(MesosError) in try machine.errorReceived(message: message) }
                    await self.deliver(event)
                    return action
                default:
                    let (canSendCalls, stopping) = self.state.withLock { state in
                        (state.machine.canSendCalls, state.machine.state == .unsubscribed)
                    }
                    if stopping {
                        // A stop is under way: disconnect() closes the stream at once, but teardown() keeps it
                        // open until its TEARDOWN call is answered (Mesos answers 403 to a framework whose
                        // stream has closed). Events arriving meanwhile are dropped, not a protocol violation.
                        continue
                    }
                    guard canSendCalls else {
                        let error = MesosError(code: .malformedStream, message: "\(event.typeName) arrived before SUBSCRIBED")
                        return self.transition { machine throws(MesosError) in try machine.streamEnded(error) }
                    }
                    await self.deliver(event)
                }
            }
            if Task.isCancelled { return .none }
            return self.transition { machine throws(MesosError) in try machine.streamEnded(nil) }
        } catch let error as MesosError {
            if Task.isCancelled { return .none }
            if error.code == .timeout, self.state.withLock({ $0.machine.canSendCalls }) {
                self.metrics.missedHeartbeat()
                return self.transition { machine throws(MesosError) in try machine.heartbeatMissed() }
            }
            let reason = error.code == .timeout
                ? MesosError(code: .heartbeatTimeout, message: "No bytes on the event stream for \(watchdog.timeout)", cause: error)
                : error
            return self.transition { machine throws(MesosError) in try machine.streamEnded(reason) }
        } catch {
            if Task.isCancelled { return .none }
            return self.transition { machine throws(MesosError) in
                try machine.streamEnded(MesosError(code: .transportFailure, message: "\(error)", cause: error))
            }
        }
    }

    /// Hands an event to the callbacks and to the event stream, waiting while the stream's buffer is full.
    func deliver(_ event: SchedulerEvent) async {
        let kind = SchedulerEventKind(event)
        let (handlers, sinks, attached) = self.state.withLock { state in
            (
                state.handlers.filter { $0.kind == nil || $0.kind == kind }.map(\.handler),
                state.sinks.sorted { $0.key < $1.key }.map(\.value),
                state.streamAttached
            )
        }
        for sink in sinks {
            await sink.event(event)
        }
        for handler in handlers {
            do {
                try await handler(event)
            } catch {
                self.logger.warning("An event callback threw", metadata: ["mesos.event": "\(event.typeName)", "error": "\(error)"])
            }
        }
        if attached || (handlers.isEmpty && sinks.isEmpty) {
            self.metrics.bufferDepth(self.buffer.depth)
            await self.buffer.push(event)
        } else if self.configuration.acknowledgements == .automatic {
            await self.acknowledgeAutomatically(event)
        }
    }

    /// Acknowledges an update or operation status that needs it, logging (not throwing) failures.
    func acknowledgeAutomatically(_ event: SchedulerEvent) async {
        do {
            switch event {
            case .update(let status) where status.needsAcknowledgement:
                try await self.acknowledge(status)
            case .updateOperationStatus(let status) where status.needsAcknowledgement && status.hasOperationID:
                try await self.acknowledge(status)
            default:
                return
            }
        } catch {
            self.logger.warning("Automatic acknowledgement failed", metadata: ["error": "\(error)"])
        }
    }

    // MARK: - Leaders

    private func pulledLeader(_ leaders: inout MasterDetector.Leaders.Iterator) async throws(MesosError) -> MasterLocation {
        let observed: MasterLocation??
        do {
            observed = try await leaders.next()
        } catch let error as MesosError {
            leaders = self.configuration.master.leaders.makeAsyncIterator()
            throw error
        } catch {
            leaders = self.configuration.master.leaders.makeAsyncIterator()
            throw MesosError(code: .noLeader, message: "Master detection failed: \(error)", cause: error)
        }
        guard let observed else {
            leaders = self.configuration.master.leaders.makeAsyncIterator()
            throw MesosError(code: .noLeader, message: "Master detection ended")
        }
        guard let leader = observed else {
            throw MesosError(code: .noLeader, message: "No leading master right now")
        }
        return leader
    }

    private func pushedLeader() async throws(MesosError) -> MasterLocation {
        let deadline = ContinuousClock.now + .seconds(2)
        while ContinuousClock.now < deadline {
            let (leader, failure) = self.state.withLock { ($0.pushLeader, $0.detectorFailure) }
            if let leader, let location = leader {
                return location
            }
            if let failure, leader == nil {
                throw failure
            }
            do {
                try await Task.sleep(for: .milliseconds(20))
            } catch {
                throw MesosError(code: .cancelled, message: "Cancelled while waiting for a leader")
            }
        }
        throw MesosError(code: .noLeader, message: "No leading master right now")
    }

    /// Follows a push detector: records each observation and interrupts a subscription whose master is no
    /// longer the leader.
    private func watchLeaders() async {
        var attempt = 0
        var random = SplitMix64()
        while !Task.isCancelled {
            do {
                for try await observed in self.configuration.master.leaders {
                    attempt = 0
                    let signal = self.state.withLock { state -> Signal<Interruption>? in
                        state.pushLeader = .some(observed)
                        state.detectorFailure = nil
                        guard state.machine.canSendCalls || { if case .subscribing = state.machine.state { return true }; return false }(),
                              let master = state.master, master != observed else { return nil }
                        return state.interruption
                    }
                    if let signal {
                        let text = observed.map { "The leading master is now \($0)" } ?? "No leading master right now"
                        self.logger.info("Leader changed", metadata: ["mesos.leader": "\(observed.map(\.description) ?? "none")"])
                        signal.fire(.resubscribe(MesosError(code: .notLeader, message: text)))
                    }
                }
                return
            } catch {
                if Task.isCancelled { return }
                attempt += 1
                let failure = (error as? MesosError) ?? MesosError(code: .noLeader, message: "Master detection failed", cause: error)
                self.state.withLock { $0.detectorFailure = failure }
                self.logger.warning("Master detection failed; retrying", metadata: ["error": "\(failure)"])
                try? await self.time.sleep(for: self.configuration.backoff.delay(forAttempt: attempt, using: &random))
            }
        }
    }
}
