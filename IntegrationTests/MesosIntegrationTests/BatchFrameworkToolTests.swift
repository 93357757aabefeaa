import Foundation
import MesosTestKit
import Testing

/// The batch example (`batch-framework`) run as a process on the embedded local cluster: items placed and packed
/// by the toolkit, failures retried, the summary printed.
@Suite("batch-framework (the example, as a process)",
       .enabled(if: ToolProcess.batchBinary != nil, "batch-framework is not built next to the tests"),
       .timeLimit(.minutes(3)))
struct BatchFrameworkToolTests {
    func run(_ arguments: [String]) async throws -> ToolProcess.Result {
        try await ToolProcess.run(arguments + ["--timeout", "90"], binary: ToolProcess.batchBinary, timeout: .seconds(120))
    }

    func launchLines(_ result: ToolProcess.Result) -> [Substring] {
        result.stdout.split(separator: "\n").filter { $0.hasPrefix("  launch  ") }
    }

    @Test("default command: every third item fails once and is retried; the summary counts them")
    func retriesAndSummary() async throws {
        let result = try await self.run(["--tasks", "3"])
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("Subscribed as framework "))
        #expect(result.stdout.contains("  TASK_FAILED  item 3, attempt 1: Command exited with status 1 (will retry)"))
        #expect(self.launchLines(result).count == 4)
        #expect(result.stdout.contains("    [item 3] item 3, attempt 2"))
        #expect(result.stdout.contains("item  attempts  result         time"))
        #expect(result.stdout.contains("3/3 finished, 1 retried, in "))
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
        let launches = self.launchLines(result)
        #expect(launches.count == 4)
        #expect(launches.allSatisfy { $0.hasSuffix(" on agent2.local (rack:r2)") })
        #expect(result.stdout.contains("4/4 finished, 0 retried"))
    }

    @Test("hostname:MAX_PER:1 on two agents spreads the items, one per agent at a time")
    func maxPerSpreads() async throws {
        let result = try await self.run([
            "--local-agents", "2", "--local-agent-resources", "cpus:1;mem:256", "--local-agent-resources", "cpus:1;mem:256",
            "--constraint", "hostname:MAX_PER:1", "--tasks", "2", "--command", "sleep 3",
        ])
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        let launches = self.launchLines(result)
        #expect(launches.count == 2)
        #expect(launches.contains { $0.hasSuffix(" on agent1.local") })
        #expect(launches.contains { $0.hasSuffix(" on agent2.local") })
    }

    @Test("an impossible constraint: the items wait, saying why, and the run times out with NOT RUN items and exit 1")
    func impossibleConstraintTimesOut() async throws {
        let result = try await ToolProcess.run(
            ["--local-agent-attributes", "rack:r1", "--constraint", "rack:CLUSTER:r9", "--tasks", "2", "--timeout", "3"],
            binary: ToolProcess.batchBinary, timeout: .seconds(60))
        #expect(result.status == 1)
        #expect(result.stdout.contains("  waiting  2 items fit no offer (localhost: constraint rack:CLUSTER:r9 not met)"))
        #expect(self.launchLines(result).isEmpty)
        #expect(result.stdout.contains("Timed out after 3"))
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

    @Test("bad --constraint or --resources: a clear error, non-zero exit, nothing run", arguments: [
        (["--constraint", "rack:SOMETIMES"], "--constraint 'rack:SOMETIMES': "),
        (["--resources", "cpus:x"], "--resources 'cpus:x': at offset 5"),
        (["--local-agent-attributes", "rack:r1;zone"], "--local-agent-attributes (occurrence 1, agent 1): Malformed attributes"),
    ])
    func badInput(arguments: [String], message: String) async throws {
        let result = try await self.run(arguments)
        #expect(result.status == 64)
        #expect(result.stderr.contains("Error: \(message)"))
        #expect(!result.stdout.contains("Subscribed"))
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
