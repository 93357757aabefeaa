import Foundation
import MesosCompression
import MesosCore
import Testing
import MesosTestKit

/// Runs only when `MESOS_MASTER_URL` points at a real master, e.g. one started with
/// `../shared/realmesos/start-master.sh 5098 1`.
@Suite("Real master: gzip responses", .enabled(if: TestServers.shouldRun(needing: "MESOS_MASTER_URL"), "set MESOS_MASTER_URL to run"))
struct RealMasterCompressionTests {
    @Test("a GET_STATE answer sent with Content-Encoding: gzip decodes to JSON")
    func getStateGzip() async throws {
        let base = try TestServers.value("MESOS_MASTER_URL")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mesos-gzip-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let headerFile = directory.appendingPathComponent("headers").path
        let bodyFile = directory.appendingPathComponent("body").path
        // curl decodes nothing unless asked with --compressed, so the body arrives exactly as the master sent it.
        _ = try await run("curl", [
            "-s", "--fail", "--max-time", "20", "-X", "POST",
            "-H", "Content-Type: application/json", "-H", "Accept: application/json", "-H", "Accept-Encoding: gzip",
            "--data-binary", #"{"type":"GET_STATE"}"#,
            "-D", headerFile, "-o", bodyFile, base + "/api/v1",
        ])
        let headerText = try String(contentsOfFile: headerFile, encoding: .utf8)
        var headers = MesosHTTPHeaders()
        for line in headerText.split(whereSeparator: { $0 == "\r\n" || $0 == "\n" }).dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers.add(
                name: String(line[..<colon]),
                value: line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            )
        }
        #expect(headerText.hasPrefix("HTTP/1.1 200"))
        #expect(headers["Content-Encoding"] == "gzip")
        let raw = Array(try Data(contentsOf: URL(fileURLWithPath: bodyFile)))
        #expect(raw.prefix(2) == [0x1F, 0x8B])

        let response = MesosHTTPResponse(status: 200, headers: headers)
        let body = MesosResponseBody(Chunks(chunks: Split.random.apply(raw)))
        let (head, decoded) = try response.decodingContent(of: body)
        #expect(head.headers["Content-Encoding"] == nil)
        let json = try await decoded.collect(upTo: 64 << 20)
        #expect(json.count > raw.count)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json)) as? [String: Any])
        #expect(object["type"] as? String == "GET_STATE")
        #expect(object["get_state"] != nil)
    }
}
