#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The port through which swift-mesos talks HTTP: it only moves bytes.
///
/// A transport sends one request and returns the response's status and headers as soon as they arrive,
/// with a body that streams: a SUBSCRIBE response never ends, and its chunks must reach the caller as they
/// arrive. Everything Mesos-specific (stream ids, redirects to the leader, mapping statuses to ``MesosError``,
/// RecordIO) lives above the port, in the services.
///
/// ## Use an existing transport
/// - `MesosCurlTransport` (product `MesosCurlTransport`): libcurl, the default on Linux.
/// - `MesosURLSessionTransport` (product `MesosURLSessionTransport`): Foundation's URLSession.
/// - `MesosInMemoryTransport` (product `MesosInMemoryTransport`): no sockets, an in-process handler.
///
/// Swapping one for another is a one-line change where the client is configured.
///
/// ## Implement a transport
/// Conforming types must:
/// - Return from ``send(_:)`` once the status line and headers are in, without waiting for the body.
/// - Never follow redirects: a 307 is returned like any other status (the client follows it itself).
/// - Not decode `Content-Encoding`; the body is handed over as it came, and ``MesosHTTPResponse/headers``
///   tells the caller how it is encoded (the client layer decodes with `MesosCompression`). Where the platform
///   HTTP stack decodes by itself and cannot be stopped (URLSession on Linux), the adapter must remove
///   `Content-Encoding` and `Content-Length` from the head, so that the head always describes the body handed
///   over and nothing is decoded twice.
/// - Deliver body chunks in order, each chunk as soon as it is read, and apply backpressure: keep at most a
///   bounded amount of unread data and stop reading from the network until the consumer catches up.
/// - Close the connection when the consumer stops iterating the body, when the consuming task is cancelled,
///   or when the body value is dropped.
/// - Honour ``MesosHTTPRequest/timeout`` (whole request, for ordinary calls) and
///   ``MesosHTTPRequest/idleTimeout`` (longest gap between two body chunks, for streams).
/// - Throw only ``MesosError``: ``MesosError/Code/transportFailure`` when the connection fails,
///   ``MesosError/Code/timeout`` for either timeout, ``MesosError/Code/cancelled`` on cancellation, with the
///   adapter's own error as ``MesosError/cause``. A server that closes the connection before the announced end
///   of the body is a ``MesosError/Code/transportFailure`` thrown from the body.
public protocol MesosTransport: Sendable {
    /// Sends a request and returns the response head and a streaming body.
    ///
    /// - Parameter request: The request.
    /// - Returns: The status and headers, and the body as an asynchronous sequence of chunks.
    /// - Throws: ``MesosError`` if no response head could be obtained; the signature admits no other error.
    func send(_ request: MesosHTTPRequest) async throws(MesosError) -> (MesosHTTPResponse, MesosResponseBody)

    /// An executor that runs tasks on the transport's own I/O thread, or `nil` if the transport has none.
    ///
    /// A task that sends calls one after another pays, with most transports, two thread hand-offs per call (to
    /// the I/O thread and back). Run under this executor (`withTaskExecutorPreference(transport.taskExecutor)`
    /// or `Task(executorPreference:)`) it pays none. Keep such tasks short of blocking work: while one of
    /// their jobs runs, the transport's other requests (the event stream too) wait.
    var taskExecutor: (any TaskExecutor)? { get }
}

extension MesosTransport {
    /// No I/O thread of its own to run tasks on: `nil`.
    public var taskExecutor: (any TaskExecutor)? {
        nil
    }
}

/// An HTTP request as the transport port sees it.
public struct MesosHTTPRequest: Sendable {
    /// The HTTP method (`POST` for every Mesos API call, `GET` for leader probes).
    public var method: String
    /// The absolute URL.
    public var url: URL
    /// The request headers, in order.
    public var headers: MesosHTTPHeaders
    /// The request body, if any.
    public var body: [UInt8]?
    /// The longest the whole exchange may take, or `nil` for no limit (streams).
    public var timeout: Duration?
    /// The longest gap between two chunks of the response body, or `nil` for no limit.
    public var idleTimeout: Duration?

    /// Creates a request.
    ///
    /// - Parameters:
    ///   - method: The HTTP method.
    ///   - url: The absolute URL.
    ///   - headers: The headers.
    ///   - body: The body.
    ///   - timeout: The whole-exchange limit.
    ///   - idleTimeout: The limit on silence in the body.
    public init(
        method: String = "POST",
        url: URL,
        headers: MesosHTTPHeaders = [:],
        body: [UInt8]? = nil,
        timeout: Duration? = nil,
        idleTimeout: Duration? = nil
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
        self.idleTimeout = idleTimeout
    }
}

/// The head of an HTTP response.
public struct MesosHTTPResponse: Sendable, Equatable {
    /// The status code.
    public var status: Int
    /// The response headers.
    public var headers: MesosHTTPHeaders

    /// Creates a response head.
    public init(status: Int, headers: MesosHTTPHeaders = [:]) {
        self.status = status
        self.headers = headers
    }
}

/// HTTP header fields: ordered, with case-insensitive lookup by name.
public struct MesosHTTPHeaders: Sendable, Equatable, ExpressibleByDictionaryLiteral, Sequence {
    /// The fields in order, names as given.
    public private(set) var fields: [(name: String, value: String)]

    /// Creates headers from name/value pairs.
    public init(_ fields: [(name: String, value: String)] = []) {
        self.fields = fields
    }

    /// Creates headers from a literal.
    public init(dictionaryLiteral elements: (String, String)...) {
        self.fields = elements.map { (name: $0.0, value: $0.1) }
    }

    /// The first value for `name` (case-insensitive); setting replaces every field with that name.
    public subscript(name: String) -> String? {
        get {
            self.fields.first { Self.sameName($0.name, name) }?.value
        }
        set {
            self.fields.removeAll { Self.sameName($0.name, name) }
            if let newValue {
                self.fields.append((name: name, value: newValue))
            }
        }
    }

    /// Compares field names ASCII-case-insensitively (HTTP field names are ASCII tokens), without allocating.
    static func sameName(_ lhs: String, _ rhs: String) -> Bool {
        var left = lhs.utf8.makeIterator()
        var right = rhs.utf8.makeIterator()
        while true {
            switch (left.next(), right.next()) {
            case (nil, nil):
                return true
            case (let a?, let b?):
                if a == b { continue }
                let lowerA = a &- 65 < 26 ? a | 0x20 : a
                let lowerB = b &- 65 < 26 ? b | 0x20 : b
                if lowerA != lowerB { return false }
            default:
                return false
            }
        }
    }

    /// Adds a field, keeping existing ones with the same name.
    public mutating func add(name: String, value: String) {
        self.fields.append((name: name, value: value))
    }

    /// Iterates the fields in order.
    public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> {
        self.fields.makeIterator()
    }

    /// Compares names case-insensitively and values exactly, in order.
    public static func == (lhs: MesosHTTPHeaders, rhs: MesosHTTPHeaders) -> Bool {
        lhs.fields.count == rhs.fields.count
            && zip(lhs.fields, rhs.fields).allSatisfy { Self.sameName($0.name, $1.name) && $0.value == $1.value }
    }
}

/// A response body: an asynchronous sequence of byte chunks, read once.
///
/// Transports build it from any asynchronous sequence of chunks. Iterating it pulls chunks as they arrive;
/// dropping the iterator (or cancelling the task) makes the transport close the connection.
public struct MesosResponseBody: AsyncSequence, Sendable {
    /// A chunk of bytes, in arrival order.
    public typealias Element = ArraySlice<UInt8>

    private let makeIterator: @Sendable () -> Iterator

    /// Wraps any sendable sequence of chunks.
    ///
    /// - Parameter chunks: The chunks.
    public init<Chunks: AsyncSequence & Sendable>(_ chunks: Chunks) where Chunks.Element == ArraySlice<UInt8> {
        self.makeIterator = { Iterator(chunks.makeAsyncIterator()) }
    }

    /// A body holding these bytes, delivered as one chunk (none if empty).
    ///
    /// - Parameter bytes: The whole body.
    public init(bytes: [UInt8]) {
        self.init(FixedChunks(chunks: bytes.isEmpty ? [] : [bytes[...]]))
    }

    /// An empty body.
    public static var empty: MesosResponseBody { MesosResponseBody(bytes: []) }

    /// Returns the iterator.
    public func makeAsyncIterator() -> Iterator {
        self.makeIterator()
    }

    /// Reads the whole body.
    ///
    /// - Parameter limit: The most bytes to accept.
    /// - Returns: The bytes.
    /// - Throws: ``MesosError/Code/recordTooLarge`` beyond `limit`, or the error that ended the body.
    public func collect(upTo limit: Int) async throws(MesosError) -> [UInt8] {
        var bytes: [UInt8] = []
        var iterator = self.makeAsyncIterator()
        while let chunk = try await iterator.next() {
            guard bytes.count + chunk.count <= limit else {
                throw MesosError(code: .recordTooLarge, message: "Response body larger than \(limit) bytes")
            }
            bytes.append(contentsOf: chunk)
        }
        return bytes
    }

    /// The only error a body throws.
    public typealias Failure = MesosError

    /// Iterates the chunks.
    public struct Iterator: AsyncIteratorProtocol {
        /// The only error a body throws.
        public typealias Failure = MesosError

        private var base: any AsyncIteratorProtocol

        init(_ base: some AsyncIteratorProtocol) {
            self.base = base
        }

        /// Returns the next chunk, or `nil` at the end of the body.
        ///
        /// - Throws: ``MesosError`` only: whatever else the underlying sequence throws becomes
        ///   ``MesosError/Code/cancelled`` (for `CancellationError`) or ``MesosError/Code/transportFailure``, with
        ///   the original error as ``MesosError/cause``.
        public mutating func next() async throws(MesosError) -> ArraySlice<UInt8>? {
            do {
                return try await self.base.next() as? ArraySlice<UInt8>
            } catch {
                throw MesosError.transport(error, context: "Reading the response body")
            }
        }
    }

    private struct FixedChunks: AsyncSequence, Sendable {
        typealias Element = ArraySlice<UInt8>
        let chunks: [ArraySlice<UInt8>]
        struct AsyncIterator: AsyncIteratorProtocol {
            var index = 0
            let chunks: [ArraySlice<UInt8>]
            mutating func next() async -> ArraySlice<UInt8>? {
                guard index < chunks.count else { return nil }
                defer { index += 1 }
                return chunks[index]
            }
        }
        func makeAsyncIterator() -> AsyncIterator { AsyncIterator(chunks: chunks) }
    }
}
