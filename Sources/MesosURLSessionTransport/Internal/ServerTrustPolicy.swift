import Foundation

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Security)
import Security
#endif

/// Answers authentication challenges: server trust per the TLS settings (Apple platforms), and the default
/// handling for everything else, so a 401 is returned to the caller as it is.
struct ServerTrustPolicy: Sendable {
    let tls: MesosURLSessionTransport.Configuration.TLS
    #if canImport(Security)
    /// DER certificates read from ``MesosURLSessionTransport/Configuration/TLS/caBundlePath``.
    let anchors: [Data]
    #endif

    init(tls: MesosURLSessionTransport.Configuration.TLS) {
        self.tls = tls
        #if canImport(Security)
        if let path = tls.caBundlePath, let pem = try? String(contentsOfFile: path, encoding: .utf8) {
            self.anchors = Self.derCertificates(fromPEM: pem)
        } else {
            self.anchors = []
        }
        #endif
    }

    /// Splits a PEM bundle into the DER bytes of its certificates.
    static func derCertificates(fromPEM pem: String) -> [Data] {
        var certificates: [Data] = []
        var base64: String?
        for rawLine in pem.split(whereSeparator: \.isNewline) {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line == "-----BEGIN CERTIFICATE-----" {
                base64 = ""
            } else if line == "-----END CERTIFICATE-----" {
                if let text = base64, let der = Data(base64Encoded: text) {
                    certificates.append(der)
                }
                base64 = nil
            } else if base64 != nil {
                base64! += line
            }
        }
        return certificates
    }

    /// Whether the challenge is about the server's TLS certificate (never on swift-corelibs-foundation).
    static func isServerTrust(_ challenge: URLAuthenticationChallenge) -> Bool {
        #if canImport(Security)
        return challenge.protectionSpace.authenticationMethod == NSURLAuthenticationMethodServerTrust
        #else
        return false
        #endif
    }

    func evaluate(_ challenge: URLAuthenticationChallenge) -> (URLSession.AuthChallengeDisposition, URLCredential?) {
        #if canImport(Security)
        guard challenge.protectionSpace.authenticationMethod == NSURLAuthenticationMethodServerTrust,
            let serverTrust = challenge.protectionSpace.serverTrust
        else {
            return (.performDefaultHandling, nil)
        }
        if !self.tls.verifyPeer {
            return (.useCredential, URLCredential(trust: serverTrust))
        }
        guard self.tls.caBundlePath != nil else {
            return (.performDefaultHandling, nil)
        }
        let certificates = self.anchors.compactMap { SecCertificateCreateWithData(nil, $0 as CFData) }
        guard !certificates.isEmpty else {
            return (.cancelAuthenticationChallenge, nil)
        }
        SecTrustSetAnchorCertificates(serverTrust, certificates as CFArray)
        SecTrustSetAnchorCertificatesOnly(serverTrust, true)
        var error: CFError?
        if SecTrustEvaluateWithError(serverTrust, &error) {
            return (.useCredential, URLCredential(trust: serverTrust))
        }
        return (.cancelAuthenticationChallenge, nil)
        #else
        // swift-corelibs-foundation never issues server-trust challenges; libcurl verifies with the system's CAs.
        return (.performDefaultHandling, nil)
        #endif
    }
}
