import MesosCore

/// The events waiting to be written on one subscription stream.
///
/// The master pushes; the stream's writer takes everything queued at once (which is what lets
/// ``FakeMasterFault/Chunking/coalesced`` put many records in one chunk). Heartbeats are not queued twice in a
/// row, so a client that stops reading does not make the queue grow with heartbeats.
final class EventQueue: Sendable {
    enum Item: Sendable {
        case event(SchedulerEvent)
        case heartbeat
        /// End the body cleanly after what precedes.
        case end
        /// Cut the connection after what precedes.
        case cut
    }

    private struct State {
        var items: [Item] = []
        var waiter: CheckedContinuation<[Item]?, Never>?
    }

    private let state = LockedValue(State())

    func push(_ item: Item) {
        let handoff: (CheckedContinuation<[Item]?, Never>, [Item])? = self.state.withLock { state in
            if case .heartbeat = item, case .heartbeat? = state.items.last {
                return nil
            }
            state.items.append(item)
            guard let waiter = state.waiter else {
                return nil
            }
            state.waiter = nil
            let items = state.items
            state.items = []
            return (waiter, items)
        }
        if let (waiter, items) = handoff {
            waiter.resume(returning: items)
        }
    }

    /// Waits for items and returns all of them, or `nil` when the task is cancelled.
    func take() async -> [Item]? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<[Item]?, Never>) in
                let immediate: [Item]?? = self.state.withLock { state in
                    if !state.items.isEmpty {
                        let items = state.items
                        state.items = []
                        return .some(items)
                    }
                    if Task.isCancelled {
                        return .some(nil)
                    }
                    state.waiter = continuation
                    return .none
                }
                if let immediate {
                    continuation.resume(returning: immediate)
                }
            }
        } onCancel: {
            let waiter = self.state.withLock { state in
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume(returning: nil)
        }
    }
}
