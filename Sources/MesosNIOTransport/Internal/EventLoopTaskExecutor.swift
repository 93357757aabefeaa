import NIOCore

/// Runs the jobs of tasks that prefer it on one event loop.
///
/// swift-nio (2.101) offers an event loop as a `SerialExecutor` but not as a `TaskExecutor`; this adapter makes
/// it one, so `withTaskExecutorPreference(transport.taskExecutor)` runs a task's jobs on the loop its
/// connections use.
final class EventLoopTaskExecutor: TaskExecutor {
    /// The loop the jobs run on.
    let loop: any EventLoop

    init(loop: any EventLoop) {
        self.loop = loop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        let executor = self.asUnownedTaskExecutor()
        self.loop.execute {
            unowned.runSynchronously(on: executor)
        }
    }
}
