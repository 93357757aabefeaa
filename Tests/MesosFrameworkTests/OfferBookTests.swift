import Foundation
import MesosCore
import MesosFramework
import MesosScheduler
import MesosTestKit
import Testing

/// The error `take` throws on a copy of the book, if any.
func takeError(_ book: OfferBook, _ ids: [OfferID]) -> OfferBookError? {
    var copy = book
    do {
        _ = try copy.take(ids)
        return nil
    } catch {
        return error
    }
}

/// T8: the offer book.
@Suite struct OfferBookTests {
    /// O1 (A1, web, t=0), O2 (A1, web, t=1), O3 (A2, web), O4 (A1, db).
    func bookWithFourOffers(_ configuration: OfferBook.Configuration = .init()) -> OfferBook {
        var book = OfferBook(configuration: configuration, random: SplitMix64(seed: 1))
        book.add([offer("O1", agent: "A1", role: "web")], now: .zero)
        book.add([offer("O2", agent: "A1", role: "web")], now: .seconds(1))
        book.add([offer("O3", agent: "A2", role: "web"), offer("O4", agent: "A1", role: "db")], now: .seconds(1))
        return book
    }

    @Test func combinesOnlyOffersOfOneAgentAndOneRole() throws {
        var book = self.bookWithFourOffers()
        #expect(book.offers(on: AgentID("A1"), role: "web").map(\.id.value) == ["O1", "O2"])
        #expect(takeError(book, [OfferID("O1"), OfferID("O3")]) == .differentAgents(OfferID("O1"), OfferID("O3")))
        #expect(takeError(book, [OfferID("O1"), OfferID("O4")]) == .differentRoles(OfferID("O1"), OfferID("O4")))
        #expect(takeError(book, [OfferID("O1"), OfferID("O1")]) == OfferBookError.duplicate(OfferID("O1")))
        #expect(book.count == 4, "a refused take removes nothing")
        let taken = try book.take([OfferID("O1"), OfferID("O2")])
        #expect(taken.map(\.id.value) == ["O1", "O2"])
        #expect(book.offers.map(\.id.value).sorted() == ["O3", "O4"])
        #expect(takeError(book, [OfferID("O1")]) == OfferBookError.notHeld(OfferID("O1")))
    }

    @Test func rescindRemovesTheOffer() throws {
        var book = self.bookWithFourOffers()
        let result1 = book.rescind(OfferID("O2"))
        #expect(result1)
        let result2 = book.rescind(OfferID("O2"))
        #expect(!result2)
        #expect(book.offer(OfferID("O2")) == nil)
        #expect(takeError(book, [OfferID("O1"), OfferID("O2")]) == OfferBookError.notHeld(OfferID("O2")))
        #expect(book.offer(OfferID("O1")) != nil)
    }

    @Test func agentFailurePurgesItsOffers() {
        var book = self.bookWithFourOffers()
        let result3 = book.removeOffers(on: AgentID("A1"))
        #expect(result3.map(\.value) == ["O1", "O2", "O4"])
        #expect(book.offers.map(\.id.value) == ["O3"])
    }

    @Test func holdTimeExpiryDeclinesOnceWithinTheJitterWindow() {
        let configuration = OfferBook.Configuration(
            holdTime: .seconds(60), holdJitter: .seconds(10), refuseSeconds: .seconds(3600), refuseJitter: .seconds(60))
        for seed in UInt64(1)...20 {
            var book = OfferBook(configuration: configuration, random: SplitMix64(seed: seed))
            book.add([offer("O3", agent: "A2", role: "web")], now: .zero)
            let expiry = try! #require(book.nextExpiry)
            #expect(expiry >= .seconds(60) && expiry < .seconds(70))
            let result4 = book.expire(now: .seconds(59))
            #expect(result4.isEmpty)
            let result5 = book.expire(now: expiry - .milliseconds(1))
            #expect(result5.isEmpty)
            let declines = book.expire(now: expiry)
            #expect(declines.map(\.offerID.value) == ["O3"])
            #expect(declines.first?.reason == .holdTimeExpired)
            let refuse = declines.first?.refuseSeconds ?? 0
            #expect(refuse >= 3600 && refuse < 3660)
            #expect(declines.first?.call.decline.filters.refuseSeconds == refuse)
            let result6 = book.expire(now: .seconds(200))
            #expect(result6.isEmpty, "declined exactly once")
            #expect(book.declines.count == 1)
        }
    }

    @Test func expiryWhileTheRoleHasWorkPendingUsesTheShortFilter() {
        var book = OfferBook(
            configuration: .init(holdTime: .seconds(60), holdJitter: .zero, refuseSeconds: .seconds(3600),
                                 refuseJitter: .seconds(60), refuseSecondsWhileWorkPending: .seconds(5)),
            random: SplitMix64(seed: 2))
        book.add([offer("O1", agent: "A1", role: "web"), offer("O4", agent: "A1", role: "db")], now: .zero)
        let declines = book.expire(now: .seconds(60), rolesWithPendingWork: ["web"])
        #expect(declines.map(\.offerID.value) == ["O1", "O4"])
        #expect(declines.map(\.reason) == [.holdTimeExpiredWithWorkPending, .holdTimeExpired])
        #expect(declines.first?.refuseSeconds == 5)
        #expect((declines.last?.refuseSeconds ?? 0) >= 3600)
    }

    @Test func jitterDiffersBetweenOffersAndIsReproducible() {
        func expiries(seed: UInt64) -> [Duration] {
            var book = OfferBook(configuration: .init(holdTime: .seconds(60), holdJitter: .seconds(10)), random: SplitMix64(seed: seed))
            book.add((1...5).map { offer("O\($0)", agent: "A\($0)", role: "web") }, now: .zero)
            return book.offers.map(\.expiresAt)
        }
        #expect(expiries(seed: 3) == expiries(seed: 3))
        #expect(Set(expiries(seed: 3)).count > 1)
    }

    @Test func removeAllDeclinesNothing() {
        var book = self.bookWithFourOffers()
        let result7 = book.removeAll()
        #expect(result7 == 4)
        #expect(book.count == 0)
        #expect(book.declines.isEmpty)
        let result8 = book.expire(now: .seconds(10_000))
        #expect(result8.isEmpty)
    }

    @Test func explicitDeclineRecordsTheReason() {
        var book = self.bookWithFourOffers()
        let declines = book.decline([OfferID("O4"), OfferID("nope")], now: .seconds(2))
        #expect(declines.map(\.offerID.value) == ["O4"])
        #expect(declines.first?.reason == .unusable)
        #expect(declines.first?.role == "db")
        #expect(book.count == 3)
    }

    @Test func offersWithoutAllocationInfoHaveTheEmptyRole() {
        var plain = Offer()
        plain.id = OfferID("P")
        plain.agentID = AgentID("A9")
        plain.resources = [.scalar("cpus", 1)]
        #expect(OfferBook.allocationRole(of: plain) == "")
        #expect(OfferBook.allocationRole(of: offer("X", agent: "A", role: "web")) == "web")
    }
}

/// T8 through the composed services: events drive the book, deadlines decline.
@Suite struct OfferServicesTests {
    @Test func servicesFollowEventsAndDeclineOnExpiry() async throws {
        let (services, calls, clock, _) = makeServices { $0.offers = .init(holdTime: .seconds(60), holdJitter: .seconds(10)) }
        await services.handle(subscribedEvent)
        await services.handle(.offers([offer("O1", agent: "A1", role: "web"), offer("O4", agent: "A1", role: "db")]))
        await services.handle(.offers([offer("O3", agent: "A2", role: "web")]))
        await services.handle(.rescind(OfferID("O4")))
        var failure = SchedulerEvent.Failure()
        failure.agentID = AgentID("A1")
        await services.handle(.failure(failure))
        #expect(services.offers.map(\.id.value) == ["O3"])
        calls.reset()
        let expiry = try #require(services.offerBook.nextExpiry)
        #expect(expiry >= .seconds(60) && expiry < .seconds(70))
        clock.advance(by: expiry - .milliseconds(1))
        await services.performDueWork()
        #expect(calls.calls(.decline).isEmpty)
        clock.advance(by: .milliseconds(1))
        await services.performDueWork()
        await services.performDueWork()
        #expect(calls.calls(.decline).map { $0.decline.offerIds.map(\.value) } == [["O3"]])
        #expect(services.declines.map(\.reason) == [.holdTimeExpired])
    }

    @Test func executorFailureKeepsTheAgentsOffers() async {
        let (services, _, _, _) = makeServices()
        await services.handle(subscribedEvent)
        await services.handle(.offers([offer("O1", agent: "A1", role: "web")]))
        var failure = SchedulerEvent.Failure()
        failure.agentID = AgentID("A1")
        failure.executorID = ExecutorID("e1")
        await services.handle(.failure(failure))
        #expect(services.offers.count == 1)
        await services.handle(.update(status("T1", .taskLost, agent: "A1", reason: .agentRemoved)))
        #expect(services.offers.isEmpty, "an update saying the agent was removed purges its offers")
    }

    @Test func disconnectAndResubscribeEmptyTheBookWithoutDeclining() async {
        let (services, calls, clock, _) = makeServices { $0.offers = .init(holdTime: .seconds(60)) }
        await services.handle(subscribedEvent)
        await services.handle(.offers([offer("O1", agent: "A1", role: "web")]))
        services.connectionLost()
        #expect(services.offers.isEmpty)
        await services.handle(subscribedEvent)
        await services.handle(.offers([offer("O2", agent: "A1", role: "web")]))
        await services.handle(subscribedEvent)
        #expect(services.offers.isEmpty)
        clock.advance(by: .seconds(1000))
        await services.performDueWork()
        #expect(calls.calls(.decline).isEmpty)
        #expect(services.declines.isEmpty)
    }

    @Test func takingOffersForALaunchRemovesThem() async throws {
        let (services, calls, clock, _) = makeServices { $0.offers = .init(holdTime: .seconds(60)) }
        await services.handle(subscribedEvent)
        await services.handle(.offers([offer("O1", agent: "A1", role: "web"), offer("O2", agent: "A1", role: "web")]))
        let taken = try services.takeOffers([OfferID("O1"), OfferID("O2")])
        #expect(taken.count == 2)
        clock.advance(by: .seconds(1000))
        await services.performDueWork()
        #expect(calls.calls(.decline).isEmpty)
    }

    @Test func offersTakenForAnAcceptThatFailsAreNotReused() async throws {
        let (services, _, _, log) = makeServices()
        await services.handle(subscribedEvent)
        await services.handle(.offers([offer("O1", agent: "A1", role: "web"), offer("O2", agent: "A1", role: "web")]))
        services.track(TaskID("T"), agentID: AgentID("A1"))
        _ = try services.takeOffers([OfferID("O1"), OfferID("O2")])
        // The master rescinded O2 before it processed ACCEPT[O1, O2]: the launch is dropped.
        await services.handle(.rescind(OfferID("O2")))
        await services.handle(.update(status("T", .taskDropped, agent: "A1", reason: .invalidOffers)))
        #expect(services.offers.isEmpty, "O1 is not offered again from the book")
        #expect(log.transitions.map(\.advice) == [.relaunchWithBackoff])
    }

    @Test func runSleepsUntilTheExpiryOnTheInjectedClock() async throws {
        let (services, calls, clock, _) = makeServices { $0.offers = .init(holdTime: .seconds(60), holdJitter: .zero) }
        await services.handle(subscribedEvent)
        let timers = Task { await services.run() }
        defer { timers.cancel() }
        await services.handle(.offers([offer("O1", agent: "A1", role: "web")]))
        await clock.waitForDeadline(.seconds(60))
        #expect(calls.calls(.decline).isEmpty)
        let before = calls.calls.count
        clock.advance(by: .seconds(60))
        await calls.waitForCalls(before + 1)
        #expect(calls.calls(.decline).map { $0.decline.offerIds.map(\.value) } == [["O1"]])
    }
}
