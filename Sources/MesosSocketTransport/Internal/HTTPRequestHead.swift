#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import MesosCore

/// Where a request goes and the bytes of its head, derived from a ``MesosHTTPRequest`` once, up front.
struct HTTPRequestHead: Sendable {
    /// The address to connect to.
    enum Destination: Sendable, Hashable {
        /// A host name or IP literal (without brackets) and a port.
        case tcp(host: String, port: Int)
        /// A unix domain socket's path.
        case unix(path: String)
    }

    /// Where to connect; also the key of idle connections.
    let destination: Destination
    /// The request line, the headers and the empty line.
    let bytes: [UInt8]

    /// Validates the request and builds its head.
    ///
    /// - Throws: ``MesosError/Code/invalidConfiguration`` for an `https` or other non-`http` URL, or one
    ///   without a host; ``MesosError/Code/invalidCall`` for a method or header that cannot be sent.
    init(_ request: MesosHTTPRequest, unixSocketPath: String?, context: @autoclosure () -> String) throws(MesosError) {
        let url = request.url
        let scheme = url.scheme?.lowercased()
        guard scheme == "http" else {
            let message: String
            if scheme == "https" {
                message = "\(context()): MesosSocketTransport speaks plain HTTP only and has no TLS; use MesosCurlTransport for https URLs"
            } else {
                message = "\(context()): MesosSocketTransport supports only http URLs, not \(scheme.map { "'\($0)'" } ?? "a URL without a scheme")"
            }
            throw MesosError(code: .invalidConfiguration, message: message)
        }
        guard var host = url.host(percentEncoded: false), !host.isEmpty else {
            throw MesosError(code: .invalidConfiguration, message: "\(context()): the URL has no host")
        }
        if host.hasPrefix("["), host.hasSuffix("]") {
            host = String(host.dropFirst().dropLast())
        }
        let port = url.port ?? 80
        guard (1...65535).contains(port) else {
            throw MesosError(code: .invalidConfiguration, message: "\(context()): invalid port \(port)")
        }
        if let unixSocketPath {
            self.destination = .unix(path: unixSocketPath)
        } else {
            self.destination = .tcp(host: host, port: port)
        }

        guard !request.method.isEmpty, request.method.utf8.allSatisfy(Self.isTokenByte) else {
            throw MesosError(code: .invalidCall, message: "\(context()): invalid HTTP method '\(request.method)'")
        }
        var path = url.path(percentEncoded: true)
        if path.isEmpty { path = "/" }
        if let query = url.query(percentEncoded: true) {
            path += "?" + query
        }
        guard path.utf8.allSatisfy({ $0 > 32 && $0 < 127 }) else {
            throw MesosError(code: .invalidCall, message: "\(context()): the request target has characters HTTP does not allow")
        }

        var head: [UInt8] = []
        head.reserveCapacity(256)
        head += request.method.utf8
        head.append(32)
        head += path.utf8
        head += " HTTP/1.1\r\n".utf8
        var hostSent = false
        for field in request.headers.fields {
            guard !field.name.isEmpty, field.name.utf8.allSatisfy(Self.isTokenByte),
                !field.value.utf8.contains(where: { $0 == 13 || $0 == 10 || $0 == 0 })
            else {
                throw MesosError(code: .invalidCall, message: "\(context()): the header '\(field.name)' cannot be sent")
            }
            if HTTPResponseParser.equalsIgnoringCase(field.name, "Content-Length")
                || HTTPResponseParser.equalsIgnoringCase(field.name, "Transfer-Encoding")
            {
                continue  // the transport frames the body itself
            }
            if HTTPResponseParser.equalsIgnoringCase(field.name, "Host") {
                hostSent = true
            }
            head += field.name.utf8
            head += ": ".utf8
            head += field.value.utf8
            head += "\r\n".utf8
        }
        if !hostSent {
            head += "Host: ".utf8
            head += (host.contains(":") ? "[\(host)]" : host).utf8
            if let explicit = url.port {
                head += ":\(explicit)".utf8
            }
            head += "\r\n".utf8
        }
        if let body = request.body {
            head += "Content-Length: \(body.count)\r\n".utf8
        } else if request.method == "POST" || request.method == "PUT" || request.method == "PATCH" {
            head += "Content-Length: 0\r\n".utf8
        }
        head += "\r\n".utf8
        self.bytes = head
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
