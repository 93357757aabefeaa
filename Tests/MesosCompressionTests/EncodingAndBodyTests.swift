import Foundation
import MesosCompression
import MesosCore
import Testing

@Suite("gzip encoding and response bodies")
struct EncodingAndBodyTests {
    @Test("gzipCompress output is read by Python's gzip module", arguments: [0, 1, 6, 9])
    func gzipRoundTripThroughPython(level: Int) async throws {
        for payload in [[], Array("x".utf8), samplePayload(size: 250_000)] {
            let compressed = try gzipCompress(payload, level: level)
            #expect(compressed.prefix(2) == [0x1F, 0x8B])
            let decoded = try await python("import gzip,sys; sys.stdout.buffer.write(gzip.decompress(sys.stdin.buffer.read()))", input: compressed)
            #expect(decoded == payload)
        }
    }

    @Test("zlibCompress output is read by Python's zlib module")
    func zlibRoundTripThroughPython() async throws {
        let payload = samplePayload(size: 100_000)
        let decoded = try await python("import zlib,sys; sys.stdout.buffer.write(zlib.decompress(sys.stdin.buffer.read()))", input: try zlibCompress(payload))
        #expect(decoded == payload)
    }

    @Test("identity bodies pass through unchanged, chunk for chunk", arguments: [nil, "identity", " Identity ", ""])
    func identityPassesThrough(encoding: String?) async throws {
        let chunks: [ArraySlice<UInt8>] = [[1, 2, 3], [4], [5, 6]]
        let body = MesosResponseBody(Chunks(chunks: chunks))
        let (bytes, sizes) = try await collectAll(try body.decoded(contentEncoding: encoding))
        #expect(bytes == [1, 2, 3, 4, 5, 6])
        #expect(sizes == [3, 1, 2])
    }

    @Test("gzip, x-gzip and deflate bodies are decoded", arguments: ["gzip", "x-gzip", "GZIP", "deflate", "Deflate"])
    func knownEncodings(encoding: String) async throws {
        let payload = samplePayload(size: 80_000)
        let compressed = encoding.lowercased() == "deflate" ? try zlibCompress(payload) : try gzipCompress(payload)
        let body = MesosResponseBody(Chunks(chunks: Split.random.apply(compressed)))
        let response = MesosHTTPResponse(status: 200, headers: ["Content-Encoding": encoding])
        let decoded = try body.decompressed(for: response)
        #expect(try await decoded.collect(upTo: 1 << 20) == payload)
    }

    @Test("stacked codings are undone in reverse order")
    func stackedCodings() async throws {
        let payload = samplePayload(size: 10_000)
        let compressed = try gzipCompress(try zlibCompress(payload))
        let body = try MesosResponseBody(bytes: compressed).decoded(contentEncoding: "deflate, gzip")
        #expect(try await body.collect(upTo: 1 << 20) == payload)
    }

    @Test("unknown encodings are a decodingFailed error", arguments: ["br", "zstd", "compress", "gzip, br"])
    func unknownEncodings(encoding: String) {
        #expect {
            _ = try MesosResponseBody(bytes: [1]).decoded(contentEncoding: encoding)
        } throws: { error in
            (error as? MesosError)?.code == .decodingFailed && (error as? MesosError)?.message.contains("Content-Encoding") == true
        }
    }

    @Test("the size cap applies to decoded bodies")
    func bodySizeCap() async throws {
        let compressed = try gzipCompress([UInt8](repeating: 0, count: 1_000_000))
        let body = try MesosResponseBody(bytes: compressed).decoded(contentEncoding: "gzip", maximumSize: 100_000)
        let error = await mesosError { _ = try await body.collect(upTo: 10_000_000) }
        #expect(error?.code == .recordTooLarge)
    }

    @Test("decodingContent drops Content-Encoding and Content-Length only when it decodes")
    func decodingContentAdjustsHeaders() async throws {
        let payload = Array(String(repeating: "mesos ", count: 1000).utf8)
        let compressed = try gzipCompress(payload)
        let head = MesosHTTPResponse(
            status: 200,
            headers: ["Content-Type": "application/json", "Content-Encoding": "gzip", "Content-Length": "\(compressed.count)"]
        )
        let (newHead, body) = try head.decodingContent(of: MesosResponseBody(bytes: compressed))
        #expect(newHead.headers["Content-Encoding"] == nil)
        #expect(newHead.headers["Content-Length"] == nil)
        #expect(newHead.headers["Content-Type"] == "application/json")
        #expect(try await body.collect(upTo: 1 << 20) == payload)

        let plainHead = MesosHTTPResponse(status: 202, headers: ["Content-Length": "0"])
        let (sameHead, _) = try plainHead.decodingContent(of: .empty)
        #expect(sameHead == plainHead)
    }

    @Test("compressBody compresses only above the threshold and only once")
    func compressRequestBody() async throws {
        let url = URL(string: "http://127.0.0.1:5050/api/v1/scheduler")!
        var small = MesosHTTPRequest(url: url, headers: ["Content-Type": "application/json"], body: Array("{}".utf8))
        #expect(try small.compressBody() == false)
        #expect(small.body == Array("{}".utf8) && small.headers["Content-Encoding"] == nil)

        let big = samplePayload(size: 5000)
        var large = MesosHTTPRequest(url: url, headers: ["Content-Type": "application/json"], body: big)
        #expect(try large.compressBody(ifLargerThan: 1024) == true)
        #expect(large.headers["Content-Encoding"] == "gzip")
        let decoded = try await python("import gzip,sys; sys.stdout.buffer.write(gzip.decompress(sys.stdin.buffer.read()))", input: large.body ?? [])
        #expect(decoded == big)
        // Already encoded: left alone.
        let once = large.body
        #expect(try large.compressBody(ifLargerThan: 0) == false)
        #expect(large.body == once)

        var noBody = MesosHTTPRequest(method: "GET", url: url)
        #expect(try noBody.compressBody(ifLargerThan: 0) == false)
    }
}
