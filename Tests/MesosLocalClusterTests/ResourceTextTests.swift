import MesosCore
import MesosLocalCluster
import Testing

@Suite("ResourceText")
struct ResourceTextTests {
    @Test("parses scalars, ranges, sets and '(*)', and formats them back")
    func roundTrip() throws {
        let resources = try ResourceText.parse(" cpus:0.1; mem(*):32 ;ports:[31000-31005, 32000-32000];zones:{a,b}", allocationRole: "web")
        #expect(resources.map(\.name) == ["cpus", "mem", "ports", "zones"])
        #expect(resources[0].scalar.value == 0.1)
        #expect(resources[2].ranges.range.map { $0.begin...$0.end } == [31000...31005, 32000...32000])
        #expect(resources[3].set.item == ["a", "b"])
        #expect(resources.allSatisfy { $0.allocationInfo.role == "web" })
        #expect(ResourceText.format(resources) == "cpus:0.1;mem:32;ports:[31000-31005,32000-32000];zones:{a,b}")
        #expect(ResourceText.format(scalar: 2048) == "2048")
        #expect(ResourceText.format(scalar: 0.25) == "0.25")
    }

    @Test("rejects malformed text with a message naming the problem", arguments: [
        "", "cpus", "cpus:-1", "cpus:abc", "ports:[5-1]", "ports:[1-2", "cpus(web):1", ":1", "cpus:nan",
    ])
    func rejects(text: String) {
        #expect(throws: MesosError.self) { try ResourceText.parse(text) }
    }

    @Test("agent resources default to this machine")
    func thisMachine() {
        let resources = LocalCluster.AgentResources.thisMachine().resources
        #expect(resources.first { $0.name == "cpus" }?.scalar.value ?? 0 >= 1)
        #expect(resources.first { $0.name == "mem" }?.scalar.value ?? 0 > 0)
        #expect(resources.contains { $0.name == "ports" })
    }
}
