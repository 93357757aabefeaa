#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Where the leading master can be reached.
public struct MasterLocation: Sendable, Hashable, CustomStringConvertible {
    /// `http` or `https`.
    public var scheme: String
    /// Host name or IP address.
    public var host: String
    /// TCP port.
    public var port: Int
    /// The path under which the master's endpoints are served, `""` for the root or e.g. `/mesos` behind DC/OS's
    /// Admin Router or another reverse proxy: every endpoint a client calls (`/api/v1/scheduler`, `/api/v1`,
    /// `/master/redirect`, `/version`) goes under it. Normalized: empty, or a leading `/` and no trailing one.
    public var pathPrefix: String {
        didSet { self.pathPrefix = Self.normalizedPrefix(self.pathPrefix) }
    }
    /// What the master said about itself, when the detector learnt it (ZooKeeper node data, SUBSCRIBED).
    public var masterInfo: MasterInfo?

    /// Creates a location.
    ///
    /// - Parameters:
    ///   - scheme: `http` or `https`.
    ///   - host: Host name or IP address.
    ///   - port: TCP port.
    ///   - pathPrefix: The path the master is served under (`/mesos`), or `""`; normalized as ``pathPrefix`` says.
    ///   - masterInfo: What the master said about itself, if known.
    public init(scheme: String = "http", host: String, port: Int, pathPrefix: String = "", masterInfo: MasterInfo? = nil) {
        self.scheme = scheme
        self.host = host
        self.port = port
        self.pathPrefix = Self.normalizedPrefix(pathPrefix)
        self.masterInfo = masterInfo
    }

    /// `""`, or the prefix with one leading `/` and no trailing `/` (`mesos/` → `/mesos`).
    static func normalizedPrefix(_ prefix: String) -> String {
        let segments = prefix.split(separator: "/")
        return segments.isEmpty ? "" : "/" + segments.joined(separator: "/")
    }

    /// The master's base URL, e.g. `http://m1:5050` or, with a path prefix, `https://proxy:8443/mesos`.
    public var baseURL: URL {
        var components = URLComponents()
        components.scheme = self.scheme
        components.host = self.host
        components.port = self.port
        components.path = self.pathPrefix
        // URLComponents always yields a URL for a scheme, host, port and an absolute path.
        return components.url ?? URL(fileURLWithPath: "/")
    }

    /// The scheduler API endpoint, `<base>/api/v1/scheduler`.
    public var schedulerURL: URL {
        self.baseURL.appendingPathComponent("api/v1/scheduler")
    }

    /// `scheme://host:port[/prefix]`.
    public var description: String {
        "\(self.scheme)://\(self.host):\(self.port)\(self.pathPrefix)"
    }

    /// Two locations are the same master when scheme, host, port and path prefix agree (``masterInfo`` is
    /// ignored).
    public static func == (lhs: MasterLocation, rhs: MasterLocation) -> Bool {
        lhs.scheme == rhs.scheme && lhs.host == rhs.host && lhs.port == rhs.port && lhs.pathPrefix == rhs.pathPrefix
    }

    /// Hashes scheme, host, port and path prefix.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(self.scheme)
        hasher.combine(self.host)
        hasher.combine(self.port)
        hasher.combine(self.pathPrefix)
    }
}

/// The port through which services learn which master leads: master discovery.
///
/// A detector is a value holding ``leaders``, an asynchronous sequence of leader observations, and an
/// ``updateMode``.
///
/// ## Contract
/// - **Elements.** Each element is the current leader (`MasterLocation`) or `nil`, meaning "no leader right
///   now" (an election is in progress, or every known master answered 503). A consumer that receives `nil`
///   stops sending to the old leader and waits for the next element.
/// - **Push** (``UpdateMode/push``, e.g. ZooKeeper): the first element is the leader at the time of the call;
///   every later element is a change, delivered when it happens. Consecutive elements differ.
/// - **Pull** (``UpdateMode/pull``, e.g. a static list probed over HTTP): each call to `next()` finds the
///   leader anew, so a consumer calls `next()` when it needs a leader: at start, and again whenever it loses
///   the one it had. Consecutive elements may be equal.
/// - **Errors.** A thrown error means the detector cannot tell right now (ZooKeeper unreachable and retries
///   exhausted, malformed data, …). It is not fatal for the consumer: keep using the last known leader, back
///   off, and create a new iterator to try again. Detectors throw ``MesosError`` with
///   ``MesosError/Code/noLeader`` or ``MesosError/Code/transportFailure`` where they can.
/// - **Cancellation.** When the consuming task is cancelled, `next()` returns `nil` or throws
///   `CancellationError` promptly, releases its connections and never retries afterwards. The sequence
///   ending (`nil` from `next()` without cancellation) means the detector was shut down.
public struct MasterDetector: Sendable {
    /// How elements are produced.
    public struct UpdateMode: Sendable, Hashable, CustomStringConvertible {
        private enum Wrapped: Hashable, Sendable { case push, pull }
        private let wrapped: Wrapped
        private init(_ wrapped: Wrapped) { self.wrapped = wrapped }

        /// Elements arrive when the leader changes.
        public static let push = UpdateMode(.push)
        /// Each `next()` finds the leader anew.
        public static let pull = UpdateMode(.pull)

        /// `push` or `pull`.
        public var description: String { self.wrapped == .push ? "push" : "pull" }
    }

    /// Leader observations; see the contract above.
    public var leaders: Leaders
    /// Push or pull.
    public var updateMode: UpdateMode

    /// Creates a detector from any sequence of observations.
    ///
    /// - Parameters:
    ///   - leaders: The observations.
    ///   - updateMode: How they are produced.
    public init<Observations: AsyncSequence & Sendable>(leaders: Observations, updateMode: UpdateMode)
    where Observations.Element == MasterLocation? {
        self.leaders = Leaders(leaders)
        self.updateMode = updateMode
    }

    /// A detector that always answers `location` (pull): one known master, no discovery.
    public static func fixed(_ location: MasterLocation) -> MasterDetector {
        MasterDetector(leaders: FixedLeader(location: location), updateMode: .pull)
    }

    /// The type-erased sequence of leader observations.
    public struct Leaders: AsyncSequence, Sendable {
        /// A leader, or `nil` for "no leader right now".
        public typealias Element = MasterLocation?

        private let make: @Sendable () -> Iterator

        init<Observations: AsyncSequence & Sendable>(_ observations: Observations)
        where Observations.Element == MasterLocation? {
            self.make = { Iterator(observations.makeAsyncIterator()) }
        }

        /// Returns an iterator.
        public func makeAsyncIterator() -> Iterator {
            self.make()
        }

        /// Iterates observations.
        public struct Iterator: AsyncIteratorProtocol {
            private var base: any AsyncIteratorProtocol
            private var finished = false

            init(_ base: some AsyncIteratorProtocol) {
                self.base = base
            }

            /// The next observation: `.some(leader)`, `.some(nil)` for no leader, or `nil` at the end.
            public mutating func next() async throws -> MasterLocation?? {
                if self.finished { return nil }
                guard let element = try await self.base.next() else {
                    self.finished = true
                    return nil
                }
                return .some(element as? MasterLocation)
            }
        }
    }

    private struct FixedLeader: AsyncSequence, Sendable {
        typealias Element = MasterLocation?
        let location: MasterLocation
        struct AsyncIterator: AsyncIteratorProtocol {
            let location: MasterLocation
            mutating func next() async throws -> MasterLocation?? {
                try Task.checkCancellation()
                return .some(self.location)
            }
        }
        func makeAsyncIterator() -> AsyncIterator { AsyncIterator(location: self.location) }
    }
}
