// libFuzzer target for event decoding (JSON and protobuf) behind the RecordIO framing. Build with scripts/fuzz.sh.
import MesosCore
import MesosRecordIO

/// The first byte picks the encoding; the rest is decoded as one event record and, if that works, re-encoded
/// and decoded again. Any input must give an event or a typed error, never a crash.
func fuzzEvents(_ bytes: UnsafeRawBufferPointer) {
    let input = [UInt8](bytes)
    guard let first = input.first else { return }
    let codec = MesosCodec(first & 1 == 0 ? .json : .protobuf)
    let record = input[1...]
    guard let event = try? codec.decodeEvent(record) else { return }
    _ = event.typeName
    if case .unknown = event { return }
    guard let encoded = try? codec.encode(event.wireMessage) else { return }
    guard let again = try? codec.decodeEvent(encoded[...]) else {
        preconditionFailure("a re-encoded event no longer decodes")
    }
    precondition(again.typeName == event.typeName, "the event type changed in a round trip")
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
