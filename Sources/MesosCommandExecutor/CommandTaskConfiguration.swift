import MesosCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension CommandTask {
    /// Where the task's standard output and error go.
    public enum OutputDestination: Sendable, Hashable {
        /// The executor's own (Mesos's behaviour: the agent points the executor's output at the sandbox's
        /// `stdout` and `stderr` files, and the task inherits them).
        case inherit
        /// Appended to `stdout` and `stderr` in the sandbox directory (created when missing), for agents that do
        /// not redirect the executor's output (the local-mode agent of `realmesos` does not).
        case sandboxFiles
    }

    /// What a ``CommandTask`` needs besides the `TaskInfo`.
    public struct Configuration: Sendable {
        /// The executor's environment, the base of the task's (the task's `CommandInfo.environment` goes on top).
        /// Defaults to this process's environment.
        public var environment: [String: String]
        /// The sandbox: the task's working directory and its `MESOS_SANDBOX`. Defaults to `MESOS_SANDBOX`, then
        /// `MESOS_DIRECTORY` from ``environment``; `nil` runs the task in the executor's directory.
        public var sandboxDirectory: String?
        /// The kill grace period when neither the KILL nor the task has a kill policy (Mesos: 3 s).
        public var defaultKillGracePeriod: Duration
        /// Whether a kill first reports `TASK_KILLING`: set it when the framework's `capabilities` include
        /// `TASK_KILLING_STATE` (from the SUBSCRIBED event's `framework_info`).
        public var sendsKillingState: Bool
        /// Where the task's output goes.
        public var output: OutputDestination

        /// Creates a configuration.
        ///
        /// - Parameters:
        ///   - environment: The executor's environment; `nil` reads this process's.
        ///   - sandboxDirectory: The sandbox; `nil` takes `MESOS_SANDBOX` or `MESOS_DIRECTORY` from the environment.
        ///   - defaultKillGracePeriod: The grace period without a kill policy.
        ///   - sendsKillingState: Whether kills report `TASK_KILLING` first.
        ///   - output: Where the task's output goes.
        public init(
            environment: [String: String]? = nil,
            sandboxDirectory: String? = nil,
            defaultKillGracePeriod: Duration = .seconds(3),
            sendsKillingState: Bool = false,
            output: OutputDestination = .inherit
        ) {
            let environment = environment ?? Self.processEnvironment()
            self.environment = environment
            self.sandboxDirectory = sandboxDirectory ?? environment["MESOS_SANDBOX"] ?? environment["MESOS_DIRECTORY"]
            self.defaultKillGracePeriod = defaultKillGracePeriod
            self.sendsKillingState = sendsKillingState
            self.output = output
        }

        /// This process's environment, read from `environ`.
        public static func processEnvironment() -> [String: String] {
            var result: [String: String] = [:]
            #if canImport(Darwin)
            let variables = _NSGetEnviron()?.pointee
            #else
            let variables: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = environ
            #endif
            guard var cursor = variables else { return result }
            while let entry = cursor.pointee {
                let text = String(cString: entry)
                if let equals = text.firstIndex(of: "=") {
                    result[String(text[..<equals])] = String(text[text.index(after: equals)...])
                }
                cursor += 1
            }
            return result
        }

        /// The kill grace period Mesos uses for an executor SHUTDOWN: `MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD`
        /// minus 2 s, at least zero (zero means SIGKILL at once).
        ///
        /// - Parameter executorShutdownGracePeriod: The executor's shutdown grace period.
        /// - Returns: The grace period for the task's kill.
        public static func shutdownKillGracePeriod(executorShutdownGracePeriod: Duration) -> Duration {
            max(.zero, executorShutdownGracePeriod - .seconds(2))
        }
    }
}

extension CommandTask.Configuration {
    /// Whether a framework wants `TASK_KILLING` updates: its `capabilities` include `TASK_KILLING_STATE`. Use it
    /// for ``sendsKillingState`` with the `framework_info` of the SUBSCRIBED event.
    ///
    /// - Parameter framework: The framework's info.
    public static func wantsKillingState(_ framework: FrameworkInfo) -> Bool {
        framework.capabilities.contains { $0.type == .taskKillingState }
    }
}

extension CommandTask {
    /// The message Mesos's command executor gives a second task it is asked to launch.
    public static let multipleTasksMessage = "Attempted to run multiple tasks using a \"command\" executor"

    /// The `TASK_FAILED` update for a task a command executor refuses because it already runs one (it fills the
    /// same fields as the updates of a ``CommandTask``).
    ///
    /// - Parameter task: The refused task.
    /// - Returns: The update to send.
    public static func refusal(of task: TaskInfo) -> TaskStatus {
        var status = TaskStatus()
        status.taskID = task.taskID
        status.state = .taskFailed
        status.source = .executor
        status.message = Self.multipleTasksMessage
        return status
    }
}
