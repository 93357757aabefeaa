import Dispatch
import MesosCore
import MesosRecordIO

/// The master's operator event stream (`POST /api/v1` with `{"type":"SUBSCRIBE"}`): SUBSCRIBED with the GET_STATE
/// snapshot, one HEARTBEAT at once and then every ``LocalCluster/Configuration/heartbeatInterval`` on the cluster's
/// clock, and TASK_ADDED, TASK_UPDATED, FRAMEWORK_ADDED/UPDATED/REMOVED as the state changes (EXECUTOR-OPERATOR.md
/// §3). The snapshot is taken and the subscriber registered under the master's lock, and every event is published
/// under that lock by the change that causes it, so nothing falls between the snapshot and the stream and every
/// subscriber sees the changes in the order they happened. The agents are fixed when the cluster starts, so
/// AGENT_ADDED and AGENT_REMOVED never occur after the snapshot.
///
/// A subscriber that does not read keeps at most ``LocalCluster/Configuration/operatorEventQueueLimit`` events
/// queued; the next event ends its stream instead (it reads what was queued, then end of stream, and subscribes
/// again for a fresh snapshot, as after a lost connection to a real master).
extension LocalMaster {
    /// Answers SUBSCRIBE on `/api/v1`, the encoding negotiated from `Accept`.
    func operatorSubscribe(accept: MesosContentType) -> (MesosHTTPResponse, MesosResponseBody) {
        let codec = MesosCodec(accept)
        let limit = max(1, self.configuration.operatorEventQueueLimit)
        let (stream, continuation) = AsyncStream<ArraySlice<UInt8>>.makeStream(bufferingPolicy: .bufferingOldest(limit))
        return self.state.withLock { state in
            let id = state.nextOperatorSubscriberID
            state.nextOperatorSubscriberID += 1
            // As for scheduler streams, the close is handled off the thread that reports it: it may hold the
            // stream's lock, or be yielding under the master's.
            let lifetime = ConnectionLifetime { [weak self] in
                guard let master = self else { return }
                DispatchQueue.global().async { master.operatorSubscriberClosed(id) }
            }
            continuation.onTermination = { [weak self] termination in
                if case .cancelled = termination, let master = self {
                    DispatchQueue.global().async { master.operatorSubscriberClosed(id) }
                }
            }
            var subscriber = OperatorSubscriber(id: id, codec: codec, continuation: continuation, lastHeartbeat: self.clock.now)
            var subscribed = Mesos_V1_Master_Event()
            subscribed.type = .subscribed
            subscribed.subscribed.getState = self.operatorState(of: state)
            subscribed.subscribed.heartbeatIntervalSeconds = self.configuration.heartbeatInterval.inSeconds
            var heartbeat = Mesos_V1_Master_Event()
            heartbeat.type = .heartbeat
            if subscriber.send(subscribed, encoded: nil), subscriber.send(heartbeat, encoded: nil) {
                subscriber.lastHeartbeat = self.clock.now
                state.operatorSubscribers.append(subscriber)
            } else {
                subscriber.close()
            }
            self.logger.debug("Operator subscriber added", metadata: ["mesos.subscribers": "\(state.operatorSubscribers.count)"])
            let headers: MesosHTTPHeaders = ["Content-Type": accept.mediaType]
            return Self.response(.stream(headers, SubscriptionBody(stream: stream, lifetime: lifetime)))
        }
    }

    /// A subscriber's connection closed: it is forgotten.
    func operatorSubscriberClosed(_ id: Int) {
        self.state.withLock { state in
            guard let index = state.operatorSubscribers.firstIndex(where: { $0.id == id }) else { return }
            state.operatorSubscribers.remove(at: index).close()
            self.logger.debug("Operator subscriber gone", metadata: ["mesos.subscribers": "\(state.operatorSubscribers.count)"])
        }
    }

    /// Sends `event` to every subscriber (encoded once per encoding); those that fell too far behind are closed.
    func publish(_ event: Mesos_V1_Master_Event, state: inout State) {
        guard !state.operatorSubscribers.isEmpty else { return }
        var encoded: [MesosContentType: [UInt8]] = [:]
        var overflowed: [Int] = []
        for subscriber in state.operatorSubscribers {
            let contentType = subscriber.codec.contentType
            if encoded[contentType] == nil {
                encoded[contentType] = (try? subscriber.codec.encode(event)).map { RecordIOEncoder.encode($0) }
            }
            if !subscriber.send(event, encoded: encoded[contentType]) {
                overflowed.append(subscriber.id)
            }
        }
        self.dropOverflowed(overflowed, state: &state)
    }

    /// Sends a HEARTBEAT to every subscriber whose last one is an interval old.
    func heartbeatOperatorSubscribers(now: Duration, state: inout State) {
        var heartbeat = Mesos_V1_Master_Event()
        heartbeat.type = .heartbeat
        var overflowed: [Int] = []
        for index in state.operatorSubscribers.indices
        where now - state.operatorSubscribers[index].lastHeartbeat >= self.configuration.heartbeatInterval {
            state.operatorSubscribers[index].lastHeartbeat = now
            if !state.operatorSubscribers[index].send(heartbeat, encoded: nil) {
                overflowed.append(state.operatorSubscribers[index].id)
            }
        }
        self.dropOverflowed(overflowed, state: &state)
    }

    private func dropOverflowed(_ ids: [Int], state: inout State) {
        guard !ids.isEmpty else { return }
        state.operatorSubscribers.removeAll { subscriber in
            guard ids.contains(subscriber.id) else { return false }
            subscriber.close()
            return true
        }
        self.logger.warning(
            "Operator subscriber closed: it fell more than the queue limit behind",
            metadata: ["mesos.limit": "\(self.configuration.operatorEventQueueLimit)"])
    }

    /// Ends every operator stream (the cluster shuts down).
    func closeOperatorSubscribers(state: inout State) {
        for subscriber in state.operatorSubscribers {
            subscriber.close()
        }
        state.operatorSubscribers = []
    }

    // MARK: - Events

    /// TASK_ADDED for a task the master accepted.
    func publishTaskAdded(_ taskID: String, frameworkKey key: String, state: inout State) {
        guard !state.operatorSubscribers.isEmpty, let framework = state.frameworks[key], let task = framework.tasks[taskID] else { return }
        var event = Mesos_V1_Master_Event()
        event.type = .taskAdded
        event.taskAdded.task = Self.operatorTask(task, framework: framework.id, agents: state.agents)
        self.publish(event, state: &state)
    }

    /// TASK_UPDATED for a status the master processed, when it changes the task's state (or reports a check).
    func publishTaskUpdated(_ status: TaskStatus, previous: TaskState, frameworkKey key: String, state: inout State) {
        guard !state.operatorSubscribers.isEmpty, let framework = state.frameworks[key] else { return }
        let check = status.hasReason && (status.reason == .taskCheckStatusUpdated || status.reason == .taskHealthCheckStatusUpdated)
        guard status.state != previous || check else { return }
        var event = Mesos_V1_Master_Event()
        event.type = .taskUpdated
        event.taskUpdated.frameworkID = framework.id
        event.taskUpdated.status = status
        event.taskUpdated.state = status.state
        self.publish(event, state: &state)
    }

    /// FRAMEWORK_ADDED (a new framework) or FRAMEWORK_UPDATED (re-subscribed or UPDATE_FRAMEWORK).
    func publishFramework(_ key: String, added: Bool, state: inout State) {
        guard !state.operatorSubscribers.isEmpty, let record = state.frameworks[key] else { return }
        var event = Mesos_V1_Master_Event()
        if added {
            event.type = .frameworkAdded
            event.frameworkAdded.framework = Self.operatorFramework(record)
        } else {
            event.type = .frameworkUpdated
            event.frameworkUpdated.framework = Self.operatorFramework(record)
        }
        self.publish(event, state: &state)
    }

    /// FRAMEWORK_REMOVED (TEARDOWN, failover timeout expired, or a closed connection with no failover timeout).
    func publishFrameworkRemoved(_ key: String, state: inout State) {
        guard !state.operatorSubscribers.isEmpty, let record = state.frameworks[key] else { return }
        var event = Mesos_V1_Master_Event()
        event.type = .frameworkRemoved
        event.frameworkRemoved.frameworkInfo = record.info
        event.frameworkRemoved.frameworkInfo.id = record.id
        self.publish(event, state: &state)
    }
}

/// One operator SUBSCRIBE connection on the master's side.
struct OperatorSubscriber: Sendable {
    let id: Int
    let codec: MesosCodec
    /// Buffers at most ``LocalCluster/Configuration/operatorEventQueueLimit`` records (`bufferingOldest`).
    let continuation: AsyncStream<ArraySlice<UInt8>>.Continuation
    /// When the last HEARTBEAT went out, on the master's clock.
    var lastHeartbeat: Duration

    /// Queues one event (`encoded`: its RecordIO record, when already made). Returns `false` when the queue is
    /// full or the stream ended: the subscriber must then be closed.
    func send(_ event: Mesos_V1_Master_Event, encoded: [UInt8]?) -> Bool {
        let record: [UInt8]
        if let encoded {
            record = encoded
        } else {
            guard let bytes = try? self.codec.encode(event) else { return true }
            record = RecordIOEncoder.encode(bytes)
        }
        switch self.continuation.yield(record[...]) {
        case .enqueued: return true
        case .dropped, .terminated: return false
        @unknown default: return false
        }
    }

    /// Ends the stream after what is queued; the termination callback is cleared first (the master knows).
    func close() {
        self.continuation.onTermination = nil
        self.continuation.finish()
    }
}
