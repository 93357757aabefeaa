import MesosCore

/// Races an operation against a point in time, and maps errors to the transport port's ``MesosError`` codes.
enum Deadline {
    /// Runs `operation`, throwing ``MesosError/Code/timeout`` if it is not done by `deadline` on `time`.
    ///
    /// The operation is cancelled when the deadline passes; it must honour cancellation for this to return
    /// promptly.
    static func run<Value: Sendable>(
        until deadline: Duration?,
        on time: TimeSource,
        timeoutMessage: @autoclosure () -> String,
        _ operation: @escaping @Sendable () async throws -> Value
    ) async throws -> Value {
        guard let deadline else {
            return try await operation()
        }
        let outcome = try await withThrowingTaskGroup(of: Value?.self) { group in
            group.addTask {
                try await operation()
            }
            group.addTask {
                try await time.sleepUntil(deadline)
                return nil
            }
            defer { group.cancelAll() }
            // The first child to finish decides; `nil` means the timer won.
            return try await group.next() ?? nil
        }
        guard let outcome else {
            throw MesosError(code: .timeout, message: timeoutMessage())
        }
        return outcome
    }

    /// Maps anything thrown by a handler or its body to a ``MesosError``.
    static func mapError(_ error: any Error, context: String) -> MesosError {
        if let error = error as? MesosError {
            return error
        }
        if error is CancellationError || Task.isCancelled {
            return MesosError(code: .cancelled, message: "\(context) was cancelled", cause: error)
        }
        return MesosError(code: .transportFailure, message: "\(context) failed: \(error)", cause: error)
    }
}
