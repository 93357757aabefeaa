import Foundation
import MesosCompression
import MesosCore
import MesosTestKit
import Testing

extension TransportConformance {
/// Streaming: order under any chunking, early response heads, intact bodies, untouched encodings, headers.
@Suite struct StreamingConformanceTests {
    /// The ways the fake master cuts a stream into HTTP chunks.
    enum Shape: String, CaseIterable, Sendable, CustomStringConvertible {
        case asWritten, oneByte, random, coalesced
        var description: String { self.rawValue }
        var fault: FakeMasterFault? {
            switch self {
            case .asWritten: return nil
            case .oneByte: return .rechunk(.fixed(1))
            case .random: return .rechunk(.random(sizes: 1...97, seed: 0x5EED))
            case .coalesced: return .rechunk(.coalesced)
            }
        }
    }

    @Test(arguments: TransportKind.allCases, Shape.allCases)
    func eventsArriveInOrderWhateverTheChunking(kind: TransportKind, shape: Shape) async throws {
        try await Endpoint.with(kind) { endpoint in
            if let fault = shape.fault {
                await endpoint.master.inject(fault, matching: .subscribe)
            }
            var (_, frameworkID, events) = try await endpoint.subscribe()
            try await endpoint.expectUpdatesInOrder(shape == .oneByte ? 40 : 200, frameworkID: frameworkID, events: &events)
        }
    }

    @Test(arguments: TransportKind.allCases)
    func theResponseHeadArrivesBeforeTheBodyEnds(kind: TransportKind) async throws {
        try await Endpoint.with(kind) { endpoint in
            // A SUBSCRIBE response never ends: the head must come back anyway.
            let (head, _, _) = try await withDeadline(.seconds(60)) { try await endpoint.subscribe() }
            #expect(head.headers["Mesos-Stream-Id"] != nil)

            // The rest of this body is written only after the test has the head and the first chunk: a transport
            // that waited for the end of the body would never return (and `Endpoint.with`'s guard ends the test).
            let (gate, opening) = AsyncStream<Void>.makeStream()
            await endpoint.master.route("POST", "/trickle") { _ in
                .stream(headers: ["Content-Type": "text/plain"]) { writer in
                    try await writer.write(Array("first".utf8)[...])
                    for await _ in gate { break }
                    try await writer.write(Array("second".utf8)[...])
                }
            }
            let (trickleHead, body) = try await endpoint.transport.send(MesosHTTPRequest(method: "POST", url: endpoint.url("trickle")))
            #expect(trickleHead.status == 200)
            var iterator = body.makeAsyncIterator()
            var received: [UInt8] = []
            while received.count < 5, let chunk = try await iterator.next() { received += chunk }
            #expect(String(decoding: received, as: UTF8.self) == "first")
            opening.yield()
            opening.finish()
            while let chunk = try await iterator.next() { received += chunk }
            #expect(String(decoding: received, as: UTF8.self) == "firstsecond")
        }
    }

    @Test(arguments: TransportKind.allCases)
    func largeBodiesArriveIntact(kind: TransportKind) async throws {
        try await Endpoint.with(kind) { endpoint in
            let bytes = (0..<(8 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 11) }
            for contentLength in [true, false] {
                await endpoint.master.route("POST", "/large") { _ in
                    .stream(headers: ["Content-Type": "application/octet-stream"], contentLength: contentLength ? bytes.count : nil) { writer in
                        var offset = 0
                        while offset < bytes.count {
                            let end = min(offset + 50_000, bytes.count)
                            try await writer.write(bytes[offset..<end])
                            offset = end
                        }
                    }
                }
                let (head, body) = try await endpoint.transport.send(MesosHTTPRequest(method: "POST", url: endpoint.url("large")))
                #expect(head.status == 200)
                if contentLength {
                    #expect(head.headers["Content-Length"] == String(bytes.count))
                }
                #expect(try await body.collect(upTo: bytes.count) == bytes)
            }
        }
    }

    /// `Failed to validate scheduler::Call: xxx…xxx\n` (2037 bytes) compressed with gzip (71 bytes).
    static let gzipped: [UInt8] = [
        0x1F, 0x8B, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0xFF, 0x73, 0x4B, 0xCC, 0xCC, 0x49, 0x4D, 0x51, 0x28,
        0xC9, 0x57, 0x28, 0x4B, 0xCC, 0xC9, 0x4C, 0x49, 0x2C, 0x49, 0x55, 0x28, 0x4E, 0xCE, 0x48, 0x4D, 0x29, 0xCD,
        0x49, 0x2D, 0xB2, 0xB2, 0x72, 0x4E, 0xCC, 0xC9, 0xB1, 0x52, 0xA8, 0x18, 0x05, 0xA3, 0x60, 0x14, 0x8C, 0x82,
        0x51, 0x30, 0x0A, 0x46, 0xC1, 0x90, 0x07, 0x5C, 0x00, 0xB3, 0x0A, 0xEF, 0x65, 0xF5, 0x07, 0x00, 0x00,
    ]

    @Test(arguments: TransportKind.allCases)
    func compressedBodiesDecodeTheSameAboveThePort(kind: TransportKind) async throws {
        try await Endpoint.with(kind) { endpoint in
            await endpoint.master.route("POST", "/api/v1/scheduler") { _ in
                .bytes(400, headers: ["Content-Type": "text/plain; charset=utf-8", "Content-Encoding": "gzip"], Self.gzipped)
            }
            var request = try endpoint.request(.subscribe(frameworkInfo: Endpoint.frameworkInfo()))
            request.headers["Accept-Encoding"] = "gzip"
            let (head, body) = try await endpoint.transport.send(request)
            #expect(head.status == 400)
            if kind == .urlSession {
                // FoundationNetworking decodes gzip itself; the adapter then drops the header so that the head
                // describes the body it hands over (see the MesosTransport contract).
                #expect(head.headers["Content-Encoding"] == nil)
            } else {
                #expect(head.headers["Content-Encoding"] == "gzip")
            }
            // Above the port, every transport gives the same decoded text.
            let (decodedHead, decodedBody) = try head.decodingContent(of: body)
            #expect(decodedHead.headers["Content-Encoding"] == nil)
            let text = String(decoding: try await decodedBody.collect(upTo: 1 << 20), as: UTF8.self)
            #expect(text.hasPrefix("Failed to validate scheduler::Call: xxx") && text.utf8.count == 2037)
        }
    }

    @Test(arguments: TransportKind.allCases)
    func headersAndBodiesGoThroughUnchanged(kind: TransportKind) async throws {
        try await Endpoint.with(kind) { endpoint in
            // Keep the subscription open (dropping its body would unsubscribe the framework).
            let (head, frameworkID, events) = try await endpoint.subscribe()
            defer { withExtendedLifetime(events) {} }
            let streamID = try #require(head.headers["Mesos-Stream-Id"])
            #expect(head.headers["Content-Type"] == "application/json")
            var request = try endpoint.request(.revive(roles: ["a/b"], frameworkID: frameworkID), streamID: streamID)
            request.headers["X-Conformance"] = "value with spaces; and=symbols"
            let (answer, body) = try await endpoint.transport.send(request)
            #expect(answer.status == 202)
            #expect(try await body.collect(upTo: 1024).isEmpty)
            let recorded = try #require(await endpoint.master.receivedCalls.last)
            #expect(recorded.request.method == "POST")
            #expect(recorded.request.path == "/api/v1/scheduler")
            #expect(recorded.request.headers["Content-Type"] == "application/json")
            #expect(recorded.request.headers["Mesos-Stream-Id"] == streamID)
            #expect(recorded.request.headers["X-Conformance"] == "value with spaces; and=symbols")
            #expect(recorded.request.body == request.body)
            #expect(recorded.call?.revive.roles == ["a/b"])
        }
    }

    @Test(arguments: TransportKind.allCases)
    func redirectsAndUnavailableAreReturnedAsIs(kind: TransportKind) async throws {
        try await Endpoint.with(kind) { endpoint in
            // The redirect target is a second live master: it must never be contacted.
            let other = FakeMaster()
            let otherServer = try await FakeMasterServer.start(master: other)
            await endpoint.master.inject(.redirect(to: otherServer.hostAndPort), matching: .subscribe)
            await endpoint.master.inject(.noLeader, matching: .subscribe)
            let subscribe = try endpoint.request(.subscribe(frameworkInfo: Endpoint.frameworkInfo()), timeout: .seconds(10))

            let (redirect, redirectBody) = try await endpoint.transport.send(subscribe)
            _ = try await redirectBody.collect(upTo: 1 << 20)
            #expect(redirect.status == 307)
            #expect(redirect.headers["Location"] == "//\(otherServer.hostAndPort)/api/v1/scheduler")

            let (unavailable, unavailableBody) = try await endpoint.transport.send(subscribe)
            #expect(unavailable.status == 503)
            #expect(String(decoding: try await unavailableBody.collect(upTo: 1 << 20), as: UTF8.self) == "No leader elected")

            #expect(await other.receivedRequests.isEmpty)
            try await otherServer.shutdown()
        }
    }
}
}
