// libFuzzer target for the RecordIO decoder. Build and run with scripts/fuzz.sh.
import MesosRecordIO

/// Feeds the input to the decoder in pieces whose sizes come from the input itself, so the fuzzer explores
/// chunk boundaries as well as contents. Any input must end in records or a typed error, never a crash.
func fuzzRecordIO(_ bytes: UnsafeRawBufferPointer) {
    let input = [UInt8](bytes)
    guard let first = input.first else { return }
    let chunkSize = Int(first % 17) + 1
    var decoder = RecordIODecoder(maximumRecordSize: 1 << 16)
    var start = 1
    var total = 0
    do {
        while start < input.count {
            let end = min(start + chunkSize, input.count)
            decoder.append(input[start..<end])
            while let record = try decoder.next() {
                total += record.count
                precondition(record.count <= 1 << 16, "record above the maximum")
            }
            start = end
        }
        try decoder.finish()
    } catch {
        _ = error.description
    }
    precondition(total <= input.count, "decoded more bytes than were given")
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
    fuzzRecordIO(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

var argc = CommandLine.argc
var argv = Optional(CommandLine.unsafeArgv)
exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in
    fuzzRecordIO(UnsafeRawBufferPointer(start: data, count: size))
    return 0
})
#else
print("MesosFuzzRecordIO is a libFuzzer target; build it with scripts/fuzz.sh (adds -sanitize=fuzzer,address -DFUZZING).")
#endif
