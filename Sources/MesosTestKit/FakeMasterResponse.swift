import MesosCore

/// What the fake master answers to one request: a status, headers and a body that may stream.
///
/// Besides ordinary answers, a response can ask the server to misbehave: ``closeConnection`` drops the
/// connection without answering and ``neverAnswer`` keeps it open without ever answering. A streamed body is
/// produced by a closure that writes chunks through a ``FakeMasterBodyWriter``; each `write` waits while the
/// client is not reading. The closure returning ends the body cleanly; throwing (for example
/// ``FakeMasterResponse/CloseConnection``) closes the connection without ending the body, which the client sees
/// as a truncated response.
///
/// ```swift
/// await master.route("GET", "/big") { _ in
///     .stream(headers: ["Content-Type": "application/octet-stream"]) { writer in
///         for _ in 0..<1000 { try await writer.write(ArraySlice(repeating: 0x61, count: 65536)) }
///     }
/// }
/// ```
public struct FakeMasterResponse: Sendable {
    /// Writes a streamed body. Returning ends it cleanly, throwing cuts the connection.
    public typealias Producer = @Sendable (any FakeMasterBodyWriter) async throws -> Void

    /// A response body.
    public enum Body: Sendable {
        /// A complete body, sent with a `Content-Length`.
        case bytes([UInt8])
        /// A body written over time: chunked, or with the given `Content-Length` when it is not `nil`.
        case stream(contentLength: Int?, Producer)
    }

    /// What the server does with the request.
    public enum Action: Sendable, Equatable {
        /// Send the status, headers and body.
        case answer
        /// Close the connection without sending anything.
        case closeConnection
        /// Keep the connection open and never answer.
        case neverAnswer
    }

    /// The status code.
    public var status: Int
    /// The response headers. `Content-Length` and `Transfer-Encoding` are added by the server.
    public var headers: MesosHTTPHeaders
    /// The body.
    public var body: Body
    /// What the server does.
    public var action: Action

    /// Creates an answer.
    ///
    /// - Parameters:
    ///   - status: The status code.
    ///   - headers: The headers.
    ///   - body: The body.
    public init(status: Int, headers: MesosHTTPHeaders = [:], body: Body = .bytes([])) {
        self.status = status
        self.headers = headers
        self.body = body
        self.action = .answer
    }

    /// A plain-text answer (`text/plain; charset=utf-8`, like Mesos's error bodies); no body when `text` is empty.
    ///
    /// - Parameters:
    ///   - status: The status code.
    ///   - text: The body.
    ///   - headers: Extra headers.
    public static func text(_ status: Int, _ text: String = "", headers: MesosHTTPHeaders = [:]) -> FakeMasterResponse {
        var all = headers
        if !text.isEmpty, all["Content-Type"] == nil {
            all["Content-Type"] = "text/plain; charset=utf-8"
        }
        return FakeMasterResponse(status: status, headers: all, body: .bytes(Array(text.utf8)))
    }

    /// An answer with these exact body bytes.
    ///
    /// - Parameters:
    ///   - status: The status code.
    ///   - headers: The headers (for example `Content-Encoding: gzip`).
    ///   - bytes: The body, sent as is.
    public static func bytes(_ status: Int = 200, headers: MesosHTTPHeaders = [:], _ bytes: [UInt8]) -> FakeMasterResponse {
        FakeMasterResponse(status: status, headers: headers, body: .bytes(bytes))
    }

    /// An answer whose body is written over time by `producer`.
    ///
    /// - Parameters:
    ///   - status: The status code.
    ///   - headers: The headers.
    ///   - contentLength: A `Content-Length` to announce, or `nil` for a chunked body.
    ///   - producer: Writes the body.
    public static func stream(
        _ status: Int = 200,
        headers: MesosHTTPHeaders = [:],
        contentLength: Int? = nil,
        _ producer: @escaping Producer
    ) -> FakeMasterResponse {
        FakeMasterResponse(status: status, headers: headers, body: .stream(contentLength: contentLength, producer))
    }

    /// Close the connection without answering.
    public static var closeConnection: FakeMasterResponse {
        var response = FakeMasterResponse(status: 0)
        response.action = .closeConnection
        return response
    }

    /// Keep the connection open and never answer.
    public static var neverAnswer: FakeMasterResponse {
        var response = FakeMasterResponse(status: 0)
        response.action = .neverAnswer
        return response
    }

    /// Thrown by a ``Producer`` to cut the connection in the middle of the body.
    public struct CloseConnection: Error, Sendable, CustomStringConvertible {
        /// Why the connection is cut.
        public var reason: String

        /// Creates the error.
        ///
        /// - Parameter reason: Why the connection is cut.
        public init(reason: String = "the fake master closed the connection mid-body") {
            self.reason = reason
        }

        /// The reason.
        public var description: String { self.reason }
    }
}
