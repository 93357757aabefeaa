import MesosCore

/// Scripting: pushing events, injecting faults, adding routes.
extension FakeMaster {
    /// Pushes an event onto the framework's live subscription stream.
    ///
    /// ```swift
    /// try await master.send(.update(status), to: frameworkID)
    /// ```
    ///
    /// - Parameters:
    ///   - event: The event.
    ///   - frameworkID: The framework.
    /// - Throws: ``MesosError/Code/notSubscribed`` if the framework has no live subscription.
    public func send(_ event: SchedulerEvent, to frameworkID: FrameworkID) throws {
        try self.liveSubscription(of: frameworkID).queue.push(.event(event))
    }

    /// Sends one OFFERS event with `count` canned offers, one per fake agent, and returns them.
    ///
    /// - Parameters:
    ///   - count: How many offers.
    ///   - frameworkID: The framework.
    ///   - cpus: CPUs per offer.
    ///   - memoryMB: Memory per offer.
    /// - Returns: The offers sent.
    /// - Throws: ``MesosError/Code/notSubscribed`` if the framework has no live subscription.
    @discardableResult
    public func sendOffers(
        _ count: Int = 1,
        to frameworkID: FrameworkID,
        cpus: Double = 4,
        memoryMB: Double = 8192
    ) throws -> [Offer] {
        let subscription = try self.liveSubscription(of: frameworkID)
        let offers = (0..<count).map { index in
            defer { self.nextOfferNumber += 1 }
            return Self.makeOffer(
                id: "\(self.configuration.masterID)-O\(self.nextOfferNumber)",
                frameworkID: frameworkID,
                agentID: "\(self.configuration.masterID)-S\(index)",
                hostname: "agent-\(index).fake",
                cpus: cpus,
                memoryMB: memoryMB
            )
        }
        subscription.queue.push(.event(.offers(offers)))
        return offers
    }

    /// Builds a canned offer: cpus, mem, disk and ports 31000–32000 on one agent.
    ///
    /// - Parameters:
    ///   - id: The offer id.
    ///   - frameworkID: The framework it is for.
    ///   - agentID: The agent id.
    ///   - hostname: The agent's host name.
    ///   - cpus: CPUs.
    ///   - memoryMB: Memory.
    ///   - diskMB: Disk.
    /// - Returns: The offer.
    public static func makeOffer(
        id: String,
        frameworkID: FrameworkID,
        agentID: String,
        hostname: String = "agent.fake",
        cpus: Double = 4,
        memoryMB: Double = 8192,
        diskMB: Double = 65536
    ) -> Offer {
        var offer = Offer()
        offer.id.value = id
        offer.frameworkID = frameworkID
        offer.agentID.value = agentID
        offer.hostname = hostname
        offer.resources = [
            .scalar("cpus", cpus), .scalar("mem", memoryMB), .scalar("disk", diskMB),
            .ranges("ports", [31000...32000]),
        ]
        return offer
    }

    /// Ends the framework's live subscription stream, as when the master closes it.
    ///
    /// - Parameters:
    ///   - frameworkID: The framework.
    ///   - abruptly: `true` cuts the connection; `false` ends the body cleanly.
    /// - Throws: ``MesosError/Code/notSubscribed`` if the framework has no live subscription.
    public func closeSubscription(of frameworkID: FrameworkID, abruptly: Bool = false) throws {
        let subscription = try self.liveSubscription(of: frameworkID)
        subscription.queue.push(abruptly ? .cut : .end)
        self.frameworkRecords[frameworkID.value]?.subscription = nil
    }

    /// Answers every accepted call (one the master answers 202) with events of `reaction`'s making, pushed onto
    /// the calling framework's live stream in order, before the call's response — as agents and the allocator
    /// would answer an ACCEPT with status updates, or the master a RECONCILE. `nil` removes the reaction.
    ///
    /// ```swift
    /// await master.react { call, _ in
    ///     call.type == .reconcile ? call.reconcile.tasks.map { .update(running($0.taskID)) } : []
    /// }
    /// ```
    ///
    /// - Parameter reaction: Called on the master's actor with each call and its framework id; it must not block.
    public func react(_ reaction: (@Sendable (SchedulerCall, FrameworkID) -> [SchedulerEvent])?) {
        self.callReaction = reaction
    }

    /// Makes the next `times` requests that `matching` selects misbehave (`times: nil`: all of them).
    ///
    /// Rules are checked in the order they were injected; a request uses up the first one it matches, and all
    /// faults of that rule apply together.
    ///
    /// ```swift
    /// await master.inject([.delayHead(.milliseconds(300)), .rechunk(.fixed(1))], matching: .subscribe)
    /// ```
    ///
    /// - Parameters:
    ///   - faults: The faults, applied together.
    ///   - matching: Which requests.
    ///   - times: How many requests, or `nil` for every matching request.
    public func inject(_ faults: [FakeMasterFault], matching: FakeMasterRequestMatcher = .any, times: Int? = 1) {
        self.faultRules.append(FaultRule(faults: faults, matcher: matching, remaining: times))
    }

    /// Makes the next `times` requests that `matching` selects misbehave (`times: nil`: all of them).
    ///
    /// - Parameters:
    ///   - fault: The fault.
    ///   - matching: Which requests.
    ///   - times: How many requests, or `nil` for every matching request.
    public func inject(_ fault: FakeMasterFault, matching: FakeMasterRequestMatcher = .any, times: Int? = 1) {
        self.inject([fault], matching: matching, times: times)
    }

    /// Removes every fault not used up yet.
    public func clearFaults() {
        self.faultRules.removeAll()
    }

    /// Serves `path` with `handler` (for `method`, or any method when `nil`); later routes win over earlier
    /// ones and over the built-in endpoints.
    ///
    /// ```swift
    /// await master.route("GET", "/gzipped") { _ in
    ///     .bytes(headers: ["Content-Encoding": "gzip", "Content-Type": "text/plain"], gzippedBytes)
    /// }
    /// ```
    ///
    /// - Parameters:
    ///   - method: The method, or `nil` for any.
    ///   - path: The exact path, without query.
    ///   - handler: Builds the response.
    public func route(
        _ method: String?,
        _ path: String,
        handler: @escaping @Sendable (FakeMasterRequest) async throws -> FakeMasterResponse
    ) {
        self.routes.append(Route(method: method, path: path, handler: handler))
    }

    private func liveSubscription(of frameworkID: FrameworkID) throws(MesosError) -> Subscription {
        guard let subscription = self.frameworkRecords[frameworkID.value]?.subscription else {
            throw MesosError(code: .notSubscribed, message: "Framework \(frameworkID.value) has no live subscription")
        }
        return subscription
    }
}
