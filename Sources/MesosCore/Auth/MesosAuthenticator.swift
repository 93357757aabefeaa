#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The port that supplies the `Authorization` header for every request to a master.
///
/// Services ask for the header before each request. When a master answers 401, they ask once more with
/// `refresh: true` (so a token-based authenticator logs in again) and retry; a second 401 fails with
/// ``MesosError/Code/unauthenticated``. Implementations must never log secrets.
public protocol MesosAuthenticator: Sendable {
    /// The value of the `Authorization` header, or `nil` to send none.
    ///
    /// - Parameter refresh: `true` after the master rejected the previous value.
    /// - Throws: ``MesosError`` with ``MesosError/Code/authenticationFailed`` when no credentials can be had.
    func authorization(refresh: Bool) async throws -> String?
}

/// HTTP Basic authentication with a principal and a secret (Mesos's `--authenticate_http_frameworks`).
///
/// The master splits the decoded value at its single `:`, so neither the principal nor the secret may
/// contain one.
public struct BasicAuthenticator: MesosAuthenticator, CustomStringConvertible {
    /// The principal; set `FrameworkInfo.principal` to the same value.
    public let principal: String
    private let header: String

    /// Creates the authenticator.
    ///
    /// - Parameters:
    ///   - principal: The principal.
    ///   - secret: The secret.
    /// - Throws: ``MesosError/Code/invalidConfiguration`` if either contains `:` or the principal is empty.
    public init(principal: String, secret: String) throws(MesosError) {
        guard !principal.isEmpty, !principal.contains(":"), !secret.contains(":") else {
            throw MesosError(
                code: .invalidConfiguration,
                message: "Basic credentials need a non-empty principal, and neither part may contain ':'"
            )
        }
        self.principal = principal
        self.header = "Basic " + Data("\(principal):\(secret)".utf8).base64EncodedString()
    }

    /// Returns `Basic base64(principal:secret)`.
    public func authorization(refresh: Bool) async throws -> String? {
        self.header
    }

    /// Names the principal only, never the secret.
    public var description: String {
        "BasicAuthenticator(principal: \(self.principal))"
    }
}
