import MesosCore

/// An HTTP content coding that swift-mesos can decode: `identity`, `gzip` (alias `x-gzip`) or `deflate`.
public struct ContentCoding: Hashable, Sendable, CustomStringConvertible {
    enum Wrapped: Hashable, Sendable {
        case identity, gzip, deflate
    }

    let wrapped: Wrapped

    private init(wrapped: Wrapped) {
        self.wrapped = wrapped
    }

    /// No transformation.
    public static let identity = ContentCoding(wrapped: .identity)
    /// gzip, also written `x-gzip`.
    public static let gzip = ContentCoding(wrapped: .gzip)
    /// deflate: zlib-wrapped, or raw deflate as some servers send it.
    public static let deflate = ContentCoding(wrapped: .deflate)

    /// The coding's token as written in headers.
    public var description: String {
        switch self.wrapped {
        case .identity: return "identity"
        case .gzip: return "gzip"
        case .deflate: return "deflate"
        }
    }

    /// The inflater framing for this coding, or `nil` for identity.
    var inflaterFormat: Inflater.Format? {
        switch self.wrapped {
        case .identity: return nil
        case .gzip: return .gzip
        case .deflate: return .deflate
        }
    }

    /// Parses one content-coding token (case-insensitive).
    ///
    /// - Parameter token: `gzip`, `x-gzip`, `deflate` or `identity`.
    /// - Returns: `nil` for any other coding (`br`, `zstd`, `compress`, …).
    public init?(token: some StringProtocol) {
        switch token.lowercased() {
        case "identity": self = .identity
        case "gzip", "x-gzip": self = .gzip
        case "deflate": self = .deflate
        default: return nil
        }
    }

    /// Parses a `Content-Encoding` header value into the codings that were applied, in the order they were
    /// applied (decode in reverse). `identity` entries and empty items are dropped.
    ///
    /// - Parameter headerValue: The header value, e.g. `gzip` or `deflate, gzip`; `nil` means not encoded.
    /// - Returns: The non-identity codings, empty when the body is not encoded.
    /// - Throws: ``MesosError/Code/decodingFailed`` naming the first coding that cannot be decoded.
    public static func parse(contentEncoding headerValue: String?) throws(MesosError) -> [ContentCoding] {
        guard let headerValue else { return [] }
        var codings: [ContentCoding] = []
        for item in headerValue.split(separator: ",") {
            let token = item.filter { $0 != " " && $0 != "\t" }
            guard !token.isEmpty else { continue }
            guard let coding = ContentCoding(token: token) else {
                throw MesosError(
                    code: .decodingFailed,
                    message: "Unsupported Content-Encoding '\(token)' (supported: gzip, x-gzip, deflate, identity)"
                )
            }
            if coding != .identity {
                codings.append(coding)
            }
        }
        return codings
    }
}
