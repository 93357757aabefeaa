import MesosCore

/// A ``MesosTransport`` without sockets: every request goes to an in-process handler.
///
/// The handler plays the server. It receives the request and returns a response head and a body; the transport
/// adds what a real HTTP stack would: the request's `timeout` (whole exchange, head and body) and
/// `idleTimeout` (longest gap between two body chunks) are enforced here, cancellation of the calling task
/// becomes ``MesosError/Code/cancelled``, and anything the handler throws that is not a ``MesosError`` becomes
/// ``MesosError/Code/transportFailure`` with the original error as ``MesosError/cause``.
///
/// Cancellation reaches the handler as ordinary task cancellation, so a handler must honour it (use
/// `Task.sleep`, `AsyncStream` or other cancellation-aware waits), just as a server would notice a closed
/// connection. Dropping the body, or cancelling the task that reads it, releases the handler's body sequence,
/// which is how the handler learns that "the connection" was closed.
///
/// ```swift
/// let transport: some MesosTransport = .inMemory { request in
///     (MesosHTTPResponse(status: 202), .empty)
/// }
/// let (head, _) = try await transport.send(MesosHTTPRequest(url: URL(string: "http://master:5050/api/v1/scheduler")!))
/// // head.status == 202
/// ```
///
/// The timeouts are measured on the clock given at creation (`ContinuousClock` by default). A test can pass a
/// manual clock (`MesosTestKit`'s `ManualClock`) and check timeout behaviour by advancing it, without
/// depending on how fast the machine is.
///
/// `MesosTestKit`'s `FakeMaster` provides a ready-made handler that speaks the scheduler API (`fakeMaster.transport`).
public struct MesosInMemoryTransport: MesosTransport {
    /// Answers one request with a head and a (possibly streaming) body.
    public typealias Handler = @Sendable (MesosHTTPRequest) async throws -> (MesosHTTPResponse, MesosResponseBody)

    /// The in-process server.
    public let handler: Handler

    private let time: TimeSource

    /// Creates a transport that sends every request to `handler`.
    ///
    /// - Parameters:
    ///   - clock: The clock `timeout` and `idleTimeout` are measured on (`ContinuousClock` by default).
    ///   - handler: The in-process server; it must honour task cancellation.
    public init<C: Clock>(clock: C, handler: @escaping Handler) where C.Duration == Duration {
        self.handler = handler
        self.time = TimeSource(clock)
    }

    /// Creates a transport that sends every request to `handler`, with timeouts on `ContinuousClock`.
    ///
    /// - Parameter handler: The in-process server; it must honour task cancellation.
    public init(handler: @escaping Handler) {
        self.init(clock: ContinuousClock(), handler: handler)
    }

    /// Hands the request to the handler, enforcing the request's timeouts and the port's error contract.
    ///
    /// - Parameter request: The request.
    /// - Returns: The handler's head and its body, wrapped so that the body honours the timeouts too.
    /// - Throws: ``MesosError``: the handler's own, ``MesosError/Code/timeout``,
    ///   ``MesosError/Code/cancelled`` or ``MesosError/Code/transportFailure``.
    public func send(_ request: MesosHTTPRequest) async throws(MesosError) -> (MesosHTTPResponse, MesosResponseBody) {
        let time = self.time
        let deadline = request.timeout.map { time.now() + $0 }
        if Task.isCancelled {
            throw MesosError(code: .cancelled, message: "\(request.method) \(request.url) was cancelled before it was sent")
        }
        let handler = self.handler
        let head: MesosHTTPResponse
        let body: MesosResponseBody
        do {
            (head, body) = try await Deadline.run(
                until: deadline,
                on: time,
                timeoutMessage: "\(request.method) \(request.url) timed out after \(request.timeout ?? .zero)"
            ) {
                try await handler(request)
            }
        } catch {
            throw Deadline.mapError(error, context: "\(request.method) \(request.url)")
        }
        let limited = TimeLimitedBody(upstream: body, deadline: deadline, idleTimeout: request.idleTimeout, time: time)
        return (head, MesosResponseBody(limited))
    }
}

extension MesosTransport where Self == MesosInMemoryTransport {
    /// A transport that answers every request with an in-process handler.
    ///
    /// ```swift
    /// let transport: some MesosTransport = .inMemory(handler: fakeMaster.transport.handler)
    /// ```
    ///
    /// - Parameter handler: The in-process server; it must honour task cancellation.
    /// - Returns: The transport.
    public static func inMemory(handler: @escaping MesosInMemoryTransport.Handler) -> MesosInMemoryTransport {
        MesosInMemoryTransport(handler: handler)
    }

    /// A transport that answers every request with an in-process handler and measures timeouts on `clock`.
    ///
    /// - Parameters:
    ///   - clock: The clock `timeout` and `idleTimeout` are measured on.
    ///   - handler: The in-process server; it must honour task cancellation.
    /// - Returns: The transport.
    public static func inMemory<C: Clock>(
        clock: C,
        handler: @escaping MesosInMemoryTransport.Handler
    ) -> MesosInMemoryTransport where C.Duration == Duration {
        MesosInMemoryTransport(clock: clock, handler: handler)
    }
}
