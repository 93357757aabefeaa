/// A clock with its type erased, for code that measures timeouts and delays on a clock it is given: instants
/// are offsets from the moment the time source was made, so any `Clock` whose durations are `Duration` fits
/// (`ContinuousClock` in production, a test's manual clock in tests).
package struct TimeSource: Sendable {
    /// The time passed on the clock since the time source was made.
    package let now: @Sendable () -> Duration
    /// Sleeps on the clock until the given offset; throws `CancellationError` when cancelled.
    package let sleepUntil: @Sendable (Duration) async throws -> Void

    /// Measures time on `clock`, from now.
    package init<C: Clock>(_ clock: C) where C.Duration == Duration {
        let origin = clock.now
        self.now = { origin.duration(to: clock.now) }
        self.sleepUntil = { offset in
            try await clock.sleep(until: origin.advanced(by: offset), tolerance: nil)
        }
    }

    /// `ContinuousClock`.
    package static let continuous = TimeSource(ContinuousClock())

    /// Sleeps on the clock for `duration` from now; throws `CancellationError` when cancelled.
    package func sleep(for duration: Duration) async throws {
        try await self.sleepUntil(self.now() + duration)
    }
}
