import ArgumentParser
import Foundation
import MesosCore
import MesosCurlTransport
import MesosToolSupport
import Synchronization
import Testing
import _CryptoExtras

@Suite("The tools' TLS and DC/OS options")
struct MasterSecurityOptionsTests {
    /// A readable file in a fresh temporary directory.
    static func file(_ name: String, _ contents: String) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tool-options-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let url = directory.appendingPathComponent(name)
        try Data(contents.utf8).write(to: url)
        return url.path
    }

    @Test("--ca-file, --cert and --key become curl's TLS settings; verification stays on")
    func curlSettings() throws {
        let ca = try Self.file("ca.pem", "ca"), cert = try Self.file("client.pem", "cert"), key = try Self.file("client.key", "key")
        let options = try MasterSecurityOptions.parse(["--ca-file", ca, "--cert", cert, "--key", key])
        #expect(options.curlTLS == MesosCurlTransport.Configuration.TLS(
            verifyPeer: true, caBundlePath: ca, clientCertificatePath: cert, clientKeyPath: key))
        #expect(options.hasTLSOptions)
        #expect(try MasterSecurityOptions.parse([]).hasTLSOptions == false)
    }

    @Test("--insecure turns verification off and warns every time a transport is made")
    func insecureWarns() throws {
        let options = try MasterSecurityOptions.parse(["--insecure"])
        #expect(options.curlTLS.verifyPeer == false)
        let warnings = Mutex<[String]>([])
        _ = try options.makeTransport(.curl, warn: { message in warnings.withLock { $0.append(message) } })
        _ = try options.makeTransport(.curl, warn: { message in warnings.withLock { $0.append(message) } })
        #expect(warnings.withLock { $0 } == [MasterSecurityOptions.insecureWarning, MasterSecurityOptions.insecureWarning])
        let quiet = Mutex<[String]>([])
        _ = try MasterSecurityOptions.parse([]).makeTransport(.curl, warn: { message in quiet.withLock { $0.append(message) } })
        #expect(quiet.withLock { $0 }.isEmpty)
    }

    @Test("--key without --cert, and unreadable files, are usage errors naming the flag")
    func validation() throws {
        let key = try Self.file("client.key", "key")
        #expect(throws: (any Error).self) { try MasterSecurityOptions.parse(["--key", key]) }
        do {
            _ = try MasterSecurityOptions.parse(["--ca-file", "/nonexistent/ca.pem"])
            Issue.record("an unreadable --ca-file was accepted")
        } catch {
            #expect(MasterSecurityOptions.message(for: error).contains("--ca-file"))
        }
    }

    #if os(Linux)
    @Test("URLSession cannot take a CA file or a client certificate on Linux: a typed error naming curl")
    func urlSessionRefuses() throws {
        let ca = try Self.file("ca.pem", "ca"), cert = try Self.file("client.pem", "cert")
        for arguments in [["--ca-file", ca], ["--cert", cert], ["--insecure"]] {
            let options = try MasterSecurityOptions.parse(arguments)
            let error = #expect(throws: MesosError.self) { try options.makeTransport(.urlsession, warn: { _ in }) }
            #expect(error?.code == .invalidConfiguration)
            #expect(error?.message.contains("--transport curl") == true)
        }
        _ = try MasterSecurityOptions.parse([]).makeTransport(.urlsession)
    }
    #endif

    @Test("--service-account-file: a DC/OS authenticator whose principal is the account's uid; a bad secret is typed")
    func serviceAccount() throws {
        let transport = try MasterSecurityOptions.parse([]).makeTransport(.curl)
        #expect(try MasterSecurityOptions.parse([]).serviceAccountAuthenticator(transport: transport) == nil)
        let malformed = try Self.file("account.json", #"{"private_key": "x"}"#)
        let error = #expect(throws: MesosError.self) {
            try MasterSecurityOptions.parse(["--service-account-file", malformed]).serviceAccountAuthenticator(transport: transport)
        }
        #expect(error?.code == .invalidConfiguration)
        let badKey = try Self.file(
            "account.json",
            #"{"uid": "my-service", "private_key": "not a key", "login_endpoint": "https://dcos.example/acs/api/v1/auth/login", "scheme": "RS256"}"#)
        let keyError = #expect(throws: MesosError.self) {
            try MasterSecurityOptions.parse(["--service-account-file", badKey]).serviceAccountAuthenticator(transport: transport)
        }
        #expect(keyError?.code == .invalidConfiguration)
        let key = try _RSA.Signing.PrivateKey(keySize: .bits2048).pemRepresentation
        let secret = try JSONSerialization.data(withJSONObject: [
            "uid": "my-service", "private_key": key, "scheme": "RS256",
            "login_endpoint": "https://dcos.example/acs/api/v1/auth/login",
        ])
        let account = try Self.file("account.json", String(decoding: secret, as: UTF8.self))
        let authenticator = try #require(
            try MasterSecurityOptions.parse(["--service-account-file", account]).serviceAccountAuthenticator(transport: transport))
        #expect(authenticator.principal == "my-service")
    }
}
