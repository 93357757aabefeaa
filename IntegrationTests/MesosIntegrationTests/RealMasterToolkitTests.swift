import Foundation
import MesosCore
import MesosCurlTransport
import MesosResources
import MesosScheduler
import MesosTestKit
import Testing

/// The real master `scripts/test.sh` starts for the framework toolkit (`$MESOS_TOOLKIT_MASTER_URL`): one agent with
/// unreserved resources and resources statically reserved to role `batch` (``TestServers/toolkitAgentResources``).
///
/// The tests share that agent, so they run one at a time: each starts once the agent is idle
/// (``ToolkitMaster/waitForIdleAgent()``), uses a framework of its own, and ends with TEARDOWN, which kills its
/// tasks and gives its offers back (``ToolkitMaster/running(_:services:teardown:_:)``). More tests of this suite are
/// in the `RealMasterToolkit*Tests.swift` files beside this one.
@Suite("Real master: toolkit master with reserved resources",
       .enabled(if: TestServers.shouldRunAgainstToolkitMaster, "needs MESOS_TOOLKIT_MASTER_URL (scripts/test.sh starts one)"),
       .serialized, .toolkitAgent, .timeLimit(.minutes(2)))
struct RealMasterToolkitTests {
    @Test("a MULTI_ROLE framework of role batch gets one offer with unreserved and batch-reserved cpus, all allocated to batch")
    func batchOfferHoldsReservedAndUnreservedResources() async throws {
        try await ToolkitMaster.waitForIdleAgent()
        let url = try #require(URL(string: try TestServers.toolkitMasterURL()))
        var info = RealMaster.frameworkInfo(name: "it-toolkit-batch")
        info.roles = ["batch"]
        info.failoverTimeout = 0
        var configuration = MesosSchedulerConfiguration(
            frameworkInfo: info,
            master: .fixed(MasterLocation(host: url.host ?? "127.0.0.1", port: url.port ?? 5050)),
            transport: MesosCurlTransport(configuration: .init())
        )
        configuration.contentType = .json
        let scheduler = MesosScheduler(configuration: configuration)
        let offer = try await scheduler.withSubscription { events -> Offer? in
            for try await event in events {
                guard case .offers(let offers) = event, let offer = offers.first else { continue }
                try await scheduler.decline(offers.map(\.id))
                try await scheduler.teardown()
                return offer
            }
            return nil
        }
        let received = try #require(offer)
        #expect(received.allocationInfo.role == "batch")
        #expect(received.resources.allSatisfy { $0.allocationInfo.role == "batch" })
        // Without RESERVATION_REFINEMENT the master sends the pre-refinement form: `role` set, no stack.
        let resources = Resources(received.resources)
        #expect(resources.reserved("batch").scalar("cpus") == 1)
        #expect(resources.reserved("batch").scalar("mem") == 512)
        #expect(resources.unreserved().scalar("cpus") == 1)
        #expect(resources.unreserved().scalar("mem") == 1024)
        #expect(resources.unreserved().ranges("ports") == ResourceRanges([31000...31010]))
        #expect(received.resources.filter { $0.name == "cpus" }.map(\.role).sorted() == ["*", "batch"])
        // The whole agent is in that one offer: what the agent was started with, allocated to batch.
        let expected = try Resources(parsing: TestServers.toolkitAgentResources).allocated(to: "batch")
        #expect(resources.contains(expected))
    }

    @Test("a task needing cpus:1.5;mem:256 is carved from a batch offer across unreserved and batch-reserved cpus, and finishes")
    func carvingAcrossReservedAndUnreserved() async throws {
        try await ToolkitMaster.waitForIdleAgent()
        let scheduler = try ToolkitMaster.scheduler("it-toolkit-carve", roles: ["batch"])
        let log = EventLog(scheduler)
        let taskID = TaskID("it-carve-\(UUID().uuidString.prefix(8))")
        let (offer, carving, statuses, masterView) = try await ToolkitMaster.running(scheduler) {
            let offers = try await log.nextOffers().value
            let offer = offers[0]
            // 1.5 cpus: more than the unreserved 1 or the reserved 1 alone.
            let carving = try offer.carving(try ResourceDemand(parsing: "cpus:1.5;mem:256"))
            var task = TaskInfo()
            task.name = taskID.value
            task.taskID = taskID
            task.agentID = offer.agentID
            task.resources = carving.resources
            task.command.shell = true
            task.command.value = "true"
            try await scheduler.accept(offer, operations: [.launch([task])], filters: .refuse(seconds: 1))
            if offers.count > 1 { try await scheduler.decline(offers.dropFirst().map(\.id)) }
            _ = try await log.nextUpdate(of: taskID, in: [.taskRunning])
            // From TASK_RUNNING on, the master counts exactly the carved resources as the task's.
            let resources = try await ToolkitMaster.taskState(taskID)?.task["resources"] as? [String: Any]
            let masterView = (cpus: resources?["cpus"] as? Double, mem: resources?["mem"] as? Double)
            _ = try await log.terminalUpdate(of: taskID)
            return (offer, carving, log.updates(of: taskID), masterView)
        }
        #expect(offer.allocationRole == "batch")
        #expect(statuses.map(\.state) == [.taskStarting, .taskRunning, .taskFinished], "\(statuses.map { "\($0.state) \($0.message)" })")
        #expect(statuses.last?.message == "Command exited with status 0")
        // The pieces: all unreserved cpus whole (the default order takes unreserved first), half of the batch cpus,
        // and unreserved memory; each keeps the offer's allocation role.
        let cpus = carving.resources.filter { $0.name == "cpus" }
        #expect(cpus.count == 2)
        #expect(cpus.filter { $0.reservationRole == "batch" }.map(\.scalar.value) == [0.5], "one reserved piece")
        #expect(cpus.filter { $0.reservationRole == nil }.map(\.scalar.value) == [1.0], "one unreserved piece")
        #expect(carving.resources.filter { $0.name == "mem" }.map(\.scalar.value) == [256])
        #expect(carving.resources.filter { $0.name == "mem" }.allSatisfy { $0.reservationRole == nil })
        #expect(carving.resources.allSatisfy { $0.allocationInfo.role == "batch" })
        #expect(Set(carving.resources.map(\.name)) == ["cpus", "mem"])
        // What is left: the other half of the batch cpus, and all memory but 256 MB.
        #expect(carving.remaining.scalar("cpus") == 0.5)
        #expect(carving.remaining.reserved("batch").scalar("cpus") == 0.5)
        #expect(carving.remaining.scalar("mem") == 1280, "1024 + 512 - 256")
        #expect(masterView.cpus == 1.5)
        #expect(masterView.mem == 256)
    }

    @Test("a task asking 2 ports gets two of the offered 31000-31010, in its TaskInfo, its environment and the master's state")
    func portsFromTheOfferedRange() async throws {
        try await ToolkitMaster.waitForIdleAgent()
        let scheduler = try ToolkitMaster.scheduler("it-toolkit-ports")
        let log = EventLog(scheduler)
        let taskID = TaskID("it-ports-\(UUID().uuidString.prefix(8))")
        let (offer, carving, task, finished, masterView) = try await ToolkitMaster.running(scheduler) {
            let offers = try await log.nextOffers().value
            let offer = offers[0]
            let demand = try ResourceDemand(parsing: "cpus:0.1;mem:32", ports: 2)
            let carving = try offer.carving(demand, portPolicy: .randomConsecutive(seed: 42))
            var task = TaskInfo()
            task.name = taskID.value
            task.taskID = taskID
            task.agentID = offer.agentID
            task.resources = carving.resources
            for (index, port) in carving.ports.enumerated() {
                var variable = Environment.Variable()
                variable.name = "PORT\(index)"
                variable.value = "\(port)"
                task.command.environment.variables.append(variable)
            }
            // The task binds both ports on the loopback interface: they reach it and are free to use.
            task.command.shell = true
            task.command.value = """
                python3 -c 'import os, socket
                for name in ("PORT0", "PORT1"):
                    s = socket.socket(); s.bind(("127.0.0.1", int(os.environ[name]))); print(name, os.environ[name])'
                """
            try await scheduler.accept(offer, operations: [.launch([task])], filters: .refuse(seconds: 1))
            let finished = try await log.terminalUpdate(of: taskID)
            // After the terminal acknowledgement the master keeps the task among its completed ones.
            var masterView: [String: Any]?
            try await poll("the task in the master's state", timeout: .seconds(10)) {
                masterView = try await ToolkitMaster.taskState(taskID)?.task
                return masterView?["state"] as? String == "TASK_FINISHED"
            }
            return (offer, carving, task, finished, (masterView?["resources"] as? [String: Any])?["ports"] as? String)
        }
        #expect(offer.ranges("ports") == ResourceRanges([31000...31010]))
        let ports = carving.ports
        #expect(ports.count == 2)
        #expect(ports.allSatisfy { (31000...31010).contains($0) })
        #expect(Set(ports).count == 2)
        let taskPorts = Resources(task.resources).ranges("ports")
        #expect(taskPorts?.intervals.flatMap { Array($0) } == ports.sorted())
        #expect(finished.state == .taskFinished, "\(finished.state) \(finished.message)")
        let low = ports.min() ?? 0
        let high = ports.max() ?? 0
        // Random-consecutive picks a run of two: the master prints it as one range.
        #expect(high == low + 1)
        #expect(masterView == "[\(low)-\(high)]")
        #expect(carving.remaining.ranges("ports")?.intervals.flatMap { Array($0) } == (31000...31010).filter { !ports.contains($0) })
    }
}
