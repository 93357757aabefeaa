import Foundation
import MesosCore
import MesosRecordIO

/// Everything a ``MesosScheduler`` needs: the framework, where the masters are, how to reach them, and how to
/// behave when things go wrong.
public struct MesosSchedulerConfiguration: Sendable {
    /// The framework. Set `user` and `name`; set `id` to fail over to an existing framework on the first
    /// SUBSCRIBE (a restarted scheduler). Set `failoverTimeout` (seconds) high enough that a lost connection does
    /// not tear the framework down: Mesos's default of 0 removes it, and its tasks, as soon as the stream drops.
    public var frameworkInfo: FrameworkInfo
    /// Master discovery: which master leads, now and after a failover.
    public var master: MasterDetector
    /// The HTTP transport (libcurl, URLSession, in-memory, or your own).
    public var transport: any MesosTransport
    /// The encoding of calls and events (default protobuf: smaller and faster to decode).
    public var contentType: MesosContentType = .protobuf
    /// Supplies the `Authorization` header (Basic, DC/OS service account, …), or `nil`.
    public var authenticator: (any MesosAuthenticator)?
    /// The longest a non-SUBSCRIBE call may take.
    public var callTimeout: Duration = .seconds(75)
    /// The most calls in flight at once (default 64). Past it, a call waits, suspended and in arrival order,
    /// until an earlier one is answered; a caller cancelled while waiting gets ``MesosError/Code/cancelled``.
    public var maximumCallsInFlight: Int = 64
    /// The heartbeat interval assumed until SUBSCRIBED arrives (Mesos's is 15 s): `heartbeatInterval` ×
    /// `heartbeatTolerance` bounds the wait for SUBSCRIBED. From SUBSCRIBED on, the interval the master
    /// advertises (`heartbeat_interval_seconds`) governs; this one is used only if the master advertises none.
    public var heartbeatInterval: Duration = .seconds(15)
    /// How many heartbeat intervals may pass without an event before the stream is declared dead and replaced.
    public var heartbeatTolerance: Double = 5
    /// The clock the heartbeat watchdog and the delays between subscription attempts are measured on.
    /// `ContinuousClock` unless a test drives time itself (for example with `MesosTestKit`'s `ManualClock`).
    public var clock: any Clock<Duration> = ContinuousClock()
    /// Delays between subscription attempts (exponential with full jitter).
    public var backoff: BackoffPolicy = .default
    /// Give up after this many consecutive failed subscription attempts (`nil`: never).
    public var maximumSubscriptionAttempts: Int?
    /// The most redirects (307 to the leader) one request may follow.
    public var maximumRedirects: Int = 8
    /// How many events may wait for a slow consumer before the stream is paused.
    public var eventBufferSize: Int = 64
    /// Whether status updates are acknowledged automatically after the consumer handled them.
    public var acknowledgements: AcknowledgementMode = .automatic
    /// Roles to keep suppressed from the first SUBSCRIBE on (declared again on every re-subscription).
    public var suppressedRoles: Set<String> = []
    /// Offer constraints sent with SUBSCRIBE (Mesos 1.11+), or `nil`.
    public var offerConstraints: OfferConstraints?
    /// The largest event accepted, in bytes.
    public var maximumEventSize: Int = RecordIODecoder.defaultMaximumRecordSize
    /// How many helper tasks may decode parts of a large batch of events (a master catching up, a burst of
    /// offers) on other cores while the reading task decodes the first part and delivers; events are always
    /// delivered in stream order, and a small batch is decoded on the reading task alone. 0 decodes every event
    /// on the reading task (no hand-off at all). See ``ParallelSchedulerEventSequence``.
    public var decodingConcurrency: Int = MesosSchedulerConfiguration.defaultDecodingConcurrency
    /// The default ``decodingConcurrency``: one helper per active core beside the reading task's, at most 3; 0 on
    /// two cores or fewer. On two cores a helper gains little (measured: about the same events/s as decoding on the
    /// reading task, for twice the CPU): the events it decodes are freed on the reading thread, in another
    /// thread's malloc arena, and the second core is also the transport's and the application's.
    public static var defaultDecodingConcurrency: Int {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        return cores <= 2 ? 0 : min(3, cores - 1)
    }
    /// The scheduler endpoint's path on the master.
    public var schedulerPath: String = "/api/v1/scheduler"

    /// Creates a configuration with the documented defaults.
    ///
    /// - Parameters:
    ///   - frameworkInfo: The framework.
    ///   - master: Master discovery (see `MesosDiscovery` for URL-based detectors, or ``MasterDetector/fixed(_:)``).
    ///   - transport: The HTTP transport.
    public init(frameworkInfo: FrameworkInfo, master: MasterDetector, transport: any MesosTransport) {
        self.frameworkInfo = frameworkInfo
        self.master = master
        self.transport = transport
    }

    /// mesoshttp's default number of connection attempts (`MesosClient(max_reconnect=3)`).
    public static let mesoshttpReconnectAttempts = 3

    /// Gives up after `attempts` consecutive failed subscription attempts instead of retrying forever: the
    /// bounded reconnects of mesoshttp (3 by default). When they are exhausted, ``MesosScheduler/run()`` throws
    /// and a ``Scheduler`` delegate's `error` callback is called.
    public mutating func limitReconnectAttempts(to attempts: Int = MesosSchedulerConfiguration.mesoshttpReconnectAttempts) {
        self.maximumSubscriptionAttempts = max(1, attempts)
    }

    /// When status updates are acknowledged.
    public struct AcknowledgementMode: Sendable, Hashable, CustomStringConvertible {
        private enum Wrapped: Hashable, Sendable { case automatic, explicit }
        private let wrapped: Wrapped
        private init(_ wrapped: Wrapped) { self.wrapped = wrapped }

        /// Updates with a uuid are acknowledged once the consumer is done with them: when it asks for the next
        /// event, or when its callbacks return. Updates without a uuid are never acknowledged.
        public static let automatic = AcknowledgementMode(.automatic)
        /// The framework acknowledges itself (``SchedulerCallSender/acknowledge(_:)-(TaskStatus)``), for example after
        /// writing the state change to durable storage.
        public static let explicit = AcknowledgementMode(.explicit)

        /// `automatic` or `explicit`.
        public var description: String { self.wrapped == .automatic ? "automatic" : "explicit" }
    }
}
