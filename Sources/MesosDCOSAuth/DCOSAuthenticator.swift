import Crypto
import Foundation
import Logging
import MesosCore
import _CryptoExtras

/// A DC/OS service account: the JSON secret DC/OS hands out (`uid`, `private_key`, `scheme`, `login_endpoint`).
public struct DCOSServiceAccount: Sendable {
    /// The service account's id; also the framework's principal.
    public var uid: String
    /// The RSA private key, PEM.
    public var privateKeyPEM: String
    /// Where to log in, e.g. `https://leader.mesos/acs/api/v1/auth/login`.
    public var loginEndpoint: URL

    /// Creates an account from its parts.
    public init(uid: String, privateKeyPEM: String, loginEndpoint: URL) {
        self.uid = uid
        self.privateKeyPEM = privateKeyPEM
        self.loginEndpoint = loginEndpoint
    }

    /// Parses the service-account secret JSON.
    ///
    /// - Throws: ``MesosError/Code/invalidConfiguration`` naming the missing or wrong key.
    public init(secretJSON: [UInt8]) throws(MesosError) {
        guard let object = try? JSONSerialization.jsonObject(with: Data(secretJSON)) as? [String: Any] else {
            throw MesosError(code: .invalidConfiguration, message: "The service account secret is not a JSON object")
        }
        guard let uid = object["uid"] as? String, !uid.isEmpty else {
            throw MesosError(code: .invalidConfiguration, message: "The service account secret has no 'uid'")
        }
        guard let key = object["private_key"] as? String else {
            throw MesosError(code: .invalidConfiguration, message: "The service account secret has no 'private_key'")
        }
        if let scheme = object["scheme"] as? String, scheme != "RS256" {
            throw MesosError(code: .invalidConfiguration, message: "Unsupported service account scheme '\(scheme)' (RS256 only)")
        }
        guard let endpoint = (object["login_endpoint"] as? String).flatMap(URL.init(string:)) else {
            throw MesosError(code: .invalidConfiguration, message: "The service account secret has no valid 'login_endpoint'")
        }
        self.init(uid: uid, privateKeyPEM: key, loginEndpoint: endpoint)
    }
}

/// Logs in to DC/OS with a service account and authorizes every Mesos request with `Authorization: token=…`
/// (the flow of mesoshttp's `set_service_account`).
///
/// To log in it signs a short-lived RS256 JWT (`{"uid": …, "exp": now + loginTokenLifetime}`) with the account's
/// key and POSTs `{"uid": …, "token": <jwt>}` to the login endpoint, which answers `{"token": …}`. The
/// authentication token is reused until `tokenRefreshInterval` has passed, and renewed at once when a master
/// answers 401. Tokens and keys are never logged.
///
/// It is a ``MesosPrincipalAuthenticator`` whose principal is the account's `uid`: a scheduler configured with it
/// and an empty `FrameworkInfo.principal` subscribes with the `uid` as principal.
public final class DCOSAuthenticator: MesosPrincipalAuthenticator, Sendable {
    private let account: DCOSServiceAccount
    private let key: _RSA.Signing.PrivateKey
    private let transport: any MesosTransport
    private let loginTokenLifetime: Duration
    private let tokenRefreshInterval: Duration
    private let logger: Logger
    private let cache = LockedValue<(token: String, obtained: ContinuousClock.Instant)?>(nil)

    /// Creates the authenticator.
    ///
    /// - Parameters:
    ///   - account: The service account.
    ///   - transport: How to reach the login endpoint.
    ///   - loginTokenLifetime: The `exp` of the login JWT, from now (default 180 s, as mesoshttp).
    ///   - tokenRefreshInterval: How long an authentication token is used before logging in again (default 1 h).
    ///   - logger: Where to log (never secrets); the default logs nothing.
    /// - Throws: ``MesosError/Code/invalidConfiguration`` if the key is not an RSA private key in PEM.
    public init(
        account: DCOSServiceAccount,
        transport: any MesosTransport,
        loginTokenLifetime: Duration = .seconds(180),
        tokenRefreshInterval: Duration = .seconds(3600),
        logger: Logger = Logger(label: "mesos.dcos-auth", factory: { _ in SwiftLogNoOpLogHandler() })
    ) throws(MesosError) {
        do {
            self.key = try _RSA.Signing.PrivateKey(pemRepresentation: account.privateKeyPEM)
        } catch {
            throw MesosError(code: .invalidConfiguration, message: "The service account key is not an RSA private key in PEM", cause: error)
        }
        self.account = account
        self.transport = transport
        self.loginTokenLifetime = loginTokenLifetime
        self.tokenRefreshInterval = tokenRefreshInterval
        self.logger = logger
    }

    /// The service account's `uid`, the framework's principal.
    public var principal: String { self.account.uid }

    /// Returns `token=<authentication token>`, logging in first when needed or when `refresh` is set.
    public func authorization(refresh: Bool) async throws -> String? {
        let now = ContinuousClock.now
        if !refresh, let cached = self.cache.withLock({ $0 }), now - cached.obtained < self.tokenRefreshInterval {
            return "token=\(cached.token)"
        }
        let token = try await self.login()
        self.cache.withLock { $0 = (token, ContinuousClock.now) }
        return "token=\(token)"
    }

    /// Signs a login JWT for the account, valid until `expiry` (seconds since the epoch).
    public func loginJWT(expiry: Int) throws(MesosError) -> String {
        func base64URL(_ data: some DataProtocol) -> String {
            Data(data).base64EncodedString()
                .replacingOccurrences(of: "+", with: "-")
                .replacingOccurrences(of: "/", with: "_")
                .replacingOccurrences(of: "=", with: "")
        }
        let header = base64URL(Data(#"{"alg":"RS256","typ":"JWT"}"#.utf8))
        guard let claimsData = try? JSONSerialization.data(withJSONObject: ["uid": self.account.uid, "exp": expiry], options: [.sortedKeys]) else {
            throw MesosError(code: .authenticationFailed, message: "Cannot encode the login claims")
        }
        let signingInput = header + "." + base64URL(claimsData)
        do {
            let signature = try self.key.signature(for: Data(signingInput.utf8), padding: .insecurePKCS1v1_5)
            return signingInput + "." + base64URL(signature.rawRepresentation)
        } catch {
            throw MesosError(code: .authenticationFailed, message: "Cannot sign the login token", cause: error)
        }
    }

    private func login() async throws(MesosError) -> String {
        let expiry = Int(Date().timeIntervalSince1970) + Int(self.loginTokenLifetime.inSeconds)
        let jwt = try self.loginJWT(expiry: expiry)
        guard let body = try? JSONSerialization.data(withJSONObject: ["uid": self.account.uid, "token": jwt]) else {
            throw MesosError(code: .authenticationFailed, message: "Cannot encode the login request")
        }
        let request = MesosHTTPRequest(
            method: "POST", url: self.account.loginEndpoint,
            headers: ["Content-Type": "application/json", "Accept": "application/json"],
            body: [UInt8](body), timeout: .seconds(30))
        let answer: [UInt8]
        let status: Int
        do {
            let (response, responseBody) = try await self.transport.send(request)
            status = response.status
            answer = try await responseBody.collect(upTo: 1 << 20)
        } catch {
            throw MesosError(code: .authenticationFailed, message: "DC/OS login request failed", cause: error)
        }
        guard status == 200 else {
            throw MesosError(
                code: .authenticationFailed,
                message: "DC/OS login refused for '\(self.account.uid)': \(String(decoding: answer.prefix(512), as: UTF8.self))",
                httpStatus: status)
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(answer)) as? [String: Any],
              let token = object["token"] as? String, !token.isEmpty
        else {
            throw MesosError(code: .authenticationFailed, message: "DC/OS login answer has no token", httpStatus: status)
        }
        self.logger.info("Logged in to DC/OS", metadata: ["mesos.uid": "\(self.account.uid)"])
        return token
    }
}
