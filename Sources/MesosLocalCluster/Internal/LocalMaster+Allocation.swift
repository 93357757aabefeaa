import Foundation
import MesosCore
import MesosResources

/// Offers, the periodic timer, snapshots and shutdown.
extension LocalMaster {
    /// Mesos's `--min_allocatable_resources` default: an offer needs at least 0.01 cpus or 32 MB of memory.
    static func isWorthOffering(_ resources: Resources) -> Bool {
        resources.containsQuantities(["cpus": 0.01]) || resources.containsQuantities(["mem": 32])
    }

    /// Offers every agent's free resources to subscribed frameworks, at most one offer per agent, framework and
    /// role that is not suppressed, in two stages as Mesos's allocator does: first each role gets what is
    /// reserved to it (or to an ancestor), then the agent's unreserved resources go whole to one framework role,
    /// preferring one that got nothing in the first stage. Frameworks take turns starting with a different one
    /// each time. Nothing is given to a framework role whose decline filter on that agent covers it, and an offer
    /// needs at least 0.01 cpus or 32 MB of memory.
    func allocate(state: inout State) {
        guard !state.isShutDown else { return }
        let now = self.clock.now
        let candidates = state.frameworkOrder.filter { key in
            guard let framework = state.frameworks[key] else { return false }
            return framework.connection != nil && !framework.isRemoved
        }
        guard !candidates.isEmpty else { return }
        for key in candidates {
            state.frameworks[key]?.filters.removeAll { $0.expires <= now }
        }
        state.allocationRound &+= 1
        // Every framework role that may get offers, in this round's order.
        var pairs: [(key: String, role: String)] = []
        for offset in 0..<candidates.count {
            let key = candidates[(offset + state.allocationRound) % candidates.count]
            guard let framework = state.frameworks[key] else { continue }
            for role in framework.roles where !framework.suppressedRoles.contains(role) && !pairs.contains(where: { $0.key == key && $0.role == role }) {
                pairs.append((key, role))
            }
        }
        var batches: [String: [Offer]] = [:]
        for agentIndex in state.agents.indices {
            var remaining = state.agents[agentIndex].free
            var shares = [Resources](repeating: Resources(), count: pairs.count)
            func isFiltered(_ index: Int, _ resources: Resources) -> Bool {
                let pair = pairs[index]
                return state.frameworks[pair.key]?.filters.contains(where: {
                    $0.agentIndex == agentIndex && $0.role == pair.role && $0.resources.contains(resources)
                }) ?? true
            }
            // Stage 1: reservations go to their roles.
            for index in pairs.indices {
                let reserved = remaining.allocatable(to: pairs[index].role).filtered { !$0.isUnreserved }
                guard !reserved.isEmpty, !isFiltered(index, reserved) else { continue }
                shares[index] += reserved
                remaining -= reserved
            }
            // Stage 2: the unreserved rest, whole, to one framework role.
            let unreserved = remaining.unreserved()
            if !unreserved.isEmpty {
                let open = pairs.indices.filter { !isFiltered($0, shares[$0] + unreserved) }
                if let index = open.first(where: { shares[$0].isEmpty }) ?? open.first {
                    shares[index] += unreserved
                }
            }
            let agent = state.agents[agentIndex]
            for index in pairs.indices where Self.isWorthOffering(shares[index]) {
                let (key, role) = pairs[index]
                guard let framework = state.frameworks[key] else { continue }
                let id = "\(self.masterInfo.id)-O\(state.nextOfferNumber)"
                state.nextOfferNumber += 1
                let allocated = shares[index].allocated(to: role)
                var offer = Offer()
                offer.id = OfferID(id)
                offer.frameworkID = framework.id
                offer.agentID = agent.id
                offer.hostname = agent.hostname
                offer.url.scheme = "http"
                offer.url.address.hostname = agent.hostname
                offer.url.address.ip = "127.0.0.1"
                offer.url.address.port = Int32(5051 + agent.index)
                offer.url.path = "/slave(\(agent.index + 1))"
                offer.resources = Self.wireResources(allocated, for: framework)
                offer.attributes = agent.attributes
                if let domain = agent.domain { offer.domain = domain }
                if framework.has(.multiRole) {
                    offer.allocationInfo.role = role
                }
                state.offers[id] = OfferRecord(offer: offer, frameworkKey: key, agentIndex: agentIndex, resources: allocated, role: role)
                state.offerOrder.append(id)
                state.agents[agentIndex].offered += shares[index]
                batches[key, default: []].append(offer)
            }
        }
        for key in candidates {
            if let offers = batches[key] {
                state.frameworks[key]?.connection?.send(.offers(offers))
            }
        }
    }

    /// Heartbeats, re-sent updates, expired failover timeouts and filters.
    func tick() {
        self.state.withLock { state in
            guard !state.isShutDown else { return }
            let now = self.clock.now
            for key in state.frameworkOrder {
                guard let framework = state.frameworks[key], !framework.isRemoved else { continue }
                if var connection = framework.connection {
                    if now - connection.lastHeartbeat >= self.configuration.heartbeatInterval {
                        connection.send(.heartbeat)
                        connection.lastHeartbeat = now
                        state.frameworks[key]?.connection = connection
                    }
                    self.forwardPendingUpdates(frameworkKey: key, state: &state)
                } else if let since = framework.disconnectedAt, now - since >= framework.failoverTimeout {
                    self.removeFramework(key, reason: "its failover timeout expired", state: &state)
                }
            }
            self.heartbeatOperatorSubscribers(now: now, state: &state)
            self.allocate(state: &state)
        }
    }

    /// Stops answering, closes every stream and returns the processes that still run.
    func shutdown() -> [TaskProcess] {
        self.state.withLock { state -> [TaskProcess] in
            state.isShutDown = true
            var processes: [TaskProcess] = []
            for key in state.frameworkOrder {
                guard var framework = state.frameworks[key] else { continue }
                framework.connection?.close()
                framework.connection = nil
                for task in framework.tasks.values where !task.process.hasEnded {
                    processes.append(task.process)
                }
                state.frameworks[key] = framework
            }
            state.offers = [:]
            state.offerOrder = []
            self.closeOperatorSubscribers(state: &state)
            return processes
        }
    }

    /// A copy of the cluster's state.
    func snapshot() -> LocalClusterSnapshot {
        self.state.withLock { state in
            let agents = state.agents.map { agent in
                LocalClusterSnapshot.Agent(
                    id: agent.id,
                    hostname: agent.hostname,
                    attributes: agent.attributes,
                    domain: agent.domain,
                    total: agent.total.array,
                    used: agent.used.array,
                    offered: agent.offered.array,
                    free: agent.free.array
                )
            }
            func task(_ record: TaskRecord) -> LocalClusterSnapshot.Task {
                LocalClusterSnapshot.Task(
                    id: record.info.taskID,
                    name: record.info.name,
                    agentID: state.agents[record.agentIndex].id,
                    state: record.state,
                    latestStatus: record.latest,
                    unacknowledgedUpdates: record.pending.count,
                    pid: record.process.pid,
                    sandbox: record.sandbox,
                    stdout: record.stdout,
                    stderr: record.stderr,
                    resources: record.info.resources
                )
            }
            let frameworks = state.frameworkOrder.compactMap { key -> LocalClusterSnapshot.Framework? in
                guard let framework = state.frameworks[key] else { return nil }
                return LocalClusterSnapshot.Framework(
                    id: framework.id,
                    info: framework.info,
                    isConnected: framework.connection != nil,
                    isRemoved: framework.isRemoved,
                    suppressedRoles: framework.suppressedRoles.sorted(),
                    tasks: framework.taskOrder.compactMap { framework.tasks[$0].map(task) },
                    completedTasks: framework.completed.map(task),
                    offers: state.offerOrder.compactMap { id in
                        state.offers[id].flatMap { $0.frameworkKey == key ? $0.offer : nil }
                    }
                )
            }
            return LocalClusterSnapshot(masterInfo: self.masterInfo, agents: agents, frameworks: frameworks)
        }
    }
}
