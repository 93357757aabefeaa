import MesosCore
import Testing

@testable import MesosResources

private func task(
    _ id: String, group: String = "app", cpus: Double = 1, mem: Double = 0, ports: Int = 0, _ constraints: String...
)
    -> TaskRequest
{
    TaskRequest(
        id: id,
        group: group,
        demand: ResourceDemand(cpus: cpus, mem: mem, ports: ports),
        constraints: constraints.compactMap { try? PlacementConstraint(parsing: $0) }
    )
}

private func agentOf(_ plan: PlacementPlan) -> [String: String] {
    var result: [String: String] = [:]
    for agent in plan.agents {
        for task in agent.tasks { result[task.id] = agent.agentID.value }
    }
    return result
}

@Suite struct PlacementTests {
    let small = makeOffer("o-small", agent: "small", resources: [scalar("cpus", 4), scalar("mem", 4096)])
    let large = makeOffer("o-large", agent: "large", resources: [scalar("cpus", 8), scalar("mem", 8192)])

    @Test func binPackingFillsTheFullestAgent() {
        let tasks = (1...3).map { task("t\($0)") }
        let plan = PlacementPlan(placing: tasks, on: [large, small], strategy: .binPacking)
        #expect(plan.placedCount == 3 && plan.unplaced.isEmpty)
        #expect(Set(agentOf(plan).values) == ["small"])  // 1/4 > 1/8: the small agent is fuller after placing
        #expect(plan.agents.first?.offerIDs == [OfferID("o-small")])
    }

    @Test func spreadingUsesTheEmptiestAgent() {
        let tasks = (1...3).map { task("t\($0)") }
        let plan = PlacementPlan(placing: tasks, on: [large, small], strategy: .spreading)
        let agents = agentOf(plan)
        #expect(agents["t1"] == "large" && agents["t2"] == "large")
        #expect(agents["t3"] == "small")  // large would be 3/8, small 1/4
    }

    @Test func carvedResourcesAndPorts() throws {
        let offer = makeOffer(
            "o1", agent: "a",
            resources: [scalar("cpus", 2), scalar("mem", 1024), ranges("ports", [31000...31009])]
        )
        let plan = PlacementPlan(
            placing: [task("t1", mem: 100, ports: 2), task("t2", mem: 100, ports: 2)], on: [offer])
        let placed = try #require(plan.agents.first?.tasks)
        #expect(placed.map(\.ports) == [[31000, 31001], [31002, 31003]])
        #expect(placed[0].resources.allSatisfy { $0.allocationInfo.role == "web" })
        let total = Resources(placed.flatMap(\.resources))
        #expect(offer.resourceView.contains(total))
        #expect(total.scalar("cpus") == 2 && total.scalar("mem") == 200)
        #expect(plan.agents.first?.hostname == "a.example" && plan.agents.first?.role == "web")
    }

    @Test func combinesOffersOfOneAgentAndRoleOnlyWhenNeeded() throws {
        let first = makeOffer("o1", agent: "a", resources: [scalar("cpus", 1), scalar("mem", 512)])
        let second = makeOffer("o2", agent: "a", resources: [scalar("cpus", 1), scalar("mem", 512)])
        let fits = PlacementPlan(placing: [task("t1", mem: 100)], on: [first, second])
        #expect(fits.agents.first?.offerIDs == [OfferID("o1")])

        let plan = PlacementPlan(placing: [task("big", cpus: 1.5, mem: 600)], on: [first, second])
        let agent = try #require(plan.agents.first)
        #expect(plan.agents.count == 1)
        #expect(agent.offerIDs == [OfferID("o1"), OfferID("o2")])
        let resources = try #require(agent.tasks.first?.resources)
        #expect(resources.count == 2)  // pieces with the same metadata merged across the two offers
        #expect(Resources(resources).scalar("cpus") == 1.5 && Resources(resources).scalar("mem") == 600)
        #expect((first.resourceView + second.resourceView).contains(Resources(resources)))
    }

    @Test func neverCombinesAcrossAgents() throws {
        let a = makeOffer("oa", agent: "a", resources: [scalar("cpus", 1)])
        let b = makeOffer("ob", agent: "b", resources: [scalar("cpus", 1)])
        let plan = PlacementPlan(placing: [task("t", cpus: 1.5)], on: [a, b])
        #expect(plan.placedCount == 0)
        let unplaced = try #require(plan.unplaced.first)
        #expect(unplaced.id == "t")
        #expect(unplaced.rejections.map(\.offerID) == [OfferID("oa"), OfferID("ob")])
        let short = RejectionReason.resources(
            .insufficient([Shortfall(name: "cpus", kind: .scalar(wanted: 1.5, available: 1))]))
        #expect(unplaced.rejections.allSatisfy { $0.reason == short })
    }

    @Test func neverCombinesAcrossRoles() {
        let web = makeOffer("ow", agent: "a", role: "web", resources: [scalar("cpus", 1)])
        let db = makeOffer("od", agent: "a", role: "db", resources: [scalar("cpus", 1)])
        let plan = PlacementPlan(placing: [task("t", cpus: 1.5)], on: [web, db])
        #expect(plan.placedCount == 0)
        #expect(plan.unplaced.first?.rejections.count == 2)
        // A task that names a role goes only to that role's offers.
        var demand = ResourceDemand(cpus: 1, role: "db")
        demand.reservation = .unreservedFirst
        let roleBound = PlacementPlan(placing: [TaskRequest(id: "d", demand: demand)], on: [web, db])
        #expect(roleBound.agents.first?.offerIDs == [OfferID("od")])
        #expect(roleBound.agents.first?.role == "db")
    }

    @Test func reasonsNameTheConstraintOrTheShortResource() throws {
        let r1 = makeOffer("o1", agent: "a", resources: [scalar("cpus", 1)], attributes: "rack:r1")
        let r2 = makeOffer("o2", agent: "b", resources: [scalar("cpus", 8)], attributes: "rack:r2")
        let plan = PlacementPlan(placing: [task("t", cpus: 2, "rack:IS:r1")], on: [r1, r2])
        let rejections = try #require(plan.unplaced.first?.rejections)
        #expect(rejections.count == 2)
        #expect(rejections[0].offerID == OfferID("o1"))
        #expect(rejections[0].reason.description == "cpus short by 1 (wanted 2, usable 1)")
        #expect(rejections[1].reason == .constraint(try PlacementConstraint(parsing: "rack:IS:r1")))
        #expect(rejections[1].reason.description == "constraint rack:IS:r1 not met")
    }

    @Test func uniqueCountsTasksPlacedInTheSameBatch() {
        let offers = ["a", "b"].map { makeOffer("o-\($0)", agent: $0, resources: [scalar("cpus", 8)]) }
        let tasks = (1...3).map { task("t\($0)", "hostname:UNIQUE") }
        let plan = PlacementPlan(placing: tasks, on: offers)
        #expect(plan.placedCount == 2)
        #expect(Set(agentOf(plan).values) == ["a", "b"])
        #expect(plan.unplaced.map(\.id) == ["t3"])
        #expect(
            plan.unplaced.first?.rejections.allSatisfy {
                $0.reason == .constraint(try! PlacementConstraint(parsing: "hostname:UNIQUE"))
            } == true)
        // Other groups are not counted.
        let other = PlacementPlan(placing: tasks + [task("x", group: "other", "hostname:UNIQUE")], on: offers)
        #expect(other.placedCount == 3)
    }

    @Test func runningTasksCount() {
        let offers = ["a", "b"].map { makeOffer("o-\($0)", agent: $0, resources: [scalar("cpus", 8)]) }
        let running = [RunningTask(group: "app", site: site("a.example"))]
        let plan = PlacementPlan(placing: [task("t", "hostname:UNIQUE")], on: offers, running: running)
        #expect(agentOf(plan) == ["t": "b"])
        let otherGroup = PlacementPlan(
            placing: [task("t", "hostname:UNIQUE")], on: offers,
            running: [RunningTask(group: "x", site: site("a.example"))])
        #expect(agentOf(otherGroup) == ["t": "a"])
    }

    @Test func groupBySpreadsOverRacks() {
        let offers = (1...4).map { i in
            makeOffer("o\(i)", agent: "a\(i)", resources: [scalar("cpus", 8)], attributes: "rack:r\(i <= 2 ? 1 : 2)")
        }
        for strategy in [PlacementStrategy.binPacking, .spreading] {
            let plan = PlacementPlan(
                placing: (1...6).map { task("t\($0)", "rack:GROUP_BY:2") }, on: offers, strategy: strategy)
            let agents = agentOf(plan)
            let rack1 = agents.values.filter { $0 == "a1" || $0 == "a2" }.count
            #expect(plan.placedCount == 6 && rack1 == 3, "\(strategy): \(agents)")
        }
        let maxPer = PlacementPlan(placing: (1...6).map { task("t\($0)", "rack:MAX_PER:2") }, on: offers)
        #expect(maxPer.placedCount == 4)
    }

    @Test func invalidDemandIsReportedForEveryOffer() {
        let plan = PlacementPlan(
            placing: [TaskRequest(id: "bad", demand: ResourceDemand(gpus: 0.5))], on: [small, large])
        #expect(plan.unplaced.first?.rejections.count == 2)
        #expect(
            plan.unplaced.first?.rejections.allSatisfy {
                if case .resources(.invalidDemand) = $0.reason { return true } else { return false }
            } == true)
    }

    @Test func seededRandomPortsAreDeterministic() {
        let offer = makeOffer("o", agent: "a", resources: [scalar("cpus", 8), ranges("ports", [31000...31999])])
        let tasks = (1...4).map { task("t\($0)", ports: 3) }
        let one = PlacementPlan(placing: tasks, on: [offer], portPolicy: .randomConsecutive(seed: 7))
        let two = PlacementPlan(placing: tasks, on: [offer], portPolicy: .randomConsecutive(seed: 7))
        let ports = one.agents.flatMap(\.tasks).flatMap(\.ports)
        #expect(ports == two.agents.flatMap(\.tasks).flatMap(\.ports))
        #expect(Set(ports).count == 12)
        #expect(ports != Array(31000...31011))
    }
}

/// Random batches: every placement is within its offers and meets its constraints by the reference
/// evaluation, and every constraint rejection is real.
@Suite struct PlacementPropertyTests {
    @Test(arguments: Array(UInt64(1)...60))
    func placementsHoldUp(seed: UInt64) throws {
        var random = SplitMix64(seed: seed)
        func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &random) }
        var offers: [Offer] = []
        for agent in 0..<int(2...8) {
            for copy in 0..<int(1...2) {
                let role = int(0...3) == 0 ? "db" : "web"
                var resources = [scalar("cpus", Double(int(1...8))), scalar("mem", Double(int(1...8) * 256))]
                if int(0...1) == 0 {
                    resources.append(scalar("cpus", 1, reservations: [reservation(role, dynamic: false)]))
                }
                resources.append(
                    ranges("ports", [UInt64(31000 + copy * 100)...UInt64(31000 + copy * 100 + int(0...5))]))
                offers.append(
                    makeOffer(
                        "o\(agent)-\(copy)", agent: "a\(agent)", role: role, resources: resources,
                        attributes: "rack:r\(agent % 3);cores:\(agent % 2 + 1)", zone: "z\(agent % 2)"
                    )
                )
            }
        }
        let constraintPool = [
            "hostname:UNIQUE", "rack:GROUP_BY", "rack:GROUP_BY:2", "hostname:MAX_PER:2", "rack:CLUSTER", "cores:IS:1",
            "rack:LIKE:r[01]", "rack:UNLIKE:r1", "@zone:UNIQUE", "missing:UNLIKE:x",
        ]
        var tasks: [TaskRequest] = []
        for index in 0..<int(1...24) {
            let constraints = (0..<int(0...2)).map { _ in constraintPool[int(0...(constraintPool.count - 1))] }
            tasks.append(
                TaskRequest(
                    id: "t\(index)",
                    group: "g\(int(0...2))",
                    demand: ResourceDemand(
                        cpus: Double(int(1...20)) / 10, mem: Double(int(0...4) * 128), ports: int(0...2)),
                    constraints: try constraints.map { try PlacementConstraint(parsing: $0) }
                )
            )
        }
        let running = (0..<int(0...3)).map { _ in
            let offer = offers[int(0...(offers.count - 1))]
            return RunningTask(group: "g\(int(0...2))", site: AgentSite(offer: offer))
        }
        let strategy: PlacementStrategy = seed % 2 == 0 ? .binPacking : .spreading
        let plan = PlacementPlan(placing: tasks, on: offers, running: running, strategy: strategy)

        // Resources: per agent and role, the carved total is within the offers used, all of one agent and role.
        var siteOf: [String: AgentSite] = [:]
        for agent in plan.agents {
            let used = offers.filter { agent.offerIDs.contains($0.id) }
            #expect(!used.isEmpty && used.allSatisfy { $0.agentID == agent.agentID && $0.allocationRole == agent.role })
            let offered = used.reduce(Resources()) { $0 + $1.resourceView }
            let carved = Resources(agent.tasks.flatMap(\.resources))
            #expect(offered.contains(carved), "offered \(offered) carved \(carved)")
            for placed in agent.tasks {
                siteOf[placed.id] = AgentSite(offer: used[0])
                let request = try #require(tasks.first { $0.id == placed.id })
                #expect(Resources(placed.resources).scalar("cpus") == request.demand.scalars["cpus"])
                #expect(placed.ports.count == request.demand.ports)
            }
        }
        #expect(plan.placedCount + plan.unplaced.count == tasks.count)

        // Constraints, replayed in task order with the reference evaluation.
        var placedSites: [String: [AgentSite]] = [:]
        for task in running { placedSites[task.group, default: []].append(task.site) }
        var instances: [String: Int] = [:]
        for task in running { instances[task.group, default: 0] += 1 }
        for task in tasks { instances[task.group, default: 0] += 1 }
        let unplaced = Dictionary(uniqueKeysWithValues: plan.unplaced.map { ($0.id, $0) })
        for task in tasks {
            let earlier = placedSites[task.group] ?? []
            if let site = siteOf[task.id] {
                for constraint in task.constraints {
                    #expect(
                        constraint.isSatisfied(by: site, placed: earlier, instances: instances[task.group] ?? 0),
                        "\(task.id) on \(site.hostname) breaks \(constraint)"
                    )
                }
                placedSites[task.group, default: []].append(site)
            } else {
                let rejections = try #require(unplaced[task.id]?.rejections)
                #expect(rejections.count == offers.count)
                for rejection in rejections {
                    let offer = try #require(offers.first { $0.id == rejection.offerID })
                    switch rejection.reason {
                    case .constraint(let constraint):
                        #expect(
                            !constraint.isSatisfied(
                                by: AgentSite(offer: offer), placed: earlier, instances: instances[task.group] ?? 0))
                    case .resources(let error):
                        if case .insufficient(let shortfalls) = error { #expect(!shortfalls.isEmpty) }
                    }
                }
            }
        }
    }
}

/// The placer keeps per-class rankings and updates them incrementally; a scan of every pool for every task
/// must give the same plan.
@Suite struct PlacementRankingTests {
    @Test(arguments: Array(UInt64(1)...40))
    func rankingsAgreeWithAFullScan(seed: UInt64) throws {
        var random = SplitMix64(seed: seed)
        func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &random) }
        var offers: [Offer] = []
        for index in 0..<int(5...40) {
            let agent = index % max(1, int(3...30))
            offers.append(
                makeOffer(
                    "o\(index)", agent: "a\(agent)", role: int(0...4) == 0 ? "db" : "web",
                    resources: [
                        scalar("cpus", Double(int(1...16)) / 2), scalar("mem", Double(int(1...16) * 256)),
                        ranges("ports", [31000...UInt64(31000 + int(0...6))]),
                    ],
                    attributes: "rack:r\(agent % 4)"
                )
            )
        }
        let constraints = [
            "hostname:MAX_PER:2", "rack:GROUP_BY", "rack:GROUP_BY:3", "hostname:UNIQUE", "rack:UNLIKE:r3",
        ]
        var tasks: [TaskRequest] = []
        for index in 0..<int(10...80) {
            // Apps interleave, so rankings are brought up to date after other apps' placements.
            let app = int(0...4)
            var demand = ResourceDemand(cpus: Double(app + 1) / 4, mem: Double(app * 200), ports: app % 3)
            if app == 4 { demand.role = "db" }
            tasks.append(
                TaskRequest(
                    id: "t\(index)", group: "g\(app)", demand: demand,
                    constraints: [try PlacementConstraint(parsing: constraints[app])]
                )
            )
        }
        for strategy in [PlacementStrategy.binPacking, .spreading] {
            var ranked = Placer(offers: offers, tasks: tasks, running: [])
            var scanned = Placer(offers: offers, tasks: tasks, running: [])
            scanned.exhaustive = true
            let (rankedAgents, rankedUnplaced) = ranked.run(strategy: strategy, portPolicy: .lowestFirst)
            let (scannedAgents, scannedUnplaced) = scanned.run(strategy: strategy, portPolicy: .lowestFirst)
            func summary(_ agents: [AgentPlacement]) -> [String] {
                agents.map { agent in
                    "\(agent.agentID.value)@\(agent.role ?? "-"): "
                        + agent.tasks.map { "\($0.id)\($0.ports)" }.joined(separator: ",")
                }
            }
            #expect(summary(rankedAgents) == summary(scannedAgents), "\(strategy)")
            #expect(rankedUnplaced.map(\.id) == scannedUnplaced.map(\.id))
            #expect(rankedAgents.count > 0)
        }
    }
}
