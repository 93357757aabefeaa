import MesosCore

extension FakeMaster {
    /// Answers one request: faults first, then custom routes, then the built-in endpoints.
    ///
    /// Both ``transport`` and ``FakeMasterServer`` call this; tests rarely need to. Streamed bodies come back
    /// already shaped by the request's faults and tracked in ``responseStreams``.
    ///
    /// - Parameter request: The request.
    /// - Returns: The response, after any injected ``FakeMasterFault/delayHead(_:)``.
    /// - Throws: `CancellationError` if cancelled during a head delay, or what a custom route throws.
    public nonisolated func respond(to request: FakeMasterRequest) async throws -> FakeMasterResponse {
        let (call, faults) = await self.receive(request)
        for case .delayArrival(let delay) in faults {
            try await Task.sleep(for: delay)
        }
        let plan = await self.plan(request, call: call, faults: faults)
        if let delay = plan.headDelay {
            try await Task.sleep(for: delay)
        }
        var response: FakeMasterResponse
        if let route = plan.route {
            response = try await route(request)
        } else {
            response = plan.response
        }
        response.body = self.tracked(response, path: request.path, faults: plan.faults)
        return response
    }

    /// The decision taken on the actor: which faults apply and what to answer (or which route answers).
    struct Plan {
        var response: FakeMasterResponse
        var route: (@Sendable (FakeMasterRequest) async throws -> FakeMasterResponse)?
        var faults: [FakeMasterFault]
        var headDelay: Duration?
    }

    /// Records the request and takes the faults that apply to it.
    private func receive(_ request: FakeMasterRequest) -> (SchedulerCall?, [FakeMasterFault]) {
        if self.configuration.recordsRequests { self.receivedRequests.append(request) }
        let call = request.isSchedulerEndpoint ? Self.lenientlyDecode(request) : nil
        return (call, self.consumeFaults(for: request, call: call))
    }

    private func plan(_ request: FakeMasterRequest, call: SchedulerCall?, faults: [FakeMasterFault]) -> Plan {
        var headDelay: Duration?
        var replacement: FakeMasterResponse?
        for fault in faults {
            switch fault {
            case .redirect(let hostAndPort):
                replacement = .text(307, headers: ["Location": "//\(hostAndPort)\(request.target)"])
            case .noLeader:
                replacement = .text(503, "No leader elected")
            case .respond(let response):
                replacement = response
            case .closeConnection:
                replacement = .closeConnection
            case .neverAnswer:
                replacement = .neverAnswer
            case .delayHead(let delay):
                headDelay = delay
            case .delayArrival, .rechunk, .slowStream, .cutMidRecord, .garbage, .goSilent:
                break
            }
        }
        if let replacement {
            if request.isSchedulerEndpoint {
                self.record(request, call: call, status: replacement.action == .answer ? replacement.status : 0)
            }
            return Plan(response: replacement, faults: faults, headDelay: headDelay)
        }
        if let route = self.routes.last(where: { $0.path == request.path && ($0.method == nil || $0.method == request.method) }) {
            return Plan(response: .text(500), route: route.handler, faults: faults, headDelay: headDelay)
        }
        let response: FakeMasterResponse
        switch request.path {
        case "/api/v1/scheduler", "/master/api/v1/scheduler":
            response = self.schedulerEndpoint(request, faults: faults)
        case "/master/redirect", "/redirect":
            response = self.redirectEndpoint()
        case "/version", "/master/version":
            response = self.versionEndpoint()
        default:
            response = .text(404)
        }
        return Plan(response: response, faults: faults, headDelay: headDelay)
    }

    /// Finds the first fault rule matching the request and uses it up once.
    private func consumeFaults(for request: FakeMasterRequest, call: SchedulerCall?) -> [FakeMasterFault] {
        guard let index = self.faultRules.firstIndex(where: { $0.matcher.matches(request, call) }) else {
            return []
        }
        let rule = self.faultRules[index]
        if let remaining = rule.remaining {
            if remaining <= 1 {
                self.faultRules.remove(at: index)
            } else {
                self.faultRules[index].remaining = remaining - 1
            }
        }
        return rule.faults
    }

    func record(_ request: FakeMasterRequest, call: SchedulerCall?, status: Int) {
        guard self.configuration.recordsRequests else { return }
        self.receivedCalls.append(
            ReceivedCall(call: call, request: request, streamID: request.headers["Mesos-Stream-Id"], status: status)
        )
    }

    /// Decodes the call for fault matching, whatever its headers say.
    private static func lenientlyDecode(_ request: FakeMasterRequest) -> SchedulerCall? {
        let codec = MesosCodec(request.headers["Content-Type"] == "application/x-protobuf" ? .protobuf : .json)
        return try? codec.decode(SchedulerCall.self, from: request.body[...])
    }

    private func redirectEndpoint() -> FakeMasterResponse {
        switch self.leadership {
        case .leader, .recovering:
            return .text(307, headers: ["Location": "//\(self.configuration.hostname):\(self.configuration.port)"])
        case .follower(let leader):
            return .text(307, headers: ["Location": "//\(leader)"])
        case .noLeader:
            return .text(503, "No leader elected")
        }
    }

    private func versionEndpoint() -> FakeMasterResponse {
        let version = self.configuration.version
        let json = #"{"build_date":"2020-11-19 15:24:54","build_time":1605799494.0,"build_user":"fake","#
            + #""git_tag":"\#(version)","version":"\#(version)"}"#
        return .bytes(200, headers: ["Content-Type": "application/json"], Array(json.utf8))
    }

    /// Wraps a streamed body so that it is shaped by the faults and tracked in the stream registry.
    private nonisolated func tracked(
        _ response: FakeMasterResponse,
        path: String,
        faults: [FakeMasterFault]
    ) -> FakeMasterResponse.Body {
        guard response.action == .answer, case .stream(let contentLength, let producer) = response.body else {
            return response.body
        }
        var fixedSize: Int?
        var randomSizes: ClosedRange<Int>?
        var seed: UInt64 = 0
        var delay: Duration?
        for fault in faults {
            switch fault {
            case .rechunk(.fixed(let size)):
                fixedSize = size
            case .rechunk(.random(let sizes, let randomSeed)):
                randomSizes = sizes
                seed = randomSeed
            case .slowStream(let pause, let bytesPerWrite):
                delay = pause
                fixedSize = bytesPerWrite
            default:
                break
            }
        }
        let shapes = fixedSize != nil || randomSizes != nil || delay != nil
        let registry = self.streamRegistry
        let streamID = response.headers["Mesos-Stream-Id"]
        return .stream(contentLength: contentLength) { [fixedSize, randomSizes, seed, delay] writer in
            let id = registry.open(path: path, streamID: streamID, heldBack: { writer.isHeldBack })
            let counting = CountingWriter(base: writer, registry: registry, id: id)
            let shaped: any FakeMasterBodyWriter =
                shapes
                ? ShapingWriter(base: counting, fixedSize: fixedSize, randomSizes: randomSizes, seed: seed, delay: delay)
                : counting
            do {
                try await producer(shaped)
                registry.close(id: id, state: Task.isCancelled ? .closedByClient : .finished)
            } catch {
                let byClient = Task.isCancelled || error is FakeMasterClientClosed || error is CancellationError
                registry.close(id: id, state: byClient ? .closedByClient : .cut)
                throw error
            }
        }
    }
}
