import MesosCore
import MesosScheduler

/// What ``FrameworkServices/placeAndLaunch(_:running:strategy:portPolicy:filters:replacing:makeTask:)`` did: the plan, the
/// tasks launched, and the ones that were placed but could not be launched.
public struct PlacementLaunch: Sendable {
    /// One ACCEPT that was not made or that the master refused, and the tasks it carried.
    public struct Failure: Sendable {
        /// The tasks of that ACCEPT (they were not launched).
        public var taskIDs: [TaskID]
        /// Why: the offers left the book in between (rescinded, expired) or the call failed.
        public var error: any Error & Sendable

        /// Creates a failure record.
        ///
        /// - Parameters:
        ///   - taskIDs: The tasks of the ACCEPT.
        ///   - error: Why they were not launched.
        public init(taskIDs: [TaskID], error: any Error & Sendable) {
            self.taskIDs = taskIDs
            self.error = error
        }
    }

    /// The placement the launch followed (``PlacementPlan/unplaced`` names the tasks no offer could take and why).
    public var plan: PlacementPlan
    /// The tasks sent in an ACCEPT the master answered with 202, in placement order.
    public var launched: [TaskInfo]
    /// The placed tasks that were not launched.
    public var failures: [Failure]
    /// The launched tasks as ``RunningTask``s (their group and the agent they were sent to, with its attributes),
    /// one per element of ``launched`` and in the same order; pass them as `running:` to the next placement so
    /// counting constraints see them.
    public var running: [RunningTask]
}

extension FrameworkServices {
    /// Places tasks on the offers the book holds and launches them: one ACCEPT with one LAUNCH per agent and
    /// allocation role, using exactly the offers the plan chose (taken out of the book first, so the book never
    /// declines them), and every launched task tracked for reconciliation.
    ///
    /// The offers the plan did not use stay in the book (until they are used later, or declined when their hold
    /// time ends). Keep the pending work per role up to date with ``setPendingWork(_:for:)`` so the controller
    /// suppresses and revives offers.
    ///
    /// ```swift
    /// let requests = try items.map { item in
    ///     TaskRequest(id: item.id, demand: try ResourceDemand(parsing: "cpus:0.5;mem:128", ports: 1),
    ///                 constraints: [try PlacementConstraint(parsing: "hostname:UNIQUE")])
    /// }
    /// let launch = try await services.placeAndLaunch(requests) { request, placed, agent in
    ///     var task = TaskInfo()
    ///     task.name = request.id
    ///     task.command.value = "exec ./server --port $PORT0"
    ///     return task     // id, agent and resources are filled in
    /// }
    /// ```
    ///
    /// - Parameters:
    ///   - tasks: The tasks to place, in priority order.
    ///   - running: Tasks already running, for counting constraints (UNIQUE, GROUP_BY, MAX_PER, CLUSTER).
    ///   - strategy: Bin-packing or spreading.
    ///   - portPolicy: How ports are chosen.
    ///   - filters: The ACCEPT's filters (what is left of an accepted offer is declined for `refuse_seconds`).
    ///   - replacing: For a task that replaces another (an unreachable or unknown one), the task it replaces, by
    ///     the new task's id: it is tracked with that link, so the reconciliation driver knows which copy to kill
    ///     if the old one comes back (``ReconciliationDriver/ReturnedTaskPolicy``).
    ///   - makeTask: Builds each task's `TaskInfo` (command, container, environment, labels …). Its `task_id`
    ///     is set to the request's id, its `agent_id` to the agent's and its `resources` to the carved pieces
    ///     afterwards; ports are in `placed.ports`.
    /// - Returns: The plan, the tasks launched and the ones that could not be.
    /// - Throws: Only what `makeTask` throws (nothing has been sent for the agent being built then; agents
    ///   before it were launched).
    public func placeAndLaunch(
        _ tasks: [TaskRequest],
        running: [RunningTask] = [],
        strategy: PlacementStrategy = .binPacking,
        portPolicy: PortPolicy = .lowestFirst,
        filters: Filters? = nil,
        replacing: [String: TaskID] = [:],
        makeTask: (TaskRequest, PlacedTask, AgentPlacement) throws -> TaskInfo
    ) async throws -> PlacementLaunch {
        let plan = PlacementPlan(
            placing: tasks, on: self.offers.map(\.offer), running: running, strategy: strategy, portPolicy: portPolicy)
        var requests: [String: TaskRequest] = [:]
        for request in tasks { requests[request.id] = request }
        var launch = PlacementLaunch(plan: plan, launched: [], failures: [], running: [])
        for agent in plan.agents {
            var infos: [TaskInfo] = []
            for placed in agent.tasks {
                guard let request = requests[placed.id] else { continue }
                var info = try makeTask(request, placed, agent)
                info.taskID = TaskID(placed.id)
                info.agentID = agent.agentID
                info.resources = placed.resources
                infos.append(info)
            }
            let taken: [Offer]
            do {
                taken = try self.takeOffers(agent.offerIDs)
            } catch {
                launch.failures.append(.init(taskIDs: infos.map(\.taskID), error: error))
                continue
            }
            for info in infos { self.track(info.taskID, agentID: info.agentID, replacing: replacing[info.taskID.value]) }
            do {
                try await self.calls.accept(agent.offerIDs, operations: [.launch(infos)], filters: filters)
                launch.launched.append(contentsOf: infos)
                let site = taken.first.map(AgentSite.init(offer:))
                    ?? AgentSite(agentID: agent.agentID.value, hostname: agent.hostname)
                for info in infos {
                    launch.running.append(RunningTask(group: requests[info.taskID.value]?.group ?? "", site: site))
                }
            } catch {
                for info in infos { self.forget(info.taskID) }
                launch.failures.append(.init(taskIDs: infos.map(\.taskID), error: error))
            }
        }
        return launch
    }
}
