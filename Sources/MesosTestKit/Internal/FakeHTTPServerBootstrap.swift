import NIOCore
import NIOHTTP1
import NIOPosix

/// Binds a listening socket whose connections are answered by a responder: the part ``FakeMasterServer`` and
/// ``FakeAgentServer`` share.
enum FakeHTTPServerBootstrap {
    /// Starts listening.
    ///
    /// - Returns: The listening channel, its connection tracker and the bound port.
    static func bind(
        host: String,
        port: Int,
        group: any EventLoopGroup,
        respond: @escaping FakeMasterHTTPHandler.Responder
    ) async throws -> (channel: any Channel, tracker: ConnectionTracker, port: Int) {
        let tracker = ConnectionTracker()
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let connectionID = tracker.opened(channel)
                    channel.closeFuture.whenComplete { _ in tracker.closed(connectionID) }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(
                        FakeMasterHTTPHandler(connectionID: connectionID, respond: respond)
                    )
                }
            }
            .bind(host: host, port: port)
            .get()
        guard let boundPort = channel.localAddress?.port else {
            try? await channel.close()
            throw FakeMasterServerError(message: "the server socket has no local port")
        }
        return (channel, tracker, boundPort)
    }
}
