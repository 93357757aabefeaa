import Foundation
import MesosCore
import MesosTestKit
import Testing

@testable import MesosNIOTransport

/// What an idle stream costs: process-wide CPU time is only meaningful when nothing else runs in the process, so
/// this runs only when `MESOS_NIO_CPU_TEST` is set, alone:
/// `MESOS_NIO_CPU_TEST=1 swift test --filter NIOIdleCPUTests` (`MESOS_NIO_CPU_SECONDS`, default 10).
@Suite(
    "NIO transport: idle stream CPU", .serialized,
    .enabled(if: ProcessInfo.processInfo.environment["MESOS_NIO_CPU_TEST"] != nil)
)
struct NIOIdleCPUTests {
    static let seconds = Double(ProcessInfo.processInfo.environment["MESOS_NIO_CPU_SECONDS"] ?? "") ?? 10

    @Test("an open stream with nothing arriving costs < 1 % of a core")
    func anIdleStreamSleeps() async throws {
        let master = FakeMaster(configuration: .init(heartbeatInterval: .seconds(3600)))
        let server = try await FakeMasterServer.start(master: master)
        await master.route("POST", "/quiet") { _ in
            .stream(headers: ["Content-Type": "text/plain"]) { writer in
                try await writer.write(Array("first".utf8)[...])
                try await Task.sleep(for: .seconds(3600))
            }
        }
        let transport = MesosNIOTransport(configuration: .init(), ownThread: true)
        let (head, body) = try await transport.send(MesosHTTPRequest(url: server.url.appending(path: "quiet")))
        #expect(head.status == 200)
        var iterator = body.makeAsyncIterator()
        #expect(try await iterator.next() == Array("first".utf8)[...])
        // A reader waits for the next chunk, as a subscribed scheduler does.
        let reader = Task { [iterator] in
            var iterator = iterator
            return try? await iterator.next()
        }
        try await Task.sleep(for: .milliseconds(500))
        let cpuBefore = processCPUSeconds()
        let wallBefore = ContinuousClock.now
        try await Task.sleep(for: .seconds(Self.seconds))
        let cpu = processCPUSeconds() - cpuBefore
        let wall = (ContinuousClock.now - wallBefore).inSeconds
        print("NIO idle stream: \(String(format: "%.3f", cpu)) s CPU in \(String(format: "%.2f", wall)) s = \(String(format: "%.2f", cpu / wall * 100)) % of one core (fake master in the same process)")
        #expect(cpu / wall < 0.01)
        reader.cancel()
        _ = await reader.value
        try await transport.shutdown()
        try await server.shutdown()
    }
}
