import Foundation

/// Runs blocking work (a child process's `waitUntilExit()`, a blocking read, a synchronous C call) on a thread
/// of its own and resumes the caller through a continuation when it is done.
///
/// Swift's cooperative pool has as many threads as the machine has cores (two on a small CI machine); a test
/// or a test server that blocks one of them in `async` code stalls every other task of the process, which then
/// shows up as unrelated timeouts. Use this instead of blocking in `async` code.
///
/// ```swift
/// let status = try await onDedicatedThread { try runTool("openssl", arguments) }
/// ```
///
/// - Parameters:
///   - name: The thread's name, for debuggers and `top -H`.
///   - body: The blocking work.
/// - Returns: What `body` returned.
/// - Throws: What `body` threw.
public func onDedicatedThread<Value: Sendable>(
    name: String = "MesosTestKit.blocking",
    _ body: @escaping @Sendable () throws -> Value
) async throws -> Value {
    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Value, any Error>) in
        let thread = Thread {
            continuation.resume(with: Result { try body() })
        }
        thread.name = name
        thread.start()
    }
}
