import MesosCore

/// The timing and limits of a `HealthCheck`, with Mesos's defaults for unset fields (delay 15 s, interval 10 s,
/// timeout 20 s, grace period 10 s, 3 consecutive failures).
public struct HealthCheckPolicy: Sendable, Hashable {
    /// Time from the start of health checking to the first check.
    public var delay: Duration
    /// Time from the end of one check to the start of the next.
    public var interval: Duration
    /// How long one check may take before it counts as failed; `nil` (from `timeout_seconds` 0) for no limit.
    public var timeout: Duration?
    /// Time from the start during which failures are ignored as long as no check has passed yet.
    public var gracePeriod: Duration
    /// Failures in a row that make the executor kill the task.
    public var consecutiveFailures: UInt32

    /// The policy of `check`.
    ///
    /// - Parameter check: The task's health check.
    public init(_ check: HealthCheck) {
        self.delay = Duration(saturatingSeconds: check.delaySeconds)
        self.interval = Duration(saturatingSeconds: check.intervalSeconds)
        self.timeout = check.timeoutSeconds > 0 ? Duration(saturatingSeconds: check.timeoutSeconds) : nil
        self.gracePeriod = Duration(saturatingSeconds: check.gracePeriodSeconds)
        self.consecutiveFailures = check.consecutiveFailures
    }
}

/// What one check result means for the task: a health update to send (a `TASK_RUNNING` with `healthy`), and
/// whether the task must now be killed.
public struct HealthReport: Sendable, Hashable {
    /// The task's health.
    public var healthy: Bool
    /// Failures in a row so far (0 when healthy).
    public var consecutiveFailures: UInt32
    /// Whether the failures reached the policy's limit: the executor kills the task.
    public var killTask: Bool

    /// Creates a report.
    ///
    /// - Parameters:
    ///   - healthy: The task's health.
    ///   - consecutiveFailures: Failures in a row so far.
    ///   - killTask: Whether the task must be killed.
    public init(healthy: Bool, consecutiveFailures: UInt32, killTask: Bool) {
        self.healthy = healthy
        self.consecutiveFailures = consecutiveFailures
        self.killTask = killTask
    }
}

/// Mesos's health-checker rules as a pure state machine: no clock, no I/O; the caller says when each check
/// ended and how.
///
/// ```
///  start ──delay──▶ check ──pass──▶ report healthy (first pass, or first after failures) ──interval──▶ check
///                         └─fail──▶ within grace period and never passed: ignored ───────interval──▶ check
///                                   otherwise: failures += 1, report unhealthy (every failure),
///                                              kill once failures ≥ consecutive_failures
/// ```
///
/// Every failure outside the grace period is reported (Mesos sends a `healthy: false` update each time, not
/// only when the health changes); a pass is reported only when it changes something.
public struct HealthCheckStateMachine: Sendable, Hashable {
    /// The policy.
    public let policy: HealthCheckPolicy
    /// When health checking started, on the caller's clock.
    public let startedAt: Duration
    /// Whether no check has passed yet.
    public private(set) var initializing = true
    /// Failures in a row that counted.
    public private(set) var consecutiveFailures: UInt32 = 0

    /// A machine for checks that started at `startedAt`.
    ///
    /// - Parameters:
    ///   - policy: The timing and limits.
    ///   - startedAt: The start of health checking (the grace period counts from it).
    public init(policy: HealthCheckPolicy, startedAt: Duration) {
        self.policy = policy
        self.startedAt = startedAt
    }

    /// Feeds one check result.
    ///
    /// - Parameters:
    ///   - passed: Whether the check passed.
    ///   - now: When it ended, on the same clock as `startedAt`.
    /// - Returns: The update to send, or `nil` when nothing is to be reported.
    public mutating func record(passed: Bool, at now: Duration) -> HealthReport? {
        if passed {
            defer {
                self.initializing = false
                self.consecutiveFailures = 0
            }
            guard self.initializing || self.consecutiveFailures > 0 else { return nil }
            return HealthReport(healthy: true, consecutiveFailures: 0, killTask: false)
        }
        if self.initializing, self.policy.gracePeriod > .zero, now - self.startedAt <= self.policy.gracePeriod {
            return nil
        }
        self.consecutiveFailures &+= 1
        return HealthReport(
            healthy: false,
            consecutiveFailures: self.consecutiveFailures,
            killTask: self.consecutiveFailures >= self.policy.consecutiveFailures
        )
    }
}
