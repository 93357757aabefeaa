import Foundation
import MesosCore
import MesosTestKit
import Testing

/// The fake master's HTTP semantics for the scheduler endpoint (PROTOCOL.md §1), in memory and over HTTP.
@Suite struct SchedulerEndpointTests {
    private static func raw(
        _ harness: Harness,
        method: String = "POST",
        path: String = "api/v1/scheduler",
        headers: MesosHTTPHeaders,
        body: [UInt8]
    ) -> MesosHTTPRequest {
        MesosHTTPRequest(method: method, url: harness.baseURL.appending(path: path), headers: headers, body: body)
    }

    @Test(arguments: Mode.allCases)
    func requestChecksBeforeAnySubscription(mode: Mode) async throws {
        try await Harness.with(mode) { harness in
            let subscribe = try Harness.json.encode(call: .subscribe(frameworkInfo: Harness.frameworkInfo()))
            let cases: [(String, MesosHTTPRequest, Int, String)] = [
                ("GET", Self.raw(harness, method: "GET", headers: ["Content-Type": "application/json"], body: []), 405, "Expecting 'POST'"),
                ("no Content-Type", Self.raw(harness, headers: [:], body: subscribe), 400, "Content-Type"),
                ("charset", Self.raw(harness, headers: ["Content-Type": "application/json; charset=utf-8"], body: subscribe), 415, "Expecting 'Content-Type' of application/json or application/x-protobuf"),
                ("text/plain", Self.raw(harness, headers: ["Content-Type": "text/plain"], body: subscribe), 415, "Expecting 'Content-Type' of application/json or application/x-protobuf"),
                ("upper case", Self.raw(harness, headers: ["Content-Type": "Application/JSON"], body: subscribe), 415, "Expecting 'Content-Type' of application/json or application/x-protobuf"),
                ("not JSON", Self.raw(harness, headers: ["Content-Type": "application/json"], body: Array("{nope".utf8)), 400, "Failed to parse"),
                ("no type", Self.raw(harness, headers: ["Content-Type": "application/json"], body: Array("{}".utf8)), 400, "Failed to validate scheduler::Call"),
                ("Accept text/html", Self.raw(harness, headers: ["Content-Type": "application/json", "Accept": "text/html"], body: subscribe), 406, "Expecting 'Accept'"),
                ("Accept q=0", Self.raw(harness, headers: ["Content-Type": "application/json", "Accept": "application/json;q=0, application/x-protobuf;q=0"], body: subscribe), 406, "Expecting 'Accept'"),
                ("Stream id on SUBSCRIBE", Self.raw(harness, headers: ["Content-Type": "application/json", "Mesos-Stream-Id": "x"], body: subscribe), 400, "Mesos-Stream-Id"),
                ("unknown path", Self.raw(harness, path: "api/v1/nothing", headers: ["Content-Type": "application/json"], body: subscribe), 404, ""),
            ]
            for (name, request, status, text) in cases {
                let answer = try await harness.exchange(request)
                #expect(answer.status == status, "\(name)")
                #expect(text.isEmpty || answer.text.contains(text), "\(name): \(answer.text)")
            }
            let get = try await harness.exchange(Self.raw(harness, method: "GET", headers: [:], body: []))
            #expect(get.headers["Allow"] == "POST")

            var unknown = FrameworkID()
            unknown.value = "no-such-framework"
            let lost = try await harness.call(.revive(frameworkID: unknown), streamID: "whatever")
            #expect(lost.status == 400)
            #expect(lost.text == "Framework cannot be found")
            #expect(MesosError.httpStatus(lost.status, body: lost.text).code == .frameworkNotFound)

            let invalid = try await harness.call(.decline(offerIDs: [], frameworkID: unknown), streamID: nil)
            #expect(invalid.status == 400)
            #expect(invalid.text.hasPrefix("Failed to validate scheduler::Call: "))
            #expect(invalid.headers["Content-Type"] == "text/plain; charset=utf-8")
        }
    }

    @Test(arguments: Mode.allCases)
    func callsOnALiveSubscription(mode: Mode) async throws {
        try await Harness.with(mode) { harness in
            var session = try await harness.subscribe()
            let id = session.frameworkID
            let masterID = await harness.master.configuration.masterID
            #expect(id.value == "\(masterID)-0000")

            let missing = try await harness.call(.revive(frameworkID: id), streamID: nil)
            #expect(missing.status == 400)
            #expect(MesosError.httpStatus(missing.status, body: missing.text).code == .streamIDMismatch)

            let stale = try await harness.call(.revive(frameworkID: id), streamID: UUID().uuidString.lowercased())
            #expect(stale.status == 400)
            #expect(MesosError.httpStatus(stale.status, body: stale.text).code == .streamIDMismatch)

            let accepted = try await harness.call(.revive(frameworkID: id), streamID: session.streamID)
            #expect(accepted.status == 202)
            #expect(accepted.text.isEmpty)
            #expect(accepted.headers["Content-Length"] == "0")

            var info = Harness.frameworkInfo(id: id)
            info.name = "renamed"
            let updated = try await harness.call(.updateFramework(frameworkInfo: info), streamID: session.streamID)
            #expect(updated.status == 200)
            #expect(await harness.master.framework(id)?.info.name == "renamed")

            // The prefixed path serves the same endpoint.
            var prefixed = try harness.request(.suppress(frameworkID: id), streamID: session.streamID)
            prefixed.url = harness.baseURL.appending(path: "master/api/v1/scheduler")
            #expect(try await harness.exchange(prefixed).status == 202)

            // Protobuf calls work on a JSON subscription.
            let proto = try await harness.exchange(
                try harness.request(.revive(frameworkID: id), codec: MesosCodec(.protobuf), streamID: session.streamID)
            )
            #expect(proto.status == 202)

            // Known but no longer subscribed: 403.
            try await harness.master.closeSubscription(of: id)
            #expect(try await session.events.next() == .heartbeat)
            while try await session.events.next() != nil {}
            let unsubscribed = try await harness.call(.revive(frameworkID: id), streamID: session.streamID)
            #expect(unsubscribed.status == 403)
            #expect(unsubscribed.text == "Framework is not subscribed")
        }
    }

    @Test(arguments: Mode.allCases)
    func recordsEveryCall(mode: Mode) async throws {
        try await Harness.with(mode) { harness in
            let session = try await harness.subscribe()
            _ = try await harness.call(.revive(frameworkID: session.frameworkID), streamID: session.streamID)
            _ = try await harness.call(.suppress(frameworkID: session.frameworkID), streamID: "stale")
            let calls = await harness.master.receivedCalls
            #expect(calls.map(\.type) == [.subscribe, .revive, .suppress])
            #expect(calls.map(\.status) == [200, 202, 400])
            #expect(calls.map(\.streamID) == [nil, session.streamID, "stale"])
            #expect(calls[1].call?.frameworkID == session.frameworkID)
            #expect(calls[1].request.headers["Content-Type"] == "application/json")
            if mode == .http {
                #expect(calls.allSatisfy { $0.request.connectionID != nil })
            }
        }
    }

    @Test(arguments: [
        ("application/json", "application/json"),
        ("application/x-protobuf", "application/x-protobuf"),
        ("*/*", "application/json"),
        ("application/*", "application/json"),
        ("application/json;q=0, */*", "application/x-protobuf"),
        ("application/x-protobuf, application/json;q=0.1", "application/json"),
        ("", "application/json"),
    ])
    func acceptNegotiation(accept: String, expected: String) async throws {
        try await Harness.with(.inMemory) { harness in
            var request = try harness.request(.subscribe(frameworkInfo: Harness.frameworkInfo()))
            request.headers["Accept"] = accept.isEmpty ? nil : accept
            let (head, _) = try await harness.transport.send(request)
            #expect(head.status == 200)
            #expect(head.headers["Content-Type"] == expected)
        }
    }

    @Test(arguments: Mode.allCases)
    func versionAndRedirectEndpoints(mode: Mode) async throws {
        try await Harness.with(mode) { harness in
            let version = try await harness.exchange(MesosHTTPRequest(method: "GET", url: harness.baseURL.appending(path: "version")))
            #expect(version.status == 200)
            #expect(version.text.contains(#""version":"1.11.0""#))

            let config = await harness.master.configuration
            for path in ["master/redirect", "redirect"] {
                let redirect = try await harness.exchange(MesosHTTPRequest(method: "GET", url: harness.baseURL.appending(path: path)))
                #expect(redirect.status == 307)
                #expect(redirect.headers["Location"] == "//\(config.hostname):\(config.port)")
            }
            if let server = harness.server {
                #expect(config.port == server.port)
                #expect(config.hostname == "127.0.0.1")
            }

            await harness.master.setLeadership(.follower(leader: "m2.example:5050"))
            let followed = try await harness.exchange(MesosHTTPRequest(method: "GET", url: harness.baseURL.appending(path: "master/redirect")))
            #expect(followed.headers["Location"] == "//m2.example:5050")
            let call = try await harness.exchange(try harness.request(.subscribe(frameworkInfo: Harness.frameworkInfo())))
            #expect(call.status == 307)
            #expect(call.headers["Location"] == "//m2.example:5050/api/v1/scheduler")

            await harness.master.setLeadership(.noLeader)
            let none = try await harness.exchange(try harness.request(.subscribe(frameworkInfo: Harness.frameworkInfo())))
            #expect(none.status == 503)
            #expect(none.text == "No leader elected")

            await harness.master.setLeadership(.recovering)
            let recovering = try await harness.exchange(try harness.request(.subscribe(frameworkInfo: Harness.frameworkInfo())))
            #expect(recovering.status == 503)
            #expect(recovering.text == "Master has not finished recovery")
        }
    }

    @Test(arguments: Mode.allCases)
    func concurrentCalls(mode: Mode) async throws {
        try await Harness.with(mode) { harness in
            let session = try await harness.subscribe()
            let frameworkID = session.frameworkID
            let streamID = session.streamID
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for index in 0..<48 {
                    group.addTask {
                        let offer = OfferID.with { $0.value = "offer-\(index)" }
                        return try await harness.call(.decline(offerIDs: [offer], frameworkID: frameworkID), streamID: streamID).status
                    }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(statuses == Array(repeating: 202, count: 48))
            let declined = await harness.master.receivedCalls.filter { $0.type == .decline }
            let declinedIDs: [String] = declined.flatMap { received -> [String] in
                received.call?.decline.offerIds.map(\.value) ?? []
            }
            #expect(Set(declinedIDs).count == 48)
        }
    }
}
