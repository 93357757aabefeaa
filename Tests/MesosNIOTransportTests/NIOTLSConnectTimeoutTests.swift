import Foundation
import MesosCore
import NIOCore
import NIOPosix
import Testing

@testable import MesosNIOTransport

/// `connectTimeout` covers the TLS handshake too: a server that accepts the TCP connection and never answers the
/// ClientHello makes an `https` request fail with a timeout after `connectTimeout`, long before the request's own
/// timeout. (The transport's timers run on a real event loop, so the bound is only checked from below.)
@Suite("NIO transport: connect timeout covers the TLS handshake", .timeLimit(.minutes(1)))
struct NIOTLSConnectTimeoutTests {
    /// Accepts connections on 127.0.0.1 and never reads or writes a byte.
    final class SilentServer: Sendable {
        let channel: any Channel
        var port: Int { self.channel.localAddress?.port ?? 0 }

        init(group: any EventLoopGroup) async throws {
            self.channel = try await ServerBootstrap(group: group)
                .childChannelOption(.autoRead, value: false)
                .bind(host: "127.0.0.1", port: 0)
                .get()
        }

        func close() async {
            try? await self.channel.close()
        }
    }

    @Test("an https server that never answers the ClientHello: .timeout after connectTimeout, not the request's 30 s")
    func handshakeCountsAgainstConnectTimeout() async throws {
        let server = try await SilentServer(group: MultiThreadedEventLoopGroup.singleton)
        let transport = MesosNIOTransport(configuration: .init(connectTimeout: .milliseconds(300)))
        var request = MesosHTTPRequest(method: "GET", url: URL(string: "https://127.0.0.1:\(server.port)/version")!)
        request.timeout = .seconds(30)
        let started = ContinuousClock.now
        let error = await #expect(throws: MesosError.self) { _ = try await transport.send(request) }
        let elapsed = ContinuousClock.now - started
        #expect(error?.code == .timeout, "\(String(describing: error))")
        #expect(error?.message.contains("TLS handshake") == true, "\(String(describing: error))")
        #expect(elapsed >= .milliseconds(300))
        try await transport.shutdown()
        await server.close()
    }

    @Test("plain http to the same server connects (no handshake to wait for): the request's own timeout governs")
    func plainHTTPIsNotCutShortByConnectTimeout() async throws {
        let server = try await SilentServer(group: MultiThreadedEventLoopGroup.singleton)
        let transport = MesosNIOTransport(configuration: .init(connectTimeout: .milliseconds(100)))
        var request = MesosHTTPRequest(method: "GET", url: URL(string: "http://127.0.0.1:\(server.port)/version")!)
        request.timeout = .milliseconds(600)
        let started = ContinuousClock.now
        let error = await #expect(throws: MesosError.self) { _ = try await transport.send(request) }
        #expect(error?.code == .timeout, "\(String(describing: error))")
        #expect(error?.message.contains("TLS handshake") == false, "\(String(describing: error))")
        #expect(ContinuousClock.now - started >= .milliseconds(600))
        try await transport.shutdown()
        await server.close()
    }
}
