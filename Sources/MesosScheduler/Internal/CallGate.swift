import MesosCore

/// Bounds how many calls are in flight: past the limit, callers wait in arrival order for a slot.
final class CallGate: Sendable {
    private struct Waiter {
        var id: UInt64
        var continuation: CheckedContinuation<Bool, Never>
    }

    private struct State {
        var inFlight = 0
        var waiters: [Waiter] = []
        var nextID: UInt64 = 0
    }

    let limit: Int
    private let state = LockedValue(State())

    init(limit: Int) {
        self.limit = limit
    }

    /// Calls in flight now.
    var inFlight: Int {
        self.state.withLock { $0.inFlight }
    }

    /// Callers waiting for a slot now.
    var waiting: Int {
        self.state.withLock { $0.waiters.count }
    }

    /// Runs `body` once a slot is free.
    ///
    /// - Throws: ``MesosError/Code/cancelled`` if the task is cancelled while waiting; what `body` throws.
    func withSlot<T: Sendable>(_ body: () async throws(MesosError) -> T) async throws(MesosError) -> T {
        try await self.acquire()
        defer { self.release() }
        return try await body()
    }

    private func acquire() async throws(MesosError) {
        let immediate = self.state.withLock { state -> Bool in
            guard state.inFlight < self.limit, state.waiters.isEmpty else { return false }
            state.inFlight += 1
            return true
        }
        if immediate { return }
        let id = self.state.withLock { state -> UInt64 in
            state.nextID += 1
            return state.nextID
        }
        let admitted = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                let resume = self.state.withLock { state -> Bool? in
                    if Task.isCancelled { return false }
                    if state.inFlight < self.limit, state.waiters.isEmpty {
                        state.inFlight += 1
                        return true
                    }
                    state.waiters.append(Waiter(id: id, continuation: continuation))
                    return nil
                }
                if let resume { continuation.resume(returning: resume) }
            }
        } onCancel: {
            let waiter = self.state.withLock { state -> Waiter? in
                guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                return state.waiters.remove(at: index)
            }
            waiter?.continuation.resume(returning: false)
        }
        guard admitted else {
            throw MesosError(code: .cancelled, message: "Cancelled while waiting for one of the \(self.limit) call slots")
        }
    }

    private func release() {
        let next = self.state.withLock { state -> Waiter? in
            if state.waiters.isEmpty {
                state.inFlight -= 1
                return nil
            }
            // The slot passes straight to the longest waiter.
            return state.waiters.removeFirst()
        }
        next?.continuation.resume(returning: true)
    }
}
