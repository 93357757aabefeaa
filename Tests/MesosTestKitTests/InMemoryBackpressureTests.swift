import MesosCore
import MesosTestKit
import Testing

/// In memory, a streamed body is produced at the consumer's pace.
@Suite struct InMemoryBackpressureTests {
    @Test(.timeLimit(.minutes(1))) func theProducerWaitsForTheConsumer() async throws {
        try await Harness.with(.inMemory) { harness in
            let chunk = ArraySlice(repeating: UInt8(ascii: "x"), count: 64 << 10)
            await harness.master.route("GET", "/firehose") { _ in
                .stream { writer in
                    for _ in 0..<1000 { try await writer.write(chunk) }
                }
            }
            do {
                let (_, body) = try await harness.transport.send(
                    MesosHTTPRequest(method: "GET", url: harness.baseURL.appending(path: "firehose"))
                )
                // Readiness: the producer is observed inside its second write, which cannot complete while
                // nobody reads. One chunk sits in the handoff slot; nothing more is produced.
                try await harness.master.waitUntil(timeout: .seconds(60)) { master in
                    master.responseStreams.first.map { $0.writes >= 1 && $0.isWriting } ?? false
                }
                #expect(harness.master.responseStreams[0].writes == 1)

                var iterator = body.makeAsyncIterator()
                for _ in 0..<10 {
                    #expect(try await iterator.next()?.count == chunk.count)
                }
                // Ten chunks read: the producer refilled the slot once per read and is blocked again.
                try await harness.master.waitUntil(timeout: .seconds(60)) { master in
                    master.responseStreams[0].writes >= 11 && master.responseStreams[0].isWriting
                }
                #expect(harness.master.responseStreams[0].writes == 11)
                #expect(harness.master.responseStreams[0].state == .open)
            }
            // The body and its iterator are gone: the producer is told the client went away.
            try await harness.master.waitUntil(timeout: .seconds(60)) { $0.responseStreams[0].state == .closedByClient }
            #expect(harness.master.responseStreams[0].writes == 11)
        }
    }

    @Test func droppingAnUnreadBodyClosesTheStream() async throws {
        try await Harness.with(.inMemory) { harness in
            do {
                let (head, _) = try await harness.transport.send(
                    try harness.request(.subscribe(frameworkInfo: Harness.frameworkInfo()))
                )
                #expect(head.status == 200)
            }
            try await harness.master.waitUntil(timeout: .seconds(60)) { $0.responseStreams.first?.state == .closedByClient }
            try await harness.master.waitUntil(timeout: .seconds(60)) { $0.subscribedFrameworkIDs.isEmpty }
        }
    }
}
