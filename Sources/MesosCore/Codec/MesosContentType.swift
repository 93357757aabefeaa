/// The two encodings the Mesos v1 APIs speak.
///
/// The value is sent as both `Content-Type` and `Accept`. Mesos compares `Content-Type` byte for byte, so the
/// media type never carries parameters such as `charset`.
public struct MesosContentType: Hashable, Sendable, CustomStringConvertible {
    private enum Wrapped: Hashable, Sendable {
        case json, protobuf
    }

    private let wrapped: Wrapped
    private init(_ wrapped: Wrapped) { self.wrapped = wrapped }

    /// `application/json`, with proto field names, enum names and base64 bytes.
    public static let json = MesosContentType(.json)
    /// `application/x-protobuf`, binary protobuf.
    public static let protobuf = MesosContentType(.protobuf)

    /// The media type string for the `Content-Type` and `Accept` headers.
    public var mediaType: String {
        switch self.wrapped {
        case .json: return "application/json"
        case .protobuf: return "application/x-protobuf"
        }
    }

    /// `json` or `protobuf`.
    public var description: String {
        switch self.wrapped {
        case .json: return "json"
        case .protobuf: return "protobuf"
        }
    }

    /// Parses a media type from a response header, ignoring parameters and case.
    ///
    /// - Parameter mediaType: A `Content-Type` value such as `application/json; charset=utf-8`.
    public init?(mediaType: String) {
        let essence = mediaType.split(separator: ";", maxSplits: 1).first.map {
            $0.trimmingCharacters(in: " \t").lowercased()
        }
        switch essence {
        case "application/json": self = .json
        case "application/x-protobuf": self = .protobuf
        default: return nil
        }
    }

    /// Parses `json` or `protobuf` (as given on a command line).
    ///
    /// - Parameter name: `json` or `protobuf`.
    public init?(name: String) {
        switch name.lowercased() {
        case "json": self = .json
        case "protobuf", "proto": self = .protobuf
        default: return nil
        }
    }
}

extension StringProtocol {
    /// The text without the leading and trailing characters in `set` (header values: spaces and tabs), without
    /// Foundation's `CharacterSet`.
    func trimmingCharacters(in set: String) -> SubSequence {
        var result = self[...]
        while let first = result.first, set.contains(first) { result = result.dropFirst() }
        while let last = result.last, set.contains(last) { result = result.dropLast() }
        return result
    }
}
