import Foundation
import MesosCore
import MesosURLSessionTransport
import Testing
import MesosTestKit

/// Runs only when `MESOS_MASTER_URL` points at a real master, e.g. one started with
/// `../shared/realmesos/start-master.sh 5098 1`.
@Suite("URLSession transport against a real master", .enabled(if: TestServers.shouldRun(needing: "MESOS_MASTER_URL"), "set MESOS_MASTER_URL to run"))
struct RealMasterTests {
    @Test("SUBSCRIBE streams SUBSCRIBED, HEARTBEAT and OFFERS; TEARDOWN answers 202")
    func subscribeAndTeardown() async throws {
        let base = try TestServers.value("MESOS_MASTER_URL")
        let url = try #require(URL(string: base + "/api/v1/scheduler"))
        let codec = MesosCodec(.json)
        let transport = MesosURLSessionTransport(configuration: .forTests)

        var frameworkInfo = FrameworkInfo()
        frameworkInfo.user = ProcessInfo.processInfo.environment["USER"] ?? NSUserName()
        frameworkInfo.name = "swift-mesos URLSession transport test"
        frameworkInfo.roles = ["*"]
        var capability = FrameworkInfo.Capability()
        capability.type = .multiRole
        frameworkInfo.capabilities = [capability]
        let subscribe = MesosHTTPRequest(
            method: "POST",
            url: url,
            headers: ["Content-Type": "application/json", "Accept": "application/json"],
            body: try codec.encode(SchedulerCall.subscribe(frameworkInfo: frameworkInfo)),
            timeout: nil,
            idleTimeout: .seconds(45)
        )
        let (response, body) = try await transport.send(subscribe)
        #expect(response.status == 200)
        let streamID = try #require(response.headers["Mesos-Stream-Id"])

        var frameworkID: FrameworkID?
        var seen: [String] = []
        // Keep the stream open (its iterator alive) until TEARDOWN: closing it disconnects the framework.
        var events = body.schedulerEvents(codec: codec).makeAsyncIterator()
        while let event = try await events.next() {
            seen.append(event.typeName)
            if case .subscribed(let subscribed) = event {
                frameworkID = subscribed.frameworkID
                #expect(subscribed.heartbeatIntervalSeconds == 15)
            }
            if case .offers(let offers) = event {
                #expect(!offers.isEmpty)
            }
            // The master's first HEARTBEAT and first OFFERS race each other: wait for both.
            if (seen.contains("HEARTBEAT") && seen.contains("OFFERS")) || seen.count > 20 { break }
        }
        #expect(seen.first == "SUBSCRIBED")
        #expect(seen.contains("HEARTBEAT"))
        #expect(seen.contains("OFFERS"))

        let id = try #require(frameworkID)
        let teardown = MesosHTTPRequest(
            method: "POST",
            url: url,
            headers: ["Content-Type": "application/json", "Mesos-Stream-Id": streamID],
            body: try codec.encode(SchedulerCall.teardown(frameworkID: id)),
            timeout: .seconds(10)
        )
        let (teardownResponse, teardownBody) = try await transport.send(teardown)
        let teardownText = try await teardownBody.text()
        #expect(teardownResponse.status == 202, "\(teardownText)")
        #expect(teardownText.isEmpty)
        // The master then ends the stream (within the 45 s idle timeout, or this fails with .timeout).
        let end = await mesosError { while try await events.next() != nil {} }
        #expect(end == nil || end?.code == .transportFailure, "\(String(describing: end))")
    }
}
