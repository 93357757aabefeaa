import Foundation

/// The servers a test needs from its environment (a real master, ZooKeeper, HA masters), and what to do when
/// they are missing: skip on a laptop, fail in CI.
///
/// Tests against real servers read where the servers are from environment variables (`MESOS_MASTER_URL`,
/// `ZOOKEEPER_CONNECT`, …). With none set they are skipped, visibly. With `MESOS_REQUIRE_SERVERS=1` (set by
/// `scripts/test.sh` and so by CI) a missing server is a failure naming the variable, never a silent skip.
///
/// ```swift
/// @Suite("Against a real master", .enabled(if: TestServers.shouldRun(needing: "MESOS_MASTER_URL"),
///                                          "needs MESOS_MASTER_URL"))
/// struct RealMasterTests {
///     let master: String
///     init() throws { self.master = try TestServers.value("MESOS_MASTER_URL") }
/// }
/// ```
public enum TestServers {
    /// The variable that turns a missing server from a skip into a failure: `MESOS_REQUIRE_SERVERS=1`.
    public static let requireVariable = "MESOS_REQUIRE_SERVERS"

    /// `true` when `MESOS_REQUIRE_SERVERS` is `1` (or `true`/`yes`).
    public static var areRequired: Bool {
        guard let value = ProcessInfo.processInfo.environment[Self.requireVariable]?.lowercased() else {
            return false
        }
        return ["1", "true", "yes"].contains(value)
    }

    /// Whether a test needing these variables should run: when all are set, or when servers are required
    /// (the test then runs, and fails in ``value(_:)`` on the missing one). Use it in `.enabled(if:)`.
    ///
    /// - Parameter names: The environment variables the test reads.
    public static func shouldRun(needing names: String...) -> Bool {
        Self.areRequired || names.allSatisfy { Self.optionalValue($0) != nil }
    }

    /// The value of a variable naming a server.
    ///
    /// - Parameter name: The environment variable.
    /// - Returns: Its value (not empty).
    /// - Throws: ``Missing`` when it is unset or empty.
    public static func value(_ name: String) throws -> String {
        guard let value = Self.optionalValue(name) else {
            throw Missing(variable: name, required: Self.areRequired)
        }
        return value
    }

    /// The value of a variable, or `nil` when it is unset or empty.
    public static func optionalValue(_ name: String) -> String? {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else {
            return nil
        }
        return value
    }

    /// The variable naming the real master for the framework toolkit's tests: `MESOS_TOOLKIT_MASTER_URL`.
    /// `scripts/test.sh` starts it with one agent whose resources are ``toolkitAgentResources``.
    public static let toolkitMasterVariable = "MESOS_TOOLKIT_MASTER_URL"

    /// The resources of the toolkit master's agent, as `scripts/test.sh` gives them (`MESOS_RESOURCES`):
    /// unreserved cpus and memory, the same statically reserved to role `batch`, and 11 ports.
    public static let toolkitAgentResources = "cpus:1;mem:1024;cpus(batch):1;mem(batch):512;ports:[31000-31010]"

    /// Whether a test needing the toolkit master should run: when `MESOS_TOOLKIT_MASTER_URL` is set, or when
    /// servers are required (the test then fails in ``toolkitMasterURL()``). Use it in `.enabled(if:)`.
    public static var shouldRunAgainstToolkitMaster: Bool {
        Self.shouldRun(needing: Self.toolkitMasterVariable)
    }

    /// The toolkit master's base URL, e.g. `http://127.0.0.1:5152`, without a trailing slash.
    ///
    /// - Returns: The URL from `MESOS_TOOLKIT_MASTER_URL`.
    /// - Throws: ``Missing`` when it is unset or empty.
    public static func toolkitMasterURL() throws -> String {
        let url = try Self.value(Self.toolkitMasterVariable)
        return url.hasSuffix("/") ? String(url.dropLast()) : url
    }

    /// A server the test needs is not configured.
    public struct Missing: Error, CustomStringConvertible {
        /// The environment variable that is not set.
        public var variable: String
        /// Whether `MESOS_REQUIRE_SERVERS` demanded it.
        public var required: Bool

        /// Describes a missing server.
        ///
        /// - Parameters:
        ///   - variable: What is not set (an environment variable, or a short description).
        ///   - required: Whether servers are required (``TestServers/areRequired``).
        public init(variable: String, required: Bool = TestServers.areRequired) {
            self.variable = variable
            self.required = required
        }

        /// What is missing and how to provide it.
        public var description: String {
            if self.required {
                return "\(self.variable) is not set, and \(TestServers.requireVariable)=1 requires every server-backed "
                    + "test to run (scripts/test.sh starts the servers and sets it)"
            }
            return "\(self.variable) is not set (scripts/test.sh starts the servers and sets it)"
        }
    }
}
