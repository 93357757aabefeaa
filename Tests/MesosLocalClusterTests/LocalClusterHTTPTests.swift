import Foundation
import MesosCore
import MesosLocalCluster
import MesosRecordIO
import MesosScheduler
import Testing

/// The master's HTTP answers, checked with raw requests through the cluster's transport.
@Suite("Local cluster: HTTP semantics", .timeLimit(.minutes(1)))
struct LocalClusterHTTPTests {
    static func post(
        _ cluster: LocalCluster,
        _ body: [UInt8],
        headers: MesosHTTPHeaders = ["Content-Type": "application/json"],
        method: String = "POST",
        path: String = "/api/v1/scheduler"
    ) async throws -> (Int, MesosHTTPHeaders, String) {
        let url = cluster.masterURL.appendingPathComponent(String(path.dropFirst()))
        let (response, body) = try await cluster.transport.send(MesosHTTPRequest(method: method, url: url, headers: headers, body: body, timeout: .seconds(60)))
        let text = String(decoding: try await body.collect(upTo: 1 << 16), as: UTF8.self)
        return (response.status, response.headers, text)
    }

    static func json(_ call: SchedulerCall) throws -> [UInt8] {
        try MesosCodec(.json).encode(call)
    }

    @Test("status codes follow the master: 405, 400, 415, 406, 404, 400 for unknown frameworks and bad stream ids, 501")
    func statusCodes() async throws {
        let cluster = LocalCluster(configuration: try Harness.configuration())
        let subscribe = SchedulerCall.subscribe(frameworkInfo: Harness.frameworkInfo("http"))
        #expect(try await Self.post(cluster, [], method: "GET").0 == 405)
        #expect(try await Self.post(cluster, try Self.json(subscribe), headers: [:]).0 == 400)
        #expect(try await Self.post(cluster, try Self.json(subscribe), headers: ["Content-Type": "text/plain"]).0 == 415)
        #expect(try await Self.post(cluster, Array("{nope".utf8)).0 == 400)
        #expect(try await Self.post(cluster, Array("{}".utf8)).0 == 400)
        #expect(try await Self.post(cluster, try Self.json(subscribe),
                                    headers: ["Content-Type": "application/json", "Accept": "text/html"]).0 == 406)
        #expect(try await Self.post(cluster, try Self.json(subscribe),
                                    headers: ["Content-Type": "application/json", "Mesos-Stream-Id": "x"]).0 == 400)
        #expect(try await Self.post(cluster, [], path: "/no/such/endpoint").0 == 404)
        let stranger = SchedulerCall.revive(frameworkID: FrameworkID("no-such-framework"))
        #expect(try await Self.post(cluster, try Self.json(stranger)).0 == 400)
        let redirect = try await Self.post(cluster, [], method: "GET", path: "/master/redirect")
        #expect(redirect.0 == 307)
        #expect(redirect.1["Location"] == "//localhost:5050")

        // A live subscription, read by hand.
        let url = cluster.masterLocation.schedulerURL
        let (head, body) = try await cluster.transport.send(MesosHTTPRequest(
            url: url, headers: ["Content-Type": "application/json", "Accept": "application/json"], body: try Self.json(subscribe)))
        #expect(head.status == 200)
        #expect(head.headers["Content-Type"] == "application/json")
        let streamID = try #require(head.headers["Mesos-Stream-Id"])
        var events = body.schedulerEvents(codec: MesosCodec(.json)).makeAsyncIterator()
        guard case .subscribed(let subscribed)? = try await events.next() else {
            Issue.record("SUBSCRIBED must come first")
            return
        }
        #expect(subscribed.heartbeatIntervalSeconds == 15)
        #expect(try await events.next() == .heartbeat)
        let frameworkID = subscribed.frameworkID
        let revive = SchedulerCall.revive(frameworkID: frameworkID)
        #expect(try await Self.post(cluster, try Self.json(revive)).0 == 400)
        #expect(try await Self.post(cluster, try Self.json(revive),
                                    headers: ["Content-Type": "application/json", "Mesos-Stream-Id": "stale"]).0 == 400)
        #expect(try await Self.post(cluster, try Self.json(revive),
                                    headers: ["Content-Type": "application/json", "Mesos-Stream-Id": streamID]).0 == 202)
        var unknown = SchedulerCall()
        unknown.type = .unknown
        unknown.frameworkID = frameworkID
        #expect(try await Self.post(cluster, try Self.json(unknown),
                                    headers: ["Content-Type": "application/json", "Mesos-Stream-Id": streamID]).0 == 501)
        var badAck = SchedulerCall.acknowledge(agentID: AgentID("a"), taskID: TaskID("t"), uuid: Data([1, 2, 3]), frameworkID: frameworkID)
        badAck.acknowledge.uuid = Data([1, 2, 3])
        #expect(try await Self.post(cluster, try Self.json(badAck),
                                    headers: ["Content-Type": "application/json", "Mesos-Stream-Id": streamID]).0 == 400)
        let teardown = SchedulerCall.teardown(frameworkID: frameworkID)
        #expect(try await Self.post(cluster, try Self.json(teardown),
                                    headers: ["Content-Type": "application/json", "Mesos-Stream-Id": streamID]).0 == 202)
        // The stream ends after TEARDOWN; offers may come before that.
        while let event = try await events.next() {
            if case .offers = event { continue }
            Issue.record("unexpected \(event.typeName) after TEARDOWN")
        }
        // A removed framework is refused inside a 200 stream.
        var again = Harness.frameworkInfo("http")
        again.id = frameworkID
        let (refusedHead, refusedBody) = try await cluster.transport.send(MesosHTTPRequest(
            url: url, headers: ["Content-Type": "application/json"], body: try Self.json(.subscribe(frameworkInfo: again))))
        #expect(refusedHead.status == 200)
        var refused = refusedBody.schedulerEvents(codec: MesosCodec(.json)).makeAsyncIterator()
        #expect(try await refused.next() == .error(message: "Framework has been removed"))
        #expect(try await refused.next() == nil)
        await cluster.shutdown()
    }

    @Test("a second SUBSCRIBE with the same id fails the first stream over")
    func failoverClosesOldStream() async throws {
        let cluster = LocalCluster(configuration: try Harness.configuration())
        let url = cluster.masterLocation.schedulerURL
        let headers: MesosHTTPHeaders = ["Content-Type": "application/x-protobuf", "Accept": "application/x-protobuf"]
        let codec = MesosCodec(.protobuf)
        let (_, firstBody) = try await cluster.transport.send(MesosHTTPRequest(
            url: url, headers: headers, body: try codec.encode(SchedulerCall.subscribe(frameworkInfo: Harness.frameworkInfo("fo", failoverTimeout: 60)))))
        var first = firstBody.schedulerEvents(codec: codec).makeAsyncIterator()
        guard case .subscribed(let subscribed)? = try await first.next() else {
            Issue.record("no SUBSCRIBED")
            return
        }
        var info = Harness.frameworkInfo("fo", failoverTimeout: 60)
        info.id = subscribed.frameworkID
        let (secondHead, secondBody) = try await cluster.transport.send(MesosHTTPRequest(
            url: url, headers: headers, body: try codec.encode(SchedulerCall.subscribe(frameworkInfo: info))))
        #expect(secondHead.status == 200)
        var second = secondBody.schedulerEvents(codec: codec).makeAsyncIterator()
        guard case .subscribed(let again)? = try await second.next() else {
            Issue.record("no second SUBSCRIBED")
            return
        }
        #expect(again.frameworkID == subscribed.frameworkID)
        var sawFailover = false
        while let event = try await first.next() {
            if event == .error(message: "Framework failed over") { sawFailover = true }
        }
        #expect(sawFailover)
        await cluster.shutdown()
    }

    @Test("after its stream closes, a framework with a failover timeout gets 403 until it subscribes again")
    func notSubscribedIs403() async throws {
        let cluster = LocalCluster(configuration: try Harness.configuration())
        let url = cluster.masterLocation.schedulerURL
        let subscribe = SchedulerCall.subscribe(frameworkInfo: Harness.frameworkInfo("403", failoverTimeout: 60))
        let (frameworkID, streamID): (FrameworkID, String) = try await {
            let (head, body) = try await cluster.transport.send(MesosHTTPRequest(
                url: url, headers: ["Content-Type": "application/json"], body: try Self.json(subscribe)))
            var events = body.schedulerEvents(codec: MesosCodec(.json)).makeAsyncIterator()
            guard case .subscribed(let subscribed)? = try await events.next() else {
                throw MesosError(code: .malformedStream, message: "no SUBSCRIBED")
            }
            return (subscribed.frameworkID, head.headers["Mesos-Stream-Id"] ?? "")
        }()
        // The body and its iterator are gone: the connection is closed.
        #expect(await Harness.eventually { cluster.snapshot().framework(frameworkID)?.isConnected == false })
        #expect(cluster.snapshot().framework(frameworkID)?.isRemoved == false)
        let revive = SchedulerCall.revive(frameworkID: frameworkID)
        let (status, _, text) = try await Self.post(cluster, try Self.json(revive),
                                                   headers: ["Content-Type": "application/json", "Mesos-Stream-Id": streamID])
        #expect(status == 403)
        #expect(text == "Framework is not subscribed")
        await cluster.shutdown()
    }

    @Test("with credentials configured, calls without them get 401 and Basic credentials work")
    func authentication() async throws {
        var configuration = try Harness.configuration()
        configuration.credentials = ["alice": "s3cret"]
        let cluster = LocalCluster(configuration: configuration)
        let subscribe = SchedulerCall.subscribe(frameworkInfo: Harness.frameworkInfo("auth"))
        let (status, headers, _) = try await Self.post(cluster, try Self.json(subscribe))
        #expect(status == 401)
        #expect(headers["WWW-Authenticate"]?.hasPrefix("Basic") == true)

        let anonymous = Harness.scheduler(cluster, "auth")
        await #expect(throws: MesosError.self) {
            try await anonymous.withWatchedSubscription { events in
                for try await _ in events {}
            }
        }
        var info = Harness.frameworkInfo("auth")
        info.principal = "alice"
        let scheduler = Harness.scheduler(cluster, "auth", info: info, authenticator: try BasicAuthenticator(principal: "alice", secret: "s3cret"))
        try await scheduler.withWatchedSubscription { events in
            var reader = EventReader(events)
            _ = try await reader.offers()
            try await scheduler.teardown()
        }
        await cluster.shutdown()
    }
}
