import Foundation
import MesosCore
import MesosInMemoryTransport
import MesosOperator
import MesosRecordIO
import MesosTestKit
import SwiftProtobuf
import Testing

/// An in-memory agent that keeps containers as Mesos's agent API describes them: LAUNCH_CONTAINER (200, or 202
/// for an id in use; a nested container needs a known parent), WAIT_CONTAINER answered when the container exits,
/// KILL_CONTAINER (404 when unknown or already killed), REMOVE_CONTAINER (500 while running), GET_CONTAINERS.
actor FakeContainerAgent {
    private struct Container {
        var id: ContainerID
        var exitStatus: Int32?
        var killed = false
    }

    private var containers: [String: Container] = [:]
    private var waiters: [String: [CheckedContinuation<Int32, Never>]] = [:]

    private static func key(_ id: ContainerID) -> String {
        id.hasParent ? key(id.parent) + "." + id.value : id.value
    }

    /// The process of a container exits by itself with a raw wait status.
    func exit(_ id: ContainerID, status: Int32) {
        self.finish(Self.key(id), status: status)
    }

    private func finish(_ key: String, status: Int32) {
        self.containers[key]?.exitStatus = status
        for waiter in self.waiters.removeValue(forKey: key) ?? [] {
            waiter.resume(returning: status)
        }
    }

    /// Whether a WAIT is pending for the container.
    func hasWaiter(_ id: ContainerID) -> Bool {
        !(self.waiters[Self.key(id)] ?? []).isEmpty
    }

    func handle(_ request: MesosHTTPRequest) async throws -> (MesosHTTPResponse, MesosResponseBody) {
        guard let contentType = request.headers["Content-Type"].flatMap(MesosContentType.init(mediaType:)) else {
            return (textHead(415), .empty)
        }
        let call = try OperatorWire.decode(AgentCall.self, from: request.body ?? [], as: contentType)
        func answer(_ response: AgentResponse) throws -> (MesosHTTPResponse, MesosResponseBody) {
            (
                MesosHTTPResponse(status: 200, headers: ["Content-Type": contentType.mediaType]),
                MesosResponseBody(bytes: try MesosCodec(contentType).encode(response))
            )
        }
        switch call.type {
        case .launchContainer:
            let id = call.launchContainer.containerID
            let key = Self.key(id)
            if self.containers[key] != nil {
                return (MesosHTTPResponse(status: 202), .empty)
            }
            if id.hasParent, self.containers[Self.key(id.parent)] == nil {
                return (textHead(400), jsonBody("Parent container \(id.parent.value) cannot be found"))
            }
            self.containers[key] = Container(id: id)
            return (MesosHTTPResponse(status: 200), .empty)
        case .waitContainer:
            let key = Self.key(call.waitContainer.containerID)
            guard let container = self.containers[key] else {
                return (textHead(404), jsonBody("Container not found"))
            }
            let status: Int32
            if let exited = container.exitStatus {
                status = exited
            } else {
                status = await withCheckedContinuation { continuation in
                    self.waiters[key, default: []].append(continuation)
                }
            }
            let killed = self.containers[key]?.killed ?? false
            return try answer(
                .with {
                    $0.type = .waitContainer
                    $0.waitContainer.exitStatus = status
                    $0.waitContainer.state = killed ? .taskKilled : (status == 0 ? .taskFinished : .taskFailed)
                })
        case .killContainer:
            let key = Self.key(call.killContainer.containerID)
            guard let container = self.containers[key], !container.killed, container.exitStatus == nil else {
                return (textHead(404), jsonBody("Container not found"))
            }
            self.containers[key]?.killed = true
            self.finish(key, status: call.killContainer.hasSignal ? call.killContainer.signal : 9)
            return (MesosHTTPResponse(status: 200), .empty)
        case .removeContainer:
            let key = Self.key(call.removeContainer.containerID)
            guard let container = self.containers[key], container.exitStatus != nil else {
                return (textHead(500), jsonBody("Container is running or unknown"))
            }
            self.containers[key] = nil
            return (MesosHTTPResponse(status: 200), .empty)
        case .getContainers:
            let listed = self.containers.values
                .filter { call.getContainers.showNested || !$0.id.hasParent }
                .sorted { Self.key($0.id) < Self.key($1.id) }
            return try answer(
                .with {
                    $0.type = .getContainers
                    $0.getContainers.containers = listed.map { container in .with { $0.containerID = container.id } }
                })
        case .attachContainerOutput:
            guard request.headers["Accept"] == "application/recordio",
                let messageAccept = request.headers["Message-Accept"].flatMap(MesosContentType.init(mediaType:))
            else {
                return (textHead(406), .empty)
            }
            guard self.containers[Self.key(call.attachContainerOutput.containerID)] != nil else {
                return (textHead(404), jsonBody("Container not found"))
            }
            let records: [ProcessIO] = [
                .with {
                    $0.type = .control
                    $0.control.type = .heartbeat
                    $0.control.heartbeat.interval.nanoseconds = 30_000_000_000
                },
                .with { $0.type = .data; $0.data.type = .stdout; $0.data.data = Data("hello\n".utf8) },
                .with { $0.type = .data; $0.data.type = .stderr; $0.data.data = Data("oops\n".utf8) },
            ]
            var stream: [UInt8] = []
            for record in records {
                RecordIOEncoder.append(try MesosCodec(messageAccept).encode(record), to: &stream)
            }
            // Deliver the stream in small pieces, as a network would.
            let chunks = stride(from: 0, to: stream.count, by: 7).map { stream[$0..<min($0 + 7, stream.count)] }
            let body = AsyncStream<ArraySlice<UInt8>> { continuation in
                for chunk in chunks { continuation.yield(chunk) }
                continuation.finish()
            }
            return (
                MesosHTTPResponse(
                    status: 200,
                    headers: ["Content-Type": "application/recordio", "Message-Content-Type": messageAccept.mediaType]),
                MesosResponseBody(body)
            )
        default:
            return (textHead(501), .empty)
        }
    }
}

/// The agent client against in-memory agents: its reads, the container calls against ``FakeContainerAgent``,
/// output streams, and that agents are never redirected.
@Suite struct AgentOperatorClientTests {
    private func client(
        contentType: MesosContentType = .json,
        clock: ManualClock = ManualClock(),
        handler: @escaping MesosInMemoryTransport.Handler
    ) -> MesosAgentOperator {
        let configuration = MesosOperatorConfiguration(
            transport: MesosInMemoryTransport(handler: handler), contentType: contentType,
            retryBackoff: BackoffPolicy(initial: .seconds(1), maximum: .seconds(4), jitter: false), maximumAttempts: 3,
            clock: clock)
        return MesosAgentOperator(url: URL(string: "http://10.0.0.23:5051")!, configuration: configuration)
    }

    private let executorContainer = ContainerID.with { $0.value = "executor-container" }

    private func nested(_ value: String) -> ContainerID {
        ContainerID.with {
            $0.value = value
            $0.parent = executorContainer
        }
    }

    @Test(arguments: [MesosContentType.json, .protobuf])
    func nestedContainerLifecycle(contentType: MesosContentType) async throws {
        let fake = FakeContainerAgent()
        let agent = client(contentType: contentType) { request in try await fake.handle(request) }
        let debug = nested("debug-1")

        // The parent must exist first.
        let orphan = await #expect(throws: MesosError.self) {
            try await agent.launchContainer(debug, command: .with { $0.value = "sleep 100" })
        }
        #expect(orphan?.code == .malformedRequest)
        #expect(orphan?.message.contains("Parent container executor-container cannot be found") == true)

        #expect(try await agent.launchContainer(executorContainer, resources: [Resource()]) == .launched)
        #expect(try await agent.launchContainer(debug, command: .with { $0.value = "sleep 100" }) == .launched)
        #expect(try await agent.launchContainer(debug, command: .with { $0.value = "sleep 100" }) == .alreadyExists)

        let top = try await agent.getContainers()
        #expect(top.containers.map(\.containerID.value) == ["executor-container"])
        let all = try await agent.getContainers(showNested: true)
        #expect(all.containers.map(\.containerID.value) == ["executor-container", "debug-1"])
        #expect(all.containers.last?.containerID.parent.value == "executor-container")

        // REMOVE while running fails with the agent's text.
        let running = await #expect(throws: MesosError.self) { try await agent.removeContainer(debug) }
        #expect(running?.code == .internalServerError)

        // WAIT is answered when the container is killed.
        let wait = Task { try await agent.waitContainer(debug) }
        while !(await fake.hasWaiter(debug)) { await Task.yield() }
        try await agent.killContainer(debug, signal: 15)
        let exit = try await wait.value
        #expect(exit.exitStatus == 15)
        #expect(exit.state == .taskKilled)

        let again = await #expect(throws: MesosError.self) { try await agent.killContainer(debug) }
        #expect(again?.code == .notFound)
        try await agent.removeContainer(debug)
        #expect(try await agent.getContainers(showNested: true).containers.map(\.containerID.value) == ["executor-container"])

        // An exit by itself: exit code 3 is raw status 3 << 8.
        await fake.exit(executorContainer, status: 3 << 8)
        let ended = try await agent.waitContainer(executorContainer)
        #expect(ended.exitStatus >> 8 == 3)
        #expect(ended.state == .taskFailed)
    }

    @Test func nestedCallsNeedAParentAndValidIDs() async throws {
        let agent = client { _ in (MesosHTTPResponse(status: 200), .empty) }
        let error = await #expect(throws: MesosError.self) {
            try await agent.launchNestedContainer(ContainerID.with { $0.value = "no-parent" })
        }
        #expect(error?.code == .invalidCall)
        let slash = await #expect(throws: MesosError.self) {
            try await agent.killContainer(ContainerID.with { $0.value = "a/b" })
        }
        #expect(slash?.code == .invalidCall)
        try await agent.launchNestedContainer(nested("ok"), command: .with { $0.value = "true" })
        try await agent.killNestedContainer(nested("ok"))
        try await agent.removeNestedContainer(nested("ok"))
    }

    @Test(arguments: [MesosContentType.json, .protobuf])
    func containerOutputStreamDecodesProcessIORecords(contentType: MesosContentType) async throws {
        let fake = FakeContainerAgent()
        let agent = client(contentType: contentType) { request in try await fake.handle(request) }
        try await agent.launchContainer(executorContainer, resources: [Resource()])
        let stream = try await agent.attachContainerOutput(executorContainer)
        #expect(stream.contentType == contentType)
        var stdout = ""
        var stderr = ""
        var heartbeats = 0
        for try await record in stream {
            switch (record.type, record.data.type) {
            case (.data, .stdout): stdout += String(decoding: record.data.data, as: UTF8.self)
            case (.data, .stderr): stderr += String(decoding: record.data.data, as: UTF8.self)
            case (.control, _): heartbeats += record.control.type == .heartbeat ? 1 : 0
            default: Issue.record("unexpected record \(record)")
            }
        }
        #expect(stdout == "hello\n")
        #expect(stderr == "oops\n")
        #expect(heartbeats == 1)
        let missing = await #expect(throws: MesosError.self) { try await agent.attachContainerOutput(self.nested("gone")) }
        #expect(missing?.code == .notFound)
    }

    @Test func readsDecodeAndAgentsAreNotRedirected() async throws {
        let log = RequestLog()
        let agent = client { request in
            log.append(request)
            let body = String(decoding: request.body ?? [], as: UTF8.self)
            if body.contains("GET_TASKS") {
                return (MesosHTTPResponse(status: 307, headers: ["Location": "//elsewhere:5051/api/v1"]), .empty)
            }
            if body.contains("READ_FILE") {
                return (jsonHead(), jsonBody(#"{"type":"READ_FILE","read_file":{"size":33,"data":"c3RhcnRpbmcgam9iIDQyCmxvYWRlZCAxMDAwIHJvd3MK"}}"#))
            }
            if body.contains("LIST_FILES") {
                return (jsonHead(), jsonBody(#"{"type":"LIST_FILES","list_files":{"file_infos":[{"path":"/sandbox/stdout","nlink":1,"size":33,"mtime":{"nanoseconds":1732262400000000000},"mode":33188,"uid":"root","gid":"root"}]}}"#))
            }
            return (jsonHead(), jsonBody(#"{"type":"GET_AGENT","get_agent":{"agent_info":{"hostname":"agent-3","port":5051,"id":{"value":"S3"}}}}"#))
        }
        let file = try await agent.readFile(path: "/sandbox/stdout", offset: 0, length: 65536)
        #expect(file.size == 33)
        #expect(String(decoding: file.data, as: UTF8.self) == "starting job 42\nloaded 1000 rows\n")
        let listing = try await agent.listFiles(path: "/sandbox")
        #expect(listing.fileInfos.first?.mode == 33188)
        #expect(listing.fileInfos.first?.uid == "root")
        #expect(try await agent.getAgent().agentInfo.id.value == "S3")
        let redirected = await #expect(throws: MesosError.self) { try await agent.getTasks() }
        #expect(redirected?.code == .notLeader)
        #expect(log.all.allSatisfy { $0.url.absoluteString == "http://10.0.0.23:5051/api/v1" })
        #expect(log.all.count == 4)
    }

    @Test func waitIsALongPollWithoutTheCallTimeout() async throws {
        let log = RequestLog()
        let agent = client { request in
            log.append(request)
            let body = String(decoding: request.body ?? [], as: UTF8.self)
            if body.contains("WAIT_CONTAINER") {
                return (jsonHead(), jsonBody(#"{"type":"WAIT_CONTAINER","wait_container":{"exit_status":0,"state":"TASK_FINISHED"}}"#))
            }
            return (jsonHead(), jsonBody(#"{"type":"GET_HEALTH","get_health":{"healthy":true}}"#))
        }
        #expect(try await agent.waitContainer(executorContainer).state == .taskFinished)
        #expect(try await agent.getHealth().healthy)
        #expect(log.all.map(\.timeout) == [nil, .seconds(60)])
    }

    @Test func recoveringAgentIsRetried() async throws {
        let clock = ManualClock()
        let attempts = Counter()
        let agent = client(clock: clock) { _ in
            if attempts.next() == 1 {
                return (textHead(503), jsonBody("Agent has not finished recovery"))
            }
            return (jsonHead(), jsonBody(#"{"type":"GET_HEALTH","get_health":{"healthy":true}}"#))
        }
        let call = Task { try await agent.getHealth() }
        await clock.waitForSleepers(1)
        clock.advance(by: .seconds(1))
        #expect(try await call.value.healthy)
        #expect(attempts.current == 2)
    }

    @Test func agentURLFromTheMastersRecord() async throws {
        let agent = MasterResponse.GetAgents.Agent.with {
            $0.pid = "slave(1)@10.0.0.23:5051"
            $0.agentInfo.hostname = "agent-3.example.com"
            $0.agentInfo.port = 5052
        }
        #expect(MesosAgentOperator.url(of: agent)?.absoluteString == "http://10.0.0.23:5051/slave(1)")
        let noPID = MasterResponse.GetAgents.Agent.with {
            $0.agentInfo.hostname = "agent-3.example.com"
            $0.agentInfo.port = 5052
        }
        #expect(MesosAgentOperator.url(of: noPID)?.absoluteString == "http://agent-3.example.com:5052")
        #expect(MesosAgentOperator.url(of: MasterResponse.GetAgents.Agent()) == nil)

        // Calls go to the agent process's own endpoint, `/slave(1)/api/v1`.
        let log = RequestLog()
        let client = try MesosAgentOperator(
            agent: agent,
            configuration: MesosOperatorConfiguration(
                transport: MesosInMemoryTransport { request in
                    log.append(request)
                    return (jsonHead(), jsonBody(#"{"type":"GET_HEALTH","get_health":{"healthy":true}}"#))
                }))
        #expect(try await client.getHealth().healthy)
        #expect(log.all.first?.url.absoluteString == "http://10.0.0.23:5051/slave(1)/api/v1")

        // From the master client: same configuration, the leader's scheme.
        let master = MesosMasterOperator(
            master: MasterLocation(scheme: "https", host: "m1", port: 5050),
            configuration: MesosOperatorConfiguration(transport: MesosInMemoryTransport { _ in (MesosHTTPResponse(status: 200), .empty) }))
        #expect(try master.agentOperator(for: agent).url.absoluteString == "http://10.0.0.23:5051/slave(1)")
        #expect(try master.agentOperator(for: agent, scheme: "https").url.absoluteString == "https://10.0.0.23:5051/slave(1)")
        #expect(throws: MesosError.self) {
            try MesosAgentOperator(
                agent: MasterResponse.GetAgents.Agent(),
                configuration: MesosOperatorConfiguration(transport: MesosInMemoryTransport { _ in (MesosHTTPResponse(status: 200), .empty) }))
        }
    }
}
