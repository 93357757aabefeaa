import MesosCore
import MesosTestKit
import Testing

/// In memory, a streamed body is produced at the consumer's pace.
@Suite struct InMemoryBackpressureTests {
    @Test func theProducerWaitsForTheConsumer() async throws {
        try await Harness.with(.inMemory) { harness in
            let chunk = ArraySlice(repeating: UInt8(ascii: "x"), count: 64 << 10)
            await harness.master.route("GET", "/firehose") { _ in
                .stream { writer in
                    for _ in 0..<1000 { try await writer.write(chunk) }
                }
            }
            let (_, body) = try await harness.transport.send(
                MesosHTTPRequest(method: "GET", url: harness.baseURL.appending(path: "firehose"))
            )
            try await harness.master.waitUntil { !$0.responseStreams.isEmpty }
            try await Task.sleep(for: .milliseconds(200))
            // One chunk sits in the handoff slot; nothing more is produced until the consumer reads.
            #expect(harness.master.responseStreams[0].writes <= 1)

            var iterator = body.makeAsyncIterator()
            for _ in 0..<10 {
                _ = try await iterator.next()
            }
            try await Task.sleep(for: .milliseconds(100))
            #expect(harness.master.responseStreams[0].writes <= 12)
            #expect(harness.master.responseStreams[0].state == .open)
        }
        // Leaving the scope dropped the body: the producer was told the client went away.
    }

    @Test func droppingAnUnreadBodyClosesTheStream() async throws {
        try await Harness.with(.inMemory) { harness in
            do {
                let (head, _) = try await harness.transport.send(
                    try harness.request(.subscribe(frameworkInfo: Harness.frameworkInfo()))
                )
                #expect(head.status == 200)
            }
            try await harness.master.waitUntil { $0.responseStreams.first?.state == .closedByClient }
            try await harness.master.waitUntil { $0.subscribedFrameworkIDs.isEmpty }
        }
    }
}
