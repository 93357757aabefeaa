import Foundation
import MesosCore
import Testing
@testable import MesosCurlTransport
import MesosTestKit

/// Against a real Mesos master, when `MESOS_MASTER_URL` names one (for example `http://127.0.0.1:5099`, started
/// with `realmesos/start-master.sh 5099 1`).
@Suite("MesosCurlTransport against a real Mesos master")
struct RealMasterTests {
    @Test(.enabled(if: TestServers.shouldRun(needing: "MESOS_MASTER_URL"), "set MESOS_MASTER_URL to run"), .timeLimit(.minutes(1)))
    func subscribesReadsEventsAndTearsDown() async throws {
        let base = try TestServers.value("MESOS_MASTER_URL")
        let endpoint = try #require(URL(string: base + "/api/v1/scheduler"))
        let transport = MesosCurlTransport()
        let codec = MesosCodec(.json)

        var framework = FrameworkInfo()
        framework.user = NSUserName()
        framework.name = "swift-mesos curl transport test"
        framework.roles = ["*"]
        var multiRole = FrameworkInfo.Capability()
        multiRole.type = .multiRole
        framework.capabilities = [multiRole]

        let subscribe = MesosHTTPRequest(
            url: endpoint,
            headers: ["Content-Type": "application/json", "Accept": "application/json"],
            body: try codec.encode(call: .subscribe(frameworkInfo: framework)),
            idleTimeout: .seconds(45)
        )
        let (response, body) = try await transport.send(subscribe)
        #expect(response.status == 200)
        let streamID = try #require(response.headers["Mesos-Stream-Id"])
        #expect(response.headers["Content-Type"] == "application/json")

        var frameworkID: FrameworkID?
        var sawHeartbeat = false
        var sawOffers = false
        var events = body.schedulerEvents(codec: codec).makeAsyncIterator()
        while frameworkID == nil || !sawHeartbeat || !sawOffers, let event = try await events.next() {
            switch event {
            case .subscribed(let subscribed):
                frameworkID = subscribed.frameworkID
                #expect(subscribed.heartbeatIntervalSeconds == 15)
            case .heartbeat:
                sawHeartbeat = true
            case .offers(let offers):
                sawOffers = !offers.isEmpty
            case .error(let message):
                Issue.record("The master sent ERROR: \(message)")
                return
            default:
                break
            }
        }
        let id = try #require(frameworkID)
        #expect(sawHeartbeat)
        #expect(sawOffers)

        // TEARDOWN on a second connection while the stream stays open.
        let teardown = MesosHTTPRequest(
            url: endpoint,
            headers: ["Content-Type": "application/json", "Mesos-Stream-Id": streamID],
            body: try codec.encode(call: .teardown(frameworkID: id)),
            timeout: .seconds(10)
        )
        let (teardownResponse, teardownBody) = try await transport.send(teardown)
        #expect(teardownResponse.status == 202)
        #expect(try await teardownBody.collect(upTo: 4096).isEmpty)

        // The master then closes the stream.
        while let event = try await events.next() {
            if case .error = event {
                break
            }
        }
    }

    /// Not a check: measures what an idle subscribed stream costs the whole process, for the record.
    /// Run alone with `MESOS_CURL_MEASURE_IDLE=1 swift test --filter measureIdleStreamCost`.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["MESOS_CURL_MEASURE_IDLE"] != nil))
    func measureIdleStreamCost() async throws {
        let server = try await ScriptedHTTPServer.start()
        let transport = MesosCurlTransport()
        let (_, body) = try await transport.send(MesosHTTPRequest(method: "GET", url: server.url("/quiet?s=13")))
        var iterator = body.makeAsyncIterator()
        _ = try await iterator.next()
        let reader = Task { [iterator] in
            var iterator = iterator
            return try await iterator.next()
        }
        let ticksPerSecond = sysconf(Int32(_SC_CLK_TCK))
        let processBefore = try #require(processCPUTicks())
        let threadBefore = try #require(transport.engineThreadCPUTime)
        let wallBefore = ContinuousClock.now
        try await Task.sleep(for: .seconds(10))
        let wall = ContinuousClock.now - wallBefore
        let processTicks = try #require(processCPUTicks()) - processBefore
        let thread = try #require(transport.engineThreadCPUTime) - threadBefore
        print(
            "Idle stream for \(wall): whole process \(processTicks) ticks (1/\(ticksPerSecond) s) of CPU, "
                + "curl thread \(thread) of CPU"
        )
        reader.cancel()
        _ = try? await reader.value
    }
}
