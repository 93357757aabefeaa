import MesosCore

extension MasterDetectors {
    /// A fixed list of masters, asked for the leader with `GET /master/redirect` (pull).
    ///
    /// Each `next()` finds the leader anew, starting with the master that answered last:
    /// - `307` with `Location: //host:port`: that master names the leader, which is returned (the scheme is the
    ///   probed master's; a leader answers 307 to itself);
    /// - `503`: that master knows no leader; the others are still asked, and if none names one, `next()`
    ///   returns `nil` ("no leader right now");
    /// - a connection error, timeout or any other answer: the next master is asked at once.
    ///
    /// When a whole round over the list brings no answer, `next()` waits ``Configuration/backoff`` (full jitter)
    /// and tries again; after ``Configuration/maximumRounds`` rounds it throws ``MesosError`` with
    /// ``MesosError/Code/transportFailure`` (no master reachable) or ``MesosError/Code/noLeader`` (masters
    /// answered, but not usefully), the last failure as ``MesosError/cause``. The sequence never ends by itself.
    ///
    /// The answer is what the masters believe: right after the leader dies, the others may name it until
    /// their own ZooKeeper session notices (seconds). A consumer that cannot reach the named leader calls
    /// `next()` again, with its own backoff.
    public struct Static: AsyncSequence, Sendable {
        /// A leader, or `nil` when the reachable masters know none.
        public typealias Element = MasterLocation?

        /// The masters and the retry policy.
        public let configuration: Configuration
        /// The transport the probes go through.
        public let transport: any MesosTransport

        /// Sleeps the backoff between rounds on the clock given at creation.
        private let sleep: @Sendable (Duration) async throws -> Void

        /// Creates the sequence.
        ///
        /// - Parameters:
        ///   - configuration: The masters and the retry policy.
        ///   - transport: The HTTP transport.
        public init(configuration: Configuration, transport: any MesosTransport) {
            self.init(configuration: configuration, transport: transport, clock: ContinuousClock())
        }

        /// Creates the sequence with the pause between rounds measured on `clock` (tests pass a manual clock;
        /// the probe timeout is the transport's, measured on the transport's clock).
        ///
        /// - Parameters:
        ///   - configuration: The masters and the retry policy.
        ///   - transport: The HTTP transport.
        ///   - clock: The clock the backoff sleeps on.
        public init<C: Clock>(configuration: Configuration, transport: any MesosTransport, clock: C)
        where C.Duration == Duration {
            self.configuration = configuration
            self.transport = transport
            self.sleep = { delay in try await clock.sleep(for: delay, tolerance: nil) }
        }

        /// Returns a fresh iterator, starting with the first master.
        public func makeAsyncIterator() -> Iterator {
            Iterator(configuration: self.configuration, transport: self.transport, sleep: self.sleep)
        }

        /// Probes the masters on each `next()`.
        public struct Iterator: AsyncIteratorProtocol {
            private let configuration: Configuration
            private let probe: LeaderProbe
            private let sleep: @Sendable (Duration) async throws -> Void
            private var start = 0
            private var random = SplitMix64()

            init(
                configuration: Configuration,
                transport: any MesosTransport,
                sleep: @escaping @Sendable (Duration) async throws -> Void
            ) {
                self.configuration = configuration
                self.probe = LeaderProbe(transport: transport, timeout: configuration.probeTimeout)
                self.sleep = sleep
            }

            /// Finds the current leader.
            ///
            /// - Returns: `.some(leader)`, or `.some(nil)` when every master that answered knows no leader.
            /// - Throws: ``MesosError`` when no master answered usefully within the rounds allowed
            ///   (``MesosError/Code/invalidConfiguration`` for an empty list), `CancellationError` on cancellation.
            public mutating func next() async throws -> MasterLocation?? {
                try Task.checkCancellation()
                let masters = self.configuration.masters
                guard !masters.isEmpty else {
                    throw MesosError(code: .invalidConfiguration, message: "The static master list is empty")
                }
                let rounds = Swift.max(1, self.configuration.maximumRounds)
                var lastFailure: MesosError?
                var onlyTransportFailures = true
                for round in 1...rounds {
                    var someoneKnowsNoLeader = false
                    let first = self.start % masters.count
                    for offset in 0..<masters.count {
                        let index = (first + offset) % masters.count
                        switch try await self.probe.probe(masters[index]) {
                        case .leader(let leader):
                            self.start = index
                            return .some(leader)
                        case .noLeader:
                            if !someoneKnowsNoLeader { self.start = index }
                            someoneKnowsNoLeader = true
                        case .failed(let error):
                            lastFailure = error
                            if error.code != .transportFailure && error.code != .timeout {
                                onlyTransportFailures = false
                            }
                        }
                    }
                    if someoneKnowsNoLeader {
                        return .some(nil)
                    }
                    if round < rounds {
                        try await self.sleep(self.configuration.backoff.delay(forAttempt: round, using: &self.random))
                    }
                }
                let names = masters.map(\.description).joined(separator: ", ")
                throw MesosError(
                    code: onlyTransportFailures ? .transportFailure : .noLeader,
                    message: "No master of [\(names)] answered /master/redirect usefully in \(rounds) round(s)"
                        + (lastFailure.map { "; last: \($0.message)" } ?? ""),
                    cause: lastFailure
                )
            }
        }
    }
}
