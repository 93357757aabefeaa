import MesosCore

// How RESERVE, UNRESERVE, CREATE and DESTROY change a local view of an offer, checked as the master does
// before it applies them. Chain them to check one ACCEPT: each operation sees what the previous ones left.

extension Resources {
    /// The offer view after RESERVE: the consumed unreserved (or less refined) pieces replaced by `targets`.
    ///
    /// - Parameters:
    ///   - targets: The RESERVE operation's resources (see
    ///     ``consumedByReserving(_:from:principal:frameworkRoles:)`` for the rules).
    ///   - principal: The framework's principal, when it is authenticated.
    ///   - frameworkRoles: The framework's roles, when known.
    /// - Returns: The new view.
    /// - Throws: ``ResourcesError`` when the master would refuse the operation.
    public func applyingReserve(
        _ targets: Resources,
        principal: String? = nil,
        frameworkRoles: Set<String>? = nil
    ) throws(ResourcesError) -> Resources {
        let consumed = try Self.consumedByReserving(
            targets,
            from: self,
            principal: principal,
            frameworkRoles: frameworkRoles
        )
        return (self - consumed) + targets
    }

    /// The offer view after UNRESERVE: each resource gives up its top (DYNAMIC) reservation.
    ///
    /// - Parameter resources: The reserved resources to unreserve, as offered.
    /// - Returns: The new view.
    /// - Throws: ``ResourcesError`` when a resource is not in the view, is unreserved or statically
    ///   reserved at the top, or is a persistent volume (a reservation holding a volume cannot be undone).
    public func applyingUnreserve(_ resources: Resources) throws(ResourcesError) -> Resources {
        guard !resources.isEmpty else { throw ResourcesError(.invalidReservation, "UNRESERVE with no resources") }
        for resource in resources.combined {
            guard let top = resource.reservations.last, top.type == .dynamic else {
                throw ResourcesError(
                    .invalidReservation,
                    "UNRESERVE of '\(resource.name)', which has no DYNAMIC top reservation"
                )
            }
            if resource.isPersistentVolume {
                throw ResourcesError(.invalidReservation, "UNRESERVE of a persistent volume; DESTROY it first")
            }
        }
        guard self.contains(resources) else {
            throw ResourcesError(.notContained, "\(self) does not contain the resources to unreserve \(resources)")
        }
        return (self - resources) + (try resources.poppingReservation())
    }

    /// The offer view after CREATE: for each volume, the reserved disk it is made from (the same resource
    /// without persistence, volume and shared) is replaced by the volume.
    ///
    /// - Parameter volumes: The persistent volumes to create.
    /// - Returns: The new view.
    /// - Throws: ``ResourcesError`` when a resource is not a reserved persistent volume, an id is used twice
    ///   (in `volumes` or by a volume already in the view), or the disk is not there.
    public func applyingCreate(_ volumes: Resources) throws(ResourcesError) -> Resources {
        guard !volumes.isEmpty else { throw ResourcesError(.invalidResource, "CREATE with no volumes") }
        var result = self
        var ids = Set(self.persistentVolumes().map(\.disk.persistence.id))
        for volume in volumes.combined {
            guard volume.isPersistentVolume else {
                throw ResourcesError(.invalidResource, "CREATE of '\(volume.name)', which has no disk.persistence")
            }
            guard !volume.isUnreserved else {
                throw ResourcesError(.invalidResource, "CREATE needs reserved disk; volume '\(volume.disk.persistence.id)' is unreserved")
            }
            guard ids.insert(volume.disk.persistence.id).inserted else {
                throw ResourcesError(.invalidResource, "the persistence id '\(volume.disk.persistence.id)' is already used")
            }
        }
        for volume in volumes {
            let source = Self.diskWithoutVolume(volume)
            guard result.contains(Resources([source])) else {
                throw ResourcesError(
                    .notContained,
                    "no disk for the volume '\(volume.disk.persistence.id)' in \(result)"
                )
            }
            result -= Resources([source])
            result += Resources([volume])
        }
        return result
    }

    /// The offer view after DESTROY: each volume turns back into the reserved disk it was made from.
    ///
    /// - Parameter volumes: The persistent volumes to destroy, as offered.
    /// - Returns: The new view.
    /// - Throws: ``ResourcesError`` when a resource is not a persistent volume or not in the view.
    public func applyingDestroy(_ volumes: Resources) throws(ResourcesError) -> Resources {
        guard !volumes.isEmpty else { throw ResourcesError(.invalidResource, "DESTROY with no volumes") }
        var result = self
        for volume in volumes {
            guard volume.isPersistentVolume else {
                throw ResourcesError(.invalidResource, "DESTROY of '\(volume.name)', which is not a persistent volume")
            }
            guard result.contains(Resources([volume])) else {
                throw ResourcesError(.notContained, "the volume '\(volume.disk.persistence.id)' is not in \(result)")
            }
            result -= Resources([volume])
            result += Resources([Self.diskWithoutVolume(volume)])
        }
        return result
    }

    /// The disk a volume is made from: persistence and volume removed (the whole DiskInfo when it has no
    /// source), and not shared.
    static func diskWithoutVolume(_ volume: Resource) -> Resource {
        var disk = volume
        if disk.disk.hasSource {
            disk.disk.clearPersistence()
            disk.disk.clearVolume()
        } else {
            disk.clearDisk()
        }
        disk.clearShared()
        return disk
    }
}
