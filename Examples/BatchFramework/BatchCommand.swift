// A small batch framework on swift-mesos's task runtime: runs N items to completion, retries the ones that fail
// (up to a limit, after a backoff), prints a summary. It runs on the embedded local cluster unless --master names
// a real one.
//
//   swift run batch-framework                                   # 6 items on the local cluster; every third fails once
//   swift run batch-framework --tasks 20 --command 'echo {index}; sleep 1'
//   swift run batch-framework --master http://127.0.0.1:5050 --max-attempts 2 --role batch
//   swift run batch-framework --master http://127.0.0.1:5050 --state-file /var/tmp/batch.state
//       # interrupted (Ctrl-C) and run again with the same --state-file, it resumes: the tasks still running are
//       # adopted, not launched again
//   swift run batch-framework --local-agents 2 --local-agent-attributes rack:r1 --local-agent-attributes rack:r2 \
//       --constraint rack:CLUSTER:r2
//
// In --command, {index} is the item number (1...N) and {attempt} the attempt number (1...): the batch is one
// `TaskSpec` of N instances, so the command is the same for all of them and the shell fills these in from the
// `RUNTIME_INSTANCE` (0-based) and `RUNTIME_ATTEMPT` variables the runtime gives each task.
//
// The runtime (`FrameworkRuntime`) does the framework's work: it places the items on offers (packing several per
// offer, honouring --constraint and the resources reserved to --role), stores each task before launching it,
// acknowledges status updates, relaunches a failed item after its backoff (`RestartPolicy.onFailure`), suppresses
// offers while nothing waits and reconciles on every (re-)subscription. This file only declares the batch, prints
// the runtime's task events (`events(of:)`) as progress lines and its result (`result(of:)`) as the summary.
// SIGINT/SIGTERM stop it: without --state-file the framework is torn down (its tasks end); with it the framework
// stays registered for --failover-timeout so that a second run with the same file resumes the batch. A batch
// that ends (every item finished or given up) tears its framework down and removes its state file. The exit
// status is 0 only when every item finished; 1 otherwise, 128 + the signal's number when interrupted.
import ArgumentParser
import Foundation
import MesosCore
import MesosCurlTransport
import MesosDiscovery
import MesosFramework
import MesosLocalCluster
import MesosResources
import MesosScheduler
import MesosToolSupport
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

    @OptionGroup(title: "TLS and DC/OS")
    var security: MasterSecurityOptions

    @Option(help: "How many items to run.")
    var tasks: Int = 6

    @Option(help: "The shell command of each item; {index} (1...N) and {attempt} (1...) are replaced.")
    var command: String = #"echo "item {index}, attempt {attempt}"; [ $(( {index} % 3 )) -ne 0 ] || [ {attempt} -ge 2 ]"#

    @Option(name: .customLong("max-attempts"), help: "Attempts per item before it counts as failed.")
    var maxAttempts: Int = 3

    @Option(help: "Seconds before an item that failed is launched again; doubled after each further failure (max 60).")
    var backoff: Double = 1

    @Option(help: "Each task's resources, in Mesos's syntax (e.g. 'cpus:0.1;mem:32').")
    var resources: String = "cpus:0.1;mem:32"

    @Option(help: "The framework's role; items use the offers' unreserved resources and those reserved to it.")
    var role: String = "*"

    @Option(name: .customLong("constraint"), help: ArgumentHelp(
        "A placement constraint in Marathon's syntax, e.g. 'rack:CLUSTER:r1' or 'hostname:MAX_PER:2' (repeatable).",
        valueName: "constraint"))
    var constraints: [String] = []

    @Option(name: .customLong("state-file"), help: ArgumentHelp(
        "Keep the batch's state in this file (needs --master): run again with it, an interrupted batch resumes.",
        valueName: "path"))
    var stateFile: String?

    @Option(name: .customLong("failover-timeout"), help: ArgumentHelp(
        "Seconds the master keeps the tasks of a disconnected framework (default: 3600 with --state-file, else 60).",
        valueName: "seconds"))
    var failoverTimeout: Double?

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

    /// The spec's name: task ids are `batch.<instance>.<attempt>`.
    static let specName = "batch"

    mutating func run() async throws {
        guard (1...TaskSpec.maximumInstances).contains(self.tasks) else {
            throw ValidationError("--tasks must be between 1 and \(TaskSpec.maximumInstances)")
        }
        guard self.maxAttempts >= 1 else {
            throw ValidationError("--max-attempts must be at least 1")
        }
        guard (1...64).contains(self.localAgents) else {
            throw ValidationError("--local-agents must be between 1 and 64")
        }
        guard self.timeout > 0, self.timeout.isFinite else {
            throw ValidationError("--timeout must be a positive number of seconds")
        }
        guard self.backoff >= 0, self.backoff <= 60 else {
            throw ValidationError("--backoff must be between 0 and 60 seconds")
        }
        if let failoverTimeout = self.failoverTimeout, !(failoverTimeout > 0 && failoverTimeout.isFinite) {
            throw ValidationError("--failover-timeout must be a positive number of seconds")
        }
        if self.role != "*", self.role.isEmpty || self.role.hasPrefix("/") || self.role.hasSuffix("/") || self.role.contains(" ") {
            throw ValidationError("--role '\(self.role)' is not a valid role name")
        }
        let local = self.master == nil || self.master == "local"
        if local, self.stateFile != nil {
            throw ValidationError("--state-file needs --master: the embedded local cluster's tasks end with this process")
        }
        // The same checks as the spec's, first, for messages that name the option.
        do {
            var demand = try ResourceDemand(parsing: self.resources)
            demand.role = self.role
            try demand.validate()
        } catch {
            throw ValidationError("--resources '\(self.resources)': \(error)")
        }
        for text in self.constraints {
            do {
                _ = try PlacementConstraint(parsing: text)
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
        let backoff = Backoff(
            initial: .milliseconds(Int64(self.backoff * 1000)), maximum: .seconds(max(60, self.backoff)), factor: 2)
        var spec = TaskSpec(
            name: Self.specName, command: .shell(BatchCommandLine.shell(self.command)), resources: self.resources,
            instances: self.tasks, restart: .onFailure(maxAttempts: self.maxAttempts, backoff: backoff))
        spec.constraints = self.constraints
        spec.role = self.role
        do {
            _ = try spec.validate()
        } catch {
            throw ValidationError("\(error.message)")
        }

        #if canImport(Logging)
        let level: Logger.Level = self.verbose ? .debug : .warning
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        #endif

        // The store: a file (a restarted batch resumes) or memory.
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

        let batch = Batch(maxAttempts: self.maxAttempts)
        var cluster: LocalCluster?
        let detector: MasterDetector
        let transport: any MesosTransport
        if let master = self.master, master != "local" {
            do {
                transport = try self.security.makeTransport()
                detector = try MasterDetectors.make(url: master, transport: transport)
            } catch {
                fileStore?.close()
                throw ValidationError(error.message)
            }
            say("Running \(self.tasks) items on \(master)")
        } else {
            var configuration = LocalCluster.Configuration(agents: self.localAgents, agentDefinitions: agents)
            configuration.output = { chunk in batch.output(chunk) }
            let local = LocalCluster(configuration: configuration)
            cluster = local
            detector = local.detector
            transport = local.transport
            if agents.isEmpty {
                say("Running \(self.tasks) items on the embedded local cluster (\(configuration.agentResources))")
            } else {
                let described = (0..<configuration.agentCount).map { index -> String in
                    let agent = configuration.agent(at: index)
                    let attributes = agent.attributes.isEmpty ? "" : " [\(agent.attributesText)]"
                    return "\(agent.hostname ?? configuration.hostname) \((agent.resources ?? configuration.agentResources).description)\(attributes)"
                }
                say("Running \(self.tasks) items on the embedded local cluster (\(described.joined(separator: ", ")))")
            }
        }

        var info = FrameworkInfo()
        info.user = ProcessInfo.processInfo.environment["USER"] ?? "root"
        info.name = "batch-framework"
        info.roles = [self.role]
        info.failoverTimeout = self.failoverTimeout ?? (self.stateFile == nil ? 60 : 3600)
        var multiRole = FrameworkInfo.Capability()
        multiRole.type = .multiRole
        info.capabilities = [multiRole]
        var schedulerConfiguration = MesosSchedulerConfiguration(frameworkInfo: info, master: detector, transport: transport)
        if cluster == nil {
            do {
                schedulerConfiguration.authenticator = try self.security.serviceAccountAuthenticator(transport: transport)
            } catch {
                throw ValidationError(error.message)
            }
        }
        let runtimeConfiguration = FrameworkRuntime.Configuration(
            services: .init(
                // Offers no waiting item fits are held a little (freed resources of the same agent may complete
                // them), then declined; a short debounce keeps a small batch snappy.
                offers: .init(holdTime: .seconds(10), holdJitter: .seconds(2)),
                suppressRevive: .init(interval: .seconds(1), reviveCooldown: .seconds(2))))
        let runtime: FrameworkRuntime
        do {
            #if canImport(Logging)
            let logger = self.verbose ? Logger(label: "batch-framework") : MesosScheduler.silentLogger("batch-framework")
            #else
            let logger = MesosScheduler.silentLogger("batch-framework")
            #endif
            runtime = try await FrameworkRuntime(
                scheduler: schedulerConfiguration, store: store, configuration: runtimeConfiguration, logger: logger)
        } catch {
            fileStore?.close()
            await cluster?.shutdown()
            say("batch-framework: error: \(error)")
            throw ExitCode(1)
        }
        runtime.scheduler.onSubscribed { subscribed in
            say("Subscribed as framework \(subscribed.frameworkID.value)")
        }
        runtime.scheduler.on(.offers) { event in
            if case .offers(let offers) = event { batch.saw(offers) }
        }
        // From now on: every state change of the batch's tasks, in order.
        let events = runtime.events(of: Self.specName)
        let printer = Task { for await event in events { batch.record(event) } }

        let resumable = fileStore != nil
        let stateFile = self.stateFile ?? ""
        let outcome: Outcome
        do {
            try await Self.submitOrResume(spec, runtime: runtime, batch: batch)
            outcome = await Self.run(runtime, batch: batch, timeout: .seconds(self.timeout)) { outcome in
                // Said while the runtime still runs: a teardown needs the subscription.
                switch outcome {
                case .done:
                    // The batch is over: the framework goes (so does the stored framework id, hence the state file).
                    try? await runtime.scheduler.teardown()
                case .signal(let number):
                    say(resumable ? "Signal \(number): stopping; run again with --state-file \(stateFile) to resume"
                                  : "Signal \(number): tearing down")
                    if !resumable { try? await runtime.scheduler.teardown() }
                case .timedOut(let limit):
                    say(resumable ? "Timed out after \(limit); stopping (the framework stays for --failover-timeout)"
                                  : "Timed out after \(limit); tearing down")
                    if !resumable { try? await runtime.scheduler.teardown() }
                case .failed(let error):
                    say("batch-framework: error: \((error as? MesosError)?.message ?? "\(error)")")
                }
            }
        } catch {
            say("batch-framework: error: \((error as? MesosError)?.message ?? "\(error)")")
            outcome = .failed(error)
        }
        let standing = runtime.instances(of: Self.specName)
        runtime.stop()
        await printer.value
        if case .done = outcome, let fileStore {
            // Nothing is left to resume, and the torn-down framework id cannot subscribe again.
            try? FileManager.default.removeItem(atPath: fileStore.path)
            try? FileManager.default.removeItem(atPath: fileStore.path + ".lock")
        }
        fileStore?.close()
        await cluster?.shutdown()
        let instances: [InstanceResult]
        if case .done(let result) = outcome { instances = result.instances } else { instances = standing }
        let succeeded = batch.printSummary(instances, count: runtime.specs.first?.instances ?? self.tasks)
        if case .done(let result) = outcome, result.succeeded, succeeded { return }
        // Interrupted: 128 + the signal, as a shell reports it (130 for Ctrl-C).
        if case .signal(let number) = outcome { throw ExitCode(128 + number) }
        throw ExitCode(1)
    }

    /// How a run ended.
    enum Outcome: Sendable {
        /// Every item is done (finished or given up): the runtime's result.
        case done(SpecResult)
        /// SIGINT or SIGTERM.
        case signal(Int32)
        /// --timeout passed.
        case timedOut(Duration)
        /// The runtime or the scheduler failed.
        case failed(any Error)
    }

    /// Submits the batch, or, when the store holds one (a resumed run), follows that one.
    static func submitOrResume(_ spec: TaskSpec, runtime: FrameworkRuntime, batch: Batch) async throws {
        guard let stored = runtime.specs.first(where: { $0.name == spec.name }) else {
            try await runtime.submit(spec)
            return
        }
        if case .onFailure(let maxAttempts, _) = stored.restart { batch.maxAttempts = maxAttempts }
        var line = "Resuming the stored batch of \(stored.instances) items"
        if stored != spec { line += " (its own --tasks, --command, --resources and retries apply)" }
        say(line)
        for instance in runtime.instances(of: spec.name) {
            guard let task = instance.taskID else { continue }
            say("  stored  item \(instance.instance + 1), attempt \(instance.attempts) as task \(task.value): "
                + (instance.state.map(Batch.name) ?? "-"))
        }
    }

    /// Runs the runtime until the batch's result, a signal, the timeout or a failure; calls `ending` with the
    /// outcome while the runtime still runs, then stops the runtime.
    static func run(
        _ runtime: FrameworkRuntime, batch: Batch, timeout: Duration,
        ending: @escaping @Sendable (Outcome) async -> Void
    ) async -> Outcome {
        let signals = InterruptSignals()
        defer { signals.cancel() }
        return await withTaskGroup(of: Outcome?.self) { group in
            group.addTask {
                do {
                    try await runtime.run()
                    return Task.isCancelled ? nil : .failed(MesosError(code: .invalidState, message: "the scheduler ended"))
                } catch {
                    return Task.isCancelled ? nil : .failed(error)
                }
            }
            group.addTask {
                do {
                    return .done(try await runtime.result(of: Self.specName))
                } catch {
                    return Task.isCancelled ? nil : .failed(error)
                }
            }
            group.addTask {
                for await number in signals.signals { return .signal(number) }
                return nil
            }
            group.addTask {
                do {
                    try await Task.sleep(for: timeout)
                    return .timedOut(timeout)
                } catch {
                    return nil
                }
            }
            group.addTask {
                // Says why waiting items fit none of the held offers, whenever that changes.
                while !Task.isCancelled {
                    batch.explainWaiting(runtime)
                    try? await Task.sleep(for: .seconds(1))
                }
                return nil
            }
            var outcome: Outcome = .failed(MesosError(code: .invalidState, message: "the run ended without a result"))
            while let next = await group.next() {
                if let next {
                    outcome = next
                    break
                }
            }
            await ending(outcome)
            // `result(of:)` and `run()` end on stop(), not on cancellation alone.
            runtime.stop()
            group.cancelAll()
            return outcome
        }
    }
}

/// Writes one line to standard output at once (unbuffered: tests and log collectors read lines as they come).
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// The shell form of --command: one spec runs the same command line in every instance, so {index} and {attempt}
/// become shell expansions of the variables the runtime sets per task (`RUNTIME_INSTANCE` is 0-based, the item
/// number 1-based). The rewrite follows the shell's quoting: inside single quotes, where nothing expands, the
/// quote is closed around the expansion; a backslash-escaped `\{index}` stays as it is. (It does not parse
/// here-documents: in one with a quoted delimiter the expansion stays literal.)
enum BatchCommandLine {
    static let index = #"$((RUNTIME_INSTANCE + 1))"#
    static let attempt = #"${RUNTIME_ATTEMPT}"#

    static func shell(_ command: String) -> String {
        var result = ""
        var singleQuoted = false
        var doubleQuoted = false
        var escaped = false
        var rest = Substring(command)
        while let character = rest.first {
            var expansion: String?
            if !escaped {
                if rest.hasPrefix("{index}") {
                    expansion = Self.index
                } else if rest.hasPrefix("{attempt}") {
                    expansion = Self.attempt
                }
            }
            if let expansion {
                result += singleQuoted ? "'\(expansion)'" : expansion
                rest = rest.dropFirst(expansion == Self.index ? 7 : 9)
                continue
            }
            result.append(character)
            rest = rest.dropFirst()
            if escaped {
                escaped = false
            } else if character == "\\" && !singleQuoted {
                escaped = true
            } else if character == "'" && !doubleQuoted {
                singleQuoted.toggle()
            } else if character == "\"" && !singleQuoted {
                doubleQuoted.toggle()
            }
        }
        return result
    }
}

/// What the batch printed and saw: the agents (for host names), when each task started, the waiting explanation.
/// Touched by the event printer, the scheduler's offer callback and the local cluster's output callback.
final class Batch: Sendable {
    private struct State: Sendable {
        /// Agents by id, from the offers.
        var sites: [String: AgentSite] = [:]
        /// The tasks this run launched (an adopted task's start is not known).
        var launched: Set<String> = []
        /// The agent's timestamp of each launched task's first status update, and how long it ran (first to
        /// terminal update, in seconds), by task id.
        var startedAt: [String: Double] = [:]
        var durations: [String: Double] = [:]
        /// The agent of each task not over yet (counting constraints see them).
        var running: [String: AgentSite] = [:]
        /// The last explanation printed for items that fit no offer (printed again only when it changes).
        var lastWait = ""
        /// The spec's attempts per item (a resumed batch keeps its stored spec's).
        var maxAttempts: Int
    }

    let started = ContinuousClock.now
    private let state: Mutex<State>

    init(maxAttempts: Int) {
        self.state = Mutex(State(maxAttempts: maxAttempts))
    }

    /// The spec's attempts per item.
    var maxAttempts: Int {
        get { self.state.withLock { $0.maxAttempts } }
        set { self.state.withLock { $0.maxAttempts = newValue } }
    }

    /// Notes the agents the offers come from.
    func saw(_ offers: [Offer]) {
        self.state.withLock { state in
            for offer in offers { state.sites[offer.agentID.value] = AgentSite(offer: offer) }
        }
    }

    /// Prints one line per state change of a task.
    func record(_ event: TaskEvent) {
        let id = event.taskID.value
        let item = "item \(event.instance + 1), attempt \(event.attempt)"
        guard let status = event.status else {
            // The runtime launched it (its ACCEPT was sent).
            self.state.withLock { _ = $0.launched.insert(id) }
            say("  launch  \(item) as task \(id)")
            return
        }
        let site = self.state.withLock { state -> AgentSite? in
            let site = status.hasAgentID ? state.sites[status.agentID.value] : nil
            if state.launched.contains(id), state.startedAt[id] == nil, status.timestamp > 0 { state.startedAt[id] = status.timestamp }
            if event.state.isTerminal {
                state.running[id] = nil
                if let at = state.startedAt[id], status.timestamp >= at { state.durations[id] = status.timestamp - at }
            } else if let site {
                state.running[id] = site
            }
            return site
        }
        var line = "  \(Self.name(event.state))  \(item)"
        if event.state == .taskRunning, let site {
            let attributes = site.attributes.textForm
            line += " on \(attributes.isEmpty ? site.hostname : "\(site.hostname) (\(attributes))")"
        }
        if !status.message.isEmpty { line += ": \(status.message)" }
        if event.state.isTerminal, event.state != .taskFinished {
            line += event.attempt < self.maxAttempts ? " (will retry)" : " (giving up)"
        }
        say(line)
    }

    /// When items wait and offers are held, prints why the first waiting item fits none of them (the constraint
    /// or the shortfall, per agent), once per change of the explanation.
    func explainWaiting(_ runtime: FrameworkRuntime) {
        guard let spec = runtime.specs.first(where: { $0.name == BatchCommand.specName }),
            let parsed = try? spec.validate()
        else { return }
        let waiting = runtime.instances(of: spec.name).filter { instance in
            guard let state = instance.state else { return true }
            return state.isTerminal && state != .taskFinished && instance.attempts < self.maxAttempts
        }
        let held = runtime.services.offers.map(\.offer)
        var line = ""
        if !waiting.isEmpty, !held.isEmpty {
            let running = self.state.withLock { $0.running.values.map { RunningTask(group: spec.name, site: $0) } }
            let requests = waiting.map { instance in
                TaskRequest(
                    id: "\(spec.name).\(instance.instance).\(instance.attempts + 1)", group: spec.name,
                    demand: parsed.demand, constraints: parsed.constraints)
            }
            let plan = PlacementPlan(placing: requests, on: held, running: running)
            if let first = plan.unplaced.first {
                let hosts = Dictionary(held.map { ($0.id, $0.hostname) }, uniquingKeysWith: { first, _ in first })
                let reasons = first.rejections.map { "\(hosts[$0.offerID] ?? $0.offerID.value): \($0.reason)" }
                let count = plan.unplaced.count
                line = "  waiting  \(count == 1 ? "1 item fits" : "\(count) items fit") no offer "
                    + "(\(Array(Set(reasons)).sorted().joined(separator: " | ")))"
            }
        }
        let changed = self.state.withLock { state in
            defer { state.lastWait = line }
            return state.lastWait != line
        }
        if changed, !line.isEmpty { say(line) }
    }

    /// Prints the task's output, one prefixed line at a time.
    func output(_ chunk: TaskOutputChunk) {
        let parts = chunk.taskID.value.split(separator: ".")
        let label = parts.count == 3 && parts[0] == BatchCommand.specName ? Int(parts[1]).map { "item \($0 + 1)" } : nil
        for line in String(decoding: chunk.bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
            say("    [\(label ?? chunk.taskID.value)] \(line)")
        }
    }

    /// Prints one row per item (from the runtime's result, or how the items stand when the run was cut short) and
    /// the totals; returns whether all finished.
    func printSummary(_ instances: [InstanceResult], count: Int) -> Bool {
        let durations = self.state.withLock { $0.durations }
        let byIndex = Dictionary(instances.map { ($0.instance, $0) }, uniquingKeysWith: { first, _ in first })
        say("")
        say("item  attempts  result         time")
        var finished = 0
        var retried = 0
        for index in 0..<count {
            let instance = byIndex[index]
            let result = instance?.state.map(Self.name) ?? "NOT RUN"
            let time = instance?.taskID.flatMap { durations[$0.value] }.map { String(format: "%.2fs", $0) } ?? "-"
            let attempts = instance?.attempts ?? 0
            if instance?.succeeded == true { finished += 1 }
            if attempts > 1 { retried += 1 }
            say(
                "\(String(index + 1).padding(toLength: 4, withPad: " ", startingAt: 0))  "
                    + "\(String(attempts).padding(toLength: 8, withPad: " ", startingAt: 0))  "
                    + "\(result.padding(toLength: 13, withPad: " ", startingAt: 0))  \(time)")
        }
        let elapsed = ContinuousClock.now - self.started
        say("\(finished)/\(count) finished, \(retried) retried, in \(String(format: "%.1f", elapsed.inSeconds))s")
        return finished == count
    }

    /// `TASK_FINISHED` for `.taskFinished`.
    static func name(_ state: TaskState) -> String {
        var result = ""
        for character in "\(state)" {
            if character.isUppercase { result.append("_") }
            result.append(contentsOf: character.uppercased())
        }
        return result
    }
}
