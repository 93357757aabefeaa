import Foundation
import MesosCore
import MesosTestKit
import Synchronization
import Testing

/// `mesos-execute` run as a separate process, the way a person runs it: against the embedded local cluster and
/// against the real Mesos 1.11 master in `$MESOS_MASTER_URL`.
@Suite("mesos-execute (the tool, as a process)", .enabled(if: ToolProcess.binary != nil, "mesos-execute is not built next to the tests"),
       .timeLimit(.minutes(3)))
struct MesosExecuteToolTests {
    // MARK: Local cluster

    @Test("local: echo hi exits 0 with TASK_FINISHED and the task's output on standard output")
    func localEchoFinishes() async throws {
        let result = try await ToolProcess.run(["--command", "echo hi"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("TASK_FINISHED"))
        #expect(result.stdout.split(separator: "\n").contains("hi"))
        #expect(result.stdout.contains("embedded local cluster"))
        #expect(result.stderr.isEmpty)
    }

    @Test("local: exit 3 exits 3 with TASK_FAILED")
    func localExitThreeFails() async throws {
        let result = try await ToolProcess.run(["--command", "exit 3"])
        #expect(result.status == 3)
        #expect(result.stdout.contains("TASK_FAILED: Command exited with status 3"))
    }

    @Test("local: sleep 60 with --kill-after 1s ends TASK_KILLED, non-zero, in seconds")
    func localKillAfter() async throws {
        let result = try await ToolProcess.run(["--kill-after", "1s", "--command", "sleep 60"])
        #expect(result.status == 1)
        #expect(result.stdout.contains("TASK_KILLED"))
        #expect(result.elapsed < .seconds(20))
    }

    @Test("local: argv after '--' runs without a shell; --env reaches the task")
    func localArgvAndEnvironment() async throws {
        let result = try await ToolProcess.run(["--env", "GREETING=hello there", "--", "/bin/sh", "-c", "echo \"$GREETING\" \"$0\"", "argv0"])
        #expect(result.status == 0)
        #expect(result.stdout.split(separator: "\n").contains("hello there argv0"))
    }

    @Test("local: --json prints one JSON object per line, ending with the result")
    func localJSONLines() async throws {
        let result = try await ToolProcess.run(["--json", "--command", "echo hi"])
        #expect(result.status == 0)
        let objects = try result.stdout.split(separator: "\n").map { line in
            try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        }
        let events = objects.compactMap { $0["event"] as? String }
        #expect(events.count == objects.count)
        #expect(events.first == "master")
        #expect(events.contains("subscribed"))
        #expect(events.contains("launched"))
        #expect(events.last == "result")
        let states = objects.filter { $0["event"] as? String == "status" }.compactMap { $0["state"] as? String }
        #expect(states == ["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"])
        #expect(objects.contains { $0["event"] as? String == "output" && $0["data"] as? String == "hi\n" })
        #expect(objects.last?["exit_code"] as? Int == 0)
    }

    @Test("local: Ctrl-C (SIGINT) kills the task and exits 130")
    func localInterrupt() async throws {
        let tool = try ToolProcess(["--command", "sleep 60"])
        #expect(await tool.waitForOutput(containing: "TASK_RUNNING", timeout: .seconds(20)))
        tool.interrupt()
        let result = await tool.finish(timeout: .seconds(20))
        #expect(result.status == 130)
        #expect(result.stdout.contains("TASK_KILLED"))
    }

    @Test("local: --principal/--secret authenticate against the local cluster, which then requires them")
    func localCredentials() async throws {
        let result = try await ToolProcess.run(["--principal", "alice", "--secret", "s3cret", "--command", "true"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("TASK_FINISHED"))
    }

    @Test("local: no offer fits within --offer-timeout: one clear line, non-zero")
    func localNoFittingOffer() async throws {
        let result = try await ToolProcess.run(["--resources", "cpus:100000;mem:32", "--offer-timeout", "1s", "--command", "true"])
        #expect(result.status == 1)
        #expect(result.stderrLines.count == 1)
        #expect(result.stderr.hasPrefix("mesos-execute: error: No offer fitting cpus:100000;mem:32"))
    }

    @Test("local: two agents with their own resources and attributes; the task lands on the one it fits and the launch line names its host and attributes")
    func localTwoAgents() async throws {
        let result = try await ToolProcess.run([
            "--local-agents", "2",
            "--local-agent-resources", "cpus:0.05;mem:16",
            "--local-agent-attributes", "rack:r1",
            "--local-agent-attributes", "rack:r2;zone:b",
            "--agent-resources", "cpus:1;mem:256;cpus(batch):1",
            "--command", "echo hi",
        ])
        #expect(result.status == 0)
        #expect(result.stdout.contains("embedded local cluster (2 agents: agent1.local cpus:0.05;mem:16 [rack:r1], "
            + "agent2.local cpus:1;mem:256;cpus(batch):1 [rack:r2;zone:b])"))
        let launch = try #require(result.stdout.split(separator: "\n").first { $0.hasPrefix("Launching task") })
        #expect(launch.contains("-S1 (agent2.local, rack:r2;zone:b): echo hi"))
        #expect(result.stdout.contains("TASK_FINISHED"))
        #expect(result.stdout.split(separator: "\n").contains("hi"))
    }

    @Test("local agent flags: a malformed value names the option, the occurrence and the offset; more occurrences than agents is refused", arguments: [
        (["--local-agents", "2", "--local-agent-resources", "cpus:1", "--local-agent-resources", "cpus:1;mem:x"],
         "--local-agent-resources (occurrence 2, agent 2): Malformed resources 'cpus:1;mem:x': at offset 11"),
        (["--local-agent-attributes", "rack:r1;zone"], "--local-agent-attributes (occurrence 1, agent 1): Malformed attributes 'rack:r1;zone': at offset 12: expected ':' after the attribute name"),
        (["--local-agents", "2", "--local-agent-attributes", "a:1", "--local-agent-attributes", "a:2", "--local-agent-attributes", "a:3"],
         "--local-agent-attributes is given 3 times, but there are 2 agents (--local-agents 2)"),
        (["--local-agent-resources", "cpus:1", "--local-agent-resources", "cpus:2"], "--local-agent-resources is given 2 times, but there is 1 agent"),
    ])
    func localAgentFlagErrors(arguments: [String], message: String) async throws {
        let result = try await ToolProcess.run(arguments + ["--command", "true"])
        #expect(result.status == 64)
        #expect(result.stderrLines.count == 1)
        #expect(result.stderr.hasPrefix("mesos-execute: error: \(message)"))
        #expect(result.stdout.isEmpty)
    }

    // MARK: Toolkit flags (--resources, --role, --ports, --constraint) on the local cluster

    /// Two local agents, rack r1 and rack r2, each with room for the task and a few ports.
    static let twoRacks = [
        "--local-agents", "2",
        "--local-agent-attributes", "rack:r1", "--local-agent-attributes", "rack:r2",
        "--agent-resources", "cpus:1;mem:256;ports:[31000-31010]",
    ]

    @Test("local: a constraint selects the agent; the launch line names it", arguments: [
        ("rack:CLUSTER:r2", "-S1 (agent2.local, rack:r2): echo hi"),
        ("hostname:LIKE:agent1.*", "-S0 (agent1.local, rack:r1): echo hi"),
        ("rack:UNLIKE:r1", "-S1 (agent2.local, rack:r2): echo hi"),
    ])
    func localConstraintSelectsTheAgent(constraint: String, launch: String) async throws {
        let result = try await ToolProcess.run(Self.twoRacks + ["--constraint", constraint, "-v", "--command", "echo hi"])
        #expect(result.status == 0)
        let line = try #require(result.stdout.split(separator: "\n").first { $0.hasPrefix("Launching task") })
        #expect(line.hasSuffix(launch))
        #expect(result.stdout.contains("on an agent meeting \(constraint)"))
        #expect(result.stdout.contains("TASK_FINISHED"))
        // -v: the other agent's offer is refused with the constraint as the reason, whether it came first or
        // together with the chosen one.
        let refusals = result.stderrLines.filter { $0.hasPrefix("mesos-execute: Offer ") && $0.contains(" refused: ") }
        #expect(!refusals.isEmpty)
        #expect(refusals.allSatisfy { $0.hasSuffix("refused: constraint \(constraint) not met") })
    }

    @Test("local: an impossible constraint times out; -v says, one line per offer, which constraint refused it")
    func localImpossibleConstraint() async throws {
        let result = try await ToolProcess.run(
            Self.twoRacks + ["--constraint", "rack:LIKE:r[12]", "--constraint", "rack:CLUSTER:r9", "--offer-timeout", "3s", "-v",
                             "--command", "true"])
        #expect(result.status == 1)
        let refusals = result.stderrLines.filter { $0.hasPrefix("mesos-execute: Offer ") }
        #expect(refusals.contains { $0.hasSuffix("(agent1.local, rack:r1) refused: constraint rack:CLUSTER:r9 not met") })
        #expect(refusals.contains { $0.hasSuffix("(agent2.local, rack:r2) refused: constraint rack:CLUSTER:r9 not met") })
        #expect(refusals.allSatisfy { $0.contains("refused: constraint rack:CLUSTER:r9 not met") })
        // Declined with a filter as long as the wait: each agent's offer is refused once, not re-offered in a loop.
        #expect(refusals.count == 2)
        let last = try #require(result.stderrLines.last)
        #expect(last.hasPrefix("mesos-execute: error: No offer fitting cpus:0.1;mem:32 and rack:LIKE:r[12], rack:CLUSTER:r9 (role *) within 3"))
        #expect(last.contains("agent1.local: constraint rack:CLUSTER:r9 not met"))
        #expect(last.contains("agent2.local: constraint rack:CLUSTER:r9 not met"))
    }

    @Test("local: without -v an impossible constraint is one error line naming the refusals")
    func localImpossibleConstraintQuiet() async throws {
        let result = try await ToolProcess.run(
            Self.twoRacks + ["--constraint", "hostname:IS:elsewhere", "--offer-timeout", "2s", "--command", "true"])
        #expect(result.status == 1)
        #expect(result.stderrLines.count == 1)
        #expect(result.stderr.contains("refused: agent1.local: constraint hostname:IS:elsewhere not met"))
    }

    @Test("local: --json reports each refused offer as a refused event with its reason")
    func localRefusedEventsInJSON() async throws {
        let result = try await ToolProcess.run(
            Self.twoRacks + ["--constraint", "rack:IS:r3", "--offer-timeout", "2s", "--json", "--command", "true"])
        #expect(result.status == 1)
        let objects = result.stdout.split(separator: "\n").compactMap { line in
            try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        }
        let refused = objects.filter { $0["event"] as? String == "refused" }
        #expect(Set(refused.compactMap { $0["hostname"] as? String }) == ["agent1.local", "agent2.local"])
        #expect(refused.allSatisfy { $0["reason"] as? String == "constraint rack:IS:r3 not met" })
        #expect(objects.last?["event"] as? String == "error")
    }

    @Test("local: --ports 2 gives the command PORT0, PORT1, PORTS and PORT from the agent's range")
    func localPorts() async throws {
        let result = try await ToolProcess.run([
            "--local-agent-resources", "cpus:1;mem:256;ports:[31005-31009]", "--ports", "2",
            "--command", #"echo "ports $PORT0 $PORT1 $PORTS $PORT""#,
        ])
        #expect(result.status == 0)
        let line = try #require(result.stdout.split(separator: "\n").first { $0.hasPrefix("ports ") })
        let words = line.split(separator: " ").map(String.init)
        try #require(words.count == 5)
        let first = try #require(UInt64(words[1]))
        let second = try #require(UInt64(words[2]))
        #expect((31005...31009).contains(first))
        #expect((31005...31009).contains(second))
        #expect(first != second)
        #expect(words[3] == "\(first),\(second)")
        #expect(words[4] == words[1])
        #expect(result.stdout.contains("with ports \(first),\(second): echo"))
    }

    @Test("local: a port variable set with --env is left as the user set it")
    func localPortVariableFromEnvWins() async throws {
        let result = try await ToolProcess.run([
            "--local-agent-resources", "cpus:1;mem:256;ports:[31007-31007]", "--ports", "1", "--env", "PORT=8080",
            "--command", #"echo "port $PORT $PORT0""#,
        ])
        #expect(result.status == 0)
        #expect(result.stdout.split(separator: "\n").contains("port 8080 31007"))
    }

    @Test("local: --ports more than the agent has times out naming the shortfall")
    func localTooManyPorts() async throws {
        let result = try await ToolProcess.run([
            "--local-agent-resources", "cpus:1;mem:256;ports:[31005-31006]", "--ports", "3", "--offer-timeout", "2s",
            "--command", "true",
        ])
        #expect(result.status == 1)
        #expect(result.stderrLines.count == 1)
        #expect(result.stderr.contains("No offer fitting cpus:0.1;mem:32 and 3 ports (role *)"))
        #expect(result.stderr.contains("ports short by 1 (wanted 3, free 2)"))
    }

    /// One agent with half a cpu unreserved and one reserved to role batch.
    static let batchAgent = ["--local-agent-resources", "cpus:0.5;cpus(batch):1;mem:256"]

    @Test("local: --role batch carves cpus:1.2 across the unreserved and the batch-reserved cpus, with allocation_info, and finishes")
    func localRoleCarvesAcrossReservations() async throws {
        let result = try await ToolProcess.run(
            Self.batchAgent + ["--role", "batch", "--resources", "cpus:1.2;mem:64", "--json", "--command", "echo carved"])
        #expect(result.status == 0)
        let objects = result.stdout.split(separator: "\n").compactMap { line in
            try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        }
        let launched = try #require(objects.first { $0["event"] as? String == "launched" })
        let resources = try #require(launched["resources"] as? String)
        #expect(resources.split(separator: ";").contains("cpus:0.5"))
        #expect(resources.split(separator: ";").contains("cpus(batch):0.7"))
        #expect(objects.last?["state"] as? String == "TASK_FINISHED")
    }

    @Test("local: without --role the same task waits in vain: role * is offered only the unreserved half cpu")
    func localWithoutRoleTheReservationIsNotOffered() async throws {
        let result = try await ToolProcess.run(
            Self.batchAgent + ["--resources", "cpus:1.2;mem:64", "--offer-timeout", "2s", "--command", "true"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("cpus short by 0.7 (wanted 1.2, usable 0.5)"))
    }

    @Test("toolkit flags: bad input is one line naming the option, exit 64", arguments: [
        (["--constraint", "rack:SOMETIMES:r1"], "--constraint 'rack:SOMETIMES:r1': "),
        (["--constraint", "rack:UNIQUE", "--constraint", ":UNIQUE"], "--constraint ':UNIQUE' (occurrence 2): "),
        (["--constraint", "hostname:LIKE:agent[", "--constraint", "rack:UNIQUE"], "--constraint 'hostname:LIKE:agent[' (occurrence 1): "),
        (["--constraint", "rack"], "--constraint 'rack': "),
        (["--resources", "cpus(batch):1;mem:32"], "--resources: malformed resources 'cpus(batch):1;mem:32': at offset 4"),
        (["--resources", "cpus:1;mem:x"], "--resources: malformed resources 'cpus:1;mem:x': at offset 11"),
        (["--resources", "cpus:0"], "--resources 'cpus:0': invalid demand"),
        (["--ports", "5000"], "--ports must be between 0 and 1000, not 5000"),
    ])
    func toolkitFlagErrors(arguments: [String], message: String) async throws {
        let result = try await ToolProcess.run(arguments + ["--command", "true"])
        #expect(result.status == 64)
        #expect(result.stderrLines.count == 1)
        #expect(result.stderr.hasPrefix("mesos-execute: error: \(message)"))
        #expect(result.stdout.isEmpty)
    }

    @Test("--executor and --message: misuse is one line on standard error, exit 64", arguments: [
        (["--executor", "/bin/true"], "--executor needs a real master (--master)"),
        (["--executor", "/bin/true", "--master", "http://127.0.0.1:1", "--command", "true"],
         "--executor runs the task under that executor: give no --command, argv or --docker-image with it"),
        (["--executor", "/bin/true", "--master", "http://127.0.0.1:1", "--executor-resources", "cpus:x"],
         "--executor-resources: malformed resources 'cpus:x'"),
        (["--command", "true", "--message", ""], "--message is empty"),
    ])
    func executorFlagErrors(arguments: [String], message: String) async throws {
        let result = try await ToolProcess.run(arguments)
        #expect(result.status == 64)
        #expect(result.stderrLines.count == 1)
        #expect(result.stderr.hasPrefix("mesos-execute: error: \(message)"), "\(result.stderr)")
        #expect(result.stdout.isEmpty)
    }

    @Test("bad input: one line on standard error, exit 64, never a stack trace", arguments: [
        ["--resources", "cpus:abc", "--command", "true"],
        ["--bogus-option"],
        [],
        ["--content-type", "xml", "--command", "true"],
        ["--kill-after", "soon", "--command", "true"],
        ["--master", "zk://", "--command", "true"],
        ["--env", "NOEQUALS", "--command", "true"],
    ])
    func badInput(arguments: [String]) async throws {
        let result = try await ToolProcess.run(arguments)
        #expect(result.status == 64)
        #expect(result.stderrLines.count == 1)
        #expect(result.stderr.hasPrefix("mesos-execute: error: "))
        #expect(result.stdout.isEmpty)
    }

    @Test("an unreachable --master ends with one clear line and a non-zero exit within a bounded time")
    func unreachableMaster() async throws {
        let result = try await ToolProcess.run(["--master", "http://127.0.0.1:1", "--command", "echo hi"], timeout: .seconds(60))
        #expect(result.status == 1)
        #expect(result.stderrLines.count == 1)
        #expect(result.stderr.hasPrefix("mesos-execute: error: Cannot subscribe to the master at http://127.0.0.1:1"))
        #expect(result.elapsed < .seconds(30))
    }

    // MARK: Real master

    @Test("real master: echo hi exits 0 with TASK_FINISHED", .enabled(if: RealMaster.shouldRun, "needs MESOS_MASTER_URL"),
          arguments: [["--content-type", "protobuf", "--transport", "curl"], ["--content-type", "json", "--transport", "urlsession"]])
    func realEchoFinishes(options: [String]) async throws {
        let url = try RealMaster.baseURL()
        let result = try await ToolProcess.run(["--master", url] + options + ["--command", "echo hi"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("TASK_FINISHED: Command exited with status 0"))
        #expect(result.stdout.contains("Mesos 1.11"))
    }

    @Test("real master: exit 3 exits 3 with TASK_FAILED", .enabled(if: RealMaster.shouldRun, "needs MESOS_MASTER_URL"))
    func realExitThreeFails() async throws {
        let url = try RealMaster.baseURL()
        let result = try await ToolProcess.run(["--master", url, "--command", "exit 3"])
        #expect(result.status == 3)
        #expect(result.stdout.contains("TASK_FAILED: Command exited with status 3"))
    }

    @Test("real master: sleep 60 with --kill-after 1s ends TASK_KILLED", .enabled(if: RealMaster.shouldRun, "needs MESOS_MASTER_URL"))
    func realKillAfter() async throws {
        let url = try RealMaster.baseURL()
        let result = try await ToolProcess.run(["--master", url, "--json", "--kill-after", "1s", "--command", "sleep 60"])
        #expect(result.status == 1)
        let last = try #require(result.stdout.split(separator: "\n").last)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any])
        #expect(object["event"] as? String == "result")
        #expect(object["state"] as? String == "TASK_KILLED")
        #expect(result.elapsed < .seconds(30))
    }

    @Test("real master with reserved resources: --role batch --resources cpus:1.5;mem:128 --ports 2 is carved across the reservation and finishes",
          .enabled(if: TestServers.shouldRunAgainstToolkitMaster, "needs MESOS_TOOLKIT_MASTER_URL"), .toolkitAgent)
    func realRoleAndPorts() async throws {
        let url = try TestServers.toolkitMasterURL()
        let result = try await ToolProcess.run([
            "--master", url, "--role", "batch", "--resources", "cpus:1.5;mem:128", "--ports", "2", "--json",
            // The task's output stays in the agent's sandbox: the command checks its own environment instead.
            "--command", #"[ "$PORTS" = "$PORT0,$PORT1" ] && [ "$PORT" = "$PORT0" ] && [ "$PORT0" -ge 31000 ] && [ "$PORT1" -le 31010 ]"#,
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let objects = result.stdout.split(separator: "\n").compactMap { line in
            try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        }
        let launched = try #require(objects.first { $0["event"] as? String == "launched" })
        let resources = try #require(launched["resources"] as? String)
        #expect(resources.contains("cpus(batch):"), "more cpus than either part alone: \(resources)")
        let ports = try #require(launched["ports"] as? String).split(separator: ",").compactMap { UInt64($0) }
        #expect(ports.count == 2)
        #expect(ports.allSatisfy { (31000...31010).contains($0) })
        #expect(objects.last?["state"] as? String == "TASK_FINISHED")
    }

    @Test("real master: Ctrl-C kills the task and tears the framework down", .enabled(if: RealMaster.shouldRun, "needs MESOS_MASTER_URL"))
    func realInterrupt() async throws {
        let url = try RealMaster.baseURL()
        let tool = try ToolProcess(["--master", url, "--json", "--command", "sleep 60"])
        #expect(await tool.waitForOutput(containing: "TASK_RUNNING", timeout: .seconds(30)))
        tool.interrupt()
        let result = await tool.finish(timeout: .seconds(30))
        #expect(result.status == 130)
        let objects = result.stdout.split(separator: "\n").compactMap { line in
            try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        }
        #expect(objects.last?["state"] as? String == "TASK_KILLED")
        let frameworkID = try #require(objects.first { $0["event"] as? String == "subscribed" }?["framework_id"] as? String)
        let state = try await MasterState.fetch()
        #expect(!state.activeFrameworkIDs.contains(frameworkID))
        #expect(state.completedFrameworkIDs.contains(frameworkID))
    }
}

/// Fails loudly when the tool is missing, instead of letting the suite above be skipped unnoticed.
@Test("mesos-execute is built next to the test bundle (or named by MESOS_EXECUTE_BINARY)")
func mesosExecuteIsBuilt() {
    #expect(ToolProcess.binary != nil, "build it with `swift build --product mesos-execute` (swift test builds it too)")
}

/// One run of the built `mesos-execute`, its output collected as it arrives.
final class ToolProcess: Sendable {
    struct Result: Sendable {
        var status: Int32
        var stdout: String
        var stderr: String
        var elapsed: Duration

        var stderrLines: [Substring] { self.stderr.split(separator: "\n") }
    }

    /// The tool next to the test bundle (both live in the build's bin directory), or `$MESOS_EXECUTE_BINARY`.
    static let binary: URL? = ToolProcess.locate("mesos-execute", override: "MESOS_EXECUTE_BINARY")

    /// The batch example next to the test bundle, or `$BATCH_FRAMEWORK_BINARY`.
    static let batchBinary: URL? = ToolProcess.locate("batch-framework", override: "BATCH_FRAMEWORK_BINARY")

    /// The benchmark tool next to the test bundle, or `$MESOS_BENCH_BINARY`.
    static let benchBinary: URL? = ToolProcess.locate("mesos-bench", override: "MESOS_BENCH_BINARY")

    /// The service example next to the test bundle, or `$SERVICE_FRAMEWORK_BINARY`.
    static let serviceBinary: URL? = ToolProcess.locate("service-framework", override: "SERVICE_FRAMEWORK_BINARY")

    /// A built executable of this package: the path in the `override` environment variable, or the one named
    /// `name` in the build's bin directory (where the test bundle lives).
    static func locate(_ name: String, override: String) -> URL? {
        let environment = ProcessInfo.processInfo.environment
        var candidates: [URL] = []
        if let path = environment[override] { candidates.append(URL(fileURLWithPath: path)) }
        if let executable = Bundle.main.executableURL {
            candidates.append(executable.deletingLastPathComponent().appendingPathComponent(name))
        }
        for bundle in Bundle.allBundles where bundle.bundleURL.pathExtension == "xctest" {
            candidates.append(bundle.bundleURL.deletingLastPathComponent().appendingPathComponent(name))
        }
        if let first = CommandLine.arguments.first {
            candidates.append(URL(fileURLWithPath: first).deletingLastPathComponent().appendingPathComponent(name))
        }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }

    private struct Output: Sendable {
        var stdout: [UInt8] = []
        var stderr: [UInt8] = []
    }

    /// Holds the output for the pipes' reading handlers.
    private final class OutputBox: Sendable {
        let output = Mutex(Output())
    }

    private let process: Process
    private let box = OutputBox()
    private let stdoutPipe = Pipe()
    private let stderrPipe = Pipe()
    private let started = ContinuousClock.now

    init(_ arguments: [String], binary: URL? = ToolProcess.binary) throws {
        guard let binary else {
            throw MesosError(code: .invalidConfiguration, message: "the tool is not built (swift build --build-tests builds it)")
        }
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = self.stdoutPipe
        process.standardError = self.stderrPipe
        self.process = process
        let box = self.box
        self.stdoutPipe.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            box.output.withLock { $0.stdout.append(contentsOf: data) }
        }
        self.stderrPipe.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            box.output.withLock { $0.stderr.append(contentsOf: data) }
        }
        try process.run()
    }

    /// Runs the tool to its end; kills it if it takes longer than `timeout`.
    static func run(_ arguments: [String], binary: URL? = ToolProcess.binary, timeout: Duration = .seconds(60)) async throws -> Result {
        let tool = try ToolProcess(arguments, binary: binary)
        return await tool.finish(timeout: timeout)
    }

    var stdout: String {
        self.box.output.withLock { String(decoding: $0.stdout, as: UTF8.self) }
    }

    /// Sends SIGINT, as Ctrl-C in a terminal does.
    func interrupt() {
        self.process.interrupt()
    }

    /// Sends `signal` (e.g. SIGTERM, SIGKILL) to the process.
    func send(signal number: Int32) {
        kill(self.process.processIdentifier, number)
    }

    /// Waits until standard output contains `text`.
    func waitForOutput(containing text: String, timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if self.stdout.contains(text) { return true }
            if !self.process.isRunning { return self.stdout.contains(text) }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return false
    }

    /// Waits for the process to exit (killing it after `timeout`) and collects the rest of its output.
    func finish(timeout: Duration) async -> Result {
        let deadline = ContinuousClock.now + timeout
        while self.process.isRunning, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
        if self.process.isRunning {
            Issue.record("\(self.process.executableURL?.lastPathComponent ?? "the tool") did not exit within \(timeout); killing it")
            self.process.terminate()
            while self.process.isRunning { try? await Task.sleep(for: .milliseconds(50)) }
        }
        let elapsed = ContinuousClock.now - self.started
        for pipe in [self.stdoutPipe, self.stderrPipe] {
            pipe.fileHandleForReading.readabilityHandler = nil
        }
        let restOut = (try? self.stdoutPipe.fileHandleForReading.readToEnd()) ?? nil
        let restErr = (try? self.stderrPipe.fileHandleForReading.readToEnd()) ?? nil
        return self.box.output.withLock { output in
            output.stdout.append(contentsOf: restOut ?? Data())
            output.stderr.append(contentsOf: restErr ?? Data())
            return Result(
                status: self.process.terminationStatus,
                stdout: String(decoding: output.stdout, as: UTF8.self),
                stderr: String(decoding: output.stderr, as: UTF8.self),
                elapsed: elapsed
            )
        }
    }
}
