import Foundation
import NIOCore
import NIOPosix

/// Serves a ``FakeAgent`` over real HTTP/1.1 on 127.0.0.1, like ``FakeMasterServer`` serves a fake master.
///
/// ```swift
/// let agent = FakeAgent()
/// let server = try await FakeAgentServer.start(agent: agent)
/// let environment = agent.executorEnvironment(endpoint: server.agentEndpoint, checkpoint: false)
/// // … run an executor with the curl transport …
/// try await server.shutdown()
/// ```
public final class FakeAgentServer: Sendable {
    /// The agent being served.
    public let agent: FakeAgent
    /// The address the server listens on.
    public let host: String
    /// The port the server listens on.
    public let port: Int

    private let channel: any Channel
    private let tracker: ConnectionTracker

    private init(agent: FakeAgent, host: String, port: Int, channel: any Channel, tracker: ConnectionTracker) {
        self.agent = agent
        self.host = host
        self.port = port
        self.channel = channel
        self.tracker = tracker
    }

    /// `<host>:<port>`, the form of `MESOS_AGENT_ENDPOINT`.
    public var agentEndpoint: String {
        "\(self.host):\(self.port)"
    }

    /// The executor endpoint URL, `http://<host>:<port>/api/v1/executor`.
    public var endpointURL: URL {
        URL(string: "http://\(self.agentEndpoint)/api/v1/executor")!
    }

    /// Starts serving `agent`.
    ///
    /// - Parameters:
    ///   - agent: The fake agent.
    ///   - host: The address to bind; keep the default `127.0.0.1` in tests.
    ///   - port: The port, `0` for any free one.
    ///   - group: The event loops to use.
    /// - Returns: The running server.
    /// - Throws: NIO's error if the address cannot be bound.
    public static func start(
        agent: FakeAgent,
        host: String = "127.0.0.1",
        port: Int = 0,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> FakeAgentServer {
        let (channel, tracker, boundPort) = try await FakeHTTPServerBootstrap.bind(host: host, port: port, group: group) {
            await agent.respond(to: $0)
        }
        return FakeAgentServer(agent: agent, host: host, port: boundPort, channel: channel, tracker: tracker)
    }

    /// How many connections are open now.
    public var openConnections: Int {
        self.tracker.openChannels.count
    }

    /// Stops listening and closes every open connection (ending their streams).
    public func shutdown() async throws {
        try? await self.channel.close()
        for channel in self.tracker.openChannels {
            try? await channel.close()
        }
    }
}
