// libFuzzer target for event decoding (JSON or protobuf, per FUZZ_ENCODING). Build and run with scripts/fuzz.sh.
// Fuzzing builds are debug builds (testable), so they can reach the internal fast decoders directly.
#if FUZZING
@testable import MesosCore
#else
import MesosCore
#endif
import Foundation
import MesosRecordIO
import SwiftProtobuf

/// The encoding under test, from `FUZZ_ENCODING` (`json`, the default, or `protobuf`): scripts/fuzz.sh runs
/// the target once per encoding, each with its own corpus.
let fuzzCodec = MesosCodec(ProcessInfo.processInfo.environment["FUZZ_ENCODING"] == "protobuf" ? .protobuf : .json)

/// Each input is one event record. Any input must give an event or a typed error, never a crash; a decoded
/// event must survive a round trip; the purpose-built decoder must agree with swift-protobuf.
func fuzzEvents(_ bytes: UnsafeRawBufferPointer) {
    let record = [UInt8](bytes)[...]
    crossCheckFastPath(record, codec: fuzzCodec)
    guard let event = try? fuzzCodec.decodeEvent(record) else { return }
    _ = event.typeName
    if case .unknown = event { return }
    guard let encoded = try? fuzzCodec.encode(event.wireMessage) else { return }
    guard let again = try? fuzzCodec.decodeEvent(encoded[...]) else {
        preconditionFailure("a re-encoded event no longer decodes")
    }
    precondition(again.typeName == event.typeName, "the event type changed in a round trip")
}

/// The purpose-built event decoders (tried first by ``MesosCodec/decodeEvent(_:)``) must give exactly what
/// swift-protobuf gives for every input they accept; inputs they decline go to swift-protobuf anyway.
func crossCheckFastPath(_ record: ArraySlice<UInt8>, codec: MesosCodec) {
    let slow = try? codec.decode(SchedulerEventMessage.self, from: record)
    #if FUZZING
    let fast = codec.contentType == .json ? FastEventJSONDecoder.decode(record) : FastEventProtobufDecoder.decode(record)
    if let fast {
        guard let slow else {
            preconditionFailure("the fast \(codec.contentType) decoder accepted an event swift-protobuf rejects")
        }
        // NaN scalars are unequal to themselves: then compare what both would write.
        precondition(
            fast == slow || (try? fast.serializedBytes() as [UInt8]) == (try? slow.serializedBytes() as [UInt8]),
            "the fast \(codec.contentType) decoder and swift-protobuf disagree"
        )
    }
    #endif
    // Through the public API: the codec (fast path first) and swift-protobuf accept the same inputs.
    let viaCodec = try? codec.decodeEvent(record)
    precondition((viaCodec == nil) == (slow == nil), "decodeEvent and swift-protobuf disagree on validity")
}

/// `FUZZ_WRITE_SEEDS=DIR FUZZ_SAMPLES=samples.json`: writes the event samples in the encoding under test as
/// seed files; the caller then exits with the returned status (scripts/fuzz.sh seeds the protobuf corpus this way).
func writeSeedsIfAsked() -> Int32? {
    let environment = ProcessInfo.processInfo.environment
    guard let directory = environment["FUZZ_WRITE_SEEDS"], let samplesPath = environment["FUZZ_SAMPLES"] else {
        return nil
    }
    do {
        let data = try Data(contentsOf: URL(fileURLWithPath: samplesPath))
        guard let samples = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            print("FUZZ_SAMPLES is not a JSON object")
            return 1
        }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var written = 0
        for (name, sample) in samples {
            let json = try JSONSerialization.data(withJSONObject: sample)
            // Calls are in the samples too; only what decodes as an event with a known type is a seed.
            guard let event = try? MesosCodec(.json).decode(SchedulerEventMessage.self, from: [UInt8](json)[...]),
                event.type != .unknown
            else { continue }
            let bytes = try fuzzCodec.encode(event)
            try Data(bytes).write(to: URL(fileURLWithPath: directory).appendingPathComponent(name))
            written += 1
        }
        print("wrote \(written) \(fuzzCodec.contentType) seeds to \(directory)")
        return 0
    } catch {
        print("writing seeds failed: \(error)")
        return 1
    }
}

#if FUZZING
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
) -> Int32

/// The entry point libFuzzer's runtime expects to find.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    fuzzEvents(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

if let status = writeSeedsIfAsked() {
    exit(status)
}
var argc = CommandLine.argc
var argv = Optional(CommandLine.unsafeArgv)
exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in
    fuzzEvents(UnsafeRawBufferPointer(start: data, count: size))
    return 0
})
#else
print("MesosFuzzEvents is a libFuzzer target; build it with scripts/fuzz.sh (adds -sanitize=fuzzer,address -DFUZZING).")
#endif
