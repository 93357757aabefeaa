import CZooKeeper
import Foundation
import MesosCore
import MesosDiscovery
import MesosZooKeeper
import Testing
import MesosTestKit

/// Against a real ZooKeeper (`ZOOKEEPER_CONNECT`, e.g. from `scripts/zookeeper.sh start 2281 DIR`); each test
/// works under a path of its own.
@Suite("ZooKeeper detector (real ZooKeeper)", .enabled(if: TestEnvironment.zooKeeperTestsRun, "set ZOOKEEPER_CONNECT to run"))
struct ZooKeeperDetectorTests {
    let servers: String

    init() throws {
        self.servers = try TestEnvironment.requireZooKeeper()
    }

    func detector(
        _ path: String,
        servers: String? = nil,
        credentials: String = "",
        configure: (inout MasterDetectors.ZooKeeper.Configuration) -> Void = { _ in }
    ) throws -> MasterDetector {
        var configuration = try MasterDetectors.ZooKeeper.Configuration(
            url: "zk://\(credentials)\(servers ?? self.servers)\(path)"
        )
        configuration.sessionTimeout = .seconds(4)
        configuration.connectTimeout = .seconds(5)
        configure(&configuration)
        return .zooKeeper(configuration)
    }

    static func location(_ port: Int) -> MasterLocation {
        MasterLocation(host: "localhost", port: port)
    }

    @Test("the lowest json.info_ leads; deleting it elects the next; a newcomer changes nothing")
    func electionOrder() async throws {
        let admin = try await ZooKeeperAdmin(servers: self.servers)
        let path = TestEnvironment.uniquePath("order")
        try admin.ensure(path)
        defer { try? admin.deleteRecursively(path) }
        let first = try admin.create(path + "/json.info_", data: ZooKeeperAdmin.masterInfoJSON(port: 5161), mode: ZOO_EPHEMERAL_SEQUENTIAL)
        let second = try admin.create(path + "/json.info_", data: ZooKeeperAdmin.masterInfoJSON(port: 5162), mode: ZOO_EPHEMERAL_SEQUENTIAL)

        let detector = try self.detector(path)
        #expect(detector.updateMode == .push)
        let recorder = LeaderRecorder.start(detector)
        let leader = try #require(try await recorder.element(1))
        #expect(leader == Self.location(5161))
        #expect(leader.masterInfo?.version == "1.11.0")

        try admin.delete(first)
        #expect(try await recorder.element(2) == Self.location(5162))

        // A new follower is not a change: the next element reported is the leader after `second` leaves (a
        // report for the follower would take its place; no pause needed to see that).
        let third = try admin.create(path + "/json.info_", data: ZooKeeperAdmin.masterInfoJSON(port: 5163), mode: ZOO_EPHEMERAL_SEQUENTIAL)
        try admin.delete(second)
        #expect(try await recorder.element(3) == Self.location(5163))
        try admin.delete(third)
        #expect(try await recorder.element(4) == .none)
        await recorder.stop()
        #expect(recorder.leaders == [Self.location(5161), Self.location(5162), Self.location(5163), nil])
    }

    @Test("older forms: info_ with binary MasterInfo and bare numbers with a PID")
    func olderFormats() async throws {
        let admin = try await ZooKeeperAdmin(servers: self.servers)
        let path = TestEnvironment.uniquePath("formats")
        try admin.ensure(path)
        defer { try? admin.deleteRecursively(path) }
        let binary = try MesosCodec(.protobuf).encode(ZooKeeperAdmin.masterInfo(port: 6001, host: "m-binary"))
        let protobufNode = try admin.create(path + "/info_", data: binary, mode: ZOO_EPHEMERAL_SEQUENTIAL)
        let pidNode = try admin.create(path + "/", data: Array("master@127.0.0.2:6002".utf8), mode: ZOO_EPHEMERAL_SEQUENTIAL)
        #expect(pidNode.hasPrefix(path + "/00"))
        try admin.create(path + "/json.info_", data: ZooKeeperAdmin.masterInfoJSON(port: 6003), mode: ZOO_EPHEMERAL_SEQUENTIAL)

        let recorder = LeaderRecorder.start(try self.detector(path))
        #expect(try await recorder.element(1) == MasterLocation(host: "m-binary", port: 6001))
        try admin.delete(protobufNode)
        #expect(try await recorder.element(2) == MasterLocation(host: "127.0.0.2", port: 6002))
        try admin.delete(pidNode)
        #expect(try await recorder.element(3) == Self.location(6003))
        await recorder.stop()
    }

    @Test("children that are not contending masters are ignored")
    func unrelatedChildren() async throws {
        let admin = try await ZooKeeperAdmin(servers: self.servers)
        let path = TestEnvironment.uniquePath("unrelated")
        try admin.ensure(path)
        defer { try? admin.deleteRecursively(path) }
        try admin.create(path + "/log_replicas")
        try admin.create(path + "/foo_0000000000", data: Array("not a master".utf8))
        try admin.create(path + "/json.info_notanumber", data: Array("{".utf8))
        let contender = try admin.create(path + "/json.info_", data: ZooKeeperAdmin.masterInfoJSON(port: 5170), mode: ZOO_EPHEMERAL_SEQUENTIAL)
        let recorder = LeaderRecorder.start(try self.detector(path))
        #expect(try await recorder.element(1) == Self.location(5170))
        // A new unrelated child triggers a re-read but no change: the next element is the one caused by the
        // only contender leaving (no leader), not a report for `bar_`.
        try admin.create(path + "/bar_", mode: ZOO_PERSISTENT_SEQUENTIAL)
        try admin.delete(contender)
        #expect(try await recorder.element(2) == .none)
        await recorder.stop()
        #expect(recorder.leaders == [Self.location(5170), nil])
    }

    @Test("an empty or missing election path means no leader; a master appearing later is reported")
    func emptyAndMissing() async throws {
        let admin = try await ZooKeeperAdmin(servers: self.servers)
        let path = TestEnvironment.uniquePath("missing")
        defer { try? admin.deleteRecursively(path) }
        let recorder = LeaderRecorder.start(try self.detector(path))
        #expect(try await recorder.element(1) == .none)
        try admin.ensure(path)  // the path appears, still empty: no change (element 2 must be the master below)
        try admin.create(path + "/json.info_", data: ZooKeeperAdmin.masterInfoJSON(port: 5180), mode: ZOO_EPHEMERAL_SEQUENTIAL)
        #expect(try await recorder.element(2) == Self.location(5180))
        // The whole path goes away: the child watch fires, the path is missing, no leader.
        try admin.deleteRecursively(path)
        #expect(try await recorder.element(3) == .none)
        await recorder.stop()
        #expect(recorder.leaders == [nil, Self.location(5180), nil])
    }

    @Test("a connect string whose first server is down still works")
    func deadServerFirst() async throws {
        let admin = try await ZooKeeperAdmin(servers: self.servers)
        let path = TestEnvironment.uniquePath("dead-first")
        try admin.ensure(path)
        defer { try? admin.deleteRecursively(path) }
        try admin.create(path + "/json.info_", data: ZooKeeperAdmin.masterInfoJSON(port: 5190), mode: ZOO_EPHEMERAL_SEQUENTIAL)
        let dead = "127.0.0.1:\(try TestEnvironment.freePort())"
        // Try the servers in the order given, so the dead one really comes first.
        zoo_deterministic_conn_order(1)
        defer { zoo_deterministic_conn_order(0) }
        let recorder = LeaderRecorder.start(try self.detector(path, servers: "\(dead),\(self.servers)"))
        #expect(try await recorder.element(1, timeout: .seconds(10)) == Self.location(5190))
        await recorder.stop()
    }

    @Test("digest credentials from the URL read an ACL'd election; without them ZNOAUTH is a typed error")
    func digestAuthentication() async throws {
        let admin = try await ZooKeeperAdmin(servers: self.servers, digest: "mesos:s3cret")
        let parent = TestEnvironment.uniquePath("auth")
        try admin.ensure(parent)
        let path = parent + "/mesos"
        try admin.create(path, acl: .creatorOnly)
        defer { try? admin.deleteRecursively(parent) }
        try admin.create(
            path + "/json.info_", data: ZooKeeperAdmin.masterInfoJSON(port: 5200), mode: ZOO_EPHEMERAL_SEQUENTIAL,
            acl: .creatorOnly
        )

        var authorised = try self.detector(path, credentials: "mesos:s3cret@").leaders.makeAsyncIterator()
        #expect(try await authorised.next() == .some(Self.location(5200)))

        for credentials in ["", "mesos:badpass@"] {
            var denied = try self.detector(path, credentials: credentials).leaders.makeAsyncIterator()
            let error = await #expect(throws: MesosError.self) { try await denied.next() }
            #expect(error?.code == .unauthenticated)
            #expect(error?.message.contains("ZNOAUTH") == true)
            #expect(error?.message.contains("badpass") == false, "no password in messages")
        }
    }

    @Test("an unreadable leader node is decodingFailed")
    func malformedLeader() async throws {
        let admin = try await ZooKeeperAdmin(servers: self.servers)
        let path = TestEnvironment.uniquePath("malformed")
        try admin.ensure(path)
        defer { try? admin.deleteRecursively(path) }
        try admin.create(path + "/json.info_", data: Array("{\"port\": \"x\"".utf8), mode: ZOO_EPHEMERAL_SEQUENTIAL)
        var leaders = try self.detector(path).leaders.makeAsyncIterator()
        let error = await #expect(throws: MesosError.self) { try await leaders.next() }
        #expect(error?.code == .decodingFailed)
        #expect(error?.message.contains(path) == true)
    }

    @Test("cancelling the consumer closes the session promptly")
    func cancellationClosesSession() async throws {
        let admin = try await ZooKeeperAdmin(servers: self.servers)
        let path = TestEnvironment.uniquePath("cancel")
        try admin.ensure(path)
        defer { try? admin.deleteRecursively(path) }
        try admin.create(path + "/json.info_", data: ZooKeeperAdmin.masterInfoJSON(port: 5210), mode: ZOO_EPHEMERAL_SEQUENTIAL)
        let events = LockedValue<[MasterDetectors.ZooKeeper.SessionEvent]>([])
        let detector = try self.detector(path) { configuration in
            configuration.sessionObserver = { event in events.withLock { $0.append(event) } }
        }
        let recorder = LeaderRecorder.start(detector)
        #expect(try await recorder.element(1) == Self.location(5210))
        let clock = ContinuousClock()
        let started = clock.now
        await recorder.stop()
        #expect(clock.now - started < .seconds(2))
        #expect(recorder.error is CancellationError)
        let kinds = events.withLock { $0.map(\.kind) }
        #expect(kinds == [.connected, .closed])
        #expect(events.withLock { $0.first?.sessionID ?? 0 } != 0)
    }
}
