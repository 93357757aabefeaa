import Foundation
import MesosCore
import Testing
@testable import MesosCurlTransport

@Suite("MesosCurlTransport.taskExecutor: tasks on the transport's own thread")
struct CurlTaskExecutorTests {
    let server: ScriptedHTTPServer
    let transport = MesosCurlTransport()

    init() async throws {
        self.server = try await ScriptedHTTPServer.start()
    }

    @Test func callsRunOnTheEngineThreadAndReuseTheConnection() async throws {
        let executor = try #require(self.transport.taskExecutor)
        let engine = self.transport.engine
        #expect(!engine.isEngineThread)
        let results = try await withTaskExecutorPreference(executor) {
            var results: [(status: Int, text: String, onEngine: Bool)] = []
            for _ in 0..<50 {
                let (response, body) = try await self.transport.send(
                    MesosHTTPRequest(method: "GET", url: self.server.url("/hello"), timeout: .seconds(60))
                )
                let received = try await text(of: body)
                results.append((response.status, received, engine.isEngineThread))
            }
            return results
        }
        #expect(results.count == 50)
        #expect(results.allSatisfy { $0.status == 200 && $0.text == "hello" })
        // Every continuation after a response ran on curl's thread, not on the cooperative pool.
        #expect(results.allSatisfy { $0.onEngine })
        let stats = try await stats(of: self.server)
        #expect(stats.connections == 2)
    }

    @Test func manyTasksOnTheEngineThreadStillRunConcurrently() async throws {
        let executor = try #require(self.transport.taskExecutor)
        let engine = self.transport.engine
        // The server answers "together" only once all 16 requests wait at the same time (else "alone" after 60 s):
        // the engine thread never blocks on one of them.
        let outcomes = try await withThrowingTaskGroup(of: (String, Bool).self) { group in
            for _ in 0..<16 {
                group.addTask(executorPreference: executor) {
                    let (_, body) = try await self.transport.send(
                        MesosHTTPRequest(method: "GET", url: self.server.url("/barrier?n=16"), timeout: .seconds(90))
                    )
                    let answer = try await text(of: body)
                    return (answer, engine.isEngineThread)
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(outcomes.map(\.0) == Array(repeating: "together", count: 16))
        #expect(outcomes.allSatisfy { $0.1 })
    }

    @Test func timersAndStreamedBodiesResumeOnTheEngineThread() async throws {
        let executor = try #require(self.transport.taskExecutor)
        let engine = self.transport.engine
        try await withTaskExecutorPreference(executor) {
            // A timer fires on another thread: its job comes back through the engine's inbox.
            try await Task.sleep(for: .milliseconds(50))
            #expect(engine.isEngineThread)
            let (response, body) = try await self.transport.send(
                MesosHTTPRequest(method: "GET", url: self.server.url("/gated?wait=10"))
            )
            #expect(response.status == 200)
            var iterator = body.makeAsyncIterator()
            #expect(try await iterator.next().map { Array($0) } == Array("first".utf8))
            #expect(engine.isEngineThread)
            // The release comes from a task on the cooperative pool while this one waits on the engine thread.
            let releaser = Task.detached {
                let (_, released) = try await self.transport.send(
                    MesosHTTPRequest(method: "GET", url: self.server.url("/release"))
                )
                return try await text(of: released)
            }
            var rest: [UInt8] = []
            while let chunk = try await iterator.next() {
                rest += chunk
                #expect(engine.isEngineThread)
            }
            #expect(String(decoding: rest, as: UTF8.self) == "released")
            #expect(try await releaser.value == "ok")
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func aTaskThatKeepsYieldingDoesNotStarveTheTransport() async throws {
        let executor = try #require(self.transport.taskExecutor)
        let finished = LockedFlag()
        let (spins, answer) = try await withTaskExecutorPreference(executor) {
            // Both tasks run on curl's one thread: the call can only finish if curl gets turns between the
            // other task's yields.
            async let received: String = {
                let (_, body) = try await self.transport.send(
                    MesosHTTPRequest(method: "GET", url: self.server.url("/hello"), timeout: .seconds(30))
                )
                let answer = try await text(of: body)
                finished.set()
                return answer
            }()
            var spins = 0
            while !finished.isSet {
                await Task.yield()
                spins += 1
            }
            return (spins, try await received)
        }
        #expect(answer == "hello")
        #expect(spins > 0)
    }

    @Test func manyChunksInOrderOnTheEngineThread() async throws {
        let executor = try #require(self.transport.taskExecutor)
        let count = 5000
        let received = try await withTaskExecutorPreference(executor) {
            let (_, body) = try await self.transport.send(
                MesosHTTPRequest(method: "GET", url: self.server.url("/chunks?n=\(count)"))
            )
            return try await text(of: body, limit: 1 << 20)
        }
        #expect(received == (0..<count).map { "chunk-\($0);" }.joined())
    }

    @Test func theExecutorKeepsTheThreadAliveAfterTheTransportIsGone() async throws {
        var transport: MesosCurlTransport? = MesosCurlTransport()
        let engine = try #require(transport?.engine)
        var executor = try #require(transport?.taskExecutor)
        transport = nil
        let ranThere = await withTaskExecutorPreference(executor) { engine.isEngineThread }
        #expect(ranThere)
        #expect(engine.isRunning)
        // Dropping the last reference stops the thread.
        executor = MesosCurlTransport().taskExecutor!
        let ended = await eventually { !engine.isRunning }
        #expect(ended, "the engine thread kept running after its transport and executor were gone")
        _ = executor
    }
}

/// A flag set once from one task and polled from another.
final class LockedFlag: Sendable {
    private let value = LockedValue(false)

    func set() {
        self.value.withLock { $0 = true }
    }

    var isSet: Bool {
        self.value.withLock { $0 }
    }
}
