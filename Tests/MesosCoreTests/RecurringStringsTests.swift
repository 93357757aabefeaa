import Foundation
import MesosRecordIO
import SwiftProtobuf
import Testing

@testable import MesosCore

/// The fast decoders share the strings that recur across offers and events (framework and agent ids,
/// hostnames) through one ``RecurringStrings`` per stream reader. Whatever the table holds, every event must
/// decode exactly as swift-protobuf decodes it alone.
@Suite struct RecurringStringsTests {
    /// An OFFERS event whose offers come from `agents` (their ids, hostnames and IPs recur from event to
    /// event), with offer ids that are new every time.
    static func offers(event: Int, agents: [Int]) -> SchedulerEventMessage {
        var message = SchedulerEventMessage()
        message.type = .offers
        for (position, agent) in agents.enumerated() {
            var offer = Offer()
            offer.id.value = "5e0b8c1a-7f0e-4d55-b1b2-0c2e6a9d7f10-O\(event * 100 + position)"
            offer.frameworkID.value = "5e0b8c1a-7f0e-4d55-b1b2-0c2e6a9d7f10-000\(event % 2)"
            offer.agentID.value = "9a4f0e55-2b7c-4c1d-8e3f-77aa01b2c3d4-S\(agent)"
            offer.hostname = agent % 3 == 0 ? "n\(agent)" : "agent-\(agent).rack-\(agent % 5).example.com"
            offer.url.scheme = "http"
            offer.url.address.hostname = offer.hostname
            offer.url.address.ip = "10.200.\(agent / 256).\(agent % 256)"
            offer.url.address.port = 5051
            var cpus = Resource()
            cpus.name = "cpus"
            cpus.type = .scalar
            cpus.scalar.value = Double(agent)
            offer.resources = [cpus]
            // Runs of resources and attributes that recur per agent, change with the event for some agents (a
            // task started there), and differ in length: hits, misses and replaced slots of the run tables.
            if agent % 2 == 0 {
                var mem = Resource()
                mem.name = "mem"
                mem.type = .scalar
                mem.scalar.value = Double(1024 * (agent % 7 == 0 ? event % 3 : 1))
                offer.resources.append(mem)
                var ports = Resource()
                ports.name = "ports"
                ports.type = .ranges
                var range = Value.Range()
                range.begin = 31_000
                range.end = UInt64(31_000 + agent)
                ports.ranges.range = [range]
                offer.resources.append(ports)
            }
            if agent % 4 != 3 {
                var rack = Attribute()
                rack.name = "rack"
                rack.type = .text
                rack.text.value = "rack-\(agent % 5)"
                offer.attributes.append(rack)
                if agent % 4 == 1 {
                    var zone = Attribute()
                    zone.name = "zone"
                    zone.type = .scalar
                    zone.scalar.value = Double(agent % 3)
                    offer.attributes.append(zone)
                }
            }
            message.offers.offers.append(offer)
        }
        return message
    }

    /// Events from 100 agents (more than the table's slots, so strings replace each other and collide),
    /// in both encodings, decoded in one sequence with one table, as a stream reader does.
    @Test(arguments: [MesosContentType.protobuf, .json])
    func aSharedTableDecodesEveryEventAsSwiftProtobuf(_ contentType: MesosContentType) throws {
        let codec = MesosCodec(contentType)
        var random = SplitMix64(seed: 0x5EED_0016)
        var strings = RecurringStrings()
        var fastPath = 0
        for event in 0..<400 {
            let agents = (0..<Int(random.next() % 6)).map { _ in Int(random.next() % 100) }
            let message = Self.offers(event: event, agents: agents)
            let bytes = try codec.encode(message)
            let expected = try codec.decode(SchedulerEventMessage.self, from: bytes[...])
            let fast =
                contentType == .json
                ? FastEventJSONDecoder.decode(bytes[...], strings: &strings)
                : FastEventProtobufDecoder.decode(bytes[...], strings: &strings)
            if let fast {
                fastPath += 1
                #expect(fast == expected, "event \(event) from agents \(agents)")
            }
            // Through the codec, as the typed event (an OFFERS event without offers comes back with an empty
            // `offers` message, as it always has: compare with the typed event of swift-protobuf's decoding).
            let viaCodec = try codec.decodeEvent(bytes[...], strings: &strings)
            #expect(viaCodec.wireMessage == SchedulerEvent(expected).wireMessage, "event \(event) through the codec")
        }
        #expect(fastPath == 400)
    }

    /// A whole stream of such events through both stream readers (the sequential one keeps a
    /// ``MesosStreamDecodingState``, the parallel one a table per batch), in chunks of random sizes: every event
    /// equals swift-protobuf's decoding of its record.
    @Test(arguments: [MesosContentType.protobuf, .json])
    func streamReadersDecodeAsSwiftProtobuf(_ contentType: MesosContentType) async throws {
        let codec = MesosCodec(contentType)
        var random = SplitMix64(seed: 0xA6E7_0016)
        var bytes: [UInt8] = []
        var expected: [SchedulerEventMessage] = []
        for event in 0..<300 {
            let agents = (0..<Int(1 + random.next() % 5)).map { _ in Int(random.next() % 60) }
            let record = try codec.encode(Self.offers(event: event, agents: agents))
            expected.append(try codec.decode(SchedulerEventMessage.self, from: record[...]))
            bytes += RecordIOEncoder.encode(record)
        }
        let chunks = ParallelEventSequenceTests.chunks(bytes, seed: 16)
        var sequential: [SchedulerEventMessage] = []
        for try await event in ParallelEventSequenceTests.upstream(chunks).schedulerEvents(codec: codec) {
            sequential.append(event.wireMessage)
        }
        #expect(sequential == expected)
        var parallel: [SchedulerEventMessage] = []
        let upstream = ParallelEventSequenceTests.upstream(chunks)
        for try await event in upstream.schedulerEvents(codec: codec, decodingConcurrency: 2) {
            parallel.append(event.wireMessage)
        }
        #expect(parallel == expected)
        // And record by record with one state, as a reader without the sequences would.
        var state = MesosStreamDecodingState()
        var index = 0
        var decoder = RecordIODecoder()
        decoder.append(bytes)
        while let record = try decoder.next() {
            #expect(try codec.decodeEvent(record, state: &state).wireMessage == expected[index])
            index += 1
        }
        #expect(index == expected.count)
    }

    /// Mutated events (the fast decoders' fuzz-ish inputs) through one shared table: a string the table
    /// holds must never stand in for different bytes, whatever came before.
    @Test func mutatedInputsAgreeWithASharedTable() async throws {
        var seeds: [[UInt8]] = [try FastProtobufTests.richOffers()]
        for event in 0..<4 {
            seeds.append(try MesosCodec(.protobuf).encode(Self.offers(event: event, agents: [1, 2, 3, 4])))
        }
        var random = SplitMix64(seed: 0xD1FF_0016)
        var strings = RecurringStrings()
        var accepted = 0
        for round in 0..<10_000 {
            // A long CPU-bound loop: let the cooperative pool's other jobs run now and then (on two cores two such
            // tests would otherwise hold every pool thread for seconds, and other suites' timers would fire).
            if round % 256 == 0 { await Task.yield() }
            var bytes = seeds[round % seeds.count]
            for _ in 0...Int(random.next() % 2) {
                let position = Int(random.next() % UInt64(bytes.count))
                switch random.next() % 3 {
                case 0: bytes[position] ^= 1 << UInt8(random.next() % 8)
                case 1: bytes[position] = UInt8(ascii: "a") + UInt8(random.next() % 26)
                default: bytes[position] = UInt8(truncatingIfNeeded: random.next())
                }
            }
            guard let fast = FastEventProtobufDecoder.decode(bytes[...], strings: &strings) else { continue }
            accepted += 1
            let slow = try? MesosCodec(.protobuf).decode(SchedulerEventMessage.self, from: bytes[...])
            #expect(slow != nil, "the fast path accepted what swift-protobuf rejects: round \(round)")
            if let slow, slow != fast {
                let same = (try? fast.serializedBytes() as [UInt8]) == (try? slow.serializedBytes() as [UInt8])
                #expect(same, "fast (shared table) and swift-protobuf differ: round \(round)")
            }
        }
        #expect(accepted > 500, "accepted \(accepted)")
    }

    /// The same with JSON: mutated text through one shared table (strings and runs of resources and attributes)
    /// never decodes to anything but what swift-protobuf makes of it.
    @Test func mutatedJSONAgreesWithASharedTable() async throws {
        var seeds: [[UInt8]] = []
        for event in 0..<4 {
            seeds.append(try MesosCodec(.json).encode(Self.offers(event: event, agents: [2, 4, 1, 2, 5])))
        }
        var random = SplitMix64(seed: 0x150F_0016)
        var strings = RecurringStrings()
        var accepted = 0
        var mutatedAccepted = 0
        for round in 0..<1_500 {
            // A long CPU-bound loop: let the cooperative pool's other jobs run now and then (on two cores two such
            // tests would otherwise hold every pool thread for seconds, and other suites' timers would fire).
            if round % 256 == 0 { await Task.yield() }
            var bytes = seeds[round % seeds.count]
            let mutate = round % 3 != 0  // every third is intact: the tables fill with good runs
            if mutate {
                let position = Int(random.next() % UInt64(bytes.count))
                switch random.next() % 3 {
                case 0: bytes[position] ^= 1 << UInt8(random.next() % 8)
                case 1: bytes[position] = UInt8(ascii: "0") + UInt8(random.next() % 10)
                default: bytes[position] = [UInt8(ascii: "]"), UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "}")][Int(random.next() % 4)]
                }
            }
            guard let fast = FastEventJSONDecoder.decode(bytes[...], strings: &strings) else { continue }
            accepted += 1
            if mutate { mutatedAccepted += 1 }
            let slow = try? MesosCodec(.json).decode(SchedulerEventMessage.self, from: bytes[...])
            #expect(slow != nil, "the fast path accepted what swift-protobuf rejects: round \(round)")
            if let slow {
                #expect(slow == fast, "fast (shared table) and swift-protobuf differ: round \(round)")
            }
        }
        #expect(accepted > 500 && mutatedAccepted > 25, "accepted \(accepted), mutated \(mutatedAccepted)")
    }

    /// The table itself: a hit is the same string, other bytes of the same length or slot are misses.
    @Test func lookUpComparesEveryByte() {
        var strings = RecurringStrings()
        let first = Array("agent-0001.example.com".utf8)
        let other = Array("agent-0002.example.com".utf8)
        first.withUnsafeBufferPointer { bytes in
            let (hit, slot) = strings.lookUp(bytes)
            #expect(hit == nil)
            strings.store(String(decoding: bytes, as: UTF8.self), at: slot)
            #expect(strings.lookUp(bytes).hit == "agent-0001.example.com")
        }
        other.withUnsafeBufferPointer { bytes in
            #expect(strings.lookUp(bytes).hit == nil)
        }
        // Every string stored in the slot of `first` is found only by its own bytes.
        for length in 0..<40 {
            let bytes = [UInt8](repeating: UInt8(ascii: "x"), count: length)
            bytes.withUnsafeBufferPointer { buffer in
                let (_, slot) = strings.lookUp(buffer)
                strings.store(String(decoding: buffer, as: UTF8.self), at: slot)
                #expect(strings.lookUp(buffer).hit?.utf8.count == length)
                guard length > 0 else { return }
                let shorter = UnsafeBufferPointer(rebasing: buffer.dropLast())
                if let hit = strings.lookUp(shorter).hit {
                    #expect(hit.utf8.count == length - 1)
                }
            }
        }
    }
}

/// The run tables: a hit needs the very same bytes; a recurring run decodes to the array decoded the first time.
@Suite struct RecurringRunsTests {
    @Test func aHitNeedsTheSameBytes() {
        var runs = RecurringRuns<[Int]>()
        let first: [UInt8] = Array(repeating: 0x2A, count: 40)
        var second = first
        second[39] = 0x2B
        first.withUnsafeBufferPointer { bytes in
            let (hit, slot) = runs.lookUp(bytes)
            #expect(hit == nil)
            runs.store([1, 2, 3], bytes: bytes, at: slot)
            #expect(runs.lookUp(bytes).hit == [1, 2, 3])
        }
        second.withUnsafeBufferPointer { bytes in
            #expect(runs.lookUp(bytes).hit == nil)
        }
        first.dropLast().withUnsafeBufferPointer { bytes in
            #expect(runs.lookUp(bytes).hit == nil)
        }
    }

    @Test func recurringOffersShareTheirResourcesAndAttributes() throws {
        let codec = MesosCodec(.protobuf)
        var strings = RecurringStrings()
        let bytes = try codec.encode(RecurringStringsTests.offers(event: 1, agents: [2, 2]))
        guard let event = FastEventProtobufDecoder.decode(bytes[...], strings: &strings) else {
            Issue.record("not on the fast path")
            return
        }
        #expect(event == (try codec.decode(SchedulerEventMessage.self, from: bytes[...])))
        let offers = event.offers.offers
        #expect(offers.count == 2 && offers[0].resources.count == 3 && offers[0].attributes.count == 1)
        // The second offer's arrays are the first's (one buffer), not decoded again.
        offers[0].resources.withUnsafeBufferPointer { first in
            offers[1].resources.withUnsafeBufferPointer { second in
                #expect(first.baseAddress == second.baseAddress)
            }
        }
        offers[0].attributes.withUnsafeBufferPointer { first in
            offers[1].attributes.withUnsafeBufferPointer { second in
                #expect(first.baseAddress == second.baseAddress)
            }
        }
    }
}
