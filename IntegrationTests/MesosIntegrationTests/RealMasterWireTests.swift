import Foundation
import MesosCore
import MesosRecordIO
import Testing

/// Wire-level checks against a real Mesos 1.11 master: every call the codec builds, in both encodings, is
/// accepted by Mesos itself, and the events it streams decode. The HTTP is done by the `curl` tool so that only
/// the codecs are under test here.
@Suite("Real master: wire format", .enabled(if: RealMaster.shouldRun, "needs MESOS_MASTER_URL (scripts/test.sh starts one)"),
       .serialized)
struct RealMasterWireTests {
    @Test("SUBSCRIBE, events and all 17 call types are accepted by a real master", arguments: [MesosContentType.json, .protobuf])
    func everyCallAccepted(contentType: MesosContentType) async throws {
        let base = try RealMaster.baseURL()
        let endpoint = base + "/api/v1/scheduler"
        let codec = MesosCodec(contentType)
        let subscribe = SchedulerCall.subscribe(frameworkInfo: RealMaster.frameworkInfo(name: "wire-\(contentType)"))
        try subscribe.validate()
        let subscription = try await CurlSubscription(url: endpoint, body: try codec.encode(subscribe), contentType: contentType)
        defer { subscription.close() }
        #expect(subscription.status == 200)
        #expect(subscription.headers["content-type"] == contentType.mediaType)
        let streamID = try #require(subscription.headers["mesos-stream-id"])
        #expect(streamID.count == 36)

        // Read SUBSCRIBED, the first HEARTBEAT and an OFFERS event.
        var frameworkID: FrameworkID?
        var sawHeartbeat = false
        var offers: [Offer] = []
        for try await event in subscription.body.schedulerEvents(codec: codec) {
            switch event {
            case .subscribed(let subscribed):
                #expect(frameworkID == nil, "SUBSCRIBED must come first and once")
                frameworkID = subscribed.frameworkID
                #expect(subscribed.heartbeatIntervalSeconds == 15)
                #expect(subscribed.masterInfo.version == "1.11.0")
            case .heartbeat:
                sawHeartbeat = true
            case .offers(let received):
                offers = received
            default:
                Issue.record("unexpected event \(event.typeName)")
            }
            if sawHeartbeat, !offers.isEmpty { break }
        }
        let id = try #require(frameworkID)
        let offer = try #require(offers.first)
        #expect(offer.resources.contains { $0.name == "cpus" && $0.scalar.value > 0 })
        #expect(offer.frameworkID == id)

        // Every call type, built by the library, sent with the stream id.
        var updated = RealMaster.frameworkInfo(name: "wire-\(contentType)-renamed")
        updated.id = id
        let uuid = withUnsafeBytes(of: UUID().uuid) { Data($0) }
        var policy = KillPolicy()
        policy.gracePeriod.nanoseconds = 1_000_000_000
        let calls: [(SchedulerCall, Int)] = [
            (.decline(offerIDs: [offer.id], filters: .refuse(seconds: 1), frameworkID: id), 202),
            (.accept(offerIDs: [OfferID("no-such-offer")], operations: [], frameworkID: id), 202),
            (.acceptInverseOffers(inverseOfferIDs: [OfferID("no-such-inverse-offer")], frameworkID: id), 202),
            (.declineInverseOffers(inverseOfferIDs: [OfferID("no-such-inverse-offer")], frameworkID: id), 202),
            (.suppress(roles: ["*"], frameworkID: id), 202),
            (.revive(roles: ["*"], frameworkID: id), 202),
            (.kill(taskID: TaskID("no-such-task"), agentID: offer.agentID, killPolicy: policy, frameworkID: id), 202),
            (.shutdown(executorID: ExecutorID("no-such-executor"), agentID: offer.agentID, frameworkID: id), 202),
            (.acknowledge(agentID: offer.agentID, taskID: TaskID("no-such-task"), uuid: uuid, frameworkID: id), 202),
            (.acknowledgeOperationStatus(operationID: OperationID("no-such-op"), uuid: uuid, agentID: offer.agentID,
                                         frameworkID: id), 202),
            (.reconcile(tasks: [(TaskID("no-such-task"), offer.agentID)], frameworkID: id), 202),
            (.reconcile(frameworkID: id), 202),
            (.reconcileOperations(operations: [(OperationID("no-such-op"), offer.agentID, nil)], frameworkID: id), 202),
            (.message(agentID: offer.agentID, executorID: ExecutorID("no-such-executor"), data: Data("hi".utf8),
                      frameworkID: id), 202),
            (.request([ResourceRequest()], frameworkID: id), 202),
            (.updateFramework(frameworkInfo: updated), 200),
        ]
        for (call, expected) in calls {
            try call.validate()
            let response = try CurlExchange.post(endpoint, body: try codec.encode(call), contentType: contentType,
                                                 headers: ["Mesos-Stream-Id": streamID])
            #expect(response.status == expected,
                    "\(call.type) → \(response.status): \(String(decoding: response.body, as: UTF8.self))")
        }

        // The master classifies what we send wrong the way MesosError expects.
        let stale = try CurlExchange.post(endpoint, body: try codec.encode(SchedulerCall.revive(frameworkID: id)),
                                          contentType: contentType, headers: ["Mesos-Stream-Id": UUID().uuidString.lowercased()])
        let staleError = MesosError.httpStatus(stale.status, body: String(decoding: stale.body, as: UTF8.self))
        #expect(staleError.code == .streamIDMismatch, "\(staleError)")

        let teardown = try CurlExchange.post(endpoint, body: try codec.encode(SchedulerCall.teardown(frameworkID: id)),
                                             contentType: contentType, headers: ["Mesos-Stream-Id": streamID])
        #expect(teardown.status == 202)
        // After TEARDOWN the framework is unknown to the master and its stream ends.
        let afterwards = try CurlExchange.post(endpoint, body: try codec.encode(SchedulerCall.revive(frameworkID: id)),
                                               contentType: contentType, headers: ["Mesos-Stream-Id": streamID])
        #expect(afterwards.status == 400 || afterwards.status == 403)
    }

    @Test("the master answers a bad Content-Type with 415 and a missing one with 400, as MesosError classifies")
    func contentTypeErrors() throws {
        let base = try RealMaster.baseURL()
        let body = try MesosCodec(.json).encode(SchedulerCall.subscribe(frameworkInfo: RealMaster.frameworkInfo(name: "ct")))
        let url = base + "/api/v1/scheduler"
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("ct-\(UUID().uuidString)")
        try Data(body).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        func status(_ contentType: String?) throws -> Int {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            var arguments = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10", "-X", "POST"]
            arguments += ["-H", contentType.map { "Content-Type: \($0)" } ?? "Content-Type:"]
            arguments += ["--data-binary", "@\(file.path)", url]
            process.arguments = arguments
            let pipe = Pipe()
            process.standardOutput = pipe
            try process.run()
            let output = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return Int(String(decoding: output, as: UTF8.self)) ?? -1
        }
        #expect(MesosError.httpStatus(try status("application/json; charset=utf-8")).code == .unsupportedMediaType)
        #expect(MesosError.httpStatus(try status(nil)).code == .malformedRequest)
    }
}
