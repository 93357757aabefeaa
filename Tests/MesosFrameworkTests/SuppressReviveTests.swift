import MesosCore
import MesosFramework
import MesosScheduler
import MesosTestKit
import Testing

/// T9: the suppress/revive controller (roles {web, db}, 5 s debounce).
@Suite struct SuppressReviveTests {
    func controller() -> SuppressReviveController {
        SuppressReviveController(roles: ["web", "db"], configuration: .init(interval: .seconds(5)))
    }

    /// Runs every round due up to `end`, step by step, and returns the directives with their times.
    func drive(
        _ controller: inout SuppressReviveController, from start: Duration, to end: Duration, step: Duration = .milliseconds(100),
        changes: [Duration: (inout SuppressReviveController) -> Void] = [:]
    ) -> [(Duration, SuppressReviveController.Directive)] {
        var result: [(Duration, SuppressReviveController.Directive)] = []
        var now = start
        while now <= end {
            changes[now]?(&controller)
            for directive in controller.directives(now: now) {
                controller.confirm(directive)
                result.append((now, directive))
            }
            now += step
        }
        return result
    }

    @Test func firstRoundSuppressesEveryIdleRole() {
        var controller = self.controller()
        let result1 = controller.directives(now: .zero)
        #expect(result1 == [.suppress(["db", "web"])])
        controller.confirm(.suppress(["db", "web"]))
        #expect(controller.suppressedRoles == ["db", "web"])
        let result2 = controller.directives(now: .seconds(100))
        #expect(result2.isEmpty)
        #expect(controller.nextDeadline(now: .seconds(100)) == nil)
    }

    @Test func aBurstOfWorkRevivesOnceThenRepeatsOnce() throws {
        var controller = self.controller()
        _ = self.drive(&controller, from: .zero, to: .zero)
        var changes: [Duration: (inout SuppressReviveController) -> Void] = [:]
        // web goes 0 → 100 within one second, in ten steps.
        for step in 0..<10 {
            changes[.seconds(10) + .milliseconds(100 * step)] = { try? $0.setPending((step + 1) * 10, for: "web") }
        }
        let directives = self.drive(&controller, from: .seconds(10), to: .seconds(60), changes: changes)
        let revives = directives.filter { if case .revive = $0.1 { return true } else { return false } }
        #expect(revives.map(\.0) == [.seconds(10), .seconds(15)], "one revive, then one repeat an interval later")
        #expect(revives.map(\.1) == [.revive(["web"]), .revive(["web"])])
        #expect(directives.count == 2)
        #expect(controller.suppressedRoles == ["db"])
    }

    @Test func idleAgainSuppressesBothRoles() throws {
        var controller = self.controller()
        _ = self.drive(&controller, from: .zero, to: .zero)
        try controller.setPending(3, for: "web")
        _ = self.drive(&controller, from: .seconds(10), to: .seconds(30))
        #expect(controller.suppressedRoles == ["db"])
        try controller.setPending(0, for: "web")
        let directives = self.drive(&controller, from: .seconds(30), to: .seconds(40))
        #expect(directives.map(\.1) == [.suppress(["web"])])
        #expect(controller.suppressedRoles == ["db", "web"])
        #expect(controller.idleRoles == ["db", "web"])
    }

    @Test func debounceKeepsOnlyTheLatestFrame() throws {
        var controller = self.controller()
        _ = self.drive(&controller, from: .zero, to: .zero)
        // Within one interval web flaps busy → idle; only the latest state (idle) matters at the next round.
        try controller.setPending(1, for: "db")
        let result3 = controller.directives(now: .seconds(1))
        #expect(result3.isEmpty, "debounced")
        #expect(controller.nextDeadline(now: .seconds(1)) == .seconds(5))
        try controller.setPending(0, for: "db")
        let result4 = controller.directives(now: .seconds(5))
        #expect(result4.isEmpty)
        #expect(controller.suppressedRoles == ["db", "web"])
    }

    @Test func steadyNewWorkRevivesOnlyAfterTheCooldown() throws {
        var controller = SuppressReviveController(
            roles: ["web", "db"], configuration: .init(interval: .seconds(5), reviveCooldown: .seconds(120)))
        _ = self.drive(&controller, from: .zero, to: .zero)
        var changes: [Duration: (inout SuppressReviveController) -> Void] = [:]
        for tenth in 0..<1800 {  // new web work every 100 ms for three minutes
            changes[.seconds(10) + .milliseconds(100 * tenth)] = { try? $0.setPending(tenth + 1, for: "web") }
        }
        let revives = self.drive(&controller, from: .seconds(10), to: .seconds(190), changes: changes)
            .filter { if case .revive = $0.1 { return true } else { return false } }
        #expect(revives.map(\.0) == [.seconds(10), .seconds(15), .seconds(130), .seconds(135)])
    }

    @Test func unknownRoleIsALocalError() {
        var controller = self.controller()
        var error: FrameworkServicesError?
        do { try controller.setPending(1, for: "ops") } catch let thrown { error = thrown }
        #expect(error == .unknownRole("ops"))
        let result5 = controller.directives(now: .zero)
        #expect(result5 == [.suppress(["db", "web"])], "nothing about ops")
    }

    @Test func failedReviveIsRetriedAtTheNextRound() throws {
        var controller = self.controller()
        _ = self.drive(&controller, from: .zero, to: .zero)
        try controller.setPending(1, for: "web")
        let first = controller.directives(now: .seconds(10))
        #expect(first == [.revive(["web"])])
        controller.fail(.revive(["web"]))
        #expect(controller.suppressedRoles == ["db", "web"])
        let result6 = controller.directives(now: .seconds(12))
        #expect(result6.isEmpty)
        let result7 = controller.directives(now: .seconds(15))
        #expect(result7 == [.revive(["web"])])
    }

    @Test func resubscriptionChecksTheDeclaredStateAtOnce() throws {
        var controller = self.controller()
        _ = self.drive(&controller, from: .zero, to: .zero)
        try controller.setPending(2, for: "db")
        _ = self.drive(&controller, from: .seconds(10), to: .seconds(20))
        #expect(controller.suppressedRoles == ["web"])
        #expect(controller.idleRoles == ["web"], "what SUBSCRIBE must declare: db busy, web idle")
        // A SUBSCRIBE that declared nothing suppressed (a master that forgot): a SUPPRESS right after, at once,
        // even inside the debounce interval.
        _ = controller.directives(now: .seconds(20))
        controller.subscribed(declared: [])
        let result8 = controller.directives(now: .seconds(21))
        #expect(result8 == [.suppress(["web"])])
    }
}

/// T9 through the composed services.
@Suite struct SuppressReviveServicesTests {
    @Test func servicesSendDirectivesAndRefuseUnknownRoles() async throws {
        let (services, calls, clock, _) = makeServices { $0.suppressRevive = .init(interval: .seconds(5)) }
        await services.handle(subscribedEvent)
        #expect(calls.calls(.suppress).map(\.suppress.roles) == [["db", "web"]])
        #expect(throws: FrameworkServicesError.unknownRole("ops")) { try services.setPendingWork(1, for: "ops") }
        #expect(calls.calls.count == 1, "nothing sent for an unknown role")
        clock.advance(by: .seconds(10))
        try services.setPendingWork(100, for: "web")
        await services.performDueWork()
        #expect(calls.calls(.revive).map(\.revive.roles) == [["web"]])
        clock.advance(by: .seconds(5))
        await services.performDueWork()
        clock.advance(by: .seconds(60))
        await services.performDueWork()
        #expect(calls.calls(.revive).map(\.revive.roles) == [["web"], ["web"]])
        #expect(services.suppressedRoles == ["db"])
        try services.setPendingWork(0, for: "web")
        await services.performDueWork()
        #expect(calls.calls(.suppress).map(\.suppress.roles) == [["db", "web"], ["web"]])
        #expect(services.suppressedRoles == ["db", "web"])
    }

    @Test func failedSuppressIsNotConfirmed() async throws {
        let (services, calls, clock, log) = makeServices()
        calls.setFailing(.suppress, true)
        await services.handle(subscribedEvent)
        #expect(services.suppressedRoles.isEmpty)
        #expect(log.all.contains { if case .callFailed(.suppress, _) = $0 { return true } else { return false } })
        calls.setFailing(.suppress, false)
        clock.advance(by: .seconds(5))
        await services.performDueWork()
        #expect(services.suppressedRoles == ["db", "web"])
    }
}
