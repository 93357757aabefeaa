import Foundation
import Testing

/// `mesos-bench calls` against the real master, on every path it measures: the library (`scheduler`,
/// `transport`) and the two references `scripts/bench-calls.sh` prints next to them (`socket`, `nio-codecs`).
/// Not a measurement: every ACKNOWLEDGE must be answered 202, so that the figures count accepted calls.
@Suite("mesos-bench calls on the real master", .enabled(if: RealMaster.shouldRun, "needs MESOS_MASTER_URL (scripts/test.sh starts one)"),
       .timeLimit(.minutes(3)))
struct BenchCallsTests {
    @Test("every path answers 202 to every call, at 1 and 4 in flight",
          arguments: ["scheduler", "transport", "socket", "nio-codecs"], [1, 4])
    func everyPathIsAccepted(via: String, concurrency: Int) async throws {
        let binary = try #require(ToolProcess.benchBinary, "mesos-bench is not built next to the tests (swift build --build-tests builds it)")
        let result = try await ToolProcess.run(
            ["calls", "--master", try RealMaster.baseURL(), "--calls", "300", "--concurrency", "\(concurrency)", "--via", via],
            binary: binary, timeout: .seconds(120))
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("status_202=300 errors=0"), "\(result.stdout)\n\(result.stderr)")
    }
}
