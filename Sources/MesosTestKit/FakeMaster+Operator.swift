import MesosCore
import MesosRecordIO

/// The master's operator event stream, scripted by a test: what SUBSCRIBED carries, and the events every open
/// subscription receives afterwards.
///
/// Serve it with ``FakeMaster/serveOperatorEvents(_:path:)``. Each `POST /api/v1` SUBSCRIBE (JSON or protobuf, as
/// the request's `Content-Type` and `Accept` say) answers 200 with a RecordIO stream: SUBSCRIBED with the current
/// ``snapshot`` and ``heartbeatIntervalSeconds``, one HEARTBEAT, then whatever ``publish(_:)`` sends. Other operator
/// calls get 400. Publishing waits while a subscriber's buffer is full (a bounded number of chunks), so a fast
/// publisher cannot outrun a slow client's memory.
///
/// ```swift
/// let feed = FakeOperatorEventFeed(snapshot: state)
/// await master.serveOperatorEvents(feed)
/// // … a client subscribes …
/// await feed.waitForSubscriptions(1)
/// await feed.publish([taskAdded])
/// feed.closeSubscriptions()          // EOF: the client must subscribe again
/// ```
public final class FakeOperatorEventFeed: Sendable {
    private struct Subscriber {
        var buffer: EventBuffer<ArraySlice<UInt8>>
        var contentType: MesosContentType
    }

    private struct State {
        var snapshot: Mesos_V1_Master_Response.GetState
        var heartbeatIntervalSeconds: Double
        /// SUBSCRIBED and the first HEARTBEAT, encoded once per encoding until the snapshot changes.
        var encodedStart: [MesosContentType: [UInt8]] = [:]
        var subscribers: [Int: Subscriber] = [:]
        var nextID = 0
        var subscriptionCount = 0
        var waiters: [(count: Int, continuation: CheckedContinuation<Void, Never>)] = []
    }

    private let state: LockedValue<State>
    /// The chunks buffered per subscriber before ``publish(_:)`` waits.
    public let bufferedChunks: Int

    /// Creates a feed.
    ///
    /// - Parameters:
    ///   - snapshot: What SUBSCRIBED carries.
    ///   - heartbeatIntervalSeconds: The interval SUBSCRIBED advertises (Mesos: 15).
    ///   - bufferedChunks: Chunks buffered per subscriber (at least 1).
    public init(
        snapshot: Mesos_V1_Master_Response.GetState = Mesos_V1_Master_Response.GetState(),
        heartbeatIntervalSeconds: Double = 15,
        bufferedChunks: Int = 16
    ) {
        self.state = LockedValue(State(snapshot: snapshot, heartbeatIntervalSeconds: heartbeatIntervalSeconds))
        self.bufferedChunks = max(1, bufferedChunks)
    }

    /// What the next SUBSCRIBED carries.
    public var snapshot: Mesos_V1_Master_Response.GetState {
        get { self.state.withLock { $0.snapshot } }
        set { self.state.withLock { $0.snapshot = newValue; $0.encodedStart = [:] } }
    }

    /// The interval the next SUBSCRIBED advertises.
    public var heartbeatIntervalSeconds: Double {
        get { self.state.withLock { $0.heartbeatIntervalSeconds } }
        set { self.state.withLock { $0.heartbeatIntervalSeconds = newValue; $0.encodedStart = [:] } }
    }

    /// The subscriptions open now.
    public var openSubscriptionCount: Int {
        self.state.withLock { $0.subscribers.count }
    }

    /// The SUBSCRIBE requests answered so far.
    public var subscriptionCount: Int {
        self.state.withLock { $0.subscriptionCount }
    }

    /// Returns once `count` SUBSCRIBE requests in all have been answered.
    ///
    /// - Parameter count: The total to wait for.
    public func waitForSubscriptions(_ count: Int) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready = self.state.withLock { state -> Bool in
                if state.subscriptionCount >= count { return true }
                state.waiters.append((count, continuation))
                return false
            }
            if ready { continuation.resume() }
        }
    }

    /// Sends events to every open subscription, all in one chunk per subscription, in order.
    ///
    /// - Parameter events: The events.
    public func publish(_ events: [Mesos_V1_Master_Event]) async {
        let subscribers = self.state.withLock { Array($0.subscribers.values) }
        var encoded: [MesosContentType: ArraySlice<UInt8>] = [:]
        for subscriber in subscribers {
            if encoded[subscriber.contentType] == nil {
                encoded[subscriber.contentType] = ArraySlice(Self.encode(events, as: subscriber.contentType))
            }
            await subscriber.buffer.push(encoded[subscriber.contentType]!)
        }
    }

    /// Sends already framed RecordIO bytes to every open subscription of the given encoding.
    ///
    /// - Parameters:
    ///   - bytes: Complete RecordIO records (or, to test a client, anything else).
    ///   - contentType: Only subscriptions in this encoding receive them.
    public func publish(raw bytes: [UInt8], to contentType: MesosContentType) async {
        let subscribers = self.state.withLock { Array($0.subscribers.values) }
        for subscriber in subscribers where subscriber.contentType == contentType {
            await subscriber.buffer.push(bytes[...])
        }
    }

    /// Ends every open subscription's body cleanly (the client sees EOF), after the chunks already published.
    public func closeSubscriptions() {
        let subscribers = self.state.withLock { state -> [Subscriber] in
            defer { state.subscribers = [:] }
            return Array(state.subscribers.values)
        }
        for subscriber in subscribers {
            subscriber.buffer.finish()
        }
    }

    /// Encodes SUBSCRIBED (with the snapshot) and one HEARTBEAT now, so that the next SUBSCRIBE in this encoding
    /// is answered without encoding the snapshot (a benchmark's timing then leaves the fake's own work out).
    ///
    /// - Parameter contentType: The encoding the subscriber will ask for.
    public func prepareSubscription(as contentType: MesosContentType) {
        self.state.withLock { _ = Self.start(&$0, as: contentType) }
    }

    /// The first records of a subscription, from the cache or encoded now.
    private static func start(_ state: inout State, as contentType: MesosContentType) -> [UInt8] {
        if let bytes = state.encodedStart[contentType] {
            return bytes
        }
        var subscribed = Mesos_V1_Master_Event()
        subscribed.type = .subscribed
        subscribed.subscribed.getState = state.snapshot
        subscribed.subscribed.heartbeatIntervalSeconds = state.heartbeatIntervalSeconds
        var heartbeat = Mesos_V1_Master_Event()
        heartbeat.type = .heartbeat
        let bytes = Self.encode([subscribed, heartbeat], as: contentType)
        state.encodedStart[contentType] = bytes
        return bytes
    }

    /// RecordIO records of `events` in one encoding.
    ///
    /// - Parameters:
    ///   - events: The events.
    ///   - contentType: JSON or protobuf.
    /// - Returns: The framed bytes.
    public static func encode(_ events: [Mesos_V1_Master_Event], as contentType: MesosContentType) -> [UInt8] {
        let codec = MesosCodec(contentType)
        var bytes: [UInt8] = []
        for event in events {
            // Encoding a message the fake built itself cannot fail but for a bug in the test.
            let record = (try? codec.encode(event)) ?? []
            RecordIOEncoder.append(record, to: &bytes)
        }
        return bytes
    }

    /// Answers one operator request.
    func respond(to request: FakeMasterRequest) -> FakeMasterResponse {
        guard request.method == "POST" else {
            return .text(405)
        }
        let requestType: MesosContentType
        switch request.headers["Content-Type"] {
        case "application/json": requestType = .json
        case "application/x-protobuf": requestType = .protobuf
        default: return .text(415, "Expecting 'Content-Type' of application/json or application/x-protobuf")
        }
        guard let call = try? MesosCodec(requestType).decode(Mesos_V1_Master_Call.self, from: request.body[...]) else {
            return .text(400, "Failed to parse body into Call")
        }
        guard call.type == .subscribe else {
            return .text(400, "The fake master's operator endpoint serves only SUBSCRIBE")
        }
        let accept = request.headers["Accept"] ?? "application/json"
        let contentType: MesosContentType
        if accept.contains("application/json") || accept.contains("*/*") {
            contentType = .json
        } else if accept.contains("application/x-protobuf") {
            contentType = .protobuf
        } else {
            return .text(406)
        }
        let buffer = EventBuffer<ArraySlice<UInt8>>(capacity: self.bufferedChunks)
        let (id, first, waiters) = self.state.withLock { state -> (Int, [UInt8], [CheckedContinuation<Void, Never>]) in
            let id = state.nextID
            state.nextID += 1
            state.subscriptionCount += 1
            state.subscribers[id] = Subscriber(buffer: buffer, contentType: contentType)
            let ready = state.waiters.filter { $0.count <= state.subscriptionCount }.map(\.continuation)
            state.waiters.removeAll { $0.count <= state.subscriptionCount }
            return (id, Self.start(&state, as: contentType), ready)
        }
        for waiter in waiters { waiter.resume() }
        return .stream(headers: ["Content-Type": contentType.mediaType]) { [weak self] writer in
            defer {
                buffer.finish()
                _ = self?.state.withLock { $0.subscribers.removeValue(forKey: id) }
            }
            try await writer.write(first[...])
            while let chunk = try await buffer.next() {
                try await writer.write(chunk)
            }
        }
    }
}

extension FakeMaster {
    /// Serves the operator event stream (SUBSCRIBE) of `feed` on `path` (`/api/v1` by default).
    ///
    /// - Parameters:
    ///   - feed: What subscriptions receive.
    ///   - path: The operator endpoint's path.
    public func serveOperatorEvents(_ feed: FakeOperatorEventFeed, path: String = "/api/v1") {
        self.route("POST", path) { request in
            feed.respond(to: request)
        }
    }
}
