import MesosCore
import MesosResources

// Small builders for the scenarios: (*) unreserved, ([r]) STATIC, D: DYNAMIC, @r allocation role.

func reservation(_ role: String, dynamic: Bool = true, principal: String? = nil, labels: [(String, String?)]? = nil)
    -> Resource.ReservationInfo
{
    var entry = Resource.ReservationInfo()
    entry.type = dynamic ? .dynamic : .static
    entry.role = role
    if let principal { entry.principal = principal }
    if let labels {
        var list = Labels()
        list.labels = labels.map { key, value in
            var label = Label()
            label.key = key
            if let value { label.value = value }
            return label
        }
        entry.labels = list
    }
    return entry
}

func scalar(
    _ name: String,
    _ value: Double,
    reservations: [Resource.ReservationInfo] = [],
    allocated: String? = nil,
    revocable: Bool = false
) -> Resource {
    var resource = Resource.scalar(name, value, role: allocated)
    resource.reservations = reservations
    if revocable { resource.revocable = Resource.RevocableInfo() }
    return resource
}

func ranges(_ name: String, _ intervals: [ClosedRange<UInt64>], reservations: [Resource.ReservationInfo] = [])
    -> Resource
{
    var resource = Resource.ranges(name, intervals)
    resource.reservations = reservations
    return resource
}

func rangeSet(_ intervals: [ClosedRange<UInt64>]) -> ResourceRanges { ResourceRanges(intervals) }

/// A disk resource: a persistent volume (id), optionally shared, or an exclusive MOUNT disk.
func disk(
    _ megabytes: Double,
    role: String = "eng",
    volumeID: String? = nil,
    containerPath: String? = nil,
    shared: Bool = false,
    mountRoot: String? = nil
) -> Resource {
    var resource = Resource.scalar("disk", megabytes)
    resource.reservations = [reservation(role, principal: "p")]
    if let volumeID {
        resource.disk.persistence.id = volumeID
        resource.disk.persistence.principal = "p"
    }
    if let containerPath {
        resource.disk.volume.containerPath = containerPath
        resource.disk.volume.mode = .rw
    }
    if let mountRoot {
        resource.disk.source.type = .mount
        resource.disk.source.mount.root = mountRoot
    }
    if shared { resource.shared = Resource.SharedInfo() }
    return resource
}
