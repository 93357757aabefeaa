import ArgumentParser
import Foundation
import MesosCore
import MesosResources

/// `place`: the placement engine alone, on one thread: synthetic offers and tasks, seeded.
struct Place: BenchMode {
    static let configuration = CommandConfiguration(
        abstract: "Place N synthetic tasks (3 resources + ports, 2 constraints each) on M synthetic offers."
    )

    @Option(help: "Tasks to place.")
    var tasks = 10_000

    @Option(help: "Offers to place them on.")
    var offers = 1_000

    @Option(help: "Timed runs; the median is reported.")
    var runs = 5

    @Option(help: "Seed of the synthetic data.")
    var seed: UInt64 = 1

    func runBenchmark() async throws {
        guard self.tasks > 0, self.offers > 0, self.runs > 0 else {
            throw BenchError("--tasks, --offers and --runs must be positive")
        }
        var random = SplitMix64(seed: self.seed)
        let offers = Self.makeOffers(self.offers, random: &random)
        let requests = try Self.makeTasks(self.tasks, random: &random)
        let running = (0..<(self.tasks / 100)).map { index in
            RunningTask(group: "app-\(index % 50)", site: AgentSite(offer: offers[(index * 7) % offers.count]))
        }
        let agents = Set(offers.map(\.agentID.value)).count
        say(
            "place: offers=\(offers.count) agents=\(agents) tasks=\(requests.count) running=\(running.count) "
                + "constraints=rack:GROUP_BY:20,hostname:MAX_PER:3 seed=\(self.seed)"
        )

        let clock = ContinuousClock()
        // The trivial reference: read every resource and attribute of every offer once.
        var checksum = 0.0
        var referenceTimes: [Double] = []
        for _ in 0..<self.runs {
            let start = clock.now
            for offer in offers {
                for resource in offer.resources {
                    checksum += resource.scalar.value + Double(resource.ranges.range.count)
                }
                checksum += Double(offer.attributes.count + offer.hostname.utf8.count)
            }
            referenceTimes.append(Measure.seconds(clock.now - start))
        }

        var results: [(strategy: PlacementStrategy, seconds: Double, plan: PlacementPlan)] = []
        for strategy in [PlacementStrategy.spreading, .binPacking] {
            var times: [Double] = []
            var last: PlacementPlan?
            for _ in 0..<self.runs {
                let start = clock.now
                let plan = PlacementPlan(placing: requests, on: offers, running: running, strategy: strategy)
                times.append(Measure.seconds(clock.now - start))
                last = plan
            }
            guard let plan = last else { throw BenchError("no run") }
            results.append((strategy, Self.median(times), plan))
        }
        let reference = Self.median(referenceTimes)
        for (strategy, seconds, plan) in results {
            let ports = plan.agents.reduce(0) { $0 + $1.tasks.reduce(0) { $0 + $1.ports.count } }
            let combined = plan.agents.filter { $0.offerIDs.count > 1 }.count
            let reasons = plan.unplaced.first?.rejections.first.map { " e.g. \($0.offerID.value): \($0.reason)" } ?? ""
            say(
                "  \(strategy): placed=\(plan.placedCount) unplaced=\(plan.unplaced.count) accepts=\(plan.agents.count) "
                    + "combined_accepts=\(combined) ports=\(ports) median_ms=\(fmt(seconds * 1000, 2))\(reasons)"
            )
        }
        let binPacking = results[results.count - 1]
        say(
            "  reference (read every offer once): median_us=\(fmt(reference * 1e6, 1)) "
                + "ratio=\(fmt(binPacking.seconds / max(reference, 1e-9), 0))x (checksum \(fmt(checksum, 0)))"
        )
        say(
            "elapsed_ms=\(fmt(binPacking.seconds * 1000, 2)) "
                + "placements_per_s=\(fmt(Double(binPacking.plan.placedCount) / binPacking.seconds, 0))"
        )
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted[sorted.count / 2]
    }

    /// Offers over 85 % as many agents (so some agents have two offers, for the web role or the batch
    /// role), with cpus, mem, disk and ports, rack and zone attributes, and some resources reserved to web.
    static func makeOffers(_ count: Int, random: inout SplitMix64) -> [Offer] {
        let agentCount = max(1, count * 85 / 100)
        var offers: [Offer] = []
        offers.reserveCapacity(count)
        for index in 0..<count {
            let agent = index % agentCount
            let role = index >= agentCount && index % 2 == 0 ? "batch" : "web"
            var offer = Offer()
            offer.id = OfferID("offer-\(index)")
            offer.agentID = AgentID("agent-\(agent)")
            offer.hostname = "host-\(agent).example"
            offer.allocationInfo.role = role
            var resources = [
                Resource.scalar("cpus", Double(Int.random(in: 2...12, using: &random) * 2), role: role),
                Resource.scalar("mem", Double(Int.random(in: 4...64, using: &random) * 512), role: role),
                Resource.scalar("disk", Double(Int.random(in: 10...100, using: &random) * 1024), role: role),
            ]
            let base = UInt64(31000 + Int.random(in: 0...100, using: &random) * 10)
            resources.append(
                Resource.ranges("ports", [base...(base + UInt64(Int.random(in: 20...200, using: &random)))], role: role)
            )
            if role == "web", Int.random(in: 0...3, using: &random) == 0 {
                var reserved = Resource.scalar("cpus", Double(Int.random(in: 1...4, using: &random)), role: role)
                reserved.reservations = [Self.staticReservation(role)]
                resources.append(reserved)
                var reservedMem = Resource.scalar(
                    "mem", Double(Int.random(in: 1...8, using: &random) * 512), role: role)
                reservedMem.reservations = [Self.staticReservation(role)]
                resources.append(reservedMem)
            }
            offer.resources = resources
            offer.attributes = [
                Attribute(name: "rack", value: .text("rack-\(agent % 40)")),
                Attribute(name: "zone", value: .text("zone-\(agent % 3)")),
                Attribute(name: "cores", value: .scalar(Double(agent % 4 * 8 + 8))),
            ]
            offers.append(offer)
        }
        return offers
    }

    static func staticReservation(_ role: String) -> Resource.ReservationInfo {
        var entry = Resource.ReservationInfo()
        entry.type = .static
        entry.role = role
        return entry
    }

    /// Tasks in apps of 50 instances, each app with its own demand (cpus, mem, disk and 1–3 ports) and the
    /// constraints `rack:GROUP_BY:20` and `hostname:MAX_PER:3`; one app in ten runs on the batch role.
    static func makeTasks(_ count: Int, random: inout SplitMix64) throws -> [TaskRequest] {
        let constraints = try PlacementConstraint.parseList(#"[["rack","GROUP_BY","20"],["hostname","MAX_PER","3"]]"#)
        var demands: [ResourceDemand] = []
        for app in 0..<max(1, (count + 49) / 50) {
            var demand = try ResourceDemand(
                parsing: "cpus:\(Double(Int.random(in: 1...8, using: &random)) / 4);"
                    + "mem:\(Int.random(in: 1...16, using: &random) * 128);disk:\(Int.random(in: 1...8, using: &random) * 256)",
                ports: Int.random(in: 1...3, using: &random)
            )
            if app % 10 == 9 { demand.role = "batch" }
            demands.append(demand)
        }
        return (0..<count).map { index in
            let app = index / 50
            return TaskRequest(id: "task-\(index)", group: "app-\(app)", demand: demands[app], constraints: constraints)
        }
    }
}
