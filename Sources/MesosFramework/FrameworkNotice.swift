import MesosCore

/// Something the application services want the application to know.
public enum FrameworkNotice: Sendable, Equatable {
    /// A tracked task changed state, with what it means (partition-aware).
    case transition(ReconciliationDriver.Transition)
    /// The master reported a task the application does not track; `killed` tells whether a KILL was sent.
    case unknownTask(TaskStatus, killed: Bool)
    /// An explicit reconciliation run has waited longer than its alert threshold for these tasks.
    case reconciliationOverdue([TaskID])
    /// A call the services made failed (it is retried where that makes sense: directives at the next round,
    /// acknowledgements on redelivery, reconciliation at the next attempt).
    case callFailed(SchedulerCall.TypeEnum, MesosError)
}

/// Errors of the application services.
public enum FrameworkServicesError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The role is not one of the framework's roles. The master silently drops a SUPPRESS or REVIVE naming such
    /// a role, so it is refused locally and nothing is sent.
    case unknownRole(String)

    /// A sentence describing the error.
    public var description: String {
        switch self {
        case .unknownRole(let role): return "Role '\(role)' is not one of the framework's roles"
        }
    }
}
