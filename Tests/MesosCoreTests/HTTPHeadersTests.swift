import Testing

@testable import MesosCore

@Suite("HTTP headers")
struct HTTPHeadersTests {
    @Test("lookup and replacement ignore ASCII case, keep order, and compare values exactly")
    func caseInsensitive() {
        var headers: MesosHTTPHeaders = ["Content-Type": "application/json", "mesos-stream-id": "a"]
        #expect(headers["content-type"] == "application/json")
        #expect(headers["MESOS-STREAM-ID"] == "a")
        #expect(headers["Mesos-Stream"] == nil)
        #expect(headers["Mesos-Stream-Idx"] == nil)
        headers["Mesos-Stream-Id"] = "b"
        #expect(headers.fields.map(\.name) == ["Content-Type", "Mesos-Stream-Id"])
        #expect(headers["mesos-stream-id"] == "b")
        headers.add(name: "X-A", value: "1")
        headers.add(name: "x-a", value: "2")
        headers["X-a"] = nil
        #expect(headers.fields.count == 2)
        #expect(headers == ["content-type": "application/json", "MESOS-STREAM-ID": "b"])
        #expect(headers != ["content-type": "application/JSON", "MESOS-STREAM-ID": "b"])
        // Only ASCII letters fold: '@' (0x40) and '`' (0x60) differ by the same bit but are not letters.
        #expect(!MesosHTTPHeaders.sameName("a@", "a`"))
        #expect(!MesosHTTPHeaders.sameName("[", "{"))
        #expect(MesosHTTPHeaders.sameName("Zz", "zZ"))
        #expect(!MesosHTTPHeaders.sameName("é", "É"))
    }
}
