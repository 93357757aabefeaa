/// A streamed response body the fake master produced (a snapshot), for asserting on how the client consumed it.
///
/// ```swift
/// let stream = master.responseStreams.last!
/// #expect(stream.state == .closedByClient)
/// #expect(stream.bytesWritten < 32 << 20)   // the server was held back by the slow client
/// ```
public struct FakeResponseStream: Sendable, Equatable {
    /// How the body ended, or that it is still being written.
    public enum State: Sendable, Equatable {
        /// The body is still being written (or is idle, waiting for events).
        case open
        /// The body ended cleanly.
        case finished
        /// The fake master cut the connection on purpose (a fault or a producer that threw).
        case cut
        /// The client closed the connection (or stopped reading and dropped the body) first.
        case closedByClient
    }

    /// A number unique within the fake master, in the order streams started.
    public var id: Int
    /// The request path.
    public var path: String
    /// The `Mesos-Stream-Id` for a subscription stream, otherwise `nil`.
    public var streamID: String?
    /// How many body bytes the transport accepted so far.
    public var bytesWritten: Int
    /// How many writes (HTTP chunks) the transport accepted so far.
    public var writes: Int
    /// Where the stream is.
    public var state: State
    /// Whether the producer is inside a write the transport has not accepted yet. With a client that does not
    /// read, this stays `true` and ``writes`` stays put: the producer is held back by backpressure. Tests wait
    /// for it (`master.waitUntil { $0.responseStreams[0].isWriting }`) instead of pausing and hoping.
    public var isWriting: Bool
    /// Whether a ``FakeMasterFault/goSilent(afterEvents:)`` fault took effect: everything before it was written
    /// and the producer writes nothing more, though the connection stays open. Tests wait for it instead of
    /// pausing and checking that nothing arrived.
    public var isSilenced: Bool
    /// Whether the producer is, right now, inside a write that waits because the client does not read (over
    /// HTTP: the connection is not writable; in memory this stays `false`, see ``isWriting``). Tests of
    /// backpressure wait for it instead of pausing.
    public var isHeldBack: Bool

    /// Creates a snapshot.
    public init(
        id: Int,
        path: String,
        streamID: String?,
        bytesWritten: Int,
        writes: Int,
        state: State,
        isWriting: Bool = false,
        isSilenced: Bool = false,
        isHeldBack: Bool = false
    ) {
        self.id = id
        self.path = path
        self.streamID = streamID
        self.bytesWritten = bytesWritten
        self.writes = writes
        self.state = state
        self.isWriting = isWriting
        self.isSilenced = isSilenced
        self.isHeldBack = isHeldBack
    }
}
