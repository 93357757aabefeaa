/// Why a `TaskInfo` cannot be run by the command executor. ``CommandTask`` reports it as `TASK_FAILED` with
/// ``message`` as the status message; ``CommandTask/validate(_:)`` throws it up front.
public struct CommandTaskError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of problem it is.
    public enum Code: Sendable, Hashable {
        /// The task has no `command`, or a command without a `value`.
        case missingCommand
        /// `TaskInfo.health_check` is not usable (no type, no sub-message for its type, bad scheme or path).
        case invalidHealthCheck
        /// `CommandInfo.user` names a user that does not exist or that the executor cannot switch to.
        case userSwitch
        /// The process could not be started.
        case launchFailed
    }

    /// The kind of problem.
    public let code: Code
    /// A sentence for people (and for the `TASK_FAILED` message).
    public let message: String

    /// Creates an error.
    ///
    /// - Parameters:
    ///   - code: The kind of problem.
    ///   - message: The sentence.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// The message.
    public var description: String {
        self.message
    }
}
