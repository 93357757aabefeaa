import MesosCore

/// Why ``MesosExecutor/run(delegate:)`` returned. An executor process exits once it has one
/// (``exitStatus`` is a fitting status).
public enum ExecutorTermination: Sendable, Hashable, CustomStringConvertible {
    /// Every task the executor was given has a terminal update, and the agent acknowledged all updates.
    case finished
    /// Every task has a terminal update, but the last acknowledgement did not come within
    /// ``ExecutorConfiguration/terminalAcknowledgementTimeout``.
    case acknowledgementTimedOut
    /// The agent sent SHUTDOWN; the delegate's ``Executor/shutdown(_:)`` returned and every update was
    /// acknowledged.
    case shutdown
    /// The agent sent SHUTDOWN and ``ExecutorConfiguration/shutdownGracePeriod`` ran out first.
    case shutdownGracePeriodExpired
    /// The connection to the agent was lost and the framework does not checkpoint, so there is no recovery.
    /// The delegate's ``Executor/shutdown(_:)`` ran first (bounded by the shutdown grace period).
    case agentGone(MesosError)
    /// The agent stayed away for ``ExecutorConfiguration/recoveryTimeout``; the error is the last reason an
    /// attempt failed. The delegate's ``Executor/shutdown(_:)`` ran first (bounded by the grace period).
    case recoveryTimedOut(MesosError)
    /// The first subscription did not succeed within ``ExecutorConfiguration/registrationTimeout``.
    case registrationTimedOut(MesosError)
    /// The agent refused the executor for good (400, 401, 403, 415, …) or the stream was unusable.
    case failed(MesosError)
    /// ``MesosExecutor/stop()`` was called or the task running the executor was cancelled.
    case stopped

    /// A process exit status for this end: 0 for ``finished``, ``shutdown`` and ``stopped``, 1 otherwise
    /// (as Mesos's command executor exits 1 when the last acknowledgement never came).
    public var exitStatus: Int32 {
        switch self {
        case .finished, .shutdown, .stopped: return 0
        default: return 1
        }
    }

    /// A one-line explanation.
    public var description: String {
        switch self {
        case .finished: return "finished: every task ended and every update was acknowledged"
        case .acknowledgementTimedOut: return "the last terminal update was not acknowledged in time"
        case .shutdown: return "shut down by the agent"
        case .shutdownGracePeriodExpired: return "the shutdown grace period expired"
        case .agentGone(let error): return "the agent went away and the framework does not checkpoint: \(error)"
        case .recoveryTimedOut(let error): return "the agent did not come back within the recovery timeout: \(error)"
        case .registrationTimedOut(let error): return "could not subscribe to the agent in time: \(error)"
        case .failed(let error): return "failed: \(error)"
        case .stopped: return "stopped"
        }
    }
}
