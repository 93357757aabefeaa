import Foundation
import MesosRecordIO
import Synchronization
import Testing

@testable import MesosCore

/// `schedulerEvents(codec:decodingConcurrency:)`: decoding on several tasks must not change what the consumer
/// sees (order, errors and their position), must stay bounded, and must stop reading when the consumer goes.
@Suite("Parallel event decoding")
struct ParallelEventSequenceTests {
    /// `count` events (OFFERS with distinct ids, HEARTBEATs, RESCINDs) framed as RecordIO.
    static func stream(_ count: Int, codec: MesosCodec) throws -> (bytes: [UInt8], events: [SchedulerEventMessage]) {
        var bytes: [UInt8] = []
        var events: [SchedulerEventMessage] = []
        for index in 0..<count {
            var event = SchedulerEventMessage()
            switch index % 3 {
            case 0:
                event.type = .offers
                var offer = Offer()
                offer.id.value = "offer-\(index)"
                offer.hostname = "host-\(index)"
                event.offers.offers = [offer]
            case 1:
                event.type = .heartbeat
            default:
                event.type = .rescind
                event.rescind.offerID.value = "offer-\(index - 2)"
            }
            events.append(event)
            bytes += RecordIOEncoder.encode(try codec.encode(event))
        }
        return (bytes, events)
    }

    /// The bytes as chunks of pseudo-random sizes.
    static func chunks(_ bytes: [UInt8], seed: UInt64, maximum: Int = 700) -> [ArraySlice<UInt8>] {
        var random = SplitMix64(seed: seed)
        var chunks: [ArraySlice<UInt8>] = []
        var index = 0
        while index < bytes.count {
            let size = min(bytes.count - index, 1 + Int(random.next() % UInt64(maximum)))
            chunks.append(bytes[index..<(index + size)])
            index += size
        }
        return chunks
    }

    /// Chunks delivered by an `AsyncThrowingStream`, optionally ending with `failure`.
    static func upstream(_ chunks: [ArraySlice<UInt8>], failure: MesosError? = nil) -> AsyncThrowingStream<ArraySlice<UInt8>, any Error> {
        AsyncThrowingStream { continuation in
            for chunk in chunks { continuation.yield(chunk) }
            continuation.finish(throwing: failure)
        }
    }

    /// Everything the sequence gives, and the error it ends with.
    static func drain(
        _ upstream: AsyncThrowingStream<ArraySlice<UInt8>, any Error>,
        codec: MesosCodec,
        concurrency: Int
    ) async -> ([SchedulerEventMessage], MesosError?) {
        var events: [SchedulerEventMessage] = []
        do {
            for try await event in upstream.schedulerEvents(codec: codec, decodingConcurrency: concurrency) {
                events.append(event.wireMessage)
            }
            return (events, nil)
        } catch {
            // The sequence throws MesosError only (typed throws).
            return (events, error)
        }
    }

    @Test("events arrive complete and in stream order, whatever the chunking and concurrency",
          arguments: [1, 2, 4, 8])
    func order(concurrency: Int) async throws {
        for codec in [MesosCodec(.protobuf), MesosCodec(.json)] {
            let (bytes, expected) = try Self.stream(3_000, codec: codec)
            let (events, error) = await Self.drain(
                Self.upstream(Self.chunks(bytes, seed: UInt64(concurrency))), codec: codec, concurrency: concurrency)
            #expect(error == nil)
            #expect(events.count == expected.count)
            #expect(events == expected)
        }
    }

    @Test("a malformed record ends the stream at its position, after every event before it")
    func malformedRecord() async throws {
        let codec = MesosCodec(.json)
        let (good, expected) = try Self.stream(500, codec: codec)
        let bad = RecordIOEncoder.encode(Array(#"{"type":"#.utf8))
        let (more, _) = try Self.stream(100, codec: codec)
        let bytes = good + bad + more
        for concurrency in [1, 3] {
            let (events, error) = await Self.drain(
                Self.upstream(Self.chunks(bytes, seed: 7)), codec: codec, concurrency: concurrency)
            #expect(events == expected)
            #expect(error?.code == .decodingFailed)
        }
    }

    @Test("framing errors and transport failures keep their codes and come after the events before them")
    func streamErrors() async throws {
        let codec = MesosCodec(.protobuf)
        let (bytes, expected) = try Self.stream(200, codec: codec)
        // Cut inside the last record: truncated.
        let (truncated, truncatedError) = await Self.drain(
            Self.upstream(Self.chunks(Array(bytes.dropLast(3)), seed: 3)), codec: codec, concurrency: 2)
        #expect(truncated == Array(expected.dropLast()))
        #expect(truncatedError?.code == .streamTruncated)
        // Not RecordIO at all.
        let (garbage, garbageError) = await Self.drain(
            Self.upstream([Array("12x\n".utf8)[...]]), codec: codec, concurrency: 2)
        #expect(garbage.isEmpty)
        #expect(garbageError?.code == .malformedStream)
        // The transport fails after the whole records.
        let failure = MesosError(code: .transportFailure, message: "connection reset")
        let (cut, cutError) = await Self.drain(
            Self.upstream(Self.chunks(bytes, seed: 5), failure: failure), codec: codec, concurrency: 2)
        #expect(cut == expected)
        #expect(cutError == failure)
        // The same through the sequential sequence, for comparison.
        var sequential: [SchedulerEventMessage] = []
        do {
            for try await event in Self.upstream(Self.chunks(bytes, seed: 5), failure: failure).schedulerEvents(codec: codec) {
                sequential.append(event.wireMessage)
            }
        } catch {
            #expect(error == failure)
        }
        #expect(sequential == cut)
    }

    /// How many chunks must be read before the first `events` records are complete.
    static func chunksNeeded(for events: Int, recordEnds: [Int], chunks: [ArraySlice<UInt8>]) -> Int {
        var read = 0
        for (index, chunk) in chunks.enumerated() {
            read += chunk.count
            if read >= recordEnds[events - 1] { return index + 1 }
        }
        return chunks.count
    }

    @Test("nothing is read ahead of the consumer beyond the chunk that completed the records it is taking")
    func backpressure() async throws {
        let codec = MesosCodec(.protobuf)
        let (bytes, _) = try Self.stream(3_000, codec: codec)
        var recordEnds: [Int] = []
        var framer = RecordIODecoder()
        var offset = 0
        for chunk in Self.chunks(bytes, seed: 1, maximum: 1) {  // one byte at a time: where each record ends
            framer.append(chunk)
            offset += chunk.count
            while try framer.next() != nil { recordEnds.append(offset) }
        }
        #expect(recordEnds.count == 3_000)
        let chunks = Self.chunks(bytes, seed: 11, maximum: 64)  // about 4 records per chunk at most
        let pulled = SharedCount()
        let counting = Self.upstream(chunks).map { chunk -> ArraySlice<UInt8> in
            pulled.value.add(1, ordering: .relaxed)
            return chunk
        }
        var iterator = MesosResponseBody(counting).schedulerEvents(codec: codec, decodingConcurrency: 2).makeAsyncIterator()
        var taken = 0
        for target in [1, 2, 12, 100] {
            while taken < target, try await iterator.next() != nil { taken += 1 }
            // The consumer pulls a chunk only when no complete record is left, so the chunks read are exactly
            // those that complete the records taken (or, after a whole batch, the next one's).
            let needed = Self.chunksNeeded(for: taken, recordEnds: recordEnds, chunks: chunks)
            let read = pulled.value.load(ordering: .relaxed)
            #expect(read == needed, "read \(read) chunks for \(taken) events (\(needed) needed)")
        }
        #expect(chunks.count > 200)
    }

    @Test("large batches are split between the consuming task and the helpers; order and errors stay the same",
          arguments: [1, 2, 3])
    func largeBatches(concurrency: Int) async throws {
        for codec in [MesosCodec(.protobuf), MesosCodec(.json)] {
            let (bytes, expected) = try Self.stream(1_000, codec: codec)
            // A few large chunks, as a busy stream arrives: every batch is split.
            var iterator = Self.upstream(Self.chunks(bytes, seed: 9, maximum: 20_000))
                .schedulerEvents(codec: codec, decodingConcurrency: concurrency).makeAsyncIterator()
            var events: [SchedulerEventMessage] = []
            while let event = try await iterator.next() { events.append(event.wireMessage) }
            #expect(events == expected)
            #expect(iterator.splitBatches >= 2)
            #expect((4...14).contains(iterator.helperSixteenths))
            // A malformed record anywhere in one large chunk: the consumer's part, a helper's, the last record.
            let (good, goodEvents) = try Self.stream(300, codec: codec)
            let bad = RecordIOEncoder.encode(Array(#"{"type":"#.utf8))
            var goodRecords: [[UInt8]] = []
            var framer = RecordIODecoder()
            framer.append(good[...])
            while let record = try framer.next() { goodRecords.append(RecordIOEncoder.encode(Array(record))) }
            for position in [0, 5, 150, 299, 300] {
                let stream = goodRecords[..<position].flatMap { $0 } + bad + goodRecords[position...].flatMap { $0 }
                let (got, error) = await Self.drain(Self.upstream([stream[...]]), codec: codec, concurrency: concurrency)
                #expect(got == Array(goodEvents[..<position]), "bad record at \(position)")
                #expect(error?.code == .decodingFailed)
            }
        }
    }

    @Test("cancelling a consumer that waits for the next event ends the wait and stops the upstream")
    func cancellation() async throws {
        let codec = MesosCodec(.protobuf)
        let (bytes, _) = try Self.stream(3, codec: codec)
        let terminated = SharedFlag()
        let (upstream, continuation) = AsyncThrowingStream<ArraySlice<UInt8>, any Error>.makeStream()
        continuation.onTermination = { _ in terminated.value.store(true, ordering: .relaxed) }
        continuation.yield(bytes[...])  // three events, then silence (an idle stream)
        let received = SharedCount()
        let consumer = Task { () -> (Int, MesosError?) in
            var count = 0
            do {
                for try await _ in upstream.schedulerEvents(codec: codec, decodingConcurrency: 2) {
                    count += 1
                    received.value.add(1, ordering: .relaxed)
                }
                return (count, nil)
            } catch {
                return (count, error as? MesosError)
            }
        }
        // Once the three events are in, the consumer waits for a fourth that never comes.
        let arrival = ContinuousClock.now + .seconds(60)
        while received.value.load(ordering: .relaxed) < 3, ContinuousClock.now < arrival {
            try await Task.sleep(for: .milliseconds(5))
        }
        try await Task.sleep(for: .milliseconds(50))
        consumer.cancel()
        let (count, error) = await consumer.value
        #expect(count == 3)
        #expect(error?.code == .cancelled)
        let deadline = ContinuousClock.now + .seconds(60)
        while !terminated.value.load(ordering: .relaxed), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        let stopped = terminated.value.load(ordering: .relaxed)
        #expect(stopped, "the upstream was not terminated")
    }

    @Test("dropping the iterator releases the upstream's iterator (a transport's body then closes its connection)")
    func droppedIterator() async throws {
        let codec = MesosCodec(.protobuf)
        let (bytes, _) = try Self.stream(3, codec: codec)
        let released = SharedFlag()
        do {
            var iterator = DropTrackingUpstream(chunks: [bytes[...]], released: released)
                .schedulerEvents(codec: codec, decodingConcurrency: 2).makeAsyncIterator()
            _ = try await iterator.next()
            let early = released.value.load(ordering: .relaxed)
            #expect(!early)
        }
        let late = released.value.load(ordering: .relaxed)
        #expect(late, "the upstream's iterator is still alive")
    }
}

/// Chunks, then silence; its iterator notes when it is released (as a transport's body notices it was dropped).
struct DropTrackingUpstream: AsyncSequence, Sendable {
    let chunks: [ArraySlice<UInt8>]
    let released: SharedFlag

    final class Token: Sendable {
        let released: SharedFlag
        init(_ released: SharedFlag) { self.released = released }
        deinit { self.released.value.store(true, ordering: .relaxed) }
    }

    struct AsyncIterator: AsyncIteratorProtocol {
        let token: Token
        var chunks: [ArraySlice<UInt8>]

        mutating func next() async throws -> ArraySlice<UInt8>? {
            if !self.chunks.isEmpty { return self.chunks.removeFirst() }
            try await Task.sleep(for: .seconds(3_600))
            return nil
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(token: Token(self.released), chunks: self.chunks)
    }
}

/// An atomic counter shared with escaping closures.
final class SharedCount: Sendable {
    let value = Atomic<Int>(0)
}

/// An atomic flag shared with escaping closures.
final class SharedFlag: Sendable {
    let value = Atomic<Bool>(false)
}
