import Foundation
import MesosCore
import MesosLocalCluster
import MesosResources
import MesosScheduler
import MesosTestKit
import Testing

/// Agents with their own resources, static reservations, attributes and domains; offers per role; launches
/// checked as the master checks them; suppression per role; decline filters per agent; reconciliation answers.
@Suite("Local cluster: roles, reservations and attributes", .timeLimit(.minutes(2)))
struct LocalClusterRolesTests {
    static let reservedAgent = "cpus:1;mem:1024;cpus(batch):1;mem(batch):512;ports:[31000-31010]"

    /// Two agents: `agent1.local` with reserved resources, attributes and a domain; `agent2.local` unreserved.
    static func twoAgents() throws -> LocalCluster.Configuration {
        var configuration = try Harness.configuration(agents: 2)
        configuration.agentDefinitions = [
            try .parsing(resources: Self.reservedAgent, attributes: "rack:r1;zone:a;level:3", hostname: "agent1.local",
                         region: "eu", zone: "eu-1"),
            try .parsing(resources: "cpus:2;mem:2048", attributes: "rack:r2", hostname: "agent2.local"),
        ]
        return configuration
    }

    static func info(_ name: String, roles: [String], capabilities: [FrameworkInfo.Capability.TypeEnum] = [.multiRole]) -> FrameworkInfo {
        var info = Harness.frameworkInfo(name, multiRole: false)
        if capabilities.contains(.multiRole) {
            info.roles = roles
        } else {
            info.role = roles[0]
        }
        info.capabilities = capabilities.map { type in
            var capability = FrameworkInfo.Capability()
            capability.type = type
            return capability
        }
        return info
    }

    static func scheduler(_ cluster: LocalCluster, info: FrameworkInfo, suppressedRoles: Set<String> = []) -> MesosScheduler {
        var configuration = MesosSchedulerConfiguration(frameworkInfo: info, master: cluster.detector, transport: cluster.transport)
        configuration.maximumSubscriptionAttempts = 1
        configuration.suppressedRoles = suppressedRoles
        return MesosScheduler(configuration: configuration)
    }

    static func text(_ attribute: Attribute) -> String? {
        attribute.type == .text ? attribute.text.value : nil
    }

    @Test("a MULTI_ROLE framework gets one offer per agent and role: the reserved resources for their role, the unreserved for the other (as the real master splits them); attributes, host name and domain carried",
          arguments: [["*", "batch"], ["batch", "*"]])
    func offersPerRole(roles: [String]) async throws {
        let cluster = LocalCluster(configuration: try Self.twoAgents())
        let scheduler = Self.scheduler(cluster, info: Self.info("roles", roles: roles))
        try await scheduler.withWatchedSubscription { events in
            var reader = EventReader(events)
            // Every offer of the first allocation comes in one event.
            let offers = try await reader.offers()
            let agent1 = offers.filter { $0.hostname == "agent1.local" }
            let agent2 = offers.filter { $0.hostname == "agent2.local" }
            #expect(agent1.count == 2)
            #expect(agent2.count == 1)
            let batch = try #require(agent1.first { $0.allocationInfo.role == "batch" })
            let star = try #require(agent1.first { $0.allocationInfo.role == "*" })
            #expect(Harness.scalar("cpus", in: batch.resources) == 1)
            #expect(Harness.scalar("mem", in: batch.resources) == 512)
            #expect(batch.resources.allSatisfy { $0.role == "batch" && $0.allocationInfo.role == "batch" && $0.reservations.isEmpty })
            #expect(Harness.scalar("cpus", in: star.resources) == 1)
            #expect(Harness.scalar("mem", in: star.resources) == 1024)
            #expect(star.resources.allSatisfy { $0.role == "*" && $0.allocationInfo.role == "*" })
            #expect(star.resources.contains { $0.name == "ports" })
            #expect(batch.attributes.map(\.name) == ["rack", "zone", "level"])
            #expect(batch.attributes.first.flatMap(Self.text) == "r1")
            #expect(batch.attributes.last?.type == .scalar)
            #expect(batch.attributes.last?.scalar.value == 3)
            #expect(batch.domain.faultDomain.region.name == "eu")
            #expect(batch.domain.faultDomain.zone.name == "eu-1")
            let other = try #require(agent2.first)
            #expect(roles.contains(other.allocationInfo.role))
            #expect(other.attributes.first.flatMap(Self.text) == "r2")
            #expect(!other.hasDomain)
            let snapshot = cluster.snapshot()
            #expect(snapshot.agents.map(\.hostname) == ["agent1.local", "agent2.local"])
            #expect(snapshot.agents.first?.attributes.count == 3)
            try await scheduler.teardown()
        }
        await cluster.shutdown()
    }

    @Test("a framework of role '*' never sees reserved resources; a single-role 'batch' framework gets both kinds, pre-refinement, without allocation_info")
    func reservedOnlyForTheirRole() async throws {
        var configuration = try Harness.configuration()
        configuration.agentDefinitions = [try .parsing(resources: Self.reservedAgent)]
        let cluster = LocalCluster(configuration: configuration)
        let star = Self.scheduler(cluster, info: Self.info("star", roles: ["*"]))
        try await star.withWatchedSubscription { events in
            var reader = EventReader(events)
            let offer = try #require(try await reader.offers().first)
            #expect(Harness.scalar("cpus", in: offer.resources) == 1)
            #expect(Harness.scalar("mem", in: offer.resources) == 1024)
            #expect(offer.resources.allSatisfy { $0.role == "*" })
            try await star.teardown()
        }
        let batch = Self.scheduler(cluster, info: Self.info("batch", roles: ["batch"], capabilities: []))
        try await batch.withWatchedSubscription { events in
            var reader = EventReader(events)
            let offer = try #require(try await reader.offers().first)
            #expect(!offer.hasAllocationInfo)
            #expect(offer.resources.allSatisfy { !$0.hasAllocationInfo })
            #expect(Harness.scalar("cpus", in: offer.resources) == 2)
            #expect(Harness.scalar("cpus", in: offer.resources.filter { $0.role == "batch" }) == 1)
            #expect(Harness.scalar("mem", in: offer.resources.filter { $0.role == "batch" }) == 512)
            try await batch.teardown()
        }
        let refined = Self.scheduler(cluster, info: Self.info("refined", roles: ["batch"], capabilities: [.multiRole, .reservationRefinement]))
        try await refined.withWatchedSubscription { events in
            var reader = EventReader(events)
            let offer = try #require(try await reader.offers().first)
            let reserved = offer.resources.filter { !$0.reservations.isEmpty }
            #expect(reserved.count == 2)
            #expect(reserved.allSatisfy { $0.reservations.count == 1 && $0.reservations[0].type == .static && $0.reservations[0].role == "batch" && !$0.hasRole })
            try await refined.teardown()
        }
        await cluster.shutdown()
    }

    @Test("a task may use reserved and unreserved pieces of a role's offer; missing allocation_info is injected; too much reserved cpu is TASK_ERROR")
    func launchWithReservedResources() async throws {
        var configuration = try Harness.configuration()
        configuration.agentDefinitions = [try .parsing(resources: Self.reservedAgent)]
        let cluster = LocalCluster(configuration: configuration)
        let scheduler = Self.scheduler(cluster, info: Self.info("launch", roles: ["batch"]))
        try await scheduler.withWatchedSubscription { events in
            var reader = EventReader(events)
            let offer = try #require(try await reader.offers().first)
            var reservedCPU = try #require(offer.resources.first { $0.name == "cpus" && $0.role == "batch" })
            reservedCPU.scalar.value = 1
            var task = Harness.task("mixed", command: "true", offer: offer, cpus: 0.5, mem: 600, role: nil)
            task.resources.append(reservedCPU)
            var tooMuch = Harness.task("too-much", command: "true", offer: offer, cpus: 0.1, mem: 32, role: nil)
            var twoReservedCPUs = reservedCPU
            twoReservedCPUs.scalar.value = 2
            tooMuch.resources.append(twoReservedCPUs)
            var twoRoles = Harness.task("two-roles", command: "true", offer: offer, cpus: 0.1, mem: 32, role: "*")
            twoRoles.resources.append(reservedCPU)
            try await scheduler.accept(offer, operations: [.launch([tooMuch, twoRoles, task])], filters: .refuse(seconds: 0))
            let mixed = try await reader.update(for: "two-roles")
            #expect(mixed.state == .taskError)
            #expect(mixed.message == "Invalid task resources: The resources have multiple allocation roles ('batch' and '*') but only one allocation role is allowed")
            let refused = try await reader.update(for: "too-much")
            #expect(refused.state == .taskError)
            #expect(refused.reason == .taskInvalid)
            #expect(refused.source == .master)
            #expect(refused.message.hasPrefix("Total resources cpus(allocated: batch):0.1; mem(allocated: batch):32; cpus(allocated: batch)(reservations: [(STATIC,batch)]):2 "))
            let available = try #require(refused.message.components(separatedBy: " required by task and its executor is more than available ").last)
            #expect(Set(available.components(separatedBy: "; ")) == [
                "cpus(allocated: batch)(reservations: [(STATIC,batch)]):1", "mem(allocated: batch)(reservations: [(STATIC,batch)]):512",
                "cpus(allocated: batch):1", "mem(allocated: batch):1024", "ports(allocated: batch):[31000-31010]",
            ])
            let statuses = try await reader.updatesUntilTerminal(for: "mixed")
            #expect(statuses.last?.state == .taskFinished)
            let launched = try #require(cluster.snapshot().task(TaskID("mixed")))
            #expect(launched.resources.allSatisfy { $0.allocationInfo.role == "batch" })
            try await scheduler.teardown()
        }
        await cluster.shutdown()
    }

    @Test("suppressed_roles at SUBSCRIBE and SUPPRESS stop one role's offers only; a call naming a role the framework lacks is ignored; REVIVE brings the role back")
    func suppressPerRole() async throws {
        var configuration = try Harness.configuration()
        configuration.agentDefinitions = [try .parsing(resources: Self.reservedAgent)]
        let cluster = LocalCluster(configuration: configuration)
        let scheduler = Self.scheduler(cluster, info: Self.info("suppress", roles: ["*", "batch"]), suppressedRoles: ["batch"])
        try await scheduler.withWatchedSubscription { events in
            var reader = EventReader(events)
            let first = try await reader.offers()
            #expect(first.map(\.allocationInfo.role) == ["*"])
            #expect(cluster.snapshot().frameworks.first?.suppressedRoles == ["batch"])
            // "web" is not one of its roles: the whole call is ignored, "batch" stays suppressed.
            try await scheduler.revive(roles: ["batch", "web"])
            try await scheduler.suppress(roles: ["*"])
            #expect(await Harness.eventually { cluster.snapshot().frameworks.first?.suppressedRoles == ["*", "batch"] })
            try await scheduler.revive(roles: ["batch"])
            let revived = try await reader.offers()
            #expect(revived.map(\.allocationInfo.role) == ["batch"])
            #expect(Harness.scalar("cpus", in: revived[0].resources) == 1)
            #expect(cluster.snapshot().frameworks.first?.suppressedRoles == ["*"])
            try await scheduler.teardown()
        }
        await cluster.shutdown()
    }

    @Test("a decline filter keeps one agent's resources from the framework while another agent's are offered again; REVIVE clears it")
    func declineFilterPerAgent() async throws {
        let cluster = LocalCluster(configuration: try Self.twoAgents())
        let scheduler = Self.scheduler(cluster, info: Self.info("filters", roles: ["*"]))
        try await scheduler.withWatchedSubscription { events in
            var reader = EventReader(events)
            let offers = try await reader.offers()
            let first = try #require(offers.first { $0.hostname == "agent1.local" })
            let second = try #require(offers.first { $0.hostname == "agent2.local" })
            try await scheduler.decline([first.id], filters: .refuse(seconds: 3600))
            try await scheduler.decline([second.id], filters: .refuse(seconds: 0))
            for _ in 0..<3 {
                let again = try await reader.offers()
                #expect(again.map(\.hostname) == ["agent2.local"])
                try await scheduler.decline(again.map(\.id), filters: .refuse(seconds: 0))
            }
            try await scheduler.revive()
            var back = try await reader.offers()
            while !back.contains(where: { $0.hostname == "agent1.local" }) {
                try await scheduler.decline(back.map(\.id), filters: .refuse(seconds: 3600))
                back = try await reader.offers()
            }
            try await scheduler.teardown()
        }
        await cluster.shutdown()
    }

    @Test("a DECLINE without filters refuses that agent's resources for 5 s on the cluster's clock, not a moment less")
    func declineFilterExpiresOnTheClusterClock() async throws {
        let clock = ManualClock()
        var configuration = try Self.twoAgents()
        configuration.clock = clock
        let cluster = LocalCluster(configuration: configuration)
        let scheduler = Self.scheduler(cluster, info: Self.info("clock", roles: ["*"]))
        try await scheduler.withWatchedSubscription { events in
            var reader = EventReader(events)
            let offers = try await reader.offers()
            let first = try #require(offers.first { $0.hostname == "agent1.local" })
            let second = try #require(offers.first { $0.hostname == "agent2.local" })
            try await scheduler.decline([first.id])
            try await scheduler.decline([second.id], filters: .refuse(seconds: 0))
            // Each DECLINE of agent2's offer makes the master allocate again, at once.
            var again = try await reader.offers()
            #expect(again.map(\.hostname) == ["agent2.local"])
            clock.advance(by: .milliseconds(4990))
            try await scheduler.decline(again.map(\.id), filters: .refuse(seconds: 0))
            again = try await reader.offers()
            #expect(again.map(\.hostname) == ["agent2.local"])
            clock.advance(by: .milliseconds(10))
            try await scheduler.decline(again.map(\.id), filters: .refuse(seconds: 0))
            // The filter has expired: the next allocation (this DECLINE's, or the periodic one just before it)
            // offers agent1 again.
            var seen = Set<String>()
            while !seen.contains("agent1.local") {
                let next = try await reader.offers()
                seen.formUnion(next.map(\.hostname))
            }
            try await scheduler.teardown()
        }
        await cluster.shutdown()
    }

    @Test("reconciliation answers with the state of the unacknowledged update; implicit reconciliation includes a finished task until it is acknowledged")
    func reconcileUnacknowledged() async throws {
        let cluster = LocalCluster(configuration: try Harness.configuration())
        let scheduler = Harness.scheduler(cluster, "unacked", acknowledgements: .explicit)
        try await scheduler.withWatchedSubscription { events in
            var reader = EventReader(events)
            let offer = try #require(try await reader.offers().first)
            try await scheduler.accept(offer, operations: [.launch([Harness.task("quick", command: "true", offer: offer)])])
            let starting = try await reader.update(for: "quick")
            #expect(starting.state == .taskStarting)
            // The task finishes meanwhile, but STARTING is what the framework was sent and has not acknowledged.
            #expect(await Harness.eventually { cluster.snapshot().task(TaskID("quick"))?.state == .taskFinished })
            try await scheduler.reconcile([(TaskID("quick"), offer.agentID)])
            #expect(try await reader.reconciliation(for: "quick").state == .taskStarting)
            try await scheduler.acknowledge(starting)
            var next = try await reader.update(for: "quick")
            while next.state != .taskFinished {
                if next.needsAcknowledgement { try await scheduler.acknowledge(next) }
                next = try await reader.update(for: "quick")
            }
            try await scheduler.reconcile()
            let implicit = try await reader.reconciliation(for: "quick")
            #expect(implicit.state == .taskFinished)
            #expect(!implicit.needsAcknowledgement)
            try await scheduler.acknowledge(next)
            try await scheduler.teardown()
        }
        await cluster.shutdown()
    }

    @Test("explicit reconciliation of unknown tasks: TASK_UNKNOWN (no agent) and TASK_GONE (known agent) for PARTITION_AWARE frameworks, TASK_LOST otherwise")
    func reconcileUnknownTasks() async throws {
        let cluster = LocalCluster(configuration: try Harness.configuration())
        let aware = Self.scheduler(cluster, info: Self.info("aware", roles: ["*"], capabilities: [.multiRole, .partitionAware]))
        try await aware.withWatchedSubscription { events in
            var reader = EventReader(events)
            _ = try await reader.offers()
            let agent = try #require(cluster.agentIDs.first)
            try await aware.reconcile([(TaskID("nowhere"), nil), (TaskID("gone"), agent), (TaskID("elsewhere"), AgentID("no-such-agent"))])
            let nowhere = try await reader.reconciliation(for: "nowhere")
            #expect(nowhere.state == .taskUnknown)
            #expect(nowhere.source == .master)
            #expect(!nowhere.needsAcknowledgement)
            #expect(try await reader.reconciliation(for: "gone").state == .taskGone)
            #expect(try await reader.reconciliation(for: "elsewhere").state == .taskUnknown)
            try await aware.teardown()
        }
        let plain = Self.scheduler(cluster, info: Self.info("plain", roles: ["*"]))
        try await plain.withWatchedSubscription { events in
            var reader = EventReader(events)
            _ = try await reader.offers()
            try await plain.reconcile([(TaskID("nowhere"), nil)])
            let nowhere = try await reader.reconciliation(for: "nowhere")
            #expect(nowhere.state == .taskLost)
            #expect(nowhere.reason == .reconciliation)
            try await plain.teardown()
        }
        await cluster.shutdown()
    }

    @Test("agent definitions: attribute kinds, defaults for agents past the definitions, and errors that name the offset")
    func definitions() throws {
        let agent = try LocalCluster.AgentDefinition.parsing(attributes: " rack:r1;level:3; ids:[1-5,8-9];tags:{x,y} ")
        #expect(agent.attributes.map(\.type) == [.text, .scalar, .ranges, .set])
        #expect(agent.attributesText == "rack:r1;level:3;ids:[1-5,8-9];tags:{x,y}")
        #expect(agent.resources == nil)
        var configuration = LocalCluster.Configuration(agents: 3, agentResources: try .init(parsing: "cpus:1;mem:64"),
                                                       agentDefinitions: [agent])
        configuration.hostname = "host"
        #expect(configuration.agentCount == 3)
        #expect(configuration.agent(at: 2).hostname == "host")
        #expect(configuration.agent(at: 2).resources?.description == "cpus:1;mem:64")
        #expect(configuration.agent(at: 0).attributes.count == 4)
        configuration.agents = 0
        #expect(configuration.agentCount == 1)

        let attributeError = #expect(throws: MesosError.self) { try LocalCluster.AgentDefinition.parsing(attributes: "rack:r1;zone") }
        #expect(attributeError?.code == .invalidConfiguration)
        #expect(attributeError?.message.contains("offset 12") == true)
        #expect(throws: MesosError.self) { try LocalCluster.AgentDefinition.parsing(attributes: "rack:") }
        #expect(throws: MesosError.self) { try LocalCluster.AgentDefinition.parsing(attributes: "ids:[5-1]") }
        #expect(throws: MesosError.self) { try LocalCluster.AgentDefinition.parsing(region: "eu") }
        let resourceError = #expect(throws: MesosError.self) { try LocalCluster.AgentDefinition.parsing(resources: "cpus:1;mem:lots") }
        #expect(resourceError?.message.contains("offset 11") == true)
        #expect(throws: MesosError.self) { try LocalCluster.AgentResources(parsing: "") }
        let reserved = try LocalCluster.AgentResources(parsing: Self.reservedAgent)
        #expect(reserved.description == Self.reservedAgent)
    }

    @Test("agent definitions from the repeatable command-line flags: the i-th occurrence for the i-th agent, errors naming flag and occurrence")
    func definitionsFromFlags() throws {
        #expect(try LocalCluster.AgentDefinition.fromFlags(agents: 1, resources: [], attributes: []).isEmpty)
        let agents = try LocalCluster.AgentDefinition.fromFlags(
            agents: 3, resources: ["cpus:1;mem:64", "cpus:2;mem:128"], attributes: ["rack:r1"])
        #expect(agents.map(\.hostname) == ["agent1.local", "agent2.local", "agent3.local"])
        #expect(agents.map { $0.resources?.description } == ["cpus:1;mem:64", "cpus:2;mem:128", nil])
        #expect(agents.map(\.attributesText) == ["rack:r1", "", ""])
        let single = try LocalCluster.AgentDefinition.fromFlags(agents: 1, resources: [], attributes: ["zone:a"])
        #expect(single.count == 1)
        #expect(single.first?.hostname == nil, "one agent keeps the cluster's host name")

        let tooMany = #expect(throws: MesosError.self) {
            try LocalCluster.AgentDefinition.fromFlags(agents: 2, resources: [], attributes: ["a:1", "a:2", "a:3"])
        }
        #expect(tooMany?.message == "--local-agent-attributes is given 3 times, but there are 2 agents (--local-agents 2)")
        let malformed = #expect(throws: MesosError.self) {
            try LocalCluster.AgentDefinition.fromFlags(agents: 2, resources: ["cpus:1", "cpus:1;mem:x"], attributes: [])
        }
        #expect(malformed?.message.hasPrefix(
            "--local-agent-resources (occurrence 2, agent 2): Malformed resources 'cpus:1;mem:x': at offset 11") == true)
    }
}
