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

/// What a URL gives a request: where it goes, its request target and its `Host` value. Parsing a URL costs more
/// than the rest of a call's work, and a client sends every call to the same URL, so the transport keeps the
/// last one (``NIOTargetCache``).
struct NIOTarget: Sendable {
    let url: URL
    let destination: NIODestination
    /// The request target: the path (percent-encoded) and query.
    let target: String
    /// The `Host` header's value: the host, bracketed when it is an IPv6 literal, and the port when the URL has one.
    let hostHeader: String

    /// Parses and checks `url`.
    ///
    /// - Throws: ``MesosError/Code/invalidConfiguration`` for a URL that is not `http` or `https` or has no
    ///   host or a bad port; ``MesosError/Code/invalidCall`` for a target HTTP does not allow.
    init(_ url: URL, context: NIOCallContext) throws(MesosError) {
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
        var target = url.path(percentEncoded: true)
        if target.isEmpty { target = "/" }
        if let query = url.query(percentEncoded: true) {
            target += "?" + query
        }
        guard target.utf8.allSatisfy({ $0 > 32 && $0 < 127 }) else {
            throw MesosError(code: .invalidCall, message: "\(context): the request target has characters HTTP does not allow")
        }
        let literal = host.contains(":") ? "[\(host)]" : host
        self.url = url
        self.destination = NIODestination(tls: tls, host: host, port: port)
        self.target = target
        self.hostHeader = url.port.map { "\(literal):\($0)" } ?? literal
    }
}

/// The target of the last URL a transport sent to (with its copies).
final class NIOTargetCache: Sendable {
    private let last = LockedValue<NIOTarget?>(nil)

    /// The parsed `url`: the last one again when it is the same URL, else parsed now (and kept).
    func target(for url: URL, context: NIOCallContext) throws(MesosError) -> NIOTarget {
        if let last = self.last.withLock({ $0 }), last.url == url {
            return last
        }
        let target = try NIOTarget(url, context: context)
        self.last.withLock { $0 = target }
        return target
    }
}

/// A request checked and turned into NIO's head, once, before any connection is touched.
struct NIORequest: Sendable {
    let destination: NIODestination
    let head: HTTPRequestHead
    let body: [UInt8]?

    /// Validates the request and builds its head, parsing its URL.
    ///
    /// - Throws: ``MesosError/Code/invalidConfiguration`` for a URL that is not `http` or `https` or has no
    ///   host; ``MesosError/Code/invalidCall`` for a method, target or header that cannot be sent.
    init(_ request: MesosHTTPRequest, context: String) throws(MesosError) {
        let call = NIOCallContext(method: request.method, url: request.url)
        try self.init(request, target: try NIOTarget(request.url, context: call), context: call)
    }

    /// Validates the request and builds its head for its already parsed URL.
    ///
    /// - Throws: ``MesosError/Code/invalidCall`` for a method or header that cannot be sent.
    init(_ request: MesosHTTPRequest, target: NIOTarget, context: NIOCallContext) throws(MesosError) {
        self.destination = target.destination
        guard !request.method.isEmpty, request.method.utf8.allSatisfy(Self.isTokenByte) else {
            throw MesosError(code: .invalidCall, message: "\(context): invalid HTTP method '\(request.method)'")
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
            if Self.named(field.name, "content-length") || Self.named(field.name, "transfer-encoding") {
                continue  // the transport frames the body itself
            }
            if Self.named(field.name, "host") {
                hostSent = true
            }
            headers.add(name: field.name, value: field.value)
        }
        if !hostSent {
            headers.add(name: "Host", value: target.hostHeader)
        }
        if let body = request.body {
            headers.add(name: "Content-Length", value: String(body.count))
        } else if request.method == "POST" || request.method == "PUT" || request.method == "PATCH" {
            headers.add(name: "Content-Length", value: "0")
        }
        self.head = HTTPRequestHead(
            version: .http1_1, method: HTTPMethod(rawValue: request.method), uri: target.target, headers: headers)
        self.body = request.body
    }

    /// Whether the field name `name` is `lowercased` (ASCII letters compared without case), without allocating.
    static func named(_ name: String, _ lowercased: StaticString) -> Bool {
        let expected = UnsafeBufferPointer(start: lowercased.utf8Start, count: lowercased.utf8CodeUnitCount)
        guard name.utf8.count == expected.count else { return false }
        return zip(name.utf8, expected).allSatisfy { byte, lower in
            (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte) == lower
        }
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
