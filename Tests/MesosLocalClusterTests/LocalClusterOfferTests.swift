import Foundation
import MesosCore
import MesosLocalCluster
import MesosScheduler
import Testing

/// Offers, filters, suppression, validation of launches, reconciliation, acknowledgements and failover.
@Suite("Local cluster: offers and calls", .timeLimit(.minutes(2)))
struct LocalClusterOfferTests {
    @Test("offers carry the agent's free resources with the framework's role, and shrink while a task runs")
    func offersReflectResourcesInUse() async throws {
        let cluster = LocalCluster(configuration: try Harness.configuration())
        let scheduler = Harness.scheduler(cluster, "resources")
        try await scheduler.withWatchedSubscription { events in
            var reader = EventReader(events)
            let first = try #require(try await reader.offers().first)
            #expect(Harness.scalar("cpus", in: first.resources) == 2)
            #expect(Harness.scalar("mem", in: first.resources) == 1024)
            #expect(first.resources.allSatisfy { $0.allocationInfo.role == "*" })
            #expect(first.allocationInfo.role == "*")
            #expect(first.resources.first { $0.name == "ports" }?.ranges.range.first?.begin == 31000)
            let task = Harness.task("big", command: "sleep 60", offer: first, cpus: 1.5, mem: 1000)
            try await scheduler.accept(first, operations: [.launch([task])], filters: .refuse(seconds: 0))
            let second = try #require(try await reader.offers().first)
            #expect(abs(Harness.scalar("cpus", in: second.resources) - 0.5) < 0.001)
            #expect(Harness.scalar("mem", in: second.resources) == 24)
            let agent = try #require(cluster.snapshot().agents.first)
            #expect(abs(Harness.scalar("cpus", in: agent.used) - 1.5) < 0.001)
            try await scheduler.kill(TaskID("big"))
            #expect(try await reader.updatesUntilTerminal(for: "big").last?.state == .taskKilled)
            // The freed resources come as a new offer; the outstanding one still holds the rest.
            let third = try #require(try await reader.offers().first)
            #expect(abs(Harness.scalar("cpus", in: third.resources) - 1.5) < 0.001)
            #expect(Harness.scalar("mem", in: third.resources) == 1000)
            #expect(cluster.snapshot().agents.first?.used.isEmpty == true)
            try await scheduler.decline([second.id, third.id], filters: .refuse(seconds: 0))
            let restored = try #require(try await reader.offers().first)
            #expect(Harness.scalar("cpus", in: restored.resources) == 2)
            #expect(Harness.scalar("mem", in: restored.resources) == 1024)
            try await scheduler.teardown()
        }
        await cluster.shutdown()
    }

    @Test("a framework without MULTI_ROLE gets pre-refinement resources (role '*') without allocation info")
    func singleRoleOffers() async throws {
        let cluster = LocalCluster(configuration: try Harness.configuration())
        let scheduler = Harness.scheduler(cluster, "single", info: Harness.frameworkInfo("single", multiRole: false))
        try await scheduler.withWatchedSubscription { events in
            var reader = EventReader(events)
            let offer = try #require(try await reader.offers().first)
            #expect(offer.resources.allSatisfy { $0.role == "*" && !$0.hasAllocationInfo })
            #expect(!offer.hasAllocationInfo)
            try await scheduler.accept(offer, operations: [.launch([Harness.task("t", command: "true", offer: offer, role: nil)])])
            #expect(try await reader.updatesUntilTerminal(for: "t").last?.state == .taskFinished)
            try await scheduler.teardown()
        }
        await cluster.shutdown()
    }

    @Test("invalid launches: too many resources and another allocation role give TASK_ERROR, a used offer TASK_LOST; no uuids")
    func invalidLaunches() async throws {
        let cluster = LocalCluster(configuration: try Harness.configuration())
        let scheduler = Harness.scheduler(cluster, "invalid")
        try await scheduler.withWatchedSubscription { events in
            var reader = EventReader(events)
            let offer = try #require(try await reader.offers().first)
            let tooBig = Harness.task("too-big", command: "true", offer: offer, cpus: 3)
            let otherRole = Harness.task("other-role", command: "true", offer: offer, role: "web")
            try await scheduler.accept(offer, operations: [.launch([tooBig, otherRole])], filters: .refuse(seconds: 0))
            let bigStatus = try await reader.update(for: "too-big")
            #expect(bigStatus.state == .taskError)
            #expect(bigStatus.reason == .taskInvalid)
            #expect(bigStatus.source == .master)
            #expect(!bigStatus.needsAcknowledgement)
            #expect(bigStatus.message.contains("required by task and its executor is more than available"))
            // Allocated to a role the offer is not for: not contained in the offer, as the real master says.
            let roleStatus = try await reader.update(for: "other-role")
            #expect(roleStatus.state == .taskError)
            #expect(roleStatus.reason == .taskInvalid)
            #expect(roleStatus.message.hasPrefix("Total resources cpus(allocated: web):0.1; mem(allocated: web):32 required by task"))
            try await scheduler.accept(offer, operations: [.launch([Harness.task("late", command: "true", offer: offer)])])
            let late = try await reader.update(for: "late")
            #expect(late.state == .taskLost)
            #expect(late.reason == .invalidOffers)
            #expect(!late.needsAcknowledgement)
            try await scheduler.teardown()
        }
        await cluster.shutdown()
    }

    @Test("DECLINE with a filter keeps those resources away; REVIVE brings them back at once; SUPPRESS stops offers")
    func filtersSuppressRevive() async throws {
        let cluster = LocalCluster(configuration: try Harness.configuration())
        let scheduler = Harness.scheduler(cluster, "filters")
        try await scheduler.withWatchedSubscription { events in
            var reader = EventReader(events)
            let offer = try #require(try await reader.offers().first)
            try await scheduler.decline([offer.id], filters: .refuse(seconds: 3600))
            try await Task.sleep(for: .milliseconds(400))
            #expect(cluster.snapshot().frameworks.first?.offers.isEmpty == true)
            try await scheduler.revive()
            let revived = try #require(try await reader.offers().first)
            try await scheduler.suppress()
            try await scheduler.decline([revived.id], filters: .refuse(seconds: 0))
            try await Task.sleep(for: .milliseconds(400))
            let snapshot = try #require(cluster.snapshot().frameworks.first)
            #expect(snapshot.offers.isEmpty)
            #expect(snapshot.suppressedRoles == ["*"])
            try await scheduler.revive()
            _ = try await reader.offers()
            try await scheduler.teardown()
        }
        await cluster.shutdown()
    }

    @Test("reconciliation: explicit for a running and an unknown task, implicit for all; answers carry no uuid")
    func reconcile() async throws {
        let cluster = LocalCluster(configuration: try Harness.configuration())
        let scheduler = Harness.scheduler(cluster, "reconcile")
        try await scheduler.withWatchedSubscription { events in
            var reader = EventReader(events)
            let offer = try #require(try await reader.offers().first)
            try await scheduler.accept(offer, operations: [.launch([Harness.task("running", command: "sleep 60", offer: offer)])])
            _ = try await reader.next {
                if case .update(let status) = $0 { return status.state == .taskRunning }
                return false
            }
            try await scheduler.reconcile([(TaskID("running"), nil), (TaskID("ghost"), offer.agentID)])
            let running = try await reader.reconciliation(for: "running")
            #expect(running.state == .taskRunning)
            #expect(running.reason == .reconciliation)
            #expect(running.source == .master)
            #expect(!running.needsAcknowledgement)
            let ghost = try await reader.reconciliation(for: "ghost")
            #expect(ghost.state == .taskLost)
            #expect(ghost.reason == .reconciliation)
            #expect(!ghost.needsAcknowledgement)
            try await scheduler.reconcile()
            let implicit = try await reader.reconciliation(for: "running")
            #expect(implicit.state == .taskRunning)
            #expect(implicit.reason == .reconciliation)
            try await scheduler.teardown()
        }
        await cluster.shutdown()
    }

    @Test("an unacknowledged update is sent again, and the next one waits until it is acknowledged")
    func updatesAreResentUntilAcknowledged() async throws {
        var configuration = try Harness.configuration()
        configuration.statusUpdateRetryInterval = .milliseconds(200)
        let cluster = LocalCluster(configuration: configuration)
        let scheduler = Harness.scheduler(cluster, "acks", acknowledgements: .explicit)
        try await scheduler.withWatchedSubscription { events in
            var reader = EventReader(events)
            let offer = try #require(try await reader.offers().first)
            try await scheduler.accept(offer, operations: [.launch([Harness.task("acked", command: "true", offer: offer)])])
            let first = try await reader.update(for: "acked")
            let again = try await reader.update(for: "acked")
            #expect(first.state == .taskStarting)
            #expect(again.state == .taskStarting)
            #expect(again.uuid == first.uuid)
            try await scheduler.acknowledge(first)
            var next = try await reader.update(for: "acked")
            while next.uuid == first.uuid { next = try await reader.update(for: "acked") }
            #expect(next.state == .taskRunning)
            try await scheduler.acknowledge(next)
            // RUNNING may have been sent again before its acknowledgement arrived (200 ms on a loaded machine).
            var last = try await reader.update(for: "acked")
            while last.uuid == next.uuid { last = try await reader.update(for: "acked") }
            #expect(last.state == .taskFinished)
            try await scheduler.acknowledge(last)
            #expect(await Harness.eventually {
                cluster.snapshot().frameworks.first?.completedTasks.contains { $0.id.value == "acked" } == true
            })
            try await scheduler.teardown()
        }
        await cluster.shutdown()
    }

    @Test("a framework with a failover timeout keeps its task across a disconnect; re-subscribing keeps its id")
    func failoverKeepsTasks() async throws {
        let cluster = LocalCluster(configuration: try Harness.configuration())
        let info = Harness.frameworkInfo("failover", failoverTimeout: 3600)
        let first = Harness.scheduler(cluster, "failover", info: info)
        let frameworkID = try await first.withWatchedSubscription { events in
            var reader = EventReader(events)
            let offer = try #require(try await reader.offers().first)
            try await first.accept(offer, operations: [.launch([Harness.task("kept", command: "sleep 60", offer: offer)])])
            _ = try await reader.next {
                if case .update(let status) = $0 { return status.state == .taskRunning }
                return false
            }
            return try #require(first.status.frameworkID)
        }
        #expect(await Harness.eventually { cluster.snapshot().framework(frameworkID)?.isConnected == false })
        #expect(cluster.snapshot().task(TaskID("kept"))?.state == .taskRunning)
        var resumed = info
        resumed.id = frameworkID
        let second = Harness.scheduler(cluster, "failover", info: resumed)
        try await second.withWatchedSubscription { events in
            var reader = EventReader(events)
            guard case .subscribed(let subscribed) = try await reader.next() else {
                Issue.record("no SUBSCRIBED first")
                return
            }
            #expect(subscribed.frameworkID == frameworkID)
            try await second.reconcile([(TaskID("kept"), nil)])
            let answer = try await reader.next {
                if case .update(let status) = $0 { return status.reason == .reconciliation }
                return false
            }
            guard case .update(let status) = answer else { return }
            #expect(status.taskID.value == "kept")
            #expect(status.state == .taskRunning)
            try await second.teardown()
        }
        #expect(await Harness.eventually { cluster.snapshot().frameworks.first?.completedTasks.first?.state == .taskKilled })
        await cluster.shutdown()
    }

    @Test("with failover timeout 0, closing the stream removes the framework and kills its tasks")
    func disconnectWithoutFailoverTimeoutKills() async throws {
        let cluster = LocalCluster(configuration: try Harness.configuration())
        let scheduler = Harness.scheduler(cluster, "gone")
        let frameworkID = try await scheduler.withWatchedSubscription { events in
            var reader = EventReader(events)
            let offer = try #require(try await reader.offers().first)
            try await scheduler.accept(offer, operations: [.launch([Harness.task("orphan", command: "sleep 60", offer: offer)])])
            _ = try await reader.next {
                if case .update(let status) = $0 { return status.state == .taskRunning }
                return false
            }
            return try #require(scheduler.status.frameworkID)
        }
        #expect(await Harness.eventually { cluster.snapshot().framework(frameworkID)?.isRemoved == true })
        #expect(await Harness.eventually {
            cluster.snapshot().framework(frameworkID)?.completedTasks.first?.state == .taskKilled
        })
        await cluster.shutdown()
    }

    @Test("several agents each make an offer")
    func severalAgents() async throws {
        let cluster = LocalCluster(configuration: try Harness.configuration(agents: 3))
        let scheduler = Harness.scheduler(cluster, "agents")
        let agents = try await scheduler.withWatchedSubscription { events in
            var reader = EventReader(events)
            let offers = try await reader.offers()
            try await scheduler.teardown()
            return Set(offers.map(\.agentID))
        }
        #expect(agents == Set(cluster.agentIDs))
        #expect(agents.count == 3)
        await cluster.shutdown()
    }
}
