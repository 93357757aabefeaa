import Foundation
import MesosCore
import MesosTestKit
import MesosZooKeeper
import Testing

@Suite("ZooKeeper client (offline)")
struct ZooKeeperClientOfflineTests {
    @Test("no server answering is a typed connect timeout, not a hang")
    func connectTimeout() async throws {
        let configuration = ZooKeeperClient.Configuration(
            servers: "127.0.0.1:1", sessionTimeout: .seconds(2), connectTimeout: .milliseconds(300)
        )
        let error = await #expect(throws: ZooKeeperError.self) {
            _ = try await ZooKeeperClient.connect(configuration)
        }
        #expect(error?.code == .connectTimeout)
        #expect(error?.mesosError.code == .timeout)
    }

    @Test("the connect deadline is measured on the injected clock")
    func connectDeadlineOnInjectedClock() async throws {
        let clock = ManualClock()
        let configuration = ZooKeeperClient.Configuration(
            servers: "127.0.0.1:1", sessionTimeout: .seconds(2), connectTimeout: .seconds(30)
        )
        let connecting = Task { () -> ZooKeeperError? in
            do throws(ZooKeeperError) {
                _ = try await ZooKeeperClient.connect(configuration, clock: clock)
                return nil
            } catch {
                return error
            }
        }
        await clock.waitForSleepers(1)
        clock.advance(by: .seconds(30))
        let error = await connecting.value
        #expect(error?.code == .connectTimeout)
    }

    @Test("an election that cannot connect retries after its delay on the injected clock, and resigns at once")
    func electionRetriesOnInjectedClock() async throws {
        let clock = ManualClock()
        let election = LeaderElection(
            configuration: .init(
                client: .init(servers: "127.0.0.1:1", sessionTimeout: .seconds(2), connectTimeout: .seconds(5)),
                path: "/election", retryDelay: .seconds(10)
            ),
            clock: clock
        )
        let changes = election.changes()
        election.start()
        await clock.waitForSleepers(1)  // the connect deadline
        clock.advance(by: .seconds(5))
        await clock.waitForSleepers(1)  // the retry delay
        #expect(election.lastError?.code == .connectTimeout)
        #expect(!election.isLeader)
        clock.advance(by: .seconds(10))
        await clock.waitForSleepers(1)  // connecting again
        await election.resign()
        var received: [LeaderElection.Change] = []
        for await change in changes { received.append(change) }
        #expect(received.isEmpty)  // never elected, so never deposed; the stream ended with the resignation
        #expect(election.node == nil)
    }

    @Test("a malformed connect string is a typed error")
    func badConnectString() async throws {
        let configuration = ZooKeeperClient.Configuration(servers: "", connectTimeout: .milliseconds(300))
        await #expect(throws: ZooKeeperError.self) {
            _ = try await ZooKeeperClient.connect(configuration)
        }
    }

    @Test("a zk:// URL gives the connect string and the credentials")
    func configurationFromURL() throws {
        let url = try ZooKeeperURL("zk://user:secret@127.0.0.1:2181,127.0.0.1:2182/framework")
        let configuration = ZooKeeperClient.Configuration(url: url, sessionTimeout: .seconds(6))
        #expect(configuration.servers == "127.0.0.1:2181,127.0.0.1:2182")
        #expect(configuration.credentials == ZooKeeperURL.Credentials(username: "user", password: "secret"))
        #expect(configuration.sessionTimeout == .seconds(6))
    }
}

@Suite(
    "ZooKeeper client",
    .enabled(if: ZooKeeperTestServer.enabled, "needs ZOOKEEPER_CONNECT (scripts/zookeeper.sh starts one)")
)
struct ZooKeeperClientTests {
    @Test("create, get with stat, compare-and-set, delete with version, children, exists")
    func basicOperations() async throws {
        let client = try await ZooKeeperTestServer.client()
        let root = ZooKeeperTestServer.uniquePath("client")
        defer { Task { await ZooKeeperTestServer.deleteRecursively(root, client: client); await client.close() } }

        #expect(try await client.exists(root) == nil)
        let created = try await client.create(root + "/a/b", data: [1, 2, 3], createParents: true)
        #expect(created == root + "/a/b")
        let (data, stat) = try await client.get(root + "/a/b")
        #expect(data == [1, 2, 3])
        #expect(stat.version == 0)
        #expect(stat.ephemeralOwner == 0)

        let set = try await client.set(root + "/a/b", data: [4], expectedVersion: 0)
        #expect(set.version == 1)
        let lost = await #expect(throws: ZooKeeperError.self) {
            try await client.set(root + "/a/b", data: [5], expectedVersion: 0)
        }
        #expect(lost?.code == .versionMismatch)
        #expect(lost?.path == root + "/a/b")
        #expect(lost?.mesosError.code == .conflict)
        #expect(try await client.get(root + "/a/b").data == [4])

        let exists = await #expect(throws: ZooKeeperError.self) { try await client.create(root + "/a/b") }
        #expect(exists?.code == .nodeExists)
        let noParent = await #expect(throws: ZooKeeperError.self) { try await client.create(root + "/x/y") }
        #expect(noParent?.code == .noNode)
        let notEmpty = await #expect(throws: ZooKeeperError.self) { try await client.delete(root + "/a") }
        #expect(notEmpty?.code == .notEmpty)
        let missing = await #expect(throws: ZooKeeperError.self) { try await client.get(root + "/nothing") }
        #expect(missing?.code == .noNode)
        #expect(missing?.mesosError.code == .notFound)
        let badPath = await #expect(throws: ZooKeeperError.self) { try await client.get("no-slash") }
        #expect(badPath?.code == .badArguments)

        try await client.create(root + "/a/c")
        #expect(Set(try await client.children(of: root + "/a")) == ["b", "c"])
        let stale = await #expect(throws: ZooKeeperError.self) {
            try await client.delete(root + "/a/b", expectedVersion: 0)
        }
        #expect(stale?.code == .versionMismatch)
        try await client.delete(root + "/a/b", expectedVersion: 1)
        #expect(try await client.exists(root + "/a/b") == nil)
        #expect(try await client.children(of: root + "/a") == ["c"])
    }

    @Test("sequential and ephemeral nodes; ephemerals go with the session")
    func sequentialAndEphemeral() async throws {
        let admin = try await ZooKeeperTestServer.client()
        let root = ZooKeeperTestServer.uniquePath("modes")
        try await admin.create(root, createParents: true)
        let other = try await ZooKeeperTestServer.client()
        let first = try await other.create(root + "/n-", mode: .ephemeralSequential)
        let second = try await other.create(root + "/n-", mode: .ephemeralSequential)
        #expect(first.hasPrefix(root + "/n-") && first.count == (root + "/n-").count + 10)
        #expect(second > first)
        #expect(try await admin.exists(first)?.ephemeralOwner == other.sessionID)
        let persistent = try await admin.create(root + "/p-", mode: .persistentSequential)
        #expect(try await admin.exists(persistent)?.ephemeralOwner == 0)
        let noChildren = await #expect(throws: ZooKeeperError.self) { try await other.create(first + "/child") }
        #expect(noChildren?.code == .noChildrenForEphemerals)
        await other.close()
        #expect(try await admin.children(of: root) == [String(persistent.split(separator: "/").last!)])
        #expect(other.state == .closed)
        let closed = await #expect(throws: ZooKeeperError.self) { try await other.exists(root) }
        #expect(closed?.code == .closed)
        await ZooKeeperTestServer.deleteRecursively(root, client: admin)
        await admin.close()
    }

    @Test("watches arrive as events: data change, children change, deletion, creation")
    func watches() async throws {
        let client = try await ZooKeeperTestServer.client()
        let writer = try await ZooKeeperTestServer.client()
        let root = ZooKeeperTestServer.uniquePath("watch")
        try await client.create(root, createParents: true)
        var events = client.events().makeAsyncIterator()
        #expect(await events.next() == .session(.connected))

        _ = try await client.get(root, watch: true)
        try await writer.set(root, data: [1], expectedVersion: nil)
        #expect(await events.next() == .watch(.init(kind: .dataChanged, path: root)))

        _ = try await client.children(of: root, watch: true)
        try await writer.create(root + "/child")
        #expect(await events.next() == .watch(.init(kind: .childrenChanged, path: root)))

        #expect(try await client.exists(root + "/later", watch: true) == nil)
        try await writer.create(root + "/later")
        #expect(await events.next() == .watch(.init(kind: .created, path: root + "/later")))

        #expect(try await client.exists(root + "/later", watch: true) != nil)
        try await writer.delete(root + "/later")
        #expect(await events.next() == .watch(.init(kind: .deleted, path: root + "/later")))

        await ZooKeeperTestServer.deleteRecursively(root, client: writer)
        await writer.close()
        await client.close()
        #expect(await events.next() == .session(.closed))
        #expect(await events.next() == nil)
    }

    @Test("multi is atomic: a failed check leaves everything as it was and names the failing operation")
    func multi() async throws {
        let client = try await ZooKeeperTestServer.client()
        let root = ZooKeeperTestServer.uniquePath("multi")
        try await client.create(root, createParents: true)
        let results = try await client.multi([
            .create(path: root + "/a", data: [1], mode: .persistent),
            .create(path: root + "/s-", data: [], mode: .persistentSequential),
            .set(path: root + "/a", data: [2], version: 0),
            .check(path: root + "/a", version: 1),
        ])
        #expect(results.count == 4)
        #expect(results[0] == .created(path: root + "/a"))
        guard case .created(let sequential) = results[1] else {
            Issue.record("expected a created path, got \(results[1])")
            return
        }
        #expect(sequential.hasPrefix(root + "/s-") && sequential.count == (root + "/s-").count + 10)
        guard case .set(let stat) = results[2] else {
            Issue.record("expected a set, got \(results[2])")
            return
        }
        #expect(stat.version == 1)
        #expect(results[3] == .checked)

        let failed = await #expect(throws: ZooKeeperError.self) {
            try await client.multi([
                .set(path: root + "/a", data: [3], version: 1),
                .create(path: root + "/b", data: [], mode: .persistent),
                .check(path: root + "/gone", version: nil),
            ])
        }
        #expect(failed?.code == .noNode)
        #expect(failed?.failedOperation == 2)
        #expect(failed?.path == root + "/gone")
        #expect(try await client.get(root + "/a").data == [2])
        #expect(try await client.exists(root + "/b") == nil)

        let stale = await #expect(throws: ZooKeeperError.self) {
            try await client.multi([.check(path: root + "/a", version: 0), .delete(path: root + "/a", version: nil)])
        }
        #expect(stale?.code == .versionMismatch)
        #expect(stale?.failedOperation == 0)
        #expect(try await client.exists(root + "/a") != nil)
        await ZooKeeperTestServer.deleteRecursively(root, client: client)
        await client.close()
    }

    @Test("a session expired on the server is reported, its ephemerals are gone, and requests fail typed")
    func sessionExpiry() async throws {
        let admin = try await ZooKeeperTestServer.client()
        let root = ZooKeeperTestServer.uniquePath("expiry")
        try await admin.create(root, createParents: true)
        let victim = try await ZooKeeperTestServer.client()
        let states = victim.sessionStates()
        let node = try await victim.create(root + "/e", mode: .ephemeral)
        try await ZooKeeperTestServer.expire(victim.sessionCredentials) { victim.state == .expired }
        var seen: [ZooKeeperClient.SessionState] = []
        for await state in states {
            seen.append(state)
        }
        #expect(seen.first == .connected)
        #expect(seen.last == .expired)
        #expect(victim.state == .expired)
        #expect(try await admin.exists(node) == nil)
        let error = await #expect(throws: ZooKeeperError.self) { try await victim.exists(root) }
        #expect(error?.code == .sessionExpired)
        await victim.close()
        #expect(victim.state == .expired)  // terminal: closing does not rewrite history
        await ZooKeeperTestServer.deleteRecursively(root, client: admin)
        await admin.close()
    }
}
