import ArgumentParser
import Foundation
import MesosCore
import MesosOperator
import MesosRecordIO
import MesosTestKit

/// `operator`: the `ClusterState` mirror fed by the operator event stream of the test kit's fake master.
struct OperatorBench: BenchMode {
    static let configuration = CommandConfiguration(
        commandName: "operator",
        abstract: "Mirror a SUBSCRIBED snapshot of M agents and T tasks, then a stream of TASK_UPDATED events."
    )

    @Option(help: "Agents in the snapshot.")
    var agents = 1_000

    @Option(help: "Running tasks in the snapshot (spread over the agents and 20 frameworks).")
    var tasks = 100_000

    @Option(help: "N: TASK_UPDATED events of the first phase; the second phase brings the total to 10 × N.")
    var events = 100_000

    @Option(help: "Events per chunk the fake master writes.")
    var batch = 1_000

    @Option(help: "Encoding of the stream: json or protobuf.")
    var contentType: MesosContentType = .protobuf

    @Option(help: "Statuses the mirror keeps per task (the snapshot's tasks already have this many, so the state starts at its steady size).")
    var statusesPerTask = 2

    func runBenchmark() async throws {
        guard self.agents > 0, self.tasks > 0, self.events > 0, self.batch > 0, self.statusesPerTask > 0 else {
            throw BenchError("--agents, --tasks, --events, --batch and --statuses-per-task must be positive")
        }
        let limits = ClusterStateLimits(maximumStatusesPerTask: self.statusesPerTask)
        let frameworks = 20
        say("operator: agents=\(self.agents) tasks=\(self.tasks) frameworks=\(frameworks) events=\(self.events)+\(self.events * 9) batch=\(self.batch) content_type=\(self.contentType) statuses_per_task=\(self.statusesPerTask)")
        let snapshot = Self.makeSnapshot(agents: self.agents, tasks: self.tasks, frameworks: frameworks, statuses: self.statusesPerTask)
        let clock = ContinuousClock()
        // The events: each task alternates TASK_UNREACHABLE and TASK_RUNNING (an agent partitioned and back), in
        // chunks encoded once, so the publisher's memory does not grow with the events either.
        let chunks = Self.makeChunks(tasks: snapshot.getTasks.tasks, batch: self.batch, contentType: self.contentType)

        // The client's share of a SUBSCRIBED alone, and applying decoded events alone (in a scope of their own,
        // so that their copies are gone before the end-to-end run measures memory).
        do {
            var subscribed = MasterEvent()
            subscribed.type = .subscribed
            subscribed.subscribed.getState = snapshot
            subscribed.subscribed.heartbeatIntervalSeconds = 15
            let record = try MesosCodec(self.contentType).encode(subscribed)
            var start = clock.now
            var cpu = ProcessStats.cpuSeconds() ?? 0
            let decoded = try OperatorEvent.decode(record, as: self.contentType)
            let decodeSeconds = Measure.seconds(clock.now - start)
            let decodeCPU = (ProcessStats.cpuSeconds() ?? 0) - cpu
            start = clock.now
            cpu = ProcessStats.cpuSeconds() ?? 0
            var direct = ClusterState(limits: limits)
            direct.apply(decoded)
            let buildSeconds = Measure.seconds(clock.now - start)
            let buildCPU = (ProcessStats.cpuSeconds() ?? 0) - cpu
            say("  snapshot record: bytes=\(record.count) decode_ms=\(fmt(decodeSeconds * 1000)) (cpu \(fmt(decodeCPU * 1000, 0))) build_ms=\(fmt(buildSeconds * 1000)) (cpu \(fmt(buildCPU * 1000, 0))) tasks=\(direct.taskCount) agents=\(direct.agentCount)")
            // The reference: the same record through swift-protobuf's generated decoding alone.
            start = clock.now
            cpu = ProcessStats.cpuSeconds() ?? 0
            let reference = OperatorEvent(try OperatorWire.decode(MasterEvent.self, from: record, as: self.contentType))
            let referenceSeconds = Measure.seconds(clock.now - start)
            let referenceCPU = (ProcessStats.cpuSeconds() ?? 0) - cpu
            guard case .subscribed(let referenceSnapshot) = reference, case .subscribed(let fastSnapshot) = decoded,
                referenceSnapshot == fastSnapshot
            else {
                throw BenchError("the library's decoding of SUBSCRIBED differs from swift-protobuf's")
            }
            say("  snapshot record through swift-protobuf alone (reference): decode_ms=\(fmt(referenceSeconds * 1000)) (cpu \(fmt(referenceCPU * 1000, 0))) (library decoding \(fmt(referenceSeconds / max(decodeSeconds, 1e-9), 2))x faster)")

            // The first tasks' UNREACHABLE events, then their RUNNING events, again and again.
            let unreachable = try Self.decodeAll(chunks[0], contentType: self.contentType)
            let running = try Self.decodeAll(chunks[chunks.count / 2], contentType: self.contentType)
            start = clock.now
            var rounds = 0
            while Measure.seconds(clock.now - start) < 0.5 || rounds < 5 {
                for event in unreachable { direct.apply(event) }
                for event in running { direct.apply(event) }
                rounds += 1
            }
            let applyRate = Double(rounds * (unreachable.count + running.count)) / Measure.seconds(clock.now - start)
            say("  apply alone (decoded TASK_UPDATED on the mirror, no stream): events_per_s=\(Int(applyRate)) ignored=\(direct.ignoredEventCount)")

            start = clock.now
            var decodedCount = 0
            while Measure.seconds(clock.now - start) < 0.5 || decodedCount < 10_000 {
                decodedCount += try Self.decodeAll(chunks[decodedCount / self.batch % chunks.count], contentType: self.contentType).count
            }
            let decodeRate = Double(decodedCount) / Measure.seconds(clock.now - start)
            say("  decode alone (RecordIO + \(self.contentType) TASK_UPDATED records): events_per_s=\(Int(decodeRate))")
            start = clock.now
            decodedCount = 0
            while Measure.seconds(clock.now - start) < 0.5 || decodedCount < 10_000 {
                decodedCount += try Self.decodeAll(
                    chunks[decodedCount / self.batch % chunks.count], contentType: self.contentType, swiftProtobufOnly: true
                ).count
            }
            let referenceRate = Double(decodedCount) / Measure.seconds(clock.now - start)
            say("  decode alone through swift-protobuf (reference): events_per_s=\(Int(referenceRate)) (library decoding \(fmt(decodeRate / max(referenceRate, 1), 2))x as fast)")
        }

        // End to end: the fake master streams, the client decodes, the mirror applies.
        let feed = FakeOperatorEventFeed(snapshot: snapshot, bufferedChunks: 4)
        // The fake master encodes its SUBSCRIBED once, before the clock starts: its work is not the client's.
        feed.prepareSubscription(as: self.contentType)
        let master = FakeMaster()
        await master.serveOperatorEvents(feed)
        let client = MesosMasterOperator(
            master: MasterLocation(host: "fake-master", port: 5050),
            configuration: MesosOperatorConfiguration(transport: master.transport, contentType: self.contentType))
        ProcessStats.resetPeak()
        let beforeSubscribe = ProcessStats.currentRSSMegabytes()?.total ?? 0
        let total = self.events * 10
        let contentType = self.contentType
        let publisher = Task {
            await feed.waitForSubscriptions(1)
            var sent = 0
            var index = 0
            while sent < total {
                await feed.publish(raw: chunks[index].bytes, to: contentType)
                sent += chunks[index].count
                index = (index + 1) % chunks.count
            }
        }
        defer { publisher.cancel() }

        var mirror = ClusterStateMirror(events: client.events(), limits: limits).makeAsyncIterator()
        var start = clock.now
        let snapshotSeconds: Double
        do {
            // `first` must not outlive this scope: a state held on to makes the next event copy the tables.
            guard let first = try await mirror.next(), case .subscribed = first.event else {
                throw BenchError("the stream did not start with SUBSCRIBED")
            }
            snapshotSeconds = Measure.seconds(clock.now - start)
            let afterSnapshot = ProcessStats.currentRSSMegabytes()?.total ?? 0
            say("  SUBSCRIBED through the fake master (stream, decode, build): snapshot_ms=\(fmt(snapshotSeconds * 1000)) tasks=\(first.state.taskCount) rss_mb=\(fmt(afterSnapshot)) (\(fmt(afterSnapshot - beforeSubscribe)) MB more than before subscribing; the fake master's own copy of the state is in both)")
        }

        var applied = 0
        var rssAfterN = 0.0
        var lastState: ClusterState?
        start = clock.now
        let eventsStart = start
        let cpuStart = ProcessStats.cpuSeconds() ?? 0
        while applied < total, let update = try await mirror.next() {
            guard case .taskUpdated = update.event else { continue }
            applied += 1
            if applied == self.events {
                rssAfterN = ProcessStats.currentRSSMegabytes()?.total ?? 0
                say("  after N=\(applied) events: rss_mb=\(fmt(rssAfterN)) events_per_s=\(Int(Double(applied) / Measure.seconds(clock.now - eventsStart)))")
            }
            if applied == total {
                lastState = update.state
            }
        }
        let eventSeconds = Measure.seconds(clock.now - eventsStart)
        let cpuSeconds = (ProcessStats.cpuSeconds() ?? 0) - cpuStart
        let rssAfter10N = ProcessStats.currentRSSMegabytes()?.total ?? 0
        let rate = Double(applied) / eventSeconds
        let peak = ProcessStats.peakRSSMegabytes() ?? 0
        guard let state = lastState else { throw BenchError("the stream ended after \(applied) events") }
        say("  after 10N=\(applied) events: rss_mb=\(fmt(rssAfter10N)) (\(fmt(rssAfter10N - rssAfterN, 1)) MB more than after N) running=\(state.taskCount(in: .taskRunning)) unreachable=\(state.taskCount(in: .taskUnreachable)) ignored=\(state.ignoredEventCount)")
        say("  end to end: events_per_s=\(Int(rate)) cpu_s=\(fmt(cpuSeconds, 2)) (publisher, transport, decoding and mirror together: \(Int(Double(applied) / max(cpuSeconds, 0.001))) events per CPU second; load average \(Self.loadAverage()))")
        target("snapshot", snapshotSeconds < 1, "\(fmt(snapshotSeconds * 1000)) ms < 1000 ms")
        target("events", rate >= 100_000, "\(Int(rate)) events/s >= 100000")
        target("memory", rssAfter10N - rssAfterN < max(16, rssAfterN * 0.05), "rss after 10N \(fmt(rssAfter10N)) MB vs after N \(fmt(rssAfterN)) MB")
        say("snapshot_ms=\(fmt(snapshotSeconds * 1000)) events_per_s=\(Int(rate)) peak_rss_mb=\(fmt(peak))")
    }

    /// The 1-minute load average (`/proc/loadavg`), to read the wall-clock figures by.
    static func loadAverage() -> String {
        ProcessStats.readProcFile("/proc/loadavg")?.split(separator: " ").first.map(String.init) ?? "?"
    }

    /// A chunk of RecordIO records and how many events it holds.
    struct Chunk: Sendable {
        var bytes: [UInt8]
        var count: Int
    }

    static func makeSnapshot(agents: Int, tasks: Int, frameworks: Int, statuses: Int) -> MasterState {
        func scalar(_ name: String, _ value: Double, role: String? = nil) -> Resource {
            var resource = Resource()
            resource.name = name
            resource.type = .scalar
            resource.scalar.value = value
            if let role { resource.allocationInfo.role = role }
            return resource
        }
        var state = MasterState()
        let prefix = "b3c1d2e4-5f60-4a7b-8c9d-0e1f2a3b4c5d"
        state.getAgents.agents = (0..<agents).map { index in
            var agent = MasterAgent()
            agent.agentInfo.id.value = "\(prefix)-S\(index)"
            agent.agentInfo.hostname = "agent-\(index).example.com"
            agent.agentInfo.port = 5051
            agent.active = true
            agent.version = "1.11.0"
            agent.pid = "slave(1)@10.0.\(index / 250).\(index % 250):5051"
            agent.totalResources = [scalar("cpus", 64), scalar("mem", 262_144), scalar("disk", 1_000_000)]
            return agent
        }
        state.getFrameworks.frameworks = (0..<frameworks).map { index in
            var framework = MasterFramework()
            framework.frameworkInfo.id.value = "\(prefix)-\(String(format: "%04d", index))"
            framework.frameworkInfo.name = "framework-\(index)"
            framework.frameworkInfo.user = "svc"
            framework.frameworkInfo.roles = ["batch"]
            framework.active = true
            framework.connected = true
            return framework
        }
        state.getTasks.tasks = (0..<tasks).map { index in
            var task = MesosTask()
            let agent = "\(prefix)-S\(index % agents)"
            task.name = "task-\(index)"
            task.taskID.value = "task-\(index)"
            task.frameworkID.value = "\(prefix)-\(String(format: "%04d", index % frameworks))"
            task.agentID.value = agent
            task.state = .taskRunning
            task.resources = [scalar("cpus", 0.5, role: "batch"), scalar("mem", 512, role: "batch")]
            // A history ending in RUNNING: ..., UNREACHABLE, RUNNING (the last `statuses` of a task that flapped).
            task.statuses = (0..<statuses).map { step in
                var status = TaskStatus()
                status.taskID = task.taskID
                status.agentID.value = agent
                status.state = (statuses - 1 - step) % 2 == 0 ? .taskRunning : .taskUnreachable
                status.source = .executor
                status.timestamp = 1_732_262_400 + Double(step)
                status.uuid = Data((0..<16).map { UInt8(truncatingIfNeeded: (index &* 31 &+ step) >> ($0 % 4 * 8)) })
                return status
            }
            task.statusUpdateState = .taskRunning
            task.statusUpdateUuid = task.statuses.last?.uuid ?? Data()
            return task
        }
        return state
    }

    /// Every task once UNREACHABLE then once RUNNING again, in chunks of `batch` events.
    static func makeChunks(tasks: [MesosTask], batch: Int, contentType: MesosContentType) -> [Chunk] {
        var chunks: [Chunk] = []
        for state in [TaskState.taskUnreachable, .taskRunning] {
            var start = 0
            while start < tasks.count {
                let slice = tasks[start..<min(tasks.count, start + batch)]
                let events: [MasterEvent] = slice.map { task in
                    var event = MasterEvent()
                    event.type = .taskUpdated
                    event.taskUpdated.frameworkID = task.frameworkID
                    var status = TaskStatus()
                    status.taskID = task.taskID
                    status.agentID = task.agentID
                    status.state = state
                    status.source = state == .taskUnreachable ? .master : .executor
                    status.timestamp = 1_732_262_460
                    status.uuid = task.statusUpdateUuid
                    event.taskUpdated.status = status
                    event.taskUpdated.state = state
                    return event
                }
                chunks.append(Chunk(bytes: FakeOperatorEventFeed.encode(events, as: contentType), count: events.count))
                start += batch
            }
        }
        return chunks
    }

    static func decodeAll(_ chunk: Chunk, contentType: MesosContentType, swiftProtobufOnly: Bool = false) throws -> [OperatorEvent] {
        var decoder = RecordIODecoder()
        decoder.append(chunk.bytes)
        var events: [OperatorEvent] = []
        while let record = try decoder.next() {
            if swiftProtobufOnly {
                events.append(OperatorEvent(try OperatorWire.decode(MasterEvent.self, from: record, as: contentType)))
            } else {
                events.append(try OperatorEvent.decode(record, as: contentType))
            }
        }
        return events
    }
}

