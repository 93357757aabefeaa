import Foundation
import MesosCore

/// The scheduler endpoint, with the master's checks in the master's order (PROTOCOL.md §1.1).
extension FakeMaster {
    func schedulerEndpoint(_ request: FakeMasterRequest, faults: [FakeMasterFault]) -> FakeMasterResponse {
        var call: SchedulerCall?
        let response = self.schedulerResponse(request, faults: faults, call: &call)
        self.record(request, call: call, status: response.status)
        return response
    }

    private func schedulerResponse(
        _ request: FakeMasterRequest,
        faults: [FakeMasterFault],
        call decodedCall: inout SchedulerCall?
    ) -> FakeMasterResponse {
        switch self.leadership {
        case .leader:
            break
        case .follower(let leader):
            return .text(307, headers: ["Location": "//\(leader)\(request.target)"])
        case .noLeader:
            return .text(503, "No leader elected")
        case .recovering:
            return .text(503, "Master has not finished recovery")
        }
        let (decoded, refusal) = SchedulerEndpointChecks.decodeCall(
            method: request.method, headers: request.headers, body: request.body[...],
            validates: self.configuration.validatesCalls)
        decodedCall = decoded
        if let refusal {
            return .refusal(refusal)
        }
        guard let call = decoded else {
            return .text(500)
        }
        if call.type == .subscribe {
            return self.subscribe(call, request: request, faults: faults)
        }
        let key = call.frameworkID.value
        let record = self.frameworkRecords[key].flatMap { $0.isRemoved ? nil : $0 }
        let standing: SchedulerEndpointChecks.Standing =
            record.map { $0.subscription.map { .subscribed(streamID: $0.streamID) } ?? .notSubscribed } ?? .unknown
        if let refusal = SchedulerEndpointChecks.stream(frameworkID: key, standing: standing, headers: request.headers) {
            return .refusal(refusal)
        }
        guard let subscription = record?.subscription else {
            return .text(500)
        }
        switch call.type {
        case .unknown:
            return .refusal(SchedulerEndpointChecks.unknownCall)
        case .updateFramework:
            self.frameworkRecords[key]?.info = call.updateFramework.frameworkInfo
            return .text(200)
        case .teardown:
            self.frameworkRecords[key]?.isRemoved = true
            self.frameworkRecords[key]?.subscription = nil
            subscription.queue.push(.end)
            return .text(202)
        default:
            if let reaction = self.callReaction {
                for event in reaction(call, subscription.frameworkID) { subscription.queue.push(.event(event)) }
            }
            return .text(202)
        }
    }

    private func subscribe(
        _ call: SchedulerCall,
        request: FakeMasterRequest,
        faults: [FakeMasterFault]
    ) -> FakeMasterResponse {
        let contentType: MesosContentType
        switch SchedulerEndpointChecks.subscribe(headers: request.headers) {
        case .success(let negotiated): contentType = negotiated
        case .failure(let refusal): return .refusal(refusal)
        }
        let codec = MesosCodec(contentType)
        let streamID = UUID().uuidString.lowercased()
        let headers: MesosHTTPHeaders = ["Content-Type": contentType.mediaType, "Mesos-Stream-Id": streamID]

        var frameworkID = FrameworkID()
        if call.hasFrameworkID, !call.frameworkID.value.isEmpty {
            frameworkID = call.frameworkID
        } else {
            frameworkID.value = "\(self.configuration.masterID)-\(String(format: "%04d", self.nextFrameworkNumber))"
            self.nextFrameworkNumber += 1
        }
        let key = frameworkID.value

        if self.frameworkRecords[key]?.isRemoved == true {
            // Mesos answers 200 and refuses inside the stream, then closes it.
            let refused = Subscription(frameworkID: frameworkID, streamID: streamID, codec: codec)
            refused.queue.push(.event(.error(message: "Framework has been removed")))
            refused.queue.push(.end)
            let stream = SubscriptionStream(subscription: refused, heartbeatInterval: nil, faults: EventFaults()) { _ in }
            return .stream(200, headers: headers) { writer in try await stream.run(writer) }
        }

        let subscription = Subscription(frameworkID: frameworkID, streamID: streamID, codec: codec)
        var info = call.subscribe.frameworkInfo
        info.id = frameworkID
        if var record = self.frameworkRecords[key] {
            if let old = record.subscription {
                old.queue.push(.event(.error(message: "Framework failed over")))
                old.queue.push(.end)
            }
            record.info = info
            record.subscription = subscription
            record.subscriptionCount += 1
            self.frameworkRecords[key] = record
        } else {
            self.frameworkRecords[key] = FrameworkRecord(id: frameworkID, info: info, subscription: subscription, subscriptionCount: 1)
            self.frameworkOrder.append(key)
        }

        var subscribed = SchedulerEvent.Subscribed()
        subscribed.frameworkID = frameworkID
        subscribed.heartbeatIntervalSeconds = Self.seconds(self.configuration.heartbeatInterval)
        subscribed.masterInfo = self.masterInfo
        subscription.queue.push(.event(.subscribed(subscribed)))
        subscription.queue.push(.heartbeat)

        let stream = SubscriptionStream(
            subscription: subscription,
            heartbeatInterval: self.configuration.sendsPeriodicHeartbeats ? self.configuration.heartbeatInterval : nil,
            faults: Self.eventFaults(faults)
        ) { [weak self] _ in
            await self?.subscriptionEnded(subscription)
        }
        return .stream(200, headers: headers) { writer in try await stream.run(writer) }
    }

    /// Forgets a subscription whose stream ended, unless another one already replaced it.
    func subscriptionEnded(_ subscription: Subscription) {
        let key = subscription.frameworkID.value
        if self.frameworkRecords[key]?.subscription === subscription {
            self.frameworkRecords[key]?.subscription = nil
        }
    }

    /// This master's `MasterInfo`, as announced in SUBSCRIBED.
    public var masterInfo: MasterInfo {
        var info = MasterInfo()
        info.id = self.configuration.masterID
        info.hostname = self.configuration.hostname
        info.port = UInt32(clamping: self.configuration.port)
        info.ip = Self.ipv4(self.configuration.hostname) ?? 0
        info.pid = "master@\(self.configuration.hostname):\(self.configuration.port)"
        info.version = self.configuration.version
        info.address.hostname = self.configuration.hostname
        if Self.ipv4(self.configuration.hostname) != nil {
            info.address.ip = self.configuration.hostname
        }
        info.address.port = Int32(clamping: self.configuration.port)
        return info
    }

    /// A dotted-quad address in Mesos's `MasterInfo.ip` form (network byte order read as a little-endian integer).
    private static func ipv4(_ host: String) -> UInt32? {
        let parts = host.split(separator: ".", omittingEmptySubsequences: false).compactMap { UInt8($0) }
        guard parts.count == 4, host.split(separator: ".", omittingEmptySubsequences: false).count == 4 else {
            return nil
        }
        return parts.enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (8 * UInt32($1.offset)) }
    }

    private static func seconds(_ duration: Duration) -> Double {
        duration.inSeconds
    }

    private static func eventFaults(_ faults: [FakeMasterFault]) -> EventFaults {
        var result = EventFaults()
        for fault in faults {
            switch fault {
            case .cutMidRecord(let after): result.cutAfter = after
            case .garbage(let after, let bytes):
                result.garbageAfter = after
                result.garbage = bytes
            case .goSilent(let after): result.silentAfter = after
            case .rechunk(.coalesced): result.coalesced = true
            default: break
            }
        }
        return result
    }
}

extension FakeMasterResponse {
    /// The master's plain-text answer to a request it refuses.
    static func refusal(_ refusal: SchedulerEndpointChecks.Refusal) -> FakeMasterResponse {
        .text(refusal.status, refusal.text, headers: refusal.headers)
    }
}
