import MesosCore

/// The status of the mesos-go style driver surface of a ``MesosScheduler`` (mesos-go's `mesos.Status`).
public enum DriverStatus: String, Sendable, Hashable, CaseIterable {
    /// ``MesosScheduler/start()`` has not been called (`DRIVER_NOT_STARTED`).
    case notStarted
    /// The subscription runs in the background (`DRIVER_RUNNING`), connected or retrying.
    case running
    /// ``MesosScheduler/abort()`` was called, or the subscription failed for good (`DRIVER_ABORTED`); the
    /// framework was not torn down.
    case aborted
    /// ``MesosScheduler/stop(failover:)`` was called, or the run ended on request (`DRIVER_STOPPED`).
    case stopped
}

/// The mesos-go `SchedulerDriver` lifecycle: `Start`, `Join`, `Run`, `Stop(failover)`, `Abort`, on top of the
/// async ``MesosScheduler/run()``.
///
/// The driver is one-shot, as in mesos-go: once it left ``DriverStatus/notStarted``, ``start()`` only reports
/// the status. (``run()`` and ``withSubscription(_:)`` are not affected by the driver status and may be used
/// again after a run ended.)
extension MesosScheduler {
    /// The driver status.
    public var driverStatus: DriverStatus {
        self.state.withLock { $0.driver.status }
    }

    /// `true` while a live subscription exists (calls can be made), as mesos-go's `Connected()`.
    public var isConnected: Bool {
        self.status.isSubscribed
    }

    /// `true` unless the driver is ``DriverStatus/running`` (mesos-go's `!Running()`).
    public var isStopped: Bool {
        self.driverStatus != .running
    }

    /// The error that aborted the driver's run, if it ended with one.
    public var driverFailure: MesosError? {
        self.state.withLock { $0.driver.failure }
    }

    /// Starts the subscription in the background and returns at once (mesos-go's `Start`). Deliver events with
    /// ``on(_:_:)`` (or the typed `on…` methods) or ``events``, registered before.
    ///
    /// - Returns: ``DriverStatus/running``, or the current status if the driver was started before.
    @discardableResult
    public func start() -> DriverStatus {
        self.startDriver(sink: nil)
    }

    /// Starts the subscription in the background with a ``Scheduler`` delegate and returns at once (mesos-go's
    /// `NewMesosSchedulerDriver(config{Scheduler: …})` then `Start`).
    ///
    /// - Returns: ``DriverStatus/running``, or the current status if the driver was started before.
    @discardableResult
    public func start(_ delegate: some Scheduler) -> DriverStatus {
        self.startDriver(sink: SchedulerDelegateAdapter(delegate: delegate, driver: self))
    }

    /// Waits until the driver's run has ended (mesos-go's `Join`). Returns at once if it is not running; if
    /// the waiting task is cancelled, returns the status at that moment.
    ///
    /// - Returns: ``DriverStatus/stopped`` or ``DriverStatus/aborted`` (see ``driverFailure``).
    @discardableResult
    public func join() async -> DriverStatus {
        let done = self.state.withLock { $0.driver.done }
        if let done {
            _ = await done.wait()
        }
        return self.driverStatus
    }

    /// ``start()`` then ``join()`` (mesos-go's `Run`).
    ///
    /// - Returns: The status ``join()`` returns, or the status ``start()`` returned if it did not start.
    @discardableResult
    public func runDriver() async -> DriverStatus {
        let started = self.start()
        guard started == .running else { return started }
        return await self.join()
    }

    /// ``start(_:)`` with a delegate, then ``join()`` (mesos-go's `Run`).
    @discardableResult
    public func runDriver(_ delegate: some Scheduler) async -> DriverStatus {
        let started = self.start(delegate)
        guard started == .running else { return started }
        return await self.join()
    }

    /// Stops the driver (mesos-go's `Stop(failover)`).
    ///
    /// - `failover: false` (the default, as mesos-go): TEARDOWN, the framework and its tasks are removed from
    ///   the cluster. TEARDOWN needs a live subscription: while the scheduler is between two subscription
    ///   attempts there is none, and the call falls back to a disconnect (the framework stays until its
    ///   failover timeout); ``driverFailure`` then holds the TEARDOWN error.
    /// - `failover: true`: the connection is closed without TEARDOWN; the framework and its tasks stay on the
    ///   master for `failover_timeout`, for a new scheduler with the same framework id.
    ///
    /// Returns once the request is made; ``join()`` waits for the run to end.
    ///
    /// - Returns: ``DriverStatus/stopped``, or the current status if the driver was not running.
    @discardableResult
    public func stop(failover: Bool = false) async -> DriverStatus {
        let previous = self.state.withLock { state -> DriverStatus in
            let previous = state.driver.status
            if previous == .running {
                state.driver.status = .stopped
            }
            return previous
        }
        guard previous == .running else { return previous }
        if failover {
            self.disconnect()
        } else {
            do {
                try await self.teardown()
            } catch {
                self.logger.warning("TEARDOWN failed while stopping; disconnecting instead", metadata: ["mesos.error": "\(error)"])
                self.state.withLock { $0.driver.failure = error }
                self.disconnect()
            }
        }
        return .stopped
    }

    /// Stops the driver without TEARDOWN (mesos-go's `Abort`): the framework and its tasks stay on the master
    /// for `failover_timeout`.
    ///
    /// - Returns: ``DriverStatus/aborted``, or the current status if the driver was not running.
    @discardableResult
    public func abort() -> DriverStatus {
        let previous = self.state.withLock { state -> DriverStatus in
            let previous = state.driver.status
            if previous == .running {
                state.driver.status = .aborted
            }
            return previous
        }
        guard previous == .running else { return previous }
        self.disconnect()
        return .aborted
    }

    private func startDriver(sink: (any SchedulerEventSink)?) -> DriverStatus {
        let done = Signal<Void>()
        let previous = self.state.withLock { state -> DriverStatus? in
            guard state.driver.status == .notStarted else { return state.driver.status }
            state.driver.status = .running
            state.driver.done = done
            return nil
        }
        if let previous { return previous }
        Task {
            var failure: MesosError?
            do {
                try await self.run(sink: sink, asDriver: true)
            } catch let error as MesosError {
                failure = error
            } catch {
                failure = MesosError(code: .transportFailure, message: "\(error)", cause: error)
            }
            self.state.withLock { state in
                if state.driver.status == .running {
                    // Ended on its own: a failure aborts the driver (as mesos-go), a requested stop stops it.
                    state.driver.status = failure == nil ? .stopped : .aborted
                }
                if let failure { state.driver.failure = failure }
            }
            done.fire(())
        }
        return .running
    }
}
