import MesosCore

/// A task to place: its id, its group (the app whose instances constraints count), what it needs and its
/// constraints.
public struct TaskRequest: Sendable, Hashable {
    /// The task id.
    public var id: String
    /// The group whose instances the counting constraints (UNIQUE, GROUP_BY, MAX_PER, CLUSTER) count; tasks
    /// of one app share it.
    public var group: String
    /// What the task needs.
    public var demand: ResourceDemand
    /// Where it may run.
    public var constraints: [PlacementConstraint]

    /// Creates a request.
    ///
    /// - Parameters:
    ///   - id: The task id.
    ///   - group: The group (app) it belongs to.
    ///   - demand: What it needs.
    ///   - constraints: Where it may run.
    public init(id: String, group: String = "", demand: ResourceDemand, constraints: [PlacementConstraint] = []) {
        self.id = id
        self.group = group
        self.demand = demand
        self.constraints = constraints
    }
}

/// A task already running, which counting constraints take into account.
public struct RunningTask: Sendable, Hashable {
    /// Its group (app).
    public var group: String
    /// The agent it runs on.
    public var site: AgentSite

    /// Creates a running task.
    ///
    /// - Parameters:
    ///   - group: Its group (app).
    ///   - site: The agent it runs on.
    public init(group: String, site: AgentSite) {
        self.group = group
        self.site = site
    }
}

/// How placement chooses among the agents that can hold a task.
public enum PlacementStrategy: Sendable, Hashable {
    /// The fullest agent first (Fenzo's bin-packing fitness: what is used after placing, over what the
    /// agent's offers held, averaged over the task's scalar resources), keeping whole agents free.
    case binPacking
    /// The emptiest agent first (1 − the bin-packing fitness).
    case spreading
}

/// The tasks placed on one agent for one allocation role: one ACCEPT call.
public struct AgentPlacement: Sendable {
    /// The agent.
    public let agentID: AgentID
    /// The agent's hostname.
    public let hostname: String
    /// The allocation role of the offers used (`nil` for frameworks without MULTI_ROLE).
    public let role: String?
    /// The offers the tasks' resources come from (several only when no single offer could hold a task).
    public let offerIDs: [OfferID]
    /// The tasks, in placement order.
    public let tasks: [PlacedTask]
}

/// One placed task.
public struct PlacedTask: Sendable {
    /// The task id.
    public let id: String
    /// The resources to put in `TaskInfo.resources`.
    public let resources: [Resource]
    /// The range numbers given to it by resource name.
    public let numbers: [String: [UInt64]]

    /// The ports given to it.
    public var ports: [UInt64] { self.numbers["ports"] ?? [] }
}

/// Why an offer was refused for a task.
public enum RejectionReason: Sendable, Hashable, CustomStringConvertible {
    /// This constraint fails on the offer's agent.
    case constraint(PlacementConstraint)
    /// The resources do not fit (with every shortfall), the role differs, or the demand is invalid.
    case resources(CarveError)

    /// `constraint hostname:UNIQUE` or the carve error.
    public var description: String {
        switch self {
        case .constraint(let constraint): return "constraint \(constraint) not met"
        case .resources(let error): return error.description
        }
    }
}

/// An offer refused for a task, and why.
public struct OfferRejection: Sendable, Hashable {
    /// The offer.
    public let offerID: OfferID
    /// Why.
    public let reason: RejectionReason
}

/// A task no offer could take, with the reason for each offer.
public struct UnplacedTask: Sendable {
    /// The task id.
    public let id: String
    /// One entry per offer, in offer order, as things stood when the task was considered.
    public let rejections: [OfferRejection]
}

/// Places a batch of tasks on a batch of offers.
///
/// Tasks are considered in order. For each, every agent-and-role (the offers of one agent and one
/// allocation role, pooled) whose resources can hold it and whose agent meets its constraints is scored
/// by the strategy, and the best one (the first among equals) gets it. Counting constraints see the
/// running tasks and the tasks placed earlier in the batch. A task's resources come from a single offer
/// when one can hold them, otherwise from several offers of that agent and role (never across agents
/// or roles). Resources are carved as ``Resources/carving(_:allocationRole:portPolicy:)`` does.
///
/// ```swift
/// let plan = PlacementPlan(placing: tasks, on: offers, running: running, strategy: .spreading)
/// for agent in plan.agents { /* ACCEPT agent.offerIDs with one LAUNCH of agent.tasks */ }
/// for task in plan.unplaced { for rejection in task.rejections { print(rejection.reason) } }
/// ```
public struct PlacementPlan: Sendable {
    /// The placements, one per agent and role, in order of first use.
    public let agents: [AgentPlacement]
    /// The tasks that could not be placed, in task order.
    public let unplaced: [UnplacedTask]

    /// How many tasks were placed.
    public var placedCount: Int { self.agents.reduce(0) { $0 + $1.tasks.count } }

    /// Places `tasks` on `offers`.
    ///
    /// - Parameters:
    ///   - tasks: The tasks, in priority order.
    ///   - offers: The offers.
    ///   - running: Tasks already running, for counting constraints.
    ///   - strategy: Bin-packing or spreading.
    ///   - portPolicy: How ports are picked; a random policy's seed is varied per task, deterministically.
    public init(
        placing tasks: [TaskRequest],
        on offers: [Offer],
        running: [RunningTask] = [],
        strategy: PlacementStrategy = .binPacking,
        portPolicy: PortPolicy = .lowestFirst
    ) {
        var placer = Placer(offers: offers, tasks: tasks, running: running)
        (self.agents, self.unplaced) = placer.run(strategy: strategy, portPolicy: portPolicy)
    }
}

/// The placement engine: every string interned, amounts in flat integer arrays, constraint state in
/// counters indexed by value, so the per-offer test of a task is a handful of array reads.
struct Placer {
    // Offers and pools.
    let offers: [Offer]
    let tasks: [TaskRequest]
    var pools: [CarvePool] = []
    var poolOffers: [[Int]] = []
    var poolSites: [AgentSite] = []
    var usedOffers: [[Bool]] = []

    // Names and amounts: index (pool * nameCount + name) * 4 + bucket.
    var names: [String: Int] = [:]
    var available: [Int64] = []
    /// 1 / what the pool's offers held (scalars over every bucket), 0 when nothing: index pool * nameCount + name.
    var inverseCapacity: [Double] = []
    var capacity: [Int64] = []
    /// What is used of the capacity (0…1), kept up to date: index pool * nameCount + name.
    var usedFraction: [Double] = []

    // Demands, compiled once per distinct demand.
    struct Need {
        var name: Int
        var amount: Int64
        var scalar: Bool
        var doubleAmount: Double { Double(self.amount) }
    }
    struct Demand {
        var compiled: CompiledDemand?
        var error: CarveError?
        var needs: [Need]
        var bucketMask: Int
        var role: String?
    }
    var demands: [Demand] = []
    var taskDemand: [Int] = []

    // Constraint fields, values and state.
    var fields: [PlacementConstraint.Field: Int] = [:]
    var fieldValues: [[String: Int32]] = []
    /// The value id of each pool for each field (-1: missing): index field * poolCount + pool.
    var poolValue: [Int32] = []

    enum Kind: UInt8 { case fixed, unique, cluster, groupBy, maxPer }
    /// One constraint of one group (counting), or one constraint's precomputed verdict per value (fixed).
    struct State {
        var kind: Kind
        var field: Int
        var parameter: Int32
        var base: Int  // into `counts` (counting) or `verdicts` (fixed)
        var groups: Int32 = 0
        var minimum: Int32 = 0
        var first: Int32 = -1
        var above: Int32 = 0
        var quota: Int32 = 0
        var remainder: Int32 = 0
        var missingPasses = false
    }
    var states: [State] = []
    var stateConstraints: [PlacementConstraint] = []
    var counts: [Int32] = []
    var verdicts: [Bool] = []
    /// How many values of a counting state have each count (for the minimum), by state.
    var histograms: [[Int32]] = []
    var taskStates: [[Int]] = []
    /// The counting states of each task (fixed ones are applied once per class).
    var taskCountingStates: [[Int]] = []
    /// Tasks with the same demand and the same fixed constraints share a class and its viable pools:
    /// pools whose role and fixed constraints fit and whose amounts still fit. Amounts only shrink during a
    /// batch, so a pool that stops fitting never fits again.
    struct ClassKey: Hashable {
        var demand: Int
        var fixed: [Int]
    }
    var taskClass: [Int] = []
    /// A pool and its strategy score for a class.
    struct Candidate {
        var score: Double
        var pool: Int32
    }
    /// A class's viable pools, best first, as of `syncedAt` entries of the placement log.
    struct Ranking {
        var order: [Candidate]
        var syncedAt: Int
    }
    var classRanking: [Ranking?] = []
    /// The pool of every placement so far, in order: the pools whose amounts changed.
    var placementLog: [Int32] = []
    var classFixed: [[Int]] = []
    var groupStates: [String: [Int]] = [:]

    init(offers: [Offer], tasks: [TaskRequest], running: [RunningTask]) {
        self.offers = offers
        self.tasks = tasks
        self.buildPools()
        self.buildDemands()
        self.buildConstraints(running: running)
    }

    var poolCount: Int { self.pools.count }
    var nameCount: Int { self.names.count }

    func nameID(_ name: String) -> Int? { self.names[name] }

    mutating func intern(_ name: String) -> Int {
        if let id = self.names[name] { return id }
        let id = self.names.count
        self.names[name] = id
        return id
    }

    mutating func buildPools() {
        var poolByKey: [String: Int] = [:]
        for (index, offer) in self.offers.enumerated() {
            let role = offer.allocationRole
            let key = "\(offer.agentID.value.utf8.count):\(offer.agentID.value)|\(role ?? "")|\(role == nil)"
            if let pool = poolByKey[key] {
                self.poolOffers[pool].append(index)
            } else {
                poolByKey[key] = self.poolOffers.count
                self.poolOffers.append([index])
                self.poolSites.append(AgentSite(offer: offer))
            }
        }
        for members in self.poolOffers {
            var resources: [(Resource, Int)] = []
            for (local, offer) in members.enumerated() {
                for resource in self.offers[offer].resources { resources.append((resource, local)) }
            }
            let pool = CarvePool(resources, role: self.offers[members[0]].allocationRole)
            for entry in pool.entries where entry.carvable { _ = self.intern(entry.name) }
            self.pools.append(pool)
            self.usedOffers.append(Array(repeating: false, count: members.count))
        }
    }

    mutating func buildDemands() {
        var byDemand: [ResourceDemand: Int] = [:]
        for task in self.tasks {
            if let index = byDemand[task.demand] {
                self.taskDemand.append(index)
                continue
            }
            var demand = Demand(needs: [], bucketMask: 0, role: task.demand.role)
            do {
                let compiled = try CompiledDemand(task.demand)
                demand.compiled = compiled
                for bucket in compiled.buckets { demand.bucketMask |= 1 << bucket }
                var needs: [Int: Need] = [:]
                for (name, amount) in compiled.scalars {
                    let id = self.intern(name)
                    needs[id, default: Need(name: id, amount: 0, scalar: true)].amount += amount
                }
                for (name, count) in compiled.counts {
                    let id = self.intern(name)
                    needs[id, default: Need(name: id, amount: 0, scalar: false)].amount += Int64(clamping: count)
                }
                for (name, values) in compiled.numbers {
                    let id = self.intern(name)
                    needs[id, default: Need(name: id, amount: 0, scalar: false)].amount += Int64(values.count)
                }
                for (name, values) in compiled.items {
                    let id = self.intern(name)
                    needs[id, default: Need(name: id, amount: 0, scalar: false)].amount += Int64(values.count)
                }
                demand.needs = needs.values.sorted { $0.name < $1.name }
            } catch {
                demand.error = error
            }
            byDemand[task.demand] = self.demands.count
            self.taskDemand.append(self.demands.count)
            self.demands.append(demand)
        }
        let slots = self.poolCount * self.nameCount
        self.available = Array(repeating: 0, count: slots * 4)
        self.capacity = Array(repeating: 0, count: slots)
        self.usedFraction = Array(repeating: 0, count: slots)
        self.inverseCapacity = Array(repeating: 0, count: slots)
        for pool in 0..<self.poolCount {
            self.refreshAvailable(pool)
            for name in 0..<self.nameCount {
                let slot = pool * self.nameCount + name
                var total: Int64 = 0
                for bucket in 0..<4 { total &+= self.available[slot * 4 + bucket] }
                self.capacity[slot] = total
                self.inverseCapacity[slot] = total > 0 ? 1 / Double(total) : 0
            }
        }
    }

    /// Recomputes the pool's available amounts from its entries.
    mutating func refreshAvailable(_ pool: Int) {
        let base = pool * self.nameCount * 4
        for index in base..<(base + self.nameCount * 4) { self.available[index] = 0 }
        for entry in self.pools[pool].entries where entry.carvable {
            guard let name = self.names[entry.name] else { continue }
            let amount: Int64
            switch entry.type {
            case .scalar: amount = entry.fixed
            case .ranges: amount = Int64(clamping: entry.count)
            case .set: amount = Int64(entry.items.count)
            default: amount = 0
            }
            let slot = base + name * 4 + entry.bucket
            self.available[slot] =
                self.available[slot].addingReportingOverflow(amount).overflow ? .max : self.available[slot] + amount
        }
        guard !self.usedFraction.isEmpty else { return }
        for name in 0..<self.nameCount {
            let slot = pool * self.nameCount + name
            var left: Int64 = 0
            for bucket in 0..<4 { left &+= self.available[slot * 4 + bucket] }
            self.usedFraction[slot] = Double(self.capacity[slot] &- left) * self.inverseCapacity[slot]
        }
    }

    mutating func fieldID(_ field: PlacementConstraint.Field) -> Int {
        if let id = self.fields[field] { return id }
        let id = self.fields.count
        self.fields[field] = id
        self.fieldValues.append([:])
        return id
    }

    static func value(of field: PlacementConstraint.Field, at site: AgentSite) -> String? {
        switch field {
        case .hostname: return site.hostname
        case .region: return site.region
        case .zone: return site.zone
        case .attribute(let name): return site.attributes.value(of: name)?.constraintText
        }
    }

    mutating func valueID(_ field: Int, _ value: String?) -> Int32 {
        guard let value else { return -1 }
        if let id = self.fieldValues[field][value] { return id }
        let id = Int32(self.fieldValues[field].count)
        self.fieldValues[field][value] = id
        return id
    }

    mutating func buildConstraints(running: [RunningTask]) {
        // Fields, and every value of pools and running tasks.
        for task in self.tasks {
            for constraint in task.constraints { _ = self.fieldID(constraint.field) }
        }
        let fieldList = self.fields.sorted { $0.value < $1.value }.map(\.key)
        self.poolValue = Array(repeating: -1, count: fieldList.count * self.poolCount)
        for (field, key) in fieldList.enumerated() {
            for pool in 0..<self.poolCount {
                self.poolValue[field * self.poolCount + pool] = self.valueID(
                    field, Self.value(of: key, at: self.poolSites[pool]))
            }
        }
        var runningValues: [[Int32]] = []
        for task in running {
            runningValues.append(
                fieldList.enumerated().map { self.valueID($0.offset, Self.value(of: $0.element, at: task.site)) })
        }
        // Instances per group: running plus to place.
        var instances: [String: Int] = [:]
        for task in running { instances[task.group, default: 0] += 1 }
        for task in self.tasks { instances[task.group, default: 0] += 1 }

        var stateByKey: [String: [PlacementConstraint: Int]] = [:]
        var fixedByConstraint: [PlacementConstraint: Int] = [:]
        var classByKey: [ClassKey: Int] = [:]
        for task in self.tasks {
            var ids: [Int] = []
            for constraint in task.constraints {
                let field = self.fields[constraint.field] ?? 0
                let valueCount = self.fieldValues[field].count
                switch constraint.operator {
                case .like, .unlike, .equals, .cluster(.some):
                    if let id = fixedByConstraint[constraint] {
                        ids.append(id)
                        continue
                    }
                    var state = State(kind: .fixed, field: field, parameter: 0, base: self.verdicts.count)
                    var regex: Regex<AnyRegexOutput>?
                    switch constraint.operator {
                    case .like(let pattern), .unlike(let pattern): regex = try? Regex(pattern)
                    default: break
                    }
                    var verdicts = Array(repeating: false, count: valueCount)
                    for (value, id) in self.fieldValues[field] {
                        verdicts[Int(id)] = PlacementConstraint.judge(
                            constraint.operator, value: value, count: { _ in 0 }, groups: 0, minimum: 0, first: nil,
                            above: { _ in 0 }, instances: 0,
                            matches: { _, value in regex.map { (try? $0.wholeMatch(in: value)) != nil } ?? false }
                        )
                    }
                    if case .unlike = constraint.operator { state.missingPasses = true }
                    self.verdicts += verdicts
                    fixedByConstraint[constraint] = self.states.count
                    ids.append(self.states.count)
                    self.states.append(state)
                    self.stateConstraints.append(constraint)
                    self.histograms.append([])
                case .unique, .cluster(nil), .groupBy, .maxPer:
                    if let id = stateByKey[task.group]?[constraint] {
                        ids.append(id)
                        continue
                    }
                    var state = State(kind: .unique, field: field, parameter: 0, base: self.counts.count)
                    switch constraint.operator {
                    case .cluster: state.kind = .cluster
                    case .groupBy(let n):
                        state.kind = .groupBy
                        state.parameter = Int32(clamping: n)
                        if n > 0 {
                            let total = instances[task.group] ?? 0
                            state.quota = Int32(clamping: total / n)
                            state.remainder = Int32(clamping: total % n)
                        }
                    case .maxPer(let n):
                        state.kind = .maxPer
                        state.parameter = Int32(clamping: n)
                    default: break
                    }
                    self.counts += Array(repeating: 0, count: valueCount)
                    let id = self.states.count
                    stateByKey[task.group, default: [:]][constraint] = id
                    self.groupStates[task.group, default: []].append(id)
                    ids.append(id)
                    self.states.append(state)
                    self.stateConstraints.append(constraint)
                    self.histograms.append([0])
                }
            }
            self.taskStates.append(ids)
            let fixed = ids.filter { self.states[$0].kind == .fixed }
            self.taskCountingStates.append(ids.filter { self.states[$0].kind != .fixed })
            let key = ClassKey(demand: self.taskDemand[self.taskStates.count - 1], fixed: fixed)
            if let id = classByKey[key] {
                self.taskClass.append(id)
            } else {
                classByKey[key] = self.classFixed.count
                self.taskClass.append(self.classFixed.count)
                self.classFixed.append(fixed)
                self.classRanking.append(nil)
            }
        }
        for (index, task) in running.enumerated() {
            for state in self.groupStates[task.group] ?? [] {
                self.record(state: state, value: runningValues[index][self.states[state].field])
            }
        }
    }

    /// Counts one more instance with `value` in a counting state.
    mutating func record(state id: Int, value: Int32) {
        guard value >= 0 else { return }
        let slot = self.states[id].base + Int(value)
        let old = self.counts[slot]
        self.counts[slot] = old + 1
        if self.histograms[id].count <= Int(old) + 1 { self.histograms[id].append(0) }
        if old > 0 { self.histograms[id][Int(old)] -= 1 }
        self.histograms[id][Int(old) + 1] += 1
        if old == 0 {
            self.states[id].groups += 1
            self.states[id].minimum = 1
            if self.states[id].first < 0 { self.states[id].first = value }
        } else if old == self.states[id].minimum, self.histograms[id][Int(old)] == 0 {
            self.states[id].minimum = old + 1
        }
        if self.states[id].kind == .groupBy, old == self.states[id].quota { self.states[id].above += 1 }
    }

    /// Whether the state's constraint passes at the pool; the hot path.
    @inline(__always)
    func passes(state id: Int, pool: Int) -> Bool {
        let state = self.states[id]
        let value = self.poolValue[state.field * self.pools.count + pool]
        guard value >= 0 else { return state.missingPasses }
        switch state.kind {
        case .fixed:
            return self.verdicts[state.base + Int(value)]
        case .unique:
            return self.counts[state.base + Int(value)] == 0
        case .maxPer:
            return self.counts[state.base + Int(value)] < state.parameter
        case .cluster:
            return state.first < 0 || state.first == value
        case .groupBy:
            let mine = self.counts[state.base + Int(value)]
            if state.parameter == 0 { return mine == 0 || mine == state.minimum }
            if mine == 0 { return state.groups < state.parameter }
            return mine < state.quota || (mine == state.quota && state.above < state.remainder)
        }
    }

    /// Whether the pool's amounts can hold the demand (ignoring which static numbers and items exactly).
    @inline(__always)
    func fits(_ demand: Demand, pool: Int) -> Bool {
        let base = pool * self.nameCount
        for need in demand.needs {
            let slot = (base + need.name) * 4
            var total: Int64
            switch demand.bucketMask {
            case 0b0011: total = self.available[slot] &+ self.available[slot + 1]
            case 0b0001: total = self.available[slot]
            case 0b0010: total = self.available[slot + 1]
            default:
                total = 0
                var mask = demand.bucketMask
                var bucket = 0
                while mask != 0 {
                    if mask & 1 != 0 { total &+= self.available[slot + bucket] }
                    mask >>= 1
                    bucket += 1
                }
            }
            if total < need.amount { return false }
        }
        return true
    }

    /// The shortfalls read from the pool's amounts, or `nil` when only a trial carve can tell (static
    /// numbers or set items, whose exact values matter).
    func shortfalls(_ demand: Demand, pool: Int) -> [Shortfall]? {
        guard let compiled = demand.compiled, compiled.numbers.isEmpty, compiled.items.isEmpty else { return nil }
        var result: [Shortfall] = []
        let base = pool * self.nameCount
        func usable(_ name: String) -> Int64 {
            guard let id = self.names[name] else { return 0 }
            var total: Int64 = 0
            for bucket in compiled.buckets { total &+= self.available[(base + id) * 4 + bucket] }
            return total
        }
        for (name, amount) in compiled.scalars {
            let available = usable(name)
            if available < amount {
                result.append(
                    Shortfall(
                        name: name,
                        kind: .scalar(
                            wanted: FixedScalar(thousandths: amount).doubleValue,
                            available: FixedScalar(thousandths: available).doubleValue
                        )
                    )
                )
            }
        }
        for (name, count) in compiled.counts {
            let available = UInt64(clamping: usable(name))
            if available < count {
                result.append(Shortfall(name: name, kind: .count(wanted: count, available: available)))
            }
        }
        return result.isEmpty ? nil : result
    }

    /// The bin-packing fitness: (used + request) / capacity, averaged over the scalar needs.
    @inline(__always)
    func fitness(_ demand: Demand, pool: Int) -> Double {
        let base = pool * self.nameCount
        var sum = 0.0
        var terms = 0
        for need in demand.needs where need.scalar {
            let slot = base + need.name
            let inverse = self.inverseCapacity[slot]
            guard inverse > 0 else { continue }
            sum += self.usedFraction[slot] + need.doubleAmount * inverse
            terms += 1
        }
        return terms == 0 ? 0 : sum / Double(terms)
    }

    mutating func run(strategy: PlacementStrategy, portPolicy: PortPolicy) -> ([AgentPlacement], [UnplacedTask]) {
        var placedByPool: [[PlacedTask]] = Array(repeating: [], count: self.poolCount)
        var poolOrder: [Int] = []
        var unplaced: [UnplacedTask] = []
        let poolRoles = self.pools.map(\.role)
        let binPacking = strategy == .binPacking
        var excluded: [Int] = []
        var explained: (taskClass: Int, states: [Int], log: Int, rejections: [OfferRejection])?

        func better(_ a: Candidate, _ b: Candidate) -> Bool {
            if a.score != b.score { return binPacking ? a.score > b.score : a.score < b.score }
            return a.pool < b.pool
        }

        for (taskIndex, task) in self.tasks.enumerated() {
            let demand = self.demands[self.taskDemand[taskIndex]]
            let stateIDs = self.taskCountingStates[taskIndex]
            let taskClass = self.taskClass[taskIndex]
            excluded.removeAll(keepingCapacity: true)
            var placed = false
            if let compiled = demand.compiled {
                var ranking = self.classRanking[taskClass] ?? Ranking(order: [], syncedAt: -1)
                self.classRanking[taskClass] = nil
                let changed = ranking.syncedAt < 0 ? Int.max : self.placementLog.count - ranking.syncedAt
                if changed > max(8, ranking.order.count / 4) {
                    // (Re)build: every pool whose role and fixed constraints fit and whose amounts fit, best first.
                    let members = ranking.syncedAt < 0 ? nil : Set(ranking.order.map(\.pool))
                    ranking.order.removeAll(keepingCapacity: true)
                    for pool in 0..<self.poolCount {
                        if let members, !members.contains(Int32(pool)) { continue }
                        if members == nil {
                            if let role = demand.role, poolRoles[pool] != role { continue }
                            guard self.classFixed[taskClass].allSatisfy({ self.passes(state: $0, pool: pool) }) else {
                                continue
                            }
                        }
                        guard self.fits(demand, pool: pool) else { continue }
                        ranking.order.append(Candidate(score: self.fitness(demand, pool: pool), pool: Int32(pool)))
                    }
                    ranking.order.sort(by: better)
                } else if changed > 0 {
                    // Only the pools placed on since the last look changed: move them to their new rank.
                    for index in ranking.syncedAt..<self.placementLog.count {
                        let pool = self.placementLog[index]
                        guard var at = ranking.order.firstIndex(where: { $0.pool == pool }) else { continue }
                        guard self.fits(demand, pool: Int(pool)) else {
                            ranking.order.remove(at: at)
                            continue
                        }
                        // Move it to its new rank (usually near where it was).
                        ranking.order[at].score = self.fitness(demand, pool: Int(pool))
                        while at > 0, better(ranking.order[at], ranking.order[at - 1]) {
                            ranking.order.swapAt(at, at - 1)
                            at -= 1
                        }
                        while at + 1 < ranking.order.count, better(ranking.order[at + 1], ranking.order[at]) {
                            ranking.order.swapAt(at, at + 1)
                            at += 1
                        }
                    }
                }
                ranking.syncedAt = self.placementLog.count
                while !placed {
                    // The first candidate, in rank order, that still fits and meets the counting constraints.
                    var best = -1
                    var gone: [Int] = []
                    if self.exhaustive {
                        best = self.bestByScan(taskIndex, demand, excluded: excluded, better: better)
                    } else {
                        for (position, candidate) in ranking.order.enumerated() {
                            let pool = Int(candidate.pool)
                            guard self.fits(demand, pool: pool) else {
                                gone.append(position)
                                continue
                            }
                            var ok = true
                            for id in stateIDs where !self.passes(state: id, pool: pool) {
                                ok = false
                                break
                            }
                            guard ok, excluded.isEmpty || !excluded.contains(pool) else { continue }
                            best = pool
                            break
                        }
                    }
                    for position in gone.reversed() { ranking.order.remove(at: position) }
                    guard best >= 0 else { break }
                    var random = Self.random(portPolicy, task: taskIndex)
                    do {
                        let (pieces, numbers) = try self.pools[best].carve(compiled, random: &random, offer: nil)
                        for (index, entryOffer) in self.pools[best].lastUsedOffers.enumerated() where entryOffer {
                            self.usedOffers[best][index] = true
                        }
                        self.refreshAvailable(best)
                        self.placementLog.append(Int32(best))
                        for id in self.groupStates[task.group] ?? [] {
                            self.record(state: id, value: self.poolValue[self.states[id].field * self.poolCount + best])
                        }
                        if placedByPool[best].isEmpty { poolOrder.append(best) }
                        placedByPool[best].append(PlacedTask(id: task.id, resources: pieces, numbers: numbers))
                        placed = true
                    } catch {
                        excluded.append(best)
                    }
                }
                self.classRanking[taskClass] = ranking
            }
            if !placed {
                // Consecutive unplaced tasks of one class and group, with nothing placed in between, are
                // refused for the same reasons.
                if let cached = explained, cached.taskClass == taskClass, cached.states == stateIDs,
                    cached.log == self.placementLog.count
                {
                    unplaced.append(UnplacedTask(id: task.id, rejections: cached.rejections))
                } else {
                    let rejections = self.explain(taskIndex, demand, portPolicy: portPolicy)
                    explained = (taskClass, stateIDs, self.placementLog.count, rejections)
                    unplaced.append(UnplacedTask(id: task.id, rejections: rejections))
                }
            }
        }

        let agents = poolOrder.map { pool in
            let members = self.poolOffers[pool]
            let first = self.offers[members[0]]
            return AgentPlacement(
                agentID: first.agentID,
                hostname: first.hostname,
                role: self.pools[pool].role,
                offerIDs: members.enumerated().filter { self.usedOffers[pool][$0.offset] }.map {
                    self.offers[$0.element].id
                },
                tasks: placedByPool[pool]
            )
        }
        return (agents, unplaced)
    }

    /// Scores every pool afresh instead of keeping rankings (tests compare the two).
    var exhaustive = false

    /// The best pool by a scan of every pool, or -1.
    func bestByScan(_ taskIndex: Int, _ demand: Demand, excluded: [Int], better: (Candidate, Candidate) -> Bool) -> Int
    {
        var best: Candidate?
        for pool in 0..<self.poolCount {
            if let role = demand.role, self.pools[pool].role != role { continue }
            guard self.fits(demand, pool: pool), !excluded.contains(pool),
                self.taskStates[taskIndex].allSatisfy({ self.passes(state: $0, pool: pool) })
            else { continue }
            let candidate = Candidate(score: self.fitness(demand, pool: pool), pool: Int32(pool))
            if best.map({ better(candidate, $0) }) ?? true { best = candidate }
        }
        return best.map { Int($0.pool) } ?? -1
    }

    static func random(_ policy: PortPolicy, task: Int) -> SplitMix64? {
        guard case .randomConsecutive(let seed) = policy else { return nil }
        var mixer = SplitMix64(seed: seed ^ (UInt64(task) &* 0x9E37_79B9_7F4A_7C15))
        return SplitMix64(seed: mixer.next())
    }

    /// The reason each offer refuses the task, as things stand.
    func explain(_ taskIndex: Int, _ demand: Demand, portPolicy: PortPolicy) -> [OfferRejection] {
        var reasons: [RejectionReason?] = Array(repeating: nil, count: self.offers.count)
        for pool in 0..<self.poolCount {
            let reason: RejectionReason
            if let error = demand.error {
                reason = .resources(error)
            } else if let role = demand.role, self.pools[pool].role != role {
                reason = .resources(.roleMismatch(offered: self.pools[pool].role, wanted: role))
            } else if let failing = self.taskStates[taskIndex].first(where: { !self.passes(state: $0, pool: pool) }) {
                reason = .constraint(self.stateConstraints[failing])
            } else if !self.fits(demand, pool: pool), let shortfalls = self.shortfalls(demand, pool: pool) {
                reason = .resources(.insufficient(shortfalls))
            } else if let compiled = demand.compiled {
                var trial = self.pools[pool]
                var random = Self.random(portPolicy, task: taskIndex)
                do {
                    _ = try trial.carve(compiled, random: &random, offer: nil)
                    continue
                } catch {
                    reason = .resources(error)
                }
            } else {
                continue
            }
            for offer in self.poolOffers[pool] { reasons[offer] = reason }
        }
        return reasons.enumerated().compactMap { offer, reason in
            reason.map { OfferRejection(offerID: self.offers[offer].id, reason: $0) }
        }
    }
}
