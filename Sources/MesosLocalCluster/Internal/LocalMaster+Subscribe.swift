import Foundation
import MesosCore
import MesosResources

/// SUBSCRIBE, lost connections, failover timeouts and framework removal.
extension LocalMaster {
    func subscribe(_ call: SchedulerCall, request: MesosHTTPRequest, principal: String?) -> Reply {
        let contentType: MesosContentType
        switch SchedulerEndpointChecks.subscribe(headers: request.headers) {
        case .success(let negotiated): contentType = negotiated
        case .failure(let refusal): return .refusal(refusal)
        }
        var info = call.subscribe.frameworkInfo
        if let principal, info.principal != principal {
            return .refusal(SchedulerEndpointChecks.principalMismatch(authenticated: principal, declared: info.principal))
        }
        let codec = MesosCodec(contentType)
        let streamID = UUID().uuidString.lowercased()
        let headers: MesosHTTPHeaders = ["Content-Type": contentType.mediaType, "Mesos-Stream-Id": streamID]
        let (stream, continuation) = AsyncStream<ArraySlice<UInt8>>.makeStream()
        let connection = Connection(streamID: streamID, codec: codec, continuation: continuation, lastHeartbeat: self.clock.now)

        return self.state.withLock { state -> Reply in
            let key: String
            if call.hasFrameworkID, !call.frameworkID.value.isEmpty {
                key = call.frameworkID.value
            } else {
                key = "\(self.masterInfo.id)-\(String(format: "%04d", state.nextFrameworkNumber))"
                state.nextFrameworkNumber += 1
            }
            // Both callbacks can run while the stream holds its own lock (a cancelled consumer) or while another
            // thread holds the master's lock and is yielding to this stream; taking the master's lock right there
            // deadlocks, so the close is handled off that thread.
            let lifetime = ConnectionLifetime { [weak self] in
                guard let master = self else { return }
                DispatchQueue.global().async { master.connectionClosed(frameworkKey: key, streamID: streamID) }
            }
            let body = SubscriptionBody(stream: stream, lifetime: lifetime)
            continuation.onTermination = { [weak self] termination in
                if case .cancelled = termination, let master = self {
                    DispatchQueue.global().async { master.connectionClosed(frameworkKey: key, streamID: streamID) }
                }
            }

            if let existing = state.frameworks[key], existing.isRemoved {
                // The master answers 200 and refuses inside the stream, then closes it.
                connection.send(.error(message: "Framework has been removed"))
                connection.close()
                return .stream(headers, body)
            }
            if let problem = Self.subscriptionProblem(info, suppressedRoles: call.subscribe.suppressedRoles) {
                connection.send(.error(message: problem))
                connection.close()
                return .stream(headers, body)
            }

            info.id = FrameworkID(key)
            if var framework = state.frameworks[key] {
                if let old = framework.connection {
                    old.send(.error(message: "Framework failed over"))
                    old.close()
                }
                framework.info = info
                framework.connection = connection
                framework.disconnectedAt = nil
                framework.suppressedRoles = Set(call.subscribe.suppressedRoles)
                for taskID in framework.taskOrder {
                    framework.tasks[taskID]?.lastSent = nil
                }
                state.frameworks[key] = framework
                self.publishFramework(key, added: false, state: &state)
                self.logger.info("Framework re-subscribed", metadata: ["mesos.framework_id": "\(key)"])
            } else {
                var framework = FrameworkRecord(id: FrameworkID(key), info: info)
                framework.connection = connection
                framework.suppressedRoles = Set(call.subscribe.suppressedRoles)
                state.frameworks[key] = framework
                state.frameworkOrder.append(key)
                self.publishFramework(key, added: true, state: &state)
                self.logger.info("Framework subscribed", metadata: ["mesos.framework_id": "\(key)", "mesos.framework": "\(info.name)"])
            }

            var subscribed = SchedulerEvent.Subscribed()
            subscribed.frameworkID = FrameworkID(key)
            subscribed.heartbeatIntervalSeconds = self.configuration.heartbeatInterval.inSeconds
            subscribed.masterInfo = self.masterInfo
            connection.send(.subscribed(subscribed))
            connection.send(.heartbeat)
            // Updates that waited for the framework go out again, oldest first.
            self.forwardPendingUpdates(frameworkKey: key, state: &state)
            self.allocate(state: &state)
            return .stream(headers, body)
        }
    }

    /// Why the master refuses a subscription inside the stream (an ERROR event), or `nil`.
    private static func subscriptionProblem(_ info: FrameworkInfo, suppressedRoles: [String]) -> String? {
        let multiRole = info.capabilities.contains { $0.type == .multiRole }
        if multiRole, info.roles.isEmpty {
            return "Framework with MULTI_ROLE capability must have at least one role"
        }
        if !multiRole, info.hasRole, info.role.isEmpty {
            return "The framework's role must not be empty"
        }
        let roles = multiRole ? info.roles : [info.hasRole ? info.role : "*"]
        for role in roles where !MesosRole.isValid(role) {
            return "Role '\(role)' is invalid"
        }
        if info.hasFailoverTimeout, !info.failoverTimeout.isFinite || info.failoverTimeout < 0 {
            return "Invalid failover_timeout: \(info.failoverTimeout)"
        }
        for role in suppressedRoles where !roles.contains(role) {
            return "Suppressed role '\(role)' is not contained in the list of roles"
        }
        return nil
    }

    /// The client went away. The framework's offers are withdrawn; it is removed after its failover timeout.
    func connectionClosed(frameworkKey key: String, streamID: String) {
        self.state.withLock { state in
            guard var framework = state.frameworks[key], framework.connection?.streamID == streamID else { return }
            framework.connection?.close()
            framework.connection = nil
            framework.disconnectedAt = self.clock.now
            state.frameworks[key] = framework
            self.removeOffers(of: key, state: &state)
            self.logger.info("Framework disconnected", metadata: ["mesos.framework_id": "\(key)"])
            if framework.failoverTimeout <= .zero {
                self.removeFramework(key, reason: "its connection closed and its failover timeout is 0", state: &state)
            } else {
                self.allocate(state: &state)
            }
        }
    }

    /// Removes a framework for good: kills its tasks, withdraws its offers, closes its stream.
    func removeFramework(_ key: String, reason: String, state: inout State) {
        guard var framework = state.frameworks[key], !framework.isRemoved else { return }
        self.logger.info("Removing framework", metadata: ["mesos.framework_id": "\(key)", "mesos.reason": "\(reason)"])
        framework.isRemoved = true
        framework.connection?.close()
        framework.connection = nil
        state.frameworks[key] = framework
        self.publishFrameworkRemoved(key, state: &state)
        for taskID in framework.taskOrder {
            guard let task = framework.tasks[taskID] else { continue }
            framework.tasks[taskID]?.pending = []
            if !task.state.isTerminal {
                task.process.terminate(grace: self.gracePeriod(for: task.info, override: nil))
            }
        }
        state.frameworks[key] = framework
        self.removeOffers(of: key, state: &state)
        self.allocate(state: &state)
    }

    /// Drops every outstanding offer of a framework, returning the resources to their agents.
    func removeOffers(of key: String, state: inout State) {
        for offerID in state.offerOrder {
            guard let offer = state.offers[offerID], offer.frameworkKey == key else { continue }
            self.dropOffer(offerID, state: &state)
        }
    }

    /// Removes one offer and returns its resources to the agent.
    @discardableResult
    func dropOffer(_ offerID: String, state: inout State) -> OfferRecord? {
        guard let offer = state.offers.removeValue(forKey: offerID) else { return nil }
        state.offerOrder.removeAll { $0 == offerID }
        state.agents[offer.agentIndex].offered -= offer.resources.unallocated()
        return offer
    }

    /// The grace period between SIGTERM and SIGKILL for a task.
    func gracePeriod(for task: TaskInfo, override: KillPolicy?) -> Duration {
        if let override, override.hasGracePeriod {
            return max(.zero, Duration(override.gracePeriod))
        }
        if task.hasKillPolicy, task.killPolicy.hasGracePeriod {
            return max(.zero, Duration(task.killPolicy.gracePeriod))
        }
        return self.configuration.defaultKillGracePeriod
    }
}
