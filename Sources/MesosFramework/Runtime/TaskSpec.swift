import Foundation
import MesosCore
import MesosResources

/// What the application wants run: a command (or a container image), the resources of each instance, where
/// instances may go, and what to do when one ends. A ``FrameworkRuntime`` keeps ``instances`` copies of it.
///
/// ```swift
/// var spec = TaskSpec(name: "web", command: .shell("exec ./server --port $PORT0"), resources: "cpus:0.5;mem:128")
/// spec.ports = 1
/// spec.constraints = ["hostname:UNIQUE"]
/// spec.restart = .always
/// spec.instances = 3
/// ```
public struct TaskSpec: Codable, Sendable, Hashable {
    /// How the task's process is started.
    public enum Command: Codable, Sendable, Hashable {
        /// A shell command line (`/bin/sh -c`).
        case shell(String)
        /// An executable and its arguments, without a shell (`argv[0]` is the executable).
        case argv([String])
    }

    /// The spec's name and id: 1…64 of `a-z`, `0-9`, `-`, `_`, unique in a runtime.
    public var name: String
    /// The command; `nil` runs the image's entry point (then ``image`` is required).
    public var command: Command?
    /// A container image (Docker name) run by the Mesos containerizer, if any.
    public var image: String?
    /// Each instance's resources in Mesos's syntax, without roles, e.g. `cpus:0.5;mem:128`.
    public var resources: String
    /// How many ports each instance gets (as `PORT0`, `PORT1`, … and `PORTS` in its environment).
    public var ports: Int
    /// Placement constraints in Marathon's syntax, e.g. `hostname:UNIQUE`, `rack:GROUP_BY:2`.
    public var constraints: [String]
    /// Environment variables of the command (the runtime adds `RUNTIME_INSTANCE`, `RUNTIME_ATTEMPT`, `PORT0`…,
    /// `PORTS`).
    public var environment: [String: String]
    /// Labels of the task.
    public var labels: [String: String]
    /// The time a task has between SIGTERM and SIGKILL when killed; `nil` leaves the agent's default.
    public var killGracePeriod: Duration?
    /// What to do when an instance's task ends.
    public var restart: RestartPolicy
    /// How many instances to run (0…10 000).
    public var instances: Int
    /// The role whose offers the instances use; `nil`: the framework's first role.
    public var role: String?

    /// Creates a spec of one run-to-completion instance that is never restarted.
    ///
    /// - Parameters:
    ///   - name: The spec's name (its id in the runtime).
    ///   - command: The command.
    ///   - resources: Each instance's resources, in Mesos's syntax.
    ///   - instances: How many instances.
    ///   - restart: The restart policy.
    public init(
        name: String, command: Command?, resources: String, instances: Int = 1, restart: RestartPolicy = .never
    ) {
        self.name = name
        self.command = command
        self.image = nil
        self.resources = resources
        self.ports = 0
        self.constraints = []
        self.environment = [:]
        self.labels = [:]
        self.killGracePeriod = nil
        self.restart = restart
        self.instances = instances
        self.role = nil
    }

    /// The largest ``instances`` a spec may ask for.
    public static let maximumInstances = 10_000

    /// Checks the spec and reads its resources and constraints.
    ///
    /// - Returns: The demand of each instance and the parsed constraints.
    /// - Throws: ``TaskSpecError`` naming the first problem.
    public func validate() throws(TaskSpecError) -> (demand: ResourceDemand, constraints: [PlacementConstraint]) {
        guard StateNamespace.isValid(self.name) else {
            throw TaskSpecError(.invalidName, "'\(self.name.prefix(80))' is not a spec name (1…64 of a-z, 0-9, - and _)")
        }
        switch self.command {
        case .shell(let line) where line.isEmpty:
            throw TaskSpecError(.invalidCommand, "the shell command is empty")
        case .argv(let argv) where argv.isEmpty || argv[0].isEmpty:
            throw TaskSpecError(.invalidCommand, "argv has no executable")
        case nil where (self.image ?? "").isEmpty:
            throw TaskSpecError(.invalidCommand, "a spec needs a command or an image")
        default:
            break
        }
        if let image = self.image, image.isEmpty {
            throw TaskSpecError(.invalidCommand, "the image name is empty")
        }
        guard (0...Self.maximumInstances).contains(self.instances) else {
            throw TaskSpecError(.invalidInstances, "instances must be 0…\(Self.maximumInstances), not \(self.instances)")
        }
        guard (0...1000).contains(self.ports) else {
            throw TaskSpecError(.invalidResources, "ports must be 0…1000, not \(self.ports)")
        }
        if let grace = self.killGracePeriod, grace < .zero {
            throw TaskSpecError(.invalidKillPolicy, "the kill grace period is negative")
        }
        switch self.restart {
        case .never, .always:
            break
        case .onFailure(let maxAttempts, let backoff):
            guard maxAttempts >= 1 else {
                throw TaskSpecError(.invalidRestartPolicy, "maxAttempts must be at least 1, not \(maxAttempts)")
            }
            try backoff.validate()
        }
        var demand: ResourceDemand
        do {
            demand = try ResourceDemand(parsing: self.resources, ports: self.ports)
            demand.role = self.role
            try demand.validate()
        } catch {
            throw TaskSpecError(.invalidResources, "'\(self.resources.prefix(200))': \(error)")
        }
        guard !demand.scalars.isEmpty else {
            throw TaskSpecError(.invalidResources, "'\(self.resources.prefix(200))' asks for no scalar resource")
        }
        var constraints: [PlacementConstraint] = []
        for text in self.constraints {
            do {
                constraints.append(try PlacementConstraint(parsing: text))
            } catch {
                throw TaskSpecError(.invalidConstraint, "'\(text.prefix(200))': \(error.message)")
            }
        }
        return (demand, constraints)
    }
}

/// What the runtime does when an instance's task ends.
public enum RestartPolicy: Codable, Sendable, Hashable {
    /// Run once: whatever the end, the instance is done.
    case never
    /// Run to completion: an instance that fails (FAILED, LOST, ERROR, DROPPED, GONE, or KILLED by someone else)
    /// is launched again after a backoff, until it finishes or has failed `maxAttempts` times.
    case onFailure(maxAttempts: Int, backoff: Backoff)
    /// A service instance: whenever its task ends (other than killed by the runtime), a new one is launched, after
    /// the runtime's ``FrameworkRuntime/Configuration/serviceBackoff`` when it keeps failing.
    case always
}

/// Truncated exponential backoff: the n-th consecutive failure waits `initial × factorⁿ⁻¹`, at most `maximum`.
public struct Backoff: Codable, Sendable, Hashable {
    /// The wait after the first failure.
    public var initial: Duration
    /// The longest wait.
    public var maximum: Duration
    /// The growth factor (≥ 1).
    public var factor: Double

    /// Creates a backoff.
    public init(initial: Duration = .seconds(1), maximum: Duration = .seconds(60), factor: Double = 2) {
        self.initial = initial
        self.maximum = maximum
        self.factor = factor
    }

    /// The wait after `failures` consecutive failures (0 for none).
    public func delay(afterFailures failures: Int) -> Duration {
        guard failures > 0 else { return .zero }
        var delay = self.initial
        for _ in 1..<min(failures, 64) {
            delay = delay * self.factor
            if delay >= self.maximum { return self.maximum }
        }
        return min(delay, self.maximum)
    }

    func validate() throws(TaskSpecError) {
        guard self.initial >= .zero, self.maximum >= self.initial, self.factor.isFinite, self.factor >= 1 else {
            throw TaskSpecError(
                .invalidRestartPolicy, "backoff needs 0 ≤ initial ≤ maximum and a finite factor ≥ 1")
        }
    }
}

/// Why a ``TaskSpec`` was refused.
public struct TaskSpecError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What is wrong.
    public enum Kind: Sendable, Hashable {
        /// The name is not 1…64 of `a-z`, `0-9`, `-`, `_`.
        case invalidName
        /// No command or image, or an empty one.
        case invalidCommand
        /// The resources do not parse, or ask for nothing, or the port count is out of range.
        case invalidResources
        /// A constraint does not parse.
        case invalidConstraint
        /// The instance count is out of range.
        case invalidInstances
        /// The restart policy's attempts or backoff are out of range.
        case invalidRestartPolicy
        /// The kill grace period is negative.
        case invalidKillPolicy
    }

    /// What is wrong.
    public var kind: Kind
    /// A sentence for people.
    public var message: String

    /// Creates an error.
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    /// `kind: message`.
    public var description: String { "\(self.kind): \(self.message)" }
}
