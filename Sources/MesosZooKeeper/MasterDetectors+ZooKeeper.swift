import MesosCore
import MesosDiscovery

extension MasterDetectors {
    /// Mesos's own leader election, read from ZooKeeper (push).
    ///
    /// Every master contending for leadership holds an ephemeral sequential child of the election path; the
    /// one with the lowest sequence leads. Children named `json.info_N` (MasterInfo as JSON, Mesos ≥ 0.24),
    /// `info_N` (binary MasterInfo) and bare numbers (a PID `master@ip:port`) take part; others, such as
    /// `log_replicas`, are ignored. The location is built from `address.hostname`/`hostname` (else the IP)
    /// and `address.port`/`port`, with ``Configuration/scheme``.
    ///
    /// Each iterator opens its own session through the C client (`libzookeeper_mt`) at its first `next()`,
    /// waiting up to ``Configuration/connectTimeout``; the first element is the leader at that time (`nil` if
    /// no master contends or the path does not exist yet), every later one a change, as it happens:
    /// - it watches the children and reads them again when they change; a new follower is not a change;
    /// - a lost connection keeps the last leader while the C client reconnects (to any server of the URL),
    ///   then everything is read again and the watch renewed;
    /// - an expired session is replaced by a new one, and everything is read again;
    /// - cancelling the consuming task, or dropping the iterator, closes the session (`zookeeper_close`, on a
    ///   thread of its own: it blocks for seconds when no server answers, and must not hold a thread of the
    ///   cooperative pool; `next()` resumes once it returned).
    ///
    /// `next()` throws ``MesosError`` with ``MesosError/Code/transportFailure`` when no server answers within
    /// the connect timeout, ``MesosError/Code/unauthenticated`` when ZooKeeper denies reading the path
    /// (`ZNOAUTH`: credentials missing or wrong), ``MesosError/Code/authenticationFailed`` when the server
    /// rejects the credentials, and ``MesosError/Code/decodingFailed`` when the leader's data is unreadable;
    /// the iterator is then finished and a new one starts over.
    public struct ZooKeeper: AsyncSequence, Sendable {
        /// A leader, or `nil` when no master contends.
        public typealias Element = MasterLocation?

        /// The servers, path and session settings.
        public let configuration: Configuration

        /// The clock ``Configuration/connectTimeout`` is measured on.
        private let clock: any Clock<Duration>

        /// Creates the sequence; nothing connects until an iterator's first `next()`.
        ///
        /// - Parameter configuration: The servers, path and session settings.
        public init(configuration: Configuration) {
            self.init(configuration: configuration, clock: ContinuousClock())
        }

        /// Creates the sequence with ``Configuration/connectTimeout`` measured on `clock` (tests pass a manual
        /// clock); nothing connects until an iterator's first `next()`.
        ///
        /// - Parameters:
        ///   - configuration: The servers, path and session settings.
        ///   - clock: The clock the connect timeout is measured on.
        public init(configuration: Configuration, clock: any Clock<Duration>) {
            self.configuration = configuration
            self.clock = clock
        }

        /// Returns an iterator with its own session.
        public func makeAsyncIterator() -> Iterator {
            Iterator(watch: ZooKeeperLeaderWatch(configuration: self.configuration, clock: self.clock))
        }

        /// Reports the leader, then each change.
        public struct Iterator: AsyncIteratorProtocol {
            private let watch: ZooKeeperLeaderWatch

            init(watch: ZooKeeperLeaderWatch) {
                self.watch = watch
            }

            /// The leader (first call) or the next change.
            ///
            /// - Returns: `.some(leader)`, `.some(nil)` when no master contends, or `nil` once finished.
            /// - Throws: ``MesosError`` as described on ``MasterDetectors/ZooKeeper``, `CancellationError`
            ///   on cancellation.
            public mutating func next() async throws -> MasterLocation?? {
                try await self.watch.next()
            }
        }
    }
}
