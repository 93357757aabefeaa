#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Logging
import MesosCore

/// The subscription loop: SUBSCRIBE, read the stream, and decide what a lost stream means
/// (EXECUTOR-OPERATOR.md §1.6).
extension MesosExecutor {
    /// How one subscription attempt ended.
    enum Attempt: Sendable {
        /// The agent refused the executor for good.
        case fatal(MesosError)
        /// No usable stream, or the stream ended; `subscribed` tells whether SUBSCRIBED had arrived on it.
        case lost(MesosError, subscribed: Bool)
        /// SHUTDOWN is being handled; the loop has nothing more to do.
        case shuttingDown
    }

    func subscriptionLoop() async {
        var attempt = 0
        while !Task.isCancelled {
            let outcome = await self.subscribeOnce()
            let (phase, everSubscribed, shuttingDown) = self.state.withLock { ($0.phase, $0.everSubscribed, $0.shutdown != nil) }
            if Task.isCancelled || phase == .ended {
                return
            }
            switch outcome {
            case .shuttingDown:
                return
            case .fatal(let error):
                self.logger?.error("The agent refused the executor", metadata: ["mesos.error": "\(error)"])
                await self.deliverError(error)
                self.finish(.failed(error))
                return
            case .lost(let error, let subscribed):
                if shuttingDown {
                    return
                }
                self.state.withLock { $0.lastFailure = error }
                if subscribed {
                    attempt = 0
                    self.logger?.warning("Disconnected from the agent", metadata: ["mesos.error": "\(error)"])
                    if let delegate = self.state.withLock({ $0.delegate }) {
                        await delegate.disconnected(self, reason: error)
                    }
                }
                let delay: Duration
                if !everSubscribed {
                    // The first subscription: retry every second; the registration timer bounds it.
                    delay = self.configuration.subscribeRetryInterval
                } else if !self.configuration.checkpoint {
                    self.beginShutdown(then: .agentGone(error))
                    return
                } else {
                    if subscribed {
                        self.arm(.recovery, after: self.configuration.recoveryTimeout) { executor in
                            let reason = executor.state.withLock { $0.lastFailure } ?? error
                            executor.beginShutdown(then: .recoveryTimedOut(reason))
                        }
                    }
                    attempt += 1
                    delay = self.state.withLock { $0.random.nextDelay(self.backoff, attempt: attempt) }
                }
                self.logger?.debug("Subscribing again", metadata: ["mesos.delay": "\(delay)", "mesos.error": "\(error)"])
                do {
                    try await self.time.sleep(for: delay)
                } catch {
                    return
                }
            }
        }
    }

    /// One SUBSCRIBE and its stream, to the end.
    private func subscribeOnce() async -> Attempt {
        let call = self.state.withLock { state -> ExecutorCall? in
            guard state.phase == .connecting, state.shutdown == nil else { return nil }
            state.generation += 1
            return ExecutorCall.subscribe(
                executorID: self.configuration.executorID,
                frameworkID: self.configuration.frameworkID,
                unacknowledgedTasks: state.unacknowledgedTasks.map(\.task),
                unacknowledgedUpdates: state.unacknowledgedUpdates.map(\.update)
            )
        }
        guard let call else {
            return .shuttingDown
        }
        let head: MesosHTTPResponse
        let body: MesosResponseBody
        do throws(MesosError) {
            try call.validate()
            (head, body) = try await self.send(try self.codec.encode(call: call), stream: true)
        } catch where error.isTemporary {
            return .lost(error, subscribed: false)
        } catch {
            return .fatal(error)
        }
        guard head.status == 200 else {
            let error = MesosError.httpStatus(head.status, body: await body.prefixText())
            // 503 (agent recovering) and 404 (agent starting) mean "later", as in Mesos's own library.
            return head.status == 503 || head.status == 404 ? .lost(error, subscribed: false) : .fatal(error)
        }
        let codec: MesosCodec
        if let contentType = head.headers["Content-Type"] {
            guard let parsed = MesosContentType(mediaType: contentType) else {
                return .fatal(MesosError(
                    code: .malformedStream, message: "SUBSCRIBE answered 200 with Content-Type '\(contentType)'",
                    httpStatus: 200))
            }
            codec = MesosCodec(parsed)
        } else {
            codec = self.codec
        }
        return await self.read(body, codec: codec)
    }

    /// Reads events until the stream ends or breaks.
    private func read(_ body: MesosResponseBody, codec: MesosCodec) async -> Attempt {
        var subscribed = false
        let reason: MesosError
        do {
            for try await event in body.executorEvents(codec: codec, maximumRecordSize: self.configuration.maximumEventSize) {
                switch event {
                case .subscribed:
                    subscribed = true
                case .shutdown, .heartbeat, .unknown:
                    break
                default:
                    guard subscribed else {
                        throw MesosError(code: .malformedStream, message: "\(event.typeName) arrived before SUBSCRIBED")
                    }
                }
                await self.handle(event)
                if self.state.withLock({ $0.phase == .ended }) {
                    return .shuttingDown
                }
            }
            reason = MesosError(code: .streamEnded, message: "The agent closed the executor event stream")
        } catch let error as MesosError {
            reason = error
        } catch {
            reason = MesosError(code: .transportFailure, message: "\(error)", cause: error)
        }
        if reason.code == .malformedStream || reason.code == .decodingFailed || reason.code == .recordTooLarge {
            // Mesos's library reports a broken stream as an error, then treats it as a disconnection.
            await self.deliverError(reason)
        }
        let over = self.state.withLock { state -> Bool in
            if state.phase == .subscribed {
                state.phase = .connecting
            }
            return state.shutdown != nil || state.phase == .ended
        }
        return over ? .shuttingDown : .lost(reason, subscribed: subscribed)
    }

    /// Applies one event to the bookkeeping, then hands it to the delegate, the callbacks and the sequence.
    func handle(_ event: ExecutorEvent) async {
        let delegate = self.state.withLock { $0.delegate }
        switch event {
        case .subscribed(let subscribed):
            let again = self.state.withLock { state -> Bool in
                defer {
                    state.everSubscribed = true
                    state.subscribed = subscribed
                    if state.phase == .connecting { state.phase = .subscribed }
                }
                return state.everSubscribed
            }
            self.disarm(.registration, .recovery)
            self.logger?.info(again ? "Re-subscribed to the agent" : "Subscribed to the agent")
            if again {
                await delegate?.reregistered(self, subscribed)
            } else {
                await delegate?.registered(self, subscribed)
            }
        case .launch(let task):
            self.state.withLock { $0.noteLaunched([task]) }
            self.disarm(.terminalAcknowledgement)
            await delegate?.launchTask(self, task)
        case .launchGroup(let group):
            self.state.withLock { $0.noteLaunched(group.tasks) }
            self.disarm(.terminalAcknowledgement)
            await delegate?.launchTaskGroup(self, group)
        case .kill(let kill):
            await delegate?.killTask(self, kill.taskID, killPolicy: kill.hasKillPolicy ? kill.killPolicy : nil)
        case .acknowledged(let acknowledged):
            self.state.withLock { state in
                let before = state.unacknowledgedUpdates.count
                state.unacknowledgedUpdates.removeAll { $0.uuid == acknowledged.uuid }
                if state.unacknowledgedUpdates.count != before {
                    state.unacknowledgedTasks.removeAll { $0.id == acknowledged.taskID.value }
                }
            }
            await delegate?.acknowledged(self, taskID: acknowledged.taskID, uuid: acknowledged.uuid)
        case .message(let data):
            await delegate?.frameworkMessage(self, data)
        case .error(let message):
            await delegate?.error(self, MesosError(code: .frameworkError, message: "The agent sent ERROR: \(message)"))
        case .shutdown:
            self.beginShutdown(then: .shutdown)
        case .heartbeat, .unknown:
            break
        }
        let (handlers, stream) = self.state.withLock { state in
            (state.handlers.filter { $0.kind == nil || $0.kind == event.kind }.map(\.handler), state.stream)
        }
        for handler in handlers {
            await handler(event)
        }
        stream?.yield(event)
        if case .acknowledged = event {
            self.finishIfDone()
        }
    }

    func deliverError(_ error: MesosError) async {
        let delegate = self.state.withLock { $0.delegate }
        await delegate?.error(self, error)
    }
}

extension MesosExecutor.State {
    /// Records launched tasks: kept for re-SUBSCRIBE until one of their updates is acknowledged.
    mutating func noteLaunched(_ tasks: [TaskInfo]) {
        for task in tasks {
            let id = task.taskID.value
            self.launched.insert(id)
            if !self.unacknowledgedTasks.contains(where: { $0.id == id }) {
                self.unacknowledgedTasks.append((id: id, task: task))
            }
        }
    }
}
