import Foundation
import MesosCore

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Converts between the port's types and Foundation's.
enum Conversion {
    /// A URLSession timeout long enough never to fire: the transport enforces its own limits.
    static let disabledTimeout: TimeInterval = 7 * 24 * 3600

    /// The codings libcurl (under swift-corelibs-foundation) decodes by itself; Apple's URLSession decodes the
    /// same ones.
    static let transparentlyDecodedCodings: Set<String> = ["gzip", "x-gzip", "deflate", "br", "zstd"]

    /// Builds the `URLRequest` for a port request.
    ///
    /// Headers are set in order; a repeated name is joined with ", " (URLRequest keeps one value per name).
    /// Without an `Accept-Encoding` header the request gets `Accept-Encoding: identity`, because URLSession
    /// would otherwise advertise every coding it can decode and the server would compress; with it, the server
    /// sends exactly what the other transports get.
    static func urlRequest(for request: MesosHTTPRequest) -> URLRequest {
        var urlRequest = URLRequest(url: request.url)
        urlRequest.httpMethod = request.method
        urlRequest.cachePolicy = .reloadIgnoringLocalCacheData
        urlRequest.httpShouldHandleCookies = false
        urlRequest.timeoutInterval = disabledTimeout
        var seen = Set<String>()
        for field in request.headers {
            let lowered = field.name.lowercased()
            if seen.insert(lowered).inserted {
                urlRequest.setValue(field.value, forHTTPHeaderField: field.name)
            } else {
                urlRequest.addValue(field.value, forHTTPHeaderField: field.name)
            }
        }
        if !seen.contains("accept-encoding") {
            urlRequest.setValue("identity", forHTTPHeaderField: "Accept-Encoding")
        }
        if let body = request.body {
            urlRequest.httpBody = Data(body)
        }
        return urlRequest
    }

    /// Builds the port's response head from URLSession's.
    ///
    /// Header names are sorted (URLSession keeps them in a dictionary). When URLSession already decoded the body
    /// (a `Content-Encoding` it understands), `Content-Encoding` and `Content-Length` are removed so that the
    /// head describes the bytes actually delivered and nothing decodes them a second time.
    static func response(from httpResponse: HTTPURLResponse) -> MesosHTTPResponse {
        var fields: [(name: String, value: String)] = []
        for (key, value) in httpResponse.allHeaderFields {
            guard let name = key as? String else { continue }
            fields.append((name: name, value: (value as? String) ?? String(describing: value)))
        }
        fields.sort { $0.name.lowercased() < $1.name.lowercased() }
        var headers = MesosHTTPHeaders(fields)
        if let encoding = headers["Content-Encoding"], bodyWasDecoded(contentEncoding: encoding) {
            headers["Content-Encoding"] = nil
            headers["Content-Length"] = nil
        }
        return MesosHTTPResponse(status: httpResponse.statusCode, headers: headers)
    }

    /// Whether URLSession decoded a body sent with this `Content-Encoding`.
    static func bodyWasDecoded(contentEncoding: String) -> Bool {
        let codings = contentEncoding.split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            .filter { !$0.isEmpty && $0 != "identity" }
        return !codings.isEmpty && codings.allSatisfy { transparentlyDecodedCodings.contains($0) }
    }

    /// Maps a URLSession error to the port's error.
    static func mesosError(from error: any Error, url: URL) -> MesosError {
        if let error = error as? MesosError {
            return error
        }
        let nsError = error as NSError
        var detail = nsError.localizedDescription
        if let underlying = nsError.userInfo[NSUnderlyingErrorKey] as? NSError,
            underlying.localizedDescription != detail
        {
            detail += " (\(underlying.localizedDescription))"
        }
        if let urlError = error as? URLError {
            switch urlError.code {
            case .timedOut:
                return MesosError(code: .timeout, message: "Request to \(url) timed out: \(detail)", cause: error)
            case .cancelled:
                return MesosError(code: .cancelled, message: "Request to \(url) was cancelled", cause: error)
            default:
                break
            }
        }
        return MesosError(code: .transportFailure, message: "Request to \(url) failed: \(detail)", cause: error)
    }
}

extension Duration {
    /// A human-readable form such as `1.5 s`.
    var shortDescription: String {
        let value = self.inSeconds
        if value == value.rounded() {
            return "\(Int(value)) s"
        }
        return "\(value) s"
    }
}
