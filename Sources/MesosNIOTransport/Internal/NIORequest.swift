#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import MesosCore
import NIOCore
import NIOHTTP1

/// Where a request goes; also the key of pooled connections.
struct NIODestination: Hashable, Sendable {
    /// Whether the connection speaks TLS.
    let tls: Bool
    /// A host name or IP literal, without brackets.
    let host: String
    /// The TCP port.
    let port: Int
}

/// A request checked and turned into NIO's head, once, before any connection is touched.
struct NIORequest: Sendable {
    let destination: NIODestination
    let head: HTTPRequestHead
    let body: [UInt8]?

    /// Validates the request and builds its head.
    ///
    /// - Throws: ``MesosError/Code/invalidConfiguration`` for a URL that is not `http` or `https` or has no
    ///   host; ``MesosError/Code/invalidCall`` for a method, target or header that cannot be sent.
    init(_ request: MesosHTTPRequest, context: String) throws(MesosError) {
        let url = request.url
        let scheme = url.scheme?.lowercased()
        guard scheme == "http" || scheme == "https" else {
            throw MesosError(
                code: .invalidConfiguration,
                message: "\(context): MesosNIOTransport supports only http and https URLs, not \(scheme.map { "'\($0)'" } ?? "a URL without a scheme")"
            )
        }
        guard var host = url.host(percentEncoded: false), !host.isEmpty else {
            throw MesosError(code: .invalidConfiguration, message: "\(context): the URL has no host")
        }
        if host.hasPrefix("["), host.hasSuffix("]") {
            host = String(host.dropFirst().dropLast())
        }
        let tls = scheme == "https"
        let port = url.port ?? (tls ? 443 : 80)
        guard (1...65535).contains(port) else {
            throw MesosError(code: .invalidConfiguration, message: "\(context): invalid port \(port)")
        }
        self.destination = NIODestination(tls: tls, host: host, port: port)

        guard !request.method.isEmpty, request.method.utf8.allSatisfy(Self.isTokenByte) else {
            throw MesosError(code: .invalidCall, message: "\(context): invalid HTTP method '\(request.method)'")
        }
        var target = url.path(percentEncoded: true)
        if target.isEmpty { target = "/" }
        if let query = url.query(percentEncoded: true) {
            target += "?" + query
        }
        guard target.utf8.allSatisfy({ $0 > 32 && $0 < 127 }) else {
            throw MesosError(code: .invalidCall, message: "\(context): the request target has characters HTTP does not allow")
        }

        var headers = HTTPHeaders()
        headers.reserveCapacity(request.headers.fields.count + 2)
        var hostSent = false
        for field in request.headers.fields {
            guard !field.name.isEmpty, field.name.utf8.allSatisfy(Self.isTokenByte),
                !field.value.utf8.contains(where: { $0 == 13 || $0 == 10 || $0 == 0 })
            else {
                throw MesosError(code: .invalidCall, message: "\(context): the header '\(field.name)' cannot be sent")
            }
            let lowered = field.name.lowercased()
            if lowered == "content-length" || lowered == "transfer-encoding" {
                continue  // the transport frames the body itself
            }
            if lowered == "host" {
                hostSent = true
            }
            headers.add(name: field.name, value: field.value)
        }
        if !hostSent {
            let literal = host.contains(":") ? "[\(host)]" : host
            headers.add(name: "Host", value: url.port.map { "\(literal):\($0)" } ?? literal)
        }
        if let body = request.body {
            headers.add(name: "Content-Length", value: String(body.count))
        } else if request.method == "POST" || request.method == "PUT" || request.method == "PATCH" {
            headers.add(name: "Content-Length", value: "0")
        }
        self.head = HTTPRequestHead(version: .http1_1, method: HTTPMethod(rawValue: request.method), uri: target, headers: headers)
        self.body = request.body
    }

    /// `tchar` of RFC 9110: the bytes allowed in methods and field names.
    private static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }
}
