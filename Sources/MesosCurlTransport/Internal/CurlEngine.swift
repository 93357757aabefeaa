internal import CCurl
import Foundation
import MesosCore

/// Keeps a ``CurlEngine`` running while any copy of a transport exists; stops it when the last copy is gone.
final class CurlEngineOwner: Sendable {
    let engine: CurlEngine

    init(engine: CurlEngine) {
        self.engine = engine
    }

    deinit {
        self.engine.requestStop()
    }
}

/// One curl multi handle and the one thread that drives it.
///
/// Other threads talk to the engine only through ``post(_:)``: commands go into a locked inbox and
/// `curl_multi_wakeup` interrupts the thread's `curl_multi_poll`. Everything else (the multi handle, the easy
/// handles, the table of running transfers) is touched by the engine thread alone, which is why the class can
/// be `@unchecked Sendable`. Between events the thread sleeps in `curl_multi_poll`, waking only for socket
/// activity, curl's own timers, posted commands and the nearest idle-timeout deadline.
final class CurlEngine: @unchecked Sendable {
    /// Work for the engine thread.
    enum Command {
        /// Start a transfer whose easy handle is fully configured.
        case add(CurlTransfer)
        /// Stop a transfer and close its connection (cancellation, or the body was dropped).
        case remove(CurlTransfer)
        /// Resume a transfer paused because its consumer was slow.
        case unpause(CurlTransfer)
        /// Exit once no transfer is left.
        case stop
        /// Run a job of a task that prefers this engine's thread (``CurlTaskExecutor``).
        case run(UnownedJob)
    }

    private struct Inbox {
        var commands: [Command] = []
        /// Set by the engine thread just before it destroys the multi handle; nothing is accepted afterwards.
        var closed = false
        /// A wakeup has been sent since the thread last emptied the inbox: later posts need not send another.
        var wakeupPending = false
        /// Posters between taking the lock and finishing `curl_multi_wakeup` (which runs outside the lock):
        /// the thread does not destroy the multi handle while any is left.
        var wakersInFlight = 0
    }

    /// The longest the thread sleeps with nothing to do: it only bounds how stale a missed wakeup could be.
    private static let maximumPollMilliseconds: Int32 = 30_000

    private let inbox = LockedValue(Inbox())
    private let multi: UnsafeMutableRawPointer?
    private let thread = LockedValue<pthread_t?>(nil)

    // Engine thread only.
    private var transfers: [UnsafeMutableRawPointer: CurlTransfer] = [:]
    private var stopRequested = false
    /// Response heads ready during this turn of the loop, handed over once curl has done all it can: a call
    /// whose whole response arrived at once then finds its body already ended and never waits again.
    private var readyHeads: [(CurlTransfer.HeadWaiter, MesosHTTPResponse)] = []
    /// Jobs enqueued by the engine thread itself (a continuation resumed here, a task yielding), run before
    /// the thread sleeps again.
    private var localJobs: [UnownedJob] = []
    /// The executor that runs jobs on this thread (attached once by ``CurlTaskExecutor``).
    private let jobExecutor = LockedValue<UnownedTaskExecutor?>(nil)

    init(configuration: MesosCurlTransport.Configuration) {
        let multi: UnsafeMutableRawPointer? = curlGlobalInitialization == CURLE_OK ? curl_multi_init() : nil
        self.multi = multi
        guard let multi else {
            self.inbox.withLock { $0.closed = true }
            return
        }
        if let limit = configuration.maximumConnectionsPerHost, limit > 0 {
            _ = swift_mesos_curl_multi_setopt_long(multi, CURLMOPT_MAX_HOST_CONNECTIONS, limit)
        }
        let thread = Thread { [self] in
            // The multi handle is only ever used by this thread (and by curl_multi_wakeup, which is thread-safe).
            if let multi = self.multi {
                self.run(multi)
            }
        }
        thread.name = "mesos-curl"
        thread.start()
    }

    /// Whether the engine cannot run transfers (libcurl failed to initialize).
    var isUnavailable: Bool {
        self.multi == nil
    }

    /// Whether the calling thread is the engine thread.
    var isEngineThread: Bool {
        guard let thread = self.thread.withLock({ $0 }) else {
            return false
        }
        return pthread_equal(thread, pthread_self()) != 0
    }

    /// Hands a command to the engine thread.
    ///
    /// A command posted by the engine thread itself (a task running on ``CurlTaskExecutor``) sends no wakeup:
    /// the thread looks at the inbox again before it sleeps.
    ///
    /// - Returns: `false` if the engine has shut down and will never run it.
    @discardableResult
    func post(_ command: Command) -> Bool {
        let onEngineThread = self.isEngineThread
        let (accepted, wake) = self.inbox.withLock { inbox -> (Bool, Bool) in
            guard !inbox.closed, self.multi != nil else {
                return (false, false)
            }
            inbox.commands.append(command)
            guard !inbox.wakeupPending, !onEngineThread else {
                return (true, false)
            }
            inbox.wakeupPending = true
            inbox.wakersInFlight += 1
            return (true, true)
        }
        if wake, let multi = self.multi {
            // Outside the lock (a syscall; the thread it wakes goes straight for that lock), while
            // `wakersInFlight` keeps the multi handle alive.
            _ = curl_multi_wakeup(multi)
            self.inbox.withLock { $0.wakersInFlight -= 1 }
        }
        return accepted
    }

    /// Schedules a job on the engine thread: straight into the local queue when called there, through the
    /// inbox (with a wakeup) from any other thread.
    ///
    /// - Returns: `false` if the engine has shut down; the caller then runs the job elsewhere.
    func enqueue(_ job: UnownedJob) -> Bool {
        if self.isEngineThread {
            self.localJobs.append(job)
            return true
        }
        return self.post(.run(job))
    }

    /// Records the executor the jobs run as (the one ``CurlTaskExecutor`` of this engine's transport).
    func attach(_ executor: UnownedTaskExecutor) {
        self.jobExecutor.withLock { $0 = executor }
    }

    /// Engine thread: runs the jobs enqueued so far. Jobs they enqueue in turn wait for the next turn of the
    /// loop, so a task that keeps yielding cannot keep curl from running (the loop does not sleep while any
    /// are waiting).
    private func runLocalJobs() {
        guard !self.localJobs.isEmpty, let executor = self.jobExecutor.withLock({ $0 }) else {
            return
        }
        let jobs = self.localJobs
        self.localJobs = []
        for job in jobs {
            job.runSynchronously(on: executor)
        }
    }

    /// Engine thread: hands a response head to its waiter at the end of this turn of the loop.
    func deliverLater(_ waiter: CurlTransfer.HeadWaiter, _ response: MesosHTTPResponse) {
        self.readyHeads.append((waiter, response))
    }

    private func flushReadyHeads() {
        guard !self.readyHeads.isEmpty else {
            return
        }
        let ready = self.readyHeads
        self.readyHeads.removeAll(keepingCapacity: true)
        for (waiter, response) in ready {
            waiter.resume(returning: .success(response))
        }
    }

    /// Asks the thread to exit once the transfers still running have ended.
    func requestStop() {
        self.post(.stop)
    }

    /// Whether the engine thread is running (it ends after ``requestStop()`` once no transfer is left).
    var isRunning: Bool {
        self.thread.withLock { $0 != nil }
    }

    /// The CPU time the engine thread has used so far, or `nil` if it is not running or the platform cannot tell.
    func threadCPUTime() -> Duration? {
        #if os(Linux)
        guard let thread = self.thread.withLock({ $0 }) else {
            return nil
        }
        var clock = clockid_t()
        guard pthread_getcpuclockid(thread, &clock) == 0 else {
            return nil
        }
        var time = timespec()
        guard clock_gettime(clock, &time) == 0 else {
            return nil
        }
        return .seconds(time.tv_sec) + .nanoseconds(time.tv_nsec)
        #else
        return nil
        #endif
    }

    // MARK: - Engine thread

    private func run(_ multi: UnsafeMutableRawPointer) {
        self.thread.withLock { $0 = pthread_self() }
        var commands: [Command] = []
        while true {
            self.inbox.withLock { inbox in
                swap(&commands, &inbox.commands)
                inbox.wakeupPending = false
            }
            for command in commands {
                self.apply(command, multi: multi)
            }
            commands.removeAll(keepingCapacity: true)
            self.runLocalJobs()
            if self.stopRequested && self.transfers.isEmpty {
                self.flushReadyHeads()
                self.runLocalJobs()
                let jobsWaiting = !self.localJobs.isEmpty
                let exit = self.inbox.withLock { inbox in
                    guard inbox.commands.isEmpty, !jobsWaiting else {
                        return false
                    }
                    inbox.closed = true
                    return true
                }
                if exit {
                    break
                }
                continue
            }
            var running: Int32 = 0
            _ = curl_multi_perform(multi, &running)
            self.collectFinishedTransfers(multi)
            let wait = self.enforceIdleTimeouts(multi)
            self.flushReadyHeads()
            // Tasks on this thread whose responses just arrived go on now (no hand-off to another thread).
            self.runLocalJobs()
            if self.stopRequested && self.transfers.isEmpty {
                // The last transfer just ended: exit without sleeping first.
                continue
            }
            // Commands posted from this thread (by the jobs above) sent no wakeup, and jobs they enqueued wait for
            // the next turn: take them before sleeping.
            if !self.localJobs.isEmpty || self.inbox.withLock({ !$0.commands.isEmpty }) {
                continue
            }
            _ = curl_multi_poll(multi, nil, 0, wait, nil)
        }
        self.thread.withLock { $0 = nil }
        // A poster may still be inside curl_multi_wakeup (it posted before `closed` was set).
        while self.inbox.withLock({ $0.wakersInFlight }) > 0 {
            sched_yield()
        }
        curl_multi_cleanup(multi)
    }

    private func apply(_ command: Command, multi: UnsafeMutableRawPointer) {
        switch command {
        case .add(let transfer):
            guard let easy = transfer.easy, !transfer.isCancelled else {
                transfer.releaseEasyHandle()
                return
            }
            let code = curl_multi_add_handle(multi, easy)
            guard code == CURLM_OK else {
                let cause = CurlError(code: Int(code.rawValue), summary: String(cString: curl_multi_strerror(code)))
                transfer.finish(
                    failure: MesosError(
                        code: .transportFailure,
                        message: "\(transfer.context) could not be started: \(cause.summary)",
                        cause: cause
                    )
                )
                transfer.releaseEasyHandle()
                return
            }
            transfer.lastActivity = .now
            self.transfers[easy] = transfer
        case .remove(let transfer):
            self.detach(transfer, multi: multi)
        case .unpause(let transfer):
            guard let easy = transfer.easy, self.transfers[easy] != nil, transfer.curlPaused else {
                return
            }
            transfer.curlPaused = false
            transfer.lastActivity = .now
            // May deliver the held-back data to the write callback before it returns.
            let code = swift_mesos_curl_unpause(easy)
            if code != CURLE_OK {
                transfer.finish(curlCode: code)
                self.detach(transfer, multi: multi)
            }
        case .stop:
            self.stopRequested = true
        case .run(let job):
            self.localJobs.append(job)
        }
    }

    /// Takes a transfer out of the multi handle (closing its connection if the response was not complete) and
    /// frees its easy handle.
    private func detach(_ transfer: CurlTransfer, multi: UnsafeMutableRawPointer) {
        guard let easy = transfer.easy, self.transfers.removeValue(forKey: easy) != nil else {
            return
        }
        _ = curl_multi_remove_handle(multi, easy)
        transfer.releaseEasyHandle()
    }

    private func collectFinishedTransfers(_ multi: UnsafeMutableRawPointer) {
        var remaining: Int32 = 0
        while let message = curl_multi_info_read(multi, &remaining) {
            guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle else {
                continue
            }
            // Read everything from the message first: removing the handle invalidates it.
            let code = swift_mesos_curl_msg_result(message)
            guard let transfer = self.transfers[easy] else {
                continue
            }
            transfer.finish(curlCode: code)
            self.detach(transfer, multi: multi)
        }
    }

    /// Fails transfers that have been silent for longer than their idle timeout, and returns how long the
    /// thread may sleep before the next deadline, in milliseconds.
    private func enforceIdleTimeouts(_ multi: UnsafeMutableRawPointer) -> Int32 {
        var wait = Self.maximumPollMilliseconds
        let now = ContinuousClock.Instant.now
        for transfer in Array(self.transfers.values) {
            // Paused for a slow consumer: the silence is not the server's fault.
            guard let limit = transfer.idleTimeout, !transfer.curlPaused else {
                continue
            }
            let deadline = transfer.lastActivity + limit
            if deadline <= now {
                transfer.finish(failure: transfer.idleTimeoutError())
                self.detach(transfer, multi: multi)
            } else {
                wait = min(wait, Int32(clamping: (deadline - now).inMillisecondsRoundedUp))
            }
        }
        return max(wait, 1)
    }
}
