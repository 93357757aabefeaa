import Foundation
import MesosCore
import MesosRecordIO
import Testing

@Suite("Codec")
struct CodecTests {
    let json = MesosCodec(.json)
    let proto = MesosCodec(.protobuf)

    @Test("unknown fields at every level are ignored")
    func unknownFieldsIgnored() throws {
        let text = #"{"type":"OFFERS","brand_new":{"x":[1,2]},"offers":{"offers":[{"id":{"value":"o1","extra":1},"# +
            #""hostname":"h","future_field":"yes","resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":1.5}}]}]}}"#
        let event = try json.decodeEvent(Array(text.utf8)[...])
        guard case .offers(let offers) = event else {
            Issue.record("decoded as \(event.typeName)")
            return
        }
        #expect(offers.count == 1 && offers[0].id.value == "o1" && offers[0].resources[0].scalar.value == 1.5)
    }

    @Test("unknown enum values are ignored, not fatal")
    func unknownEnumValuesIgnored() throws {
        let text = #"{"type":"UPDATE","update":{"status":{"task_id":{"value":"t"},"state":"TASK_RUNNING","# +
            #""reason":"REASON_FROM_THE_FUTURE","source":"SOURCE_SOMETHING_NEW"}}}"#
        guard case .update(let status) = try json.decodeEvent(Array(text.utf8)[...]) else {
            Issue.record("not an update")
            return
        }
        #expect(status.state == .taskRunning)
        #expect(!status.hasReason && !status.hasSource)
    }

    @Test("an unknown event type surfaces with its wire name (JSON)")
    func unknownEventTypeJSON() throws {
        let text = #"{"type":"TELEPORTED","teleported":{"where":"mars"}}"#
        let event = try json.decodeEvent(Array(text.utf8)[...])
        #expect(event.typeName == "TELEPORTED")
        guard case .unknown(let unknown) = event else {
            Issue.record("decoded as \(event.typeName)")
            return
        }
        #expect(unknown.type == "TELEPORTED")
    }

    @Test("an unknown event type surfaces with its number (protobuf)")
    func unknownEventTypeProtobuf() throws {
        // field 1 (type) = 42, then field 99 (length-delimited, 2 bytes) that nobody knows.
        let bytes: [UInt8] = [0x08, 42, 0x9A, 0x06, 0x02, 0x01, 0x02]
        let event = try proto.decodeEvent(bytes[...])
        guard case .unknown(let unknown) = event else {
            Issue.record("decoded as \(event.typeName)")
            return
        }
        #expect(unknown.type == "42")
        // Unknown fields survive a re-encode, so nothing is lost.
        #expect(try proto.encode(event.wireMessage) == bytes)
    }

    @Test("64-bit integers are accepted as numbers and as strings; Infinity as a string")
    func numbersAndInfinity() throws {
        let asNumber = #"{"type":"KILL","kill":{"task_id":{"value":"t"},"kill_policy":{"grace_period":{"nanoseconds":30000000000}}}}"#
        let asString = #"{"type":"KILL","kill":{"task_id":{"value":"t"},"kill_policy":{"grace_period":{"nanoseconds":"30000000000"}}}}"#
        let a = try json.decode(SchedulerCall.self, from: Array(asNumber.utf8)[...])
        let b = try json.decode(SchedulerCall.self, from: Array(asString.utf8)[...])
        #expect(a == b && a.kill.killPolicy.gracePeriod.nanoseconds == 30_000_000_000)

        var task = TaskInfo()
        task.limits["cpus"] = .init()
        task.limits["cpus"]?.value = .infinity
        let encoded = String(decoding: try json.encode(task), as: UTF8.self)
        #expect(encoded.contains(#""limits":{"cpus":{"value":"Infinity"}}"#))
        let decoded = try json.decode(TaskInfo.self, from: Array(encoded.utf8)[...])
        #expect(decoded.limits["cpus"]?.value == .infinity)
    }

    @Test("bytes are padded standard base64")
    func base64() throws {
        let call = SchedulerCall.message(
            agentID: AgentID("a"), executorID: ExecutorID("e"), data: Data([0xFB, 0xFF]), frameworkID: FrameworkID("f"))
        let text = String(decoding: try json.encode(call), as: UTF8.self)
        #expect(text.contains(#""data":"+/8=""#))
    }

    @Test("implicit reconcile is encoded with an empty but present sub-message in both encodings")
    func implicitReconcile() throws {
        let call = SchedulerCall.reconcile(frameworkID: FrameworkID("f"))
        let text = String(decoding: try json.encode(call), as: UTF8.self)
        #expect(text.contains(#""reconcile":{}"#))
        let again = try proto.decode(SchedulerCall.self, from: try proto.encode(call)[...])
        #expect(again.hasReconcile)
    }

    @Test("malformed input is a decodingFailed error, never a crash")
    func malformedInput() {
        for garbage in ["", "{", "[]", #"{"type":"OFFERS","offers":{"offers":{}}}"#, "\u{0}\u{1}"] {
            #expect(throws: MesosError(code: .decodingFailed)) { try json.decodeEvent(Array(garbage.utf8)[...]) }
        }
        #expect(throws: MesosError(code: .decodingFailed)) { try proto.decodeEvent([0x0A, 0x05, 0x01][...]) }
    }

    @Test("content types parse from headers and names")
    func contentTypes() {
        #expect(MesosContentType(mediaType: "application/json; charset=utf-8") == .json)
        #expect(MesosContentType(mediaType: "Application/X-Protobuf") == .protobuf)
        #expect(MesosContentType(mediaType: "text/plain") == nil)
        #expect(MesosContentType(name: "protobuf") == .protobuf)
        #expect(MesosContentType.json.mediaType == "application/json")
        #expect(MesosContentType.protobuf.mediaType == "application/x-protobuf")
    }

    @Test("the event sequence maps framing and decoding failures to MesosError")
    func eventSequenceErrors() async throws {
        struct Source: AsyncSequence, Sendable {
            typealias Element = ArraySlice<UInt8>
            let chunks: [[UInt8]]
            struct AsyncIterator: AsyncIteratorProtocol {
                var chunks: [[UInt8]]
                mutating func next() async -> ArraySlice<UInt8>? { chunks.isEmpty ? nil : chunks.removeFirst()[...] }
            }
            func makeAsyncIterator() -> AsyncIterator { AsyncIterator(chunks: chunks) }
        }
        let heartbeat = RecordIOEncoder.encode(Array(#"{"type":"HEARTBEAT"}"#.utf8))
        var events: [SchedulerEvent] = []
        for try await event in Source(chunks: [heartbeat, heartbeat]).schedulerEvents(codec: json) {
            events.append(event)
        }
        #expect(events == [.heartbeat, .heartbeat])

        await #expect(throws: MesosError(code: .streamTruncated)) {
            for try await _ in Source(chunks: [heartbeat, Array(heartbeat.dropLast())]).schedulerEvents(codec: json) {}
        }
        await #expect(throws: MesosError(code: .malformedStream)) {
            for try await _ in Source(chunks: [Array("<html>".utf8)]).schedulerEvents(codec: json) {}
        }
        await #expect(throws: MesosError(code: .recordTooLarge)) {
            for try await _ in Source(chunks: [heartbeat]).schedulerEvents(codec: json, maximumRecordSize: 10) {}
        }
        await #expect(throws: MesosError(code: .decodingFailed)) {
            for try await _ in Source(chunks: [RecordIOEncoder.encode(Array("{nope".utf8))]).schedulerEvents(codec: json) {}
        }
    }
}
