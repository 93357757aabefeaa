import MesosCore

/// A request as the fake master received it, over HTTP or in memory.
public struct FakeMasterRequest: Sendable {
    /// The HTTP method.
    public var method: String
    /// The path, without the query (`/api/v1/scheduler`).
    public var path: String
    /// The query string without the `?`, if any.
    public var query: String?
    /// The request headers, in order.
    public var headers: MesosHTTPHeaders
    /// The request body.
    public var body: [UInt8]
    /// The TCP connection it came on (numbered from 1 per server), or `nil` in memory.
    public var connectionID: Int?

    /// Creates a request.
    ///
    /// - Parameters:
    ///   - method: The HTTP method.
    ///   - path: The path without the query.
    ///   - query: The query, without the `?`.
    ///   - headers: The headers.
    ///   - body: The body.
    ///   - connectionID: The connection, when served over HTTP.
    public init(
        method: String,
        path: String,
        query: String? = nil,
        headers: MesosHTTPHeaders = [:],
        body: [UInt8] = [],
        connectionID: Int? = nil
    ) {
        self.method = method
        self.path = path.isEmpty ? "/" : path
        self.query = query
        self.headers = headers
        self.body = body
        self.connectionID = connectionID
    }

    /// The path followed by `?query` when there is one, as it appears in a request line.
    public var target: String {
        self.query.map { "\(self.path)?\($0)" } ?? self.path
    }

    /// `true` for the two paths of the scheduler endpoint.
    public var isSchedulerEndpoint: Bool {
        self.path == "/api/v1/scheduler" || self.path == "/master/api/v1/scheduler"
    }
}
