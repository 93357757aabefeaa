import Foundation
import MesosCore
import MesosCurlTransport
import MesosExecutor
import MesosTestKit
import Testing

@Suite("MesosExecutor over real HTTP")
struct HTTPExecutorTests {
    @Test("configured from the environment, over curl to the fake agent on 127.0.0.1: launch, updates, acknowledged, finished")
    func endToEnd() async throws {
        let agent = FakeAgent()
        let server = try await FakeAgentServer.start(agent: agent)
        defer { Task { try? await server.shutdown() } }
        var configuration = try ExecutorConfiguration.fromEnvironment(
            agent.executorEnvironment(endpoint: server.agentEndpoint, checkpoint: false))
        configuration.contentType = .json
        let delegate = RecordingExecutor(onLaunch: { executor, task in
            _ = try? await executor.update(status(task.taskID.value, .taskRunning))
            try? await executor.message(Array("started".utf8))
            _ = try? await executor.update(status(task.taskID.value, .taskFinished))
        })
        let executor = MesosExecutor(configuration: configuration, transport: MesosCurlTransport())
        let run = Task { await executor.run(delegate: delegate) }
        try await agent.waitUntil { $0.isSubscribed }
        await agent.launch(task("t1"))
        let end = await run.value
        #expect(end == .finished)
        #expect(await agent.updates.map(\.state) == [.taskRunning, .taskFinished])
        #expect(await agent.messages == [Array("started".utf8)])
        let first = try #require(await agent.calls.first)
        #expect(first.headers["Content-Type"] == "application/json" && first.call?.type == .subscribe)
        #expect(delegate.entries == ["registered:fake-agent-S0", "launch:t1", "ack:t1", "ack:t1"])
        try await server.shutdown()
    }
}
