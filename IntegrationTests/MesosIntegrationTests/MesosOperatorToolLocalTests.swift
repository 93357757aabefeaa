import Foundation
import MesosTestKit
import Testing

/// The built `mesos` tool against its embedded local cluster (`--local`): no Mesos needed.
@Suite("mesos --local (the operator tool, as a process, on its embedded cluster)",
       .enabled(if: OperatorTool.binary != nil, "mesos is not built next to the tests"), .timeLimit(.minutes(1)))
struct MesosOperatorToolLocalTests {
    @Test("mesos watch --local --count 2 --json --heartbeats: SUBSCRIBED with the local agents, then HEARTBEAT; exit 0")
    func watchLocal() async throws {
        let result = try await OperatorTool.run(["watch", "--local", "--local-agents", "2", "--json", "--heartbeats", "--count", "2"],
                                                timeout: .seconds(30))
        #expect(result.status == 0, "\(result.stderr)")
        let lines = try result.stdout.split(separator: "\n").map { line in
            try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "not a JSON object: \(line)")
        }
        #expect(lines.map { $0["type"] as? String } == ["SUBSCRIBED", "HEARTBEAT"])
        let subscribed = lines.first?["subscribed"] as? [String: Any]
        #expect(subscribed?["heartbeat_interval_seconds"] as? Double == 15)
        let agents = ((subscribed?["get_state"] as? [String: Any])?["get_agents"] as? [String: Any])?["agents"] as? [[String: Any]]
        #expect(agents?.count == 2)
        #expect(agents?.allSatisfy { ($0["agent_info"] as? [String: Any])?["hostname"] as? String == "localhost" } == true)
    }

    @Test("mesos watch --local --count 1: the human SUBSCRIBED line; heartbeats are left out and not counted")
    func watchLocalHuman() async throws {
        let result = try await OperatorTool.run(["watch", "--local", "--count", "1"], timeout: .seconds(30))
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.hasPrefix("SUBSCRIBED agents=1 frameworks=0 tasks=0 completed_tasks=0 heartbeat=15.0s"))
        #expect(result.stdout.split(separator: "\n").count == 1)
    }
}
