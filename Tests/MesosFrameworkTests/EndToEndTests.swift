import Foundation
import MesosCore
import MesosFramework
import MesosInMemoryTransport
import MesosScheduler
import MesosTestKit
import Testing

/// One test per service against the test kit's fake master, with a real ``MesosScheduler`` over the in-memory
/// transport: the calls the services decide arrive at the master.
@Suite struct EndToEndTests {
    func frameworkInfo(roles: [String]) -> FrameworkInfo {
        var info = FrameworkInfo()
        info.user = "tester"
        info.name = "framework-services-tests"
        info.roles = roles
        info.addCapability(.multiRole)
        info.failoverTimeout = 3600
        return info
    }

    func makeScheduler(
        master: FakeMaster, roles: [String] = ["web", "db"],
        acknowledgements: MesosSchedulerConfiguration.AcknowledgementMode = .explicit
    ) -> MesosScheduler {
        var configuration = MesosSchedulerConfiguration(
            frameworkInfo: self.frameworkInfo(roles: roles),
            master: .fixed(MasterLocation(host: "fake-master", port: 5050)),
            transport: master.transport)
        configuration.contentType = .json
        configuration.acknowledgements = acknowledgements
        configuration.backoff = BackoffPolicy(initial: .milliseconds(10), maximum: .milliseconds(50))
        configuration.heartbeatTolerance = 200
        return MesosScheduler(configuration: configuration)
    }

    func makeMaster() -> FakeMaster {
        FakeMaster(configuration: .init(hostname: "fake-master", port: 5050, heartbeatInterval: .milliseconds(50)))
    }

    /// Runs the scheduler and the services' timers around `body`, then stops both.
    func running(
        _ scheduler: MesosScheduler, _ services: FrameworkServices, _ body: @Sendable () async throws -> Void
    ) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await scheduler.run() }
            group.addTask { await services.run() }
            defer { group.cancelAll() }
            try await body()
            scheduler.disconnect()
        }
    }

    func subscribedFramework(_ master: FakeMaster) async throws -> FrameworkID {
        try await master.waitUntil(timeout: .seconds(60)) { !$0.subscribedFrameworkIDs.isEmpty }
        return try #require(await master.subscribedFrameworkIDs.first)
    }

    func received(_ master: FakeMaster, _ type: SchedulerCall.TypeEnum) async -> [ReceivedCall] {
        await master.receivedCalls.filter { $0.type == type }
    }

    @Test func offerBookDeclinesAnExpiredOfferAtTheMaster() async throws {
        let master = self.makeMaster()
        let scheduler = self.makeScheduler(master: master)
        let clock = ManualClock()
        let services = FrameworkServices(scheduler: scheduler, configuration: .init(
            offers: .init(holdTime: .seconds(60), holdJitter: .zero, refuseSeconds: .seconds(3600), refuseJitter: .zero),
            clock: clock))
        try await self.running(scheduler, services) {
            let framework = try await self.subscribedFramework(master)
            let offers = try await master.sendOffers(2, to: framework)
            try await master.send(.rescind(offers[1].id), to: framework)
            try await waitUntil { services.offers.map(\.id) == [offers[0].id] }
            await clock.waitForDeadline(.seconds(60))
            #expect(await self.received(master, .decline).isEmpty)
            clock.advance(by: .seconds(60))
            try await master.waitUntil(timeout: .seconds(60)) { $0.receivedCalls.contains { $0.type == .decline } }
            let declines = await self.received(master, .decline)
            #expect(declines.count == 1)
            #expect(declines.first?.call?.decline.offerIds == [offers[0].id], "the rescinded offer is not declined")
            #expect(declines.first?.call?.decline.filters.refuseSeconds == 3600)
            #expect(declines.first?.streamID == scheduler.status.streamID)

            // A lost stream: the held offer is dropped without a DECLINE.
            let held = try await master.sendOffers(1, to: framework)
            try await waitUntil { services.offers.map(\.id) == held.map(\.id) }
            try await master.closeSubscription(of: framework)
            try await waitUntil { services.offers.isEmpty }
            try await master.waitUntil(timeout: .seconds(60)) { $0.receivedCalls.filter { $0.type == .subscribe }.count >= 2 }
            // The services handled the new SUBSCRIBED (at t = 60 s on the manual clock, which has not moved since):
            // the implicit reconciliation is now due 900 s later, no longer at 900 s as after the first one.
            try await waitUntil { services.reconciliation.nextImplicitReconciliation == .seconds(960) }
            // Past any hold time, and past the implicit reconciliation (900 s after the re-subscription), which
            // shows the timers ran.
            #expect(await self.received(master, .reconcile).isEmpty)
            clock.advance(by: .seconds(1000))
            try await master.waitUntil(timeout: .seconds(60)) { $0.receivedCalls.contains { $0.type == .reconcile } }
            #expect(await self.received(master, .decline).count == 1)
        }
    }

    @Test func suppressionIsDeclaredAgainOnResubscription() async throws {
        let master = self.makeMaster()
        let scheduler = self.makeScheduler(master: master)
        let clock = ManualClock()
        let services = FrameworkServices(scheduler: scheduler, configuration: .init(
            suppressRevive: .init(interval: .seconds(5)), clock: clock))
        try await self.running(scheduler, services) {
            let framework = try await self.subscribedFramework(master)
            try await master.waitUntil(timeout: .seconds(60)) { $0.receivedCalls.contains { $0.type == .suppress } }
            #expect(await self.received(master, .suppress).first?.call?.suppress.roles == ["db", "web"])
            #expect(throws: FrameworkServicesError.unknownRole("ops")) { try services.setPendingWork(1, for: "ops") }
            try services.setPendingWork(3, for: "db")
            clock.advance(by: .seconds(5))
            try await master.waitUntil(timeout: .seconds(60)) { $0.receivedCalls.contains { $0.type == .revive } }
            #expect(await self.received(master, .revive).first?.call?.revive.roles == ["db"])
            try await waitUntil { services.suppressedRoles == ["web"] }
            // The master drops the stream; the scheduler re-subscribes declaring web (idle) suppressed.
            try await master.closeSubscription(of: framework)
            try await master.waitUntil(timeout: .seconds(60)) { $0.receivedCalls.filter { $0.type == .subscribe }.count >= 2 }
            let resubscribe = await self.received(master, .subscribe).last
            #expect(resubscribe?.call?.subscribe.suppressedRoles == ["web"])
        }
    }

    @Test func acknowledgementsAfterCommitArriveOnTheLiveStream() async throws {
        let master = self.makeMaster()
        let scheduler = self.makeScheduler(master: master)
        let commits = CommitLog()
        let services = FrameworkServices(scheduler: scheduler, configuration: .init(
            acknowledgements: .afterCommit { update in try commits.commit(update) }, clock: ManualClock()))
        try await self.running(scheduler, services) {
            let framework = try await self.subscribedFramework(master)
            let reply = status("T0", .taskRunning, agent: "A1", reason: .reconciliation)
            try await master.send(.update(reply), to: framework)
            let running = status("T1", .taskRunning, agent: "A1", uuid: uuid(7))
            try await master.send(.update(running), to: framework)
            do {
                try await master.waitUntil(timeout: .seconds(60)) { $0.receivedCalls.contains { $0.type == .acknowledge } }
            } catch {
                Issue.record("no ACKNOWLEDGE; records: \(services.acknowledgementRecords); calls: \(await master.receivedCalls.map { $0.type.map { "\($0)" } ?? "?" })")
                throw error
            }
            let acks = await self.received(master, .acknowledge)
            #expect(acks.count == 1)
            #expect(acks.first?.call?.acknowledge.taskID.value == "T1")
            #expect(acks.first?.call?.acknowledge.uuid == uuid(7))
            #expect(acks.first?.streamID == scheduler.status.streamID)
            #expect(acks.first?.status == 202)
            #expect(commits.committed.count == 2, "both updates committed, only the one with a uuid acknowledged")
        }
    }

    @Test func aSchedulerThatAcknowledgesItselfIsNotDoubled() async throws {
        let master = self.makeMaster()
        let scheduler = self.makeScheduler(master: master, acknowledgements: .automatic)
        let services = FrameworkServices(scheduler: scheduler, configuration: .init(clock: ManualClock()))
        try await self.running(scheduler, services) {
            let framework = try await self.subscribedFramework(master)
            try await master.send(.update(status("T1", .taskRunning, agent: "A1", uuid: uuid(8))), to: framework)
            try await master.waitUntil(timeout: .seconds(60)) { $0.receivedCalls.contains { $0.type == .acknowledge } }
            // A later event on the same stream: once it was handled, the first update's handling is over too.
            try await master.send(.update(status("T2", .taskRunning, agent: "A1")), to: framework)
            try await waitUntil { services.acknowledgementRecords.count >= 2 }
            #expect(services.acknowledgementRecords.map(\.outcome) == [.leftToScheduler, .notAcknowledgeable])
            #expect(await self.received(master, .acknowledge).count == 1)
        }
    }

    @Test func reconciliationAndUnknownTaskKillReachTheMaster() async throws {
        let master = self.makeMaster()
        let scheduler = self.makeScheduler(master: master)
        let services = FrameworkServices(scheduler: scheduler, configuration: .init(
            reconciliation: .init(killUnknownTasks: true), clock: ManualClock()))
        services.track(TaskID("T1"), agentID: AgentID("A1"), state: .taskRunning)
        try await self.running(scheduler, services) {
            let framework = try await self.subscribedFramework(master)
            try await master.waitUntil(timeout: .seconds(60)) { $0.receivedCalls.contains { $0.type == .reconcile } }
            let reconcile = await self.received(master, .reconcile)
            #expect(reconcile.first.flatMap { $0.call.map(reconciled) } == ["T1@A1"])
            try await master.send(.update(status("T9", .taskRunning, agent: "A2", reason: .reconciliation)), to: framework)
            try await master.waitUntil(timeout: .seconds(60)) { $0.receivedCalls.contains { $0.type == .kill } }
            let kill = await self.received(master, .kill).first?.call?.kill
            #expect(kill?.taskID.value == "T9")
            #expect(kill?.agentID.value == "A2")
        }
    }
}
