import Foundation
import MesosCore
import MesosCurlTransport
import MesosResources
import MesosScheduler
import MesosTestKit
import Testing

/// The real master `scripts/test.sh` starts for the framework toolkit (`$MESOS_TOOLKIT_MASTER_URL`): one agent with
/// unreserved resources and resources statically reserved to role `batch` (``TestServers/toolkitAgentResources``).
@Suite("Real master: toolkit master with reserved resources",
       .enabled(if: TestServers.shouldRunAgainstToolkitMaster, "needs MESOS_TOOLKIT_MASTER_URL (scripts/test.sh starts one)"),
       .serialized, .timeLimit(.minutes(2)))
struct RealMasterToolkitTests {
    @Test("a MULTI_ROLE framework of role batch gets one offer with unreserved and batch-reserved cpus, all allocated to batch")
    func batchOfferHoldsReservedAndUnreservedResources() async throws {
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
}
