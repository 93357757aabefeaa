import Foundation
import MesosFramework
import MesosTestKit
import MesosZooKeeper
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The shared ZooKeeper of the server-backed suites (`ZOOKEEPER_CONNECT`), and helpers for them.
enum ZooKeeperTestServer {
    /// Whether the suites needing ZooKeeper run (skipped visibly without it, failing under MESOS_REQUIRE_SERVERS=1).
    static var enabled: Bool { TestServers.shouldRun(needing: "ZOOKEEPER_CONNECT") }

    /// The connect string; throws (failing the test) when it is not configured.
    static func servers() throws -> String { try TestServers.value("ZOOKEEPER_CONNECT") }

    /// A configuration for the shared ZooKeeper.
    static func configuration(sessionTimeout: Duration = .seconds(4)) throws -> ZooKeeperClient.Configuration {
        ZooKeeperClient.Configuration(
            servers: try Self.servers(), sessionTimeout: sessionTimeout, connectTimeout: .seconds(20)
        )
    }

    /// A connected client.
    static func client(sessionTimeout: Duration = .seconds(4)) async throws -> ZooKeeperClient {
        try await ZooKeeperClient.connect(try Self.configuration(sessionTimeout: sessionTimeout))
    }

    /// A path no other test uses.
    static func uniquePath(_ name: String) -> String {
        "/swift-mesos-tests/\(name)-\(UUID().uuidString.prefix(8).lowercased())"
    }

    /// Expires a session on the server, the way ZooKeeper's own tests do: a second client takes the session over
    /// with its id and password, then closes it. The owner's C client reconnects at once and may take the session
    /// back before the close arrives (the close then fails as "session moved"), so this repeats until `expired`
    /// holds or the server says the session is gone.
    static func expire(
        _ session: ZooKeeperClient.SessionCredentials, until expired: @escaping @Sendable () async -> Bool
    ) async throws {
        let configuration = try Self.configuration()
        for _ in 0..<20 {
            guard let thief = await Self.takeOver(session, configuration: configuration) else {
                return  // the session is gone already
            }
            await thief.close()
            let clock = ContinuousClock()
            let deadline = clock.now + .seconds(2)
            while clock.now < deadline {
                if await expired() { return }
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        throw TimedOut(description: "could not expire session \(session.id)")
    }

    /// A client on `session`, or `nil` when the server says it expired.
    private static func takeOver(
        _ session: ZooKeeperClient.SessionCredentials, configuration: ZooKeeperClient.Configuration
    ) async -> ZooKeeperClient? {
        do {
            return try await ZooKeeperClient.connect(configuration, resuming: session)
        } catch {
            return nil
        }
    }

    /// Deletes `path` and everything below it (best effort).
    static func deleteRecursively(_ path: String, client: ZooKeeperClient) async {
        if let children = try? await client.children(of: path) {
            for child in children { await Self.deleteRecursively(path + "/" + child, client: client) }
        }
        try? await client.delete(path)
    }
}

struct TimedOut: Error, CustomStringConvertible {
    let description: String
}

/// Polls `condition` until it holds, failing after `timeout` (generous: ZooKeeper's own timing is real).
func waitUntil(
    _ what: String, timeout: Duration = .seconds(30), _ condition: () async throws -> Bool
) async throws {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    while try await !condition() {
        guard clock.now < deadline else { throw TimedOut(description: "timed out after \(timeout) waiting until \(what)") }
        try await Task.sleep(for: .milliseconds(20))
    }
}

/// Records an election's changes with the time each arrived.
final class ChangeRecorder: Sendable {
    private let changes = LockedBox<[(LeaderElection.Change, ContinuousClock.Instant)]>([])
    private let task: Task<Void, Never>

    init(_ election: LeaderElection) {
        let stream = election.changes()
        let changes = self.changes
        self.task = Task {
            for await change in stream {
                let now = ContinuousClock.now
                changes.withLock { $0.append((change, now)) }
            }
        }
    }

    deinit { self.task.cancel() }

    var all: [LeaderElection.Change] { self.changes.withLock { $0.map(\.0) } }

    var elections: Int {
        self.all.filter { if case .elected = $0 { return true } else { return false } }.count
    }

    var depositions: [LeaderElection.DepositionReason] {
        self.all.compactMap { if case .deposed(_, let reason) = $0 { return reason } else { return nil } }
    }

    /// When the first change matching `predicate` arrived.
    func time(of predicate: (LeaderElection.Change) -> Bool) -> ContinuousClock.Instant? {
        self.changes.withLock { $0.first { predicate($0.0) }?.1 }
    }
}

/// A value behind a lock, for test bookkeeping.
final class LockedBox<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        self.lock.lock()
        defer { self.lock.unlock() }
        return try body(&self.value)
    }
}

/// A TCP proxy on 127.0.0.1 in front of ZooKeeper, to take one client's connection away without touching the
/// others: ``blackhole()`` keeps the sockets open and drops every byte (the client notices only through its own
/// timeout, like a network partition).
final class BlackholeProxy: @unchecked Sendable {
    let port: Int
    private let listener: Int32
    private let target: Int
    private let state = LockedBox<(dropping: Bool, descriptors: [Int32], closed: Bool)>((false, [], false))

    init(targetPort: Int) throws {
        self.target = targetPort
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TimedOut(description: "socket: errno \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard bound == 0, listen(fd, 16) == 0 else {
            Glibc.close(fd)
            throw TimedOut(description: "bind/listen: errno \(errno)")
        }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        self.port = Int(UInt16(bigEndian: address.sin_port))
        self.listener = fd
        let thread = Thread { [self] in self.acceptLoop() }
        thread.start()
    }

    var connectString: String { "127.0.0.1:\(self.port)" }

    /// From now on, every byte in either direction is dropped (connections stay open).
    func blackhole() {
        self.state.withLock { $0.dropping = true }
    }

    /// Closes everything.
    func close() {
        let descriptors = self.state.withLock { state -> [Int32] in
            state.closed = true
            defer { state.descriptors = [] }
            return state.descriptors
        }
        shutdown(self.listener, Int32(SHUT_RDWR))
        Glibc.close(self.listener)
        for fd in descriptors {
            shutdown(fd, Int32(SHUT_RDWR))
            Glibc.close(fd)
        }
    }

    private func acceptLoop() {
        while true {
            let client = accept(self.listener, nil, nil)
            guard client >= 0 else { return }
            let upstream = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(self.target).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(upstream, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            let closed = self.state.withLock { state -> Bool in
                if !state.closed { state.descriptors += [client, upstream] }
                return state.closed
            }
            guard connected == 0, !closed else {
                Glibc.close(client)
                Glibc.close(upstream)
                continue
            }
            Thread { [self] in self.copy(from: client, to: upstream) }.start()
            Thread { [self] in self.copy(from: upstream, to: client) }.start()
        }
    }

    private func copy(from source: Int32, to destination: Int32) {
        var buffer = [UInt8](repeating: 0, count: 16384)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(source, $0.baseAddress, $0.count) }
            guard count > 0 else {
                shutdown(destination, Int32(SHUT_WR))
                return
            }
            if self.state.withLock({ $0.dropping }) { continue }
            let written = buffer.withUnsafeBytes { send(destination, $0.baseAddress, count, Int32(MSG_NOSIGNAL)) }
            guard written == count else { return }
        }
    }
}
