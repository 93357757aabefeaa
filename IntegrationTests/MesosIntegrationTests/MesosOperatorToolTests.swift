import Foundation
import MesosCore
import MesosTestKit
import Testing

/// The built `mesos` tool run as a process against the real Mesos 1.11 master in `$MESOS_OPERATOR_MASTER_URL`
/// (one agent), and against the HA masters (`$MESOS_HA_MASTERS`, `$MESOS_HA_ZK`).
///
/// In realmesos's local mode the agent sends task output to the master's log instead of the sandbox's
/// `stdout`/`stderr` files (see its README), so the tasks here append to those files themselves: the files the
/// agent created and serves, which is what `mesos logs` reads.
extension SharedClusterSuites {
    @Suite("mesos (the operator tool, as a process) against a real master",
           .enabled(if: OperatorTool.binary != nil, "mesos is not built next to the tests"),
           .enabled(if: TestServers.shouldRun(needing: OperatorTool.masterVariable), "needs MESOS_OPERATOR_MASTER_URL"),
           .serialized, .timeLimit(.minutes(3)))
    struct MesosOperatorToolTests {
        static func master() throws -> String {
            try TestServers.value(OperatorTool.masterVariable)
        }

        static func json(_ text: String) throws -> [String: Any] {
            try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "not a JSON object: \(text)")
        }

        @Test("version prints the master's version, 1.11.0")
        func version() async throws {
            let result = try await OperatorTool.run(["version", "--master", try Self.master()])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout == "1.11.0\n")
            let json = try Self.json(try await OperatorTool.run(["version", "--json", "--master", try Self.master()]).stdout)
            #expect((json["version_info"] as? [String: Any])?["version"] as? String == "1.11.0")
        }

        @Test("health, agents, frameworks, tasks, state, roles, weights, quota and maintenance answer; --json is one document")
        func readCommands() async throws {
            let master = try Self.master()
            let health = try await OperatorTool.run(["health", "--master", master])
            #expect(health.status == 0)
            #expect(health.stdout == "healthy\n")

            let agents = try Self.json(try await OperatorTool.run(["agents", "--json", "--master", master]).stdout)
            let agentList = try #require(agents["agents"] as? [[String: Any]])
            #expect(agentList.count == 1)
            #expect(((agentList.first?["agent_info"] as? [String: Any])?["id"] as? [String: Any])?["value"] is String)
            let table = try await OperatorTool.run(["agents", "--master", master])
            #expect(table.stdout.hasPrefix("ID "))
            #expect(table.stdout.contains("1.11.0"))

            let state = try Self.json(try await OperatorTool.run(["state", "--json", "--master", master]).stdout)
            #expect(state["get_agents"] != nil)
            #expect(state["get_tasks"] != nil)
            let summary = try await OperatorTool.run(["state", "--master", master])
            #expect(summary.stdout.hasPrefix("agents:      1 ("))

            for command in ["frameworks", "tasks", "roles", "weights", "quota"] {
                let result = try await OperatorTool.run([command, "--json", "--master", master])
                #expect(result.status == 0, "\(command): \(result.stderr)")
                _ = try Self.json(result.stdout)
                #expect(try await OperatorTool.run([command, "--master", master]).status == 0)
            }
            let schedule = try await OperatorTool.run(["maintenance", "schedule", "--master", master])
            #expect(schedule.status == 0, "\(schedule.stderr)")
            let status = try await OperatorTool.run(["maintenance", "status", "--json", "--master", master])
            #expect(status.status == 0, "\(status.stderr)")
        }

        @Test("a task launched with mesos-execute: listed by mesos tasks, its stdout printed by mesos logs")
        func logsOfAFinishedTask() async throws {
            let master = try Self.master()
            let marker = "operator-logs-\(UUID().uuidString.prefix(8))"
            let launched = try await ToolProcess.run(["--master", master, "--json", "--name", "logs-test", "--command", "echo \(marker) >> \"$MESOS_SANDBOX/stdout\"; echo oops >> \"$MESOS_SANDBOX/stderr\""])
            #expect(launched.status == 0, "\(launched.stdout)\n\(launched.stderr)")
            let taskID = try #require(OperatorTool.field("task_id", of: "launched", in: launched.stdout))

            let tasks = try Self.json(try await OperatorTool.run(["tasks", "--all", "--json", "--master", master]).stdout)
            let completed = try #require(tasks["completed_tasks"] as? [[String: Any]])
            let task = try #require(completed.first { ($0["task_id"] as? [String: Any])?["value"] as? String == taskID })
            #expect(task["state"] as? String == "TASK_FINISHED")
            let finished = try await OperatorTool.run(["tasks", "--state", "finished", "--master", master])
            #expect(finished.stdout.contains(taskID))

            let logs = try await OperatorTool.run(["logs", taskID, "--master", master])
            #expect(logs.status == 0, "\(logs.stderr)")
            #expect(logs.stdout.split(separator: "\n").contains(Substring(marker)))
            let stderr = try await OperatorTool.run(["logs", taskID, "--stderr", "--master", master])
            #expect(stderr.stdout.split(separator: "\n").contains("oops"))

            let missing = try await OperatorTool.run(["logs", "no-such-task", "--master", master])
            #expect(missing.status == 2)
            #expect(missing.stderr.hasPrefix("mesos: error: "))
        }

        @Test("mesos logs -f follows a running task's output until the task ends")
        func followARunningTask() async throws {
            let master = try Self.master()
            let execute = try ToolProcess(["--master", master, "--json", "--name", "follow-test", "--command", "echo first >> \"$MESOS_SANDBOX/stdout\"; sleep 2; echo second >> \"$MESOS_SANDBOX/stdout\""])
            #expect(await execute.waitForOutput(containing: "TASK_RUNNING", timeout: .seconds(60)))
            let taskID = try #require(OperatorTool.field("task_id", of: "launched", in: execute.stdout))
            let follow = try await OperatorTool.run(["logs", taskID, "-f", "--master", master], timeout: .seconds(90))
            #expect(follow.status == 0, "\(follow.stderr)")
            #expect(follow.stdout.split(separator: "\n").suffix(2) == ["first", "second"])
            #expect(await execute.finish(timeout: .seconds(60)).status == 0)
        }

        @Test("mesos teardown removes a running framework; an unknown id exits 2")
        func teardown() async throws {
            let master = try Self.master()
            let execute = try ToolProcess(["--master", master, "--json", "--name", "teardown-test", "--command", "sleep 120"])
            #expect(await execute.waitForOutput(containing: "TASK_RUNNING", timeout: .seconds(60)))
            let frameworkID = try #require(OperatorTool.field("framework_id", of: "subscribed", in: execute.stdout))
            let result = try await OperatorTool.run(["teardown", frameworkID, "--master", master])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.contains("torn down"))
            let ended = await execute.finish(timeout: .seconds(60))
            #expect(ended.status != 0)
            let frameworks = try Self.json(try await OperatorTool.run(["frameworks", "--all", "--json", "--master", master]).stdout)
            let active = (frameworks["frameworks"] as? [[String: Any]] ?? []).compactMap { (($0["framework_info"] as? [String: Any])?["id"] as? [String: Any])?["value"] as? String }
            #expect(!active.contains(frameworkID))
            let completed = (frameworks["completed_frameworks"] as? [[String: Any]] ?? []).compactMap { (($0["framework_info"] as? [String: Any])?["id"] as? [String: Any])?["value"] as? String }
            #expect(completed.contains(frameworkID))

            let unknown = try await OperatorTool.run(["teardown", "no-such-framework", "--master", master])
            #expect(unknown.status == 2, "\(unknown.stderr)")
            #expect(unknown.stderr.hasPrefix("mesos: error: "))
            #expect(unknown.stderr.split(separator: "\n").count == 1)
        }

        @Test("weights are set and read back; a bad weight is a usage error")
        func weightsAndMaintenance() async throws {
            let master = try Self.master()
            let role = "it-tool-\(UUID().uuidString.prefix(6).lowercased())"
            let set = try await OperatorTool.run(["weights", "\(role)=3.5", "--master", master])
            #expect(set.status == 0, "\(set.stderr)")
            let weights = try Self.json(try await OperatorTool.run(["weights", "--json", "--master", master]).stdout)
            let infos = try #require(weights["weight_infos"] as? [[String: Any]])
            #expect(infos.contains { $0["role"] as? String == role && $0["weight"] as? Double == 3.5 })
            let bad = try await OperatorTool.run(["weights", "\(role)=-1", "--master", master])
            #expect(bad.status == 64)

            // The schedule is only read here: RealMasterOperatorTests set and clear it on the same master, in parallel.
            let schedule = try await OperatorTool.run(["maintenance", "schedule", "--json", "--master", master])
            #expect(schedule.status == 0, "\(schedule.stderr)")
            _ = try Self.json(schedule.stdout)
        }

        @Test("an unreachable master exits 3 with one line; no master at all is a usage error")
        func failures() async throws {
            let unreachable = try await OperatorTool.run(["version", "--master", "127.0.0.1:1", "--timeout", "5s"])
            #expect(unreachable.status == 3)
            #expect(unreachable.stderr.split(separator: "\n").count == 1)
            let none = try await OperatorTool.run(["version"], environment: ["MESOS_MASTER": ""])
            #expect(none.status == 64)
            #expect(none.stderr.contains("--master"))
        }
    }
}

extension SharedClusterSuites {
    @Suite("mesos (the operator tool) against the HA masters",
           .enabled(if: OperatorTool.binary != nil, "mesos is not built next to the tests"),
           .enabled(if: HACluster.shouldRun, "needs MESOS_HA_ZK, MESOS_HA_MASTERS, REALMESOS_DIR"),
           .serialized, .timeLimit(.minutes(2)))
    struct MesosOperatorToolHATests {
        @Test("--master through a follower's URL (307 to the leader) and through zk://")
        func followerAndZooKeeper() async throws {
            let (leader, answering) = try await HACluster.agreedLeader()
            let follower = try #require(answering.first { $0 != leader })
            let viaFollower = try await OperatorTool.run(["version", "--master", "http://127.0.0.1:\(follower)"])
            #expect(viaFollower.status == 0, "\(viaFollower.stderr)")
            #expect(viaFollower.stdout == "1.11.0\n")
            let list = try await OperatorTool.run(["agents", "--json", "--master", try TestServers.value("MESOS_HA_MASTERS")])
            #expect(list.status == 0, "\(list.stderr)")
            let viaZooKeeper = try await OperatorTool.run(["version", "--master", try TestServers.value("MESOS_HA_ZK")])
            #expect(viaZooKeeper.status == 0, "\(viaZooKeeper.stderr)")
            #expect(viaZooKeeper.stdout == "1.11.0\n")
        }
    }
}

/// Locating and running the built `mesos`.
enum OperatorTool {
    static let masterVariable = "MESOS_OPERATOR_MASTER_URL"
    static let binary: URL? = ToolProcess.locate("mesos", override: "MESOS_OPERATOR_BINARY")

    static func run(_ arguments: [String], environment: [String: String] = [:], timeout: Duration = .seconds(60)) async throws -> ToolProcess.Result {
        guard !environment.isEmpty else {
            return try await ToolProcess.run(arguments, binary: Self.binary, timeout: timeout)
        }
        // Through env(1), so that the tool sees the changed environment.
        var settings: [String] = []
        for (name, value) in environment.sorted(by: { $0.key < $1.key }) {
            settings.append(value.isEmpty ? "--unset=\(name)" : "\(name)=\(value)")
        }
        let binaryPath = try #require(Self.binary).path
        return try await ToolProcess.run(settings + [binaryPath] + arguments, binary: URL(fileURLWithPath: "/usr/bin/env"), timeout: timeout)
    }

    /// The string `field` of the first `--json` line of mesos-execute whose `event` is `event`.
    static func field(_ field: String, of event: String, in output: String) -> String? {
        for line in output.split(separator: "\n") {
            guard let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any],
                object["event"] as? String == event
            else { continue }
            return object[field] as? String
        }
        return nil
    }
}

/// Fails loudly when the tool is missing, instead of letting the suites above be skipped unnoticed.
@Test("mesos is built next to the test bundle (or named by MESOS_OPERATOR_BINARY)")
func mesosOperatorToolIsBuilt() {
    #expect(OperatorTool.binary != nil, "build it with `swift build --product mesos` (swift build --build-tests builds it too)")
}
