import Foundation
import MesosCore
import MesosTestKit
import Testing

@testable import MesosOperator

/// Runs a follower in a task and hands its chunks (as text) and its end to the test one by one.
private struct FollowRun {
    enum Item: Equatable { case chunk(String), end, failure(MesosError.Code) }
    private var items: AsyncStream<Item>.Iterator
    let task: Task<Void, Never>

    init(_ follower: TaskFileFollower) {
        let (items, continuation) = AsyncStream.makeStream(of: Item.self)
        self.items = items.makeAsyncIterator()
        self.task = Task {
            do {
                for try await chunk in follower {
                    continuation.yield(.chunk(String(decoding: chunk, as: UTF8.self)))
                }
                continuation.yield(.end)
            } catch {
                continuation.yield(.failure((error as? MesosError)?.code ?? .unexpectedStatus))
            }
            continuation.finish()
        }
    }

    mutating func next() async -> Item? {
        await self.items.next()
    }
}

@Suite struct TaskFilesFollowTests {
    static let path = "/frameworks/F/executors/E/runs/latest/stdout"

    @Test(arguments: [TaskFiles.API.automatic, .legacyOnly])
    func followsAGrowingFileThroughTruncationUntilTheTaskEnds(api: TaskFiles.API) async throws {
        let agent = FakeFileAgent()
        let clock = ManualClock()
        agent.write(Self.path, "hello")
        let follower = agent.files(api: api).follow(
            path: Self.path, options: .init(start: .lastBytes(3)), clock: clock, isFinished: agent.isFinished)
        var run = FollowRun(follower)
        #expect(await run.next() == .chunk("llo"))

        await clock.waitForSleepers(1)
        agent.append(Self.path, " world")
        clock.advance(by: .milliseconds(500))
        #expect(await run.next() == .chunk(" world"))

        // Truncated (copytruncate rotation): the follower starts again at 0.
        await clock.waitForSleepers(1)
        agent.write(Self.path, "X")
        clock.advance(by: .milliseconds(500))
        #expect(await run.next() == .chunk("X"))

        // The task ends; output written between the last empty read and the terminal check is still shown.
        await clock.waitForSleepers(1)
        agent.state.withLock { state in
            state.finished = true
            state.onFinishedCheck = { $0.files[Self.path, default: []] += Array("last words".utf8) }
        }
        clock.advance(by: .milliseconds(500))
        #expect(await run.next() == .chunk("last words"))
        #expect(await run.next() == .end)
        #expect(clock.sleepLog == [.milliseconds(500), .milliseconds(500), .milliseconds(500)])
    }

    @Test func startsAtTheEndOrTheBeginning() async throws {
        let agent = FakeFileAgent()
        let clock = ManualClock()
        agent.write(Self.path, "old")
        var fromEnd = FollowRun(agent.files().follow(path: Self.path, options: .init(start: .end), clock: clock, isFinished: agent.isFinished))
        await clock.waitForSleepers(1)
        agent.append(Self.path, "new")
        clock.advance(by: .milliseconds(500))
        #expect(await fromEnd.next() == .chunk("new"))
        fromEnd.task.cancel()
        #expect(await fromEnd.next() == .failure(.cancelled))

        agent.state.withLock { $0.finished = true }
        var whole = FollowRun(agent.files().follow(path: Self.path, options: .init(start: .beginning), clock: clock, isFinished: agent.isFinished))
        #expect(await whole.next() == .chunk("oldnew"))
        #expect(await whole.next() == .end)
    }

    @Test func readsInChunksOfTheGivenSize() async throws {
        let agent = FakeFileAgent()
        agent.write(Self.path, "abcdefg")
        agent.state.withLock { $0.finished = true }
        var chunks: [String] = []
        for try await chunk in agent.files().follow(path: Self.path, options: .init(start: .beginning, chunkSize: 3), clock: ManualClock(), isFinished: agent.isFinished) {
            chunks.append(String(decoding: chunk, as: UTF8.self))
        }
        #expect(chunks == ["abc", "def", "g"])
    }

    @Test func waitsForASandboxThatIsNotThereYet() async throws {
        let agent = FakeFileAgent()
        let clock = ManualClock()
        var run = FollowRun(agent.files().follow(path: Self.path, clock: clock, isFinished: agent.isFinished))
        await clock.waitForSleepers(1)
        clock.advance(by: .milliseconds(500))
        await clock.waitForSleepers(1)
        agent.write(Self.path, "started")
        clock.advance(by: .milliseconds(500))
        #expect(await run.next() == .chunk("started"))
        run.task.cancel()
        #expect(await run.next() == .failure(.cancelled))
    }

    @Test func aMissingFileOfAFinishedTaskIsNotFound() async throws {
        let agent = FakeFileAgent()
        agent.state.withLock { $0.finished = true }
        var run = FollowRun(agent.files().follow(path: Self.path, clock: ManualClock(), isFinished: agent.isFinished))
        #expect(await run.next() == .failure(.notFound))
    }

    @Test func aFileGarbageCollectedAfterTheTaskEndedEndsTheFollower() async throws {
        let agent = FakeFileAgent()
        let clock = ManualClock()
        agent.write(Self.path, "out")
        var run = FollowRun(agent.files().follow(path: Self.path, clock: clock, isFinished: agent.isFinished))
        #expect(await run.next() == .chunk("out"))
        await clock.waitForSleepers(1)
        agent.state.withLock { state in
            state.files[Self.path] = nil
            state.finished = true
        }
        clock.advance(by: .milliseconds(500))
        #expect(await run.next() == .end)
    }

    @Test func agentErrorsEndTheFollowerWithTheirCode() async throws {
        let agent = FakeFileAgent()
        agent.write(Self.path, "x")
        agent.state.withLock { $0.operatorStatus = 403 }
        var run = FollowRun(agent.files().follow(path: Self.path, clock: ManualClock()))
        #expect(await run.next() == .failure(.forbidden))
    }
}
