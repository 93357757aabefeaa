import MesosCore

/// A clock whose time moves only when a test says so.
///
/// Give it to code that takes a clock (the in-memory transport's timeouts, the static-list detector's backoff,
/// the ZooKeeper detector's connect deadline) and drive that code's time from the test: wait until the code
/// sleeps (``waitForSleepers(_:)``, a readiness signal rather than a guess), look at what it asked for
/// (``pendingDeadlines``, ``sleepLog``), then ``advance(by:)``. No assertion depends on how fast the machine is.
///
/// ```swift
/// let clock = ManualClock()
/// let transport = MesosInMemoryTransport(clock: clock) { _ in … }
/// let call = Task { try await transport.send(MesosHTTPRequest(url: url, timeout: .seconds(5))) }
/// await clock.waitForSleepers(1)
/// clock.advance(by: .seconds(5))          // the call now fails with .timeout
/// ```
///
/// A sleep whose deadline is not in the future returns at once; a cancelled sleep throws `CancellationError`.
public final class ManualClock: Clock, Sendable {
    /// A point on the manual time line: the time passed since the clock was created.
    public struct Instant: InstantProtocol, Sendable, Hashable, Comparable, CustomStringConvertible {
        /// The time since the clock's start.
        public var offset: Duration

        /// Creates an instant `offset` after the clock's start.
        ///
        /// - Parameter offset: The time since the start.
        public init(offset: Duration) {
            self.offset = offset
        }

        /// The instant `duration` later.
        public func advanced(by duration: Duration) -> Instant {
            Instant(offset: self.offset + duration)
        }

        /// The time from this instant to `other`.
        public func duration(to other: Instant) -> Duration {
            other.offset - self.offset
        }

        /// Orders instants by their offsets.
        public static func < (lhs: Instant, rhs: Instant) -> Bool {
            lhs.offset < rhs.offset
        }

        /// `t+<offset>`.
        public var description: String {
            "t+\(self.offset)"
        }
    }

    private struct Sleeper {
        var deadline: Instant
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct SleeperWaiter {
        var id: Int
        /// What the sleepers must look like: true once enough of them, or the right one, wait.
        var isSatisfied: @Sendable ([Sleeper]) -> Bool
        var continuation: CheckedContinuation<Void, Never>
    }

    private struct State {
        var now = Instant(offset: .zero)
        var nextID = 0
        var sleepers: [Int: Sleeper] = [:]
        var sleepLog: [Duration] = []
        var waiters: [SleeperWaiter] = []

        /// Removes and returns the waiters whose count is now reached.
        mutating func readyWaiters() -> [CheckedContinuation<Void, Never>] {
            var ready: [CheckedContinuation<Void, Never>] = []
            let sleepers = Array(self.sleepers.values)
            self.waiters.removeAll { waiter in
                guard waiter.isSatisfied(sleepers) else { return false }
                ready.append(waiter.continuation)
                return true
            }
            return ready
        }
    }

    private let state = LockedValue(State())

    /// Creates a clock at offset zero with nobody sleeping.
    public init() {}

    /// The current manual time.
    public var now: Instant {
        self.state.withLock { $0.now }
    }

    /// The clock has no resolution limit.
    public var minimumResolution: Duration {
        .zero
    }

    /// How many sleeps are waiting right now.
    public var sleeperCount: Int {
        self.state.withLock { $0.sleepers.count }
    }

    /// The deadlines of the sleeps waiting right now, as offsets from the clock's start, earliest first.
    public var pendingDeadlines: [Duration] {
        self.state.withLock { $0.sleepers.values.map(\.deadline.offset).sorted() }
    }

    /// Every sleep that had to wait, in the order they began: how long each asked to sleep (deadline minus the
    /// time it began).
    public var sleepLog: [Duration] {
        self.state.withLock { $0.sleepLog }
    }

    /// Suspends until `deadline` is reached on this clock (by ``advance(by:)``) or the task is cancelled.
    ///
    /// - Parameters:
    ///   - deadline: When to resume.
    ///   - tolerance: Ignored.
    /// - Throws: `CancellationError` when the task is cancelled first.
    public func sleep(until deadline: Instant, tolerance: Duration? = nil) async throws {
        try Task.checkCancellation()
        let id: Int? = self.state.withLock { state in
            guard deadline > state.now else { return nil }
            state.nextID += 1
            return state.nextID
        }
        guard let id else { return }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let (ready, outcome): ([CheckedContinuation<Void, Never>], Result<Void, any Error>?) =
                    self.state.withLock { state in
                        if Task.isCancelled { return ([], .failure(CancellationError())) }
                        if deadline <= state.now { return ([], .success(())) }
                        state.sleepers[id] = Sleeper(deadline: deadline, continuation: continuation)
                        state.sleepLog.append(state.now.duration(to: deadline))
                        return (state.readyWaiters(), nil)
                    }
                if let outcome { continuation.resume(with: outcome) }
                for waiter in ready { waiter.resume() }
            }
        } onCancel: {
            let sleeper = self.state.withLock { $0.sleepers.removeValue(forKey: id) }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Moves the time forward and wakes every sleep whose deadline is reached, earliest deadline first.
    ///
    /// - Parameter duration: How far; not negative.
    public func advance(by duration: Duration) {
        precondition(duration >= .zero, "ManualClock cannot go back in time")
        let due: [Sleeper] = self.state.withLock { state in
            state.now = state.now.advanced(by: duration)
            let now = state.now
            let dueIDs = state.sleepers.filter { $0.value.deadline <= now }.map(\.key)
            return dueIDs.compactMap { state.sleepers.removeValue(forKey: $0) }.sorted { $0.deadline < $1.deadline }
        }
        for sleeper in due {
            sleeper.continuation.resume()
        }
    }

    /// Moves the time to the earliest pending deadline, waking the sleeps due then.
    ///
    /// - Returns: How far the clock moved, or `nil` when nobody sleeps.
    @discardableResult
    public func advanceToNextDeadline() -> Duration? {
        let step: Duration? = self.state.withLock { state in
            state.sleepers.values.map(\.deadline).min().map { state.now.duration(to: $0) }
        }
        guard let step else { return nil }
        self.advance(by: max(.zero, step))
        return step
    }

    /// Waits (without blocking a thread) until at least `count` sleeps are waiting on this clock, or the task
    /// is cancelled.
    ///
    /// This is the readiness signal tests use instead of a real-time pause: "the code under test is now
    /// waiting for time to pass".
    ///
    /// - Parameter count: How many sleepers to wait for.
    public func waitForSleepers(_ count: Int) async {
        await self.wait { $0.count >= count }
    }

    /// Waits (without blocking a thread) until a sleep with this deadline (an offset from the clock's start) is
    /// waiting, or the task is cancelled: "the code under test now waits for exactly this moment".
    ///
    /// - Parameter deadline: The deadline, as an offset from the clock's start.
    public func waitForDeadline(_ deadline: Duration) async {
        await self.wait { sleepers in sleepers.contains { $0.deadline.offset == deadline } }
    }

    private func wait(until isSatisfied: @escaping @Sendable ([Sleeper]) -> Bool) async {
        let id = self.state.withLock { state -> Int in
            state.nextID += 1
            return state.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let ready = self.state.withLock { state -> Bool in
                    if isSatisfied(Array(state.sleepers.values)) || Task.isCancelled { return true }
                    state.waiters.append(SleeperWaiter(id: id, isSatisfied: isSatisfied, continuation: continuation))
                    return false
                }
                if ready { continuation.resume() }
            }
        } onCancel: {
            let waiter: SleeperWaiter? = self.state.withLock { state in
                guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                return state.waiters.remove(at: index)
            }
            waiter?.continuation.resume()
        }
    }
}
