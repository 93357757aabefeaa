/// A problem found while reading a RecordIO stream.
///
/// Every case names what was wrong and where (`offset` counts bytes from the start of the stream), so that a
/// log line is enough to understand a broken stream. After any of these errors the stream is unusable: Mesos
/// gives no way to find the start of the next record, so the only recovery is to close the connection and
/// subscribe again.
public enum RecordIOError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A byte that is neither an ASCII digit nor the terminating newline appeared in a record's length.
    case invalidLengthByte(UInt8, offset: UInt64)
    /// A record's length had more digits than ``RecordIODecoder/maximumLengthDigits`` allows.
    case lengthTooLong(digits: Int, offset: UInt64)
    /// A record's length does not fit in 64 bits.
    case lengthOverflow(offset: UInt64)
    /// A record announced more bytes than the decoder's configured maximum.
    case recordTooLarge(size: UInt64, maximum: Int, offset: UInt64)
    /// The stream ended in the middle of a record's length or data.
    ///
    /// `expected` is the announced record size (`nil` when the stream ended inside the length itself) and
    /// `received` the number of data bytes that did arrive.
    case truncated(expected: UInt64?, received: Int, offset: UInt64)

    /// A one-line explanation of the problem.
    public var description: String {
        switch self {
        case .invalidLengthByte(let byte, let offset):
            return "RecordIO: unexpected byte 0x\(String(byte, radix: 16)) in a record length at offset \(offset)"
        case .lengthTooLong(let digits, let offset):
            return "RecordIO: record length has \(digits) digits (at most \(RecordIODecoder.maximumLengthDigits)) at offset \(offset)"
        case .lengthOverflow(let offset):
            return "RecordIO: record length does not fit in 64 bits at offset \(offset)"
        case .recordTooLarge(let size, let maximum, let offset):
            return "RecordIO: record of \(size) bytes exceeds the maximum of \(maximum) bytes at offset \(offset)"
        case .truncated(let expected?, let received, let offset):
            return "RecordIO: stream ended after \(received) of \(expected) record bytes at offset \(offset)"
        case .truncated(nil, _, let offset):
            return "RecordIO: stream ended inside a record length at offset \(offset)"
        }
    }
}
