import Foundation

/// Runs blocking C calls (`zookeeper_init`, `zookeeper_close`) on a thread of their own, so that they never
/// hold one of the few threads of Swift's cooperative pool (as many as the machine has cores): a caller that
/// waits resumes through a continuation when the call has returned.
enum BlockingCall {
    /// Runs `body` on a new thread and returns its result.
    ///
    /// - Parameters:
    ///   - name: The thread's name (seen in debuggers and `top -H`).
    ///   - body: The blocking work.
    /// - Returns: What `body` returned.
    static func run<Value: Sendable>(name: String, _ body: @escaping @Sendable () -> Value) async -> Value {
        await withCheckedContinuation { (continuation: CheckedContinuation<Value, Never>) in
            Self.detach(name: name) {
                continuation.resume(returning: body())
            }
        }
    }

    /// Runs `body` on a new thread without waiting for it.
    ///
    /// - Parameters:
    ///   - name: The thread's name.
    ///   - body: The blocking work.
    static func detach(name: String, _ body: @escaping @Sendable () -> Void) {
        let thread = Thread(block: body)
        thread.name = name
        thread.start()
    }
}

/// Carries a value the compiler cannot prove `Sendable` (a C pointer) to the thread that uses it; the code
/// that creates it hands the value over and does not touch it again.
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value

    init(_ value: Value) {
        self.value = value
    }
}
