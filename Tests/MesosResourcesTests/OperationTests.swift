import MesosCore
import MesosResources
import Testing

/// RESERVE → CREATE → LAUNCH-style checks in one ACCEPT, then DESTROY and UNRESERVE back.
@Suite struct OperationTests {
    func allocated(_ resource: Resource, to role: String = "eng") -> Resource {
        var resource = resource
        resource.allocationInfo.role = role
        return resource
    }

    var offer: Resources { Resources([scalar("disk", 1000, allocated: "eng"), scalar("cpus", 4, allocated: "eng")]) }

    @Test func reserveCreateDestroyUnreserveRoundTrip() throws {
        let reservedDisk = allocated(disk(500))  // disk([D:eng, principal p])@eng 500
        let afterReserve = try offer.applyingReserve(Resources([reservedDisk]), principal: "p", frameworkRoles: ["eng"])
        #expect(afterReserve.unreserved().scalar("disk") == 500)
        #expect(afterReserve.reserved("eng").scalar("disk") == 500)

        let volume = allocated(disk(200, volumeID: "v1", containerPath: "data"))
        let afterCreate = try afterReserve.applyingCreate(Resources([volume]))
        #expect(afterCreate.persistentVolumes() == Resources([volume]))
        #expect(afterCreate.reserved("eng").scalar("disk") == 500)  // 300 plain + the 200 volume
        #expect(afterCreate.reserved("eng").filtered { !$0.isPersistentVolume }.scalar("disk") == 300)
        // A task may now use the volume (even under another container path) and reserved disk.
        let task = Resources([allocated(disk(200, volumeID: "v1", containerPath: "elsewhere")), scalar("cpus", 1, allocated: "eng")])
        #expect(afterCreate.contains(task))

        #expect(throws: ResourcesError.self) { try afterCreate.applyingCreate(Resources([volume])) }  // id in use
        #expect(throws: ResourcesError.self) {
            try afterCreate.applyingCreate(Resources([allocated(disk(400, volumeID: "v2"))]))  // only 300 left
        }
        var unreservedVolume = Resource.scalar("disk", 10, role: "eng")
        unreservedVolume.disk.persistence.id = "v3"
        #expect(throws: ResourcesError.self) { try afterCreate.applyingCreate(Resources([unreservedVolume])) }
        #expect(throws: ResourcesError.self) { try afterCreate.applyingUnreserve(Resources([volume])) }

        let afterDestroy = try afterCreate.applyingDestroy(Resources([volume]))
        #expect(afterDestroy.persistentVolumes().isEmpty)
        #expect(afterDestroy == afterReserve)
        #expect(throws: ResourcesError.self) { try afterDestroy.applyingDestroy(Resources([volume])) }

        let afterUnreserve = try afterDestroy.applyingUnreserve(Resources([reservedDisk]))
        #expect(afterUnreserve == offer)
        #expect(throws: ResourcesError.self) { try offer.applyingUnreserve(Resources([reservedDisk])) }
        #expect(throws: ResourcesError.self) {
            try offer.applyingUnreserve(Resources([allocated(scalar("cpus", 1, reservations: [reservation("eng", dynamic: false)]))]))
        }
    }

    @Test func partialUnreserveAndRefinedReservations() throws {
        let refined = allocated(scalar("cpus", 3, reservations: [reservation("eng", dynamic: false), reservation("eng/a")]), to: "eng/a")
        let view = Resources([refined])
        let after = try view.applyingUnreserve(Resources([allocated(scalar("cpus", 1, reservations: [reservation("eng", dynamic: false), reservation("eng/a")]), to: "eng/a")]))
        #expect(after.combined.count == 2)
        #expect(after.reserved("eng/a").scalar("cpus") == 2)
        #expect(after.reserved("eng").scalar("cpus") == 1)
        #expect(after.reserved("eng").combined.first?.reservations.map(\.type) == [.static])
    }

    @Test func sharedVolumeCreatedOnceUsedTwice() throws {
        let view = Resources([allocated(disk(100))])
        let shared = allocated(disk(100, volumeID: "s1", shared: true))
        let created = try view.applyingCreate(Resources([shared]))
        #expect(created.sharedCount(of: shared) == 1)
        #expect(created.scalar("disk") == 100)
        #expect(try created.applyingDestroy(Resources([shared])) == view)
    }
}
