internal import CZlib
import MesosCore

/// Compresses bytes into one gzip member (RFC 1952), as `gzip -c` would.
///
/// - Parameters:
///   - bytes: The data.
///   - level: The zlib compression level, 0 (store) … 9 (smallest); values outside are clamped. 6 is zlib's
///     default trade-off.
/// - Returns: The gzip bytes.
/// - Throws: ``MesosError/Code/encodingFailed`` if zlib fails (out of memory).
public func gzipCompress(_ bytes: [UInt8], level: Int = 6) throws(MesosError) -> [UInt8] {
    try deflateBytes(bytes, level: level, windowBits: 15 + 16, name: "gzip")
}

/// Compresses bytes into a zlib-wrapped deflate stream (RFC 1950): the HTTP `deflate` content coding.
///
/// - Parameters:
///   - bytes: The data.
///   - level: The zlib compression level, 0 … 9; values outside are clamped.
/// - Returns: The zlib bytes.
/// - Throws: ``MesosError/Code/encodingFailed`` if zlib fails.
public func zlibCompress(_ bytes: [UInt8], level: Int = 6) throws(MesosError) -> [UInt8] {
    try deflateBytes(bytes, level: level, windowBits: 15, name: "zlib")
}

private func deflateBytes(_ bytes: [UInt8], level: Int, windowBits: Int32, name: String) throws(MesosError) -> [UInt8] {
    let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
    stream.initialize(to: z_stream())
    defer {
        stream.deinitialize(count: 1)
        stream.deallocate()
    }
    let clampedLevel = Int32(min(max(level, 0), 9))
    let initStatus = swift_mesos_deflate_init2(stream, clampedLevel, windowBits)
    guard initStatus == Z_OK else {
        throw MesosError(code: .encodingFailed, message: "Cannot initialise zlib for \(name) (error \(initStatus))")
    }
    defer { deflateEnd(stream) }

    var input = bytes
    // deflateBound is exact enough for one call; the loop below still handles any shortfall.
    let bound = Int(deflateBound(stream, UInt(input.count)))
    var output = [UInt8](repeating: 0, count: max(bound, 64))
    var written = 0
    var status: Int32 = Z_OK
    // zlib only sees pointers that are valid for the duration of one `deflate` call.
    var consumed = 0
    while status != Z_STREAM_END {
        if written == output.count {
            output.append(contentsOf: [UInt8](repeating: 0, count: max(output.count / 2, 1024)))
        }
        let step: (Int32, Int, Int) = input.withUnsafeMutableBufferPointer { inputBuffer in
            output.withUnsafeMutableBufferPointer { outputBuffer in
                let remaining = inputBuffer.count - consumed
                let inputStep = min(remaining, Int(UInt32.max))
                stream.pointee.next_in = remaining > 0 ? inputBuffer.baseAddress! + consumed : nil
                stream.pointee.avail_in = UInt32(inputStep)
                stream.pointee.next_out = outputBuffer.baseAddress! + written
                stream.pointee.avail_out = UInt32(min(outputBuffer.count - written, Int(UInt32.max)))
                let outBefore = Int(stream.pointee.avail_out)
                let flush = inputStep == remaining ? Z_FINISH : Z_NO_FLUSH
                let status = deflate(stream, flush)
                let used = inputStep - Int(stream.pointee.avail_in)
                let made = outBefore - Int(stream.pointee.avail_out)
                stream.pointee.next_in = nil
                stream.pointee.avail_in = 0
                stream.pointee.next_out = nil
                stream.pointee.avail_out = 0
                return (status, used, made)
            }
        }
        status = step.0
        consumed += step.1
        written += step.2
        guard status == Z_OK || status == Z_STREAM_END || status == Z_BUF_ERROR else {
            throw MesosError(code: .encodingFailed, message: "zlib failed to compress \(name) data (error \(status))")
        }
    }
    output.removeSubrange(written...)
    return output
}
