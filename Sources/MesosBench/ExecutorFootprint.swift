import ArgumentParser
import Foundation
import MesosCore
import MesosTestKit

/// `mesos-bench executor-footprint`: the command executor's peak RSS and exec → SUBSCRIBE time, side by side with
/// a reference executor (by default the Python stand-in that `../shared/realmesos` installs).
///
/// Each run starts a ``FakeAgent`` on 127.0.0.1, execs the executor with the environment an agent gives, times
/// exec → SUBSCRIBE received, sends LAUNCH of a command task, and while the task runs samples the executor
/// process's own `/proc/PID/status` (its task is another process and is not counted). The bench plays the
/// framework: it acknowledges each update a little after the agent received it, as the round trip through a real
/// master and scheduler would, then checks that the executor exits by itself.
struct ExecutorFootprint: BenchMode {
    static let configuration = CommandConfiguration(
        commandName: "executor-footprint",
        abstract: "Peak RSS and exec-to-SUBSCRIBE time of an executor, side by side with a reference executor."
    )

    @Option(help: "The executor to measure (default: mesos-command-executor beside this program).")
    var executor: String?

    @Option(
        help: "The reference executor (default: $REALMESOS_HOME/libexec/mesos-executor, REALMESOS_HOME defaulting to /tmp/realmesos-home)."
    )
    var reference: String?

    @Option(help: "Runs per executor, alternating; the figures are the medians.")
    var runs = 3

    @Option(help: "The task's shell command; the executor is sampled while it runs.")
    var command = "sleep 2"

    @Option(help: "Milliseconds between an update reaching the agent and its ACKNOWLEDGED (the framework's round trip).")
    var ackDelayMs = 20

    @Flag(help: "For each executor's last run, list the mappings holding the most resident memory.")
    var showMappings = false

    func runBenchmark() async throws {
        guard self.runs >= 1 else { throw ValidationError("--runs must be at least 1") }
        guard self.ackDelayMs >= 0 else { throw ValidationError("--ack-delay-ms must not be negative") }
        let swiftPath = self.executor ?? Self.besideThisProgram("mesos-command-executor")
        let home = ProcessInfo.processInfo.environment["REALMESOS_HOME"] ?? "/tmp/realmesos-home"
        let referencePath = self.reference ?? "\(home)/libexec/mesos-executor"
        for path in [swiftPath, referencePath] where !FileManager.default.isExecutableFile(atPath: path) {
            throw ValidationError("\(path) is not an executable file")
        }
        say("mesos-bench executor-footprint: \(self.runs) run(s) each, task `\(self.command)`, fake agent on 127.0.0.1")
        say("  executor:  \(swiftPath)")
        say("  reference: \(referencePath)")

        var swiftRuns: [FootprintRun] = []
        var referenceRuns: [FootprintRun] = []
        for index in 1...self.runs {
            for (name, path) in [("executor", swiftPath), ("reference", referencePath)] {
                let run = try await self.measure(path)
                say("  run \(index) \(name): \(run.summary)")
                if name == "executor" { swiftRuns.append(run) } else { referenceRuns.append(run) }
            }
        }
        if self.showMappings {
            for (name, runs) in [("executor", swiftRuns), ("reference", referenceRuns)] {
                say("  largest mappings of the \(name) (last run, while its task ran):")
                for mapping in runs.last?.mappings ?? [] {
                    say("    \(fmt(Double(mapping.kilobytes) / 1024)) MB  \(mapping.name)")
                }
            }
        }

        let swift = FootprintSummary(swiftRuns)
        let reference = FootprintSummary(referenceRuns)
        let ratio = swift.peakMB / reference.peakMB
        func row(_ label: String, _ left: Double, _ right: Double, _ unit: String) {
            let padded = label.padding(toLength: 30, withPad: " ", startingAt: 0)
            say("  \(padded) \(fmt(left).leftPadded(9)) \(fmt(right).leftPadded(11))  \(unit)")
        }
        say("  \("(medians)".padding(toLength: 30, withPad: " ", startingAt: 0)) \("executor".leftPadded(9)) \("reference".leftPadded(11))")
        row("peak RSS (VmHWM)", swift.peakMB, reference.peakMB, "MB")
        row("RSS while the task runs", swift.rssMB, reference.rssMB, "MB")
        row("  anonymous (RssAnon)", swift.anonymousMB, reference.anonymousMB, "MB")
        row("  file-backed (RssFile)", swift.fileMB, reference.fileMB, "MB")
        row("exec -> SUBSCRIBE received", swift.subscribeMs, reference.subscribeMs, "ms")
        target("peak RSS", ratio <= 0.5, "executor/reference = \(fmt(ratio, 2)) (goal <= 0.50)")
        target("exec -> SUBSCRIBE", swift.subscribeMs < 50, "\(fmt(swift.subscribeMs)) ms (goal < 50 ms)")
        let failures = (swiftRuns + referenceRuns).filter { !$0.problems.isEmpty }
        say(
            "swift_rss_mb=\(fmt(swift.peakMB, 2)) reference_rss_mb=\(fmt(reference.peakMB, 2)) ratio=\(fmt(ratio, 3)) "
                + "swift_subscribe_ms=\(fmt(swift.subscribeMs, 2)) reference_subscribe_ms=\(fmt(reference.subscribeMs, 2)) "
                + "runs=\(self.runs) failed_runs=\(failures.count)")
        if !failures.isEmpty {
            throw ExitCode(1)
        }
    }

    /// One run of one executor against a fresh fake agent.
    private func measure(_ path: String) async throws -> FootprintRun {
        var agentConfiguration = FakeAgent.Configuration()
        agentConfiguration.checkpoint = false
        agentConfiguration.acknowledgesAutomatically = false
        let agent = FakeAgent(configuration: agentConfiguration)
        let server = try await FakeAgentServer.start(agent: agent)
        let sandbox = FileManager.default.temporaryDirectory
            .appendingPathComponent("mesos-bench-executor-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: sandbox, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: sandbox) }

        // The environment an agent gives an executor: its own, minus other agents' variables, plus the executor's.
        var environment = ProcessInfo.processInfo.environment.filter {
            !$0.key.hasPrefix("MESOS_") && !$0.key.hasPrefix("LIBPROCESS_")
        }
        environment.merge(agent.executorEnvironment(endpoint: server.agentEndpoint, checkpoint: false)) { $1 }
        environment["MESOS_SANDBOX"] = sandbox.path
        environment["MESOS_DIRECTORY"] = sandbox.path
        environment["MESOS_SLAVE_ID"] = agentConfiguration.agentID
        environment["MESOS_SLAVE_PID"] = "slave(1)@\(server.agentEndpoint)"
        environment["MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD"] = "5secs"

        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.environment = environment
        process.currentDirectoryURL = sandbox
        let stdoutPath = sandbox.appendingPathComponent("executor.stdout").path
        let stderrPath = sandbox.appendingPathComponent("executor.stderr").path
        _ = FileManager.default.createFile(atPath: stdoutPath, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        let outputs = [FileHandle(forWritingAtPath: stdoutPath), FileHandle(forWritingAtPath: stderrPath)]
        defer { for output in outputs { try? output?.close() } }
        process.standardOutput = outputs[0]
        process.standardError = outputs[1]
        process.standardInput = FileHandle.nullDevice

        var run = FootprintRun()
        let start = ContinuousClock.now
        try process.run()
        let pid = process.processIdentifier
        defer {
            if process.isRunning { kill(pid, SIGKILL) }
        }

        // exec -> SUBSCRIBE received (polled every 0.2 ms: the figure is at most that late).
        let limit = ContinuousClock.now + .seconds(30)
        while await agent.subscriptionCount == 0 {
            guard process.isRunning, ContinuousClock.now < limit else {
                run.problems.append("no SUBSCRIBE (\(Self.tail(stderrPath)))")
                try? await server.shutdown()
                return run
            }
            try await Task.sleep(for: .microseconds(200))
        }
        run.subscribeMs = Self.milliseconds(ContinuousClock.now - start)

        var task = TaskInfo()
        task.name = "footprint-task"
        task.taskID.value = "footprint-task"
        task.agentID.value = agentConfiguration.agentID
        task.command.value = self.command
        await agent.launch(task)

        // Acknowledge each update after the framework's round trip; sample the executor while the task runs.
        var acknowledged = 0
        var terminal = false
        var sampledMappings = false
        while !terminal, ContinuousClock.now < limit {
            let (updates, pending) = await (agent.updates, agent.pendingAcknowledgements)
            if !pending.isEmpty {
                try await Task.sleep(for: .milliseconds(self.ackDelayMs))
                for status in pending { await agent.acknowledge(status) }
                acknowledged += pending.count
            }
            run.states = updates.map(\.state)
            terminal = updates.contains { $0.state.isTerminal }
            if run.states.contains(.taskRunning), !terminal, let sample = MemorySample(pid: pid) {
                run.record(sample)
                if self.showMappings, !sampledMappings {
                    run.mappings = Self.largestMappings(pid: pid, count: 8)
                    sampledMappings = true
                }
            }
            try await Task.sleep(for: .milliseconds(terminal ? 0 : 25))
        }
        if run.samples == 0 { run.problems.append("never sampled while the task ran") }
        if !terminal { run.problems.append("no terminal update") }

        // The executor exits by itself once its last update is acknowledged.
        let exitLimit = ContinuousClock.now + .seconds(10)
        while process.isRunning, ContinuousClock.now < exitLimit {
            let pending = await agent.pendingAcknowledgements
            if !pending.isEmpty {
                try await Task.sleep(for: .milliseconds(self.ackDelayMs))
                for status in pending { await agent.acknowledge(status) }
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        if process.isRunning {
            run.problems.append("did not exit within 10 s of its terminal update")
            kill(pid, SIGKILL)
        }
        process.waitUntilExit()
        run.exitStatus = process.terminationStatus
        if run.exitStatus != 0 { run.problems.append("exit status \(run.exitStatus) (\(Self.tail(stderrPath)))") }
        try? await server.shutdown()
        return run
    }

    /// `name` in the directory of this program.
    private static func besideThisProgram(_ name: String) -> String {
        let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: me).deletingLastPathComponent().appendingPathComponent(name).path
    }

    private static func milliseconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) * 1000 + Double(attoseconds) / 1e15
    }

    /// The last line of a file (an executor's standard error), for error messages.
    private static func tail(_ path: String) -> String {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").last.map(String.init) ?? "no output"
    }

    /// The mappings of process `pid` holding the most resident memory, largest first.
    private static func largestMappings(pid: Int32, count: Int) -> [(kilobytes: Int, name: String)] {
        guard let text = ProcessStats.readProcFile("/proc/\(pid)/smaps") else { return [] }
        var totals: [String: Int] = [:]
        var current = "[anonymous]"
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if let first = fields.first, first.contains("-"), first.allSatisfy({ $0.isHexDigit || $0 == "-" }) {
                current = fields.count >= 6 ? String(fields[5...].joined(separator: " ")) : "[anonymous]"
            } else if fields.first == "Rss:", fields.count >= 2, let kilobytes = Int(fields[1]) {
                totals[current, default: 0] += kilobytes
            }
        }
        return totals.map { (kilobytes: $0.value, name: $0.key) }.sorted { $0.kilobytes > $1.kilobytes }
            .prefix(count).map { $0 }
    }
}

/// The memory figures of one process from `/proc/PID/status`, in KiB.
struct MemorySample {
    var peak: Int
    var rss: Int
    var anonymous: Int
    var file: Int

    /// Reads `VmHWM`, `VmRSS`, `RssAnon` and `RssFile` of `pid`; `nil` if the process is gone.
    init?(pid: Int32) {
        guard let text = ProcessStats.readProcFile("/proc/\(pid)/status") else { return nil }
        var fields: [Substring: Int] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(whereSeparator: { $0 == ":" || $0 == " " || $0 == "\t" })
            if parts.count >= 2, let value = Int(parts[1]) { fields[parts[0]] = value }
        }
        guard let peak = fields["VmHWM"], let rss = fields["VmRSS"], let anonymous = fields["RssAnon"],
            let file = fields["RssFile"]
        else { return nil }
        self.peak = peak
        self.rss = rss
        self.anonymous = anonymous
        self.file = file
    }
}

/// What one executor run measured.
struct FootprintRun {
    var subscribeMs = Double.nan
    /// The largest `VmHWM` seen (the peak so far, sampled until the terminal update), KiB.
    var peak = 0
    /// The largest `VmRSS` sampled while the task ran, with its split, KiB.
    var rss = 0
    var anonymous = 0
    var file = 0
    var samples = 0
    var states: [TaskState] = []
    var exitStatus: Int32 = -1
    var problems: [String] = []
    var mappings: [(kilobytes: Int, name: String)] = []

    mutating func record(_ sample: MemorySample) {
        self.samples += 1
        self.peak = max(self.peak, sample.peak)
        if sample.rss > self.rss {
            self.rss = sample.rss
            self.anonymous = sample.anonymous
            self.file = sample.file
        }
    }

    var summary: String {
        let states = self.states.map { "\($0)" }.joined(separator: ",")
        let verdict = self.problems.isEmpty ? "ok" : "FAILED: " + self.problems.joined(separator: "; ")
        return "exec->SUBSCRIBE \(fmt(self.subscribeMs)) ms, peak RSS \(fmt(Double(self.peak) / 1024)) MB "
            + "(RSS \(fmt(Double(self.rss) / 1024)): anon \(fmt(Double(self.anonymous) / 1024)), "
            + "file \(fmt(Double(self.file) / 1024))), \(self.samples) samples, updates [\(states)], "
            + "exit \(self.exitStatus): \(verdict)"
    }
}

/// Medians over an executor's runs.
struct FootprintSummary {
    var peakMB: Double
    var rssMB: Double
    var anonymousMB: Double
    var fileMB: Double
    var subscribeMs: Double

    init(_ runs: [FootprintRun]) {
        func median(_ values: [Double]) -> Double {
            let sorted = values.filter { !$0.isNaN }.sorted()
            guard !sorted.isEmpty else { return .nan }
            let middle = sorted.count / 2
            return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
        }
        let measured = runs.filter { $0.samples > 0 }
        self.peakMB = median(measured.map { Double($0.peak) / 1024 })
        self.rssMB = median(measured.map { Double($0.rss) / 1024 })
        self.anonymousMB = median(measured.map { Double($0.anonymous) / 1024 })
        self.fileMB = median(measured.map { Double($0.file) / 1024 })
        self.subscribeMs = median(runs.map(\.subscribeMs))
    }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String {
        self.count >= width ? self : String(repeating: " ", count: width - self.count) + self
    }
}
