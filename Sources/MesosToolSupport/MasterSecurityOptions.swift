import ArgumentParser
import MesosCore
import MesosCurlTransport
import MesosDCOSAuth
import MesosNIOTransport
import MesosURLSessionTransport

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The HTTP transport a tool uses for a remote master.
public enum ToolTransportKind: String, Sendable, CaseIterable, ExpressibleByArgument {
    /// libcurl (`MesosCurlTransport`): every TLS option.
    case curl
    /// Foundation's URLSession (`MesosURLSessionTransport`): on Linux only the system's trust store.
    case urlsession
    /// SwiftNIO (`MesosNIOTransport`, TLS through swift-nio-ssl): every TLS option.
    case nio

    /// The transport the tools use when none is named: SwiftNIO on Linux (fewer thread hand-offs and less CPU
    /// per call than libcurl, the same idle cost; see README "Choosing a transport"), libcurl elsewhere.
    public static var platformDefault: ToolTransportKind {
        #if os(Linux)
        .nio
        #else
        .curl
        #endif
    }
}

/// How every tool reaches a master over TLS and through DC/OS: `--ca-file`, `--cert`/`--key`, `--insecure`,
/// `--service-account-file`. Add it to a command with `@OptionGroup var security: MasterSecurityOptions`.
public struct MasterSecurityOptions: ParsableArguments, Sendable {
    /// A PEM file of CA certificates to trust instead of the system's (a private CA in front of the master).
    @Option(name: .customLong("ca-file"), help: ArgumentHelp(
        "A PEM file of CA certificates to trust for https masters instead of the system's.", valueName: "path"))
    public var caFile: String?

    /// A PEM client certificate to present (a proxy that requires one).
    @Option(name: .customLong("cert"), help: ArgumentHelp(
        "A PEM client certificate to present to an https master or proxy (with --key).", valueName: "path"))
    public var certificate: String?

    /// The PEM private key of ``certificate``.
    @Option(name: .customLong("key"), help: ArgumentHelp(
        "The PEM private key of --cert (omit it when the --cert file holds the key too).", valueName: "path"))
    public var key: String?

    /// Skip TLS verification (a warning is printed every time).
    @Flag(name: .customLong("insecure"), help: "Do not verify the master's TLS certificate or host name (unsafe; warns on every start).")
    public var insecure = false

    /// A DC/OS service-account secret (JSON with `uid`, `private_key`, `login_endpoint`).
    @Option(name: .customLong("service-account-file"), help: ArgumentHelp(
        "A DC/OS service-account secret (JSON: uid, private_key, login_endpoint); the principal is its uid.",
        valueName: "path"))
    public var serviceAccountFile: String?

    /// The warning printed on every start with `--insecure`.
    public static let insecureWarning =
        "warning: --insecure: TLS certificates and host names are NOT verified; anyone between you and the master can read and change this traffic"

    /// Creates the options with nothing set.
    public init() {}

    /// Checks the files exist and the options fit together.
    public func validate() throws {
        if self.key != nil, self.certificate == nil {
            throw ValidationError("--key needs --cert")
        }
        for (flag, path) in [("--ca-file", self.caFile), ("--cert", self.certificate), ("--key", self.key),
                             ("--service-account-file", self.serviceAccountFile)] {
            if let path, access(path, R_OK) != 0 {
                throw ValidationError("\(flag): cannot read '\(path)'")
            }
        }
    }

    /// Whether any TLS option is set.
    public var hasTLSOptions: Bool {
        self.caFile != nil || self.certificate != nil || self.insecure
    }

    /// The TLS settings for `MesosCurlTransport`.
    public var curlTLS: MesosCurlTransport.Configuration.TLS {
        MesosCurlTransport.Configuration.TLS(
            verifyPeer: !self.insecure, caBundlePath: self.caFile, clientCertificatePath: self.certificate,
            clientKeyPath: self.key)
    }

    /// Makes the transport a tool talks to a remote master with, carrying these TLS options.
    ///
    /// - Parameters:
    ///   - kind: curl, URLSession or NIO; by default ``ToolTransportKind/platformDefault`` (NIO on Linux).
    ///   - configuration: The curl settings to start from (timeouts, limits); `tls` is replaced.
    ///   - warn: Receives the `--insecure` warning (standard error by default).
    /// - Returns: The transport.
    /// - Throws: ``MesosError/Code/invalidConfiguration`` when the transport cannot apply an option here
    ///   (URLSession on Linux: no custom CA, client certificate or `--insecure`), naming curl, which can.
    ///   `configuration`'s connect timeout and buffer limit also apply to NIO.
    public func makeTransport(
        _ kind: ToolTransportKind = .platformDefault,
        configuration: MesosCurlTransport.Configuration = .init(),
        warn: @escaping @Sendable (String) -> Void = { MesosCurlTransport.writeToStandardError($0) }
    ) throws(MesosError) -> any MesosTransport {
        if self.insecure { warn(Self.insecureWarning) }
        switch kind {
        case .curl:
            var configuration = configuration
            configuration.tls = self.curlTLS
            // The warning above is the tools' own; the transport's is not repeated.
            return MesosCurlTransport(configuration: configuration, warningHandler: { _ in })
        case .urlsession:
            let tls = MesosURLSessionTransport.Configuration.TLS(verifyPeer: !self.insecure, caBundlePath: self.caFile)
            if self.certificate != nil || !tls.isSupportedOnThisPlatform {
                throw MesosError(
                    code: .invalidConfiguration,
                    message: "the urlsession transport cannot use "
                        + (self.certificate != nil ? "a client certificate (--cert)" : "--ca-file or --insecure")
                        + " on this platform; use --transport curl")
            }
            return MesosURLSessionTransport(configuration: .init(tls: tls))
        case .nio:
            var nio = MesosNIOTransport.Configuration()
            nio.connectTimeout = configuration.connectTimeout
            nio.maximumBufferedBytesPerResponse = configuration.maximumBufferedBytesPerResponse
            nio.tls = MesosNIOTransport.Configuration.TLS(
                verifyPeer: !self.insecure, caBundlePath: self.caFile, clientCertificatePath: self.certificate,
                clientKeyPath: self.key)
            return MesosNIOTransport(configuration: nio)
        }
    }

    /// The DC/OS authenticator of `--service-account-file`, or `nil` without it. It logs in through
    /// `transport` (give it the TLS options too: the login endpoint is usually behind the same proxy).
    ///
    /// - Parameter transport: How to reach the account's login endpoint.
    /// - Throws: ``MesosError/Code/invalidConfiguration`` for an unreadable or malformed secret.
    public func serviceAccountAuthenticator(transport: any MesosTransport) throws(MesosError) -> DCOSAuthenticator? {
        guard let path = self.serviceAccountFile else { return nil }
        guard let file = fopen(path, "r") else {
            throw MesosError(code: .invalidConfiguration, message: "--service-account-file: cannot read '\(path)'")
        }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while bytes.count <= 1 << 20 {
            let count = fread(&buffer, 1, buffer.count, file)
            if count <= 0 { break }
            bytes.append(contentsOf: buffer[..<count])
        }
        let account = try DCOSServiceAccount(secretJSON: bytes)
        return try DCOSAuthenticator(account: account, transport: transport)
    }
}
