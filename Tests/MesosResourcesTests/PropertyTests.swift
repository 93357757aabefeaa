import MesosCore
import MesosResources
import Testing

/// Random resources over a few names and metadata classes. `side` picks disjoint range numbers and set items,
/// so that `(a + b) - b == a` holds for ranges and sets too (a union loses what both sides had).
struct ResourceGenerator {
    var random: SplitMix64

    mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &self.random) }

    mutating func metadata(_ resource: inout Resource, textOnly: Bool) {
        switch self.int(0...(textOnly ? 1 : 4)) {
        case 0: break
        case 1: resource.reservations = [reservation("web", dynamic: false)]
        case 2: resource.reservations = [reservation("web", principal: "p")]
        case 3: resource.reservations = [reservation("web"), reservation("web/api", principal: "p")]
        default: resource.revocable = Resource.RevocableInfo()
        }
    }

    mutating func resource(side: Int, textOnly: Bool) -> Resource {
        var resource: Resource
        switch self.int(0...3) {
        case 0, 1:
            resource = Resource.scalar(self.int(0...1) == 0 ? "cpus" : "mem", Double(self.int(1...5000)) / 1000)
        case 2:
            let base = UInt64(side * 100)
            var intervals: [ClosedRange<UInt64>] = []
            var next = base + UInt64(self.int(0...5))
            for _ in 0..<self.int(1...3) where next < base + 90 {
                let end = next + UInt64(self.int(0...6))
                intervals.append(next...end)
                next = end + 1 + UInt64(self.int(0...4))
            }
            resource = Resource.ranges("ports", intervals)
        default:
            let letters = side == 0 ? ["a", "b", "c", "d", "e", "f"] : ["g", "h", "i", "j", "k", "l"]
            var items: [String] = []
            for letter in letters where self.int(0...1) == 0 { items.append(letter) }
            resource = Resource.set("zones", items.isEmpty ? [letters[0]] : items)
        }
        self.metadata(&resource, textOnly: textOnly)
        return resource
    }

    mutating func resources(side: Int = 0, textOnly: Bool = false) -> Resources {
        let list = (0..<self.int(0...6)).map { _ in self.resource(side: side, textOnly: textOnly) }
        return (try? Resources(validating: list)) ?? Resources()
    }
}

@Suite struct PropertyTests {
    static let seeds: [UInt64] = Array(1...300)

    @Test func generatedResourcesAreValidAndNonTrivial() throws {
        var generator = ResourceGenerator(random: SplitMix64(seed: 42))
        var entries = 0
        for _ in 0..<100 {
            let list = (0..<3).map { _ in generator.resource(side: 0, textOnly: false) }
            _ = try Resources(validating: list)
            entries += Resources(list).combined.count
        }
        #expect(entries > 150)
    }

    @Test(arguments: seeds)
    func additionAndSubtractionLaws(seed: UInt64) {
        var generator = ResourceGenerator(random: SplitMix64(seed: seed))
        let a = generator.resources(side: 0)
        let b = generator.resources(side: 1)
        let c = generator.resources(side: Int.random(in: 0...1, using: &generator.random))
        #expect((a + b) - b == a, "a=\(a) b=\(b)")
        #expect(a.contains(a - b), "a=\(a) b=\(b)")
        #expect(a.contains(a - c), "a=\(a) c=\(c)")
        #expect(a + b == b + a, "a=\(a) b=\(b)")
        #expect(a + c == c + a, "a=\(a) c=\(c)")
        #expect((a + b) + c == a + (b + c), "a=\(a) b=\(b) c=\(c)")
        #expect((a + b).contains(a) && (a + b).contains(b))
        #expect(a == a && a.contains(Resources()))
    }

    @Test(arguments: seeds)
    func containsMatchesSubtractThenAdd(seed: UInt64) {
        var generator = ResourceGenerator(random: SplitMix64(seed: seed &* 7919))
        let a = generator.resources(side: 0)
        // b: sometimes a piece of a, sometimes unrelated.
        let b = Int.random(in: 0...1, using: &generator.random) == 0 ? a - generator.resources(side: 0) : generator.resources(side: 0)
        #expect(a.contains(b) == ((a - b) + b == a), "a=\(a) b=\(b)")
        if a.contains(b) {
            #expect((try? a.subtracting(b)) == a - b)
        } else {
            #expect(throws: ResourcesError.self) { try a.subtracting(b) }
        }
    }

    @Test(arguments: seeds)
    func textAndJSONRoundTrip(seed: UInt64) throws {
        var generator = ResourceGenerator(random: SplitMix64(seed: seed &+ 1_000_003))
        let textual = generator.resources(textOnly: true)
        let text = try textual.textForm()
        #expect(try Resources(parsing: text) == textual, "\(text)")
        let any = generator.resources()
        #expect(try Resources(parsing: any.jsonForm()) == any, "\(any.jsonForm())")
    }

    @Test(arguments: seeds)
    func rangeAlgebra(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        func intervals() -> [ClosedRange<UInt64>] {
            (0..<Int.random(in: 0...4, using: &random)).map { _ in
                // Near the top of UInt64 half of the time, to exercise the edges.
                let base: UInt64 = Bool.random(using: &random) ? 0 : UInt64.max - 40
                let begin = base + UInt64.random(in: 0...30, using: &random)
                return begin...(begin + UInt64.random(in: 0...(UInt64.max - begin < 9 ? UInt64.max - begin : 9), using: &random))
            }
        }
        let l = ResourceRanges(intervals()).coalesced()
        let r = ResourceRanges(intervals())
        let difference = l - r
        // Model check on the numbers themselves.
        for interval in l.intervals {
            for number in interval {
                #expect(difference.contains(number) == !r.contains(number))
            }
        }
        #expect(difference.isValid)
        #expect(l.contains(difference))
        #expect((l + r).contains(l) && (l + r).contains(r))
        #expect((l + r).quantity >= l.quantity)
        #expect(l.contains(r) == ((l - r) + r == l))
    }
}

@Suite struct RobustnessTests {
    /// Random text over the syntax's own characters: parsing either succeeds (and then prints back to an
    /// equal collection) or throws a positioned error inside the input; it never traps.
    @Test(arguments: Array(UInt64(1)...UInt64(40)))
    func randomTextNeverTraps(seed: UInt64) throws {
        var random = SplitMix64(seed: seed)
        let alphabet = Array("cpus:;()[]{}-,.0123456789 \t\"*/ab\\e{}[]:web18446744073709551616")
        for _ in 0..<250 {
            let length = Int.random(in: 0...24, using: &random)
            let text = String((0..<length).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &random)] })
            for candidate in [text, "cpus:" + text, "[" + text, "[{" + text] {
                do {
                    let parsed = try Resources(parsing: candidate)
                    #expect(try Resources(parsing: parsed.jsonForm()) == parsed, "\(candidate)")
                } catch {
                    #expect(error.offset >= 0 && error.offset <= candidate.count, "\(candidate): \(error)")
                }
            }
        }
    }

    @Test func quantitiesIgnoreMetadata() {
        let resources = Resources([
            scalar("cpus", 1), scalar("cpus", 2, reservations: [reservation("web")], allocated: "web", revocable: true),
            ranges("ports", [1...2]),
        ])
        #expect(resources.scalarQuantities == ["cpus": 3])
        #expect(resources.containsQuantities(["cpus": 3]))
        #expect(resources.containsQuantities(["cpus": 3.0004, "mem": 0]))
        #expect(!resources.containsQuantities(["cpus": 3.001]))
        #expect(!resources.containsQuantities(["mem": 1]))
        #expect(!resources.containsQuantities(["cpus": .nan]))
        let stripped = resources.strippedScalarQuantities()
        #expect(stripped == Resources([scalar("cpus", 3)]))
        #expect(stripped.combined.count == 1)
    }

    @Test func iterationRepeatsSharedCopiesAndFiltersKeepCounts() {
        let shared = disk(100, volumeID: "s1", shared: true)
        let resources = Resources([shared, shared, shared, scalar("cpus", 1), scalar("mem", 2)])
        #expect(resources.array.count == 5)
        #expect(resources.combined.count == 3)
        #expect(Resources(resources.array) == resources)
        #expect(resources.shared().sharedCount(of: shared) == 3)
        #expect(resources.nonShared().names == ["cpus", "mem"])
        #expect(resources.filtered { $0.name == "mem" } == Resources([scalar("mem", 2)]))
        #expect(resources.sharedCount(of: scalar("cpus", 1)) == 0)
    }

    @Test func reserveRequiresAFrameworkRole() throws {
        let target = Resources([scalar("cpus", 1, reservations: [reservation("eng")], allocated: "eng")])
        let offer = Resources([scalar("cpus", 2, allocated: "eng")])
        #expect(throws: ResourcesError.self) {
            try Resources.consumedByReserving(target, from: offer, frameworkRoles: ["ops"])
        }
        #expect(try Resources.consumedByReserving(target, from: offer, frameworkRoles: ["eng"]).scalar("cpus") == 1)
        let staticTarget = Resources([scalar("cpus", 1, reservations: [reservation("eng", dynamic: false)], allocated: "eng")])
        #expect(throws: ResourcesError.self) { try Resources.consumedByReserving(staticTarget, from: offer) }
        #expect(throws: ResourcesError.self) { try Resources.consumedByReserving(Resources(), from: offer) }
    }
}
