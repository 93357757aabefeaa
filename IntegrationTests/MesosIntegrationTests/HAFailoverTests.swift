import Foundation
import MesosCore
import MesosCurlTransport
import MesosDiscovery
import MesosScheduler
import MesosZooKeeper
import Testing
import MesosTestKit

/// Real Mesos 1.11 masters electing a leader through a real ZooKeeper (`start-ha.sh`, started by
/// `scripts/test.sh`): the scheduler follows the leader when it is killed.
extension SharedClusterSuites {
    @Suite("Real HA masters: scheduler failover", .enabled(if: HACluster.shouldRun, "needs MESOS_HA_ZK, MESOS_HA_MASTERS, REALMESOS_DIR"),
           .serialized, .timeLimit(.minutes(3)))
    struct HAFailoverTests {
        init() throws {
            // With MESOS_REQUIRE_SERVERS=1 a missing variable fails every test here, naming it.
            for name in HACluster.variables {
                _ = try TestServers.value(name)
            }
        }

        static func scheduler(master: MasterDetector, name: String, transport: TestTransport = .curl) -> MesosScheduler {
            var info = RealMaster.frameworkInfo(name: name)
            info.failoverTimeout = 600
            var configuration = MesosSchedulerConfiguration(
                frameworkInfo: info, master: master, transport: transport.make())
            configuration.backoff = BackoffPolicy(initial: .milliseconds(100), maximum: .milliseconds(500))
            configuration.contentType = .protobuf
            return MesosScheduler(configuration: configuration)
        }

        /// Subscribes, kills the leader, and measures the time until SUBSCRIBED on the new leader.
        static func failover(_ scheduler: MesosScheduler) async throws -> Duration {
            _ = try await HACluster.agreedLeader()
            let lifecycle = scheduler.lifecycleEvents()
            return try await withThrowingTaskGroup(of: Duration?.self) { group in
                group.addTask {
                    try await scheduler.run()
                    return nil
                }
                defer { group.cancelAll() }
                let first = try await waitForSubscription(scheduler)
                let oldLeader = try #require(first.master)
                let frameworkID = try #require(first.frameworkID)

                let killed = ContinuousClock.now
                try HACluster.kill(port: oldLeader.port)
                // Until the new leader accepts the framework, calls fail with a typed error, not silently.
                let deadline = ContinuousClock.now + .seconds(10)
                while scheduler.status.isSubscribed, ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(10))
                }
                if !scheduler.status.isSubscribed {
                    await #expect(throws: MesosError(code: .notSubscribed)) { try await scheduler.revive() }
                }
                var elapsed: Duration?
                for await event in lifecycle {
                    if case .resubscribed(let subscription) = event {
                        elapsed = ContinuousClock.now - killed
                        #expect(subscription.frameworkID == frameworkID)
                        break
                    }
                }
                let now = scheduler.status
                #expect(now.master?.port != oldLeader.port)
                #expect(now.frameworkID == frameworkID)
                try await scheduler.revive()

                // The killed master comes back as a follower; the subscription is not disturbed.
                try HACluster.restart(port: oldLeader.port)
                try await Task.sleep(for: .seconds(2))
                #expect(scheduler.status.streamID == now.streamID)
                try await scheduler.teardown()
                return try #require(elapsed)
            }
        }

        static func waitForSubscription(_ scheduler: MesosScheduler) async throws -> SchedulerStatus {
            let deadline = ContinuousClock.now + .seconds(30)
            while ContinuousClock.now < deadline {
                if scheduler.status.isSubscribed { return scheduler.status }
                try await Task.sleep(for: .milliseconds(10))
            }
            throw MesosError(code: .timeout, message: "not subscribed: \(scheduler.status.state)")
        }

        @Test("through zk://: the leader is killed, the scheduler re-subscribes to the new one with the same framework id")
        func zooKeeperFailover() async throws {
            let detector = try MasterDetector.zooKeeper(url: try TestServers.value("MESOS_HA_ZK"))
            let elapsed = try await Self.failover(Self.scheduler(master: detector, name: "ha-zk"))
            print("failover via ZooKeeper: leader killed → SUBSCRIBED on the new leader in \(elapsed)")
            #expect(elapsed < .seconds(15))
        }

        @Test("through the static list of three URLs: the same failover (curl and NIO)", arguments: TestTransport.allCases)
        func staticListFailover(transport kind: TestTransport) async throws {
            let transport = kind.make()
            let detector = try MasterDetector.staticList(url: try TestServers.value("MESOS_HA_MASTERS"), transport: transport)
            let elapsed = try await Self.failover(Self.scheduler(master: detector, name: "ha-static-\(kind)", transport: kind))
            print("failover via static list (\(kind)): leader killed → SUBSCRIBED on the new leader in \(elapsed)")
            #expect(elapsed < .seconds(15))
        }

        @Test("a non-leader's 307 is followed to the leader (curl and NIO)", arguments: TestTransport.allCases)
        func redirectFollowed(transport: TestTransport) async throws {
            let (leader, answering) = try await HACluster.agreedLeader()
            // A master restarted by an earlier test may still be coming up (or have failed to): ask one that answers.
            let follower = try #require(answering.first { $0 != leader }, "no follower answers: \(answering)")
            let scheduler = Self.scheduler(
                master: .fixed(MasterLocation(host: "127.0.0.1", port: follower)), name: "ha-307-\(transport)", transport: transport)
            try await scheduler.withSubscription { events in
                for try await event in events {
                    if case .subscribed = event { break }
                }
                #expect(scheduler.status.master?.port == leader)
                try await scheduler.teardown()
            }
        }
    }
}

/// The HA cluster started by `scripts/test.sh`.
enum HACluster {
    static let zk = ProcessInfo.processInfo.environment["MESOS_HA_ZK"]
    static let masters = ProcessInfo.processInfo.environment["MESOS_HA_MASTERS"]
    static let realmesos = ProcessInfo.processInfo.environment["REALMESOS_DIR"]

    /// The environment variables the HA tests read (set by `scripts/test.sh`).
    static let variables = ["MESOS_HA_ZK", "MESOS_HA_MASTERS", "REALMESOS_DIR"]

    /// Whether the HA tests run: all variables set, or servers required (then they fail instead of skipping).
    static var shouldRun: Bool { variables.allSatisfy { TestServers.optionalValue($0) != nil } || TestServers.areRequired }

    static var ports: [Int] {
        (masters ?? "").split(separator: ",").compactMap { URL(string: String($0))?.port }
    }

    /// The leader's port, from a master's `/master/redirect`.
    static func leaderPort() throws -> Int {
        for port in ports {
            let output = try run(["curl", "-s", "-o", "/dev/null", "-w", "%{redirect_url}", "--max-time", "5",
                                  "http://127.0.0.1:\(port)/master/redirect"])
            if let url = URL(string: output.trimmingCharacters(in: .whitespacesAndNewlines)), let leader = url.port {
                return leader
            }
        }
        throw MesosError(code: .noLeader, message: "no master names a leader")
    }

    /// Waits until the masters that answer name one leader (after a failover and a restart they may briefly
    /// differ), preferring the moment all of them answer; returns the leader and the ports that answered.
    static func agreedLeader() async throws -> (leader: Int, answering: [Int]) {
        let deadline = ContinuousClock.now + .seconds(30)
        var agreed: (leader: Int, answering: [Int])?
        while ContinuousClock.now < deadline {
            var answers: [(port: Int, leader: Int)] = []
            for port in ports {
                let output = (try? run(["curl", "-s", "-o", "/dev/null", "-w", "%{redirect_url}", "--max-time", "5",
                                        "http://127.0.0.1:\(port)/master/redirect"])) ?? ""
                if let leader = URL(string: output.trimmingCharacters(in: .whitespacesAndNewlines))?.port {
                    answers.append((port, leader))
                }
            }
            let named = Set(answers.map(\.leader))
            if named.count == 1, let leader = named.first, answers.count >= 2 {
                agreed = (leader, answers.map(\.port))
                if answers.count == ports.count { break }
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        guard let agreed else {
            throw MesosError(code: .noLeader, message: "the masters do not agree on a leader")
        }
        return agreed
    }

    static func kill(port: Int) throws {
        _ = try run(["\(realmesos ?? "")/stop-ha.sh", String(port)], environment: ["REALMESOS_STOP_SIGNAL": "KILL"])
    }

    static func restart(port: Int) throws {
        _ = try run(["\(realmesos ?? "")/start-ha.sh", zk ?? "", String(port)])
    }

    /// Runs a program to completion. posix_spawn + waitpid with output to a file: the HA scripts leave
    /// background masters behind, which would hold a pipe open (and Foundation's Process waits on it).
    @discardableResult
    static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> String {
        let program = arguments[0].hasPrefix("/") ? arguments[0] : "/usr/bin/" + arguments[0]
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("ha-\(UUID().uuidString).log").path
        defer { try? FileManager.default.removeItem(atPath: log) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let variables = ProcessInfo.processInfo.environment.merging(environment) { $1 }.map { "\($0.key)=\($0.value)" }
        let argv = ([program] + arguments.dropFirst()).map { strdup($0) } + [nil]
        let envp = variables.map { strdup($0) } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid = pid_t()
        // Not the test thread's blocked signal mask: `timeout` and SIGTERM must work in the scripts.
        let spawned = SpawnSignals.withAttributes { posix_spawn(&pid, program, &actions, &$0, argv, envp) }
        guard spawned == 0 else {
            throw MesosError(code: .invalidConfiguration, message: "cannot run \(program): errno \(spawned)")
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        return (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
    }
}
