import MesosCore
import NIOCore

/// Idle kept-alive connections, per destination, most recently used last.
final class NIOConnectionPool: Sendable {
    private let idle = LockedValue<[NIODestination: [any Channel]]>([:])
    private let capacityPerHost: Int

    init(capacityPerHost: Int) {
        self.capacityPerHost = max(0, capacityPerHost)
    }

    /// The most recently returned connection to `destination` that is still open, or `nil`.
    func take(_ destination: NIODestination) -> (any Channel)? {
        while let channel = self.idle.withLock({ $0[destination]?.popLast() }) {
            if channel.isActive {
                return channel
            }
            channel.close(promise: nil)
        }
        return nil
    }

    /// Keeps `channel` for reuse, or closes it when the destination already has its share of idle connections.
    func put(_ channel: any Channel, for destination: NIODestination) {
        let kept = self.idle.withLock { idle -> Bool in
            guard (idle[destination]?.count ?? 0) < self.capacityPerHost else { return false }
            idle[destination, default: []].append(channel)
            return true
        }
        if !kept {
            channel.close(promise: nil)
        }
    }

    /// Closes every idle connection.
    func closeAll() -> [any Channel] {
        let all = self.idle.withLock { idle -> [any Channel] in
            defer { idle = [:] }
            return idle.values.flatMap { $0 }
        }
        return all
    }

    /// How many idle connections are held (for tests).
    var idleCount: Int { self.idle.withLock { $0.values.reduce(0) { $0 + $1.count } } }
}
