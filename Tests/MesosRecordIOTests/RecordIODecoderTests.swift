import MesosRecordIO
import Testing

/// Feeds `stream` to a fresh decoder in the given chunks and returns the records as strings.
private func decode(_ chunks: [[UInt8]], maximumRecordSize: Int = RecordIODecoder.defaultMaximumRecordSize)
    throws(RecordIOError) -> [String]
{
    var decoder = RecordIODecoder(maximumRecordSize: maximumRecordSize)
    var records: [String] = []
    for chunk in chunks {
        decoder.append(chunk)
        while let record = try decoder.next() {
            records.append(String(decoding: record, as: UTF8.self))
        }
    }
    for record in try decoder.finish() {
        records.append(String(decoding: record, as: UTF8.self))
    }
    return records
}

/// Every way of cutting `bytes` that the verifier tries: whole, one byte at a time, and every split in two.
private func chunkings(_ bytes: [UInt8]) -> [(String, [[UInt8]])] {
    var result: [(String, [[UInt8]])] = [("whole", [bytes]), ("bytewise", bytes.map { [$0] })]
    for cut in 0...bytes.count {
        result.append(("split@\(cut)", [Array(bytes[..<cut]), Array(bytes[cut...])]))
    }
    for size in [2, 3, 7, 64] {
        var chunks: [[UInt8]] = []
        var start = 0
        while start < bytes.count {
            chunks.append(Array(bytes[start..<min(start + size, bytes.count)]))
            start += size
        }
        result.append(("chunks of \(size)", chunks))
    }
    return result
}

/// Input/output pairs that must decode the same way however they are cut.
private let validCases: [(input: String, records: [String])] = [
    ("", []),
    ("6\nhello 6\nworld!", ["hello ", "world!"]),
    ("1\na", ["a"]),
    ("3\nabc3\ndef3\nghi", ["abc", "def", "ghi"]),
    ("0\n5\nhello", ["hello"]),  // zero-length records are skipped
    ("\n\n5\nhello\n5\nworld", ["hello", "world"]),  // stray newlines before a length
    ("005\nhello", ["hello"]),  // leading zeros
    ("00000000000000000003\nabc", ["abc"]),  // 20 digits is the limit
    ("2\n\n\n", ["\n\n"]),  // newlines inside data are data
    ("4\n1\n2\n", ["1\n2\n"]),  // digits inside data are data
]

@Suite("RecordIO decoder")
struct RecordIODecoderTests {
    @Test("valid streams decode identically under every chunking", arguments: validCases.indices)
    func validStreamUnderEveryChunking(index: Int) throws {
        let (input, expected) = validCases[index]
        for (name, chunks) in chunkings(Array(input.utf8)) {
            let records = try decode(chunks)
            #expect(records == expected, "chunking \(name) of \(input.debugDescription)")
        }
    }

    @Test("many records in one chunk, and the same stream one record per chunk")
    func manyRecordsPerChunk() throws {
        let records = (0..<500).map { "record-\($0)-" + String(repeating: "x", count: $0 % 37) }
        let framed = RecordIOEncoder.encode(records: records.map { Array($0.utf8) })
        #expect(try decode([framed]) == records)
        let perRecord = records.map { RecordIOEncoder.encode(Array($0.utf8)) }
        #expect(try decode(perRecord) == records)
    }

    @Test("a record wholly inside a chunk is returned without copying")
    func zeroCopySlice() throws {
        let chunk = Array("5\nhello".utf8)
        var decoder = RecordIODecoder()
        decoder.append(chunk[...])
        let record = try #require(try decoder.next())
        #expect(record.startIndex == 2 && record.endIndex == 7)
        #expect(Array(record) == Array("hello".utf8))
    }

    @Test("a non-digit in a length is an error naming the byte and offset")
    func invalidLengthByte() {
        #expect(throws: RecordIOError.invalidLengthByte(UInt8(ascii: "x"), offset: 1)) {
            try decode([Array("1x\nab".utf8)])
        }
        #expect(throws: RecordIOError.invalidLengthByte(UInt8(ascii: "{"), offset: 0)) {
            try decode([Array("{\"type\":\"HEARTBEAT\"}".utf8)])
        }
        #expect(throws: RecordIOError.invalidLengthByte(UInt8(ascii: "\r"), offset: 1)) {
            try decode([Array("5\r\nhello".utf8)])
        }
        #expect(throws: RecordIOError.invalidLengthByte(UInt8(ascii: "-"), offset: 0)) {
            try decode([Array("-1\n".utf8)])
        }
    }

    @Test("a length with 21 digits is rejected")
    func tooManyDigits() {
        let input = Array((String(repeating: "0", count: 20) + "1\na").utf8)
        for (_, chunks) in chunkings(input) {
            #expect(throws: RecordIOError.lengthTooLong(digits: 21, offset: 20)) { try decode(chunks) }
        }
    }

    @Test("a length beyond 64 bits overflows")
    func lengthOverflow() {
        // 2^64 = 18446744073709551616 has 20 digits.
        #expect(throws: RecordIOError.lengthOverflow(offset: 19)) {
            try decode([Array("18446744073709551616\n".utf8)])
        }
        // The largest 64-bit value parses, and then is too large for any configured maximum.
        #expect(throws: RecordIOError.recordTooLarge(size: UInt64.max, maximum: 1024, offset: 21)) {
            try decode([Array("18446744073709551615\n".utf8)], maximumRecordSize: 1024)
        }
    }

    @Test("a record above the maximum is rejected before its data is buffered")
    func recordTooLarge() throws {
        #expect(throws: RecordIOError.recordTooLarge(size: 11, maximum: 10, offset: 3)) {
            try decode([Array("11\n".utf8)], maximumRecordSize: 10)
        }
        #expect(try decode([Array("10\n0123456789".utf8)], maximumRecordSize: 10) == ["0123456789"])
        var decoder = RecordIODecoder(maximumRecordSize: 1 << 20)
        decoder.append(Array("99999999999\n".utf8))
        #expect(throws: RecordIOError.self) { try decoder.next() }
        #expect(decoder.bufferedByteCount == 0)
    }

    @Test("a stream that ends inside a record is reported as truncated")
    func truncated() throws {
        #expect(throws: RecordIOError.truncated(expected: 5, received: 3, offset: 5)) {
            try decode([Array("5\nhel".utf8)])
        }
        #expect(throws: RecordIOError.truncated(expected: nil, received: 0, offset: 1)) {
            try decode([Array("5".utf8)])
        }
        #expect(throws: RecordIOError.truncated(expected: 5, received: 0, offset: 2)) {
            try decode([Array("5\n".utf8)])
        }
        // Cut after the first record: that record still comes out before the error.
        var decoder = RecordIODecoder()
        decoder.append(Array("2\nok3\nab".utf8))
        #expect(try decoder.next().map { Array($0) } == Array("ok".utf8))
        #expect(throws: RecordIOError.truncated(expected: 3, received: 2, offset: 8)) { try decoder.finish() }
    }

    @Test("appending before draining keeps every byte")
    func appendWithoutDraining() throws {
        var decoder = RecordIODecoder()
        decoder.append(Array("3\nab".utf8))
        decoder.append(Array("c2\nde".utf8))
        #expect(try decoder.next().map { Array($0) } == Array("abc".utf8))
        #expect(try decoder.next().map { Array($0) } == Array("de".utf8))
        #expect(try decoder.next() == nil)
        try decoder.finish()
    }

    @Test("error descriptions name the problem")
    func descriptions() {
        #expect(RecordIOError.recordTooLarge(size: 11, maximum: 10, offset: 3).description.contains("exceeds"))
        #expect(RecordIOError.truncated(expected: nil, received: 0, offset: 1).description.contains("length"))
        #expect(RecordIOError.invalidLengthByte(0x7B, offset: 0).description.contains("0x7b"))
    }
}
