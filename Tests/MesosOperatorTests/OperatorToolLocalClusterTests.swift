import Foundation
import MesosCore
import MesosLocalCluster
import MesosOperator
import Testing

@testable import MesosOperatorTool

/// The embedded local cluster's read-only operator answers, through the operator client, as `mesos --local` uses
/// them.
@Suite struct OperatorToolLocalClusterTests {
    static func cluster(agents: Int = 2, credentials: [String: String] = [:]) -> LocalCluster {
        var configuration = LocalCluster.Configuration(agents: agents, agentResources: LocalCluster.AgentResources(cpus: 2, memoryMB: 1024))
        configuration.credentials = credentials
        return LocalCluster(configuration: configuration)
    }

    static func client(_ cluster: LocalCluster, contentType: MesosContentType = .protobuf, authenticator: (any MesosAuthenticator)? = nil) -> MesosMasterOperator {
        MesosMasterOperator(
            master: cluster.masterLocation,
            configuration: MesosOperatorConfiguration(transport: cluster.transport, contentType: contentType, authenticator: authenticator, maximumAttempts: 1))
    }

    @Test(arguments: [MesosContentType.protobuf, .json])
    func answersTheReadOnlyCalls(contentType: MesosContentType) async throws {
        let cluster = Self.cluster()
        let client = Self.client(cluster, contentType: contentType)
        #expect(try await client.getVersion().versionInfo.version == cluster.configuration.version)
        #expect(try await client.getHealth().healthy)
        let agents = try await client.getAgents()
        #expect(agents.agents.map(\.agentInfo.id) == cluster.agentIDs)
        #expect(agents.agents.allSatisfy { ToolFormat.scalars($0.totalResources)["cpus"] == 2 && $0.active })
        #expect(ToolRender.agents(agents).split(separator: "\n").count == 3)
        let state = try await client.getState()
        #expect(state.getAgents.agents.count == 2)
        #expect(state.getFrameworks.frameworks.isEmpty)
        #expect(try await client.getTasks().tasks.isEmpty)
        await #expect(throws: MesosError(code: .notImplemented)) { try await client.getFlags() }
    }

    @Test func listsASubscribedFramework() async throws {
        let cluster = Self.cluster(agents: 1)
        let subscribe = #"{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"alice","name":"listed","roles":["*"],"capabilities":[{"type":"MULTI_ROLE"}]}}}"#
        let (head, body) = try await cluster.transport.send(MesosHTTPRequest(
            url: cluster.masterURL.appendingPathComponent("api/v1/scheduler"),
            headers: ["Content-Type": "application/json", "Accept": "application/json"],
            body: Array(subscribe.utf8)))
        #expect(head.status == 200)
        let frameworks = try await Self.client(cluster).getFrameworks()
        #expect(frameworks.frameworks.map(\.frameworkInfo.name) == ["listed"])
        #expect(frameworks.frameworks.first?.connected == true)
        #expect(frameworks.frameworks.first?.frameworkInfo.id.value.isEmpty == false)
        withExtendedLifetime(body) {}
    }

    @Test func checksCredentialsAndAccept() async throws {
        let cluster = Self.cluster(agents: 1, credentials: ["ops": "pw"])
        await #expect(throws: MesosError(code: .unauthenticated)) { try await Self.client(cluster).getVersion() }
        let authorized = Self.client(cluster, authenticator: try BasicAuthenticator(principal: "ops", secret: "pw"))
        #expect(try await authorized.getHealth().healthy)
        let (head, _) = try await cluster.transport.send(MesosHTTPRequest(
            url: cluster.masterURL.appendingPathComponent("api/v1"),
            headers: ["Content-Type": "application/json", "Accept": "text/html", "Authorization": "Basic b3BzOnB3"],
            body: Array(#"{"type":"GET_HEALTH"}"#.utf8)))
        #expect(head.status == 406)
    }

    @Test func theToolsLocalSessionUsesAnEmbeddedCluster() async throws {
        let session = try MasterSession(try GlobalOptions.parse(["--local", "--local-agents", "2"]))
        #expect(session.cluster != nil)
        #expect(try await session.client.getAgents().agents.count == 2)
        #expect(throws: ToolFailure.self) { try MasterSession(try GlobalOptions.parse(["--local", "--master", "127.0.0.1:5050"])) }
    }
}
