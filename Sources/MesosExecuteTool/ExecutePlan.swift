import Foundation
import MesosCore
import MesosToolSupport
import MesosCurlTransport
import MesosDiscovery
import MesosLocalCluster
import MesosResources
import MesosURLSessionTransport
import MesosZooKeeper

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The command line turned into what the run needs: where the master is, the framework, the task.
struct ExecutePlan: Sendable {
    enum Target: Sendable {
        /// The embedded local cluster.
        case local(LocalCluster.Configuration)
        /// A real master, found by a detector.
        case remote(url: String, transport: any MesosTransport, detector: MasterDetector)
    }

    var target: Target
    var frameworkInfo: FrameworkInfo
    var contentType: MesosContentType
    var authenticator: (any MesosAuthenticator)?
    /// The task without its agent and resources (both come from the offer it is placed on).
    var task: TaskInfo
    var role: String
    /// What the task needs, allocated to ``role``.
    var demand: ResourceDemand
    /// Where the task may run.
    var constraints: [PlacementConstraint]
    /// The demand for people: `cpus:1.5;mem:600 and 2 ports`.
    var resourceText: String
    /// The executor the task runs under (`--executor`), without its resources (carved from the offer), and
    /// what it needs; `nil` for a command task.
    var executor: (info: ExecutorInfo, demand: ResourceDemand)?
    /// Framework messages for the task's executor, sent once the task runs.
    var messages: [String]
    var killAfter: Duration?
    var offerTimeout: Duration
    var connectTimeout: Duration

    init(_ options: MesosExecute) throws {
        self.role = options.role
        self.contentType = MesosContentType(name: options.contentType) ?? .protobuf
        self.killAfter = options.killAfter?.duration
        self.messages = options.messages
        self.offerTimeout = options.offerTimeout.duration
        self.connectTimeout = options.connectTimeout.duration
        if let principal = options.principal {
            self.authenticator = try BasicAuthenticator(principal: principal, secret: options.secret ?? "")
        }

        var info = FrameworkInfo()
        info.user = Self.currentUser()
        info.name = options.frameworkName
        info.roles = [options.role]
        info.capabilities = [FrameworkInfo.Capability.TypeEnum.multiRole, .taskKillingState].map { type in
            var capability = FrameworkInfo.Capability()
            capability.type = type
            return capability
        }
        if options.checkpoint { info.checkpoint = true }
        if options.failoverTimeout.seconds > 0 { info.failoverTimeout = options.failoverTimeout.seconds }
        if let principal = options.principal { info.principal = principal }
        if let hostname = ProcessInfo.processInfo.environment["HOSTNAME"], !hostname.isEmpty { info.hostname = hostname }
        self.frameworkInfo = info

        do {
            self.demand = try options.demand()
            self.constraints = try options.placementConstraints()
        } catch {
            throw MesosError(code: .invalidConfiguration, message: "\(error)")
        }
        var resourceText = (try? Resources(parsing: options.resources).description) ?? options.resources
        if options.ports > 0 {
            resourceText += " and \(options.ports) port\(options.ports == 1 ? "" : "s")"
        }
        self.resourceText = resourceText
        var task = TaskInfo()
        task.name = options.name
        task.taskID = TaskID("\(options.name)-\(UUID().uuidString.prefix(8).lowercased())")
        if !options.argv.isEmpty {
            task.command.shell = false
            task.command.value = options.argv[0]
            task.command.arguments = options.argv
        } else if let command = options.command {
            if options.shell {
                task.command.shell = true
                task.command.value = command
            } else {
                let words = command.split(whereSeparator: \.isWhitespace).map(String.init)
                task.command.shell = false
                task.command.value = words.first ?? command
                task.command.arguments = words
            }
        } else {
            // A Docker image without a command runs the image's entrypoint.
            task.command.shell = false
        }
        let environment: [(name: String, value: String)]
        do {
            environment = try EnvironmentArgument.parse(options.environment)
        } catch {
            throw MesosError(code: .invalidConfiguration, message: "\(error)")
        }
        if !environment.isEmpty {
            task.command.environment.variables = environment.map { entry in
                var variable = Environment.Variable()
                variable.name = entry.name
                variable.value = entry.value
                return variable
            }
        }
        if let image = options.dockerImage {
            var container = ContainerInfo()
            container.type = .docker
            container.docker.image = image
            container.docker.network = .host
            task.container = container
        }
        if let path = options.executor {
            var executor = ExecutorInfo()
            executor.executorID.value = "\(task.taskID.value).executor"
            executor.name = "mesos-execute executor \(path)"
            executor.type = .custom
            executor.command.shell = false
            executor.command.value = path
            executor.command.arguments = [path]
            executor.command.environment = task.command.environment
            let demand: ResourceDemand
            do {
                demand = try options.executorDemand()
            } catch {
                throw MesosError(code: .invalidConfiguration, message: "\(error)")
            }
            self.executor = (executor, demand)
            task.clearCommand()
        } else {
            self.executor = nil
        }
        self.task = task

        let master = options.master?.trimmingCharacters(in: .whitespaces) ?? "local"
        if master.isEmpty || master.lowercased() == "local" {
            let agentResources = try options.agentResources.map { text throws(MesosError) in try LocalCluster.AgentResources(parsing: text) }
                ?? .thisMachine()
            var configuration = LocalCluster.Configuration(agents: options.agents, agentResources: agentResources)
            configuration.agentDefinitions = try options.localAgentDefinitions()
            if let principal = options.principal {
                configuration.credentials = [principal: options.secret ?? ""]
            }
            self.target = .local(configuration)
        } else {
            let kind = ToolTransportKind(rawValue: options.transport.lowercased()) ?? .platformDefault
            let transport = try options.security.makeTransport(kind)
            if let account = try options.security.serviceAccountAuthenticator(transport: transport) {
                // The account's uid is the principal (the scheduler fills FrameworkInfo.principal from it).
                self.authenticator = account
            }
            let detector = try MasterDetectors.make(url: master, transport: transport, registry: .withZooKeeper)
            self.target = .remote(url: master, transport: transport, detector: detector)
        }
    }

    /// The name of the user this process runs as.
    static func currentUser() -> String {
        if let entry = getpwuid(geteuid()), let name = entry.pointee.pw_name {
            return String(cString: name)
        }
        return ProcessInfo.processInfo.environment["USER"] ?? "root"
    }

    /// The command as a person would type it.
    var commandText: String {
        if let executor = self.executor { return "under executor \(executor.info.command.value)" }
        let command = self.task.command
        if command.shell { return command.value }
        if command.arguments.isEmpty { return command.value.isEmpty ? "(the image's entrypoint)" : command.value }
        return command.arguments.joined(separator: " ")
    }
}
