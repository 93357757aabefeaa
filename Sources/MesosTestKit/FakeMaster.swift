import Foundation
import MesosCore
import MesosInMemoryTransport

/// A scriptable fake Mesos master speaking the v1 scheduler API, for tests.
///
/// The same master serves two ways:
/// - **In memory**: ``transport`` is a `MesosInMemoryTransport` whose handler is this master; no sockets.
/// - **Over HTTP/1.1** on 127.0.0.1: ``FakeMasterServer/start(master:host:port:)`` serves it with SwiftNIO, with
///   real chunked encoding, keep-alive and backpressure.
///
/// It follows the master's HTTP semantics (PROTOCOL.md §1): `POST /api/v1/scheduler` (and
/// `/master/api/v1/scheduler`) with the exact `Content-Type` check (400/415), 405 for other methods, `Accept`
/// negotiation for SUBSCRIBE (406), the `Mesos-Stream-Id` rules (400), unknown framework (400 "Framework cannot
/// be found"), known but not subscribed (403 "Framework is not subscribed"), 202 for calls (200 for
/// UPDATE_FRAMEWORK) and 400 "Failed to validate scheduler::Call: …". SUBSCRIBE answers 200 with a fresh
/// `Mesos-Stream-Id` and a never-ending RecordIO stream: SUBSCRIBED, a HEARTBEAT at once, then one every
/// ``Configuration/heartbeatInterval``. A second SUBSCRIBE for the same framework sends ERROR "Framework failed
/// over" on the old stream and ends it. `GET /master/redirect` (and `/redirect`) answers 307 to the leader, and
/// `GET /version` answers a version document.
///
/// Everything it receives is recorded (``receivedCalls``, ``receivedRequests``), events can be pushed onto a live
/// stream (``send(_:to:)``, ``sendOffers(_:to:cpus:memoryMB:)``), faults can be injected for the next requests
/// (``inject(_:matching:times:)``) and arbitrary routes added (``route(_:_:handler:)``).
///
/// ```swift
/// import MesosCore
/// import MesosTestKit
///
/// let master = FakeMaster(configuration: .init(heartbeatInterval: .milliseconds(50)))
///
/// // Either in memory…
/// let transport: any MesosTransport = master.transport
/// let url = master.inMemoryURL.appending(path: "api/v1/scheduler")
/// // …or over HTTP on 127.0.0.1, for a real transport (shut it down at the end of the test):
/// //   let server = try await FakeMasterServer.start(master: master)
/// //   let url = server.url.appending(path: "api/v1/scheduler")
/// //   … try await server.shutdown()
///
/// // Subscribe through the transport under test:
/// var info = FrameworkInfo()
/// info.user = "test"
/// info.name = "example"
/// let codec = MesosCodec(.json)
/// let (head, body) = try await transport.send(MesosHTTPRequest(
///     url: url,
///     headers: ["Content-Type": "application/json", "Accept": "application/json"],
///     body: try codec.encode(call: .subscribe(frameworkInfo: info))))
/// let streamID = head.headers["Mesos-Stream-Id"]!   // send it with every other call
/// var events = body.schedulerEvents(codec: codec).makeAsyncIterator()
/// guard case .subscribed(let subscribed)? = try await events.next() else { return }
///
/// // Script the master and look at what it received:
/// let offers = try await master.sendOffers(2, to: subscribed.frameworkID)   // arrives as OFFERS on `events`
/// await master.inject(.noLeader, matching: .call(.decline))                  // the next DECLINE gets 503
/// let calls = await master.receivedCalls                                     // SUBSCRIBE, …
/// // Keep `events` (and so the body) alive while the framework must stay subscribed: dropping the body
/// // closes the stream, and the master then answers 403 "Framework is not subscribed".
/// try await master.waitUntil { $0.framework(subscribed.frameworkID)?.isSubscribed == true }
/// ```
public actor FakeMaster {
    /// How a fake master presents itself and paces its streams.
    public struct Configuration: Sendable {
        /// The master's id; framework ids are `<masterID>-0000`, `<masterID>-0001`, ….
        public var masterID: String
        /// The host name announced in `MasterInfo` and used in redirects (the HTTP server sets `127.0.0.1`).
        public var hostname: String
        /// The port announced in `MasterInfo` (the HTTP server sets its bound port).
        public var port: Int
        /// The Mesos version announced in `MasterInfo` and by `GET /version`.
        public var version: String
        /// The heartbeat interval announced in SUBSCRIBED and used between HEARTBEAT events.
        public var heartbeatInterval: Duration
        /// Whether HEARTBEAT events follow the first one every ``heartbeatInterval``.
        public var sendsPeriodicHeartbeats: Bool
        /// Whether calls are checked like the master does (400 "Failed to validate scheduler::Call: …").
        public var validatesCalls: Bool
        /// Whether every request is kept in ``FakeMaster/receivedRequests`` and ``FakeMaster/receivedCalls``
        /// (default `true`). A long benchmark turns it off so the master's memory does not grow with each call.
        public var recordsRequests: Bool

        /// Creates a configuration.
        ///
        /// - Parameters:
        ///   - masterID: The master's id; a fresh UUID by default.
        ///   - hostname: The announced host name.
        ///   - port: The announced port.
        ///   - version: The announced Mesos version.
        ///   - heartbeatInterval: The heartbeat period; Mesos uses 15 s, tests use tens of milliseconds.
        ///   - sendsPeriodicHeartbeats: Whether heartbeats follow the first one.
        ///   - validatesCalls: Whether invalid calls get 400.
        ///   - recordsRequests: Whether requests are recorded.
        public init(
            masterID: String = UUID().uuidString.lowercased(),
            hostname: String = "fake-master",
            port: Int = 5050,
            version: String = "1.11.0",
            heartbeatInterval: Duration = .seconds(15),
            sendsPeriodicHeartbeats: Bool = true,
            validatesCalls: Bool = true,
            recordsRequests: Bool = true
        ) {
            self.masterID = masterID
            self.hostname = hostname
            self.port = port
            self.version = version
            self.heartbeatInterval = heartbeatInterval
            self.sendsPeriodicHeartbeats = sendsPeriodicHeartbeats
            self.validatesCalls = validatesCalls
            self.recordsRequests = recordsRequests
        }
    }

    /// Whether this master leads, which decides how it answers the scheduler endpoint and `/master/redirect`.
    public enum Leadership: Sendable, Equatable {
        /// It leads: it serves the scheduler API; `/master/redirect` points at itself.
        case leader
        /// Another master leads: scheduler calls and `/master/redirect` get 307 to `//<hostAndPort>`.
        case follower(leader: String)
        /// No leader is known: 503 "No leader elected".
        case noLeader
        /// It leads but is still recovering: 503 "Master has not finished recovery".
        case recovering
    }

    /// The configuration (``Configuration/hostname`` and ``Configuration/port`` as currently advertised).
    public internal(set) var configuration: Configuration
    /// Whether this master leads.
    public internal(set) var leadership: Leadership = .leader
    /// Every request to the scheduler endpoint, in arrival order.
    public internal(set) var receivedCalls: [ReceivedCall] = []
    /// Every request, to any path, in arrival order.
    public internal(set) var receivedRequests: [FakeMasterRequest] = []

    var frameworkRecords: [String: FrameworkRecord] = [:]
    var frameworkOrder: [String] = []
    var nextFrameworkNumber = 0
    var nextOfferNumber = 0
    var faultRules: [FaultRule] = []
    var routes: [Route] = []
    var callReaction: (@Sendable (SchedulerCall, FrameworkID) -> [SchedulerEvent])?
    nonisolated let streamRegistry = StreamRegistry()

    /// Creates a fake master.
    ///
    /// - Parameter configuration: How it presents itself and paces its streams.
    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// A transport that delivers requests to this master in memory. Any URL works; see ``inMemoryURL``.
    public nonisolated var transport: MesosInMemoryTransport {
        MesosInMemoryTransport { [self] request in
            try await InMemoryResponder.respond(master: self, to: request)
        }
    }

    /// A base URL to use with ``transport`` (the in-memory transport ignores the host).
    public nonisolated var inMemoryURL: URL {
        URL(string: "http://fake-master:5050")!
    }

    /// The frameworks this master knows, in the order they first subscribed.
    public var frameworks: [FakeFramework] {
        self.frameworkOrder.compactMap { self.frameworkRecords[$0]?.snapshot }
    }

    /// The framework with this id, if known.
    ///
    /// - Parameter id: The framework id.
    public func framework(_ id: FrameworkID) -> FakeFramework? {
        self.frameworkRecords[id.value]?.snapshot
    }

    /// The ids of the frameworks with a live subscription.
    public var subscribedFrameworkIDs: [FrameworkID] {
        self.frameworks.filter(\.isSubscribed).map(\.id)
    }

    /// The `Mesos-Stream-Id` of the framework's live subscription, if any.
    ///
    /// - Parameter frameworkID: The framework id.
    public func streamID(of frameworkID: FrameworkID) -> String? {
        self.frameworkRecords[frameworkID.value]?.subscription?.streamID
    }

    /// Every streamed response body so far (subscriptions and streamed routes), with bytes written and how it ended.
    public nonisolated var responseStreams: [FakeResponseStream] {
        self.streamRegistry.snapshot
    }

    /// Changes the advertised host and port (done by ``FakeMasterServer`` once it is bound).
    ///
    /// - Parameters:
    ///   - hostname: The host name or IP.
    ///   - port: The port.
    public func setAdvertisedAddress(hostname: String, port: Int) {
        self.configuration.hostname = hostname
        self.configuration.port = port
    }

    /// Makes this master lead, follow another one, or know no leader.
    ///
    /// - Parameter leadership: The new state.
    public func setLeadership(_ leadership: Leadership) {
        self.leadership = leadership
    }

    /// Waits until `condition` holds, checking every few milliseconds.
    ///
    /// ```swift
    /// try await master.waitUntil { $0.receivedCalls.count == 3 }
    /// ```
    ///
    /// - Parameters:
    ///   - timeout: How long to wait: a guard against a hang, generous because a test machine can be busy with
    ///     every other test at once.
    ///   - condition: Evaluated on the master's state.
    /// - Throws: ``MesosError/Code/timeout`` if the condition still fails after `timeout`.
    public func waitUntil(
        timeout: Duration = .seconds(60),
        _ condition: @Sendable (isolated FakeMaster) -> Bool
    ) async throws {
        let deadline = ContinuousClock.now + timeout
        while !condition(self) {
            guard ContinuousClock.now < deadline else {
                throw MesosError(code: .timeout, message: "FakeMaster.waitUntil: condition still false after \(timeout)")
            }
            try await Task.sleep(for: .milliseconds(5))
        }
    }
}

/// What the master keeps per framework.
struct FrameworkRecord {
    var id: FrameworkID
    var info: FrameworkInfo
    var subscription: Subscription?
    var subscriptionCount = 0
    var isRemoved = false

    var snapshot: FakeFramework {
        FakeFramework(
            id: self.id,
            info: self.info,
            isSubscribed: self.subscription != nil,
            streamID: self.subscription?.streamID,
            subscriptionCount: self.subscriptionCount,
            isRemoved: self.isRemoved
        )
    }
}

/// A fault waiting for matching requests.
struct FaultRule {
    var faults: [FakeMasterFault]
    var matcher: FakeMasterRequestMatcher
    /// How many more requests it applies to; `nil` for all.
    var remaining: Int?
}

/// A custom route.
struct Route {
    var method: String?
    var path: String
    var handler: @Sendable (FakeMasterRequest) async throws -> FakeMasterResponse
}
