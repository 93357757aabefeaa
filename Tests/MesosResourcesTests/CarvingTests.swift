import MesosCore
import MesosResources
import Testing

private let web = [reservation("web", dynamic: false)]

/// TOOLKIT.md §6, T6: carving task resources from an offer.
@Suite struct T6CarvingTests {
    /// Offer `@web`: `cpus(*)1.5, cpus([web])2, mem(*)1024, ports(*)[31000-31009]`.
    let offer = Resources([
        scalar("cpus", 1.5, allocated: "web"),
        scalar("cpus", 2, reservations: web, allocated: "web"),
        scalar("mem", 1024, allocated: "web"),
        {
            var r = ranges("ports", [31000...31009])
            r.allocationInfo.role = "web"
            return r
        }(),
    ])

    @Test func carvesUnreservedFirstThenReserved() throws {
        let carving = try offer.carving(ResourceDemand(cpus: 3, mem: 512))
        #expect(carving.resources.count == 3)
        #expect(carving.resources[0].isMesosEqual(to: scalar("cpus", 1.5, allocated: "web")))
        #expect(carving.resources[1].isMesosEqual(to: scalar("cpus", 1.5, reservations: web, allocated: "web")))
        #expect(carving.resources[2].isMesosEqual(to: scalar("mem", 512, allocated: "web")))
        let leftover = Resources([
            scalar("cpus", 0.5, reservations: web, allocated: "web"),
            scalar("mem", 512, allocated: "web"),
            {
                var r = ranges("ports", [31000...31009])
                r.allocationInfo.role = "web"
                return r
            }(),
        ])
        #expect(carving.remaining == leftover, "\(carving.remaining)")
        #expect(carving.ports.isEmpty)
    }

    @Test func theOfferAPIKeepsTheWireFormat() throws {
        // Pre-refinement form, as the real master sends it to a framework without RESERVATION_REFINEMENT.
        var reserved = Resource.scalar("cpus", 2, role: "web")
        reserved.role = "web"
        let offer = makeOffer("o1", agent: "a1", resources: [scalar("cpus", 1.5), reserved, scalar("mem", 1024)])
        let carving = try offer.carving(ResourceDemand(cpus: 3, mem: 600))
        #expect(carving.resources.map(\.role) == ["*", "web", "*"])
        #expect(carving.resources[1].hasRole && carving.resources[1].reservations.isEmpty)
        #expect(carving.resources.allSatisfy { $0.allocationInfo.role == "web" })
        #expect(carving.resources.map(\.scalar.value) == [1.5, 1.5, 600])
        #expect(try offer.resourceView.checkingLaunch(of: carving.resources, allocationRole: "web").scalar("cpus") == 3)
    }

    @Test func reservedFirstAndOnlyPolicies() throws {
        var demand = ResourceDemand(cpus: 1)
        demand.reservation = .reservedFirst
        #expect(try offer.carving(demand).resources.map(\.reservations.count) == [1])
        demand.reservation = .unreservedOnly
        demand.scalars["cpus"] = 2
        #expect(throws: CarveError.insufficient([Shortfall(name: "cpus", kind: .scalar(wanted: 2, available: 1.5))])) {
            try offer.carving(demand)
        }
        demand.reservation = .reservedOnly
        #expect(try offer.carving(demand).resources.map(\.reservations.count) == [1])
    }

    @Test func aSinglePieceLargerThanAnyEntryIsNotContained() {
        #expect(throws: ResourcesError.self) {
            try offer.checkingLaunch(of: [scalar("cpus", 3, allocated: "web")], allocationRole: "web")
        }
        do {
            _ = try offer.checkingLaunch(of: [scalar("cpus", 3, allocated: "web")], allocationRole: "web")
        } catch {
            #expect(error.code == .notContained)
        }
    }

    @Test func aPieceOfAnotherRoleIsRejected() {
        do {
            _ = try offer.checkingLaunch(of: [scalar("cpus", 1, allocated: "db")], allocationRole: "web")
            Issue.record("accepted a piece allocated to db")
        } catch {
            #expect(error.code == .roleMismatch)
        }
    }

    @Test func aPieceWithoutAllocationInfoIsAllocatedFirst() throws {
        let task = try offer.checkingLaunch(of: [scalar("cpus", 1), scalar("mem", 100)], allocationRole: "web")
        #expect(task.combined.allSatisfy { $0.allocationInfo.role == "web" })
        #expect(task.scalar("cpus") == 1)
    }

    @Test func revocableAndNormalCpusAreRejected() {
        let offer = self.offer + Resources([scalar("cpus", 4, allocated: "web", revocable: true)])
        do {
            _ = try offer.checkingLaunch(
                of: [scalar("cpus", 1, allocated: "web"), scalar("cpus", 1, allocated: "web", revocable: true)],
                allocationRole: "web"
            )
            Issue.record("accepted mixed revocable cpus")
        } catch {
            #expect(error.code == .invalidResource)
        }
        // Carving never mixes them: a revocable demand uses only revocable pieces.
        var demand = ResourceDemand(cpus: 5)
        #expect(throws: CarveError.self) { try offer.carving(demand) }
        demand.scalars["cpus"] = 4
        demand.revocable = true
        let carving = try? offer.carving(demand)
        #expect(carving?.resources.count == 1 && carving?.resources.first?.hasRevocable == true)
    }

    @Test func shortfallNamesEveryShortResource() {
        #expect(
            throws: CarveError.insufficient([
                Shortfall(name: "cpus", kind: .scalar(wanted: 4, available: 3.5)),
                Shortfall(name: "gpus", kind: .scalar(wanted: 1, available: 0)),
                Shortfall(name: "ports", kind: .count(wanted: 11, available: 10)),
            ])
        ) {
            try offer.carving(ResourceDemand(cpus: 4, mem: 100, gpus: 1, ports: 11))
        }
        let error = CarveError.insufficient([Shortfall(name: "cpus", kind: .scalar(wanted: 4, available: 3.5))])
        #expect(error.description == "cpus short by 0.5 (wanted 4, usable 3.5)")
    }

    @Test func roleAndDemandChecks() {
        #expect(throws: CarveError.roleMismatch(offered: "web", wanted: "db")) {
            try offer.carving(ResourceDemand(cpus: 1, role: "db"))
        }
        #expect(throws: CarveError.self) { try offer.carving(ResourceDemand(cpus: -1)) }
        #expect(throws: CarveError.self) { try offer.carving(ResourceDemand(gpus: 0.5)) }
        #expect(throws: CarveError.self) { try offer.carving(ResourceDemand(cpus: .nan)) }
        #expect(throws: CarveError.invalidDemand("the demand asks for no resources")) {
            try offer.carving(ResourceDemand())
        }
    }

    @Test func demandFromText() throws {
        let demand = try ResourceDemand(parsing: "cpus:1.5;mem:600;ports:[8080-8081]", ports: 2)
        #expect(demand.scalars == ["cpus": 1.5, "mem": 600])
        #expect(demand.staticPorts == [8080, 8081])
        #expect(demand.ports == 2)
        #expect(throws: ResourcesParseError.self) { try ResourceDemand(parsing: "mem:1;cpus(web):1") }
        #expect((try? ResourceDemand(parsing: "mem:1;cpus(web):1")) == nil)
        do {
            _ = try ResourceDemand(parsing: "mem:1;cpus(web):1")
        } catch {
            #expect(error.offset == 10)
        }
        #expect(throws: ResourcesParseError.self) { try ResourceDemand(parsing: "cpus:") }
        #expect(throws: ResourcesParseError.self) { try ResourceDemand(parsing: "ports:[1-100000]") }
    }

    @Test func demandsAddUpForATaskAndItsExecutor() throws {
        var task = try ResourceDemand(parsing: "cpus:1;mem:128;ports:[31005-31005]", ports: 1)
        task.role = "web"
        let executor = try ResourceDemand(parsing: "cpus:0.5;mem:32")
        let both = task + executor
        #expect(both.scalars == ["cpus": 1.5, "mem": 160])
        #expect(both.staticPorts == [31005])
        #expect(both.ports == 1)
        #expect(both.role == "web")
        // What is carved for both splits into the executor's part and the task's, with nothing left over.
        let carving = try offer.carving(both)
        let forExecutor = try Resources(carving.resources).carving(executor)
        let forTask = try forExecutor.remaining.carving(task)
        #expect(forTask.ports.count == 2 && forTask.ports.contains(31005))
        #expect(forTask.remaining.isEmpty)
        #expect(throws: CarveError.self) { try Resources(forExecutor.resources).carving(task) }
    }

    @Test func packingSeveralTasks() throws {
        var left = offer
        var placed = 0
        while let carving = try? left.carving(ResourceDemand(cpus: 1, mem: 300, ports: 3)) {
            left = carving.remaining
            placed += 1
        }
        #expect(placed == 3)  // mem 1024 / 300
        #expect(left.scalar("mem") == 124)
        #expect(left.ranges("ports")?.quantity == 1)
    }
}

/// TOOLKIT.md §6, T7: ports.
@Suite struct T7PortTests {
    let offer = Resources([ranges("ports", [31000...31002, 31005...31005])])

    func carve(_ count: Int, _ fixed: [UInt64] = []) throws -> Carving {
        try offer.carving(ResourceDemand(ports: count, staticPorts: fixed))
    }

    @Test func twoDynamic() throws {
        let carving = try carve(2)
        #expect(carving.ports == [31000, 31001])
        #expect(carving.resources.map(\.ranges) == [ranges("ports", [31000...31001]).ranges])
        #expect(carving.remaining.ranges("ports") == ResourceRanges([31002...31002, 31005...31005]))
    }

    @Test func fourDynamicDropTheEntry() throws {
        let carving = try carve(4)
        #expect(carving.ports == [31000, 31001, 31002, 31005])
        #expect(carving.resources[0].ranges == ranges("ports", [31000...31002, 31005...31005]).ranges)
        #expect(carving.remaining.isEmpty)
    }

    @Test func fiveDynamicFail() {
        #expect(throws: CarveError.insufficient([Shortfall(name: "ports", kind: .count(wanted: 5, available: 4))])) {
            try carve(5)
        }
        #expect(offer.ranges("ports")?.quantity == 4)
    }

    @Test func staticAndDynamic() throws {
        let carving = try carve(1, [31005])
        #expect(Set(carving.ports) == [31005, 31000])
        #expect(carving.ports == [31005, 31000])
        #expect(carving.remaining.ranges("ports") == ResourceRanges([31001...31002]))
    }

    @Test func staticNotOffered() {
        #expect(throws: CarveError.insufficient([Shortfall(name: "ports", kind: .numbers([31003]))])) {
            try carve(0, [31003])
        }
    }

    @Test func duplicateStaticRejected() {
        #expect(throws: CarveError.invalidDemand("'ports' number 31000 is asked for twice")) {
            try carve(0, [31000, 31000])
        }
    }

    @Test func mixedOfferGivesTwoPiecesWithTheirMetadata() throws {
        let mixed = Resources([
            ranges("ports", [31000...31001]), ranges("ports", [32000...32000], reservations: web),
        ])
        let carving = try mixed.carving(ResourceDemand(ports: 3))
        #expect(carving.resources.count == 2)
        #expect(carving.resources[0].reservations.isEmpty && carving.resources[1].reservations.count == 1)
        #expect(Set(carving.ports) == [31000, 31001, 32000])
        #expect(carving.remaining.isEmpty)
    }

    @Test func seededRandomIsDeterministicAndInRange() throws {
        let wide = Resources([ranges("ports", [31000...31099, 31200...31299])])
        var seen = Set<[UInt64]>()
        for seed in UInt64(1)...20 {
            let demand = ResourceDemand(ports: 5)
            let first = try wide.carving(demand, portPolicy: .randomConsecutive(seed: seed)).ports
            let again = try wide.carving(demand, portPolicy: .randomConsecutive(seed: seed)).ports
            #expect(first == again)
            #expect(Set(first).count == 5)
            #expect(first.allSatisfy { (31000...31099).contains($0) || (31200...31299).contains($0) })
            seen.insert(first)
        }
        #expect(seen.count > 10)
        // Consecutive, wrapping from the end to the start.
        let tiny = Resources([ranges("ports", [1...3])])
        for seed in UInt64(1)...10 {
            let ports = try tiny.carving(ResourceDemand(ports: 3), portPolicy: .randomConsecutive(seed: seed)).ports
            #expect(Set(ports) == [1, 2, 3])
        }
    }
}

/// Random offers and demands: carving never yields what the offer does not hold.
@Suite struct CarvingPropertyTests {
    struct Generator {
        var random: SplitMix64
        mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &self.random) }

        mutating func offer() -> Resources {
            var list: [Resource] = [
                scalar("cpus", Double(self.int(0...2000)) / 1000, allocated: "web"),
                scalar("mem", Double(self.int(0...1024)), allocated: "web"),
            ]
            for entry in 0..<self.int(1...5) {
                let reservations: [Resource.ReservationInfo]
                switch self.int(0...3) {
                case 0: reservations = [reservation("web", dynamic: false)]
                case 1: reservations = [reservation("web", principal: "p")]
                default: reservations = []
                }
                switch self.int(0...2) {
                case 0:
                    list.append(
                        scalar("cpus", Double(self.int(1...4000)) / 1000, reservations: reservations, allocated: "web"))
                case 1:
                    list.append(scalar("mem", Double(self.int(1...4096)), reservations: reservations, allocated: "web"))
                default:
                    // Entries never overlap: an agent's port is offered once.
                    let begin = UInt64(entry * 10)
                    var resource = ranges(
                        "ports", [begin...(begin + UInt64(self.int(0...8)))], reservations: reservations)
                    resource.allocationInfo.role = "web"
                    list.append(resource)
                }
            }
            return Resources(list)
        }

        mutating func demand() -> ResourceDemand {
            var demand = ResourceDemand(
                cpus: Double(self.int(1...3000)) / 1000,
                mem: Double(self.int(0...2048)),
                ports: self.int(0...4)
            )
            if self.int(0...3) == 0 { demand.staticPorts = [UInt64(self.int(0...50))] }
            demand.reservation = [.unreservedFirst, .reservedFirst, .reservedOnly, .unreservedOnly][self.int(0...3)]
            return demand
        }
    }

    @Test(arguments: Array(UInt64(1)...400))
    func carvedPiecesComeFromTheOffer(seed: UInt64) {
        var generator = Generator(random: SplitMix64(seed: seed))
        let offer = generator.offer()
        let demand = generator.demand()
        let policy: PortPolicy = seed % 2 == 0 ? .lowestFirst : .randomConsecutive(seed: seed)
        do {
            let carving = try offer.carving(demand, portPolicy: policy)
            let carved = Resources(carving.resources)
            #expect(offer.contains(carved), "offer=\(offer) carved=\(carved)")
            #expect(carved + carving.remaining == offer, "offer=\(offer) carved=\(carved) left=\(carving.remaining)")
            #expect((carved.scalar("cpus") ?? 0) == (demand.scalars["cpus"] ?? 0).mesosFixedPoint)
            #expect((carved.scalar("mem") ?? 0) == (demand.scalars["mem"] ?? 0))
            #expect(carving.ports.count == demand.ports + demand.staticPorts.count)
            #expect(Set(carving.ports).count == carving.ports.count)
            #expect(
                carved.ranges("ports").map { p in carving.ports.allSatisfy { p.contains($0) } } ?? carving.ports.isEmpty
            )
            #expect(carving.resources.allSatisfy { $0.allocationInfo.role == "web" })
        } catch {
            guard case .insufficient(let shortfalls) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(!shortfalls.isEmpty)
            // Every shortfall is real: the usable pieces really hold less.
            let usable: Resources
            switch demand.reservation {
            case .reservedOnly: usable = offer.reserved()
            case .unreservedOnly: usable = offer.unreserved()
            default: usable = offer
            }
            for shortfall in shortfalls {
                switch shortfall.kind {
                case .scalar(let wanted, let available):
                    #expect(available == usable.scalar(shortfall.name) ?? 0)
                    #expect(available < wanted)
                case .count(let wanted, let available):
                    #expect(available < wanted)
                    #expect(available <= usable.ranges(shortfall.name)?.quantity ?? 0)
                case .numbers(let numbers):
                    #expect(numbers.allSatisfy { !(usable.ranges(shortfall.name)?.contains($0) ?? false) })
                case .items:
                    Issue.record("no sets here")
                }
            }
        }
    }

    @Test func theGeneratorProducesBothOutcomes() {
        var generator = Generator(random: SplitMix64(seed: 99))
        var carved = 0
        var short = 0
        for _ in 0..<300 {
            let offer = generator.offer()
            if (try? offer.carving(generator.demand())) != nil { carved += 1 } else { short += 1 }
        }
        #expect(carved > 30 && short > 30, "carved \(carved), short \(short)")
    }
}
