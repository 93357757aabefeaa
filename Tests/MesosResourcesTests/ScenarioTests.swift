import MesosCore
import MesosResources
import Testing

/// TOOLKIT.md §6, T1: scalars in three-decimal fixed point.
@Suite struct T1ScalarTests {
    @Test func zeroPointOnePlusZeroPointTwoIsBitIdenticalToZeroPointThree() throws {
        let sum = try #require(FixedScalar(0.1)) + #require(FixedScalar(0.2))
        #expect(sum.doubleValue.bitPattern == (0.3).bitPattern)
        #expect(0.1 + 0.2 != 0.3)  // what plain doubles give
        let resources = Resources([scalar("cpus", 0.1)]) + Resources([scalar("cpus", 0.2)])
        #expect(resources.scalar("cpus")?.bitPattern == (0.3).bitPattern)
    }

    @Test func tenTimesZeroPointOneIsOne() {
        var total = Resources()
        for _ in 0..<10 { total += Resources([scalar("cpus", 0.1)]) }
        #expect(total.scalar("cpus") == 1.0)
        var fixed = FixedScalar.zero
        for _ in 0..<10 { fixed = fixed + FixedScalar(0.1)! }
        #expect(fixed.doubleValue == 1.0)
    }

    @Test(arguments: [
        (1.5123, 1.512), (2.0015, 2.002), (0.0005, 0.001), (0.0004, 0.0), (-0.0005, -0.001), (1.0005, 1.001),
    ])
    func rounding(input: Double, expected: Double) {
        #expect(input.mesosFixedPoint == expected)
    }

    @Test func tinyScalarIsDropped() {
        #expect(Resources([scalar("cpus", 0.0004)]).isEmpty)
        #expect(!Resources([scalar("cpus", 0.0005)]).isEmpty)
    }

    @Test func equalityUsesFixedPoint() {
        #expect(Resources([scalar("cpus", 1.0001)]) == Resources([scalar("cpus", 1.0)]))
        #expect(Resources([scalar("cpus", 1.001)]) != Resources([scalar("cpus", 1.0)]))
        #expect(scalar("cpus", 1.0001).isMesosEqual(to: scalar("cpus", 1.0)))
    }

    @Test func subtractingAlmostAllLeavesNothing() {
        #expect((Resources([scalar("cpus", 1)]) - Resources([scalar("cpus", 0.9995)])).isEmpty)
    }

    @Test func subtractingMoreIsEmptyButCheckedSubtractionFails() {
        let one = Resources([scalar("cpus", 1)])
        let two = Resources([scalar("cpus", 2)])
        #expect((one - two).isEmpty)
        #expect(!one.contains(two))
        #expect(throws: ResourcesError.self) { try one.subtracting(two) }
        do {
            _ = try one.subtracting(two)
        } catch {
            #expect(error.code == .notContained)
        }
    }

    @Test func negativeScalarIsInvalid() {
        #expect(!scalar("cpus", -0.0004).isValidAsMesos)
        #expect(Resources([scalar("cpus", -0.0004)]).isEmpty)
        #expect(throws: ResourcesError.self) { try Resources(validating: [scalar("cpus", -0.0004)]) }
    }

    @Test func hugeAndNonFiniteScalarsAreErrorsNotCrashes() {
        for value in [1e16, -1e16, .infinity, -.infinity, .nan, .greatestFiniteMagnitude] {
            #expect(FixedScalar(value) == nil)
            #expect(!scalar("cpus", value).isValidAsMesos)
            #expect(throws: ResourcesError.self) { try Resources(validating: [scalar("cpus", value)]) }
            #expect(Resources([scalar("cpus", value)]).isEmpty)
        }
        #expect(throws: ResourcesParseError.self) { try Resources(parsing: "cpus:1e16") }
        #expect(throws: ResourcesParseError.self) { try Resources(parsing: "cpus:nan") }
        #expect(FixedScalar(9e15) != nil)
    }

    @Test func fixedPointArithmeticSaturates() {
        let max = FixedScalar(thousandths: .max)
        #expect((max + FixedScalar(thousandths: 1)).thousandths == .max)
        #expect((FixedScalar(thousandths: .min) - FixedScalar(thousandths: 1)).thousandths == .min)
    }

    @Test func gpusMustBeWhole() {
        #expect(!scalar("gpus", 0.5).isValidAsMesos)
        #expect(scalar("gpus", 2).isValidAsMesos)
    }
}

/// TOOLKIT.md §6, T2: range subtraction.
@Suite struct T2RangeSubtractionTests {
    @Test(arguments: [
        ([31000...32000], [31000...31000], [31001...32000]),
        ([31000...32000], [32000...32000], [31000...31999]),
        ([31000...32000], [31500...31501], [31000...31499, 31502...32000]),
        ([1...10], [3...5, 4...8], [1...2, 9...10]),
        ([1...5, 10...15], [5...10], [1...4, 11...15]),
        ([1...5, 6...10], [5...6], [1...4, 7...10]),
        ([10...20], [1...3], [10...20]),
    ] as [([ClosedRange<UInt64>], [ClosedRange<UInt64>], [ClosedRange<UInt64>])])
    func subtract(left: [ClosedRange<UInt64>], right: [ClosedRange<UInt64>], expected: [ClosedRange<UInt64>]) {
        #expect((rangeSet(left) - rangeSet(right)).intervals == expected)
        let resources = Resources([ranges("ports", left)]) - Resources([ranges("ports", right)])
        if rangeSet(right).isValid {
            #expect(resources.ranges("ports")?.intervals == rangeSet(expected).coalesced().intervals)
        } else {
            // Overlapping ranges make an invalid resource, which `Resources` drops: nothing is subtracted.
            #expect(resources == Resources([ranges("ports", left)]))
        }
    }

    @Test func subtractingACoveringRangeDropsTheEntry() {
        let left = Resources([ranges("ports", [1...10])])
        #expect((left - Resources([ranges("ports", [0...20])])).isEmpty)
    }

    @Test func edgesAtZeroAndMax() {
        let max = UInt64.max
        #expect((rangeSet([0...max]) - rangeSet([0...0])).intervals == [1...max])
        #expect((rangeSet([0...max]) - rangeSet([max...max])).intervals == [0...(max - 1)])
        #expect((rangeSet([0...max]) - rangeSet([5...max])).intervals == [0...4])
        #expect((rangeSet([0...max]) - rangeSet([0...max])).intervals.isEmpty)
        #expect((rangeSet([max...max]) - rangeSet([0...0])).intervals == [max...max])
        #expect((rangeSet([(max - 3)...max]) - rangeSet([(max - 2)...(max - 1)])).intervals == [(max - 3)...(max - 3), max...max])
        #expect(rangeSet([0...max]).quantity == max)  // saturates: 2^64 numbers
        #expect(rangeSet([1...max]).quantity == max)
    }
}

/// TOOLKIT.md §6, T3: ranges add, contain, validate.
@Suite struct T3RangeTests {
    @Test func adjacentRangesFuse() {
        #expect((rangeSet([1...5]) + rangeSet([6...10])).intervals == [1...10])
        #expect((rangeSet([5...10]) + rangeSet([1...3]) + rangeSet([4...4])).intervals == [1...10])
        let sum = Resources([ranges("ports", [5...10])]) + Resources([ranges("ports", [1...3])])
            + Resources([ranges("ports", [4...4])])
        #expect(sum.combined.count == 1)
        #expect(sum.ranges("ports")?.intervals == [1...10])
    }

    @Test func containment() {
        #expect(rangeSet([1...5, 6...10]).contains(rangeSet([4...7])))
        #expect(!rangeSet([1...5, 7...10]).contains(rangeSet([6...6])))
        #expect(Resources([ranges("ports", [1...5, 6...10])]).contains(Resources([ranges("ports", [4...7])])))
        #expect(!Resources([ranges("ports", [1...5, 7...10])]).contains(Resources([ranges("ports", [6...6])])))
    }

    @Test func equalityCoalesces() {
        #expect(rangeSet([1...10]) == rangeSet([1...5, 6...10]))
        #expect(Resources([ranges("ports", [1...10])]) == Resources([ranges("ports", [1...5, 6...10])]))
    }

    @Test func validation() {
        #expect(!rangeSet([31000...31001, 31001...31002]).isValid)
        #expect(!ranges("ports", [31000...31001, 31001...31002]).isValidAsMesos)
        #expect(rangeSet([1...5, 6...10]).isValid)
        var reversed = Resource.ranges("ports", [])
        var range = Value.Range()
        range.begin = 5
        range.end = 1
        reversed.ranges.range = [range]
        #expect(!reversed.isValidAsMesos)
        #expect(Resources([reversed]).isEmpty)
        #expect(throws: ResourcesError.self) { try Resources(validating: [reversed]) }
    }

    @Test func quantity() {
        #expect(rangeSet([31000...31009]).quantity == 10)
    }

    @Test func coalesceAtMax() {
        let max = UInt64.max
        #expect(rangeSet([(max - 1)...max, max...max, 0...0]).coalesced().intervals == [0...0, (max - 1)...max])
        #expect(rangeSet([0...max, 3...4]).coalesced().intervals == [0...max])
    }
}

/// TOOLKIT.md §6, T4: sets and combining.
@Suite struct T4SetAndCombiningTests {
    @Test func sets() {
        #expect((ResourceSet(["a", "b", "c"]) - ResourceSet(["b", "d"])) == ResourceSet(["a", "c"]))
        #expect((ResourceSet(["a", "b"]) + ResourceSet(["b", "c"])).items == ["a", "b", "c"])
        #expect(!ResourceSet(["a", "b", "c"]).contains(ResourceSet(["b", "d"])))
        #expect(ResourceSet(["a", "b"]) == ResourceSet(["b", "a"]))
        #expect(!ResourceSet(["a", "a"]).isValid)
        let ab = Resources([Resource.set("zones", ["a", "b"])])
        let ba = Resources([Resource.set("zones", ["b", "a"])])
        #expect(ab == ba)
        #expect(Resources([Resource.set("zones", ["a", "a"])]).isEmpty)
    }

    @Test func unreservedCombineAndReservedStaySeparate() {
        let resources = Resources([
            scalar("cpus", 1), scalar("cpus", 2, reservations: [reservation("web", dynamic: false)]), scalar("cpus", 0.5),
        ])
        #expect(resources.combined.count == 2)
        #expect(resources.unreserved().scalar("cpus") == 1.5)
        #expect(resources.reserved("web").scalar("cpus") == 2)
    }

    @Test func differentPrincipalsStaySeparate() {
        let resources = Resources([
            scalar("cpus", 1, reservations: [reservation("web", principal: "p1")]),
            scalar("cpus", 1, reservations: [reservation("web", principal: "p2")]),
        ])
        #expect(resources.combined.count == 2)
    }

    @Test func labelsVersusNoLabelsStaySeparate() {
        let resources = Resources([
            scalar("cpus", 1, reservations: [reservation("web", labels: [("a", "1")])]),
            scalar("cpus", 1, reservations: [reservation("web")]),
        ])
        #expect(resources.combined.count == 2)
    }

    @Test func labelsInAnotherOrderCombine() {
        let resources = Resources([
            scalar("cpus", 1, reservations: [reservation("web", labels: [("a", "1"), ("b", nil)])]),
            scalar("cpus", 1, reservations: [reservation("web", labels: [("b", nil), ("a", "1")])]),
        ])
        #expect(resources.combined.count == 1)
        #expect(resources.scalar("cpus") == 2)
        let differentValue = Resources([
            scalar("cpus", 1, reservations: [reservation("web", labels: [("a", "1")])]),
            scalar("cpus", 1, reservations: [reservation("web", labels: [("a", "2")])]),
        ])
        #expect(differentValue.combined.count == 2)
    }

    @Test func revocableStaysSeparate() {
        let resources = Resources([scalar("cpus", 1, revocable: true), scalar("cpus", 1)])
        #expect(resources.combined.count == 2)
        #expect(resources.revocable().scalar("cpus") == 1)
        #expect(resources.nonRevocable().scalar("cpus") == 1)
    }

    @Test func nonSharedVolumesWithTheSameIDStaySeparate() {
        let volume = disk(100, volumeID: "v1", containerPath: "data")
        let resources = Resources([volume, volume])
        #expect(resources.combined.count == 2)
        #expect(resources.persistentVolumes().combined.count == 2)
        // Persistent volumes are used up while checking containment.
        #expect(resources.contains(Resources([volume, volume])))
        #expect(!Resources([volume]).contains(resources))
        #expect((resources - Resources([volume])).combined.count == 1)
    }

    @Test func identicalMountDisksStaySeparate() {
        let mount = disk(1024, mountRoot: "/mnt/a")
        let resources = Resources([mount, mount])
        #expect(resources.combined.count == 2)
        // Subtractable only when equal: a smaller piece of a MOUNT disk is not contained.
        #expect(!Resources([mount]).contains(Resources([disk(512, mountRoot: "/mnt/a")])))
        #expect(Resources([mount]).contains(Resources([mount])))
    }

    @Test func identicalSharedVolumesAreCounted() {
        let shared = disk(100, volumeID: "s1", containerPath: "data", shared: true)
        let two = Resources([shared, shared])
        #expect(two.combined.count == 1)
        #expect(two.sharedCount(of: shared) == 2)
        #expect(two.shared().array.count == 2)
        let one = two - Resources([shared])
        #expect(one.sharedCount(of: shared) == 1)
        #expect(one.scalar("disk") == 100)
        #expect(two.contains(Resources([shared, shared])))
        #expect(!one.contains(Resources([shared, shared])))
        #expect((one - Resources([shared])).isEmpty)
    }

    @Test func volumesDifferingOnlyInContainerPathAreEqual() {
        let a = disk(100, volumeID: "v1", containerPath: "data")
        let b = disk(100, volumeID: "v1", containerPath: "other")
        #expect(a.isMesosEqual(to: b))
        #expect(Resources([a]) == Resources([b]))
        #expect(Resources([a]) != Resources([disk(100, volumeID: "v2", containerPath: "data")]))
    }
}

/// TOOLKIT.md §6, T5: roles and refinement.
@Suite struct T5RoleAndRefinementTests {
    @Test func allocatableToEngBackend() {
        #expect(scalar("cpus", 1).isAllocatable(to: "eng/backend"))
        #expect(scalar("cpus", 1, reservations: [reservation("eng", dynamic: false)]).isAllocatable(to: "eng/backend"))
        #expect(
            scalar("cpus", 1, reservations: [reservation("eng", dynamic: false), reservation("eng/backend")])
                .isAllocatable(to: "eng/backend")
        )
        for role in ["eng/frontend", "engineering", "eng/back"] {
            #expect(!scalar("cpus", 1, reservations: [reservation(role, dynamic: false)]).isAllocatable(to: "eng/backend"))
        }
        #expect(!scalar("cpus", 1, reservations: [reservation("eng/backend", dynamic: false)]).isAllocatable(to: "eng"))
        let all = Resources([
            scalar("cpus", 1), scalar("cpus", 2, reservations: [reservation("eng")]),
            scalar("cpus", 4, reservations: [reservation("eng/frontend")]),
        ])
        #expect(all.allocatable(to: "eng/backend").scalar("cpus") == 3)
    }

    @Test func pushPopAndToUnreserved() throws {
        let base = Resources([scalar("cpus", 2, reservations: [reservation("eng")])])
        let pushed = try base.pushingReservation(reservation("eng/backend"))
        let stack = try #require(pushed.combined.first?.reservations)
        #expect(stack.map(\.role) == ["eng", "eng/backend"])
        #expect(stack.map(\.type) == [.dynamic, .dynamic])
        #expect(pushed != base)
        #expect(try pushed.poppingReservation() == base)
        #expect(pushed.toUnreserved() == Resources([scalar("cpus", 2)]))
        #expect(pushed.toUnreserved().combined.first?.reservations.isEmpty == true)
        #expect(throws: ResourcesError.self) { try Resources([scalar("cpus", 1)]).poppingReservation() }
    }

    @Test func invalidPushes() {
        let base = Resources([scalar("cpus", 2, reservations: [reservation("eng")])])
        for entry in [reservation("eng/backend", dynamic: false), reservation("eng"), reservation("ops")] {
            #expect(throws: ResourcesError.self) { try base.pushingReservation(entry) }
        }
        #expect(throws: ResourcesError.self) { try Resources([scalar("cpus", 1)]).pushingReservation(reservation("*")) }
    }

    @Test func reserveTargetConsumesUnreservedPiece() throws {
        let target = Resources([
            scalar("cpus", 4, reservations: [reservation("eng/backend", principal: "fw")], allocated: "eng/backend")
        ])
        let offer = Resources([scalar("cpus", 8, allocated: "eng/backend")])
        let consumed = try Resources.consumedByReserving(target, from: offer, principal: "fw")
        #expect(consumed == Resources([scalar("cpus", 4, allocated: "eng/backend")]))
        #expect((offer - consumed).scalar("cpus") == 4)

        let otherOffer = Resources([scalar("cpus", 8, allocated: "eng")])
        #expect(throws: ResourcesError.self) { try Resources.consumedByReserving(target, from: otherOffer) }
        #expect(throws: ResourcesError.self) {
            try Resources.consumedByReserving(target, from: offer, principal: "someone-else")
        }
        let mismatched = Resources([
            scalar("cpus", 4, reservations: [reservation("eng/backend")], allocated: "eng")
        ])
        #expect(throws: ResourcesError.self) { try Resources.consumedByReserving(mismatched, from: offer) }
    }

    @Test(arguments: ["*", "eng", "eng/backend", "a.b", "x-y"])
    func validRoles(role: String) {
        #expect(MesosRole.isValid(role))
    }

    @Test(arguments: ["", "/eng", "eng/", "a//b", "a/./b", "a/../b", "a/*", "-a", "a/-b", "a b", "a\tb"])
    func invalidRoles(role: String) {
        #expect(!MesosRole.isValid(role))
    }

    @Test func strictSubroles() {
        #expect(MesosRole.isStrictSubrole("eng/backend", of: "eng"))
        #expect(MesosRole.isStrictSubrole("eng/backend/db", of: "eng"))
        #expect(!MesosRole.isStrictSubrole("engineering", of: "eng"))
        #expect(!MesosRole.isStrictSubrole("eng", of: "eng"))
        #expect(!MesosRole.isStrictSubrole("eng/back", of: "eng/backend"))
    }

    @Test func refinedStacksAreValidated() {
        #expect(scalar("cpus", 1, reservations: [reservation("eng", dynamic: false), reservation("eng/a/b")]).isValidAsMesos)
        #expect(!scalar("cpus", 1, reservations: [reservation("eng"), reservation("eng/a", dynamic: false)]).isValidAsMesos)
        #expect(!scalar("cpus", 1, reservations: [reservation("eng"), reservation("ops")]).isValidAsMesos)
        #expect(!scalar("cpus", 1, reservations: [reservation("*")]).isValidAsMesos)
    }

    @Test func preRefinementFormatIsNormalised() throws {
        var staticForm = Resource.scalar("cpus", 1)
        staticForm.role = "web"
        var dynamicForm = Resource.scalar("cpus", 1)
        dynamicForm.role = "web"
        dynamicForm.reservation.principal = "p"
        var unreservedForm = Resource.scalar("cpus", 1)
        unreservedForm.role = "*"
        let resources = try Resources(validating: [staticForm, dynamicForm, unreservedForm])
        #expect(resources.combined.count == 3)
        #expect(resources.reserved("web").combined.map { $0.reservations.map(\.type) }.sorted { $0[0].rawValue < $1[0].rawValue }
            == [[.static], [.dynamic]])
        #expect(resources.combined.allSatisfy { !$0.hasRole && !$0.hasReservation })
        #expect(resources.contains(staticForm))
        let back = try dynamicForm.normalizedToRefinementFormat().preRefinementFormat()
        #expect(back.role == "web" && back.reservation.principal == "p" && back.reservations.isEmpty)
        let refined = scalar("cpus", 1, reservations: [reservation("eng"), reservation("eng/a")])
        #expect(throws: ResourcesError.self) { try refined.preRefinementFormat() }
        var badDynamic = Resource.scalar("cpus", 1)
        badDynamic.reservation.principal = "p"
        #expect(throws: ResourcesError.self) { try Resources(validating: [badDynamic]) }
    }
}
