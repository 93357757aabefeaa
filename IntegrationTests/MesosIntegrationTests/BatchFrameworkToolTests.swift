import Foundation
import MesosTestKit
import Testing

/// The batch example (`batch-framework`, on `FrameworkRuntime`) run as a process on the embedded local cluster:
/// items placed and packed by the runtime, failures retried after their backoff, the summary printed.
@Suite("batch-framework (the example, as a process)",
       .enabled(if: ToolProcess.batchBinary != nil, "batch-framework is not built next to the tests"),
       .timeLimit(.minutes(3)))
struct BatchFrameworkToolTests {
    func run(_ arguments: [String]) async throws -> ToolProcess.Result {
        try await ToolProcess.run(arguments + ["--timeout", "90"], binary: ToolProcess.batchBinary, timeout: .seconds(120))
    }

    static func lines(_ text: String, prefix: String) -> [Substring] {
        text.split(separator: "\n").filter { $0.hasPrefix(prefix) }
    }

    static func launchLines(_ result: ToolProcess.Result) -> [Substring] {
        Self.lines(result.stdout, prefix: "  launch  ")
    }

    /// The summary's rows: item number → (attempts, result).
    static func summary(_ text: String) -> [Int: (attempts: Int, result: String)] {
        guard let header = text.range(of: "item  attempts  result         time\n") else { return [:] }
        var rows: [Int: (attempts: Int, result: String)] = [:]
        for line in text[header.upperBound...].split(separator: "\n") {
            let words = line.split(separator: " ", omittingEmptySubsequences: true)
            guard words.count >= 4, let item = Int(words[0]), let attempts = Int(words[1]) else { continue }
            rows[item] = (attempts, words[2] == "NOT" ? "NOT RUN" : String(words[2]))
        }
        return rows
    }

    @Test("default command: every third item fails once and is retried; the summary counts them")
    func retriesAndSummary() async throws {
        let result = try await self.run(["--tasks", "3", "--backoff", "0.2"])
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("Subscribed as framework "))
        #expect(result.stdout.contains("  TASK_FAILED  item 3, attempt 1: Command exited with status 1 (will retry)"))
        #expect(Self.launchLines(result).count == 4)
        #expect(result.stdout.contains("  launch  item 3, attempt 2 as task batch.2.2"))
        #expect(result.stdout.contains("    [item 3] item 3, attempt 2"))
        let rows = Self.summary(result.stdout)
        #expect(rows.count == 3)
        #expect(rows[1]?.attempts == 1 && rows[2]?.attempts == 1 && rows[3]?.attempts == 2, "\(result.stdout)")
        #expect(rows.values.allSatisfy { $0.result == "TASK_FINISHED" })
        #expect(result.stdout.contains("3/3 finished, 1 retried, in "))
    }

    @Test("--max-attempts 2 and a command that always fails: retried once, then given up; exit 1")
    func givesUp() async throws {
        let result = try await self.run(["--tasks", "1", "--max-attempts", "2", "--backoff", "0.1", "--command", "exit 3"])
        #expect(result.status == 1, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("  TASK_FAILED  item 1, attempt 1: Command exited with status 3 (will retry)"))
        #expect(result.stdout.contains("  TASK_FAILED  item 1, attempt 2: Command exited with status 3 (giving up)"))
        #expect(Self.summary(result.stdout)[1]?.attempts == 2)
        #expect(Self.summary(result.stdout)[1]?.result == "TASK_FAILED")
        #expect(result.stdout.contains("0/1 finished, 1 retried, in "))
    }

    @Test("{index} and {attempt} are filled in by the shell, inside double quotes, single quotes and bare")
    func placeholdersInQuotes() async throws {
        let result = try await self.run([
            "--tasks", "2", "--command", #"echo 'single {index}/{attempt}' "double {index}" bare{index}x \{index}"#,
        ])
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("    [item 1] single 1/1 double 1 bare1x {index}"), "\(result.stdout)")
        #expect(result.stdout.contains("    [item 2] single 2/1 double 2 bare2x {index}"), "\(result.stdout)")
    }

    @Test("two agents and --constraint rack:CLUSTER:r2: every item runs on agent2, several per offer")
    func constraintOnTwoAgents() async throws {
        let result = try await self.run([
            "--local-agents", "2", "--local-agent-attributes", "rack:r1", "--local-agent-attributes", "rack:r2",
            "--local-agent-resources", "cpus:1;mem:256", "--local-agent-resources", "cpus:1;mem:256",
            "--constraint", "rack:CLUSTER:r2", "--tasks", "4", "--command", "echo item {index}",
        ])
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("(agent1.local cpus:1;mem:256 [rack:r1], agent2.local cpus:1;mem:256 [rack:r2])"))
        #expect(Self.launchLines(result).count == 4)
        let running = Self.lines(result.stdout, prefix: "  TASK_RUNNING  ")
        #expect(running.count == 4)
        #expect(running.allSatisfy { $0.hasSuffix(" on agent2.local (rack:r2)") }, "\(result.stdout)")
        #expect(result.stdout.contains("4/4 finished, 0 retried"))
    }

    @Test("hostname:MAX_PER:1 on two agents spreads the items, one per agent at a time")
    func maxPerSpreads() async throws {
        let result = try await self.run([
            "--local-agents", "2", "--local-agent-resources", "cpus:1;mem:256", "--local-agent-resources", "cpus:1;mem:256",
            "--constraint", "hostname:MAX_PER:1", "--tasks", "2", "--command", "sleep 3",
        ])
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        let running = Self.lines(result.stdout, prefix: "  TASK_RUNNING  ")
        #expect(running.count == 2)
        #expect(running.contains { $0.hasSuffix(" on agent1.local") })
        #expect(running.contains { $0.hasSuffix(" on agent2.local") })
    }

    @Test("an impossible constraint: the items wait, saying why, and the run times out with NOT RUN items and exit 1")
    func impossibleConstraintTimesOut() async throws {
        let result = try await ToolProcess.run(
            ["--local-agent-attributes", "rack:r1", "--constraint", "rack:CLUSTER:r9", "--tasks", "2", "--timeout", "3"],
            binary: ToolProcess.batchBinary, timeout: .seconds(60))
        #expect(result.status == 1)
        #expect(result.stdout.contains("  waiting  2 items fit no offer (localhost: constraint rack:CLUSTER:r9 not met)"))
        #expect(Self.launchLines(result).isEmpty)
        #expect(result.stdout.contains("Timed out after 3"))
        #expect(Self.summary(result.stdout).values.map(\.result) == ["NOT RUN", "NOT RUN"])
        #expect(result.stdout.contains("0/2 finished, 0 retried"))
    }

    @Test("--role batch: items of cpus:0.3 use the unreserved 0.2 and the batch-reserved 0.4 cpus together")
    func roleUsesTheReservation() async throws {
        let result = try await self.run([
            "--local-agent-resources", "cpus:0.2;cpus(batch):0.4;mem:256", "--role", "batch",
            "--resources", "cpus:0.3;mem:16", "--tasks", "2", "--command", "sleep 1",
        ])
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("2/2 finished, 0 retried"))
    }

    @Test("Ctrl-C: the framework is torn down, the summary shows where the items stood, exit 130")
    func interrupted() async throws {
        let tool = try ToolProcess(["--tasks", "2", "--command", "sleep 60"], binary: ToolProcess.batchBinary)
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(60)
        while Self.lines(tool.stdout, prefix: "  TASK_RUNNING  ").count < 2, clock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
        }
        tool.interrupt()
        let result = await tool.finish(timeout: .seconds(30))
        #expect(result.status == 130, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("Signal 2: tearing down"))
        #expect(Self.summary(result.stdout).count == 2)
        #expect(result.stdout.contains("0/2 finished, 0 retried"))
    }

    @Test("bad flags: a clear error, non-zero exit, nothing run", arguments: [
        (["--constraint", "rack:SOMETIMES"], "--constraint 'rack:SOMETIMES': "),
        (["--resources", "cpus:x"], "--resources 'cpus:x': at offset 5"),
        (["--local-agent-attributes", "rack:r1;zone"], "--local-agent-attributes (occurrence 1, agent 1): Malformed attributes"),
        (["--state-file", "/tmp/batch-framework-unused.state"], "--state-file needs --master"),
        (["--backoff", "61"], "--backoff must be between 0 and 60 seconds"),
        (["--max-attempts", "0"], "--max-attempts must be at least 1"),
        (["--tasks", "0"], "--tasks must be between 1 and 10000"),
    ])
    func badInput(arguments: [String], message: String) async throws {
        let result = try await self.run(arguments)
        #expect(result.status == 64)
        #expect(result.stderr.contains("Error: \(message)"), "\(result.stderr)")
        #expect(!result.stdout.contains("Subscribed"))
    }
}

/// The batch example against the real master (`$MESOS_MASTER_URL`).
@Suite("batch-framework on the real master",
       .enabled(if: ToolProcess.batchBinary != nil && RealMaster.shouldRun, "needs batch-framework and MESOS_MASTER_URL"),
       .timeLimit(.minutes(4)))
struct BatchFrameworkOnRealMasterTests {
    /// Tears a framework down (its tasks go with it), for a test that failed half-way.
    static func teardown(_ master: String, _ frameworkID: String) {
        let curl = Process()
        curl.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        curl.arguments = ["curl", "-sS", "--max-time", "20", "-d", "frameworkId=\(frameworkID)", master + "/master/teardown"]
        try? curl.run()
        curl.waitUntilExit()
    }

    static func frameworkID(_ text: String) -> String? {
        BatchFrameworkToolTests.lines(text, prefix: "Subscribed as framework ").first.map {
            String($0.dropFirst("Subscribed as framework ".count))
        }
    }

    @Test("20 items, every third failing on its first attempt: all succeed with retries, the summary says so")
    func twentyItemsEveryThirdRetried() async throws {
        let master = try RealMaster.baseURL()
        // The default command fails the first attempt of items 3, 6, ... 18.
        let result = try await ToolProcess.run([
            "--master", master, "--tasks", "20", "--backoff", "0.5", "--resources", "cpus:0.05;mem:16", "--timeout", "150",
        ], binary: ToolProcess.batchBinary, timeout: .seconds(180))
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        let failing = Set(stride(from: 3, through: 20, by: 3))
        for item in 1...20 {
            let line = "  TASK_FAILED  item \(item), attempt 1: Command exited with status 1 (will retry)"
            #expect(result.stdout.contains(line) == failing.contains(item), "item \(item)")
        }
        #expect(BatchFrameworkToolTests.lines(result.stdout, prefix: "  TASK_FAILED  ").count == failing.count)
        #expect(BatchFrameworkToolTests.launchLines(result).count == 20 + failing.count)
        let rows = BatchFrameworkToolTests.summary(result.stdout)
        #expect(rows.count == 20)
        for item in 1...20 {
            #expect(rows[item]?.attempts == (failing.contains(item) ? 2 : 1), "item \(item): \(result.stdout)")
            #expect(rows[item]?.result == "TASK_FINISHED", "item \(item)")
        }
        let total = try #require(BatchFrameworkToolTests.lines(result.stdout, prefix: "20/20 finished, ").first)
        #expect(total.hasPrefix("20/20 finished, 6 retried, in "))
        print("batch-framework on the real master: \(total)")
        // The finished batch tore its framework down.
        let frameworkID = try #require(Self.frameworkID(result.stdout))
        let state = try await MasterState.fetch()
        #expect(!state.activeFrameworkIDs.contains(frameworkID))
        #expect(state.completedFrameworkIDs.contains(frameworkID))
    }

    @Test("--state-file: interrupted, the batch's tasks keep running; run again, it adopts them and finishes")
    func stateFileResumes() async throws {
        let master = try RealMaster.baseURL()
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("batch-\(UUID().uuidString).state").path
        defer {
            try? FileManager.default.removeItem(atPath: path)
            try? FileManager.default.removeItem(atPath: path + ".lock")
        }
        let arguments = [
            "--master", master, "--tasks", "3", "--command", "sleep 8", "--resources", "cpus:0.05;mem:16",
            "--state-file", path, "--failover-timeout", "120", "--timeout", "120",
        ]
        let first = try ToolProcess(arguments, binary: ToolProcess.batchBinary)
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(60)
        while BatchFrameworkToolTests.lines(first.stdout, prefix: "  TASK_RUNNING  ").count < 3, clock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
        }
        first.interrupt()
        let stopped = await first.finish(timeout: .seconds(30))
        let frameworkID = try #require(Self.frameworkID(stopped.stdout), "\(stopped.stdout)\n\(stopped.stderr)")
        do {
            #expect(stopped.status == 130, "\(stopped.stdout)\n\(stopped.stderr)")
            #expect(stopped.stdout.contains("Signal 2: stopping; run again with --state-file \(path) to resume"))
            #expect(FileManager.default.fileExists(atPath: path))
            #expect(try await !MasterState.fetch().completedFrameworkIDs.contains(frameworkID), "not torn down")

            let second = try await ToolProcess.run(arguments, binary: ToolProcess.batchBinary, timeout: .seconds(150))
            #expect(second.status == 0, "\(second.stdout)\n\(second.stderr)")
            #expect(second.stdout.contains("Resuming the stored batch of 3 items"))
            #expect(Self.frameworkID(second.stdout) == frameworkID, "the same framework id")
            #expect(BatchFrameworkToolTests.launchLines(second).isEmpty, "nothing launched again: \(second.stdout)")
            let rows = BatchFrameworkToolTests.summary(second.stdout)
            #expect(rows.count == 3)
            #expect(rows.values.allSatisfy { $0.attempts == 1 && $0.result == "TASK_FINISHED" }, "\(second.stdout)")
            #expect(second.stdout.contains("3/3 finished, 0 retried"))
            #expect(!FileManager.default.fileExists(atPath: path), "a finished batch removes its state file")
            #expect(try await MasterState.fetch().completedFrameworkIDs.contains(frameworkID))
        } catch {
            Self.teardown(master, frameworkID)
            throw error
        }
    }
}

/// The batch example against the toolkit master (`$MESOS_TOOLKIT_MASTER_URL`: cpus 1 unreserved and 1 reserved to
/// role batch): three items of 0.6 cpus run only because the items of role batch use both parts.
@Suite("batch-framework on the toolkit master",
       .enabled(if: ToolProcess.batchBinary != nil && TestServers.shouldRunAgainstToolkitMaster,
                "needs batch-framework and MESOS_TOOLKIT_MASTER_URL"),
       .toolkitAgent, .timeLimit(.minutes(3)))
struct BatchFrameworkRealMasterTests {
    @Test("--role batch: items packed across the unreserved and the batch-reserved cpus, a failure retried, all finish")
    func roleBatchOnTheRealMaster() async throws {
        let url = try TestServers.toolkitMasterURL()
        let result = try await ToolProcess.run([
            "--master", url, "--role", "batch", "--tasks", "3", "--resources", "cpus:0.6;mem:64", "--timeout", "90",
        ], binary: ToolProcess.batchBinary, timeout: .seconds(120))
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("  TASK_FAILED  item 3, attempt 1: Command exited with status 1 (will retry)"))
        #expect(result.stdout.contains("3/3 finished, 1 retried"))
    }
}
