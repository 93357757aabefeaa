import Foundation
import MesosCore
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import MesosTestKit
import Testing

@testable import MesosNIOTransport

/// A CA, a server certificate for 127.0.0.1 and a client certificate, made with the `openssl` tool into a
/// temporary directory, plus a second CA that signed nothing.
struct TLSFixture {
    static let openssl: String? = ["/usr/bin/openssl", "/usr/local/bin/openssl", "/bin/openssl"]
        .first { FileManager.default.isExecutableFile(atPath: $0) }
    /// Whether tests that need `openssl` must fail instead of skipping without it.
    static let required = ProcessInfo.processInfo.environment["MESOS_REQUIRE_SERVERS"] == "1"
    static var runs: Bool { openssl != nil || required }

    let directory: URL
    var caPath: String { self.directory.appending(path: "ca.pem").path }
    var otherCAPath: String { self.directory.appending(path: "other-ca.pem").path }
    var serverCertificatePath: String { self.directory.appending(path: "server.pem").path }
    var serverKeyPath: String { self.directory.appending(path: "server.key").path }
    var clientCertificatePath: String { self.directory.appending(path: "client.pem").path }
    var clientKeyPath: String { self.directory.appending(path: "client.key").path }

    struct OpenSSLFailed: Error, CustomStringConvertible {
        var description: String
    }

    init() throws {
        guard let openssl = Self.openssl else {
            throw OpenSSLFailed(description: "openssl is not installed (required by MESOS_REQUIRE_SERVERS=1)")
        }
        self.directory = FileManager.default.temporaryDirectory.appending(path: "mesos-nio-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: self.directory, withIntermediateDirectories: true)
        let dir = self.directory.path
        func run(_ arguments: [String]) throws {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: openssl)
            process.arguments = arguments
            process.currentDirectoryURL = self.directory
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else {
                throw OpenSSLFailed(description: "openssl \(arguments.joined(separator: " ")) exited with \(process.terminationStatus)")
            }
        }
        for ca in ["ca", "other-ca"] {
            try run(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "\(dir)/\(ca).key", "-out", "\(dir)/\(ca).pem",
                     "-days", "2", "-subj", "/CN=swift-mesos test \(ca)"])
        }
        try "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
            .write(toFile: "\(dir)/server.ext", atomically: true, encoding: .utf8)
        try "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n".write(toFile: "\(dir)/client.ext", atomically: true, encoding: .utf8)
        for leaf in ["server", "client"] {
            try run(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "\(dir)/\(leaf).key", "-out", "\(dir)/\(leaf).csr",
                     "-subj", "/CN=\(leaf == "server" ? "localhost" : "framework")"])
            try run(["x509", "-req", "-in", "\(dir)/\(leaf).csr", "-CA", "\(dir)/ca.pem", "-CAkey", "\(dir)/ca.key",
                     "-CAcreateserial", "-out", "\(dir)/\(leaf).pem", "-days", "2", "-extfile", "\(dir)/\(leaf).ext"])
        }
    }

    /// Makes the fixture on a thread of its own: waiting for `openssl` must not hold a cooperative thread.
    static func make() async throws -> TLSFixture {
        try await onDedicatedThread(name: "TLSFixture") { try TLSFixture() }
    }

    func remove() {
        try? FileManager.default.removeItem(at: self.directory)
    }
}

/// An HTTP or HTTPS server on 127.0.0.1 (NIO's HTTP codecs, NIOSSL) answering every request with 200 `ok`.
struct TLSTestServer {
    let channel: any Channel
    /// How many connections it accepted.
    let accepted: LockedValue<Int>
    var port: Int { self.channel.localAddress?.port ?? 0 }

    /// Starts the server.
    ///
    /// - Parameters:
    ///   - fixture: The certificates for HTTPS, or `nil` for plain HTTP.
    ///   - requireClientCertificate: Whether clients must present a certificate signed by the fixture's CA.
    ///   - closeAfterAnswer: Whether to close each connection right after the answer, without announcing it
    ///     (`Connection: close` is not sent): a kept-alive connection that dies while idle.
    static func start(
        _ fixture: TLSFixture?, requireClientCertificate: Bool = false, closeAfterAnswer: Bool = false
    ) async throws -> TLSTestServer {
        var context: NIOSSLContext?
        if let fixture {
            var configuration = TLSConfiguration.makeServerConfiguration(
                certificateChain: try NIOSSLCertificate.fromPEMFile(fixture.serverCertificatePath).map { .certificate($0) },
                privateKey: .privateKey(try NIOSSLPrivateKey(file: fixture.serverKeyPath, format: .pem))
            )
            if requireClientCertificate {
                configuration.certificateVerification = .noHostnameVerification
                configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(fixture.caPath))
            }
            context = try NIOSSLContext(configuration: configuration)
        }
        let accepted = LockedValue(0)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { [context] channel in
                accepted.withLock { $0 += 1 }
                return channel.eventLoop.makeCompletedFuture {
                    if let context {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                    }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(OKResponder(closeAfterAnswer: closeAfterAnswer))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        return TLSTestServer(channel: channel, accepted: accepted)
    }

    func stop() async {
        try? await self.channel.close()
    }

    /// Answers each request, once it is complete, with 200 and `ok`.
    final class OKResponder: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let closeAfterAnswer: Bool

        init(closeAfterAnswer: Bool) {
            self.closeAfterAnswer = closeAfterAnswer
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard case .end = self.unwrapInboundIn(data) else { return }
            let head = HTTPResponseHead(version: .http1_1, status: .ok, headers: ["Content-Length": "2", "Content-Type": "text/plain"])
            context.write(self.wrapOutboundOut(.head(head)), promise: nil)
            context.write(self.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: "ok")))), promise: nil)
            context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
            if self.closeAfterAnswer {
                context.close(promise: nil)
            }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }
}

/// TLS through swift-nio-ssl against a local HTTPS server with certificates made for the test.
@Suite(.enabled(if: TLSFixture.runs, "needs the openssl tool to make test certificates"))
struct NIOTransportTLSTests {
    static func send(_ transport: MesosNIOTransport, port: Int) async throws(MesosError) -> (Int, String) {
        let (head, body) = try await transport.send(
            MesosHTTPRequest(method: "GET", url: URL(string: "https://127.0.0.1:\(port)/version")!, timeout: .seconds(60))
        )
        return (head.status, String(decoding: try await body.collect(upTo: 1 << 10), as: UTF8.self))
    }

    static func transport(_ tls: MesosNIOTransport.Configuration.TLS) -> MesosNIOTransport {
        MesosNIOTransport(configuration: .init(tls: tls))
    }

    @Test func aServerSignedByTheConfiguredCAIsTrustedAndPooled() async throws {
        let fixture = try await TLSFixture.make()
        defer { fixture.remove() }
        let server = try await TLSTestServer.start(fixture)
        let transport = Self.transport(.init(caBundlePath: fixture.caPath))
        for _ in 0..<3 {
            let (status, text) = try await Self.send(transport, port: server.port)
            #expect(status == 200)
            #expect(text == "ok")
        }
        #expect(transport.core.pool.idleCount == 1)
        try await transport.shutdown()
        await server.stop()
    }

    @Test func anUntrustedServerIsAVerificationFailure() async throws {
        let fixture = try await TLSFixture.make()
        defer { fixture.remove() }
        let server = try await TLSTestServer.start(fixture)
        // The system's roots, then a CA that signed something else.
        for tls in [MesosNIOTransport.Configuration.TLS(), .init(caBundlePath: fixture.otherCAPath)] {
            let transport = Self.transport(tls)
            let error = await #expect(throws: MesosError.self) { _ = try await Self.send(transport, port: server.port) }
            #expect(error?.code == .tlsVerificationFailed, "\(String(describing: error))")
            #expect(error?.cause != nil)
        }
        // Verification off, explicitly: the same server answers.
        let insecure = Self.transport(.init(verifyPeer: false))
        #expect(try await Self.send(insecure, port: server.port).0 == 200)
        await server.stop()
    }

    @Test func unusableCertificateFilesAreTypedErrors() async throws {
        let fixture = try await TLSFixture.make()
        defer { fixture.remove() }
        let missing = fixture.directory.appending(path: "missing.pem").path
        for tls in [MesosNIOTransport.Configuration.TLS(caBundlePath: missing), .init(clientCertificatePath: missing)] {
            let error = await #expect(throws: MesosError.self) { _ = try await Self.send(Self.transport(tls), port: 1) }
            #expect(error?.code == .tlsVerificationFailed, "\(String(describing: error))")
        }
    }

    @Test func aClientCertificateIsPresented() async throws {
        let fixture = try await TLSFixture.make()
        defer { fixture.remove() }
        let server = try await TLSTestServer.start(fixture, requireClientCertificate: true)
        let withCertificate = Self.transport(
            .init(caBundlePath: fixture.caPath, clientCertificatePath: fixture.clientCertificatePath, clientKeyPath: fixture.clientKeyPath)
        )
        let (status, text) = try await Self.send(withCertificate, port: server.port)
        #expect(status == 200 && text == "ok")
        let without = Self.transport(.init(caBundlePath: fixture.caPath))
        let error = await #expect(throws: MesosError.self) { _ = try await Self.send(without, port: server.port) }
        #expect(error?.code == .transportFailure, "\(String(describing: error))")
        await server.stop()
    }
}
