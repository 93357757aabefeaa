// A long-running service framework on swift-mesos's task runtime: keeps N instances of a command running,
// replacing those that end. Three ways to keep its state:
//
//   swift run service-framework --instances 2 --command 'sleep 600'          # in memory, embedded local cluster
//   swift run service-framework --master http://127.0.0.1:5050 --state-file /var/lib/svc/state
//       # one instance; restarted, it fails over to its framework id and adopts the running tasks
//   swift run service-framework --master http://127.0.0.1:5050 --zk zk://127.0.0.1:2181/svc --instances 3
//       # start it two or three times: one leads (ZooKeeper election), the others wait and take over
//
// It prints one line per task state change and per leadership change. SIGINT/SIGTERM stop it without tearing
// the framework down: its tasks keep running for the next leader (or the restarted instance) to adopt, until
// --failover-timeout passes.
import ArgumentParser
import Dispatch
import Foundation
import MesosCore
import MesosCurlTransport
import MesosDiscovery
import MesosFramework
import MesosFrameworkZooKeeper
import MesosLocalCluster
import MesosScheduler
import MesosToolSupport
import MesosZooKeeper

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

#if canImport(Logging)
import Logging
#endif

@main
struct ServiceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "service-framework",
        abstract: "Keep N instances of a command running on Mesos, optionally highly available through ZooKeeper."
    )

    @Option(help: "How many instances to keep running.")
    var instances: Int = 1

    @Option(help: "The command each instance runs (a shell command).")
    var command: String = "sleep 3600"

    @Option(help: "Each instance's resources, in Mesos's syntax (e.g. 'cpus:0.1;mem:32').")
    var resources: String = "cpus:0.1;mem:32"

    @Option(name: .customLong("constraint"), help: ArgumentHelp(
        "A placement constraint in Marathon's syntax, e.g. 'hostname:UNIQUE' (repeatable).", valueName: "constraint"))
    var constraints: [String] = []

    @Option(help: "The master URL (http://host:port[,...] or zk://…); the embedded local cluster when omitted or 'local'.")
    var master: String?

    @OptionGroup(title: "TLS and DC/OS")
    var security: MasterSecurityOptions

    @Option(help: "High availability: zk://host:port[,...]/path — the ZooKeeper state store and leader election.")
    var zk: String?

    @Option(name: .customLong("state-file"), help: "Single instance: keep the state in this file (fails over on restart).")
    var stateFile: String?

    @Option(help: "The framework's name.")
    var name: String = "service-framework"

    @Option(name: .customLong("failover-timeout"), help: "Seconds the master keeps the tasks of a disconnected framework.")
    var failoverTimeout: Double = 7 * 24 * 3600

    @Option(name: .customLong("zk-session-timeout"), help: "The ZooKeeper session timeout in seconds (with --zk).")
    var zkSessionTimeout: Double = 10

    @Flag(help: "Show the library's logs.")
    var verbose = false

    mutating func run() async throws {
        guard (1...TaskSpec.maximumInstances).contains(self.instances) else {
            throw ValidationError("--instances must be between 1 and \(TaskSpec.maximumInstances)")
        }
        guard self.failoverTimeout > 0, self.failoverTimeout.isFinite else {
            throw ValidationError("--failover-timeout must be a positive number of seconds")
        }
        guard self.zkSessionTimeout > 0, self.zkSessionTimeout.isFinite, self.zkSessionTimeout <= 600 else {
            throw ValidationError("--zk-session-timeout must be between 0 and 600 seconds")
        }
        if self.zk != nil, self.stateFile != nil {
            throw ValidationError("--zk and --state-file are exclusive: ZooKeeper keeps the state of an HA framework")
        }
        var spec = TaskSpec(
            name: "service", command: .shell(self.command), resources: self.resources, instances: self.instances,
            restart: .always)
        spec.constraints = self.constraints
        do {
            _ = try spec.validate()
        } catch {
            throw ValidationError("\(error.message)")
        }
        var zooKeeper: ZooKeeperURL?
        if let zk = self.zk {
            do {
                zooKeeper = try ZooKeeperURL(zk)
            } catch {
                throw ValidationError(error.message)
            }
        }

        #if canImport(Logging)
        let level: Logger.Level = self.verbose ? .debug : .warning
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        #endif

        var cluster: LocalCluster?
        let detector: MasterDetector
        let transport: any MesosTransport
        if let master = self.master, master != "local" {
            do {
                transport = try self.security.makeTransport()
                detector = try MasterDetectors.make(url: master, transport: transport)
            } catch {
                throw ValidationError(error.message)
            }
        } else {
            let local = LocalCluster(configuration: LocalCluster.Configuration(agents: 1))
            cluster = local
            detector = local.detector
            transport = local.transport
        }
        var info = FrameworkInfo()
        info.user = ProcessInfo.processInfo.environment["USER"] ?? "root"
        info.name = self.name
        info.roles = ["*"]
        info.failoverTimeout = self.failoverTimeout
        var multiRole = FrameworkInfo.Capability()
        multiRole.type = .multiRole
        info.capabilities = [multiRole]
        var configuredScheduler = MesosSchedulerConfiguration(frameworkInfo: info, master: detector, transport: transport)
        if cluster == nil {
            do {
                configuredScheduler.authenticator = try self.security.serviceAccountAuthenticator(transport: transport)
            } catch {
                throw ValidationError(error.message)
            }
        }
        let schedulerConfiguration = configuredScheduler
        let runtimeConfiguration = FrameworkRuntime.Configuration(
            services: .init(suppressRevive: .init(interval: .seconds(1), reviveCooldown: .seconds(2))))
        let service = Service(spec: spec)
        let signals = InterruptSignals()

        let outcome: Result<Void, any Error>
        if let zooKeeper {
            say("service-framework: \(self.instances) x '\(self.command)', HA through \(zooKeeper)")
            let framework = HighlyAvailableFramework(
                configuration: .init(
                    zooKeeper: zooKeeper, sessionTimeout: .milliseconds(Int64(self.zkSessionTimeout * 1000)),
                    identity: .current(instance: self.name), runtime: runtimeConfiguration),
                scheduler: { schedulerConfiguration })
            outcome = await Self.until(signals) {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    let changes = framework.changes()
                    group.addTask {
                        for await change in changes {
                            switch change {
                            case .elected(let leadership, let runtime):
                                say("leadership: elected, term \(leadership.term)")
                                service.follow(runtime)
                            case .deposed(let leadership, let reason):
                                say("leadership: deposed, term \(leadership.term) (\(reason))")
                            case .runtimeFailed(_, let error):
                                say("leadership: the runtime could not start: \(error)")
                            }
                        }
                    }
                    group.addTask {
                        // A standby says who leads, once.
                        try await Task.sleep(for: .seconds(1))
                        if !framework.isLeader, let leader = try? await framework.election.leader() {
                            say("leadership: standby, the leader is \(leader)")
                        }
                    }
                    try await framework.run()
                    group.cancelAll()
                }
            }
        } else {
            let store: any FrameworkStateStore
            var fileStore: FileStateStore?
            if let path = self.stateFile {
                do {
                    let opened = try await FileStateStore.open(path: path)
                    fileStore = opened
                    store = opened
                } catch {
                    throw ValidationError("--state-file \(path): \(error)")
                }
            } else {
                store = InMemoryStateStore()
            }
            say("service-framework: \(self.instances) x '\(self.command)', state \(self.stateFile.map { "in \($0)" } ?? "in memory")")
            let runtime = try await FrameworkRuntime(
                scheduler: schedulerConfiguration, store: store, configuration: runtimeConfiguration)
            service.follow(runtime)
            outcome = await Self.until(signals) {
                try await withTaskCancellationHandler {
                    try await runtime.run()
                } onCancel: {
                    runtime.stop()
                }
            }
            runtime.stop()
            fileStore?.close()
        }
        await cluster?.shutdown()
        switch outcome {
        case .success:
            say("service-framework: stopped")
        case .failure(let error):
            say("service-framework: error: \((error as? MesosError)?.message ?? "\(error)")")
            throw ExitCode(1)
        }
    }

    /// Runs `body` until it ends or a signal arrives (then cancels it).
    static func until(_ signals: InterruptSignals, _ body: @escaping @Sendable () async throws -> Void) async -> Result<Void, any Error> {
        await withTaskGroup(of: Result<Void, any Error>?.self) { group in
            group.addTask {
                do {
                    try await body()
                    return .success(())
                } catch is CancellationError {
                    return .success(())
                } catch {
                    return .failure(error)
                }
            }
            group.addTask {
                for await number in signals.signals {
                    say("service-framework: signal \(number), stopping")
                    return nil
                }
                return nil
            }
            var outcome: Result<Void, any Error> = .success(())
            if let first = await group.next(), let result = first { outcome = result }
            group.cancelAll()
            signals.cancel()
            return outcome
        }
    }
}

/// Writes one line to standard output at once (unbuffered: tests and log collectors read lines as they come).
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// Makes sure the runtime runs the spec, and prints each task state change.
final class Service: Sendable {
    let spec: TaskSpec

    init(spec: TaskSpec) {
        self.spec = spec
    }

    /// Submits the spec (or scales the stored one to the asked instances) and prints the runtime's events.
    func follow(_ runtime: FrameworkRuntime) {
        let events = runtime.events()
        runtime.scheduler.onSubscribed { subscribed in
            let millis = Int64(Date().timeIntervalSince1970 * 1000)
            say("subscribed: framework \(subscribed.frameworkID.value) at \(millis)")
        }
        Task {
            for await event in events {
                var line = "task \(event.taskID.value) \(Self.name(event.state))"
                if let message = event.status?.message, !message.isEmpty { line += ": \(message)" }
                say(line)
            }
        }
        Task {
            let stored = runtime.specs.first { $0.name == self.spec.name }
            do {
                if let stored {
                    if stored.instances != self.spec.instances {
                        try await runtime.scale(self.spec.name, instances: self.spec.instances)
                        say("service: scaled from \(stored.instances) to \(self.spec.instances) instances")
                    } else {
                        say("service: \(stored.instances) instances (stored)")
                    }
                    for instance in runtime.instances(of: self.spec.name) {
                        if let task = instance.taskID {
                            say("stored: task \(task.value) \(instance.state.map(Self.name) ?? "-")")
                        }
                    }
                } else {
                    try await runtime.submit(self.spec)
                    say("service: submitted \(self.spec.instances) instances")
                }
            } catch let error as FrameworkRuntimeError {
                if error.kind != .stopped { say("service: \(error)") }
            } catch {
                say("service: \(error)")
            }
        }
    }

    /// `TASK_RUNNING` for `.taskRunning`.
    static func name(_ state: TaskState) -> String {
        var result = ""
        for character in "\(state)" {
            if character.isUppercase { result.append("_") }
            result.append(contentsOf: character.uppercased())
        }
        return result
    }
}
