import ArgumentParser
import MesosToolSupport
import Foundation
import Logging
import MesosCore
import MesosLocalCluster
import MesosResources

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// `mesos-execute`: runs one command as a Mesos task and exits with its outcome, like Mesos's own tool. With no
/// `--master` it runs the task on an embedded local cluster.
@main
struct MesosExecute: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mesos-execute",
        abstract: "Run one command as a Mesos task and wait for it to end.",
        discussion: """
            Without --master (or with --master local) the task runs on an embedded local cluster: a master and \
            agents inside this process that run the command on this machine. Exit status: 0 when the task ends \
            TASK_FINISHED; the command's exit status when it failed with one; 1 for any other end or error; 130 \
            when interrupted; 64 for bad arguments.

            The task's resources (--resources, --ports) are carved from the first offer that holds them and whose \
            agent meets every --constraint; with --role, from what the offer holds for that role (unreserved and \
            reserved to it). Other offers are declined with a filter. With -v each refused offer gets one line \
            on standard error saying which constraint or which resource shortfall refused it.

            Examples:
              mesos-execute --command 'echo hello'
              mesos-execute --master http://127.0.0.1:5050 --command 'exit 3'
              mesos-execute --kill-after 1s --command 'sleep 60'
              mesos-execute --json --env GREETING=hi -- /bin/sh -c 'echo $GREETING'
              mesos-execute --resources 'cpus:1.5;mem:600' --ports 2 \\
                --command 'echo $PORT0 $PORT1 $PORTS'
              mesos-execute --local-agents 2 \\
                --local-agent-attributes rack:r1 --local-agent-attributes rack:r2 \\
                --constraint rack:CLUSTER:r2 -v --command hostname
              mesos-execute --local-agent-resources 'cpus:0.5;cpus(batch):1;mem:256' \\
                --role batch --resources 'cpus:1.2;mem:64' --command 'echo carved'
              mesos-execute --master http://127.0.0.1:5050 --role batch \\
                --constraint 'hostname:LIKE:agent2.*' --command 'echo hi'
            """
    )

    @Option(help: ArgumentHelp(
        "The master: http(s)://host:port[,host:port...], zk://host:port[,...]/path, file:///path, or 'local'.",
        valueName: "url"))
    var master: String?

    @Option(help: "The task's name (its id is the name plus a random suffix).")
    var name: String = "mesos-execute"

    @Option(help: "The command to run.")
    var command: String?

    @Flag(inversion: .prefixedNo, help: "Run --command with /bin/sh -c (default); with --no-shell it is split on spaces into argv.")
    var shell: Bool = true

    @Argument(parsing: .postTerminator, help: ArgumentHelp("The command as argv, after '--' (runs without a shell).", valueName: "argv"))
    var argv: [String] = []

    @Option(help: ArgumentHelp(
        "The task's resources in Mesos's syntax, e.g. 'cpus:1.5;mem:600' (no roles: see --role; static ports as "
            + "'ports:[8080-8080]').",
        valueName: "text"))
    var resources: String = "cpus:0.1;mem:32"

    @Option(help: ArgumentHelp(
        "The framework's role. The task's resources are carved from what an offer holds for it: unreserved "
            + "resources and resources reserved to the role.",
        valueName: "role"))
    var role: String = "*"

    @Option(help: ArgumentHelp(
        "Ports to assign from the offer, given to the command as PORT0...PORT{n-1}, PORT (= PORT0) and PORTS "
            + "(comma-separated), as Marathon does.",
        valueName: "n"))
    var ports: Int = 0

    @Option(name: .customLong("constraint"), help: ArgumentHelp(
        "A placement constraint in Marathon's syntax, field:OPERATOR[:value], e.g. 'rack:CLUSTER:r1' or "
            + "'hostname:LIKE:agent2.*' (repeatable; the task waits for an offer from an agent meeting all of them).",
        valueName: "constraint"))
    var constraints: [String] = []

    @Option(name: .customLong("env"), help: ArgumentHelp(
        "An environment variable for the task, NAME=VALUE (repeatable), or a JSON object of them.", valueName: "NAME=VALUE"))
    var environment: [String] = []

    @Option(help: "The principal to authenticate as (HTTP Basic).")
    var principal: String?

    @Option(help: "The secret for --principal.")
    var secret: String?

    @Option(name: .customLong("content-type"), help: "The encoding of calls and events: json or protobuf.")
    var contentType: String = "protobuf"

    @Option(help: "The HTTP transport for a remote master: curl, urlsession or nio (default: nio on Linux, curl elsewhere).")
    var transport: String = ToolTransportKind.platformDefault.rawValue

    @OptionGroup(title: "TLS and DC/OS")
    var security: MasterSecurityOptions

    @Flag(help: "Ask agents to checkpoint the framework's tasks.")
    var checkpoint = false

    @Option(name: .customLong("failover-timeout"), help: "How long the master keeps the framework after a lost connection.")
    var failoverTimeout: DurationArgument = DurationArgument(argument: "0s")!

    @Option(name: .customLong("kill-after"), help: "Kill the task this long after it started running (e.g. 1s, 2m).")
    var killAfter: DurationArgument?

    @Option(name: .customLong("framework-name"), help: "The framework's name.")
    var frameworkName: String = "mesos-execute"

    @Option(name: .customLong("docker-image"), help: "Run the task in this Docker image (DOCKER ContainerInfo).")
    var dockerImage: String?

    @Option(name: .customLong("offer-timeout"), help: "Give up when no fitting offer came within this long.")
    var offerTimeout: DurationArgument = DurationArgument(argument: "60s")!

    @Option(name: .customLong("connect-timeout"), help: "Give up when the master could not be subscribed to within this long.")
    var connectTimeout: DurationArgument = DurationArgument(argument: "10s")!

    @Option(name: [.customLong("local-agents"), .customLong("agents")], help: ArgumentHelp(
        "Agents of the embedded local cluster (with more than one, agent i is named agent<i>.local).", valueName: "n"))
    var agents: Int = 1

    @Option(name: .customLong("agent-resources"), help: "What each local agent offers (default: this machine's cores, memory, disk).")
    var agentResources: String?

    @Option(name: .customLong("local-agent-resources"), help: ArgumentHelp(
        "What the i-th local agent offers, in the agent's --resources syntax, e.g. 'cpus:1;mem:1024;cpus(batch):1' "
            + "(repeatable: the i-th occurrence for the i-th agent; the others get --agent-resources).",
        valueName: "text"))
    var localAgentResources: [String] = []

    @Option(name: .customLong("local-agent-attributes"), help: ArgumentHelp(
        "The i-th local agent's attributes, in the agent's --attributes syntax, e.g. 'rack:r1;zone:a' "
            + "(repeatable: the i-th occurrence for the i-th agent; the others have none).",
        valueName: "text"))
    var localAgentAttributes: [String] = []

    @Flag(help: "Print one JSON object per event on standard output.")
    var json = false

    @Option(help: ArgumentHelp(
        "Run the task under this executor (its path on the agent's host) instead of as a command task; the "
            + "executor gets --executor-resources from the same offer.",
        valueName: "path"))
    var executor: String?

    @Option(name: .customLong("executor-resources"), help: "The executor's own resources, in Mesos's syntax.")
    var executorResources: String = "cpus:0.1;mem:32"

    @Option(name: .customLong("message"), help: ArgumentHelp(
        "Send this framework message to the task's executor once the task runs (repeatable); every message the "
            + "executor sends back is printed.",
        valueName: "text"))
    var messages: [String] = []

    @Flag(name: [.short, .long], help: "Say why each offer was refused, and log what the library and the master do, on standard error.")
    var verbose = false

    /// Checks the options together. Run after parsing (not as `validate()`), so that an unknown option is reported
    /// before a missing one.
    func check() throws {
        if self.command != nil, !self.argv.isEmpty {
            throw ValidationError("Give the command either with --command or after '--', not both")
        }
        if self.command == nil, self.argv.isEmpty, self.dockerImage == nil, self.executor == nil {
            throw ValidationError("Missing --command (or a command after '--')")
        }
        if let executor = self.executor {
            if executor.isEmpty { throw ValidationError("--executor is empty") }
            if self.command != nil || !self.argv.isEmpty || self.dockerImage != nil {
                throw ValidationError(
                    "--executor runs the task under that executor: give no --command, argv or --docker-image with it")
            }
            let master = self.master?.trimmingCharacters(in: .whitespaces).lowercased() ?? "local"
            if master.isEmpty || master == "local" {
                throw ValidationError(
                    "--executor needs a real master (--master): the embedded local cluster runs command tasks only")
            }
            _ = try self.executorDemand()
        }
        if self.messages.contains(where: \.isEmpty) {
            throw ValidationError("--message is empty")
        }
        if let command = self.command, command.trimmingCharacters(in: .whitespaces).isEmpty {
            throw ValidationError("--command is empty")
        }
        guard (0...1000).contains(self.ports) else {
            throw ValidationError("--ports must be between 0 and 1000, not \(self.ports)")
        }
        _ = try self.demand()
        _ = try self.placementConstraints()
        if let agentResources = self.agentResources {
            do {
                _ = try LocalCluster.AgentResources(parsing: agentResources)
            } catch {
                throw ValidationError("--agent-resources: \(error.message)")
            }
        }
        if self.agents >= 1 {
            _ = try self.localAgentDefinitions()
        }
        _ = try EnvironmentArgument.parse(self.environment)
        guard MesosContentType(name: self.contentType) != nil else {
            throw ValidationError("--content-type must be json or protobuf, not '\(self.contentType)'")
        }
        guard ToolTransportKind(rawValue: self.transport.lowercased()) != nil else {
            throw ValidationError("--transport must be curl, urlsession or nio, not '\(self.transport)'")
        }
        if self.secret != nil, self.principal == nil {
            throw ValidationError("--secret needs --principal")
        }
        if let principal = self.principal, principal.isEmpty || principal.contains(":") {
            throw ValidationError("--principal must be non-empty and contain no ':'")
        }
        if self.agents < 1 || self.agents > 64 {
            throw ValidationError("--agents must be between 1 and 64")
        }
        if self.role != "*", self.role.isEmpty || self.role.hasPrefix("/") || self.role.hasSuffix("/") || self.role.contains(" ") {
            throw ValidationError("--role '\(self.role)' is not a valid role name")
        }
        if self.name.isEmpty || self.name.contains("/") {
            throw ValidationError("--name must be non-empty and contain no '/'")
        }
    }

    /// The local agents' definitions from `--local-agent-resources`, `--local-agent-attributes` and
    /// `--local-agents`; empty when neither is given and there is one agent.
    ///
    /// - Throws: `ValidationError` naming the option, the occurrence and the position of a mistake, or when an
    ///   option is given more often than there are agents.
    func localAgentDefinitions() throws -> [LocalCluster.AgentDefinition] {
        do {
            return try LocalCluster.AgentDefinition.fromFlags(
                agents: self.agents, resources: self.localAgentResources, attributes: self.localAgentAttributes)
        } catch {
            throw ValidationError(error.message)
        }
    }

    /// The task's demand from `--resources` and `--ports`, allocated to `--role`.
    ///
    /// - Throws: `ValidationError` naming the option and the position of a mistake.
    func demand() throws -> ResourceDemand {
        var demand: ResourceDemand
        do {
            demand = try ResourceDemand(parsing: self.resources, ports: self.ports)
        } catch where error.expected.hasPrefix("resources without a role") {
            throw ValidationError(
                "--resources: malformed resources '\(self.resources)': at offset \(error.offset): \(error.found); "
                    + "give the role with --role instead (its reserved and unreserved resources are both used)")
        } catch {
            throw ValidationError("--resources: malformed resources '\(self.resources)': \(error)")
        }
        demand.role = self.role
        do {
            try demand.validate()
        } catch {
            throw ValidationError("--resources '\(self.resources)': \(error)")
        }
        return demand
    }

    /// The executor's demand from `--executor-resources`, allocated to `--role`.
    ///
    /// - Throws: `ValidationError` naming the option and the position of a mistake.
    func executorDemand() throws -> ResourceDemand {
        var demand: ResourceDemand
        do {
            demand = try ResourceDemand(parsing: self.executorResources)
        } catch {
            throw ValidationError("--executor-resources: malformed resources '\(self.executorResources)': \(error)")
        }
        demand.role = self.role
        do {
            try demand.validate()
        } catch {
            throw ValidationError("--executor-resources '\(self.executorResources)': \(error)")
        }
        return demand
    }

    /// The placement constraints from `--constraint`, in order.
    ///
    /// - Throws: `ValidationError` naming the occurrence, the text and the position of a mistake.
    func placementConstraints() throws -> [PlacementConstraint] {
        var result: [PlacementConstraint] = []
        for (index, text) in self.constraints.enumerated() {
            do {
                result.append(try PlacementConstraint(parsing: text))
            } catch {
                let occurrence = self.constraints.count > 1 ? " (occurrence \(index + 1))" : ""
                throw ValidationError("--constraint '\(text)'\(occurrence): \(error.message) (at offset \(error.offset))")
            }
        }
        return result
    }

    /// Parses the command line itself so that any mistake is reported in one line (no usage dump).
    static func main() async {
        let command: MesosExecute
        do {
            command = try Self.parse()
        } catch {
            if Self.exitCode(for: error) == .success {
                Self.exit(withError: error)
            }
            let message = Console.oneLine(Self.message(for: error))
            FileHandle.standardError.write(Data("mesos-execute: error: \(message) (see mesos-execute --help)\n".utf8))
            Foundation.exit(Self.exitCode(for: error).rawValue)
        }
        let status = await command.execute()
        Foundation.exit(status)
    }

    mutating func run() async throws {
        let status = await self.execute()
        if status != 0 { throw ExitCode(status) }
    }

    /// Runs the task; returns the exit status.
    func execute() async -> Int32 {
        signal(SIGPIPE, SIG_IGN)
        let verbose = self.verbose
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = verbose ? .debug : .critical
            return handler
        }
        let console = Console(json: self.json, verbose: self.verbose)
        let plan: ExecutePlan
        do {
            try self.check()
            plan = try ExecutePlan(self)
        } catch let error as MesosError {
            console.error(error.message, exitCode: 64)
            return 64
        } catch {
            console.error("\(error) (see mesos-execute --help)", exitCode: 64)
            return 64
        }
        return await ExecuteRun.run(plan, console: console)
    }
}
