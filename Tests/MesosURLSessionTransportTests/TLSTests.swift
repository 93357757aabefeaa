import Foundation
import MesosCore
import MesosTestKit
import MesosURLSessionTransport
import Testing

@Suite("URLSession transport: TLS")
struct TLSTests {
    /// A throwaway self-signed certificate for 127.0.0.1 / localhost, in a temporary directory that
    /// ``remove()`` deletes (each test calls it in a `defer`).
    struct Certificate {
        let directory: URL
        var certificate: String { self.directory.appendingPathComponent("cert.pem").path }
        var key: String { self.directory.appendingPathComponent("key.pem").path }
        var paths: (certificate: String, key: String) { (self.certificate, self.key) }

        /// Makes the certificate with `openssl`, waiting for it on a thread of its own.
        static func make() async throws -> Certificate {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("urlsession-tls-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let made = Certificate(directory: directory)
            do {
                let (certificate, key) = (made.certificate, made.key)
                let status = try await onDedicatedThread {
                    try runTool("openssl", [
                        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=localhost", "-days", "1",
                        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", key, "-out", certificate,
                    ])
                }
                guard status == 0 else { throw ScriptedServer.ServerError(message: "openssl failed with \(status)") }
            } catch {
                made.remove()
                throw error
            }
            return made
        }

        func remove() {
            try? FileManager.default.removeItem(at: self.directory)
        }
    }

    @Test("an untrusted certificate is a transportFailure")
    func verificationFailure() async throws {
        let made = try await Certificate.make()
        defer { made.remove() }
        let tls = made.paths
        let server = try await ScriptedServer.start(tls: tls)
        let transport = MesosURLSessionTransport(configuration: .forTests)
        let error = await mesosError {
            _ = try await transport.send(post(server.url("/fixed?len=3"), timeout: .seconds(30)))
        }
        #expect(error?.code == .transportFailure)
        #expect(error?.message.lowercased().contains("certificate") == true, "\(String(describing: error))")
    }

    @Test("a custom CA bundle is trusted where the platform allows, else an invalidConfiguration error")
    func customCABundle() async throws {
        let made = try await Certificate.make()
        defer { made.remove() }
        let tls = made.paths
        let server = try await ScriptedServer.start(tls: tls)
        var configuration = MesosURLSessionTransport.Configuration.forTests
        configuration.tls.caBundlePath = tls.certificate
        let transport = MesosURLSessionTransport(configuration: configuration)
        #if canImport(Security)
        let (response, body) = try await transport.send(post(server.url("/fixed?len=3"), timeout: .seconds(30)))
        #expect(response.status == 200)
        #expect(try await body.text() == "fff")
        #else
        #expect(!configuration.tls.isSupportedOnThisPlatform)
        let error = await mesosError {
            _ = try await transport.send(post(server.url("/fixed?len=3"), timeout: .seconds(30)))
        }
        #expect(error?.code == .invalidConfiguration)
        #expect(try server.stats().connections == 0, "nothing may be sent with an unenforceable TLS setting")
        #endif
    }

    @Test("verification can be turned off explicitly where the platform allows, else an invalidConfiguration error")
    func verificationOff() async throws {
        let made = try await Certificate.make()
        defer { made.remove() }
        let tls = made.paths
        let server = try await ScriptedServer.start(tls: tls)
        var configuration = MesosURLSessionTransport.Configuration.forTests
        configuration.tls.verifyPeer = false
        let transport = MesosURLSessionTransport(configuration: configuration)
        #if canImport(Security)
        let (response, _) = try await transport.send(post(server.url("/fixed?len=3"), timeout: .seconds(30)))
        #expect(response.status == 200)
        #else
        let error = await mesosError {
            _ = try await transport.send(post(server.url("/fixed?len=3"), timeout: .seconds(30)))
        }
        #expect(error?.code == .invalidConfiguration)
        #endif
        // Plain HTTP is unaffected by TLS settings.
        let plain = try await ScriptedServer.start()
        let (response, _) = try await transport.send(post(plain.url("/fixed?len=3"), timeout: .seconds(30)))
        #expect(response.status == 200)
    }
}
