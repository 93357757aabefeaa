import Foundation
import MesosCore
import MesosTestKit
import Testing

@testable import MesosOperator
@testable import MesosOperatorTool

/// The follower asks whether the task has ended at most once per `finishCheckInterval` on its clock, and
/// `mesos logs -f` uses that (5 s by default) instead of asking the master on every idle poll.
@Suite struct TaskFileFollowerFinishCheckTests {
    static let path = "/frameworks/F/executors/E/runs/latest/stdout"

    @Test("idle polls every 0.5 s read the file; isFinished is asked at the first idle poll and then every 5 s")
    func finishCheckIsThrottledOnTheFollowersClock() async throws {
        let agent = FakeFileAgent()
        let clock = ManualClock()
        let checks = LockedValue<[Duration]>([])
        let finished = LockedValue(false)
        let started = clock.now
        agent.write(Self.path, "a")
        let follower = agent.files().follow(
            path: Self.path,
            options: .init(start: .beginning, pollInterval: .milliseconds(500), finishCheckInterval: .seconds(5)),
            clock: clock
        ) { () async throws(MesosError) -> Bool in
            checks.withLock { $0.append(started.duration(to: clock.now)) }
            return finished.withLock { $0 }
        }
        let (chunks, continuation) = AsyncStream.makeStream(of: String.self)
        let run = Task {
            do {
                for try await chunk in follower {
                    continuation.yield(String(decoding: chunk, as: UTF8.self))
                }
                continuation.yield("<end>")
            } catch {
                continuation.yield("<error \(error)>")
            }
            continuation.finish()
        }
        defer { run.cancel() }
        var received = chunks.makeAsyncIterator()
        #expect(await received.next() == "a")

        // Nine idle polls (0 s … 4.5 s): only the first asks.
        for _ in 0..<9 {
            await clock.waitForSleepers(1)
            clock.advance(by: .milliseconds(500))
        }
        await clock.waitForSleepers(1)
        #expect(checks.withLock { $0 } == [.zero])

        // Output keeps coming without asking.
        agent.append(Self.path, "b")
        finished.withLock { $0 = true }
        clock.advance(by: .milliseconds(500))
        #expect(await received.next() == "b")
        // At 5 s the task is asked about again, has ended, and the follower ends after a last read.
        #expect(await received.next() == "<end>")
        #expect(checks.withLock { $0 } == [.zero, .seconds(5)])
        #expect(clock.sleepLog == Array(repeating: .milliseconds(500), count: 10))
    }

    @Test("the default options ask at every idle poll, as before")
    func defaultAsksEveryIdlePoll() {
        #expect(TaskFileFollower.Options().finishCheckInterval == .zero)
        #expect(TaskFileFollower.Options(finishCheckInterval: .seconds(-1)).finishCheckInterval == .zero)
    }

    @Test("mesos logs -f asks the master about the task every 5 s by default, --task-check-interval changes it")
    func logsCommandThrottlesItsTaskCheck() throws {
        #expect(try LogsCommand.parse(["t1", "-f", "--local"]).taskCheckInterval.duration == .seconds(5))
        #expect(try LogsCommand.parse(["t1", "-f", "--local", "--task-check-interval", "2s"]).taskCheckInterval.duration == .seconds(2))
    }
}
