internal import CZlib
import MesosCore

/// An incremental gzip / zlib / raw-deflate decompressor.
///
/// Feed compressed bytes with ``push(_:)`` in pieces of any size, then call ``next()`` until it returns `nil`
/// ("needs more input"); each call returns at most ``outputChunkSize`` bytes, so memory stays bounded however
/// well the input compresses. When the input has ended, call ``finish()``: it throws if the stream stopped in
/// the middle. Every failure is a ``MesosError``:
/// - corrupt or unrecognised data: ``MesosError/Code/decodingFailed``;
/// - input that ends inside a stream: ``MesosError/Code/decodingFailed`` ("truncated");
/// - more than ``maximumOutputSize`` decompressed bytes (a "zip bomb"): ``MesosError/Code/recordTooLarge``.
///
/// gzip input may hold several members one after another (as `cat a.gz b.gz` makes); their contents are
/// concatenated, and zero bytes between or after members are skipped, like the `gzip` tool and Python do.
/// An empty input decodes to an empty output.
///
/// ```swift
/// let inflater = try Inflater(format: .gzip)
/// for try await chunk in body {
///     inflater.push(chunk)
///     while let plain = try inflater.next() { consume(plain) }
/// }
/// try inflater.finish()
/// ```
///
/// An `Inflater` is a reference type owning zlib state; use it from one task at a time.
public final class Inflater {
    /// The framing of the compressed bytes.
    public struct Format: Hashable, Sendable, CustomStringConvertible {
        enum Wrapped: Hashable, Sendable {
            case gzip, zlib, raw, deflate
        }

        let wrapped: Wrapped

        /// gzip (RFC 1952), possibly several members: the `gzip` and `x-gzip` content codings.
        public static let gzip = Format(wrapped: .gzip)
        /// zlib-wrapped deflate (RFC 1950).
        public static let zlib = Format(wrapped: .zlib)
        /// Raw deflate (RFC 1951) with no header or checksum.
        public static let rawDeflate = Format(wrapped: .raw)
        /// The HTTP `deflate` content coding: zlib-wrapped as the standard says, or raw deflate as some servers
        /// send it; the first two bytes decide.
        public static let deflate = Format(wrapped: .deflate)

        /// `gzip`, `zlib`, `raw deflate` or `deflate`.
        public var description: String {
            switch self.wrapped {
            case .gzip: return "gzip"
            case .zlib: return "zlib"
            case .raw: return "raw deflate"
            case .deflate: return "deflate"
            }
        }
    }

    /// The default cap on decompressed bytes: 64 MiB.
    public static let defaultMaximumOutputSize = 64 << 20
    /// The default size of the chunks ``next()`` returns: 64 KiB.
    public static let defaultOutputChunkSize = 64 << 10

    /// The framing this inflater expects.
    public let format: Format
    /// The most decompressed bytes accepted in total.
    public let maximumOutputSize: Int
    /// The most bytes one ``next()`` call returns.
    public let outputChunkSize: Int
    /// The decompressed bytes produced so far.
    public private(set) var totalOutput = 0
    /// The compressed bytes consumed so far.
    public private(set) var totalInput = 0

    private enum State {
        /// Nothing has been decoded yet (for `.deflate`: the framing is not known yet).
        case start
        /// Inside a compressed stream.
        case inStream
        /// A stream (gzip member) ended; only another member or zero padding may follow.
        case streamEnded
        /// An error was thrown; every later call throws it again.
        case failed(MesosError)
    }

    private var state = State.start
    private let stream: UnsafeMutablePointer<z_stream>
    private var zlibInitialized = false
    private var input: [UInt8] = []
    private var inputOffset = 0
    private var membersDecoded = 0

    /// Creates an inflater.
    ///
    /// - Parameters:
    ///   - format: The framing of the input.
    ///   - maximumOutputSize: The most decompressed bytes to accept; more is an error.
    ///   - outputChunkSize: The most bytes one ``next()`` call returns (at least 1).
    public init(
        format: Format,
        maximumOutputSize: Int = Inflater.defaultMaximumOutputSize,
        outputChunkSize: Int = Inflater.defaultOutputChunkSize
    ) {
        self.format = format
        self.maximumOutputSize = max(0, maximumOutputSize)
        self.outputChunkSize = max(1, outputChunkSize)
        self.stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        self.stream.initialize(to: z_stream())
    }

    deinit {
        if self.zlibInitialized {
            inflateEnd(self.stream)
        }
        self.stream.deinitialize(count: 1)
        self.stream.deallocate()
    }

    /// Adds compressed bytes. They are consumed by later ``next()`` calls.
    ///
    /// - Parameter bytes: The next piece of the compressed input.
    public func push(_ bytes: some Collection<UInt8>) {
        guard !bytes.isEmpty else { return }
        if self.inputOffset == self.input.count {
            self.input.removeAll(keepingCapacity: true)
            self.inputOffset = 0
        } else if self.inputOffset > 0 {
            self.input.removeFirst(self.inputOffset)
            self.inputOffset = 0
        }
        self.input.append(contentsOf: bytes)
    }

    /// The compressed bytes pushed but not consumed yet.
    public var pendingInputCount: Int {
        self.input.count - self.inputOffset
    }

    /// Decompresses some of the pending input.
    ///
    /// - Returns: At most ``outputChunkSize`` decompressed bytes (never an empty slice), or `nil` when the pending
    ///   input is used up and more must be pushed.
    /// - Throws: ``MesosError``: ``MesosError/Code/decodingFailed`` for bad data,
    ///   ``MesosError/Code/recordTooLarge`` beyond ``maximumOutputSize``.
    public func next() throws(MesosError) -> ArraySlice<UInt8>? {
        while true {
            switch self.state {
            case .failed(let error):
                throw error
            case .start:
                guard try self.beginStream() else { return nil }
            case .streamEnded:
                guard try self.beginNextMember() else { return nil }
            case .inStream:
                let (output, progressed) = try self.inflateStep()
                if let output {
                    return output
                }
                if !progressed {
                    return nil
                }
            }
        }
    }

    /// Declares the end of the input.
    ///
    /// Call it after ``next()`` returned `nil` for the last pushed bytes.
    ///
    /// - Throws: ``MesosError/Code/decodingFailed`` if the input ended inside a stream or output is still
    ///   pending.
    public func finish() throws(MesosError) {
        switch self.state {
        case .failed(let error):
            throw error
        case .start:
            if self.format == .deflate, self.pendingInputCount == 1 {
                // One byte is not enough to tell zlib from raw deflate, and no deflate stream is one byte long.
                throw self.fail("Truncated \(self.format) data: the input ended after 1 byte")
            }
            if self.pendingInputCount > 0 {
                throw self.fail("Undecoded \(self.format) input is left; call next() until it returns nil")
            }
        case .streamEnded:
            if self.input[self.inputOffset...].contains(where: { $0 != 0 }) {
                throw self.fail("Undecoded \(self.format) input is left; call next() until it returns nil")
            }
        case .inStream:
            throw self.fail(
                "Truncated \(self.format) data: the input ended inside a compressed stream after \(self.totalInput) compressed and \(self.totalOutput) decompressed bytes"
            )
        }
    }

    // MARK: - Steps

    /// Starts the first stream once enough input is there. Returns `false` if more input is needed.
    private func beginStream() throws(MesosError) -> Bool {
        let windowBits: Int32
        switch self.format.wrapped {
        case .gzip:
            guard self.pendingInputCount > 0 else { return false }
            windowBits = 15 + 16
        case .zlib:
            guard self.pendingInputCount > 0 else { return false }
            windowBits = 15
        case .raw:
            guard self.pendingInputCount > 0 else { return false }
            windowBits = -15
        case .deflate:
            guard self.pendingInputCount >= 2 else { return false }
            let cmf = UInt16(self.input[self.inputOffset])
            let flg = UInt16(self.input[self.inputOffset + 1])
            let looksLikeZlib = cmf & 0x0F == 8 && cmf >> 4 <= 7 && (cmf << 8 | flg) % 31 == 0
            windowBits = looksLikeZlib ? 15 : -15
        }
        let status = swift_mesos_inflate_init2(self.stream, windowBits)
        guard status == Z_OK else {
            throw self.fail("Cannot initialise zlib for \(self.format) (error \(status))")
        }
        self.zlibInitialized = true
        self.state = .inStream
        return true
    }

    /// After a stream ended: skips zero padding and starts another gzip member, or rejects trailing bytes.
    /// Returns `false` if more input is needed.
    private func beginNextMember() throws(MesosError) -> Bool {
        guard self.format == .gzip else {
            guard self.pendingInputCount == 0 else {
                throw self.fail("\(self.pendingInputCount) byte(s) of trailing data after the end of the \(self.format) stream")
            }
            return false
        }
        while self.inputOffset < self.input.count, self.input[self.inputOffset] == 0 {
            self.inputOffset += 1
            self.totalInput += 1
        }
        guard self.pendingInputCount > 0 else { return false }
        guard self.input[self.inputOffset] == 0x1F else {
            throw self.fail("Trailing data after gzip member \(self.membersDecoded) is not another gzip member")
        }
        let status = inflateReset(self.stream)
        guard status == Z_OK else {
            throw self.fail("Cannot reset zlib for the next gzip member (error \(status))")
        }
        self.state = .inStream
        return true
    }

    /// Runs `inflate` once. Returns the produced bytes (if any) and whether any input was consumed or output made.
    private func inflateStep() throws(MesosError) -> (ArraySlice<UInt8>?, Bool) {
        let allowance = self.maximumOutputSize - self.totalOutput
        // One byte more than allowed is enough to detect an overflow.
        let capacity = allowance < self.outputChunkSize ? allowance + 1 : self.outputChunkSize
        var output = [UInt8](repeating: 0, count: capacity)
        let stream = self.stream
        let offset = self.inputOffset
        let (status, consumed, produced): (Int32, Int, Int) = self.input.withUnsafeMutableBufferPointer { inputBuffer in
            output.withUnsafeMutableBufferPointer { outputBuffer in
                let available = inputBuffer.count - offset
                stream.pointee.next_in = available > 0 ? inputBuffer.baseAddress! + offset : nil
                stream.pointee.avail_in = UInt32(clamping: available)
                stream.pointee.next_out = outputBuffer.baseAddress
                stream.pointee.avail_out = UInt32(outputBuffer.count)
                let status = inflate(stream, Z_NO_FLUSH)
                let consumed = available - Int(stream.pointee.avail_in)
                let produced = outputBuffer.count - Int(stream.pointee.avail_out)
                stream.pointee.next_in = nil
                stream.pointee.avail_in = 0
                stream.pointee.next_out = nil
                stream.pointee.avail_out = 0
                return (status, consumed, produced)
            }
        }
        self.inputOffset += consumed
        self.totalInput += consumed
        switch status {
        case Z_OK, Z_BUF_ERROR:
            break
        case Z_STREAM_END:
            self.membersDecoded += 1
            self.state = .streamEnded
        case Z_NEED_DICT:
            throw self.fail("The \(self.format) stream needs a preset dictionary, which HTTP bodies never use")
        case Z_MEM_ERROR:
            throw self.fail("zlib ran out of memory")
        default:
            let detail = stream.pointee.msg.map { String(cString: $0) } ?? "error \(status)"
            throw self.fail("Corrupt \(self.format) data after \(self.totalInput) compressed byte(s): \(detail)")
        }
        if produced > allowance {
            throw self.fail(
                "Decompressed \(self.format) body is larger than \(self.maximumOutputSize) bytes",
                code: .recordTooLarge
            )
        }
        self.totalOutput += produced
        if produced > 0 {
            return (output[0..<produced], true)
        }
        if case .streamEnded = self.state {
            return (nil, true)
        }
        return (nil, consumed > 0)
    }

    private func fail(_ message: String, code: MesosError.Code = .decodingFailed) -> MesosError {
        let error = MesosError(code: code, message: message)
        self.state = .failed(error)
        return error
    }
}

@available(*, unavailable, message: "An Inflater owns mutable zlib state; use it from one task at a time")
extension Inflater: Sendable {}
