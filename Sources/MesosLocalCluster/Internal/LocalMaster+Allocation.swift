import Foundation
import MesosCore
import MesosResources

/// Offers, the periodic timer, snapshots and shutdown.
extension LocalMaster {
    /// Mesos's `--min_allocatable_resources` default: an offer needs at least 0.01 cpus or 32 MB of memory.
    static func isWorthOffering(_ resources: Resources) -> Bool {
        resources.containsQuantities(["cpus": 0.01]) || resources.containsQuantities(["mem": 32])
    }

    /// Offers every agent's free resources, one offer per agent and role, to subscribed frameworks: for each of a
    /// framework's roles that is not suppressed, what is allocatable to that role (unreserved, or reserved to
    /// the role or an ancestor) unless a decline filter of that role and agent covers it. Frameworks take turns
    /// agent by agent, starting with a different one each time.
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
        var batches: [String: [Offer]] = [:]
        for agentIndex in state.agents.indices {
            for offset in 0..<candidates.count {
                let key = candidates[(offset + state.allocationRound) % candidates.count]
                guard let framework = state.frameworks[key] else { continue }
                for role in framework.roles where !framework.suppressedRoles.contains(role) {
                    let agent = state.agents[agentIndex]
                    let allocatable = agent.free.allocatable(to: role)
                    guard Self.isWorthOffering(allocatable) else { continue }
                    if framework.filters.contains(where: {
                        $0.agentIndex == agentIndex && $0.role == role && $0.resources.contains(allocatable)
                    }) {
                        continue
                    }
                    let id = "\(self.masterInfo.id)-O\(state.nextOfferNumber)"
                    state.nextOfferNumber += 1
                    let allocated = allocatable.allocated(to: role)
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
                    state.agents[agentIndex].offered += allocatable
                    batches[key, default: []].append(offer)
                }
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
