import Foundation
import MesosCore
import MesosLocalCluster
import MesosScheduler
import Testing

/// Tasks really run: states, exit statuses, output, kills, teardown, shutdown.
@Suite("Local cluster: tasks", .timeLimit(.minutes(2)))
struct LocalClusterTaskTests {
    @Test("echo finishes: STARTING, RUNNING, FINISHED with uuids and 'Command exited with status 0'; stdout captured",
          arguments: [MesosContentType.json, .protobuf])
    func echoFinishes(contentType: MesosContentType) async throws {
        let output = OutputCollector()
        let cluster = LocalCluster(configuration: try Harness.configuration(output: output.sink))
        let scheduler = Harness.scheduler(cluster, "echo", contentType: contentType)
        let statuses = try await scheduler.withWatchedSubscription { events in
            var reader = EventReader(events)
            let offer = try #require(try await reader.offers().first)
            try await scheduler.accept(offer, operations: [.launch([Harness.task("echo-1", command: "echo hi; echo oops >&2", offer: offer)])])
            let statuses = try await reader.updatesUntilTerminal(for: "echo-1")
            try await scheduler.teardown()
            return statuses
        }
        #expect(statuses.map(\.state) == [.taskStarting, .taskRunning, .taskFinished])
        #expect(statuses.allSatisfy { $0.needsAcknowledgement && $0.source == .executor })
        #expect(statuses.last?.message == "Command exited with status 0")
        #expect(statuses.allSatisfy { $0.agentID == cluster.agentIDs[0] })
        #expect(output.text(of: "echo-1", .stdout) == "hi\n")
        #expect(output.text(of: "echo-1", .stderr) == "oops\n")
        let task = try #require(cluster.snapshot().task(TaskID("echo-1")))
        #expect(String(decoding: task.stdout, as: UTF8.self) == "hi\n")
        let sandboxOutput = try String(contentsOfFile: task.sandbox + "/stdout", encoding: .utf8)
        #expect(sandboxOutput == "hi\n")
        await cluster.shutdown()
        #expect(!FileManager.default.fileExists(atPath: cluster.workDirectory))
    }

    @Test("exit 3 fails with TASK_FAILED 'Command exited with status 3'")
    func exitThreeFails() async throws {
        let cluster = LocalCluster(configuration: try Harness.configuration())
        let scheduler = Harness.scheduler(cluster, "exit3")
        let statuses = try await scheduler.withWatchedSubscription { events in
            var reader = EventReader(events)
            let offer = try #require(try await reader.offers().first)
            try await scheduler.accept(offer, operations: [.launch([Harness.task("fail-1", command: "exit 3", offer: offer)])])
            return try await reader.updatesUntilTerminal(for: "fail-1")
        }
        #expect(statuses.map(\.state) == [.taskStarting, .taskRunning, .taskFailed])
        #expect(statuses.last?.message == "Command exited with status 3")
        await cluster.shutdown()
    }

    @Test("a missing executable fails the task with a clear message")
    func missingExecutableFails() async throws {
        let cluster = LocalCluster(configuration: try Harness.configuration())
        let scheduler = Harness.scheduler(cluster, "missing")
        let status = try await scheduler.withWatchedSubscription { events in
            var reader = EventReader(events)
            let offer = try #require(try await reader.offers().first)
            var task = Harness.task("missing-1", command: "/no/such/program", offer: offer)
            task.command.shell = false
            try await scheduler.accept(offer, operations: [.launch([task])])
            return try await reader.updatesUntilTerminal(for: "missing-1").last
        }
        #expect(status?.state == .taskFailed)
        #expect(status?.message.contains("/no/such/program") == true)
        await cluster.shutdown()
    }

    @Test("sleep 60 + KILL ends TASK_KILLED by SIGTERM within the grace period, and the process is gone")
    func killSleep() async throws {
        let cluster = LocalCluster(configuration: try Harness.configuration())
        let scheduler = Harness.scheduler(cluster, "kill")
        let (statuses, pid) = try await scheduler.withWatchedSubscription { events in
            var reader = EventReader(events)
            let offer = try #require(try await reader.offers().first)
            try await scheduler.accept(offer, operations: [.launch([Harness.task("sleep-1", command: "sleep 60", offer: offer)])])
            var statuses = [try await reader.update(for: "sleep-1"), try await reader.update(for: "sleep-1")]
            let pid = Int32(statuses[1].containerStatus.executorPid)
            #expect(statuses[1].state == .taskRunning)
            #expect(Harness.processExists(pid))
            try await scheduler.kill(TaskID("sleep-1"))
            statuses += try await reader.updatesUntilTerminal(for: "sleep-1")
            return (statuses, pid)
        }
        #expect(statuses.last?.state == .taskKilled)
        #expect(statuses.last?.message == "Command terminated with signal Terminated")
        // Killed by SIGTERM (the message above), not by the grace period's SIGKILL and not left to finish its 60 s
        // (that would be TASK_FINISHED): no wall-clock bound needed.
        #expect(!Harness.processExists(pid))
        #expect(!Harness.processExists(-pid))
        await cluster.shutdown()
    }

    @Test("a task that ignores SIGTERM is killed with SIGKILL after the KILL's grace period; TASK_KILLING first")
    func killEscalates() async throws {
        var configuration = try Harness.configuration()
        // Were the KILL's 300 ms ignored, SIGKILL would come only after this, beyond the suite's 2-minute limit,
        // which then fails the test: no upper bound on the elapsed time is needed.
        configuration.defaultKillGracePeriod = .seconds(600)
        let cluster = LocalCluster(configuration: configuration)
        var info = Harness.frameworkInfo("escalate")
        var killing = FrameworkInfo.Capability()
        killing.type = .taskKillingState
        info.capabilities.append(killing)
        let scheduler = Harness.scheduler(cluster, "escalate", info: info)
        let (statuses, elapsed) = try await scheduler.withWatchedSubscription { events in
            var reader = EventReader(events)
            let offer = try #require(try await reader.offers().first)
            let command = "trap '' TERM; echo ready; sleep 60"
            try await scheduler.accept(offer, operations: [.launch([Harness.task("stubborn", command: command, offer: offer)])])
            _ = try await reader.next {
                if case .update(let status) = $0 { return status.state == .taskRunning }
                return false
            }
            // Let the shell install its trap before the signal comes.
            #expect(await Harness.eventually { cluster.snapshot().task(TaskID("stubborn"))?.stdout.isEmpty == false })
            var policy = KillPolicy()
            policy.gracePeriod.nanoseconds = 300_000_000
            let start = ContinuousClock.now
            try await scheduler.kill(TaskID("stubborn"), killPolicy: policy)
            let statuses = try await reader.updatesUntilTerminal(for: "stubborn")
            return (statuses, ContinuousClock.now - start)
        }
        let afterKill: [TaskState] = statuses.map(\.state).filter { $0 != .taskStarting && $0 != .taskRunning }
        #expect(afterKill == [.taskKilling, .taskKilled])
        #expect(statuses.last?.message == "Command terminated with signal Killed")
        #expect(elapsed >= .milliseconds(250))
        await cluster.shutdown()
    }

    @Test("shell=false runs argv directly; CommandInfo.environment and MESOS_* variables reach the task")
    func argvAndEnvironment() async throws {
        let output = OutputCollector()
        let cluster = LocalCluster(configuration: try Harness.configuration(output: output.sink))
        let scheduler = Harness.scheduler(cluster, "argv")
        try await scheduler.withWatchedSubscription { events in
            var reader = EventReader(events)
            let offer = try #require(try await reader.offers().first)
            var argv = Harness.task("argv-1", command: "/bin/echo", offer: offer)
            argv.command.shell = false
            argv.command.arguments = ["echo", "two words", "$HOME"]
            var env = Harness.task("env-1", command: "echo \"$GREETING $MESOS_TASK_ID\"; pwd", offer: offer)
            var variable = Environment.Variable()
            variable.name = "GREETING"
            variable.value = "hello"
            env.command.environment.variables = [variable]
            try await scheduler.accept(offer, operations: [.launch([argv, env])])
            #expect(try await reader.updatesUntilTerminal(for: "argv-1").last?.state == .taskFinished)
            #expect(try await reader.updatesUntilTerminal(for: "env-1").last?.state == .taskFinished)
            try await scheduler.teardown()
        }
        #expect(output.text(of: "argv-1", .stdout) == "two words $HOME\n")
        let sandbox = try #require(cluster.snapshot().task(TaskID("env-1"))?.sandbox)
        let resolved = URL(fileURLWithPath: sandbox).resolvingSymlinksInPath().path
        #expect(output.text(of: "env-1", .stdout) == "hello env-1\n\(resolved)\n")
        await cluster.shutdown()
    }

    @Test("TEARDOWN kills the framework's running tasks and closes its stream")
    func teardownKillsRunningTasks() async throws {
        let cluster = LocalCluster(configuration: try Harness.configuration())
        let scheduler = Harness.scheduler(cluster, "teardown")
        let (frameworkID, pids) = try await scheduler.withWatchedSubscription { events in
            var reader = EventReader(events)
            let offer = try #require(try await reader.offers().first)
            try await scheduler.accept(offer, operations: [.launch([
                Harness.task("long-1", command: "sleep 60", offer: offer),
                Harness.task("long-2", command: "sleep 60", offer: offer),
            ])])
            var pids: [Int32] = []
            for id in ["long-1", "long-2"] {
                let running = try await reader.next {
                    if case .update(let status) = $0 { return status.taskID.value == id && status.state == .taskRunning }
                    return false
                }
                if case .update(let status) = running { pids.append(Int32(status.containerStatus.executorPid)) }
            }
            let frameworkID = try #require(scheduler.status.frameworkID)
            try await scheduler.teardown()
            return (frameworkID, pids)
        }
        #expect(pids.count == 2)
        #expect(await Harness.eventually { pids.allSatisfy { !Harness.processExists($0) } })
        let framework = try #require(cluster.snapshot().framework(frameworkID))
        #expect(framework.isRemoved)
        #expect(!framework.isConnected)
        #expect(await Harness.eventually {
            let snapshot = cluster.snapshot().framework(frameworkID)
            return snapshot?.tasks.isEmpty == true && snapshot?.completedTasks.allSatisfy { $0.state == .taskKilled } == true
        })
        await cluster.shutdown()
    }

    @Test("shutdown kills running tasks and refuses further requests")
    func shutdownKillsTasks() async throws {
        let cluster = LocalCluster(configuration: try Harness.configuration())
        let scheduler = Harness.scheduler(cluster, "shutdown", info: Harness.frameworkInfo("shutdown", failoverTimeout: 3600))
        let pid = try await scheduler.withWatchedSubscription { events in
            var reader = EventReader(events)
            let offer = try #require(try await reader.offers().first)
            try await scheduler.accept(offer, operations: [.launch([Harness.task("bg", command: "sleep 60 & sleep 60", offer: offer)])])
            let running = try await reader.next {
                if case .update(let status) = $0 { return status.state == .taskRunning }
                return false
            }
            guard case .update(let status) = running else { return Int32(0) }
            return Int32(status.containerStatus.executorPid)
        }
        // The framework survives the disconnect (failover timeout), so its task still runs.
        #expect(Harness.processExists(pid))
        await cluster.shutdown(gracePeriod: .milliseconds(500))
        #expect(!Harness.processExists(pid))
        #expect(!Harness.processExists(-pid))
        await #expect(throws: MesosError.self) {
            _ = try await cluster.transport.send(MesosHTTPRequest(url: cluster.masterLocation.schedulerURL))
        }
    }
}
