/// Receives the chunks of a streamed response body.
///
/// Over HTTP each `write` becomes one HTTP chunk (or a piece of a `Content-Length` body); in memory it becomes one
/// element of the response body sequence.
public protocol FakeMasterBodyWriter: Sendable {
    /// Sends one chunk, waiting while the client is not reading (at most a bounded amount is buffered).
    ///
    /// - Parameter bytes: The chunk.
    /// - Throws: ``FakeMasterClientClosed`` (or `CancellationError`) once the client has closed the connection.
    func write(_ bytes: ArraySlice<UInt8>) async throws

    /// Says that the producer will write nothing more on this body for now (a ``FakeMasterFault/goSilent(afterEvents:)``
    /// fault took effect), so that ``FakeResponseStream/isSilenced`` can tell tests. Writers that only pass
    /// bytes on forward it to the writer they wrap; the default does nothing.
    func noteSilenced()

    /// Whether a ``write(_:)`` is waiting because the client is not reading (over HTTP: the connection stopped
    /// being writable). Reported as ``FakeResponseStream/isHeldBack``; the default is `false`.
    var isHeldBack: Bool { get }
}

extension FakeMasterBodyWriter {
    /// Does nothing.
    public func noteSilenced() {}

    /// `false`: this writer cannot tell.
    public var isHeldBack: Bool { false }
}

/// Thrown by ``FakeMasterBodyWriter/write(_:)`` when the client has closed the connection.
public struct FakeMasterClientClosed: Error, Sendable, CustomStringConvertible {
    /// Creates the error.
    public init() {}

    /// A description.
    public var description: String { "the client closed the connection" }
}
