// libFuzzer target for event decoding (JSON and protobuf) behind the RecordIO framing. Build with scripts/fuzz.sh.
// Fuzzing builds are debug builds (testable), so they can reach the internal fast JSON decoder directly.
#if FUZZING
@testable import MesosCore
#else
import MesosCore
#endif
import MesosRecordIO

/// The first byte picks the encoding; the rest is decoded as one event record and, if that works, re-encoded
/// and decoded again. Any input must give an event or a typed error, never a crash.
func fuzzEvents(_ bytes: UnsafeRawBufferPointer) {
    let input = [UInt8](bytes)
    guard let first = input.first else { return }
    let codec = MesosCodec(first & 1 == 0 ? .json : .protobuf)
    let record = input[1...]
    if codec.contentType == .json {
        crossCheckFastJSON(record)
    }
    guard let event = try? codec.decodeEvent(record) else { return }
    _ = event.typeName
    if case .unknown = event { return }
    guard let encoded = try? codec.encode(event.wireMessage) else { return }
    guard let again = try? codec.decodeEvent(encoded[...]) else {
        preconditionFailure("a re-encoded event no longer decodes")
    }
    precondition(again.typeName == event.typeName, "the event type changed in a round trip")
}

/// The purpose-built JSON event decoder (tried first by ``MesosCodec/decodeEvent(_:)``) must give exactly
/// what swift-protobuf gives for every input it accepts; inputs it declines go to swift-protobuf anyway.
func crossCheckFastJSON(_ record: ArraySlice<UInt8>) {
    let codec = MesosCodec(.json)
    let slow = try? codec.decode(SchedulerEventMessage.self, from: record)
    #if FUZZING
    if let fast = FastEventJSONDecoder.decode(record) {
        guard let slow else {
            preconditionFailure("the fast JSON decoder accepted an event swift-protobuf rejects")
        }
        precondition(fast == slow, "the fast JSON decoder and swift-protobuf disagree")
    }
    #endif
    // Through the public API: the codec (fast path first) and swift-protobuf accept the same inputs.
    let viaCodec = try? codec.decodeEvent(record)
    precondition((viaCodec == nil) == (slow == nil), "decodeEvent and swift-protobuf disagree on validity")
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

var argc = CommandLine.argc
var argv = Optional(CommandLine.unsafeArgv)
exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in
    fuzzEvents(UnsafeRawBufferPointer(start: data, count: size))
    return 0
})
#else
print("MesosFuzzEvents is a libFuzzer target; build it with scripts/fuzz.sh (adds -sanitize=fuzzer,address -DFUZZING).")
#endif
