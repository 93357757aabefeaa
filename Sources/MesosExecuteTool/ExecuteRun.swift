import Foundation
import Logging
import MesosCore
import MesosOperator
import MesosLocalCluster
import MesosResources
import MesosScheduler

/// One run of the tool: subscribe, wait for a fitting offer, launch, follow the task to its end, tear down.
final class ExecuteRun: Sendable {
    /// How the run ended.
    enum Outcome: Sendable {
        /// The task reached a terminal state.
        case task(TaskStatus)
        /// The run failed before that, with a message and an exit status.
        case failure(String, Int32)
        /// Ctrl-C before the task was launched, or while waiting too long for it to die.
        case interrupted
    }

    private struct State: Sendable {
        var startedAt = ContinuousClock.now
        var frameworkID: FrameworkID?
        var subscribedAt: ContinuousClock.Instant?
        var launched = false
        var runningAt: ContinuousClock.Instant?
        var killSent = false
        var lastStatus: TaskStatus?
        var outcome: Outcome?
        var interrupts = 0
        var interruptedAt: ContinuousClock.Instant?
        var lastProgress = 0
        /// Why the latest offer of each agent was refused, by agent, in order of first refusal.
        var refusals: [(agent: String, reason: String)] = []
        var lastFailure: MesosError?
    }

    private enum Decision: Sendable {
        case none
        case progress(Int)
        case kill(String)
        case stop
    }

    let plan: ExecutePlan
    let console: Console
    let scheduler: MesosScheduler
    let masterName: String
    let output: OutputGate
    private let state = LockedValue(State())

    private init(plan: ExecutePlan, console: Console, scheduler: MesosScheduler, masterName: String, output: OutputGate) {
        self.plan = plan
        self.console = console
        self.scheduler = scheduler
        self.masterName = masterName
        self.output = output
    }

    /// Runs the plan; returns the exit status.
    static func run(_ plan: ExecutePlan, console: Console) async -> Int32 {
        var cluster: LocalCluster?
        let transport: any MesosTransport
        let detector: MasterDetector
        let masterName: String
        let output = OutputGate(console: console)
        switch plan.target {
        case .local(var configuration):
            configuration.output = { chunk in
                output.write(stderr: chunk.stream == .stderr, bytes: chunk.bytes)
            }
            let local = LocalCluster(configuration: configuration)
            cluster = local
            transport = local.transport
            detector = local.detector
            masterName = "the embedded local cluster"
            let agents = configuration.agentCount
            let resources = configuration.agentResources.description
            if configuration.agentDefinitions.isEmpty {
                console.say("Master: embedded local cluster (\(agents) agent\(agents == 1 ? "" : "s"), each with \(resources))")
            } else {
                let described = (0..<agents).map { index -> String in
                    let agent = configuration.agent(at: index)
                    let attributes = agent.attributes.isEmpty ? "" : " [\(agent.attributesText)]"
                    return "\(agent.hostname ?? configuration.hostname) \((agent.resources ?? configuration.agentResources).description)\(attributes)"
                }
                console.say("Master: embedded local cluster (\(agents) agent\(agents == 1 ? "" : "s"): \(described.joined(separator: ", ")))")
            }
            console.event("master", ["master": .string("local"), "agents": .number(Double(agents)), "resources": .string(resources)])
        case .remote(let url, let remoteTransport, let remoteDetector):
            transport = remoteTransport
            detector = remoteDetector
            masterName = url
            console.say("Master: \(url)")
            console.event("master", ["master": .string(url)])
        }
        var configuration = MesosSchedulerConfiguration(frameworkInfo: plan.frameworkInfo, master: detector, transport: transport)
        configuration.contentType = plan.contentType
        configuration.authenticator = plan.authenticator
        let scheduler = MesosScheduler(configuration: configuration, logger: Logger(label: "mesos.scheduler"))
        let run = ExecuteRun(plan: plan, console: console, scheduler: scheduler, masterName: masterName, output: output)
        let status = await run.drive()
        if let cluster {
            await cluster.shutdown()
        }
        return status
    }

    private func drive() async -> Int32 {
        let interrupts = InterruptSignals()
        defer { interrupts.cancel() }
        let lifecycle = self.scheduler.lifecycleEvents()
        self.state.withLock { $0.startedAt = .now }
        do {
            try await self.scheduler.withSubscription { events in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { await self.watchLifecycle(lifecycle) }
                    group.addTask { await self.watchClock() }
                    group.addTask { await self.watchInterrupts(interrupts.signals) }
                    defer { group.cancelAll() }
                    try await self.consume(events)
                }
            }
        } catch {
            self.conclude(.failure(self.describe(error), 1))
        }
        return self.report()
    }

    // MARK: - Events

    private func consume(_ events: SchedulerEventStream) async throws {
        for try await event in events {
            switch event {
            case .subscribed(let subscribed):
                self.subscribed(subscribed)
            case .offers(let offers):
                await self.handle(offers)
            case .update(let status):
                await self.handle(status)
            case .error(let message):
                if self.conclude(.failure("The master refused the framework: \(message)", 1)) {
                    await self.stop()
                }
            case .heartbeat:
                self.console.detail("HEARTBEAT")
            case .rescind(let id):
                self.console.detail("Offer \(id.value) rescinded")
            case .failure(let failure):
                self.console.detail("FAILURE on agent \(failure.agentID.value)")
            case .message(let message):
                let text = String(decoding: message.data, as: UTF8.self)
                self.console.say("Message from executor: \(text)")
                self.console.event("message", [
                    "executor_id": .string(message.executorID.value),
                    "agent_id": .string(message.agentID.value),
                    "data": .string(text),
                ])
            default:
                self.console.detail("\(event.typeName) event")
            }
        }
    }

    private func subscribed(_ subscribed: SchedulerEvent.Subscribed) {
        let first = self.state.withLock { state -> Bool in
            defer {
                state.frameworkID = subscribed.frameworkID
                if state.subscribedAt == nil { state.subscribedAt = .now }
            }
            return state.frameworkID == nil
        }
        let info = subscribed.masterInfo
        let address = info.hasAddress ? "\(info.address.hostname.isEmpty ? info.address.ip : info.address.hostname):\(info.address.port)"
            : "\(info.hostname):\(info.port)"
        let version = info.version.isEmpty ? "" : " (Mesos \(info.version))"
        self.console.say("\(first ? "Subscribed" : "Re-subscribed") to master \(address)\(version) as framework \(subscribed.frameworkID.value)")
        self.console.event("subscribed", [
            "framework_id": .string(subscribed.frameworkID.value),
            "master": .string(address),
            "version": .string(info.version),
            "resubscribed": .bool(!first),
        ])
        if first {
            let constraints = self.plan.constraints.isEmpty
                ? "" : " on an agent meeting \(self.plan.constraints.map(\.description).joined(separator: ", "))"
            self.console.say("Waiting for an offer that fits \(self.plan.resourceText) (role \(self.plan.role))\(constraints)...")
        }
    }

    /// Places the task on the offers (resources carved for the role, constraints checked); launches it on the
    /// chosen agent and declines every other offer, with a filter: long for an agent that fails a constraint (it
    /// will not change), short for one that is only short of resources (they may free up), long once the task
    /// is launched.
    private func handle(_ offers: [Offer]) async {
        let waiting = self.state.withLock { state in
            !state.launched && state.outcome == nil && state.interrupts == 0
        }
        guard waiting else {
            for offer in offers {
                self.console.detail("Declining offer \(offer.id.value) from \(Self.place(offer)): the task is launched")
            }
            try? await self.scheduler.decline(offers.map(\.id), filters: .refuse(seconds: 3600))
            return
        }
        // With --executor, the offer must hold the task and its executor together.
        let demand = self.plan.executor.map { self.plan.demand + $0.demand } ?? self.plan.demand
        let request = TaskRequest(id: self.plan.task.taskID.value, demand: demand, constraints: self.plan.constraints)
        let placement = PlacementPlan(placing: [request], on: offers)
        var reasons: [OfferID: RejectionReason] = [:]
        for task in placement.unplaced {
            for rejection in task.rejections { reasons[rejection.offerID] = rejection.reason }
        }
        let chosen = placement.agents.first
        let used = Set(chosen?.offerIDs ?? [])
        if chosen != nil {
            self.state.withLock { $0.launched = true }
        }
        let constraintFilter = min(3600, max(5, self.plan.offerTimeout.inSeconds))
        for offer in offers where !used.contains(offer.id) {
            guard chosen == nil, let reason = reasons[offer.id] else {
                // The task went elsewhere; say whether this offer could have taken it, and why not.
                let alone = PlacementPlan(placing: [request], on: [offer]).unplaced.first?.rejections.first?.reason
                let why = alone.map { "refused: \($0)" } ?? "not needed (the task is launched on another agent)"
                self.console.detail("Offer \(offer.id.value) from \(Self.place(offer)) \(why)")
                try? await self.scheduler.decline([offer.id], filters: .refuse(seconds: 3600))
                continue
            }
            let place = Self.place(offer)
            self.console.detail("Offer \(offer.id.value) from \(place) refused: \(reason)")
            self.console.event("refused", [
                "offer_id": .string(offer.id.value),
                "agent_id": .string(offer.agentID.value),
                "hostname": .string(offer.hostname),
                "reason": .string(reason.description),
            ])
            self.state.withLock { state in
                let agent = offer.hostname.isEmpty ? offer.agentID.value : offer.hostname
                if let index = state.refusals.firstIndex(where: { $0.agent == agent }) {
                    state.refusals[index].reason = reason.description
                } else {
                    state.refusals.append((agent, reason.description))
                }
            }
            let refuse: Double
            if case .constraint = reason { refuse = constraintFilter } else { refuse = 2 }
            try? await self.scheduler.decline([offer.id], filters: .refuse(seconds: refuse))
        }
        guard let chosen, let placed = chosen.tasks.first,
            let offer = offers.first(where: { $0.id == chosen.offerIDs.first })
        else { return }
        var task = self.plan.task
        task.agentID = chosen.agentID
        task.resources = placed.resources
        var taskPorts = placed.ports
        if var executor = self.plan.executor?.info, let executorDemand = self.plan.executor?.demand {
            // What was carved for both is split: the executor's part first, the task's from the rest.
            do {
                let forExecutor = try Resources(placed.resources).carving(executorDemand, allocationRole: chosen.role)
                let forTask = try forExecutor.remaining.carving(self.plan.demand, allocationRole: chosen.role)
                executor.resources = forExecutor.resources
                task.resources = forTask.resources
                taskPorts = forTask.ports
                Self.addPortVariables(taskPorts, to: &executor.command)
                task.executor = executor
            } catch {
                if self.conclude(.failure("Cannot split the offer between the task and its executor: \(error)", 1)) {
                    await self.stop()
                }
                return
            }
        } else {
            Self.addPortVariables(taskPorts, to: &task.command)
        }
        let attributes = LocalCluster.AgentDefinition(attributes: offer.attributes).attributesText
        let place = attributes.isEmpty ? offer.hostname : "\(offer.hostname), \(attributes)"
        let ports = taskPorts.map(String.init).joined(separator: ",")
        let withPorts = ports.isEmpty ? "" : " with ports \(ports)"
        let resources = Resources(placed.resources).unallocated().description
        self.console.say(
            "Launching task \(task.taskID.value) on agent \(chosen.agentID.value) (\(place))\(withPorts): \(self.plan.commandText)")
        let offerIDs = chosen.offerIDs.map(\.value).joined(separator: ",")
        self.console.detail("Task resources: \(resources) (role \(chosen.role ?? "*"), offers \(offerIDs))")
        do {
            try await self.scheduler.accept(chosen.offerIDs, operations: [.launch([task])], filters: .refuse(seconds: 3600))
        } catch {
            if self.conclude(.failure("Cannot launch the task: \(error.message)", 1)) {
                await self.stop()
            }
            return
        }
        try? await self.scheduler.suppress()
        self.console.event("launched", [
            "task_id": .string(task.taskID.value),
            "agent_id": .string(chosen.agentID.value),
            "hostname": .string(offer.hostname),
            "attributes": .string(attributes),
            "offer_id": .string(offer.id.value),
            "resources": .string(resources),
            "ports": .string(ports),
            "command": .string(self.plan.commandText),
        ])
    }

    /// `agent S1 (agent2.local, rack:r2)`: where an offer comes from, for people.
    static func place(_ offer: Offer) -> String {
        let attributes = LocalCluster.AgentDefinition(attributes: offer.attributes).attributesText
        return "agent \(offer.agentID.value) (\(offer.hostname)\(attributes.isEmpty ? "" : ", \(attributes)"))"
    }

    /// Gives the task its ports as Marathon does: `PORT0`…`PORT{n-1}`, `PORT` (the first) and `PORTS`
    /// (comma-separated). A variable the user set with `--env` is left as it is.
    static func addPortVariables(_ ports: [UInt64], to command: inout CommandInfo) {
        guard !ports.isEmpty else { return }
        var variables = ports.enumerated().map { ("PORT\($0.offset)", String($0.element)) }
        variables.append(("PORT", String(ports[0])))
        variables.append(("PORTS", ports.map(String.init).joined(separator: ",")))
        let given = Set(command.environment.variables.map(\.name))
        for (name, value) in variables where !given.contains(name) {
            var variable = Environment.Variable()
            variable.name = name
            variable.value = value
            command.environment.variables.append(variable)
        }
    }

    private func handle(_ status: TaskStatus) async {
        guard status.taskID == self.plan.task.taskID else {
            self.console.detail("Update for another task \(status.taskID.value): \(Console.wireName(status.state))")
            return
        }
        let state = Console.wireName(status.state)
        var line = "[\(Console.clock(status.timestamp))] \(state)"
        if status.hasMessage, !status.message.isEmpty { line += ": \(status.message)" }
        if self.console.verbose {
            line += " (source \(Console.wireName(status.source, prefix: "SOURCE_"))"
                + (status.hasReason ? ", reason \(Console.wireName(status.reason, prefix: "REASON_"))" : "") + ")"
        }
        if status.state.isTerminal { self.output.open() }
        self.console.say(line)
        if status.state == .taskRunning { self.output.open() }
        var fields: [String: JSONValue] = [
            "task_id": .string(status.taskID.value),
            "state": .string(state),
            "timestamp": .number(status.timestamp),
            "source": .string(Console.wireName(status.source, prefix: "SOURCE_")),
        ]
        if status.hasMessage { fields["message"] = .string(status.message) }
        if status.hasReason { fields["reason"] = .string(Console.wireName(status.reason, prefix: "REASON_")) }
        if status.hasAgentID { fields["agent_id"] = .string(status.agentID.value) }
        self.console.event("status", fields)
        let firstRunning = self.state.withLock { state -> Bool in
            state.lastStatus = status
            guard status.state == .taskRunning, state.runningAt == nil else { return false }
            state.runningAt = .now
            return true
        }
        if firstRunning, !self.plan.messages.isEmpty {
            await self.sendMessages(agentID: status.agentID)
        }
        if status.state.isTerminal, self.conclude(.task(status)) {
            if case .remote(_, let transport, let detector) = self.plan.target {
                await self.printSandboxOutput(transport: transport, detector: detector)
            }
            await self.stop()
        }
    }

    /// On a real cluster, prints the task's `stdout` and `stderr` from its sandbox (the operator API: the
    /// master's state locates the sandbox, the agent's READ_FILE or `/files/read` reads it), as the embedded
    /// cluster streams them. Where the agent has no such files, or cannot be read, it says so only with
    /// `--verbose`: the task's result does not depend on it.
    private func printSandboxOutput(transport: any MesosTransport, detector: MasterDetector) async {
        let configuration = MesosOperatorConfiguration(
            transport: transport, contentType: .json, authenticator: self.plan.authenticator, callTimeout: .seconds(10))
        let master = MesosMasterOperator(master: detector, configuration: configuration)
        do throws(MesosError) {
            let state = try await master.getState()
            let location = try SandboxLocator.locate(
                taskID: self.plan.task.taskID.value, frameworkID: self.state.withLock { $0.frameworkID?.value }, in: state)
            let files = TaskFiles(agent: location.agent, configuration: configuration)
            for (name, isStderr) in [("stdout", false), ("stderr", true)] {
                var bytes: [UInt8]?
                for directory in location.candidates where bytes == nil {
                    do throws(MesosError) {
                        bytes = try await files.readAll(path: SandboxLocation.join(directory, name), limit: 16 << 20)
                    } catch where error.code == .notFound {
                        continue
                    }
                }
                if let bytes, !bytes.isEmpty {
                    self.output.write(stderr: isStderr, bytes: bytes)
                }
            }
        } catch {
            self.console.detail("The task's sandbox output could not be read: \(error)")
        }
    }

    // MARK: - Watchers

    private func watchLifecycle(_ lifecycle: AsyncStream<SchedulerLifecycleEvent>) async {
        for await event in lifecycle {
            switch event {
            case .disconnected(let reason, let retryAfter):
                let wasSubscribed = self.state.withLock { state -> Bool in
                    state.lastFailure = reason
                    return state.frameworkID != nil
                }
                if wasSubscribed {
                    self.console.say("Lost the master (\(Console.oneLine(reason.message))); re-subscribing")
                }
                self.console.detail("Subscription attempt failed: \(reason); retrying in \(retryAfter)")
            case .failed(let error):
                self.state.withLock { $0.lastFailure = error }
            case .subscribed, .resubscribed, .stopped:
                break
            }
        }
    }

    private func watchClock() async {
        while true {
            do {
                try await Task.sleep(for: .milliseconds(200))
            } catch {
                return
            }
            let now = ContinuousClock.now
            let decision = self.state.withLock { state -> Decision in
                guard state.outcome == nil else { return .none }
                guard let subscribedAt = state.subscribedAt else {
                    if now - state.startedAt >= self.plan.connectTimeout {
                        let reason = state.lastFailure.map { ": \(Console.oneLine($0.message))" } ?? ""
                        state.outcome = .failure(
                            "Cannot subscribe to the master at \(self.masterName) within \(self.plan.connectTimeout)\(reason)", 1)
                        return .stop
                    }
                    return .none
                }
                if let interruptedAt = state.interruptedAt, now - interruptedAt >= .seconds(20) {
                    state.outcome = .interrupted
                    return .stop
                }
                if !state.launched {
                    if now - subscribedAt >= self.plan.offerTimeout {
                        let refusals = state.refusals.isEmpty
                            ? "; no offers arrived"
                            : "; refused: " + state.refusals.map { "\($0.agent): \($0.reason)" }.joined(separator: " | ")
                        let constraints = self.plan.constraints.isEmpty
                            ? "" : " and \(self.plan.constraints.map(\.description).joined(separator: ", "))"
                        state.outcome = .failure(
                            "No offer fitting \(self.plan.resourceText)\(constraints) (role \(self.plan.role)) "
                                + "within \(self.plan.offerTimeout)\(refusals)", 1)
                        return .stop
                    }
                    let elapsed = Int((now - subscribedAt).inSeconds)
                    if elapsed >= state.lastProgress + 5 {
                        state.lastProgress = elapsed - elapsed % 5
                        return .progress(state.lastProgress)
                    }
                    return .none
                }
                if let killAfter = self.plan.killAfter, let runningAt = state.runningAt, !state.killSent,
                    now - runningAt >= killAfter
                {
                    state.killSent = true
                    return .kill("--kill-after \(killAfter) elapsed")
                }
                return .none
            }
            switch decision {
            case .none:
                break
            case .progress(let seconds):
                self.console.say("Still waiting for an offer that fits \(self.plan.resourceText) (\(seconds)s)")
                self.console.event("waiting", ["elapsed_seconds": .number(Double(seconds)), "resources": .string(self.plan.resourceText)])
            case .kill(let reason):
                await self.killTask(reason)
            case .stop:
                await self.stop()
            }
        }
    }

    private func watchInterrupts(_ signals: AsyncStream<Int32>) async {
        for await _ in signals {
            let (count, decision) = self.state.withLock { state -> (Int, Decision) in
                state.interrupts += 1
                if state.interrupts == 1 {
                    state.interruptedAt = .now
                    let taskAlive = state.launched && state.lastStatus?.state.isTerminal != true
                    if taskAlive, state.outcome == nil {
                        state.killSent = true
                        return (1, .kill("interrupted (press Ctrl-C again to stop waiting)"))
                    }
                }
                if state.outcome == nil { state.outcome = .interrupted }
                return (state.interrupts, .stop)
            }
            if count >= 3 {
                self.console.error("Interrupted three times; exiting without waiting", exitCode: 130)
                Foundation.exit(130)
            }
            switch decision {
            case .kill(let reason): await self.killTask(reason)
            default: await self.stop()
            }
        }
    }

    // MARK: - Actions

    /// Sends `--message`s to the task's executor (its own with `--executor`; a command task's executor has the
    /// task's id).
    private func sendMessages(agentID: AgentID) async {
        let executorID = self.plan.executor?.info.executorID ?? ExecutorID(self.plan.task.taskID.value)
        for text in self.plan.messages {
            do {
                try await self.scheduler.message(agentID: agentID, executorID: executorID, data: Data(text.utf8))
                self.console.say("Sent message to executor \(executorID.value): \(text)")
                self.console.event("message_sent", ["executor_id": .string(executorID.value), "data": .string(text)])
            } catch {
                self.console.say("Cannot send a message to executor \(executorID.value): \(Console.oneLine(error.message))")
            }
        }
    }

    private func killTask(_ reason: String) async {
        self.console.say("Killing task \(self.plan.task.taskID.value): \(reason)")
        self.console.event("kill", ["task_id": .string(self.plan.task.taskID.value), "reason": .string(reason)])
        do {
            try await self.scheduler.kill(self.plan.task.taskID)
        } catch {
            self.console.detail("KILL failed: \(error)")
        }
    }

    /// Records the outcome unless one was recorded already; returns whether this one counts.
    @discardableResult
    private func conclude(_ outcome: Outcome) -> Bool {
        self.state.withLock { state in
            guard state.outcome == nil else { return false }
            state.outcome = outcome
            return true
        }
    }

    /// Tears the framework down (killing whatever it still runs), or stops trying to subscribe.
    private func stop() async {
        if self.scheduler.status.isSubscribed {
            do {
                try await self.scheduler.teardown()
                return
            } catch {
                self.console.detail("TEARDOWN failed: \(error)")
            }
        }
        self.scheduler.disconnect()
    }

    /// Prints the result and returns the exit status.
    private func report() -> Int32 {
        let (outcome, interrupted) = self.state.withLock { ($0.outcome, $0.interrupts > 0) }
        let taskID = self.plan.task.taskID.value
        switch outcome {
        case .task(let status):
            var code = Self.exitStatus(for: status)
            if interrupted, code != 0 { code = 130 }
            let state = Console.wireName(status.state)
            let detail = status.message.isEmpty ? "" : ": \(status.message)"
            switch status.state {
            case .taskFinished: self.console.say("Task \(taskID) finished\(detail)")
            case .taskFailed: self.console.say("Task \(taskID) failed\(detail)")
            case .taskKilled: self.console.say("Task \(taskID) was killed\(detail)")
            default: self.console.say("Task \(taskID) ended \(state)\(detail)")
            }
            self.console.event("result", [
                "task_id": .string(taskID),
                "state": .string(state),
                "message": .string(status.message),
                "exit_code": .number(Double(code)),
            ])
            return code
        case .failure(let message, let code):
            self.console.error(message, exitCode: code)
            return code
        case .interrupted:
            self.console.error("Interrupted", exitCode: 130)
            return 130
        case nil:
            self.console.error("The connection to \(self.masterName) ended before the task finished", exitCode: 1)
            return 1
        }
    }

    /// 0 for TASK_FINISHED, the command's exit status for "Command exited with status N", else 1.
    static func exitStatus(for status: TaskStatus) -> Int32 {
        if status.state == .taskFinished { return 0 }
        if let range = status.message.range(of: "exited with status ") {
            let digits = status.message[range.upperBound...].prefix { $0.isNumber }
            if let code = Int32(digits), (1...255).contains(code) { return code }
        }
        return 1
    }

    private func describe(_ error: any Error) -> String {
        guard let error = error as? MesosError else { return "\(error)" }
        let message = Console.oneLine(error.message)
        switch error.code {
        case .unauthenticated, .authenticationFailed:
            return "The master at \(self.masterName) refused the credentials: \(message)"
        case .forbidden:
            return "The master at \(self.masterName) refused the framework: \(message)"
        case .transportFailure, .timeout, .noLeader:
            return "Cannot reach the master at \(self.masterName): \(message)"
        default:
            return message
        }
    }
}
