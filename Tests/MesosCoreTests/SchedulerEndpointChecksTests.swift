import Testing

@testable import MesosCore

/// The master's request checks, shared by the test kit's fake master and the local cluster.
@Suite("Scheduler endpoint checks")
struct SchedulerEndpointChecksTests {
    private func body(_ call: SchedulerCall, _ type: MesosContentType = .json) throws -> ArraySlice<UInt8> {
        try MesosCodec(type).encode(call)[...]
    }

    private var subscribe: SchedulerCall {
        var info = FrameworkInfo()
        info.user = "u"
        info.name = "n"
        return .subscribe(frameworkInfo: info)
    }

    @Test("method, Content-Type, parsing and validation refuse in the master's order with its codes")
    func decodeOrder() throws {
        let good = try self.body(self.subscribe)
        #expect(SchedulerEndpointChecks.decodeCall(method: "GET", headers: [:], body: good).refusal?.status == 405)
        #expect(SchedulerEndpointChecks.decodeCall(method: "GET", headers: [:], body: good).refusal?.headers["Allow"] == "POST")
        #expect(SchedulerEndpointChecks.decodeCall(method: "POST", headers: [:], body: good).refusal?.status == 400)
        let withCharset = SchedulerEndpointChecks.decodeCall(
            method: "POST", headers: ["Content-Type": "application/json; charset=utf-8"], body: good)
        #expect(withCharset.refusal?.status == 415)
        let garbage = SchedulerEndpointChecks.decodeCall(
            method: "POST", headers: ["Content-Type": "application/json"], body: Array("{".utf8)[...])
        #expect(garbage.refusal?.status == 400)
        #expect(garbage.refusal?.text.hasPrefix("Failed to parse body into Call protobuf") == true)
        let typeless = SchedulerEndpointChecks.decodeCall(
            method: "POST", headers: ["Content-Type": "application/json"], body: Array("{}".utf8)[...])
        #expect(typeless.call != nil)
        #expect(typeless.refusal?.text == "Failed to validate scheduler::Call: Expecting 'type' to be present")
        let ok = SchedulerEndpointChecks.decodeCall(
            method: "POST", headers: ["content-type": "application/x-protobuf"], body: try self.body(self.subscribe, .protobuf))
        #expect(ok.refusal == nil)
        #expect(ok.call?.type == .subscribe)
    }

    @Test("validation: invalid calls get 400 unless turned off; UNKNOWN only needs a framework id")
    func validation() throws {
        var decline = SchedulerCall()
        decline.type = .decline
        let headers: MesosHTTPHeaders = ["Content-Type": "application/json"]
        let refused = SchedulerEndpointChecks.decodeCall(method: "POST", headers: headers, body: try self.body(decline))
        #expect(refused.refusal?.status == 400)
        #expect(refused.refusal?.text.hasPrefix("Failed to validate scheduler::Call: ") == true)
        let lenient = SchedulerEndpointChecks.decodeCall(
            method: "POST", headers: headers, body: try self.body(decline), validates: false)
        #expect(lenient.refusal == nil)

        var unknown = SchedulerCall()
        unknown.type = .unknown
        let anonymous = SchedulerEndpointChecks.decodeCall(method: "POST", headers: headers, body: try self.body(unknown))
        #expect(anonymous.refusal?.text == "Failed to validate scheduler::Call: Expecting 'framework_id' to be present")
        unknown.frameworkID = FrameworkID("f-1")
        #expect(SchedulerEndpointChecks.decodeCall(method: "POST", headers: headers, body: try self.body(unknown)).refusal == nil)
    }

    @Test("SUBSCRIBE: Accept negotiation (JSON first, q=0 refuses, none means JSON) and no stream id")
    func subscribeChecks() throws {
        #expect(SchedulerEndpointChecks.negotiate(accept: nil) == .json)
        #expect(SchedulerEndpointChecks.negotiate(accept: "  ") == .json)
        #expect(SchedulerEndpointChecks.negotiate(accept: "application/x-protobuf") == .protobuf)
        #expect(SchedulerEndpointChecks.negotiate(accept: "application/x-protobuf, application/json") == .json)
        #expect(SchedulerEndpointChecks.negotiate(accept: "application/json;q=0, */*") == .protobuf)
        #expect(SchedulerEndpointChecks.negotiate(accept: "application/*;q=0") == nil)
        #expect(SchedulerEndpointChecks.negotiate(accept: "text/html") == nil)
        #expect(try SchedulerEndpointChecks.subscribe(headers: ["Accept": "application/json"]).get() == .json)
        #expect(throws: SchedulerEndpointChecks.Refusal(406, "Expecting 'Accept' to allow application/json or application/x-protobuf")) {
            try SchedulerEndpointChecks.subscribe(headers: ["Accept": "text/plain"]).get()
        }
        #expect(throws: SchedulerEndpointChecks.Refusal(400, "Subscribe calls should not include the 'Mesos-Stream-Id' header")) {
            try SchedulerEndpointChecks.subscribe(headers: ["Mesos-Stream-Id": "s"]).get()
        }
    }

    @Test("other calls: unknown framework 400, not subscribed 403, stream id missing or stale 400")
    func streamChecks() {
        #expect(SchedulerEndpointChecks.stream(frameworkID: "f", standing: .unknown, headers: [:])?.status == 400)
        #expect(SchedulerEndpointChecks.stream(frameworkID: "f", standing: .notSubscribed, headers: [:])?.status == 403)
        let live = SchedulerEndpointChecks.Standing.subscribed(streamID: "s-1")
        #expect(SchedulerEndpointChecks.stream(frameworkID: "f", standing: live, headers: [:])?.text
            == "All non-subscribe calls should include the 'Mesos-Stream-Id' header")
        let stale = SchedulerEndpointChecks.stream(frameworkID: "f", standing: live, headers: ["Mesos-Stream-Id": "s-0"])
        #expect(stale?.status == 400)
        #expect(stale?.text.contains("didn't match the stream ID currently associated with framework ID f") == true)
        #expect(SchedulerEndpointChecks.stream(frameworkID: "f", standing: live, headers: ["Mesos-Stream-Id": "s-1"]) == nil)
    }
}
