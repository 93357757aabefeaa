import MesosCore

/// A way for the fake master to misbehave on a request, injected with ``FakeMaster/inject(_:matching:times:)``.
///
/// Faults come in three groups:
/// - **Instead of the answer**: ``redirect(to:)``, ``noLeader``, ``respond(_:)``, ``closeConnection``,
///   ``neverAnswer``.
/// - **Before the answer**: ``delayArrival(_:)`` holds the request back before the master looks at it (a slow
///   network: what happens meanwhile, such as a stream closing, is seen first); ``delayHead(_:)`` handles the
///   request at once and waits before sending the answer.
/// - **Inside a streamed body**: ``rechunk(_:)`` and ``slowStream(delay:bytesPerWrite:)`` reshape any streamed
///   body; ``cutMidRecord(afterEvents:)``, ``garbage(afterEvents:bytes:)`` and ``goSilent(afterEvents:)`` act on
///   a SUBSCRIBE event stream, counting whole events written before they strike.
///
/// ```swift
/// // The next SUBSCRIBE is redirected to another fake master, the one after that gets 503.
/// await master.inject(.redirect(to: "127.0.0.1:\(other.port)"), matching: .subscribe)
/// await master.inject(.noLeader, matching: .subscribe)
/// // Every event stream is delivered one byte per HTTP chunk.
/// await master.inject(.rechunk(.fixed(1)), matching: .subscribe, times: nil)
/// ```
public enum FakeMasterFault: Sendable {
    /// Answer `307 Temporary Redirect` with `Location: //<hostAndPort><path>` (scheme-relative, like Mesos).
    case redirect(to: String)
    /// Answer `503 Service Unavailable` with the body "No leader elected".
    case noLeader
    /// Answer with this response instead.
    case respond(FakeMasterResponse)
    /// Close the connection without answering.
    case closeConnection
    /// Keep the connection open and never answer.
    case neverAnswer
    /// Handle the request at once, but wait this long before sending the response head.
    case delayHead(Duration)
    /// Hold the request this long before the master handles it, as if it were slow on the network: a stream
    /// closed meanwhile is closed when the request is handled.
    case delayArrival(Duration)
    /// Split or merge the body's writes differently.
    case rechunk(Chunking)
    /// Sleep `delay` between writes of at most `bytesPerWrite` bytes each.
    case slowStream(delay: Duration, bytesPerWrite: Int = 1)
    /// After `afterEvents` whole events, send the first half of the next one and close the connection.
    case cutMidRecord(afterEvents: Int = 1)
    /// After `afterEvents` whole events, send `bytes` (which are not RecordIO) and end the body.
    case garbage(afterEvents: Int = 0, bytes: [UInt8] = Array("this is not RecordIO\n".utf8))
    /// After `afterEvents` whole events, send nothing more (no heartbeats either) but keep the connection open.
    case goSilent(afterEvents: Int = 0)

    /// How a streamed body is cut into writes (HTTP chunks over HTTP, sequence elements in memory).
    public enum Chunking: Sendable, Equatable {
        /// Every write is split into pieces of this many bytes (`.fixed(1)`: one byte per chunk).
        case fixed(Int)
        /// Every write is split into pieces of random sizes in `sizes`, reproducible with `seed`.
        case random(sizes: ClosedRange<Int>, seed: UInt64)
        /// Event streams only: all events queued at the same time go out in one write (many records per chunk).
        case coalesced
    }
}

/// Selects the requests a fault applies to.
///
/// ```swift
/// await master.inject(.noLeader, matching: .call(.decline))
/// await master.inject(.closeConnection, matching: .path("/version"))
/// ```
public struct FakeMasterRequestMatcher: Sendable {
    private let predicate: @Sendable (FakeMasterRequest, SchedulerCall?) -> Bool

    /// A matcher from a predicate over the request and its decoded call (`nil` if it is not a scheduler call).
    ///
    /// - Parameter predicate: Returns `true` for requests the fault applies to.
    public init(_ predicate: @escaping @Sendable (FakeMasterRequest, SchedulerCall?) -> Bool) {
        self.predicate = predicate
    }

    func matches(_ request: FakeMasterRequest, _ call: SchedulerCall?) -> Bool {
        self.predicate(request, call)
    }

    /// Every request.
    public static var any: FakeMasterRequestMatcher { .init { _, _ in true } }

    /// SUBSCRIBE calls.
    public static var subscribe: FakeMasterRequestMatcher { .init { _, call in call?.type == .subscribe } }

    /// Scheduler calls other than SUBSCRIBE (including requests to the endpoint that do not decode).
    public static var nonSubscribeCalls: FakeMasterRequestMatcher {
        .init { request, call in request.isSchedulerEndpoint && call?.type != .subscribe }
    }

    /// Scheduler calls of this type.
    ///
    /// - Parameter type: The call type.
    public static func call(_ type: SchedulerCall.TypeEnum) -> FakeMasterRequestMatcher {
        .init { _, call in call?.type == type }
    }

    /// Requests for this exact path (without the query).
    ///
    /// - Parameter path: The path, such as `/version`.
    public static func path(_ path: String) -> FakeMasterRequestMatcher {
        .init { request, _ in request.path == path }
    }
}
