import Foundation
import MesosCore
import MesosURLSessionTransport
import Testing

@Suite("URLSession transport: timeouts, failures, cancellation")
struct FailureTests {
    @Test("the whole-call timeout fires while waiting for the head")
    func callTimeoutBeforeHead() async throws {
        let server = try await ScriptedServer.start()
        let transport = MesosURLSessionTransport(configuration: .forTests)
        let start = ContinuousClock.now
        let error = await mesosError {
            _ = try await transport.send(post(server.url("/slowhead?delay=20"), timeout: .milliseconds(600)))
        }
        let elapsed = ContinuousClock.now - start
        // The server answers 200 after 20 s: a timeout can only be the call's own limit, so no upper bound is
        // needed (a loaded machine could break one); the lower one cannot be broken by slowness.
        #expect(error?.code == .timeout)
        #expect(elapsed >= .milliseconds(550), "took \(elapsed)")
    }

    @Test("the whole-call timeout also bounds the body")
    func callTimeoutDuringBody() async throws {
        let server = try await ScriptedServer.start()
        let transport = MesosURLSessionTransport(configuration: .forTests)
        // Head and a first chunk at once, then silence for 20 s.
        let (response, body) = try await transport.send(post(server.url("/gated"), timeout: .seconds(8)))
        #expect(response.status == 200)
        var received = ""
        let error = await mesosError {
            for try await chunk in body { received += String(decoding: chunk, as: UTF8.self) }
        }
        #expect(received == "first;")
        #expect(error?.code == .timeout)
    }

    @Test("the idle timeout fires on a silent stream, not on a steady one")
    func idleTimeout() async throws {
        let server = try await ScriptedServer.start()
        let transport = MesosURLSessionTransport(configuration: .forTests)
        let (_, steady) = try await transport.send(post(server.url("/chunks?n=5&delay=0.1"), timeout: nil, idleTimeout: .seconds(15)))
        #expect(try await steady.text() == "chunk-0;chunk-1;chunk-2;chunk-3;chunk-4;")

        let (_, silent) = try await transport.send(post(server.url("/gated"), timeout: nil, idleTimeout: .milliseconds(700)))
        var chunks: [String] = []
        let error = await mesosError {
            for try await chunk in silent { chunks.append(String(decoding: chunk, as: UTF8.self)) }
        }
        // Without the idle limit the server's silence would end after 20 s with "never-released;" and a clean end.
        #expect(chunks == ["first;"])
        #expect(error?.code == .timeout)
    }

    @Test("the connect timeout bounds the wait for the head of a stream")
    func connectTimeout() async throws {
        let server = try await ScriptedServer.start()
        var configuration = MesosURLSessionTransport.Configuration.forTests
        configuration.connectTimeout = .milliseconds(700)
        let transport = MesosURLSessionTransport(configuration: configuration)
        let error = await mesosError {
            _ = try await transport.send(post(server.url("/slowhead?delay=20"), timeout: nil))
        }
        #expect(error?.code == .timeout)
    }

    @Test("a refused connection is a transportFailure with the URLError as cause")
    func refused() async throws {
        let port = try unusedPort()
        let transport = MesosURLSessionTransport(configuration: .forTests)
        for timeout in [Duration.seconds(5), nil] {
            let error = await mesosError {
                _ = try await transport.send(post(URL(string: "http://127.0.0.1:\(port)/api/v1/scheduler")!, timeout: timeout))
            }
            #expect(error?.code == .transportFailure)
            #expect(error?.cause is URLError, "\(String(describing: error))")
        }
    }

    @Test("a server closing mid-body is a transportFailure thrown from the body", arguments: ["/close-mid", "/close-mid-chunked"])
    func closedMidBody(path: String) async throws {
        let server = try await ScriptedServer.start()
        let transport = MesosURLSessionTransport(configuration: .forTests)
        let (response, body) = try await transport.send(post(server.url(path), timeout: .seconds(30)))
        #expect(response.status == 200)
        var received: [UInt8] = []
        let error = await mesosError {
            for try await chunk in body { received += chunk }
        }
        #expect(error?.code == .transportFailure, "\(String(describing: error))")
        #expect(!received.isEmpty)
    }

    @Test("cancelling the consuming task throws cancelled and closes the connection")
    func cancellationClosesConnection() async throws {
        let server = try await ScriptedServer.start()
        let transport = MesosURLSessionTransport(configuration: .forTests)
        let (_, body) = try await transport.send(post(server.url("/idle"), timeout: nil))
        #expect(try await server.waitFor { $0.openConnections == 1 && $0.requests.last?.path == "/idle" })
        let reader = Task {
            var chunks: [String] = []
            let error = await mesosError {
                for try await chunk in body { chunks.append(String(decoding: chunk, as: UTF8.self)) }
            }
            return (chunks, error)
        }
        try await Task.sleep(for: .milliseconds(300))
        reader.cancel()
        let (chunks, error) = await reader.value
        #expect(chunks == ["hello"])
        #expect(error?.code == .cancelled)
        #expect(try await server.waitFor { $0.openConnections == 0 }, "the stream's connection stayed open")
    }

    @Test("cancelling send before the head throws cancelled")
    func cancellationBeforeHead() async throws {
        let server = try await ScriptedServer.start()
        let transport = MesosURLSessionTransport(configuration: .forTests)
        let sender = Task {
            await mesosError { _ = try await transport.send(post(server.url("/slowhead?delay=20"), timeout: .seconds(30))) }
        }
        try await Task.sleep(for: .milliseconds(300))
        sender.cancel()
        let error = await sender.value
        // Not cancelled, the call would succeed after the server's 20 s.
        #expect(error?.code == .cancelled)
    }

    @Test("dropping the body closes the connection")
    func droppingBodyClosesConnection() async throws {
        let server = try await ScriptedServer.start()
        let transport = MesosURLSessionTransport(configuration: .forTests)
        do {
            let (response, body) = try await transport.send(post(server.url("/idle"), timeout: nil))
            #expect(response.status == 200)
            var iterator = body.makeAsyncIterator()
            #expect(try await iterator.next() != nil)
        }
        #expect(try await server.waitFor { $0.openConnections == 0 && $0.connections >= 1 }, "connection stayed open")

        do {
            // Never iterated at all.
            let (response, _) = try await transport.send(post(server.url("/idle"), timeout: nil))
            #expect(response.status == 200)
        }
        #expect(try await server.waitFor { $0.openConnections == 0 && $0.requests.filter { $0.method == "POST" && $0.path == "/idle" }.count == 2 })
    }
}
