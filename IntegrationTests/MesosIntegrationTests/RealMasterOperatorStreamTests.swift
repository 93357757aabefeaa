import Foundation
import MesosCore
import MesosCurlTransport
import MesosOperator
import MesosScheduler
import MesosTestKit
import Testing

/// The operator event stream and the `ClusterState` mirror against the real Mesos 1.11 master in
/// `$MESOS_OPERATOR_MASTER_URL` (one agent), and `mesos watch` run as a process against it.
extension SharedClusterSuites {
    @Suite("Real master: operator event stream, ClusterState mirror and mesos watch",
           .enabled(if: OperatorMaster.shouldRun, "needs MESOS_OPERATOR_MASTER_URL (scripts/test.sh starts one)"),
           .serialized, .timeLimit(.minutes(3)))
    struct RealMasterOperatorStreamTests {
        // The operator master is shared with RealMasterOperatorTests, whose DRAIN_AGENT test kills the agent's tasks:
        // this suite's task then ends TASK_KILLED and the test fails (the suites must not overlap on one master).

        /// What the mirror showed for one task, event by event.
        struct Observation: Sendable, Equatable {
            var event: String
            var state: TaskState?
        }

        @Test("a task launched by a scheduler goes TASK_ADDED → TASK_UPDATED(TASK_FINISHED) in the mirror and in mesos watch --json")
        func taskLifecycle() async throws {
            let location = try OperatorMaster.location()
            let client = try OperatorMaster.client(.protobuf)
            let name = "it-operator-stream-\(UUID().uuidString.prefix(8))"

            // mesos watch --json, running through the whole test.
            let watchBinary = OperatorTool.binary
            let watch = try watchBinary.map { try ToolProcess(["watch", "--json", "--master", "http://\(location.host):\(location.port)"], binary: $0) }
            if watchBinary == nil {
                Issue.record("mesos is not built next to the tests: build it with `swift build --product mesos`")
            }
            defer { watch?.send(signal: SIGKILL) }

            let (subscribed, subscribedSignal) = AsyncStream.makeStream(of: Int.self)
            // The mirror: the updates of our framework's tasks, until one of them is TASK_FINISHED.
            let mirror = Task { () throws -> (observations: [Observation], taskID: String?, final: ClusterState?) in
                var observations: [Observation] = []
                for try await update in client.clusterState() {
                    switch update.event {
                    case .subscribed:
                        subscribedSignal.yield(update.state.agentCount)
                    case .taskAdded(let task) where update.state.framework(task.frameworkID.value)?.frameworkInfo.name == name:
                        let state = update.state.task(frameworkID: task.frameworkID.value, taskID: task.taskID.value)?.state
                        observations.append(Observation(event: "TASK_ADDED", state: state))
                    case .taskUpdated(let change) where update.state.framework(change.frameworkID.value)?.frameworkInfo.name == name:
                        let taskID = change.status.taskID.value
                        let state = update.state.task(frameworkID: change.frameworkID.value, taskID: taskID)?.state
                        observations.append(Observation(event: "TASK_UPDATED", state: state))
                        // Any terminal state ends the watch (a task killed by a drain must fail the test, not hang it).
                        if state?.isTerminal == true {
                            return (observations, taskID, update.state)
                        }
                    default:
                        continue
                    }
                }
                return (observations, nil, nil)
            }
            defer { mirror.cancel() }
            var signals = subscribed.makeAsyncIterator()
            let agents = await signals.next()
            #expect(agents == 1, "the SUBSCRIBED snapshot has the master's one agent")
            if let watch {
                #expect(await watch.waitForOutput(containing: #""type":"SUBSCRIBED""#, timeout: .seconds(30)), "mesos watch printed no SUBSCRIBED")
            }

            var info = RealMaster.frameworkInfo(name: name)
            info.failoverTimeout = 0
            var configuration = MesosSchedulerConfiguration(
                frameworkInfo: info, master: .fixed(location), transport: MesosCurlTransport(configuration: .init()))
            configuration.contentType = .json
            let scheduler = MesosScheduler(configuration: configuration)
            let (statuses, frameworkID) = try await scheduler.withSubscription { events in
                let statuses = try await RealMasterSchedulerTests.run("true", on: scheduler, events: events)
                let frameworkID = scheduler.status.frameworkID?.value
                try await scheduler.teardown()
                return (statuses, frameworkID)
            }
            let launched = try #require(statuses.last)
            #expect(launched.state == .taskFinished)

            let seen = try await mirror.value
            #expect(seen.taskID == launched.taskID.value)
            #expect(seen.observations.first == Observation(event: "TASK_ADDED", state: .taskStaging))
            #expect(seen.observations.last == Observation(event: "TASK_UPDATED", state: .taskFinished))
            #expect(seen.observations.dropFirst().allSatisfy { $0.event == "TASK_UPDATED" })
            let final = try #require(seen.final)
            let framework = try #require(frameworkID)
            let task = try #require(final.task(frameworkID: framework, taskID: launched.taskID.value))
            #expect(task.agentID == launched.agentID)
            #expect(task.state == .taskFinished)
            #expect(final.tasks(state: .taskFinished, agentID: launched.agentID.value).contains { $0.taskID == launched.taskID })
            #expect(final.usage(ofAgent: launched.agentID.value) != nil)

            // mesos watch saw the same task: parse its JSON lines.
            guard let watch else { return }
            let taskID = launched.taskID.value
            var lines: [[String: Any]] = []
            let deadline = ContinuousClock.now + .seconds(30)
            while ContinuousClock.now < deadline {
                lines = watch.stdout.split(separator: "\n").compactMap {
                    (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any]
                }
                if lines.contains(where: { Self.updatedState(of: taskID, in: $0) == "TASK_FINISHED" }) { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(lines.first?["type"] as? String == "SUBSCRIBED")
            let subscribedLine = lines.first?["subscribed"] as? [String: Any]
            #expect(subscribedLine?["heartbeat_interval_seconds"] as? Double == 15)
            #expect(!lines.contains { $0["type"] as? String == "HEARTBEAT" }, "heartbeats are left out without --heartbeats")
            let added = lines.firstIndex { line in
                let task = (line["task_added"] as? [String: Any])?["task"] as? [String: Any]
                return line["type"] as? String == "TASK_ADDED" && (task?["task_id"] as? [String: Any])?["value"] as? String == taskID
                    && task?["state"] as? String == "TASK_STAGING"
            }
            let finished = lines.firstIndex { Self.updatedState(of: taskID, in: $0) == "TASK_FINISHED" }
            let addedIndex = try #require(added, "no TASK_ADDED line for \(taskID) in:\n\(watch.stdout)")
            let finishedIndex = try #require(finished, "no TASK_UPDATED(TASK_FINISHED) line for \(taskID) in:\n\(watch.stdout)")
            #expect(addedIndex < finishedIndex)
        }

        @Test("mesos watch --count 1 prints SUBSCRIBED alone, as one JSON object, and exits 0; the human form is one line")
        func watchCount() async throws {
            let binary = try #require(OperatorTool.binary, "mesos is not built next to the tests")
            let master = try TestServers.value(OperatorTool.masterVariable)
            let json = try await ToolProcess.run(["watch", "--json", "--count", "1", "--master", master], binary: binary)
            #expect(json.status == 0, "\(json.stderr)")
            let lines = json.stdout.split(separator: "\n")
            #expect(lines.count == 1)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(String(lines.first ?? "").utf8)) as? [String: Any])
            #expect(object["type"] as? String == "SUBSCRIBED")
            let state = (object["subscribed"] as? [String: Any])?["get_state"] as? [String: Any]
            #expect(((state?["get_agents"] as? [String: Any])?["agents"] as? [Any])?.count == 1)

            // With --heartbeats the master's immediate HEARTBEAT is the second event.
            let human = try await ToolProcess.run(["watch", "--heartbeats", "--count", "2", "--master", master], binary: binary)
            #expect(human.status == 0, "\(human.stderr)")
            let humanLines = human.stdout.split(separator: "\n")
            #expect(humanLines.count == 2)
            #expect(humanLines.first?.hasPrefix("SUBSCRIBED agents=1 ") == true)
            #expect(humanLines.last == "HEARTBEAT")

            let usage = try await ToolProcess.run(["watch", "--count", "0", "--master", master], binary: binary)
            #expect(usage.status == 64)
        }

        /// The `state` of a `mesos watch --json` TASK_UPDATED line about `taskID`, if it is one.
        static func updatedState(of taskID: String, in line: [String: Any]) -> String? {
            guard line["type"] as? String == "TASK_UPDATED", let update = line["task_updated"] as? [String: Any],
                ((update["status"] as? [String: Any])?["task_id"] as? [String: Any])?["value"] as? String == taskID
            else { return nil }
            return update["state"] as? String
        }
    }
}
