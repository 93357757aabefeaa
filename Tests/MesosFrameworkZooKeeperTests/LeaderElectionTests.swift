import Foundation
import MesosCore
import MesosFramework
import MesosFrameworkZooKeeper
@testable import MesosZooKeeper
import Testing

@Suite(
    "Leader election and fencing",
    .enabled(if: ZooKeeperTestServer.enabled, "needs ZOOKEEPER_CONNECT (scripts/zookeeper.sh starts one)"),
    .serialized
)
struct LeaderElectionTests {
    private func election(
        _ path: String, _ name: String, servers: String? = nil, sessionTimeout: Duration = .seconds(4)
    ) throws -> LeaderElection {
        var client = try ZooKeeperTestServer.configuration(sessionTimeout: sessionTimeout)
        if let servers { client.servers = servers }
        return LeaderElection(
            configuration: .init(
                client: client, path: path,
                identity: .init(host: "127.0.0.1", pid: ProcessInfo.processInfo.processIdentifier, instance: name),
                retryDelay: .milliseconds(200)
            )
        )
    }

    @Test("two candidates: exactly one leads, the other reads who; the leader's session expires, the other takes over")
    func failoverOnSessionExpiry() async throws {
        let path = ZooKeeperTestServer.uniquePath("election")
        let a = try self.election(path, "a")
        let b = try self.election(path, "b")
        let recordA = ChangeRecorder(a)
        let recordB = ChangeRecorder(b)
        a.start()
        try await waitUntil("a leads") { a.isLeader }
        b.start()
        try await waitUntil("b is a candidate") { b.node != nil }
        #expect(!b.isLeader)
        #expect(try await b.leader()?.instance == "a")
        #expect(try await a.leader()?.instance == "a")
        let leadershipA = try #require(a.leadership)
        #expect(leadershipA.isCurrent)
        #expect(leadershipA.term == 1)

        // Force the expiry of a's session on the server.
        let session = try #require(a.sessionCredentials)
        try await ZooKeeperTestServer.expire(session) { a.sessionCredentials?.id != session.id }
        try await waitUntil("b leads") { b.isLeader }
        #expect(!leadershipA.isCurrent)
        try await waitUntil("a's deposition is recorded") { !recordA.depositions.isEmpty }
        #expect(recordA.depositions.first == .sessionSuspended || recordA.depositions.first == .sessionExpired)
        // a enters again with a new session and node, as a follower.
        try await waitUntil("a is a candidate again with a new session") {
            a.node != nil && a.node != leadershipA.node && a.sessionCredentials?.id != session.id
        }
        #expect(!a.isLeader)
        #expect(try await a.leader()?.instance == "b")
        // (a may have been deposed and re-elected on its same session while the expiry was being forced.)
        #expect(recordB.elections == 1)
        #expect(recordB.depositions.isEmpty)

        await b.resign()
        try await waitUntil("a leads again") { a.isLeader }
        #expect((a.leadership?.term ?? 0) > leadershipA.term)
        try await waitUntil("b's resignation is recorded") { recordB.depositions == [.resigned] }
        await a.resign()
        #expect(!a.isLeader)
        let cleanup = try await ZooKeeperTestServer.client()
        #expect(try await cleanup.children(of: path).isEmpty)
        await ZooKeeperTestServer.deleteRecursively(path, client: cleanup)
        await cleanup.close()
    }

    @Test("three candidates: the middle one leaves, nothing changes for the leader; the third watched only its predecessor")
    func predecessorWatch() async throws {
        let path = ZooKeeperTestServer.uniquePath("herd")
        let first = try self.election(path, "first")
        let second = try self.election(path, "second")
        let third = try self.election(path, "third")
        let recordFirst = ChangeRecorder(first)
        let recordThird = ChangeRecorder(third)
        first.start()
        try await waitUntil("first leads") { first.isLeader }
        second.start()
        try await waitUntil("second is a candidate") { second.node != nil }
        third.start()
        try await waitUntil("third is a candidate") { third.node != nil }
        let firstNode = try #require(first.node)
        let secondNode = try #require(second.node)
        let thirdNode = try #require(third.node)
        #expect(firstNode.suffix(10) < secondNode.suffix(10) && secondNode.suffix(10) < thirdNode.suffix(10))

        // The server's watch table: the third candidate watches the second's node, not the leader's.
        let watches = try await fourLetterWord("wchp", servers: try ZooKeeperTestServer.servers())
        print("predecessor watch: \(watches == nil ? "not checked (the server does not allow wchp)" : "checked with wchp")")
        if let watches {
            #expect(watches.contains(secondNode), "\(watches)")
            #expect(!watches.contains(thirdNode), "nobody watches the last candidate: \(watches)")
        }

        await second.resign()
        // The third now watches the first; the leader did not change.
        let admin = try await ZooKeeperTestServer.client()
        try await waitUntil("second's node is gone") { try await admin.children(of: path).count == 2 }
        if watches != nil {
            try await waitUntil("third watches the leader's node now") {
                let text = try await fourLetterWord("wchp", servers: try ZooKeeperTestServer.servers()) ?? ""
                return text.components(separatedBy: "\n").filter { $0.hasPrefix("/") }.contains(firstNode)
                    && !text.contains(secondNode)
            }
        }
        #expect(first.isLeader)
        #expect(!third.isLeader)
        #expect(third.node == thirdNode)
        #expect(recordFirst.all.count == 1)
        #expect(recordThird.all.isEmpty)

        await first.resign()
        try await waitUntil("third leads") { third.isLeader }
        #expect(try await admin.children(of: path).count == 1)
        await third.resign()
        await ZooKeeperTestServer.deleteRecursively(path, client: admin)
        await admin.close()
    }

    @Test("a deposed leader's store writes are refused; the new leader's are not; the two never both write")
    func fencedStoreWrites() async throws {
        let path = ZooKeeperTestServer.uniquePath("fenced")
        let a = try self.election(path + "/leader", "a")
        let b = try self.election(path + "/leader", "b")
        a.start()
        try await waitUntil("a leads") { a.isLeader }
        b.start()
        try await waitUntil("b is a candidate") { b.node != nil }
        let storeClientA = try await ZooKeeperTestServer.client()
        let storeClientB = try await ZooKeeperTestServer.client()
        let leadershipA = try #require(a.leadership)
        let storeA = ZooKeeperStateStore(client: storeClientA, path: path + "/state", leadership: leadershipA)
        try await storeA.put(.specs, key: "web", data: Data("by a".utf8), expected: .absent)

        let sessionA = try #require(a.sessionCredentials)
        try await ZooKeeperTestServer.expire(sessionA) { a.sessionCredentials?.id != sessionA.id }
        try await waitUntil("b leads") { b.isLeader }
        let refused = await #expect(throws: StateStoreError.self) {
            try await storeA.put(.specs, key: "web", data: Data("late write by a".utf8), expected: .version(0))
        }
        #expect(refused?.kind == .fenced)
        let refusedDelete = await #expect(throws: StateStoreError.self) {
            try await storeA.delete(.specs, key: "web", expected: .any)
        }
        #expect(refusedDelete?.kind == .fenced)

        let leadershipB = try #require(b.leadership)
        let storeB = ZooKeeperStateStore(client: storeClientB, path: path + "/state", leadership: leadershipB)
        #expect(try await storeB.get(.specs, key: "web") == VersionedRecord(data: Data("by a".utf8), version: 0))
        #expect(try await storeB.put(.specs, key: "web", data: Data("by b".utf8), expected: .version(0)) == 1)

        await a.resign()
        await b.resign()
        await ZooKeeperTestServer.deleteRecursively(path, client: storeClientA)
        await storeClientA.close()
        await storeClientB.close()
    }

    @Test("the server refuses a write whose leader node is gone, even while the writer still believes it leads")
    func serverSideFence() async throws {
        let path = ZooKeeperTestServer.uniquePath("server-fence")
        let client = try await ZooKeeperTestServer.client()
        let node = try await client.create(path + "/leader/candidate-x-", mode: .ephemeralSequential, createParents: true)
        // A leadership that is locally current (as if the deposition had not been noticed yet).
        let tracker = LeaderElection.Tracker()
        let leadership = LeaderElection.Leadership(term: 1, node: node, sessionID: client.sessionID, tracker: tracker)
        tracker.shared.withLock { $0.leadership = leadership }
        #expect(leadership.isCurrent)
        let store = ZooKeeperStateStore(client: client, path: path + "/state", leadership: leadership)
        #expect(try await store.put(.tasks, key: "t1", data: Data("1".utf8), expected: .absent) == 0)

        try await client.delete(node)  // what the server does when the leader's session ends
        #expect(leadership.isCurrent)
        for attempt: ExpectedVersion in [.absent, .version(0), .any] {
            let error = await #expect(throws: StateStoreError.self) {
                try await store.put(.tasks, key: attempt == .absent ? "t2" : "t1", data: Data("x".utf8), expected: attempt)
            }
            #expect(error?.kind == .fenced, "\(attempt): \(String(describing: error))")
        }
        let unfenced = ZooKeeperStateStore(client: client, path: path + "/state")
        #expect(try await unfenced.load(.tasks) == ["t1": VersionedRecord(data: Data("1".utf8), version: 0)])
        await ZooKeeperTestServer.deleteRecursively(path, client: client)
        await client.close()
    }

    @Test("two writers on ZooKeeper expecting the same version: exactly one wins the compare-and-set")
    func concurrentWriterLoses() async throws {
        let path = ZooKeeperTestServer.uniquePath("cas")
        let first = try await ZooKeeperTestServer.client()
        let second = try await ZooKeeperTestServer.client()
        let storeA = ZooKeeperStateStore(client: first, path: path)
        let storeB = ZooKeeperStateStore(client: second, path: path)
        try await storeA.put(.specs, key: "s", data: Data("0".utf8), expected: .absent)
        @Sendable func write(_ store: ZooKeeperStateStore, _ text: String) async -> Result<Int64, StateStoreError> {
            do throws(StateStoreError) {
                return .success(try await store.put(.specs, key: "s", data: Data(text.utf8), expected: .version(0)))
            } catch {
                return .failure(error)
            }
        }
        async let writeA = write(storeA, "a")
        async let writeB = write(storeB, "b")
        let results = await [writeA, writeB]
        let won = results.filter { (try? $0.get()) == 1 }
        let lost = results.compactMap { result -> StateStoreError? in
            if case .failure(let error) = result { return error }
            return nil
        }
        #expect(won.count == 1)
        #expect(lost.count == 1)
        #expect(lost.first?.kind == .conflict)
        #expect(lost.first?.actualVersion == 1)
        let stored = try await storeA.get(.specs, key: "s")
        #expect(stored?.version == 1)
        #expect(stored?.data == Data("a".utf8) || stored?.data == Data("b".utf8))
        await ZooKeeperTestServer.deleteRecursively(path, client: first)
        await first.close()
        await second.close()
    }

    @Test("fencing: a leader cut off from ZooKeeper is deposed before its successor is elected")
    func depositionPrecedesSuccession() async throws {
        let servers = try ZooKeeperTestServer.servers()
        let port = try #require(servers.split(separator: ",").first?.split(separator: ":").last.flatMap { Int($0) })
        let proxy = try BlackholeProxy(targetPort: port)
        defer { proxy.close() }
        let path = ZooKeeperTestServer.uniquePath("partition")
        let sessionTimeout = Duration.seconds(4)
        let a = try self.election(path, "a", servers: proxy.connectString, sessionTimeout: sessionTimeout)
        let b = try self.election(path, "b", sessionTimeout: sessionTimeout)
        let recordA = ChangeRecorder(a)
        let recordB = ChangeRecorder(b)
        a.start()
        try await waitUntil("a leads") { a.isLeader }
        b.start()
        try await waitUntil("b is a candidate") { b.node != nil }
        let leadership = try #require(a.leadership)

        let cut = ContinuousClock.now
        proxy.blackhole()
        try await waitUntil("b leads", timeout: .seconds(60)) { b.isLeader }
        try await waitUntil("both changes are recorded") { recordB.elections == 1 && !recordA.depositions.isEmpty }
        let deposed = try #require(recordA.time { if case .deposed = $0 { return true } else { return false } })
        let elected = try #require(recordB.time { if case .elected = $0 { return true } else { return false } })
        #expect(recordA.depositions.first == .sessionSuspended)
        #expect(!leadership.isCurrent)
        #expect(deposed < elected, "the cut-off leader must stop before its successor starts")
        print(
            "fencing: session timeout \(sessionTimeout); leader deposed \(cut.duration(to: deposed)) after the cut, "
                + "successor elected \(cut.duration(to: elected)) after it (margin \(deposed.duration(to: elected)))"
        )
        await b.resign()
        await a.resign()
        let admin = try await ZooKeeperTestServer.client()
        await ZooKeeperTestServer.deleteRecursively(path, client: admin)
        await admin.close()
    }
}

/// Sends a four-letter word to the first server; `nil` when the server does not allow it.
private func fourLetterWord(_ word: String, servers: String) async throws -> String? {
    let first = String(servers.split(separator: ",").first ?? "")
    let parts = first.split(separator: ":")
    guard parts.count == 2 else { return nil }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/bash")
    process.arguments = [
        "-c", "exec 3<>/dev/tcp/\(parts[0])/\(parts[1]) && printf %s \(word) >&3 && timeout 3 cat <&3",
    ]
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = FileHandle.nullDevice
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let text = String(decoding: data, as: UTF8.self)
    return text.contains("is not executed because it is not in the whitelist") || text.isEmpty ? nil : text
}
