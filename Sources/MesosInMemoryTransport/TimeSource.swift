/// The clock the transport measures its timeouts on, with its type erased: instants are offsets from the moment
/// the transport was created, so any `Clock` whose durations are `Duration` fits (`ContinuousClock` by default,
/// a test's manual clock in tests).
struct TimeSource: Sendable {
    /// The time passed on the clock since the transport was created.
    let now: @Sendable () -> Duration
    /// Sleeps on the clock until the given offset; throws `CancellationError` when cancelled.
    let sleepUntil: @Sendable (Duration) async throws -> Void

    init<C: Clock>(_ clock: C) where C.Duration == Duration {
        let origin = clock.now
        self.now = { origin.duration(to: clock.now) }
        self.sleepUntil = { offset in
            try await clock.sleep(until: origin.advanced(by: offset), tolerance: nil)
        }
    }
}
