import Foundation
import MesosCore
import MesosRecordIO
import Testing

/// The repository's copy of the shared wire vectors (override with `$MESOS_VECTORS_DIR`).
func vectorsDirectory() -> URL {
    if let path = ProcessInfo.processInfo.environment["MESOS_VECTORS_DIR"] {
        return URL(fileURLWithPath: path)
    }
    return URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/vectors")
}

/// `samples.json` as name → compact JSON bytes of each message.
func loadSamples() throws -> [String: [UInt8]] {
    let data = try Data(contentsOf: vectorsDirectory().appendingPathComponent("samples.json"))
    let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    var samples: [String: [UInt8]] = [:]
    for (name, value) in object {
        samples[name] = [UInt8](try JSONSerialization.data(withJSONObject: value))
    }
    return samples
}

/// Which samples are calls (what a client sends); the others are events.
let callSampleNames: Set<String> = [
    "subscribe_new", "subscribe_resub", "accept", "ack", "reconcile_explicit", "reconcile_implicit", "decline",
    "suppress", "revive", "kill",
]

/// Brings parsed JSON to a form where Mesos's and swift-protobuf's spellings of the same value compare equal:
/// numbers (and strings holding 64-bit integers) become doubles, and empty arrays are dropped (an empty repeated
/// field is the same as an absent one; Mesos itself omits them).
func canonical(_ value: Any) -> AnyHashable {
    switch value {
    case let dictionary as [String: Any]:
        return dictionary.filter { ($0.value as? [Any])?.isEmpty != true }.mapValues { canonical($0) }
            as [String: AnyHashable]
    case let array as [Any]:
        return array.map { canonical($0) } as [AnyHashable]
    case let flag as Bool where type(of: value) == Bool.self:
        return flag
    case let number as NSNumber:
        #if canImport(Darwin)
        if String(cString: number.objCType) == "c" { return number.boolValue }
        #endif
        return number.doubleValue
    case let string as String:
        if let integer = Int64(string) { return Double(integer) }
        return string
    default:
        return "\(value)"
    }
}

func parseJSON(_ bytes: [UInt8]) throws -> Any {
    try JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
}

@Suite("Wire vectors")
struct WireVectorTests {
    @Test("every sample decodes, re-encodes and decodes again to the same value, in both encodings")
    func samplesRoundTrip() throws {
        let samples = try loadSamples()
        #expect(samples.count == 19)
        for (name, bytes) in samples.sorted(by: { $0.key < $1.key }) {
            for contentType in [MesosContentType.json, .protobuf] {
                let codec = MesosCodec(contentType)
                if callSampleNames.contains(name) {
                    let call = try MesosCodec(.json).decode(SchedulerCall.self, from: bytes[...])
                    let encoded = try codec.encode(call)
                    let again = try codec.decode(SchedulerCall.self, from: encoded[...])
                    #expect(again == call, "call \(name) in \(contentType)")
                    #expect(call.type != .unknown, "call \(name) has a type")
                } else {
                    let event = try MesosCodec(.json).decodeEvent(bytes[...])
                    let encoded = try codec.encode(event.wireMessage)
                    let again = try codec.decodeEvent(encoded[...])
                    #expect(again == event, "event \(name) in \(contentType)")
                    if case .unknown = event { Issue.record("event \(name) decoded as unknown") }
                }
            }
        }
    }

    @Test("JSON we produce has exactly Mesos's keys and values: proto names, enum names, base64")
    func jsonMatchesMesos() throws {
        for (name, bytes) in try loadSamples() {
            let codec = MesosCodec(.json)
            let ours: [UInt8]
            if callSampleNames.contains(name) {
                ours = try codec.encode(try codec.decode(SchedulerCall.self, from: bytes[...]))
            } else {
                ours = try codec.encode(try codec.decodeEvent(bytes[...]).wireMessage)
            }
            #expect(canonical(try parseJSON(ours)) == canonical(try parseJSON(bytes)), "sample \(name): \(String(decoding: ours, as: UTF8.self))")
            let text = String(decoding: ours, as: UTF8.self)
            for camel in ["frameworkId", "frameworkInfo", "offerIds", "taskId", "agentId", "refuseSeconds"] {
                #expect(!text.contains("\"\(camel)\""), "sample \(name) contains lowerCamelCase key \(camel)")
            }
        }
    }

    @Test("stream.bin decodes to exactly its four events")
    func sharedStream() throws {
        let bytes = try [UInt8](Data(contentsOf: vectorsDirectory().appendingPathComponent("stream.bin")))
        let codec = MesosCodec(.json)
        let events = try RecordIODecoder.decodeAll(bytes).map { try codec.decodeEvent($0) }
        #expect(events.count == 4)
        guard events.count == 4 else { return }
        guard case .subscribed(let subscribed) = events[0] else {
            Issue.record("first event is \(events[0].typeName)")
            return
        }
        #expect(subscribed.frameworkID.value == "b3c1d2e4-5f60-4a7b-8c9d-0e1f2a3b4c5d-0007")
        #expect(subscribed.heartbeatIntervalSeconds == 15)
        #expect(subscribed.masterInfo.address.ip == "10.0.0.11")
        #expect(subscribed.masterInfo.port == 5050)
        #expect(events[1] == .heartbeat)
        guard case .update(let status) = events[2] else {
            Issue.record("third event is \(events[2].typeName)")
            return
        }
        #expect(status.state == .taskRunning)
        #expect(status.needsAcknowledgement)
        #expect(status.uuid == Data(base64Encoded: "bSYsgy7uR0aeSwobBvQr2w=="))
        #expect(status.uuid.count == 16)
        #expect(status.containerStatus.executorPid == 20311)
        #expect(events[3] == .error(message: "Rôle 'bätch' not authorized"))
    }

    @Test("the same stream re-encoded as protobuf decodes to the same events")
    func sharedStreamAsProtobuf() throws {
        let bytes = try [UInt8](Data(contentsOf: vectorsDirectory().appendingPathComponent("stream.bin")))
        let json = MesosCodec(.json)
        let proto = MesosCodec(.protobuf)
        let events = try RecordIODecoder.decodeAll(bytes).map { try json.decodeEvent($0) }
        let protoStream = RecordIOEncoder.encode(records: try events.map { try proto.encode($0.wireMessage) })
        let again = try RecordIODecoder.decodeAll(protoStream).map { try proto.decodeEvent($0) }
        #expect(again == events)
    }

    @Test("the ACK built from the sample UPDATE equals the sample ACKNOWLEDGE")
    func acknowledgeFromUpdate() throws {
        let samples = try loadSamples()
        let codec = MesosCodec(.json)
        guard case .update(let status) = try codec.decodeEvent(try #require(samples["update"])[...]) else {
            Issue.record("update sample is not an UPDATE")
            return
        }
        let ack = try SchedulerCall.acknowledge(
            status,
            frameworkID: FrameworkID("b3c1d2e4-5f60-4a7b-8c9d-0e1f2a3b4c5d-0007")
        )
        let expected = try codec.decode(SchedulerCall.self, from: try #require(samples["ack"])[...])
        #expect(ack == expected)
        try ack.validate()
    }
}
