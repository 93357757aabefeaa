import Foundation
import MesosCore
import MesosTestKit
import MesosURLSessionTransport
import Testing

@Suite("URLSession transport against the fake master")
struct FakeMasterTests {
    @Test("SUBSCRIBE, events pushed by the master, DECLINE with the stream id")
    func subscribeOffersDecline() async throws {
        let master = FakeMaster(configuration: .init(heartbeatInterval: .milliseconds(200)))
        let server = try await FakeMasterServer.start(master: master)
        let url = server.url.appendingPathComponent("api/v1/scheduler")
        let transport = MesosURLSessionTransport(configuration: .forTests)
        let codec = MesosCodec(.json)
        var info = FrameworkInfo()
        info.user = "test"
        info.name = "urlsession"
        let (head, body) = try await transport.send(MesosHTTPRequest(
            url: url,
            headers: ["Content-Type": "application/json", "Accept": "application/json"],
            body: try codec.encode(call: .subscribe(frameworkInfo: info)),
            idleTimeout: .seconds(10)
        ))
        #expect(head.status == 200)
        let streamID = try #require(head.headers["Mesos-Stream-Id"])
        var events = body.schedulerEvents(codec: codec).makeAsyncIterator()
        guard case .subscribed(let subscribed)? = try await events.next() else {
            Issue.record("the first event is not SUBSCRIBED")
            return
        }
        guard case .heartbeat? = try await events.next() else {
            Issue.record("the second event is not HEARTBEAT")
            return
        }
        let offers = try await master.sendOffers(2, to: subscribed.frameworkID)
        var received: [Offer] = []
        while received.isEmpty, let event = try await events.next() {
            if case .offers(let batch) = event { received = batch }
        }
        #expect(received.map(\.id) == offers.map(\.id))

        let (declined, declineBody) = try await transport.send(MesosHTTPRequest(
            url: url,
            headers: ["Content-Type": "application/json", "Mesos-Stream-Id": streamID],
            body: try codec.encode(call: .decline(offerIDs: offers.map(\.id), frameworkID: subscribed.frameworkID)),
            timeout: .seconds(30)
        ))
        #expect(declined.status == 202)
        #expect(try await declineBody.collect(upTo: 1024).isEmpty)
        // The warm-up GET of the stream is answered 405 and is not a call.
        let calls = await master.receivedCalls.compactMap(\.type)
        #expect(calls == [.subscribe, .decline])
        withExtendedLifetime(events) {}
        try await server.shutdown()
    }
}
