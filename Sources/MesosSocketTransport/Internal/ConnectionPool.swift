#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import MesosCore

/// Kept-alive connections waiting for the next request to the same destination, shared by the copies of a
/// transport. A connection is parked here only after its response was read to the end; one that the server
/// closed meanwhile is noticed (readable: EOF) and dropped when taken.
final class ConnectionPool: Sendable {
    private let idle = LockedValue<[(destination: HTTPRequestHead.Destination, fd: Int32)]>([])
    private let capacity: Int

    /// A pool keeping at most `capacity` idle connections (the oldest is closed beyond that).
    init(capacity: Int) {
        self.capacity = max(0, capacity)
    }

    deinit {
        for entry in self.idle.withLock({ $0 }) {
            close(entry.fd)
        }
    }

    /// Takes the most recently parked usable connection to `destination`, if any.
    func take(_ destination: HTTPRequestHead.Destination) -> Int32? {
        while true {
            let fd = self.idle.withLock { idle -> Int32? in
                guard let index = idle.lastIndex(where: { $0.destination == destination }) else { return nil }
                return idle.remove(at: index).fd
            }
            guard let fd else { return nil }
            if Socket.isReusable(fd) { return fd }
            close(fd)
        }
    }

    /// Parks a connection whose response was read completely.
    func put(_ fd: Int32, for destination: HTTPRequestHead.Destination) {
        let evicted = self.idle.withLock { idle -> Int32? in
            idle.append((destination, fd))
            return idle.count > self.capacity ? idle.removeFirst().fd : nil
        }
        if let evicted {
            close(evicted)
        }
    }

    /// The number of idle connections (for tests).
    var idleCount: Int {
        self.idle.withLock { $0.count }
    }
}

/// How often the transport's exchanges paused for a slow consumer, and the most unread bytes one held: shared
/// by the copies of a transport, updated only when an exchange pauses (for tests of backpressure).
final class BackpressureStatistics: Sendable {
    private let values = LockedValue((pauses: 0, peakBufferedBytes: 0))

    /// Records a pause with `bufferedBytes` unread.
    func recordPause(bufferedBytes: Int) {
        self.values.withLock {
            $0.pauses += 1
            $0.peakBufferedBytes = max($0.peakBufferedBytes, bufferedBytes)
        }
    }

    /// The pauses so far.
    var pauses: Int { self.values.withLock { $0.pauses } }

    /// The most unread bytes held when pausing.
    var peakBufferedBytes: Int { self.values.withLock { $0.peakBufferedBytes } }
}
