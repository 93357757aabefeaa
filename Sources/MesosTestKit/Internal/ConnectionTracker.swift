import MesosCore
import NIOCore

/// Counts and remembers the server's connections.
final class ConnectionTracker: Sendable {
    private struct State {
        var nextID = 1
        var open: [Int: any Channel] = [:]
    }

    private let state = LockedValue(State())

    func opened(_ channel: any Channel) -> Int {
        self.state.withLock { state in
            let id = state.nextID
            state.nextID += 1
            state.open[id] = channel
            return id
        }
    }

    func closed(_ id: Int) {
        _ = self.state.withLock { $0.open.removeValue(forKey: id) }
    }

    var accepted: Int {
        self.state.withLock { $0.nextID - 1 }
    }

    var openIDs: Set<Int> {
        self.state.withLock { Set($0.open.keys) }
    }

    var openChannels: [any Channel] {
        self.state.withLock { Array($0.open.values) }
    }
}
