/// A one-shot signal carrying a value: the first `fire` wins, every `wait` (before or after) gets that value.
/// The scheduler and executor services both use it.
package final class Signal<Value: Sendable>: Sendable {
    private struct State {
        var value: Value?
        var waiters: [CheckedContinuation<Value?, Never>] = []
        var cancelled = false
    }

    private let state = LockedValue(State())

    /// Creates a signal that has not fired.
    package init() {}

    /// Fires the signal; later calls are ignored. Returns whether this call fired it.
    @discardableResult
    package func fire(_ value: Value) -> Bool {
        let waiters = state.withLock { state -> [CheckedContinuation<Value?, Never>]? in
            guard state.value == nil else { return nil }
            state.value = value
            defer { state.waiters = [] }
            return state.waiters
        }
        guard let waiters else { return false }
        for waiter in waiters { waiter.resume(returning: value) }
        return true
    }

    /// The value, if fired.
    package var value: Value? {
        state.withLock { $0.value }
    }

    /// Waits until the signal fires; returns `nil` if the waiting task is cancelled first.
    package func wait() async -> Value? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Value?, Never>) in
                let ready = state.withLock { state -> Value?? in
                    if let value = state.value { return .some(value) }
                    if Task.isCancelled { return .some(nil) }
                    state.waiters.append(continuation)
                    return nil
                }
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: {
            let waiters = state.withLock { state -> [CheckedContinuation<Value?, Never>] in
                defer { state.waiters = [] }
                return state.value == nil ? state.waiters : []
            }
            for waiter in waiters { waiter.resume(returning: nil) }
        }
    }
}
