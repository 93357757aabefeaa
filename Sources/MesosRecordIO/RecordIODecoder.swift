/// An incremental decoder for RecordIO, the framing Mesos uses for its event streams.
///
/// A RecordIO stream is a sequence of records, each written as its length in bytes (ASCII decimal digits), a
/// newline (`0x0A`), and then exactly that many bytes of data. Nothing separates one record from the next. The
/// framing is independent of how the bytes arrive: a chunk may hold part of a record or many records.
///
/// The decoder is a value type that owns no I/O. Feed it bytes with ``append(_:)-7wrjp`` and pull records with
/// ``next()`` until it returns `nil`; at the end of the stream call ``finish()`` to learn whether the stream
/// stopped in the middle of a record.
///
/// ```swift
/// var decoder = RecordIODecoder()
/// decoder.append(Array("6\nhello 5\nworld".utf8))
/// while let record = try decoder.next() { print(String(decoding: record, as: UTF8.self)) }
/// try decoder.finish()
/// ```
///
/// Rules, chosen to match what Mesos writes and to survive what it does not:
/// - A length has 1 to ``maximumLengthDigits`` digits; leading zeros are allowed.
/// - Newlines where a length is expected are skipped (some writers put one between records).
/// - Zero-length records carry no event and are skipped.
/// - A record longer than ``maximumRecordSize`` is an error raised before any of its data is buffered, so no
///   input can make the decoder allocate more than that.
///
/// When a record lies entirely inside the chunk that was appended, ``next()`` returns a slice of that chunk
/// without copying it. Records that span chunks are assembled in an internal buffer.
public struct RecordIODecoder: Sendable {
    /// The largest number of digits a record length may have (a 64-bit length has at most 20).
    public static let maximumLengthDigits = 20

    /// The default ``maximumRecordSize``: 64 MiB. An OFFERS event for a large cluster can be megabytes.
    public static let defaultMaximumRecordSize = 64 << 20

    /// The largest record, in bytes, that this decoder accepts.
    public let maximumRecordSize: Int

    private enum State: Sendable {
        /// Reading a length: the value so far and how many digits it had.
        case length(value: UInt64, digits: Int)
        /// Reading `size` bytes of record data.
        case data(size: Int)
    }

    private var state: State = .length(value: 0, digits: 0)
    /// Bytes appended but not yet consumed.
    private var input: ArraySlice<UInt8> = []
    /// Data of a record that spans chunks.
    private var partial: [UInt8] = []
    /// Bytes consumed since the start of the stream, for error messages.
    private var offset: UInt64 = 0

    /// Creates a decoder.
    ///
    /// - Parameter maximumRecordSize: The largest record accepted, in bytes. Defaults to
    ///   ``defaultMaximumRecordSize``.
    public init(maximumRecordSize: Int = RecordIODecoder.defaultMaximumRecordSize) {
        precondition(maximumRecordSize >= 0, "maximumRecordSize must not be negative")
        self.maximumRecordSize = maximumRecordSize
    }

    /// The number of bytes appended that no returned record has consumed yet, including the bytes of a record
    /// that is still being assembled.
    public var bufferedByteCount: Int {
        self.input.count + self.partial.count
    }

    /// Adds bytes that arrived on the stream.
    ///
    /// Call ``next()`` until it returns `nil` before appending again; appending to undrained input works but
    /// has to copy it.
    public mutating func append(_ bytes: ArraySlice<UInt8>) {
        if self.input.isEmpty {
            self.input = bytes
        } else {
            var joined = [UInt8]()
            joined.reserveCapacity(self.input.count + bytes.count)
            joined.append(contentsOf: self.input)
            joined.append(contentsOf: bytes)
            self.input = joined[...]
        }
    }

    /// Adds bytes that arrived on the stream.
    public mutating func append(_ bytes: [UInt8]) {
        self.append(bytes[...])
    }

    /// Returns the next complete record, or `nil` when more bytes are needed.
    ///
    /// - Throws: ``RecordIOError`` when the input is not valid RecordIO. The decoder must not be used after
    ///   an error.
    public mutating func next() throws(RecordIOError) -> ArraySlice<UInt8>? {
        while true {
            switch self.state {
            case .length(var value, var digits):
                var index = self.input.startIndex
                let end = self.input.endIndex
                var complete = false
                while index < end {
                    let byte = self.input[index]
                    if byte == UInt8(ascii: "\n") {
                        if digits == 0 {
                            // A stray newline where a length should start.
                            index += 1
                            self.offset += 1
                            continue
                        }
                        index += 1
                        self.offset += 1
                        complete = true
                        break
                    }
                    guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else {
                        throw .invalidLengthByte(byte, offset: self.offset)
                    }
                    digits += 1
                    if digits > Self.maximumLengthDigits {
                        throw .lengthTooLong(digits: digits, offset: self.offset)
                    }
                    let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
                    let (sum, overflow2) = times10.addingReportingOverflow(UInt64(byte &- UInt8(ascii: "0")))
                    if overflow1 || overflow2 {
                        throw .lengthOverflow(offset: self.offset)
                    }
                    value = sum
                    index += 1
                    self.offset += 1
                }
                self.input = self.input[index...]
                guard complete else {
                    self.state = .length(value: value, digits: digits)
                    return nil
                }
                if value > UInt64(self.maximumRecordSize) {
                    throw .recordTooLarge(size: value, maximum: self.maximumRecordSize, offset: self.offset)
                }
                if value == 0 {
                    self.state = .length(value: 0, digits: 0)
                    continue
                }
                self.state = .data(size: Int(value))

            case .data(let size):
                if self.partial.isEmpty, self.input.count >= size {
                    // The whole record is in the current chunk: hand out a slice of it.
                    let end = self.input.startIndex + size
                    let record = self.input[self.input.startIndex..<end]
                    self.input = self.input[end...]
                    self.offset += UInt64(size)
                    self.state = .length(value: 0, digits: 0)
                    return record
                }
                if self.partial.isEmpty {
                    self.partial.reserveCapacity(size)
                }
                let wanted = size - self.partial.count
                let take = min(wanted, self.input.count)
                let end = self.input.startIndex + take
                self.partial.append(contentsOf: self.input[self.input.startIndex..<end])
                self.input = self.input[end...]
                self.offset += UInt64(take)
                guard self.partial.count == size else {
                    return nil
                }
                let record = self.partial[...]
                self.partial = []
                self.state = .length(value: 0, digits: 0)
                return record
            }
        }
    }

    /// Declares the end of the stream.
    ///
    /// - Throws: ``RecordIOError/truncated(expected:received:offset:)`` if the stream stopped inside a record,
    ///   or any error that the remaining buffered bytes produce.
    /// - Returns: Records still buffered (normally none if ``next()`` was drained).
    @discardableResult
    public mutating func finish() throws(RecordIOError) -> [ArraySlice<UInt8>] {
        var records: [ArraySlice<UInt8>] = []
        while let record = try self.next() {
            records.append(record)
        }
        switch self.state {
        case .length(_, let digits):
            if digits > 0 {
                throw .truncated(expected: nil, received: 0, offset: self.offset)
            }
        case .data(let size):
            throw .truncated(expected: UInt64(size), received: self.partial.count, offset: self.offset)
        }
        return records
    }

    /// Decodes a complete stream held in memory.
    ///
    /// - Parameters:
    ///   - bytes: The whole stream.
    ///   - maximumRecordSize: The largest record accepted.
    /// - Returns: The records in order.
    /// - Throws: ``RecordIOError`` if the stream is malformed or truncated.
    public static func decodeAll(
        _ bytes: [UInt8],
        maximumRecordSize: Int = RecordIODecoder.defaultMaximumRecordSize
    ) throws(RecordIOError) -> [ArraySlice<UInt8>] {
        var decoder = RecordIODecoder(maximumRecordSize: maximumRecordSize)
        decoder.append(bytes)
        var records: [ArraySlice<UInt8>] = []
        while let record = try decoder.next() {
            records.append(record)
        }
        try decoder.finish()
        return records
    }
}
