import Foundation
import Testing

@testable import MesosCore

/// The purpose-built JSON event decoder must give exactly what swift-protobuf gives for every input it
/// accepts (and it may decline any input, which then goes to swift-protobuf).
@Suite struct FastJSONTests {
    /// Decodes with both; returns whether the fast path accepted the input. Records a failure when the fast
    /// path accepted something swift-protobuf rejects or decodes differently.
    @discardableResult
    static func agree(_ bytes: [UInt8], _ comment: String = "", sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
        let fast = FastEventJSONDecoder.decode(bytes[...])
        let slow = try? MesosCodec(.json).decode(SchedulerEventMessage.self, from: bytes[...])
        guard let fast else { return false }
        #expect(
            slow == fast,
            "fast and swift-protobuf differ \(comment): \(String(decoding: bytes, as: UTF8.self))",
            sourceLocation: sourceLocation
        )
        return true
    }

    /// A rich OFFERS event written by swift-protobuf itself: several offers, every resource kind, escapes and
    /// non-ASCII text.
    static func richOffers() throws -> [UInt8] {
        var event = SchedulerEventMessage()
        event.type = .offers
        for index in 0..<3 {
            var offer = Offer()
            offer.id.value = "offer-\(index)"
            offer.frameworkID.value = "fw \"quoted\" \\ slash"
            offer.agentID.value = "agent-é-\u{1F600}-\(index)"
            offer.hostname = "host\(index).example.com"
            offer.url.scheme = "http"
            offer.url.address.hostname = "host\(index)"
            offer.url.address.ip = "10.0.0.\(index)"
            offer.url.address.port = Int32(5051 + index)
            offer.url.path = "/slave(1)"
            var parameter = Parameter()
            parameter.key = "k"
            parameter.value = "v\n\t"
            offer.url.query = [parameter]
            offer.url.fragment = "frag"
            for (name, amount) in [("cpus", 0.1), ("mem", 1e-7), ("disk", 123_456_789.125), ("gpus", 0)] {
                var resource = Resource()
                resource.name = name
                resource.type = .scalar
                resource.scalar.value = amount
                resource.role = "*"
                resource.allocationInfo.role = "batch/\(index)"
                offer.resources.append(resource)
            }
            var ports = Resource()
            ports.name = "ports"
            ports.type = .ranges
            var range = Value.Range()
            range.begin = 31_000
            range.end = UInt64.max
            ports.ranges.range = [range, range]
            offer.resources.append(ports)
            var set = Resource()
            set.name = "zones"
            set.type = .set
            set.set.item = ["a", "b\u{7F}", ""]
            offer.resources.append(set)
            var text = Attribute()
            text.name = "rack"
            text.type = .text
            text.text.value = "r\u{0001}1"
            var scalar = Attribute()
            scalar.name = "weight"
            scalar.type = .scalar
            scalar.scalar.value = -2.5e300
            offer.attributes = [text, scalar]
            offer.executorIds = [ExecutorID.with { $0.value = "e1" }, ExecutorID.with { $0.value = "e2" }]
            offer.allocationInfo.role = "batch"
            offer.domain.faultDomain.region.name = "eu"
            offer.domain.faultDomain.zone.name = "eu-1"
            event.offers.offers.append(offer)
        }
        return try MesosCodec(.json).encode(event)
    }

    @Test func everySampleAgrees() throws {
        let samples = try loadSamples()
        var accepted: Set<String> = []
        for (name, bytes) in samples where Self.agree(bytes, name) {
            accepted.insert(name)
        }
        // The fast path must actually handle the events it is for.
        #expect(accepted.isSuperset(of: ["offers", "heartbeat", "rescind"]), "accepted: \(accepted.sorted())")
    }

    @Test func streamRecordsAgree() throws {
        let stream = [UInt8](try Data(contentsOf: vectorsDirectory().appendingPathComponent("stream.bin")))
        var records: [[UInt8]] = []
        var index = 0
        while index < stream.count {
            guard let newline = stream[index...].firstIndex(of: 0x0A),
                let length = Int(String(decoding: stream[index..<newline], as: UTF8.self))
            else {
                Issue.record("stream.bin is not RecordIO at byte \(index)")
                return
            }
            records.append(Array(stream[(newline + 1)..<(newline + 1 + length)]))
            index = newline + 1 + length
        }
        #expect(records.count == 4)
        let handled = records.filter { Self.agree($0, "stream.bin") }
        // The heartbeat is on the fast path; the others (subscribed, update, error) go to swift-protobuf.
        #expect(handled.count >= 1)
        // And through the codec, every record decodes exactly as swift-protobuf alone would.
        for record in records {
            let viaCodec = try MesosCodec(.json).decodeEvent(record[...])
            let slow = try MesosCodec(.json).decode(SchedulerEventMessage.self, from: record[...])
            #expect(viaCodec.wireMessage == slow)
        }
    }

    @Test func richOffersTakeTheFastPath() throws {
        let bytes = try Self.richOffers()
        #expect(Self.agree(bytes, "rich offers"))
    }

    @Test func spellingsAndEdgeCases() {
        let cases: [(String, Bool)] = [
            // (input, must the fast path accept it?)
            (#"{"type":"HEARTBEAT"}"#, true),
            (#" { "type" : "OFFERS" , "offers" : { "offers" : [ ] } } "#, true),
            (#"{"type":"RESCIND","rescind":{"offerId":{"value":"o1"}}}"#, true),
            (#"{"type":"OFFERS","offers":{"offers":[{"id":{"value":"o"},"frameworkId":{"value":"f"},"agentId":{"value":"a"},"hostname":"h","allocationInfo":{"role":"r"}}]}}"#, true),
            (#"{"type":"HEARTBEAT","future_field":{"a":[1,2.5e3,-0,true,false,null,"x\u00e9"]}}"#, true),
            (#"{"type":"OFFERS","offers":{"offers":[{"id":{"value":"o","extra":1},"resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":1e2}}]}]}}"#, true),
            (#"{"type":"OFFERS","offers":{"offers":[{"hostname":"😀 \u00e9 \/ \b\f\n\r\t"}]}}"#, true),
            // Escaped surrogate pairs go to swift-protobuf, which combines some of them differently (a fuzzer find:
            // \udBfB\uddfB, \ud87e\udc00); whatever it decodes, the codec then agrees with it.
            (#"{"type":"OFFERS","offers":{"offers":[{"hostname":"\ud83d\ude00"}]}}"#, false),
            (#"{"type":"OFFERS","offers":{"offers":[{"id":{"value":"e\udBfB\uddfBe"}}]}}"#, false),
            (#"{"type":"RESCIND","rescind":{"offer_id":{"value":"\ud87e\udc00"}}}"#, false),
            (#"{"type":"OFFERS","offers":{"offers":[{"resources":[{"name":"c","scalar":{"value":-0.0}}]}]}}"#, true),
            (#"{"type":"OFFERS","offers":{"offers":[{"url":{"address":{"port":-2147483648}}}]}}"#, true),
            (#"{"type":"OFFERS","offers":{"offers":[{"resources":[{"name":"c","reservations":[{"type":"DYNAMIC","role":"r","principal":"p","labels":{"labels":[{"key":"k","value":"v"}]}}]}]}]}}"#, true),
            (#"{"type":"OFFERS","offers":{"offers":[{"resources":[{"name":"p","ranges":{"range":[{"begin":"1","end":2}]}}]}]}}"#, true),
            // Declined: other event types, unhandled fields, null, duplicates, odd spellings, bad JSON.
            (#"{"type":"SUBSCRIBED","subscribed":{"framework_id":{"value":"f"}}}"#, false),
            (#"{"type":"HEARTBEAT","type":"OFFERS"}"#, false),
            (#"{"type":null}"#, false),
            (#"{"type":8}"#, false),
            (#"{"type":"NOT_A_TYPE"}"#, false),
            (#"{"ty\u0070e":"HEARTBEAT"}"#, false),
            (#"{"type":"HEARTBEAT"} x"#, false),
            (#"{"type":"HEARTBEAT",}"#, false),
            (#"{"type":"OFFERS","offers":{"offers":[{"resources":[{"name":"c","scalar":{"value":"1"}}]}]}}"#, false),
            (#"{"type":"OFFERS","offers":{"offers":[{"resources":[{"name":"c","scalar":{"value":1e999}}]}]}}"#, false),
            (#"{"type":"OFFERS","offers":{"offers":[{"resources":[{"name":"c","disk":{}}]}]}}"#, false),
            (#"{"type":"OFFERS","offers":{"offers":[{"unavailability":{}}]}}"#, false),
            (#"{"type":"OFFERS","offers":{"offers":[{"url":{"address":{"port":2147483648}}}]}}"#, false),
            (#"{"type":"OFFERS","offers":{"offers":[{"resources":[{"name":"p","ranges":{"range":[{"begin":" 1"}]}}]}]}}"#, false),
            (#"{"type":"OFFERS","offers":{"offers":[{"resources":[{"name":"p","ranges":{"range":[{"begin":-1}]}}]}]}}"#, false),
            (#"{"type":"OFFERS","offers":{"offers":[{"resources":[{"name":"p","ranges":{"range":[{"begin":18446744073709551616}]}}]}]}}"#, false),
            (#"{"type":"OFFERS","offers":{"offers":[{"hostname":"\ud83d"}]}}"#, false),
            (#"{"type":"OFFERS","offers":{"offers":[{"id":{"value":"o"},"frameworkId":{"value":"f"},"framework_id":{"value":"g"}}]}}"#, false),
            (String(repeating: #"{"x":"#, count: 60) + "1" + String(repeating: "}", count: 60), false),
            // Found by the fuzzer: swift-protobuf rejects a number of 128 characters or more, even in a skipped field.
            (#"{"pe":"# + String(repeating: "7", count: 140) + "}", false),
            (#"{"type":"OFFERS","offers":{"offers":[{"resources":[{"name":"c","scalar":{"value":"# + String(repeating: "1", count: 130) + "}}]}]}}", false),
            ("", false),
        ]
        for (input, mustAccept) in cases {
            let accepted = Self.agree(Array(input.utf8), "edge case")
            if mustAccept {
                #expect(accepted, "the fast path declined \(input)")
            } else {
                #expect(!accepted, "the fast path accepted \(input)")
            }
        }
    }

    @Test func numbersAgree() {
        var random = SplitMix64(seed: 42)
        var numbers = [
            "0", "-0", "0.0", "-0.0", "0.1", "0.30000000000000004", "1e-7", "1E+2", "123456789012345",
            "1234567890123456", "999999999999999.9", "0.0000000000000000000001", "0.00000000000000000000001",
            "1.7976931348623157e308", "5e-324", "9007199254740993", "3.14159265358979323846",
        ]
        for _ in 0..<2_000 {
            let whole = random.next() % 1_000_000_000
            let fraction = random.next() % 1_000_000
            let sign = random.next() % 2 == 0 ? "" : "-"
            numbers.append("\(sign)\(whole).\(String(fraction).prefix(Int(random.next() % 7) + 1))")
        }
        for number in numbers {
            let json = #"{"type":"OFFERS","offers":{"offers":[{"resources":[{"name":"c","scalar":{"value":"#
                + number + "}}]}]}}"
            #expect(Self.agree(Array(json.utf8), "number \(number)"), "the fast path declined \(number)")
        }
    }

    @Test func mutatedInputsAgree() async throws {
        var seeds = [try Self.richOffers()]
        if let offers = try loadSamples()["offers"] {
            seeds.append(offers)
        }
        let alphabet = Array(#"{}[]:,"\ 0123456789.eE-+tfnulrsaxX/éu"#.utf8) + [0x00, 0x1F, 0x80, 0xC3, 0xFF]
        var random = SplitMix64(seed: 0x5EED_F00D)
        var acceptedCount = 0
        for round in 0..<8_000 {
            // A long CPU-bound loop: let the cooperative pool's other jobs run now and then (on two cores two such
            // tests would otherwise hold every pool thread for seconds, and other suites' timers would fire).
            if round % 256 == 0 { await Task.yield() }
            var bytes = seeds[round % seeds.count]
            for _ in 0...Int(random.next() % 3) {
                let position = Int(random.next() % UInt64(bytes.count))
                switch random.next() % 5 {
                case 0: bytes[position] = alphabet[Int(random.next() % UInt64(alphabet.count))]
                case 1: bytes.remove(at: position)
                case 2: bytes.insert(alphabet[Int(random.next() % UInt64(alphabet.count))], at: position)
                case 3:
                    let length = min(Int(random.next() % 40), bytes.count - position)
                    bytes.insert(contentsOf: bytes[position..<(position + length)], at: position)
                default:
                    if bytes[position] >= UInt8(ascii: "0"), bytes[position] <= UInt8(ascii: "9") {
                        bytes[position] = UInt8(ascii: "0") + UInt8(random.next() % 10)
                    }
                }
                if bytes.isEmpty { break }
            }
            if Self.agree(bytes, "mutation round \(round)") {
                acceptedCount += 1
            }
        }
        // Many mutations (a changed digit or letter inside a string) stay valid and must take the fast path.
        #expect(acceptedCount > 40, "accepted \(acceptedCount)")
    }
}
