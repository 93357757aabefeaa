import MesosCore

/// Iterates a detector's leaders in a task of its own and records every element with the time it arrived, so
/// that a test can wait for an element, or check that none arrived.
final class LeaderRecorder: Sendable {
    struct Entry: Sendable {
        let leader: MasterLocation?
        let at: ContinuousClock.Instant
    }

    private struct State {
        var entries: [Entry] = []
        var error: (any Error)?
        var ended = false
        var task: Task<Void, Never>?
    }

    private let state = LockedValue(State())

    private init() {}

    /// Starts iterating `detector.leaders`.
    static func start(_ detector: MasterDetector) -> LeaderRecorder {
        let recorder = LeaderRecorder()
        let task = Task {
            do {
                for try await leader in detector.leaders {
                    recorder.state.withLock { $0.entries.append(Entry(leader: leader, at: .now)) }
                }
                recorder.state.withLock { $0.ended = true }
            } catch {
                recorder.state.withLock {
                    $0.error = error
                    $0.ended = true
                }
            }
        }
        recorder.state.withLock { $0.task = task }
        return recorder
    }

    var entries: [Entry] { self.state.withLock { $0.entries } }
    var leaders: [MasterLocation?] { self.entries.map(\.leader) }
    var error: (any Error)? { self.state.withLock { $0.error } }

    struct Timeout: Error, CustomStringConvertible {
        let description: String
    }

    /// Waits until at least `count` elements arrived; throws on timeout or when the iteration failed.
    @discardableResult
    func waitForCount(_ count: Int, timeout: Duration = .seconds(20)) async throws -> [Entry] {
        let deadline = ContinuousClock.now + timeout
        while true {
            let (entries, error, ended) = self.state.withLock { ($0.entries, $0.error, $0.ended) }
            if entries.count >= count { return entries }
            if let error { throw error }
            if ended { throw Timeout(description: "the sequence ended after \(entries.count) elements") }
            guard ContinuousClock.now < deadline else {
                throw Timeout(description: "only \(entries.count) of \(count) elements within \(timeout): \(entries.map(\.leader))")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Waits for the element number `count` (1-based) and returns it.
    func element(_ count: Int, timeout: Duration = .seconds(20)) async throws -> MasterLocation? {
        try await self.waitForCount(count, timeout: timeout)[count - 1].leader
    }

    /// Cancels the iteration and waits for it to end.
    func stop() async {
        let task = self.state.withLock { $0.task }
        task?.cancel()
        await task?.value
    }
}
