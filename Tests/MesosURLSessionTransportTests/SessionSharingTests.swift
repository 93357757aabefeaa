import Foundation
import MesosCore
@testable import MesosURLSessionTransport
import Testing

@Suite("URLSession transport: the shared session")
struct SessionSharingTests {
    @Test("a paused ordinary call holds up other calls at most until its own timeout, without deadlock")
    func pausedCallIsBoundedByItsTimeout() async throws {
        let server = try await ScriptedServer.start()
        var configuration = MesosURLSessionTransport.Configuration.forTests
        configuration.maximumBufferedBytesPerResponse = 64 << 10
        // The second call's head may wait for the whole of the first call's timeout: its own wait for the head
        // (60 s in `forTests`) must be far longer, or a loaded machine turns the test into a race between the two.
        let transport = MesosURLSessionTransport(configuration: configuration)
        // A big answer nobody reads: its buffer fills and the shared session pauses.
        let (_, unread) = try await transport.send(post(server.url("/big?mb=64"), timeout: .seconds(3)))
        // Readiness, not a pause: the server has sent more than the client buffers, so the session is paused.
        #expect(try await server.waitFor(timeout: 30) { $0.bigBytesSent >= 1 << 20 })
        let (response, body) = try await transport.send(post(server.url("/fixed?len=4"), timeout: .seconds(60)))
        #expect(response.status == 200)
        #expect(try await body.text() == "ffff")
        // The paused call was ended by its own timeout, which is what let the other call through.
        let error = await mesosError { _ = try await unread.collect(upTo: 1 << 30) }
        #expect(error?.code == .timeout)
    }

    @Test("finished and abandoned exchanges leave no task behind")
    func noTaskLeak() async throws {
        let server = try await ScriptedServer.start()
        let transport = MesosURLSessionTransport(configuration: .forTests)
        for _ in 0..<3 {
            let (_, body) = try await transport.send(post(server.url("/fixed?len=10")))
            _ = try await body.collect(upTo: 100)
        }
        do {
            let (_, dropped) = try await transport.send(post(server.url("/gated"), timeout: .seconds(30)))
            var iterator = dropped.makeAsyncIterator()
            _ = try await iterator.next()
        }
        for _ in 0..<100 where transport.sharedSessionActiveTaskCount > 0 {
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(transport.sharedSessionActiveTaskCount == 0)
    }
}
