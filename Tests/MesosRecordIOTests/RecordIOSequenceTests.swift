import Foundation
import MesosRecordIO
import Testing

/// The shared vectors folder: `$MESOS_VECTORS_DIR`, or `../shared/vectors` next to the repository.
func vectorsDirectory() -> URL {
    if let path = ProcessInfo.processInfo.environment["MESOS_VECTORS_DIR"] {
        return URL(fileURLWithPath: path)
    }
    let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    return repository.appendingPathComponent("Tests/Fixtures/vectors")
}

/// An async sequence of the given chunks, for feeding the RecordIO sequence.
private struct Chunks: AsyncSequence, Sendable {
    typealias Element = ArraySlice<UInt8>
    let chunks: [[UInt8]]
    struct AsyncIterator: AsyncIteratorProtocol {
        var remaining: [[UInt8]]
        mutating func next() async -> ArraySlice<UInt8>? {
            remaining.isEmpty ? nil : remaining.removeFirst()[...]
        }
    }
    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(remaining: chunks) }
}

@Suite("RecordIO async sequence")
struct RecordIOSequenceTests {
    @Test("the shared stream.bin yields exactly its four records, however it is chunked", arguments: [1, 7, 100, 4096])
    func sharedStream(chunkSize: Int) async throws {
        let bytes = try [UInt8](Data(contentsOf: vectorsDirectory().appendingPathComponent("stream.bin")))
        #expect(bytes.count == 1077)
        var chunks: [[UInt8]] = []
        var start = 0
        while start < bytes.count {
            chunks.append(Array(bytes[start..<min(start + chunkSize, bytes.count)]))
            start += chunkSize
        }
        var sizes: [Int] = []
        for try await record in Chunks(chunks: chunks).recordIORecords() {
            sizes.append(record.count)
        }
        #expect(sizes == [459, 20, 516, 68])
    }

    @Test("a truncated upstream throws after the complete records")
    func truncatedUpstream() async throws {
        var seen: [String] = []
        await #expect(throws: RecordIOError.truncated(expected: 4, received: 2, offset: 8)) {
            for try await record in Chunks(chunks: [Array("2\nhi4\nab".utf8)]).recordIORecords() {
                seen.append(String(decoding: record, as: UTF8.self))
            }
        }
        #expect(seen == ["hi"])
    }

    @Test("garbage throws a typed error")
    func garbage() async {
        await #expect(throws: RecordIOError.invalidLengthByte(UInt8(ascii: "<"), offset: 0)) {
            for try await _ in Chunks(chunks: [Array("<html>".utf8)]).recordIORecords() {}
        }
    }

    @Test("the encoder writes what the decoder reads, including non-ASCII bytes")
    func encoderRoundTrip() throws {
        let text = #"{"type":"ERROR","error":{"message":"Rôle 'bätch' not authorized"}}"#
        let framed = RecordIOEncoder.encode(Array(text.utf8))
        #expect(framed.prefix(3) == Array("68\n".utf8)[...])
        let records = try RecordIODecoder.decodeAll(framed)
        #expect(records.count == 1 && String(decoding: records[0], as: UTF8.self) == text)
        #expect(RecordIOEncoder.encode(Array(#"{"type":"HEARTBEAT"}"#.utf8))
            == [0x32, 0x30, 0x0a, 0x7b, 0x22, 0x74, 0x79, 0x70, 0x65, 0x22, 0x3a, 0x22, 0x48, 0x45, 0x41, 0x52, 0x54,
                0x42, 0x45, 0x41, 0x54, 0x22, 0x7d])
    }
}
