import MesosCore

/// Runs the jobs of tasks that prefer it on a curl transport's own engine thread.
///
/// A task that sends calls through the transport normally pays two thread hand-offs per call: its request goes
/// to the engine thread, and the response's continuation is resumed onto the cooperative pool. A task running
/// on this executor does everything on the engine thread: the request is added to the multi handle without a
/// wakeup, and the continuation runs as soon as curl has read the response, before the thread polls again.
///
/// Holding the executor keeps the engine (and its thread) alive, like a copy of the transport does. If the
/// engine cannot run jobs (libcurl failed to initialize), they run on the global concurrent executor instead.
final class CurlTaskExecutor: TaskExecutor {
    private let owner: CurlEngineOwner

    init(owner: CurlEngineOwner) {
        self.owner = owner
        owner.engine.attach(self.asUnownedTaskExecutor())
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        if !self.owner.engine.enqueue(unowned) {
            globalConcurrentExecutor.enqueue(unowned)
        }
    }
}
