import Foundation
import MesosCore
import MesosResources

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
        /// How many agents run tasks (at least 1, and at least as many as ``agentDefinitions``). An agent without a
        /// definition offers ``agentResources`` under ``hostname``, as the agents of Mesos's own local mode each offer
        /// the whole machine.
        public var agents: Int
        /// What each agent without its own definition offers.
        public var agentResources: AgentResources
        /// The agents' own resources, attributes, host names and domains: the i-th definition describes the i-th
        /// agent; agents past the end use ``agentResources`` and ``hostname``. Empty by default.
        public var agentDefinitions: [AgentDefinition]
        /// The host name the master and agents report (in `MasterInfo`, offers and the master location).
        public var hostname: String
        /// The port the master reports (requests never leave the process; this only names the master).
        public var port: Int
        /// The interval between HEARTBEAT events on scheduler and operator event streams (Mesos: 15 s).
        public var heartbeatInterval: Duration
        /// The most events an operator event stream (SUBSCRIBE on `/api/v1`) queues for a subscriber that does not
        /// read them (default 4096). When the queue is full the subscriber's stream ends after what is queued (end of
        /// stream, as a real master closing the connection), instead of growing without limit: the subscriber
        /// subscribes again and starts over from a fresh snapshot.
        public var operatorEventQueueLimit: Int
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
        /// The clock of the master's timers: decline filters (`refuse_seconds`), heartbeats, re-sent status
        /// updates and failover timeouts (default: `ContinuousClock`). A test may pass a clock it moves by hand
        /// (such as MesosTestKit's `ManualClock`); the master looks at it on every call and on its periodic tick.
        public var clock: any Clock<Duration>

        /// Creates a configuration with the documented defaults.
        ///
        /// - Parameters:
        ///   - agents: How many agents (default 1).
        ///   - agentResources: What each agent offers (default: this machine's cores, memory, free disk and ports
        ///     31000-32000).
        ///   - agentDefinitions: The agents that differ from the default (default none).
        public init(agents: Int = 1, agentResources: AgentResources = .thisMachine(), agentDefinitions: [AgentDefinition] = []) {
            self.agents = agents
            self.agentResources = agentResources
            self.agentDefinitions = agentDefinitions
            self.hostname = "localhost"
            self.port = 5050
            self.heartbeatInterval = .seconds(15)
            self.operatorEventQueueLimit = 4096
            self.allocationInterval = .seconds(1)
            self.statusUpdateRetryInterval = .seconds(10)
            self.defaultKillGracePeriod = .seconds(3)
            self.workDirectory = nil
            self.credentials = [:]
            self.taskEnvironment = nil
            self.output = nil
            self.version = "1.11.0"
            self.clock = ContinuousClock()
        }

        /// How many agents the cluster runs: ``agents``, at least 1 and at least the number of definitions.
        public var agentCount: Int {
            max(1, self.agents, self.agentDefinitions.count)
        }

        /// The definition of the agent at `index` (0-based), with the defaults filled in.
        ///
        /// - Parameter index: The agent's position.
        /// - Returns: Its host name, resources, attributes and domain.
        public func agent(at index: Int) -> AgentDefinition {
            var definition = index >= 0 && index < self.agentDefinitions.count ? self.agentDefinitions[index] : AgentDefinition()
            if definition.hostname == nil { definition.hostname = self.hostname }
            if definition.resources == nil { definition.resources = self.agentResources }
            return definition
        }
    }

    /// One agent of the cluster: its resources (static reservations included), attributes, host name and fault
    /// domain, as a Mesos agent's `--resources`, `--attributes`, `--hostname` and `--domain` flags give them.
    ///
    /// ```swift
    /// let agent = try LocalCluster.AgentDefinition.parsing(
    ///     resources: "cpus:1;mem:1024;cpus(batch):1;mem(batch):512;ports:[31000-31010]",
    ///     attributes: "rack:r1;zone:a", hostname: "agent2.local")
    /// ```
    public struct AgentDefinition: Sendable, Hashable {
        /// The host name offers carry; `nil` for ``Configuration/hostname``.
        public var hostname: String?
        /// What the agent has; `nil` for ``Configuration/agentResources``.
        public var resources: AgentResources?
        /// The agent's attributes, carried by its offers.
        public var attributes: [Attribute]
        /// The agent's fault domain (region and zone), carried by its offers; `nil` for none.
        public var domain: DomainInfo?

        /// Creates a definition.
        ///
        /// - Parameters:
        ///   - hostname: The host name (default: the cluster's).
        ///   - resources: The resources (default: the cluster's ``Configuration/agentResources``).
        ///   - attributes: The attributes (default none).
        ///   - domain: The fault domain (default none).
        public init(hostname: String? = nil, resources: AgentResources? = nil, attributes: [Attribute] = [], domain: DomainInfo? = nil) {
            self.hostname = hostname
            self.resources = resources
            self.attributes = attributes
            self.domain = domain
        }

        /// A definition from the agent flags' text forms.
        ///
        /// - Parameters:
        ///   - resources: Resources as the agent's `--resources` flag takes them, e.g.
        ///     `cpus:1;mem:1024;cpus(batch):1;ports:[31000-31010]`; `nil` for the cluster's default.
        ///   - attributes: Attributes as the agent's `--attributes` flag takes them, e.g. `rack:r1;zone:a;level:3`
        ///     (a value is a scalar, `[ranges]`, `{set}` or text).
        ///   - hostname: The host name; `nil` for the cluster's.
        ///   - region: The fault domain's region; with `zone`, both or neither.
        ///   - zone: The fault domain's zone.
        /// - Returns: The definition.
        /// - Throws: ``MesosError/Code/invalidConfiguration`` naming what is malformed and where.
        public static func parsing(
            resources: String? = nil,
            attributes: String? = nil,
            hostname: String? = nil,
            region: String? = nil,
            zone: String? = nil
        ) throws(MesosError) -> AgentDefinition {
            var definition = AgentDefinition(hostname: hostname)
            if let resources { definition.resources = try AgentResources(parsing: resources) }
            if let attributes {
                do {
                    definition.attributes = try [Attribute](parsing: attributes)
                } catch {
                    throw MesosError(code: .invalidConfiguration, message: "Malformed attributes '\(attributes)': \(error)")
                }
            }
            switch (region, zone) {
            case (nil, nil):
                break
            case (let region?, let zone?) where !region.isEmpty && !zone.isEmpty:
                var domain = DomainInfo()
                domain.faultDomain.region.name = region
                domain.faultDomain.zone.name = zone
                definition.domain = domain
            default:
                throw MesosError(code: .invalidConfiguration, message: "A fault domain needs both a region and a zone, neither empty")
            }
            return definition
        }

        /// The attributes in the agent flag's text form, `rack:r1;zone:a`.
        public var attributesText: String {
            self.attributes.textForm
        }
    }

    /// The resources one agent offers.
    public struct AgentResources: Sendable, Hashable, CustomStringConvertible {
        /// The resources: unreserved, or statically reserved to a role.
        public var resources: [Resource]

        /// Resources given as wire values.
        ///
        /// - Parameter resources: The resources; a static reservation (`role`, or one STATIC `reservations` entry)
        ///   reserves the resource to that role. Invalid resources are dropped, as Mesos's `Resources` does.
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

        /// Resources in Mesos's text form, as its agent's `--resources` flag takes them:
        /// `cpus:2;mem:2048;ports:[31000-32000]`, with static reservations as `cpus(batch):1`. The JSON array form
        /// is accepted too.
        ///
        /// - Parameter text: The resources.
        /// - Throws: ``MesosError/Code/invalidConfiguration`` for malformed text, naming the offset.
        public init(parsing text: String) throws(MesosError) {
            let parsed: Resources
            do {
                parsed = try Resources(parsing: text)
            } catch {
                throw MesosError(code: .invalidConfiguration, message: "Malformed resources '\(text)': \(error)")
            }
            guard !parsed.isEmpty else {
                throw MesosError(code: .invalidConfiguration, message: "Malformed resources '\(text)': no resources given")
            }
            self.resources = parsed.array
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
            Resources(self.resources).description
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

extension LocalCluster.AgentDefinition {
    /// The agents' definitions from the local cluster's repeatable command-line flags, as `mesos-execute` and the
    /// batch example take them: `--local-agents N`, `--local-agent-resources TEXT` and `--local-agent-attributes TEXT`,
    /// the i-th occurrence of a flag for the i-th agent. With more than one agent, agent i is named
    /// `agent<i>.local`; an agent without a resources text gets the cluster's default resources.
    ///
    /// - Parameters:
    ///   - agents: How many agents (`--local-agents`).
    ///   - resources: The `--local-agent-resources` values, in the agent's `--resources` syntax.
    ///   - attributes: The `--local-agent-attributes` values, in the agent's `--attributes` syntax.
    /// - Returns: One definition per agent; empty when there is one agent and neither text is given (the
    ///   cluster's defaults then apply).
    /// - Throws: ``MesosError/Code/invalidConfiguration`` naming the flag, the occurrence and the position of a
    ///   mistake, or when a flag is given more often than there are agents.
    public static func fromFlags(
        agents: Int,
        resources: [String],
        attributes: [String]
    ) throws(MesosError) -> [LocalCluster.AgentDefinition] {
        for (option, values) in [("--local-agent-resources", resources), ("--local-agent-attributes", attributes)]
        where values.count > agents {
            throw MesosError(
                code: .invalidConfiguration,
                message: "\(option) is given \(values.count) times, but there "
                    + "\(agents == 1 ? "is 1 agent" : "are \(agents) agents") (--local-agents \(agents))")
        }
        guard agents > 1 || !resources.isEmpty || !attributes.isEmpty else { return [] }
        var definitions: [LocalCluster.AgentDefinition] = []
        for index in 0..<agents {
            var definition = LocalCluster.AgentDefinition(hostname: agents > 1 ? "agent\(index + 1).local" : nil)
            if index < resources.count {
                do {
                    definition.resources = try LocalCluster.AgentResources(parsing: resources[index])
                } catch {
                    throw MesosError(
                        code: .invalidConfiguration,
                        message: "--local-agent-resources (occurrence \(index + 1), agent \(index + 1)): \(error.message)")
                }
            }
            if index < attributes.count {
                do {
                    definition.attributes = try LocalCluster.AgentDefinition.parsing(attributes: attributes[index]).attributes
                } catch {
                    throw MesosError(
                        code: .invalidConfiguration,
                        message: "--local-agent-attributes (occurrence \(index + 1), agent \(index + 1)): \(error.message)")
                }
            }
            definitions.append(definition)
        }
        return definitions
    }
}
