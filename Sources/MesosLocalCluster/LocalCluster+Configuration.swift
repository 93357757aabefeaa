import Foundation
import MesosCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension LocalCluster {
    /// How the local cluster is built: its agents, their resources, its timers and where task output goes.
    public struct Configuration: Sendable {
        /// How many agents run tasks (at least 1). Each agent offers ``agentResources``, as the agents of Mesos's
        /// own local mode each offer the whole machine.
        public var agents: Int
        /// What each agent offers.
        public var agentResources: AgentResources
        /// The host name the master and agents report (in `MasterInfo`, offers and the master location).
        public var hostname: String
        /// The port the master reports (requests never leave the process; this only names the master).
        public var port: Int
        /// The interval between HEARTBEAT events (Mesos: 15 s).
        public var heartbeatInterval: Duration
        /// How often offers are made from free resources whose filters expired (Mesos's `--allocation_interval`, 1 s).
        /// Freed resources, new subscriptions and REVIVE are offered at once.
        public var allocationInterval: Duration
        /// How long an unacknowledged status update waits before it is sent again (Mesos: 10 s and growing).
        public var statusUpdateRetryInterval: Duration
        /// The grace period between SIGTERM and SIGKILL when neither the task nor the KILL call sets a kill policy
        /// (Mesos: 3 s).
        public var defaultKillGracePeriod: Duration
        /// Where task sandboxes are created; `nil` for a fresh directory under the temporary directory, removed
        /// when the cluster shuts down.
        public var workDirectory: String?
        /// Principals and their secrets. When not empty, every scheduler call needs HTTP Basic credentials
        /// (Mesos's `--authenticate_http_frameworks`), or it gets 401.
        public var credentials: [String: String]
        /// The environment tasks start from (before the `MESOS_*` variables and the task's own); `nil` for this
        /// process's environment.
        public var taskEnvironment: [String: String]?
        /// Receives the tasks' standard output and error as they are written, or `nil` to only keep them (in the
        /// sandbox's `stdout`/`stderr` files and in ``LocalClusterSnapshot/Task/stdout``). It is called on the
        /// thread that reads the task's pipes, before the task's terminal update is sent; keep it quick.
        public var output: (@Sendable (TaskOutputChunk) -> Void)?
        /// The version the master reports.
        public var version: String

        /// Creates a configuration with the documented defaults.
        ///
        /// - Parameters:
        ///   - agents: How many agents (default 1).
        ///   - agentResources: What each agent offers (default: this machine's cores, memory, free disk and ports
        ///     31000-32000).
        public init(agents: Int = 1, agentResources: AgentResources = .thisMachine()) {
            self.agents = agents
            self.agentResources = agentResources
            self.hostname = "localhost"
            self.port = 5050
            self.heartbeatInterval = .seconds(15)
            self.allocationInterval = .seconds(1)
            self.statusUpdateRetryInterval = .seconds(10)
            self.defaultKillGracePeriod = .seconds(3)
            self.workDirectory = nil
            self.credentials = [:]
            self.taskEnvironment = nil
            self.output = nil
            self.version = "1.11.0"
        }
    }

    /// The resources one agent offers.
    public struct AgentResources: Sendable, Hashable, CustomStringConvertible {
        /// The resources, unreserved.
        public var resources: [Resource]

        /// Resources given as wire values.
        ///
        /// - Parameter resources: The resources; roles and reservations are ignored.
        public init(_ resources: [Resource]) {
            self.resources = resources
        }

        /// The usual four resources.
        ///
        /// - Parameters:
        ///   - cpus: Cores.
        ///   - memoryMB: Memory in MB.
        ///   - diskMB: Disk in MB.
        ///   - ports: Port ranges.
        public init(cpus: Double, memoryMB: Double, diskMB: Double = 0, ports: [ClosedRange<UInt64>] = [31000...32000]) {
            var resources: [Resource] = [.scalar("cpus", cpus), .scalar("mem", memoryMB)]
            if diskMB > 0 { resources.append(.scalar("disk", diskMB)) }
            if !ports.isEmpty { resources.append(.ranges("ports", ports)) }
            self.resources = resources
        }

        /// Resources in Mesos's text form, as its agent's `--resources` flag: `cpus:2;mem:2048;ports:[31000-32000]`.
        ///
        /// - Parameter text: The resources.
        /// - Throws: ``MesosError/Code/invalidConfiguration`` for malformed text.
        public init(parsing text: String) throws(MesosError) {
            self.resources = try ResourceText.parse(text)
        }

        /// This machine: every active core, the physical memory, the free disk space of `directory`'s file system,
        /// and ports 31000-32000.
        ///
        /// - Parameter directory: Where sandboxes will live (default: the temporary directory).
        /// - Returns: The resources.
        public static func thisMachine(diskOf directory: String? = nil) -> AgentResources {
            let cpus = Double(ProcessInfo.processInfo.activeProcessorCount)
            let memory = Double(ProcessInfo.processInfo.physicalMemory / (1024 * 1024))
            let path = directory ?? FileManager.default.temporaryDirectory.path
            var disk = 0.0
            var stats = statvfs()
            if statvfs(path, &stats) == 0 {
                disk = Double(UInt64(stats.f_bavail) * UInt64(stats.f_frsize) / (1024 * 1024))
            }
            return AgentResources(cpus: cpus, memoryMB: memory, diskMB: disk)
        }

        /// The resources in Mesos's text form.
        public var description: String {
            ResourceText.format(ResourceBag(self.resources).resources(role: nil, allocationRole: nil))
        }
    }
}

/// A piece of a task's standard output or error, as the task wrote it.
public struct TaskOutputChunk: Sendable, Hashable {
    /// Which of the task's streams.
    public enum Stream: String, Sendable, Hashable {
        /// Standard output.
        case stdout
        /// Standard error.
        case stderr
    }

    /// The task's framework.
    public var frameworkID: FrameworkID
    /// The task.
    public var taskID: TaskID
    /// The agent running it.
    public var agentID: AgentID
    /// Standard output or error.
    public var stream: Stream
    /// The bytes, in the order written; not necessarily whole lines.
    public var bytes: [UInt8]

    /// Creates a chunk.
    public init(frameworkID: FrameworkID, taskID: TaskID, agentID: AgentID, stream: Stream, bytes: [UInt8]) {
        self.frameworkID = frameworkID
        self.taskID = taskID
        self.agentID = agentID
        self.stream = stream
        self.bytes = bytes
    }
}
