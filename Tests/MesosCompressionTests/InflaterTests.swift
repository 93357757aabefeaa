import Foundation
import MesosCompression
import MesosCore
import Testing

@Suite("Inflater and DecompressedSequence")
struct InflaterTests {
    static let payload = samplePayload(size: 300_000)

    @Test("gzip from Python decodes whatever the chunking", arguments: Split.allCases)
    func gzipFromPython(split: Split) async throws {
        let compressed = try await python("import gzip,sys; sys.stdout.buffer.write(gzip.compress(sys.stdin.buffer.read()))", input: Self.payload)
        let chunks = Chunks(chunks: split.apply(compressed))
        let (bytes, sizes) = try await collectAll(chunks.decompressed(.gzip, outputChunkSize: 16 << 10))
        #expect(bytes == Self.payload)
        #expect(sizes.allSatisfy { $0 > 0 && $0 <= 16 << 10 })
    }

    @Test("output of the gzip tool decodes")
    func gzipTool() async throws {
        let compressed = try await run("gzip", ["-c", "-9"], input: Self.payload)
        let (bytes, _) = try await collectAll(Chunks(chunks: Split.random.apply(compressed)).decompressed(.gzip))
        #expect(bytes == Self.payload)
    }

    @Test("concatenated gzip members decode to the concatenation, zero padding is skipped", arguments: Split.allCases)
    func multiMember(split: Split) async throws {
        let first = samplePayload(size: 20_000, seed: 1)
        let second = samplePayload(size: 30_000, seed: 2)
        let script = """
            import gzip,sys
            data = sys.stdin.buffer.read()
            sys.stdout.buffer.write(gzip.compress(data[:20000]) + gzip.compress(b"") + gzip.compress(data[20000:]) + bytes(3))
            """
        let compressed = try await python(script, input: first + second)
        let (bytes, _) = try await collectAll(Chunks(chunks: split.apply(compressed)).decompressed(.gzip))
        #expect(bytes == first + second)
    }

    @Test("zlib-wrapped deflate decodes as .zlib and as .deflate", arguments: [Split.whole, .oneByte, .random])
    func zlibWrapped(split: Split) async throws {
        let compressed = try await python("import zlib,sys; sys.stdout.buffer.write(zlib.compress(sys.stdin.buffer.read(), 9))", input: Self.payload)
        #expect(compressed.first == 0x78)
        for format in [Inflater.Format.zlib, .deflate] {
            let (bytes, _) = try await collectAll(Chunks(chunks: split.apply(compressed)).decompressed(format))
            #expect(bytes == Self.payload, "format \(format)")
        }
    }

    @Test("raw deflate decodes as .rawDeflate and as .deflate", arguments: [Split.whole, .oneByte, .random])
    func rawDeflate(split: Split) async throws {
        let script = """
            import zlib,sys
            c = zlib.compressobj(6, zlib.DEFLATED, -15)
            sys.stdout.buffer.write(c.compress(sys.stdin.buffer.read()) + c.flush())
            """
        let compressed = try await python(script, input: Self.payload)
        for format in [Inflater.Format.rawDeflate, .deflate] {
            let (bytes, _) = try await collectAll(Chunks(chunks: split.apply(compressed)).decompressed(format))
            #expect(bytes == Self.payload, "format \(format)")
        }
    }

    @Test("an empty input decodes to nothing")
    func emptyInput() async throws {
        for format in [Inflater.Format.gzip, .zlib, .rawDeflate, .deflate] {
            let (bytes, sizes) = try await collectAll(Chunks(chunks: []).decompressed(format))
            #expect(bytes.isEmpty && sizes.isEmpty)
        }
    }

    @Test("truncated gzip input is a decodingFailed error", arguments: [1, 2, 10, 500, -8, -1])
    func truncated(cut: Int) async throws {
        let compressed = try gzipCompress(Self.payload)
        let length = cut > 0 ? cut : compressed.count + cut
        let input = Array(compressed.prefix(length))
        let error = await mesosError {
            _ = try await collectAll(Chunks(chunks: Split.sevenBytes.apply(input)).decompressed(.gzip))
        }
        #expect(error?.code == .decodingFailed)
        #expect(error?.message.contains("runcated") == true, "\(String(describing: error))")
    }

    @Test("truncated zlib, raw and one-byte deflate inputs are decodingFailed errors")
    func truncatedOtherFormats() async throws {
        let zlib = try zlibCompress(Self.payload)
        for (format, input) in [(Inflater.Format.zlib, Array(zlib.dropLast(2))), (.deflate, [0x78]), (.deflate, Array(zlib.prefix(100)))] {
            let error = await mesosError {
                _ = try await collectAll(Chunks(chunks: [input[...]]).decompressed(format))
            }
            #expect(error?.code == .decodingFailed, "format \(format)")
        }
    }

    @Test("garbage is a decodingFailed error")
    func garbage() async throws {
        var generator = SplitMix64(seed: 7)
        let random = (0..<4096).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
        let text = Array("this is not compressed at all, just text".utf8)
        var badCRC = try gzipCompress(Self.payload)
        badCRC[badCRC.count - 6] ^= 0xFF
        let memberThenJunk = try gzipCompress(Array("hello".utf8)) + Array("junk".utf8)
        let cases: [(String, Inflater.Format, [UInt8])] = [
            ("random as gzip", .gzip, random),
            ("text as gzip", .gzip, text),
            ("text as zlib", .zlib, text),
            ("bad CRC", .gzip, badCRC),
            ("member then junk", .gzip, memberThenJunk),
            ("zlib then junk", .zlib, try zlibCompress(Array("hi".utf8)) + [1, 2, 3]),
        ]
        for (name, format, input) in cases {
            let error = await mesosError {
                _ = try await collectAll(Chunks(chunks: Split.random.apply(input)).decompressed(format))
            }
            #expect(error?.code == .decodingFailed, "\(name): \(String(describing: error))")
        }
    }

    @Test("a zip bomb stops at the size cap with recordTooLarge, in bounded steps")
    func zipBomb() async throws {
        // 200 MB of zeros compress to about 200 KB.
        let bomb = try await python("import gzip,sys; sys.stdout.buffer.write(gzip.compress(bytes(200_000_000), 9))")
        #expect(bomb.count < 1_000_000)
        let inflater = Inflater(format: .gzip, maximumOutputSize: 10_000_000, outputChunkSize: 32 << 10)
        inflater.push(bomb)
        var produced = 0
        var thrown: MesosError?
        do {
            while let chunk = try inflater.next() {
                #expect(chunk.count <= 32 << 10)
                produced += chunk.count
            }
        } catch {
            thrown = error
        }
        #expect(thrown?.code == .recordTooLarge)
        #expect(produced <= 10_000_000)
        #expect(inflater.totalOutput <= 10_000_000)
        // The inflater stays failed.
        #expect(throws: MesosError.self) { try inflater.next() }
    }

    @Test("the size cap is inclusive")
    func sizeCapBoundary() async throws {
        let data = samplePayload(size: 50_000)
        let compressed = try gzipCompress(data)
        let (exact, _) = try await collectAll(Chunks(chunks: [compressed[...]]).decompressed(.gzip, maximumSize: 50_000))
        #expect(exact == data)
        let error = await mesosError {
            _ = try await collectAll(Chunks(chunks: [compressed[...]]).decompressed(.gzip, maximumSize: 49_999))
        }
        #expect(error?.code == .recordTooLarge)
    }

    @Test("errors from the upstream pass through unchanged")
    func upstreamError() async throws {
        let compressed = try gzipCompress(Self.payload)
        let upstream = Chunks(
            chunks: [compressed[0..<1000]],
            error: MesosError(code: .transportFailure, message: "connection reset")
        )
        let error = await mesosError { _ = try await collectAll(upstream.decompressed(.gzip)) }
        #expect(error?.code == .transportFailure)
        #expect(error?.message == "connection reset")
    }

    @Test("pull-driven: next() returns nil until more input is pushed")
    func pullDriven() throws {
        let compressed = try gzipCompress(Array(repeating: 65, count: 100_000))
        let inflater = Inflater(format: .gzip, outputChunkSize: 1000)
        #expect(try inflater.next() == nil)
        inflater.push(compressed.prefix(5))
        #expect(try inflater.next() == nil)
        inflater.push(compressed.dropFirst(5))
        var total = 0
        while let chunk = try inflater.next() {
            #expect(chunk.count <= 1000)
            total += chunk.count
        }
        try inflater.finish()
        #expect(total == 100_000)
        #expect(inflater.totalInput == compressed.count)
    }
}
