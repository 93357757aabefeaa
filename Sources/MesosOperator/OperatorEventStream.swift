import Foundation
import Logging
import MesosCore
import MesosRecordIO

/// How the master's operator event stream keeps itself alive: heartbeat watchdog, reconnection backoff, limits.
public struct OperatorEventStreamConfiguration: Sendable {
    /// The delays between subscription attempts after a stream was lost or refused (full jitter; the counter
    /// restarts after every SUBSCRIBED).
    public var reconnectBackoff: BackoffPolicy
    /// How many heartbeat intervals of silence declare the stream dead (default 5: 75 s with Mesos's 15 s).
    public var heartbeatTolerance: Int
    /// The longest wait for the master to answer SUBSCRIBED and send its first record (default 75 s); afterwards
    /// the advertised interval × ``heartbeatTolerance`` governs.
    public var subscribeTimeout: Duration
    /// How many times in a row to subscribe again after a failure (without a SUBSCRIBED in between) before the
    /// stream ends with the last failure, or `nil` (default) to keep trying for ever.
    public var maximumReconnectAttempts: Int?
    /// The largest record accepted (default 512 MiB: the SUBSCRIBED snapshot of a large cluster is big).
    public var maximumEventSize: Int
    /// How many batches of decoded events (the records of one chunk of the body each) may wait for the consumer
    /// before the stream stops reading (default 16).
    public var bufferSize: Int
    /// The seed of the backoff jitter, or `nil` (default) for a random one.
    public var jitterSeed: UInt64?
    /// Called each time the stream is lost or refused, before waiting to reconnect.
    public var onDisconnect: (@Sendable (OperatorStreamDisconnection) -> Void)?

    /// Creates a configuration.
    ///
    /// - Parameters:
    ///   - reconnectBackoff: The delays between attempts.
    ///   - heartbeatTolerance: Heartbeat intervals of silence tolerated (at least 1).
    ///   - subscribeTimeout: The wait for SUBSCRIBED.
    ///   - maximumReconnectAttempts: Retries in a row before giving up, or `nil`.
    ///   - maximumEventSize: The largest record accepted.
    ///   - bufferSize: Batches of decoded events buffered ahead of the consumer (at least 1).
    ///   - jitterSeed: The jitter's seed, or `nil`.
    ///   - onDisconnect: Called on every loss.
    public init(
        reconnectBackoff: BackoffPolicy = .default,
        heartbeatTolerance: Int = 5,
        subscribeTimeout: Duration = .seconds(75),
        maximumReconnectAttempts: Int? = nil,
        maximumEventSize: Int = 512 << 20,
        bufferSize: Int = 16,
        jitterSeed: UInt64? = nil,
        onDisconnect: (@Sendable (OperatorStreamDisconnection) -> Void)? = nil
    ) {
        self.reconnectBackoff = reconnectBackoff
        self.heartbeatTolerance = max(1, heartbeatTolerance)
        self.subscribeTimeout = subscribeTimeout
        self.maximumReconnectAttempts = maximumReconnectAttempts
        self.maximumEventSize = maximumEventSize
        self.bufferSize = max(1, bufferSize)
        self.jitterSeed = jitterSeed
        self.onDisconnect = onDisconnect
    }
}

/// Why the operator event stream was lost, and when it will try again.
public struct OperatorStreamDisconnection: Sendable {
    /// What ended the stream: ``MesosError/Code/streamEnded`` (EOF), ``MesosError/Code/heartbeatTimeout``, an
    /// HTTP status, a transport failure, a malformed record.
    public var reason: MesosError
    /// The consecutive failed attempt this was (1 after a stream that had subscribed).
    public var attempt: Int
    /// The wait before the next attempt.
    public var retryAfter: Duration
    /// Whether the lost stream had delivered SUBSCRIBED.
    public var wasSubscribed: Bool
}

/// The master's operator event stream (SUBSCRIBE on `/api/v1`) as typed events, kept alive for ever.
///
/// Each subscription asks the detector for the leader afresh, follows 307s, and reads the RecordIO body of
/// `mesos.v1.master.Event`s in the negotiated encoding. The first event is SUBSCRIBED; when a stream ends, goes
/// silent for longer than the advertised heartbeat interval × ``OperatorEventStreamConfiguration/heartbeatTolerance``,
/// or is refused with a temporary failure, it subscribes again after a backoff delay on the client's clock
/// (``MesosOperatorConfiguration/clock``), and the new stream starts with a new SUBSCRIBED: there is no replay,
/// so a consumer must rebuild its model from it (``ClusterStateMirror`` does). A refusal that retrying cannot
/// cure (400, 401, 403, 406, 415, 501) ends the sequence with that error.
///
/// Iterating it starts the subscription; ending the iteration (or dropping the iterator) stops it.
///
/// ```swift
/// for try await event in master.events() {
///     print(event.typeName)
/// }
/// ```
public struct OperatorEventStream: AsyncSequence, Sendable {
    /// A typed event.
    public typealias Element = OperatorEvent

    let master: MesosMasterOperator
    /// The stream's configuration.
    public let configuration: OperatorEventStreamConfiguration

    init(master: MesosMasterOperator, configuration: OperatorEventStreamConfiguration) {
        self.master = master
        self.configuration = configuration
    }

    /// Starts subscribing.
    public func makeAsyncIterator() -> Iterator {
        Iterator(pump: OperatorEventPump(master: self.master, configuration: self.configuration))
    }

    /// Hands out the events the subscription loop read.
    public struct Iterator: AsyncIteratorProtocol {
        let pump: OperatorEventPump
        /// The rest of the batch taken last.
        private var pending: ArraySlice<OperatorEvent> = []

        init(pump: OperatorEventPump) {
            self.pump = pump
        }

        /// The next event; `nil` only once the stream was stopped.
        ///
        /// - Throws: ``MesosError``: a refusal that retrying cannot cure, the last failure after
        ///   ``OperatorEventStreamConfiguration/maximumReconnectAttempts``, or ``MesosError/Code/cancelled``.
        public mutating func next() async throws(MesosError) -> OperatorEvent? {
            while true {
                if let event = self.pending.popFirst() {
                    return event
                }
                guard let batch = try await self.pump.next() else {
                    return nil
                }
                self.pending = batch[...]
            }
        }
    }
}

extension MesosMasterOperator {
    /// The master's operator event stream: SUBSCRIBE, heartbeat watchdog, reconnection with backoff.
    ///
    /// - Parameter configuration: Watchdog, backoff and limits.
    /// - Returns: The events, in the master's order, each subscription starting with SUBSCRIBED.
    public func events(_ configuration: OperatorEventStreamConfiguration = OperatorEventStreamConfiguration()) -> OperatorEventStream {
        OperatorEventStream(master: self, configuration: configuration)
    }
}

/// Runs the subscription loop on its own task, started by the first `next()`, and stops it when the last
/// iterator goes away.
final class OperatorEventPump: Sendable {
    private let buffer: EventBuffer<[OperatorEvent]>
    private let loop = LockedValue<Task<Void, Never>?>(nil)
    private let master: MesosMasterOperator
    private let configuration: OperatorEventStreamConfiguration

    init(master: MesosMasterOperator, configuration: OperatorEventStreamConfiguration) {
        self.master = master
        self.configuration = configuration
        self.buffer = EventBuffer(capacity: configuration.bufferSize)
    }

    deinit {
        self.loop.withLock { $0?.cancel() }
        self.buffer.finish()
    }

    func next() async throws(MesosError) -> [OperatorEvent]? {
        self.loop.withLock { task in
            guard task == nil else { return }
            let loop = OperatorSubscriptionLoop(
                master: self.master, configuration: self.configuration, buffer: self.buffer)
            task = Task { await loop.run() }
        }
        do {
            return try await self.buffer.next()
        } catch let error as MesosError {
            throw error
        } catch {
            throw MesosError(code: .cancelled, message: "Reading the operator event stream was cancelled")
        }
    }
}

/// The subscription loop: subscribe, read until the stream is lost, back off, subscribe again.
struct OperatorSubscriptionLoop: Sendable {
    let master: MesosMasterOperator
    let configuration: OperatorEventStreamConfiguration
    let buffer: EventBuffer<[OperatorEvent]>
    let time: TimeSource
    let logger: Logger?

    init(master: MesosMasterOperator, configuration: OperatorEventStreamConfiguration, buffer: EventBuffer<[OperatorEvent]>) {
        self.master = master
        self.configuration = configuration
        self.buffer = buffer
        self.time = TimeSource(master.configuration.clock)
        self.logger = master.configuration.logger
    }

    /// How one subscription ended.
    enum Ending: Sendable {
        /// Lost or refused; `subscribed` tells whether SUBSCRIBED had arrived.
        case lost(MesosError, subscribed: Bool)
        /// The consumer went away or the task was cancelled.
        case stopped
    }

    func run() async {
        var random = self.configuration.jitterSeed.map(SplitMix64.init(seed:)) ?? SplitMix64()
        var attempt = 0
        while !Task.isCancelled {
            let ending = await self.subscribeOnce()
            guard case .lost(let reason, let subscribed) = ending, !Task.isCancelled, !self.buffer.isFinished else {
                self.buffer.finish()
                return
            }
            if Self.isPermanent(reason) {
                self.logger?.error("The master refused the operator event stream", metadata: ["mesos.error": "\(reason)"])
                self.buffer.finish(throwing: reason)
                return
            }
            attempt = subscribed ? 1 : attempt + 1
            if let limit = self.configuration.maximumReconnectAttempts, attempt > limit {
                self.buffer.finish(throwing: reason)
                return
            }
            let delay = self.configuration.reconnectBackoff.delay(forAttempt: attempt, using: &random)
            self.logger?.warning(
                "Operator event stream lost; subscribing again",
                metadata: ["mesos.error": "\(reason.shortDescription)", "mesos.attempt": "\(attempt)", "mesos.delay": "\(delay)"])
            self.configuration.onDisconnect?(
                OperatorStreamDisconnection(reason: reason, attempt: attempt, retryAfter: delay, wasSubscribed: subscribed))
            do {
                try await self.time.sleep(for: delay)
            } catch {
                self.buffer.finish()
                return
            }
        }
        self.buffer.finish()
    }

    /// Failures no retry can cure: the request or the credentials are wrong.
    static func isPermanent(_ error: MesosError) -> Bool {
        switch error.code {
        case .malformedRequest, .unauthenticated, .forbidden, .notAcceptable, .unsupportedMediaType,
            .methodNotAllowed, .notImplemented, .invalidConfiguration, .encodingFailed:
            true
        default:
            false
        }
    }

    /// One subscription, raced against the heartbeat watchdog.
    func subscribeOnce() async -> Ending {
        let watchdog = HeartbeatWatchdog(timeout: self.configuration.subscribeTimeout, time: self.time)
        let subscribed = LockedValue(false)
        let ending = await withTaskGroup(of: Ending?.self) { group in
            group.addTask {
                await self.read(watchdog: watchdog, subscribed: subscribed)
            }
            group.addTask {
                guard let timeout = await watchdog.expiry() else { return nil }
                let message = subscribed.withLock { $0 }
                    ? "No event on the operator stream for \(timeout)"
                    : "No SUBSCRIBED within \(timeout)"
                return .lost(MesosError(code: .heartbeatTimeout, message: message), subscribed: false)
            }
            var first: Ending?
            while let next = await group.next() {
                if let next {
                    first = next
                    break
                }
            }
            group.cancelAll()
            return first ?? .stopped
        }
        if case .lost(let error, _) = ending {
            return .lost(error, subscribed: subscribed.withLock { $0 })
        }
        return ending
    }

    /// Opens the stream on the leader (asking the detector afresh) and hands its events to the buffer.
    private func read(watchdog: HeartbeatWatchdog, subscribed: LockedValue<Bool>) async -> Ending {
        // A fresh exchange forgets the master of the last stream; one attempt each, this loop does the retrying.
        var callConfiguration = self.master.exchange.configuration
        callConfiguration.maximumAttempts = 1
        let exchange = OperatorExchange(configuration: callConfiguration, target: self.master.exchange.target)
        let contentType = callConfiguration.contentType
        let answer: OperatorStreamAnswer
        do {
            let body = try OperatorWire.encode(MasterCall.subscribe(), as: contentType)
            answer = try await exchange.openStream(
                body: body, accept: contentType.mediaType, extraHeaders: [:], idleTimeout: nil, name: "SUBSCRIBE")
        } catch {
            return Task.isCancelled ? .stopped : .lost(error, subscribed: false)
        }
        let negotiated = answer.response.headers["Content-Type"].flatMap(MesosContentType.init(mediaType:)) ?? contentType
        self.logger?.debug("Operator event stream open", metadata: ["mesos.master": "\(answer.master.map { "\($0)" } ?? "?")"])
        // The records of each chunk are decoded and handed over together: one hand-off per chunk, not per event.
        var decoder = RecordIODecoder(maximumRecordSize: self.configuration.maximumEventSize)
        var chunks = answer.body.makeAsyncIterator()
        do {
            while let chunk = try await chunks.next() {
                decoder.append(chunk)
                var batch: [OperatorEvent] = []
                while let record = try decoder.next() {
                    let event: OperatorEvent
                    do {
                        event = try OperatorEvent.decode(record, as: negotiated)
                    } catch {
                        // The events before the bad record are still delivered, in order.
                        if !batch.isEmpty, await self.buffer.push(batch) == false { return .stopped }
                        throw error
                    }
                    if case .subscribed(let snapshot) = event {
                        subscribed.withLock { $0 = true }
                        let seconds = snapshot.hasHeartbeatIntervalSeconds ? snapshot.heartbeatIntervalSeconds : 0
                        if seconds > 0 {
                            watchdog.setTimeout(Duration(saturatingSeconds: seconds) * self.configuration.heartbeatTolerance)
                        }
                    } else if !subscribed.withLock({ $0 }) {
                        let error = MesosError(code: .malformedStream, message: "\(event.typeName) arrived before SUBSCRIBED")
                        return .lost(error, subscribed: false)
                    }
                    batch.append(event)
                }
                guard !batch.isEmpty else { continue }
                watchdog.pause()
                let delivered = await self.buffer.push(batch)
                watchdog.resume()
                guard delivered, !Task.isCancelled else {
                    return .stopped
                }
            }
            // Bytes of an unfinished record left at the end: the stream was cut mid-record.
            try decoder.finish()
            if Task.isCancelled { return .stopped }
            return .lost(MesosError(code: .streamEnded, message: "The master closed the operator event stream"), subscribed: false)
        } catch {
            if Task.isCancelled { return .stopped }
            let failure: MesosError
            switch error {
            case let error as MesosError:
                failure = error
            case let error as RecordIOError:
                failure = MesosError.recordIO(error)
            default:
                failure = MesosError(code: .transportFailure, message: "Reading the operator event stream failed: \(error)", cause: error)
            }
            return .lost(failure, subscribed: false)
        }
    }
}
