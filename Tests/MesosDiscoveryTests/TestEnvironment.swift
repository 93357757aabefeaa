import Foundation
import MesosTestKit
import Glibc
import MesosCore
import MesosTestKit
import Testing

/// Environment switches and process helpers for the tests against real ZooKeeper and Mesos masters.
enum TestEnvironment {
    /// `ZOOKEEPER_CONNECT`, e.g. `127.0.0.1:2281`: a ZooKeeper the tests may create nodes in.
    static var zooKeeper: String? { TestServers.optionalValue("ZOOKEEPER_CONNECT") }
    /// `MESOS_HA_ZK`, e.g. `zk://127.0.0.1:2381/mesos`: the election path of real HA masters.
    static var haZooKeeper: String? { TestServers.optionalValue("MESOS_HA_ZK") }
    /// `MESOS_HA_MASTERS`, e.g. `http://127.0.0.1:5161,http://127.0.0.1:5162,http://127.0.0.1:5163`.
    static var haMasters: String? { TestServers.optionalValue("MESOS_HA_MASTERS") }

    /// Whether the suites that need a shared ZooKeeper run (skipped without one unless servers are required).
    static var zooKeeperTestsRun: Bool { TestServers.shouldRun(needing: "ZOOKEEPER_CONNECT") }

    /// The shared ZooKeeper's connect string; throws (failing the test) when it is not configured.
    static func requireZooKeeper() throws -> String { try TestServers.value("ZOOKEEPER_CONNECT") }

    /// `scripts/zookeeper.sh`, for the suites that start their own ZooKeeper; throws (failing the test) when
    /// ZooKeeper tests were asked for but the script or the server package is missing.
    static func requireZooKeeperScript() throws -> String {
        _ = try Self.requireZooKeeper()
        guard let script = Self.zooKeeperScript else {
            throw TestServers.Missing(variable: "ZOOKEEPER_CONNECT (with the zookeeper package installed)", required: TestServers.areRequired)
        }
        return script
    }

    static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// `scripts/zookeeper.sh`, usable when ZooKeeper tests are enabled and the server package is installed.
    static var zooKeeperScript: String? {
        let script = Self.repositoryRoot.appendingPathComponent("scripts/zookeeper.sh").path
        guard Self.zooKeeper != nil, FileManager.default.isExecutableFile(atPath: script),
            FileManager.default.isExecutableFile(atPath: "/usr/share/zookeeper/bin/zkServer.sh")
        else { return nil }
        return script
    }

    /// The realmesos tooling (`REALMESOS_DIR`, else `../shared/realmesos` next to the repository).
    static var realMesos: String {
        TestServers.optionalValue("REALMESOS_DIR")
            ?? Self.repositoryRoot.deletingLastPathComponent().appendingPathComponent("shared/realmesos").path
    }

    struct CommandFailure: Error, CustomStringConvertible {
        let description: String
    }

    /// Runs a program to completion and returns its output; throws when it exits non-zero. The wait runs on a
    /// thread of its own (``onDedicatedThread(name:_:)``), never on a cooperative thread: starting ZooKeeper
    /// or a Mesos master takes seconds.
    @discardableResult
    static func run(_ program: String, _ arguments: [String], environment: [String: String] = [:]) async throws -> String {
        try await onDedicatedThread(name: "TestEnvironment.run") {
            try Self.runBlocking(program, arguments, environment: environment)
        }
    }

    /// Runs a program to completion (posix_spawn + waitpid; its output goes to a temporary file, so that
    /// background children it leaves behind cannot hold a pipe open); throws when it exits non-zero. Blocks
    /// the calling thread: async code uses ``run(_:_:environment:)``.
    @discardableResult
    static func runBlocking(_ program: String, _ arguments: [String], environment: [String: String] = [:]) throws -> String {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("swift-mesos-run-\(UUID()).log").path
        defer { try? FileManager.default.removeItem(atPath: log) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let variables = ProcessInfo.processInfo.environment.merging(environment) { $1 }.map { "\($0.key)=\($0.value)" }
        let argv = ([program] + arguments).map { strdup($0) } + [nil]
        let envp = variables.map { strdup($0) } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid = pid_t()
        // Not the test thread's blocked signal mask: `timeout` and SIGTERM must work in the scripts.
        let spawned = SpawnSignals.withAttributes { posix_spawn(&pid, program, &actions, &$0, argv, envp) }
        guard spawned == 0 else {
            throw CommandFailure(description: "posix_spawn \(program): errno \(spawned)")
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        let exited = (status & 0x7F) == 0
        let code = (status >> 8) & 0xFF
        guard exited && code == 0 else {
            throw CommandFailure(
                description: "\(program) \(arguments.joined(separator: " ")) ended with status \(status): \(text)"
            )
        }
        return text
    }

    /// A TCP port on 127.0.0.1 that was free a moment ago.
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw CommandFailure(description: "socket: errno \(errno)") }
        defer { Glibc.close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard bound == 0 else { throw CommandFailure(description: "bind: errno \(errno)") }
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { throw CommandFailure(description: "getsockname: errno \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// A unique election path for one test.
    static func uniquePath(_ name: String) -> String {
        "/swift-mesos-tests/\(name)-\(UUID().uuidString.prefix(8))"
    }
}

/// A private ZooKeeper started with `scripts/zookeeper.sh` for tests that stop, restart or pause it.
final class PrivateZooKeeper {
    let port: Int
    let directory: String
    private let script: String

    private init(script: String) throws {
        self.script = script
        self.port = try TestEnvironment.freePort()
        self.directory = FileManager.default.temporaryDirectory.appendingPathComponent("swift-mesos-zk-\(UUID())").path
    }

    /// Starts a new server and waits until it serves.
    static func start(script: String) async throws -> PrivateZooKeeper {
        let server = try PrivateZooKeeper(script: script)
        try await server.start()
        return server
    }

    var connectString: String { "127.0.0.1:\(self.port)" }

    func start() async throws { try await TestEnvironment.run(self.script, ["start", "\(self.port)", self.directory]) }
    func stop() async throws { try await TestEnvironment.run(self.script, ["stop", self.directory]) }
    func pause() async throws { try await TestEnvironment.run(self.script, ["pause", self.directory]) }
    func resume() async throws { try await TestEnvironment.run(self.script, ["resume", self.directory]) }

    /// Starts a server, runs `body` with it, then stops it and removes its files whatever `body` did (waiting
    /// for that on a thread of its own, and before returning, so that no server outlives the test process).
    static func with<T>(script: String, _ body: (PrivateZooKeeper) async throws -> T) async throws -> T {
        let server = try await PrivateZooKeeper.start(script: script)
        do {
            let result = try await body(server)
            await server.destroy()
            return result
        } catch {
            await server.destroy()
            throw error
        }
    }

    /// Stops the server and removes its files.
    func destroy() async {
        try? await self.stop()
        try? FileManager.default.removeItem(atPath: self.directory)
    }
}


@Suite("Test helpers")
struct TestHelperTests {
    @Test("helper processes start with no blocked signal, so `timeout` and SIGTERM work in the scripts")
    func spawnedProcessesHaveNoBlockedSignals() async throws {
        let status = try await TestEnvironment.run("/bin/bash", ["-c", "grep -E '^SigBlk' /proc/self/status"])
        #expect(status.trimmingCharacters(in: .whitespacesAndNewlines).hasSuffix("0000000000000000"), "\(status)")
    }
}
