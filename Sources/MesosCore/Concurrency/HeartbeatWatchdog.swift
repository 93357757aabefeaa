/// Declares an event stream dead when no event arrives within a timeout.
///
/// Before SUBSCRIBED the timeout is the configured heartbeat interval × tolerance (it bounds the wait for
/// SUBSCRIBED itself); once SUBSCRIBED arrives it becomes the interval the master advertised × tolerance. The
/// clock does not run while the consumer handles an event (``pause()`` / ``resume()``): a slow consumer pauses
/// the stream on purpose, which is not the master's silence. Time is measured on the clock of the stream
/// (the scheduler's, the operator event stream's), so tests drive it with a manual clock.
package final class HeartbeatWatchdog: Sendable {
    private struct State {
        var timeout: Duration
        /// An offset on ``time``.
        var deadline: Duration
        var paused = false
        /// Fired when the timeout changes, so that a sleeper waiting for the old (possibly later) deadline
        /// looks again.
        var changed = Signal<Void>()
    }

    private let state: LockedValue<State>
    private let time: TimeSource

    /// Starts the clock with `timeout`.
    package init(timeout: Duration, time: TimeSource) {
        self.time = time
        self.state = LockedValue(State(timeout: timeout, deadline: time.now() + timeout))
    }

    /// The timeout in force.
    package var timeout: Duration {
        self.state.withLock { $0.timeout }
    }

    /// Uses `timeout` from now on, counting from now.
    package func setTimeout(_ timeout: Duration) {
        let changed = self.state.withLock { state -> Signal<Void> in
            state.timeout = timeout
            state.deadline = self.time.now() + timeout
            defer { state.changed = Signal<Void>() }
            return state.changed
        }
        changed.fire(())
    }

    /// An event arrived and is being handed to the consumer: stop the clock.
    package func pause() {
        self.state.withLock { $0.paused = true }
    }

    /// The consumer is done with the event: the next one is due within the timeout from now.
    package func resume() {
        self.state.withLock { state in
            state.paused = false
            state.deadline = self.time.now() + state.timeout
        }
    }

    /// Returns the timeout in force when the deadline passes with the clock running; `nil` if cancelled first.
    package func expiry() async -> Duration? {
        while !Task.isCancelled {
            let (deadline, paused, timeout, changed) = self.state.withLock { ($0.deadline, $0.paused, $0.timeout, $0.changed) }
            let now = self.time.now()
            if !paused, now >= deadline {
                return timeout
            }
            let wake = paused ? now + timeout : deadline
            let time = self.time
            // Sleep until the deadline, or until the timeout changes (SUBSCRIBED may shorten it).
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    try? await time.sleepUntil(wake)
                }
                group.addTask {
                    _ = await changed.wait()
                }
                await group.next()
                group.cancelAll()
            }
        }
        return nil
    }
}
