import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// Serves a ``FakeMaster`` over real HTTP/1.1 with SwiftNIO, on 127.0.0.1 by default.
///
/// The server speaks plain HTTP/1.1 with keep-alive: fixed bodies carry a `Content-Length`, streamed bodies are
/// chunked (one HTTP chunk per write). Streamed bodies honour the channel's writability, so a client that stops
/// reading stops the server after a bounded amount of buffered data (NIO's 64 KiB high-water mark plus the
/// kernel's socket buffers); ``FakeMaster/responseStreams`` shows how far each body got. `Expect: 100-continue`
/// is answered at once. It counts connections (``acceptedConnections``, ``openConnections``), and every
/// request records the connection it came on in ``FakeMasterRequest/connectionID``.
///
/// ```swift
/// let master = FakeMaster(configuration: .init(heartbeatInterval: .milliseconds(50)))
/// let server = try await FakeMasterServer.start(master: master)      // 127.0.0.1, a free port
/// let url = server.url.appending(path: "api/v1/scheduler")            // http://127.0.0.1:<port>/api/v1/scheduler
/// // … drive a transport against `url`, script `master` …
/// try await server.shutdown()
/// ```
public final class FakeMasterServer: Sendable {
    /// The master being served.
    public let master: FakeMaster
    /// The address the server listens on.
    public let host: String
    /// The port the server listens on.
    public let port: Int

    private let channel: any Channel
    let tracker: ConnectionTracker

    private init(master: FakeMaster, host: String, port: Int, channel: any Channel, tracker: ConnectionTracker) {
        self.master = master
        self.host = host
        self.port = port
        self.channel = channel
        self.tracker = tracker
    }

    /// The base URL, `http://<host>:<port>`.
    public var url: URL {
        URL(string: "http://\(self.host):\(self.port)")!
    }

    /// `<host>:<port>`, the form ``FakeMasterFault/redirect(to:)`` and ``FakeMaster/Leadership/follower(leader:)`` take.
    public var hostAndPort: String {
        "\(self.host):\(self.port)"
    }

    /// Starts serving `master` and advertises the bound address in its `MasterInfo` and redirects.
    ///
    /// - Parameters:
    ///   - master: The fake master.
    ///   - host: The address to bind; keep the default `127.0.0.1` in tests.
    ///   - port: The port, `0` for any free one.
    ///   - group: The event loops to use.
    /// - Returns: The running server.
    /// - Throws: NIO's error if the address cannot be bound.
    public static func start(
        master: FakeMaster,
        host: String = "127.0.0.1",
        port: Int = 0,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> FakeMasterServer {
        let (channel, tracker, boundPort) = try await FakeHTTPServerBootstrap.bind(host: host, port: port, group: group) {
            try await master.respond(to: $0)
        }
        await master.setAdvertisedAddress(hostname: host, port: boundPort)
        return FakeMasterServer(master: master, host: host, port: boundPort, channel: channel, tracker: tracker)
    }

    /// Stops listening and closes every open connection (ending their streams).
    ///
    /// - Throws: NIO's error if the listening socket cannot be closed.
    public func shutdown() async throws {
        try? await self.channel.close()
        let open = self.tracker.openChannels
        for channel in open {
            try? await channel.close()
        }
    }

    /// How many connections were accepted so far.
    public var acceptedConnections: Int {
        self.tracker.accepted
    }

    /// How many connections are open now.
    public var openConnections: Int {
        self.tracker.openChannels.count
    }

    /// The ids of the connections open now (the ids requests carry in ``FakeMasterRequest/connectionID``).
    public var openConnectionIDs: Set<Int> {
        self.tracker.openIDs
    }

    /// Waits until at most `count` connections are open (for example `0` once the client has closed).
    ///
    /// - Parameters:
    ///   - count: The number of open connections to wait for.
    ///   - timeout: How long to wait: a guard against a hang, generous because a test machine can be busy with
    ///     every other test at once.
    /// - Throws: ``FakeMasterServerError`` on timeout.
    public func waitForOpenConnections(atMost count: Int, timeout: Duration = .seconds(60)) async throws {
        let deadline = ContinuousClock.now + timeout
        while self.openConnections > count {
            guard ContinuousClock.now < deadline else {
                throw FakeMasterServerError(message: "still \(self.openConnections) open connections after \(timeout)")
            }
            try await Task.sleep(for: .milliseconds(5))
        }
    }
}

/// A failure of ``FakeMasterServer``.
public struct FakeMasterServerError: Error, Sendable, CustomStringConvertible {
    /// What went wrong.
    public var message: String

    /// A description.
    public var description: String { "FakeMasterServer: \(self.message)" }
}
