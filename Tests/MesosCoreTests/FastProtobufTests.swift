import Foundation
import SwiftProtobuf
import Testing

@testable import MesosCore

/// The purpose-built protobuf event decoder must give exactly what swift-protobuf gives for every input it
/// accepts (and it may decline any input, which then goes to swift-protobuf).
@Suite struct FastProtobufTests {
    /// Decodes with both; returns whether the fast path accepted the input. Records a failure when the fast
    /// path accepted something swift-protobuf rejects or decodes differently.
    @discardableResult
    static func agree(_ bytes: [UInt8], _ comment: String = "", sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
        let fast = FastEventProtobufDecoder.decode(bytes[...])
        let slow = try? MesosCodec(.protobuf).decode(SchedulerEventMessage.self, from: bytes[...])
        guard let fast else { return false }
        #expect(slow != nil, "the fast path accepted what swift-protobuf rejects \(comment): \(bytes)", sourceLocation: sourceLocation)
        if let slow, slow != fast {
            // NaN scalars are unequal to themselves: compare what both would write instead.
            let same = (try? fast.serializedBytes() as [UInt8]) == (try? slow.serializedBytes() as [UInt8])
            #expect(same, "fast and swift-protobuf differ \(comment): \(bytes)", sourceLocation: sourceLocation)
        }
        return true
    }

    /// The rich OFFERS event of the JSON tests, in protobuf.
    static func richOffers() throws -> [UInt8] {
        let event = try MesosCodec(.json).decode(SchedulerEventMessage.self, from: try FastJSONTests.richOffers()[...])
        return try MesosCodec(.protobuf).encode(event)
    }

    /// Event samples of `samples.json`, re-encoded as protobuf.
    static func protobufSamples() throws -> [String: [UInt8]] {
        var samples: [String: [UInt8]] = [:]
        for (name, json) in try loadSamples() where !callSampleNames.contains(name) {
            let event = try MesosCodec(.json).decode(SchedulerEventMessage.self, from: json[...])
            samples[name] = try MesosCodec(.protobuf).encode(event)
        }
        return samples
    }

    @Test func everySampleAgrees() throws {
        var accepted: Set<String> = []
        for (name, bytes) in try Self.protobufSamples() where Self.agree(bytes, name) {
            accepted.insert(name)
        }
        // The fast path must actually handle the events it is for.
        #expect(accepted.isSuperset(of: ["offers", "heartbeat", "rescind"]), "accepted: \(accepted.sorted())")
    }

    @Test func richOffersTakeTheFastPath() throws {
        let bytes = try Self.richOffers()
        #expect(Self.agree(bytes, "rich offers"))
        let event = try MesosCodec(.protobuf).decodeEvent(bytes[...])
        guard case .offers(let offers) = event else {
            Issue.record("not OFFERS: \(event)")
            return
        }
        #expect(offers.count == 3)
        #expect(offers[0].resources.count == 6)
        #expect(offers[0].resources.last?.set.item == ["a", "b\u{7F}", ""])
        #expect(offers[2].agentID.value == "agent-é-\u{1F600}-2")
    }

    /// Fields written by hand: what the fast path must decline (and swift-protobuf then decides).
    @Test func declinesWhatItDoesNotModel() throws {
        let heartbeat: [UInt8] = [0x08, 0x08]  // type = HEARTBEAT
        #expect(Self.agree(heartbeat, "heartbeat"))
        #expect(Self.agree([], "empty event"))

        let cases: [(String, [UInt8])] = [
            ("an unknown field (kept by swift-protobuf in unknownFields)", heartbeat + [0xF8, 0x07, 0x01]),
            ("a field the fast path does not decode (subscribed)", heartbeat + [0x12, 0x00]),
            ("the type twice", heartbeat + [0x08, 0x02]),
            ("an unknown event type number", [0x08, 0x63]),
            ("a wrong wire type for type", [0x09] + [UInt8](repeating: 0, count: 8)),
            ("a truncated varint", [0x08, 0x88]),
            ("an 11-byte varint", [0x08] + [UInt8](repeating: 0xFF, count: 10) + [0x01]),
            ("field number 0", [0x00, 0x01]),
            // Found by the fuzzer: the type tag spelled in 8 bytes; swift-protobuf takes at most 5.
            ("an over-long tag", [0x88, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00, 0x00]),
            ("a 5-byte tag whose last byte exceeds 15", [0x88, 0x80, 0x80, 0x80, 0x10, 0x00]),
            ("a group", [0x0B, 0x0C]),
            ("a length past the end", [0x1A, 0x05, 0x0A]),
            ("invalid UTF-8 in a rescind id", [0x08, 0x03, 0x22, 0x04, 0x0A, 0x02, 0xC3, 0x28]),
            ("an offer with unavailability", [0x08, 0x02, 0x1A, 0x04, 0x0A, 0x02, 0x4A, 0x00]),
            ("a resource with disk info", [0x08, 0x02, 0x1A, 0x06, 0x0A, 0x04, 0x2A, 0x02, 0x3A, 0x00]),
        ]
        for (comment, bytes) in cases {
            #expect(FastEventProtobufDecoder.decode(bytes[...]) == nil, "accepted \(comment)")
            // The codec still gives swift-protobuf's answer for them.
            let slow = try? MesosCodec(.protobuf).decode(SchedulerEventMessage.self, from: bytes[...])
            let viaCodec = try? MesosCodec(.protobuf).decodeEvent(bytes[...])
            #expect((slow == nil) == (viaCodec == nil), "\(comment)")
        }

        // Valid shapes it does take: a rescind, an offer with an empty id message, a 10-byte varint.
        #expect(Self.agree([0x08, 0x03, 0x22, 0x04, 0x0A, 0x02, 0x0A, 0x00], "rescind with empty id value"))
        #expect(Self.agree([0x08, 0x02, 0x1A, 0x04, 0x0A, 0x02, 0x0A, 0x00], "offer with an empty id"))
        #expect(Self.agree([0x08, 0x02, 0x1A, 0x00], "offers without offers"))
        #expect(Self.agree([0x08] + [0x88] + [UInt8](repeating: 0x80, count: 8) + [0x01], "a 10-byte varint"))
        #expect(Self.agree([0x88, 0x80, 0x80, 0x80, 0x00, 0x08], "a tag spelled in 5 bytes"))
    }

    @Test func mutatedInputsAgree() async throws {
        var seeds = [try Self.richOffers()]
        if let offers = try Self.protobufSamples()["offers"] {
            seeds.append(offers)
        }
        var random = SplitMix64(seed: 0xB1A5_F00D)
        var acceptedCount = 0
        var rejectedCount = 0
        for round in 0..<12_000 {
            // A long CPU-bound loop: let the cooperative pool's other jobs run now and then (on two cores two such
            // tests would otherwise hold every pool thread for seconds, and other suites' timers would fire).
            if round % 256 == 0 { await Task.yield() }
            var bytes = seeds[round % seeds.count]
            for _ in 0...Int(random.next() % 3) {
                let position = Int(random.next() % UInt64(bytes.count))
                switch random.next() % 5 {
                case 0: bytes[position] = UInt8(truncatingIfNeeded: random.next())
                case 1: bytes.remove(at: position)
                case 2: bytes.insert(UInt8(truncatingIfNeeded: random.next()), at: position)
                case 3:
                    let length = min(Int(random.next() % 40), bytes.count - position)
                    bytes.insert(contentsOf: bytes[position..<(position + length)], at: position)
                default:
                    bytes[position] ^= 1 << UInt8(random.next() % 8)
                }
                if bytes.isEmpty { break }
            }
            if Self.agree(bytes, "mutation round \(round)") {
                acceptedCount += 1
            } else {
                rejectedCount += 1
            }
        }
        // Mutations inside strings and numbers stay valid and must take the fast path; structural ones must not.
        #expect(acceptedCount > 120, "accepted \(acceptedCount)")
        #expect(rejectedCount > 300)
    }
}
