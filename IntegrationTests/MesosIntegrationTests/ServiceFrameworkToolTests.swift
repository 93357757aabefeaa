import Foundation
import MesosCore
import MesosCurlTransport
import MesosTestKit
import Testing

/// `service-framework` run as a process: on the embedded local cluster, and (with a real master and ZooKeeper)
/// two highly available instances, the leader killed.
@Suite("service-framework (the example, as a process)",
       .enabled(if: ToolProcess.serviceBinary != nil, "service-framework is not built next to the tests"),
       .timeLimit(.minutes(3)))
struct ServiceFrameworkToolTests {
    static func lines(_ text: String, prefix: String) -> [Substring] {
        text.split(separator: "\n").filter { $0.hasPrefix(prefix) }
    }

    /// The ids of the tasks a run reported RUNNING.
    static func running(_ text: String) -> Set<String> {
        Set(Self.lines(text, prefix: "task ").compactMap { line -> String? in
            let words = line.split(separator: " ")
            return words.count >= 3 && words[2].hasPrefix("TASK_RUNNING") ? String(words[1]) : nil
        })
    }

    @Test("local: 2 instances of sleep 60 reach RUNNING; SIGTERM stops it cleanly")
    func localInstancesAndSigterm() async throws {
        let tool = try ToolProcess(["--instances", "2", "--command", "sleep 60"], binary: ToolProcess.serviceBinary)
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(60)
        while Self.running(tool.stdout).count < 2, clock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(Self.running(tool.stdout) == ["service.0.1", "service.1.1"], "\(tool.stdout)")
        tool.send(signal: SIGTERM)
        let result = await tool.finish(timeout: .seconds(30))
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("service: submitted 2 instances"))
        #expect(result.stdout.contains("service-framework: stopped"))
    }

    @Test("bad flags are refused with a message, not a crash", arguments: [
        ["--instances", "0"],
        ["--resources", "cpus:;;"],
        ["--constraint", "hostname:NOPE"],
        ["--zk", "http://nope"],
        ["--zk", "zk://127.0.0.1:1/x", "--state-file", "/tmp/x"],
        ["--failover-timeout", "-1"],
    ])
    func badFlags(arguments: [String]) async throws {
        let result = try await ToolProcess.run(arguments, binary: ToolProcess.serviceBinary, timeout: .seconds(30))
        #expect(result.status == 64, "\(arguments): \(result.status) \(result.stderr)")
        #expect(result.stderr.contains("Error:"))
    }
}

/// Two `service-framework` processes with the same `--zk` path against the real master: one framework, the
/// leader SIGKILLed, the standby takes over with the same framework id and the same tasks.
@Suite("service-framework HA on the real master and ZooKeeper",
       .enabled(if: ToolProcess.serviceBinary != nil
                    && TestServers.shouldRun(needing: "MESOS_MASTER_URL")
                    && TestServers.shouldRun(needing: "ZOOKEEPER_CONNECT"),
                "needs service-framework, MESOS_MASTER_URL and ZOOKEEPER_CONNECT"),
       .timeLimit(.minutes(4)))
struct ServiceFrameworkHATests {
    static func json(_ master: String, _ path: String) async throws -> [String: Any] {
        let url = try #require(URL(string: master + path))
        let transport = MesosCurlTransport(configuration: .init())
        let (response, body) = try await transport.send(MesosHTTPRequest(method: "GET", url: url, timeout: .seconds(10)))
        try #require(response.status == 200, "GET \(path) answered \(response.status)")
        let bytes = try await body.collect(upTo: 32 << 20)
        return try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
    }

    /// The active frameworks named `name` on the master.
    static func frameworks(_ master: String, named name: String) async throws -> [String] {
        let frameworks = try await Self.json(master, "/master/frameworks")["frameworks"] as? [[String: Any]] ?? []
        return frameworks.filter { $0["name"] as? String == name && ($0["active"] as? Bool ?? false) }
            .compactMap { $0["id"] as? String }
    }

    static func waitFor(_ what: String, timeout: Duration, _ condition: () async throws -> Bool) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while try await !condition() {
            guard clock.now < deadline else { throw MesosError(code: .timeout, message: "timed out waiting for \(what)") }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// The pids of the `sh` processes whose command line contains `text` (the tasks' shells).
    static func shells(containing text: String) -> [pid_t] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry -> pid_t? in
            guard let pid = pid_t(entry),
                  let comm = try? String(contentsOfFile: "/proc/\(entry)/comm", encoding: .utf8),
                  comm.trimmingCharacters(in: .whitespacesAndNewlines) == "sh",
                  let cmdline = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline"),
                  String(decoding: cmdline, as: UTF8.self).contains(text)
            else { return nil }
            return pid
        }.sorted()
    }

    /// `subscribed: framework <id> at <unix ms>` lines: (id, ms).
    static func subscriptions(_ text: String) -> [(id: String, millis: Int64)] {
        ServiceFrameworkToolTests.lines(text, prefix: "subscribed: framework ").compactMap { line in
            let words = line.split(separator: " ")
            guard words.count == 5, let millis = Int64(words[4]) else { return nil }
            return (String(words[2]), millis)
        }
    }

    @Test("two instances, one framework; SIGKILL the leader: the standby takes over the same framework id and tasks")
    func leaderKilled() async throws {
        let master = try TestServers.value("MESOS_MASTER_URL")
        let zooKeeper = try TestServers.value("ZOOKEEPER_CONNECT")
        let tag = UUID().uuidString.prefix(8).lowercased()
        let name = "svc-ha-\(tag)"
        let sessionTimeout = 4
        let arguments = [
            "--master", master, "--zk", "zk://\(zooKeeper)/swift-mesos-tests/\(name)", "--instances", "3",
            "--command", "sleep 600 # \(name)", "--resources", "cpus:0.1;mem:16", "--name", name,
            "--failover-timeout", "300", "--zk-session-timeout", "\(sessionTimeout)",
        ]
        let first = try ToolProcess(arguments, binary: ToolProcess.serviceBinary)
        try await Self.waitFor("the first instance to lead", timeout: .seconds(60)) {
            first.stdout.contains("leadership: elected")
        }
        let second = try ToolProcess(arguments, binary: ToolProcess.serviceBinary)
        var frameworkID = ""
        do {
            try await Self.waitFor("3 running tasks", timeout: .seconds(90)) {
                ServiceFrameworkToolTests.running(first.stdout).count >= 3
            }
            try await Self.waitFor("the standby to know the leader", timeout: .seconds(30)) {
                second.stdout.contains("leadership: standby")
            }
            #expect(!second.stdout.contains("leadership: elected"))
            let subscribed = try #require(Self.subscriptions(first.stdout).first)
            frameworkID = subscribed.id
            #expect(try await Self.frameworks(master, named: name) == [frameworkID], "exactly one framework registered")
            let tasks = ServiceFrameworkToolTests.running(first.stdout)
            #expect(tasks == ["service.0.1", "service.1.1", "service.2.1"])

            // SIGKILL the leader; the standby subscribes once ZooKeeper expired the leader's session.
            let killed = Int64(Date().timeIntervalSince1970 * 1000)
            first.send(signal: SIGKILL)
            try await Self.waitFor("the standby to subscribe", timeout: .seconds(60)) {
                !Self.subscriptions(second.stdout).isEmpty
            }
            let takeover = try #require(Self.subscriptions(second.stdout).first)
            #expect(takeover.id == frameworkID, "the same framework id")
            let seconds = Double(takeover.millis - killed) / 1000
            print("service-framework HA takeover (SIGKILL → standby SUBSCRIBED): \(String(format: "%.2f", seconds)) s "
                + "with a \(sessionTimeout) s ZooKeeper session timeout")
            #expect(seconds <= Double(sessionTimeout) + 2 + 3, "takeover within the session timeout (+ margin)")
            // The standby adopts the three tasks: it reports them RUNNING on reconciliation and launches none.
            try await Self.waitFor("the stored tasks reconciled", timeout: .seconds(30)) {
                ServiceFrameworkToolTests.running(second.stdout).count >= 3
            }
            try await Task.sleep(for: .seconds(3))
            let seen = Set(ServiceFrameworkToolTests.lines(second.stdout, prefix: "task ").map { String($0.split(separator: " ")[1]) })
            #expect(seen == tasks, "no task relaunched: \(second.stdout)")
            #expect(try await Self.frameworks(master, named: name) == [frameworkID])

            // Kill one task's process by hand (SIGKILL of its shell, found by the tag in its command line): the
            // new leader replaces it.
            let shells = Self.shells(containing: name)
            try #require(shells.count == 3, "the tasks' shells: \(shells)")
            kill(shells[0], SIGKILL)
            try await Self.waitFor("a replacement running", timeout: .seconds(60)) {
                ServiceFrameworkToolTests.running(second.stdout).contains { $0.hasSuffix(".2") }
            }
            #expect(ServiceFrameworkToolTests.running(second.stdout).count == 4)
        } catch {
            first.send(signal: SIGKILL)
            second.send(signal: SIGKILL)
            _ = await first.finish(timeout: .seconds(10))
            let result = await second.finish(timeout: .seconds(10))
            Issue.record("first:\n\(first.stdout)\nsecond:\n\(result.stdout)\n\(result.stderr)")
            throw error
        }
        second.send(signal: SIGTERM)
        let result = await second.finish(timeout: .seconds(30))
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        _ = await first.finish(timeout: .seconds(10))
        // Tear the framework down (its tasks go with it).
        if !frameworkID.isEmpty {
            let curl = Process()
            curl.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            curl.arguments = ["curl", "-sS", "--max-time", "20", "-d", "frameworkId=\(frameworkID)", master + "/master/teardown"]
            try curl.run()
            curl.waitUntilExit()
            #expect(curl.terminationStatus == 0)
        }
    }

    @Test("--state-file: a single instance SIGKILLed and restarted fails over to its framework id and adopts its tasks")
    func stateFileRestart() async throws {
        let master = try TestServers.value("MESOS_MASTER_URL")
        let tag = UUID().uuidString.prefix(8).lowercased()
        let name = "svc-file-\(tag)"
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let arguments = [
            "--master", master, "--state-file", directory.appendingPathComponent("state").path, "--instances", "2",
            "--command", "sleep 600 # \(name)", "--resources", "cpus:0.1;mem:16", "--name", name,
            "--failover-timeout", "300",
        ]
        let first = try ToolProcess(arguments, binary: ToolProcess.serviceBinary)
        var frameworkID = ""
        do {
            try await Self.waitFor("2 running tasks", timeout: .seconds(90)) {
                ServiceFrameworkToolTests.running(first.stdout).count >= 2
            }
            frameworkID = try #require(Self.subscriptions(first.stdout).first?.id)
            first.send(signal: SIGKILL)
            _ = await first.finish(timeout: .seconds(10))
            let second = try ToolProcess(arguments, binary: ToolProcess.serviceBinary)
            try await Self.waitFor("the restarted instance to reconcile", timeout: .seconds(60)) {
                ServiceFrameworkToolTests.running(second.stdout).count >= 2
            }
            #expect(Self.subscriptions(second.stdout).first?.id == frameworkID, "the same framework id")
            try await Task.sleep(for: .seconds(2))
            let seen = Set(ServiceFrameworkToolTests.lines(second.stdout, prefix: "task ").map { String($0.split(separator: " ")[1]) })
            #expect(seen == ["service.0.1", "service.1.1"], "adopted, not relaunched: \(second.stdout)")
            #expect(try await Self.frameworks(master, named: name) == [frameworkID])
            second.send(signal: SIGTERM)
            let result = await second.finish(timeout: .seconds(30))
            #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        } catch {
            first.send(signal: SIGKILL)
            Issue.record("first:\n\(first.stdout)")
            throw error
        }
        let curl = Process()
        curl.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        curl.arguments = ["curl", "-sS", "--max-time", "20", "-d", "frameworkId=\(frameworkID)", master + "/master/teardown"]
        try curl.run()
        curl.waitUntilExit()
        #expect(curl.terminationStatus == 0)
    }
}
