import Foundation
import MesosCore
import MesosTestKit
import Testing

extension TransportConformance {
/// Timeouts and injected faults surface as the documented `MesosError` codes.
@Suite struct FailureConformanceTests {
    @Test(arguments: TransportKind.allCases)
    func theWholeCallTimeoutCoversHeadAndBody(kind: TransportKind) async throws {
        try await Endpoint.with(kind) { endpoint in
            await endpoint.master.inject(.delayHead(.seconds(30)), matching: .path("/version"))
            let headError = await #expect(throws: MesosError.self) {
                _ = try await endpoint.transport.send(
                    MesosHTTPRequest(method: "GET", url: endpoint.url("version"), timeout: .milliseconds(300))
                )
            }
            // Without the 300 ms limit the head would come after 30 s and the call would succeed: no upper bound needed.
            #expect(headError?.code == .timeout)

            await endpoint.master.route("GET", "/endless") { _ in
                .stream { writer in
                    while true {
                        try await writer.write(Array("tick".utf8)[...])
                        try await Task.sleep(for: .milliseconds(50))
                    }
                }
            }
            let (head, body) = try await endpoint.transport.send(
                MesosHTTPRequest(method: "GET", url: endpoint.url("endless"), timeout: .milliseconds(600), idleTimeout: .seconds(60))
            )
            #expect(head.status == 200)
            var chunks = 0
            let bodyError = await #expect(throws: MesosError.self) {
                for try await _ in body { chunks += 1 }
            }
            #expect(bodyError?.code == .timeout)
            #expect(chunks > 0)
            // The endless body ends only by the whole-call timeout (the hang guard would end the test otherwise).
        }
    }

    @Test(arguments: TransportKind.allCases)
    func theIdleTimeoutFiresOnSilenceOnly(kind: TransportKind) async throws {
        try await Endpoint.with(kind) { endpoint in
            // Heartbeats every 50 ms keep a 2 s idle timeout quiet, for longer than the timeout itself.
            var (_, _, events) = try await endpoint.subscribe(idleTimeout: .seconds(2))
            let quietStart = ContinuousClock.now
            while ContinuousClock.now - quietStart < .milliseconds(2500) {
                #expect(try await events.next() == .heartbeat)
            }

            await endpoint.master.inject(.goSilent(afterEvents: 2), matching: .subscribe)
            var (_, _, silent) = try await endpoint.subscribe(idleTimeout: .milliseconds(600))
            #expect(try await silent.next() == .heartbeat)
            let start = ContinuousClock.now
            let error = await #expect(throws: MesosError.self) { _ = try await silent.next() }
            #expect(error?.code == .timeout)
            let elapsed = ContinuousClock.now - start
            #expect(elapsed >= .milliseconds(500), "idle timeout after \(elapsed)")
        }
    }

    @Test(arguments: TransportKind.allCases)
    func aStreamCutMidRecordFailsTheBody(kind: TransportKind) async throws {
        try await Endpoint.with(kind) { endpoint in
            await endpoint.master.inject(.cutMidRecord(afterEvents: 1), matching: .subscribe)
            var (_, _, events) = try await endpoint.subscribe()
            let error = await #expect(throws: MesosError.self) { _ = try await events.next() }
            #expect(error?.code == .transportFailure || error?.code == .streamTruncated, "got \(String(describing: error))")

            // The raw body itself reports the premature end as a transport failure (chunked and Content-Length).
            for contentLength in [nil, 1000] as [Int?] {
                await endpoint.master.route("POST", "/cut") { _ in
                    .stream(contentLength: contentLength) { writer in
                        try await writer.write(ArraySlice(repeating: 0x41, count: 100))
                        try await Task.sleep(for: .milliseconds(50))
                        throw FakeMasterResponse.CloseConnection()
                    }
                }
                let (head, body) = try await endpoint.transport.send(MesosHTTPRequest(method: "POST", url: endpoint.url("cut")))
                #expect(head.status == 200)
                let bodyError = await #expect(throws: MesosError.self) { _ = try await body.collect(upTo: 1 << 20) }
                #expect(bodyError?.code == .transportFailure, "Content-Length \(String(describing: contentLength)): \(String(describing: bodyError))")
            }
        }
    }

    @Test(arguments: TransportKind.allCases)
    func garbageIsAMalformedStream(kind: TransportKind) async throws {
        try await Endpoint.with(kind) { endpoint in
            await endpoint.master.inject(.garbage(afterEvents: 1), matching: .subscribe)
            var (_, _, events) = try await endpoint.subscribe()
            let error = await #expect(throws: MesosError.self) {
                while try await events.next() != nil {}
            }
            #expect(error?.code == .malformedStream)
        }
    }

    @Test(arguments: TransportKind.allCases)
    func aConnectionClosedBeforeTheResponseIsATransportFailure(kind: TransportKind) async throws {
        try await Endpoint.with(kind) { endpoint in
            await endpoint.master.inject(.closeConnection, matching: .subscribe)
            let error = await #expect(throws: MesosError.self) {
                _ = try await endpoint.transport.send(
                    try endpoint.request(.subscribe(frameworkInfo: Endpoint.frameworkInfo()), timeout: .seconds(10))
                )
            }
            #expect(error?.code == .transportFailure)
            #expect(error?.cause != nil)
        }
    }

    @Test(arguments: TransportKind.networked)
    func aRefusedConnectionIsATransportFailure(kind: TransportKind) async throws {
        // Bind a port, then close it, so that nothing listens there.
        let closed = try await FakeMasterServer.start(master: FakeMaster())
        let url = closed.url.appending(path: "version")
        try await closed.shutdown()
        let transport = makeTransport(kind, inMemory: FakeMaster().transport.handler)
        let error = await #expect(throws: MesosError.self) {
            _ = try await transport.send(MesosHTTPRequest(method: "GET", url: url, timeout: .seconds(60)))
        }
        // Had the refusal not been seen, the 60 s call timeout would have ended the call as a timeout instead.
        #expect(error?.code == .transportFailure)
        #expect(error?.cause != nil)
    }
}
}
