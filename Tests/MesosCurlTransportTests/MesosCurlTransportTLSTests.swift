import Foundation
import MesosCore
import MesosTestKit
import Testing
@testable import MesosCurlTransport

/// https against a local Python `ssl` server with a throwaway self-signed certificate made at test time.
@Suite("MesosCurlTransport over TLS")
struct MesosCurlTransportTLSTests {
    /// A self-signed certificate for localhost and 127.0.0.1, in a temporary directory removed afterwards.
    final class Certificate: Sendable {
        let directory: String
        var certificatePath: String { self.directory + "/cert.pem" }
        var keyPath: String { self.directory + "/key.pem" }

        init() throws {
            self.directory = FileManager.default.temporaryDirectory
                .appendingPathComponent("mesos-curl-tls-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: self.directory, withIntermediateDirectories: true)
            let openssl = Process()
            openssl.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            openssl.arguments = [
                "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=localhost",
                "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-days", "1",
                "-keyout", self.directory + "/key.pem", "-out", self.directory + "/cert.pem",
            ]
            openssl.standardOutput = FileHandle.nullDevice
            openssl.standardError = FileHandle.nullDevice
            try openssl.run()
            openssl.waitUntilExit()
            guard openssl.terminationStatus == 0 else {
                throw ScriptedHTTPServer.ServerError(message: "openssl req failed with status \(openssl.terminationStatus)")
            }
        }

        deinit {
            try? FileManager.default.removeItem(atPath: self.directory)
        }
    }

    let certificate: Certificate
    let server: ScriptedHTTPServer

    init() async throws {
        // openssl runs as a child process; waiting for it must not hold a cooperative thread.
        self.certificate = try await onDedicatedThread { try Certificate() }
        self.server = try await ScriptedHTTPServer.start(tls: (self.certificate.certificatePath, self.certificate.keyPath))
    }

    @Test func anUntrustedCertificateIsATLSVerificationFailure() async throws {
        let transport = MesosCurlTransport()
        let error = await #expect(throws: MesosError.self) {
            _ = try await transport.send(MesosHTTPRequest(method: "GET", url: self.server.url("/hello")))
        }
        #expect(error?.code == .tlsVerificationFailed)
        #expect(error?.code.isTemporary == false)
        #expect(error?.message.lowercased().contains("certificate") == true, "\(String(describing: error))")
        #expect((error?.cause as? CurlError)?.code == 60)
    }

    @Test func aCustomCABundleIsTrusted() async throws {
        let recorder = WarningRecorder()
        let transport = MesosCurlTransport(
            configuration: .init(tls: .init(caBundlePath: self.certificate.certificatePath)),
            warningHandler: { recorder.record($0) }
        )
        let (response, body) = try await transport.send(MesosHTTPRequest(method: "GET", url: self.server.url("/hello")))
        #expect(response.status == 200)
        #expect(try await text(of: body) == "hello")
        #expect(recorder.warnings.isEmpty)
    }

    @Test func turningVerificationOffWorksAndWarns() async throws {
        let recorder = WarningRecorder()
        let transport = MesosCurlTransport.curl(
            configuration: .init(tls: .init(verifyPeer: false)),
            warningHandler: { recorder.record($0) }
        )
        #expect(recorder.warnings.count == 1)
        #expect(recorder.warnings.first?.contains("verification is disabled") == true)
        let (response, body) = try await transport.send(MesosHTTPRequest(method: "GET", url: self.server.url("/hello")))
        #expect(response.status == 200)
        #expect(try await text(of: body) == "hello")
    }

    @Test func aClientCertificateIsPresented() async throws {
        let server = try await ScriptedHTTPServer.start(
            tls: (self.certificate.certificatePath, self.certificate.keyPath),
            requireClientCertificate: true
        )
        var tls = MesosCurlTransport.Configuration.TLS(caBundlePath: self.certificate.certificatePath)
        let withoutCertificate = MesosCurlTransport(configuration: .init(tls: tls))
        let error = await #expect(throws: MesosError.self) {
            let (_, body) = try await withoutCertificate.send(MesosHTTPRequest(method: "GET", url: server.url("/hello")))
            _ = try await body.collect(upTo: 1024)
        }
        #expect(error?.code == .transportFailure)

        tls.clientCertificatePath = self.certificate.certificatePath
        tls.clientKeyPath = self.certificate.keyPath
        let withCertificate = MesosCurlTransport(configuration: .init(tls: tls))
        let (response, body) = try await withCertificate.send(MesosHTTPRequest(method: "GET", url: server.url("/hello")))
        #expect(response.status == 200)
        #expect(try await text(of: body) == "hello")
    }
}
