import Foundation
import MesosCore
import MesosCurlTransport
import MesosScheduler
import Testing

/// The scheduler service against a real Mesos 1.11 master and agent: tasks really run. The flows run on the curl
/// transport and on the SwiftNIO one (`TestTransport`).
@Suite("Real master: scheduler service", .enabled(if: RealMaster.shouldRun, "needs MESOS_MASTER_URL (scripts/test.sh starts one)"),
       .serialized, .timeLimit(.minutes(3)))
struct RealMasterSchedulerTests {
    static func scheduler(
        _ name: String,
        contentType: MesosContentType = .json,
        frameworkID: FrameworkID? = nil,
        acknowledgements: MesosSchedulerConfiguration.AcknowledgementMode = .automatic,
        transport: TestTransport = .curl
    ) throws -> MesosScheduler {
        let url = try #require(URL(string: try RealMaster.baseURL()))
        var info = RealMaster.frameworkInfo(name: name)
        if let frameworkID { info.id = frameworkID }
        var configuration = MesosSchedulerConfiguration(
            frameworkInfo: info,
            master: .fixed(MasterLocation(host: url.host ?? "127.0.0.1", port: url.port ?? 5050)),
            transport: transport.make()
        )
        configuration.contentType = contentType
        configuration.acknowledgements = acknowledgements
        return MesosScheduler(configuration: configuration)
    }

    static func task(_ id: String, command: String, offer: Offer) -> TaskInfo {
        var task = TaskInfo()
        task.name = id
        task.taskID = TaskID(id)
        task.agentID = offer.agentID
        task.resources = [.scalar("cpus", 0.1, role: "*"), .scalar("mem", 32, role: "*")]
        task.command.shell = true
        task.command.value = command
        return task
    }

    /// Launches `command` on the first offer that holds its 0.1 cpus and 32 MB and returns every state it goes through until a terminal one.
    static func run(
        _ command: String,
        on scheduler: MesosScheduler,
        events: SchedulerEventStream,
        killAfterRunning: Bool = false
    ) async throws -> [TaskStatus] {
        let taskID = "it-\(UUID().uuidString.prefix(8))"
        var launched = false
        var statuses: [TaskStatus] = []
        for try await event in events {
            switch event {
            case .offers(let offers):
                // Another suite's tasks may have left an agent too little for this one's 0.1 cpus and 32 MB.
                guard !launched, let offer = offers.first(where: { $0.holds(cpus: 0.1, mem: 32) }) else {
                    if !offers.isEmpty { try await scheduler.decline(offers.map(\.id), filters: .refuse(seconds: 1)) }
                    continue
                }
                launched = true
                try await scheduler.accept(offer, operations: [.launch([Self.task(taskID, command: command, offer: offer)])],
                                           filters: .refuse(seconds: 1))
                let others = offers.filter { $0.id != offer.id }
                if !others.isEmpty { try await scheduler.decline(others.map(\.id)) }
            case .update(let status) where status.taskID.value == taskID:
                statuses.append(status)
                if status.state == .taskRunning, killAfterRunning {
                    var policy = KillPolicy()
                    policy.gracePeriod.nanoseconds = 500_000_000
                    try await scheduler.kill(status.taskID, agentID: status.agentID, killPolicy: policy)
                }
                if status.state.isTerminal { return statuses }
            default:
                continue
            }
        }
        return statuses
    }

    @Test("echo hi → STARTING, RUNNING, FINISHED, each acknowledged",
          arguments: [MesosContentType.json, .protobuf], TestTransport.allCases)
    func echoFinishes(contentType: MesosContentType, transport: TestTransport) async throws {
        let scheduler = try Self.scheduler("it-echo-\(contentType)-\(transport)", contentType: contentType, transport: transport)
        let statuses = try await scheduler.withSubscription { events in
            let statuses = try await Self.run("echo hi", on: scheduler, events: events)
            try await scheduler.teardown()
            return statuses
        }
        #expect(statuses.map(\.state) == [.taskStarting, .taskRunning, .taskFinished])
        #expect(statuses.allSatisfy { $0.needsAcknowledgement })
        #expect(statuses.last?.message == "Command exited with status 0")
    }

    @Test("calls from tasks on the transport's own thread (taskExecutor: curl's thread, NIO's event loop): 200 ACKNOWLEDGEs and a task's launch",
          arguments: TestTransport.allCases)
    func callsOnTheTransportThread(transport: TestTransport) async throws {
        let scheduler = try Self.scheduler("it-executor-\(transport)", contentType: .protobuf, transport: transport)
        let executor = try #require(scheduler.configuration.transport.taskExecutor)
        let statuses = try await scheduler.withSubscription { events in
            let statuses = try await withTaskExecutorPreference(executor) {
                try await Self.run("echo hi", on: scheduler, events: events)
            }
            // Made-up updates: the master answers 202 to an ACKNOWLEDGE it cannot match.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for worker in 0..<8 {
                    group.addTask(executorPreference: executor) {
                        for _ in 0..<25 {
                            try await scheduler.send(
                                .acknowledge(
                                    agentID: AgentID("it-agent-\(worker)"), taskID: TaskID("it-task-\(worker)"),
                                    uuid: Data(UUID().uuid16)))
                        }
                    }
                }
                try await group.waitForAll()
            }
            try await scheduler.teardown()
            return statuses
        }
        #expect(statuses.map(\.state) == [.taskStarting, .taskRunning, .taskFinished])
    }

    @Test("exit 3 → TASK_FAILED; sleep 60 + KILL → TASK_KILLED", arguments: TestTransport.allCases)
    func failureAndKill(transport: TestTransport) async throws {
        let scheduler = try Self.scheduler("it-fail-kill-\(transport)", transport: transport)
        try await scheduler.withSubscription { events in
            let failed = try await Self.run("exit 3", on: scheduler, events: events)
            #expect(failed.last?.state == .taskFailed)
            #expect(failed.last?.message.contains("status 3") == true)
            try await scheduler.revive()
            let killed = try await Self.run("sleep 60", on: scheduler, events: events, killAfterRunning: true)
            #expect(killed.last?.state == .taskKilled)
            try await scheduler.teardown()
        }
    }

    @Test("explicit and implicit reconciliation are answered; suppress, revive, decline, update framework work",
          arguments: TestTransport.allCases)
    func reconcileAndOfferControl(transport: TestTransport) async throws {
        let scheduler = try Self.scheduler("it-reconcile", acknowledgements: .automatic, transport: transport)
        try await scheduler.withSubscription { events in
            var iterator = events.makeAsyncIterator()
            var offerSeen = false
            while !offerSeen, let event = try await iterator.next() {
                if case .offers(let offers) = event {
                    offerSeen = true
                    try await scheduler.decline(offers.map(\.id), filters: .refuse(seconds: 0.2))
                }
            }
            try await scheduler.suppress()
            try await scheduler.reconcile([(TaskID("no-such-task"), nil)])
            var reconciled: TaskStatus?
            while reconciled == nil, let event = try await iterator.next() {
                if case .update(let status) = event, status.taskID.value == "no-such-task" { reconciled = status }
            }
            #expect(reconciled?.reason == .reconciliation)
            #expect(reconciled?.needsAcknowledgement == false)
            try await scheduler.reconcile()  // implicit: no tasks, so no answer expected; must be accepted
            var renamed = RealMaster.frameworkInfo(name: "it-reconcile-renamed")
            renamed.id = try #require(scheduler.status.frameworkID)
            try await scheduler.updateFramework(renamed)
            try await scheduler.revive()
            var offersAgain = false
            while !offersAgain, let event = try await iterator.next() {
                if case .offers(let offers) = event {
                    offersAgain = true
                    try await scheduler.decline(offers.map(\.id))
                }
            }
            #expect(offersAgain)
            let state = try await MasterState.fetch()
            #expect(state.frameworkNames.contains("it-reconcile-renamed"))
            try await scheduler.teardown()
        }
    }

    @Test("disconnect, then a new scheduler with the same framework id keeps the running task; teardown removes it",
          arguments: TestTransport.allCases)
    func failoverKeepsTask(transport: TestTransport) async throws {
        let first = try Self.scheduler("it-failover", transport: transport)
        let (frameworkID, taskID): (FrameworkID, TaskID) = try await first.withSubscription { events in
            let taskID = "it-long-\(UUID().uuidString.prefix(8))"
            for try await event in events {
                switch event {
                case .offers(let offers):
                    guard let offer = offers.first(where: { $0.holds(cpus: 0.1, mem: 32) }) else {
                        try await first.decline(offers.map(\.id), filters: .refuse(seconds: 1))
                        continue
                    }
                    try await first.accept(offer, operations: [.launch([Self.task(taskID, command: "sleep 60", offer: offer)])])
                case .update(let status) where status.state == .taskRunning:
                    return (try #require(first.status.frameworkID), status.taskID)
                default:
                    continue
                }
            }
            throw MesosError(code: .streamEnded, message: "no TASK_RUNNING")
        }
        // `withSubscription` disconnected without tearing down: the framework and task survive. The new
        // SUBSCRIBE follows at once; Mesos ignores the old connection's close if it sees it after the new one.
        let second = try Self.scheduler("it-failover", frameworkID: frameworkID, transport: transport)
        try await second.withSubscription { events in
            var iterator = events.makeAsyncIterator()
            guard case .subscribed(let subscribed)? = try await iterator.next() else {
                Issue.record("no SUBSCRIBED")
                return
            }
            #expect(subscribed.frameworkID == frameworkID)
            try await second.reconcile([(taskID, nil)])
            while let event = try await iterator.next() {
                if case .update(let status) = event, status.taskID == taskID {
                    #expect(status.state == .taskRunning)
                    break
                }
            }
            try await second.teardown()
        }
        let state = try await MasterState.fetch()
        #expect(!state.activeFrameworkIDs.contains(frameworkID.value))
        #expect(state.completedFrameworkIDs.contains(frameworkID.value))
    }
}

/// What `/master/state` says about frameworks.
struct MasterState {
    var frameworkNames: [String]
    var activeFrameworkIDs: [String]
    var completedFrameworkIDs: [String]

    static func fetch() async throws -> MasterState {
        let url = try #require(URL(string: try RealMaster.baseURL() + "/master/state"))
        let transport = MesosCurlTransport(configuration: .init())
        let (response, body) = try await transport.send(MesosHTTPRequest(method: "GET", url: url, timeout: .seconds(10)))
        #expect(response.status == 200)
        let bytes = try await body.collect(upTo: 32 << 20)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
        let active = object["frameworks"] as? [[String: Any]] ?? []
        let completed = object["completed_frameworks"] as? [[String: Any]] ?? []
        return MasterState(
            frameworkNames: active.compactMap { $0["name"] as? String },
            activeFrameworkIDs: active.compactMap { $0["id"] as? String },
            completedFrameworkIDs: completed.compactMap { $0["id"] as? String }
        )
    }
}

extension UUID {
    /// The 16 bytes of the UUID.
    fileprivate var uuid16: [UInt8] {
        withUnsafeBytes(of: self.uuid) { Array($0) }
    }
}
