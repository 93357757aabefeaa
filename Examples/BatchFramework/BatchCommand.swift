// A small batch framework on swift-mesos and its framework toolkit: runs N tasks, retries the ones that fail (up to
// a limit), prints a summary. It runs on the embedded local cluster unless --master names a real one.
//
//   swift run batch-framework                                   # 6 items on the local cluster; every third fails once
//   swift run batch-framework --tasks 20 --command 'echo {index}; sleep 1'
//   swift run batch-framework --master http://127.0.0.1:5050 --max-attempts 2 --role batch
//   swift run batch-framework --local-agents 2 --local-agent-attributes rack:r1 --local-agent-attributes rack:r2 \
//       --constraint rack:CLUSTER:r2
//
// In --command, {index} is the item number (1...N) and {attempt} the attempt number (1...).
//
// The toolkit does the framework's chores: `ResourceDemand` says what an item needs, `PlacementPlan` packs as
// many pending items as fit on the offers held (carving each item's resources, reserved ones for --role
// included, and checking --constraint), and `FrameworkServices` holds and declines offers, suppresses offers
// while nothing is pending and revives them when an item is retried, acknowledges status updates and reconciles
// the launched tasks on every (re-)subscription.
import ArgumentParser
import Foundation
import MesosCore
import MesosCurlTransport
import MesosDiscovery
import MesosFramework
import MesosLocalCluster
import MesosResources
import MesosScheduler
import Synchronization

#if canImport(Logging)
import Logging
#endif

@main
struct BatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "batch-framework",
        abstract: "Run a batch of tasks, retrying failed ones, and print a summary."
    )

    @Option(help: "The master URL (http://host:port[,...]); the embedded local cluster when omitted or 'local'.")
    var master: String?

    @Option(help: "How many items to run.")
    var tasks: Int = 6

    @Option(help: "The command of each item; {index} and {attempt} are replaced.")
    var command: String = #"echo "item {index}, attempt {attempt}"; [ $(( {index} % 3 )) -ne 0 ] || [ {attempt} -ge 2 ]"#

    @Option(name: .customLong("max-attempts"), help: "Attempts per item before it counts as failed.")
    var maxAttempts: Int = 3

    @Option(help: "Each task's resources, in Mesos's syntax (e.g. 'cpus:0.1;mem:32').")
    var resources: String = "cpus:0.1;mem:32"

    @Option(help: "The framework's role; items use the offers' unreserved resources and those reserved to it.")
    var role: String = "*"

    @Option(name: .customLong("constraint"), help: ArgumentHelp(
        "A placement constraint in Marathon's syntax, e.g. 'rack:CLUSTER:r1' or 'hostname:MAX_PER:2' (repeatable).",
        valueName: "constraint"))
    var constraints: [String] = []

    @Option(name: .customLong("local-agents"), help: "Agents of the embedded local cluster (agent i is agent<i>.local).")
    var localAgents: Int = 1

    @Option(name: .customLong("local-agent-resources"), help: ArgumentHelp(
        "What the i-th local agent offers, in the agent's --resources syntax (repeatable; default: this machine).",
        valueName: "text"))
    var localAgentResources: [String] = []

    @Option(name: .customLong("local-agent-attributes"), help: ArgumentHelp(
        "The i-th local agent's attributes, in the agent's --attributes syntax, e.g. 'rack:r1' (repeatable).",
        valueName: "text"))
    var localAgentAttributes: [String] = []

    @Option(help: "Give up after this many seconds.")
    var timeout: Double = 300

    @Flag(help: "Show the library's and the local cluster's logs.")
    var verbose = false

    mutating func run() async throws {
        guard self.tasks >= 1, self.maxAttempts >= 1 else {
            throw ValidationError("--tasks and --max-attempts must be at least 1")
        }
        guard (1...64).contains(self.localAgents) else {
            throw ValidationError("--local-agents must be between 1 and 64")
        }
        guard self.timeout > 0, self.timeout.isFinite else {
            throw ValidationError("--timeout must be a positive number of seconds")
        }
        if self.role != "*", self.role.isEmpty || self.role.hasPrefix("/") || self.role.hasSuffix("/") || self.role.contains(" ") {
            throw ValidationError("--role '\(self.role)' is not a valid role name")
        }
        var demand: ResourceDemand
        do {
            demand = try ResourceDemand(parsing: self.resources)
            demand.role = self.role
            try demand.validate()
        } catch {
            throw ValidationError("--resources '\(self.resources)': \(error)")
        }
        var constraints: [PlacementConstraint] = []
        for text in self.constraints {
            do {
                constraints.append(try PlacementConstraint(parsing: text))
            } catch {
                throw ValidationError("--constraint '\(text)': \(error.message) (at offset \(error.offset))")
            }
        }
        let agents: [LocalCluster.AgentDefinition]
        do {
            agents = try LocalCluster.AgentDefinition.fromFlags(
                agents: self.localAgents, resources: self.localAgentResources, attributes: self.localAgentAttributes)
        } catch {
            throw ValidationError(error.message)
        }

        #if canImport(Logging)
        let level: Logger.Level = self.verbose ? .debug : .warning
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        #endif
        let batch = Batch(
            count: self.tasks, maxAttempts: self.maxAttempts, command: self.command, role: self.role, demand: demand,
            constraints: constraints)
        var cluster: LocalCluster?
        let detector: MasterDetector
        let transport: any MesosTransport
        if let master = self.master, master != "local" {
            transport = MesosCurlTransport(configuration: .init())
            do {
                detector = try MasterDetectors.make(url: master, transport: transport)
            } catch {
                throw ValidationError(error.message)
            }
            print("Running \(self.tasks) items on \(master)")
        } else {
            var configuration = LocalCluster.Configuration(agents: self.localAgents, agentDefinitions: agents)
            configuration.output = { chunk in batch.output(chunk) }
            let local = LocalCluster(configuration: configuration)
            cluster = local
            detector = local.detector
            transport = local.transport
            if agents.isEmpty {
                print("Running \(self.tasks) items on the embedded local cluster (\(configuration.agentResources))")
            } else {
                let described = (0..<configuration.agentCount).map { index -> String in
                    let agent = configuration.agent(at: index)
                    let attributes = agent.attributes.isEmpty ? "" : " [\(agent.attributesText)]"
                    return "\(agent.hostname ?? configuration.hostname) \((agent.resources ?? configuration.agentResources).description)\(attributes)"
                }
                print("Running \(self.tasks) items on the embedded local cluster (\(described.joined(separator: ", ")))")
            }
        }

        var info = FrameworkInfo()
        info.user = ProcessInfo.processInfo.environment["USER"] ?? "root"
        info.name = "batch-framework"
        info.roles = [self.role]
        var multiRole = FrameworkInfo.Capability()
        multiRole.type = .multiRole
        info.capabilities = [multiRole]
        var schedulerConfiguration = MesosSchedulerConfiguration(frameworkInfo: info, master: detector, transport: transport)
        // The services acknowledge updates (on the stream they came on), so the scheduler must not.
        schedulerConfiguration.acknowledgements = .explicit
        let scheduler = MesosScheduler(configuration: schedulerConfiguration)
        let verbose = self.verbose
        let services = FrameworkServices(
            scheduler: scheduler,
            configuration: .init(
                // Offers no pending item fits are held a little (freed resources of the same agent may complete
                // them), then declined; a short debounce keeps a small batch snappy.
                offers: .init(holdTime: .seconds(10), holdJitter: .seconds(2)),
                suppressRevive: .init(interval: .seconds(1), reviveCooldown: .seconds(5))
            ),
            notices: { notice in batch.notice(notice, verbose: verbose) }
        )
        try services.setPendingWork(self.tasks, for: self.role)

        let started = ContinuousClock.now
        let limit = Duration.seconds(self.timeout)
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    try await Task.sleep(for: limit)
                    print("Timed out after \(limit); tearing down")
                    try? await scheduler.teardown()
                    scheduler.disconnect()
                }
                group.addTask { await services.run() }
                defer { group.cancelAll() }
                try await scheduler.withSubscription { events in
                    // The services saw each event (through their callback) before it reaches this stream.
                    for try await event in events {
                        switch event {
                        case .subscribed(let subscribed):
                            print("Subscribed as framework \(subscribed.frameworkID.value)")
                        case .offers:
                            try await batch.launchPending(services: services)
                        case .update(let status):
                            switch batch.record(status) {
                            case .done:
                                try await scheduler.teardown()
                                return
                            case .retry:
                                try await batch.launchPending(services: services)
                            case .none:
                                break
                            }
                        default:
                            continue
                        }
                    }
                }
            }
        } catch {
            print("batch-framework: error: \((error as? MesosError)?.message ?? "\(error)")")
        }
        await cluster?.shutdown()
        let succeeded = batch.printSummary(elapsed: ContinuousClock.now - started)
        if !succeeded { throw ExitCode(1) }
    }
}

/// The items and their attempts; touched by the event loop, the services' notices and the output callback.
final class Batch: Sendable {
    struct Item: Sendable {
        var index: Int
        var attempts = 0
        var state: TaskState?
        var message = ""
        var taskID: String?
        var launchedAt: ContinuousClock.Instant?
        var duration: Duration?
    }

    /// What a status update meant for the batch.
    enum Progress: Sendable {
        /// Nothing to do.
        case none
        /// An item failed and is pending again.
        case retry
        /// Every item is done.
        case done
    }

    private struct State: Sendable {
        var items: [Item]
        var pending: [Int]
        /// Running tasks: the item and where it runs (counting constraints see them).
        var running: [String: (index: Int, site: AgentSite)] = [:]
        /// The last explanation printed for items that fit no offer (printed again only when it changes).
        var lastWait = ""
    }

    let maxAttempts: Int
    let command: String
    let role: String
    let demand: ResourceDemand
    let constraints: [PlacementConstraint]
    private let state: Mutex<State>

    init(count: Int, maxAttempts: Int, command: String, role: String, demand: ResourceDemand, constraints: [PlacementConstraint]) {
        self.maxAttempts = maxAttempts
        self.command = command
        self.role = role
        self.demand = demand
        self.constraints = constraints
        self.state = Mutex(State(items: (1...count).map { Item(index: $0) }, pending: Array(0..<count)))
    }

    /// Places the pending items on the offers the services hold (several per offer when they fit) and launches
    /// them, one ACCEPT per agent (`FrameworkServices.placeAndLaunch`); tells the services how much work is still
    /// pending; declines the held offers once nothing is.
    func launchPending(services: FrameworkServices) async throws {
        let held = services.offers.map(\.offer)
        // Each pending item's next attempt gets its task id now; it counts as an attempt only once launched.
        let (requests, items, running) = self.state.withLock { state in
            var items: [String: (next: Int, index: Int, attempt: Int)] = [:]
            let requests = state.pending.map { next in
                let item = state.items[next]
                let taskID = "item-\(item.index)-attempt-\(item.attempts + 1)-\(UUID().uuidString.prefix(4).lowercased())"
                items[taskID] = (next, item.index, item.attempts + 1)
                return TaskRequest(id: taskID, group: "batch", demand: self.demand, constraints: self.constraints)
            }
            return (requests, items, state.running.values.map { RunningTask(group: "batch", site: $0.site) })
        }
        if !requests.isEmpty, !held.isEmpty {
            let launch = try await services.placeAndLaunch(requests, running: running, filters: .refuse(seconds: 1)) {
                request, _, _ in
                let item = items[request.id] ?? (next: 0, index: 0, attempt: 0)
                var task = TaskInfo()
                task.name = "batch item \(item.index)"
                task.command.value = self.command
                    .replacingOccurrences(of: "{index}", with: String(item.index))
                    .replacingOccurrences(of: "{attempt}", with: String(item.attempt))
                return task
            }
            // launch.running holds the agent of each launched task, in the same order.
            for (task, runningTask) in zip(launch.launched, launch.running) {
                guard let next = items[task.taskID.value]?.next else { continue }
                self.state.withLock { state in
                    state.pending.removeAll { $0 == next }
                    state.items[next].attempts += 1
                    state.items[next].taskID = task.taskID.value
                    state.items[next].launchedAt = .now
                    state.running[task.taskID.value] = (next, runningTask.site)
                }
                let host = runningTask.site.hostname
                let attributes = runningTask.site.attributes.textForm
                print("  launch  \(task.name) as task \(task.taskID.value) on \(attributes.isEmpty ? host : "\(host) (\(attributes))")")
            }
            let plan = launch.plan
            if plan.unplaced.isEmpty {
                self.state.withLock { $0.lastWait = "" }
            } else if let first = plan.unplaced.first {
                // Why the first waiting item fits none of the offers: the constraint or the shortfall, per agent.
                let hosts = Dictionary(held.map { ($0.id, $0.hostname) }, uniquingKeysWith: { first, _ in first })
                let reasons = first.rejections.map { "\(hosts[$0.offerID] ?? $0.offerID.value): \($0.reason)" }
                let count = plan.unplaced.count
                let line = "  waiting  \(count == 1 ? "1 item fits" : "\(count) items fit") no offer "
                    + "(\(Array(Set(reasons)).sorted().joined(separator: " | ")))"
                let changed = self.state.withLock { state in
                    defer { state.lastWait = line }
                    return state.lastWait != line
                }
                if changed { print(line) }
            }
        }
        let pending = self.state.withLock { $0.pending.count }
        try services.setPendingWork(pending, for: self.role)
        if pending == 0 {
            let idle = services.offers.map(\.id)
            if !idle.isEmpty { await services.declineOffers(idle) }
        }
    }

    /// Records a status update.
    func record(_ status: TaskStatus) -> Progress {
        let (line, progress) = self.state.withLock { state -> (String?, Progress) in
            guard let index = state.running[status.taskID.value]?.index else { return (nil, .none) }
            state.items[index].state = status.state
            state.items[index].message = status.message
            guard status.state.isTerminal else { return (nil, .none) }
            state.running[status.taskID.value] = nil
            let item = state.items[index]
            state.items[index].duration = item.launchedAt.map { ContinuousClock.now - $0 }
            var line = "  \(Self.name(status.state))  item \(item.index), attempt \(item.attempts)"
            if !status.message.isEmpty { line += ": \(status.message)" }
            var progress = Progress.none
            if status.state != .taskFinished {
                if item.attempts < self.maxAttempts {
                    state.pending.append(index)
                    progress = .retry
                    line += " (will retry)"
                } else {
                    line += " (giving up)"
                }
            }
            if state.pending.isEmpty && state.running.isEmpty { progress = .done }
            return (line, progress)
        }
        if let line { print(line) }
        return progress
    }

    /// Reports what the services noticed: tasks the master knows and the batch does not, overdue
    /// reconciliation, failed calls (with --verbose).
    func notice(_ notice: FrameworkNotice, verbose: Bool) {
        switch notice {
        case .unknownTask(let status, _):
            print("  unknown task \(status.taskID.value) (\(Self.name(status.state))) reported by the master")
        case .reconciliationOverdue(let ids):
            print("  the master has not answered reconciliation for \(ids.map(\.value).joined(separator: ", ")) yet")
        case .callFailed(let type, let error):
            if verbose { print("  \(type) failed: \(error.message)") }
        case .transition:
            break
        }
    }

    /// Prints the task's output, one prefixed line at a time.
    func output(_ chunk: TaskOutputChunk) {
        let label = self.state.withLock { state in
            state.running[chunk.taskID.value].map { "item \(state.items[$0.index].index)" } ?? chunk.taskID.value
        }
        for line in String(decoding: chunk.bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
            print("    [\(label)] \(line)")
        }
    }

    /// Prints one row per item; returns whether all finished.
    func printSummary(elapsed: Duration) -> Bool {
        let items = self.state.withLock { $0.items }
        print("")
        print("item  attempts  result         time")
        for item in items {
            let result = item.state.map(Self.name) ?? "NOT RUN"
            let time = item.duration.map { String(format: "%.2fs", $0.inSeconds) } ?? "-"
            print(String(format: "%-4d  %-8d  %@  %@", item.index, item.attempts, result.padding(toLength: 13, withPad: " ", startingAt: 0), time))
        }
        let finished = items.filter { $0.state == .taskFinished }.count
        let retried = items.filter { $0.attempts > 1 }.count
        print("\(finished)/\(items.count) finished, \(retried) retried, in \(String(format: "%.1f", elapsed.inSeconds))s")
        return finished == items.count
    }

    static func name(_ state: TaskState) -> String {
        var result = ""
        for character in "\(state)" {
            if character.isUppercase { result.append("_") }
            result.append(contentsOf: character.uppercased())
        }
        return result
    }
}
