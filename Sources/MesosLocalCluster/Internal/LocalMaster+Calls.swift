import Foundation
import MesosCore
import MesosResources

/// ACCEPT, DECLINE, REVIVE, SUPPRESS, KILL, ACKNOWLEDGE and RECONCILE.
extension LocalMaster {
    /// Mesos's default `refuse_seconds`, and its cap (365 days).
    static let defaultRefuseSeconds = 5.0
    static let maximumRefuseSeconds = 365.0 * 24 * 3600

    func accept(_ accept: SchedulerCall.Accept, key: String, state: inout State) {
        guard var framework = state.frameworks[key] else { return }
        var problem: String?
        var seen = Set<String>()
        var agentIndex: Int?
        var role: String?
        for id in accept.offerIds {
            guard seen.insert(id.value).inserted else {
                problem = "Duplicate offer \(id.value) in ACCEPT"
                break
            }
            guard let offer = state.offers[id.value] else {
                problem = "Offer \(id.value) is no longer valid"
                break
            }
            guard offer.frameworkKey == key else {
                problem = "Offer \(id.value) is not for this framework"
                break
            }
            if let agentIndex, agentIndex != offer.agentIndex {
                problem = "Aggregated offers must belong to the same agent"
                break
            }
            if let role, role != offer.role {
                problem = "Aggregated offers must be allocated to the same role"
                break
            }
            agentIndex = offer.agentIndex
            role = offer.role
        }

        guard problem == nil, let agentIndex, let role else {
            let message = problem ?? "No offers given"
            for id in accept.offerIds where state.offers[id.value]?.frameworkKey == key {
                self.dropOffer(id.value, state: &state)
            }
            let lostState: TaskState = framework.has(.partitionAware) ? .taskDropped : .taskLost
            for operation in accept.operations {
                for task in operation.launch.taskInfos + operation.launchGroup.taskGroup.tasks {
                    framework.connection?.send(.update(self.masterStatus(
                        task.taskID, agentID: task.agentID, state: lostState,
                        message: "Task launched with invalid offers: \(message)", reason: .invalidOffers)))
                }
            }
            state.frameworks[key] = framework
            self.allocate(state: &state)
            return
        }

        var available = Resources()
        for id in accept.offerIds {
            if let offer = self.dropOffer(id.value, state: &state) {
                available += offer.resources
            }
        }
        let agent = state.agents[agentIndex]
        var launched: [String] = []
        for operation in accept.operations {
            switch operation.type {
            case .launch:
                for var task in operation.launch.taskInfos {
                    let resources: Resources
                    switch self.checkTask(&task, framework: framework, agent: agent, role: role, available: available) {
                    case .failure(let error):
                        self.logger.info("Task refused", metadata: ["mesos.task_id": "\(task.taskID.value)", "mesos.error": "\(error.message)"])
                        framework.connection?.send(.update(self.masterStatus(
                            task.taskID, agentID: task.agentID, state: .taskError, message: error.message, reason: .taskInvalid)))
                        continue
                    case .success(let used):
                        resources = used
                    }
                    available -= resources
                    state.agents[agentIndex].used += resources.unallocated()
                    let sandbox = URL(fileURLWithPath: self.workDirectory)
                        .appendingPathComponent("agents/\(agent.id.value)/frameworks/\(key)/executors/\(task.taskID.value)/runs/\(UUID().uuidString.lowercased())")
                        .path
                    framework.tasks[task.taskID.value] = TaskRecord(
                        info: task, agentIndex: agentIndex, resources: resources.unallocated(), process: TaskProcess(), sandbox: sandbox)
                    framework.taskOrder.append(task.taskID.value)
                    launched.append(task.taskID.value)
                }
            case .launchGroup:
                for task in operation.launchGroup.taskGroup.tasks {
                    framework.connection?.send(.update(self.masterStatus(
                        task.taskID, agentID: task.agentID, state: .taskError,
                        message: "Task groups (LAUNCH_GROUP) are not supported by the local cluster", reason: .taskGroupInvalid)))
                }
            default:
                self.logger.warning("Offer operation not supported by the local cluster; ignored", metadata: ["mesos.operation": "\(operation.type)"])
                if operation.hasID {
                    var status = OperationStatus()
                    status.operationID = operation.id
                    status.state = .operationError
                    status.message = "\(operation.type) is not supported by the local cluster"
                    status.agentID = agent.id
                    framework.connection?.send(.updateOperationStatus(status))
                }
            }
        }
        if !available.isEmpty {
            self.addFilter(to: &framework, agentIndex: agentIndex, role: role, resources: available.unallocated(),
                           filters: accept.hasFilters ? accept.filters : nil)
        }
        state.frameworks[key] = framework
        for taskID in launched {
            self.publishTaskAdded(taskID, frameworkKey: key, state: &state)
        }
        for taskID in launched {
            self.agentQueue.async { [self] in
                self.runTask(frameworkKey: key, taskID: taskID)
            }
        }
        self.allocate(state: &state)
    }

    /// Why the master refuses a task.
    struct TaskRefusal: Error {
        var message: String
    }

    /// Checks a task as the master does on LAUNCH (the offer's `allocation_info` is injected where missing, the
    /// resources must be valid, allocated to the offer's single role and contained in what is left of the
    /// offers) and returns what it uses, allocated to `role`; or why it is refused (TASK_ERROR, TASK_INVALID),
    /// in the words a Mesos 1.11 master uses (checked against one for these messages).
    func checkTask(
        _ task: inout TaskInfo,
        framework: FrameworkRecord,
        agent: AgentRecord,
        role: String,
        available: Resources
    ) -> Result<Resources, TaskRefusal> {
        func refuse(_ message: String) -> Result<Resources, TaskRefusal> { .failure(TaskRefusal(message: message)) }
        let id = task.taskID.value
        if let existing = framework.tasks[id], !existing.state.isTerminal || !existing.pending.isEmpty {
            return refuse("Task has duplicate ID: \(id)")
        }
        if task.agentID != agent.id {
            return refuse("Task uses agent \(task.agentID.value), but the offers are for agent \(agent.id.value)")
        }
        if task.hasExecutor {
            return refuse("Custom executors are not supported by the local cluster; give the task a CommandInfo")
        }
        if !task.command.hasValue || task.command.value.isEmpty {
            return refuse("'CommandInfo.value' must be set")
        }
        if task.hasContainer, task.container.type == .docker, !task.container.hasDocker {
            return refuse("DockerInfo 'docker' is not set for DOCKER typed ContainerInfo")
        }
        // The master injects the offer's allocation_info into resources that lack it.
        for index in task.resources.indices where !task.resources[index].hasAllocationInfo {
            task.resources[index].allocationInfo.role = role
        }
        let resources: Resources
        do {
            resources = try Resources(validating: task.resources)
        } catch {
            return refuse("Invalid task resources: \(error.message)")
        }
        if resources.isEmpty {
            return refuse("Task uses no resources")
        }
        var roles: [String] = []
        for resource in resources where !roles.contains(resource.allocationInfo.role) {
            roles.append(resource.allocationInfo.role)
        }
        if roles.count > 1 {
            return refuse(
                "Invalid task resources: The resources have multiple allocation roles ('\(roles[1])' and '\(roles[0])') "
                    + "but only one allocation role is allowed")
        }
        let names = Set(resources.revocable().names)
        if let both = resources.nonRevocable().names.first(where: names.contains) {
            return refuse("Invalid task resources: Task uses both revocable and non-revocable '\(both)' resources")
        }
        if !available.contains(resources) {
            return refuse(
                "Total resources \(Self.text(resources)) required by task and its executor is more than available \(Self.text(available))")
        }
        return .success(resources)
    }

    /// Resources as the master prints them in messages:
    /// `cpus(allocated: batch)(reservations: [(STATIC,batch)]):1; mem(allocated: batch):32`.
    static func text(_ resources: Resources) -> String {
        resources.array.map { resource -> String in
            var text = resource.name
            if resource.hasAllocationInfo { text += "(allocated: \(resource.allocationInfo.role))" }
            if !resource.reservations.isEmpty {
                let entries = resource.reservations.map { entry -> String in
                    let type = entry.type == .static ? "STATIC" : "DYNAMIC"
                    return "(\(type),\(entry.role)\(entry.hasPrincipal ? ",\(entry.principal)" : ""))"
                }
                text += "(reservations: [\(entries.joined(separator: ","))])"
            }
            switch resource.type {
            case .scalar: text += ":" + (FixedScalar(resource.scalar.value) ?? .zero).description
            case .ranges: text += ":[" + resource.ranges.range.map { "\($0.begin)-\($0.end)" }.joined(separator: ",") + "]"
            case .set: text += ":{" + resource.set.item.joined(separator: ",") + "}"
            default: break
            }
            return text
        }.joined(separator: "; ")
    }

    /// Refuses `resources` on an agent for `filters.refuse_seconds` (default 5 s; 0 refuses nothing).
    private func addFilter(to framework: inout FrameworkRecord, agentIndex: Int, role: String, resources: Resources, filters: Filters?) {
        var seconds = filters?.refuseSeconds ?? Self.defaultRefuseSeconds
        if !seconds.isFinite || seconds < 0 { seconds = Self.defaultRefuseSeconds }
        seconds = min(seconds, Self.maximumRefuseSeconds)
        guard seconds > 0 else { return }
        framework.filters.append(OfferFilter(
            agentIndex: agentIndex, role: role, resources: resources,
            expires: self.clock.now + max(.milliseconds(Int64(seconds * 1000)), self.configuration.allocationInterval)))
    }

    func decline(_ offerIDs: [OfferID], filters: Filters?, key: String, state: inout State) {
        guard var framework = state.frameworks[key] else { return }
        for id in offerIDs {
            guard state.offers[id.value]?.frameworkKey == key, let offer = self.dropOffer(id.value, state: &state) else { continue }
            self.addFilter(to: &framework, agentIndex: offer.agentIndex, role: offer.role, resources: offer.resources.unallocated(), filters: filters)
        }
        state.frameworks[key] = framework
        self.allocate(state: &state)
    }

    /// REVIVE and SUPPRESS name roles; the master ignores the whole call when one is not the framework's.
    private func knowsAll(_ roles: [String], _ framework: FrameworkRecord) -> Bool {
        let mine = framework.roles
        guard roles.allSatisfy(mine.contains) else {
            self.logger.info("REVIVE or SUPPRESS for a role the framework is not subscribed to; ignored", metadata: ["mesos.roles": "\(roles)"])
            return false
        }
        return true
    }

    func revive(roles: [String], key: String, state: inout State) {
        guard var framework = state.frameworks[key], self.knowsAll(roles, framework) else { return }
        let roles = Set(roles.isEmpty ? framework.roles : roles)
        framework.suppressedRoles.subtract(roles)
        framework.filters.removeAll { roles.contains($0.role) }
        state.frameworks[key] = framework
        self.allocate(state: &state)
    }

    func suppress(roles: [String], key: String, state: inout State) {
        guard var framework = state.frameworks[key], self.knowsAll(roles, framework) else { return }
        framework.suppressedRoles.formUnion(roles.isEmpty ? framework.roles : roles)
        state.frameworks[key] = framework
    }

    func kill(_ kill: SchedulerCall.Kill, key: String, state: inout State) {
        guard let framework = state.frameworks[key] else { return }
        let taskID = kill.taskID.value
        guard let task = framework.tasks[taskID] else {
            // Mesos answers a KILL of an unknown task with a reconciliation answer.
            framework.connection?.send(.update(self.unknownTaskStatus(
                kill.taskID, agentID: kill.hasAgentID ? kill.agentID : nil, framework: framework, state: state)))
            return
        }
        guard !task.state.isTerminal else { return }
        if framework.has(.taskKillingState), !task.killingSent, task.state == .taskStarting || task.state == .taskRunning {
            state.frameworks[key]?.tasks[taskID]?.killingSent = true
            self.apply(
                self.agentStatus(task, framework: framework, agents: state.agents, state: .taskKilling, message: "Killing the task", source: .executor),
                frameworkKey: key, taskID: taskID, state: &state)
        }
        task.process.terminate(grace: self.gracePeriod(for: task.info, override: kill.hasKillPolicy ? kill.killPolicy : nil))
    }

    func acknowledge(_ acknowledge: SchedulerCall.Acknowledge, key: String, state: inout State) {
        let taskID = acknowledge.taskID.value
        guard var framework = state.frameworks[key], var task = framework.tasks[taskID],
            let head = task.pending.first, head.uuid == acknowledge.uuid
        else {
            return
        }
        task.pending.removeFirst()
        task.lastSent = nil
        framework.tasks[taskID] = task
        state.frameworks[key] = framework
        if task.pending.isEmpty {
            if task.state.isTerminal {
                self.complete(taskID, frameworkKey: key, state: &state)
            }
        } else {
            self.forwardPendingUpdates(frameworkKey: key, state: &state)
        }
    }

    func reconcile(_ tasks: [SchedulerCall.Reconcile.Task], key: String, state: inout State) {
        guard let framework = state.frameworks[key], let connection = framework.connection else { return }
        if tasks.isEmpty {
            for taskID in framework.taskOrder {
                guard let task = framework.tasks[taskID] else { continue }
                connection.send(.update(self.reconciliationStatus(task, framework: framework, agents: state.agents)))
            }
            return
        }
        for entry in tasks {
            if let task = framework.tasks[entry.taskID.value] {
                connection.send(.update(self.reconciliationStatus(task, framework: framework, agents: state.agents)))
            } else {
                connection.send(.update(self.unknownTaskStatus(
                    entry.taskID, agentID: entry.hasAgentID ? entry.agentID : nil, framework: framework, state: state)))
            }
        }
    }

    // MARK: - Statuses made by the master

    /// An update the master makes up itself: source MASTER, no uuid (never acknowledged, never re-sent).
    func masterStatus(_ taskID: TaskID, agentID: AgentID?, state: TaskState, message: String, reason: TaskStatus.Reason) -> TaskStatus {
        var status = TaskStatus()
        status.taskID = taskID
        status.state = state
        status.message = message
        status.source = .master
        status.reason = reason
        if let agentID, !agentID.value.isEmpty { status.agentID = agentID }
        status.timestamp = Self.now()
        return status
    }

    /// The state of a known task, as a reconciliation answer: that of the update the framework was sent and has
    /// not acknowledged yet when there is one (the master's `status_update_state`), else the latest.
    func reconciliationStatus(_ task: TaskRecord, framework: FrameworkRecord, agents: [AgentRecord]) -> TaskStatus {
        var status = task.pending.first ?? task.latest ?? self.masterStatus(
            task.info.taskID, agentID: agents[task.agentIndex].id, state: task.state, message: "", reason: .reconciliation)
        status.clearUuid()
        status.source = .master
        status.reason = .reconciliation
        status.message = "Reconciliation: Latest task state"
        status.timestamp = Self.now()
        return status
    }

    /// The answer for a task the master does not know.
    func unknownTaskStatus(_ taskID: TaskID, agentID: AgentID?, framework: FrameworkRecord, state: State) -> TaskStatus {
        let partitionAware = framework.has(.partitionAware)
        if let agentID, state.agents.contains(where: { $0.id == agentID }) {
            return self.masterStatus(taskID, agentID: agentID, state: partitionAware ? .taskGone : .taskLost,
                                     message: "Reconciliation: Task is unknown to the agent", reason: .reconciliation)
        }
        return self.masterStatus(taskID, agentID: agentID, state: partitionAware ? .taskUnknown : .taskLost,
                                 message: "Reconciliation: Task is unknown", reason: .reconciliation)
    }
}
