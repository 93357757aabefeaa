import Foundation
import MesosCore
import Testing

@testable import MesosOperator

@Suite struct TaskFilesTests {
    static let stdout = "/frameworks/F/executors/E/runs/latest/stdout"

    @Test(arguments: [MesosContentType.protobuf, .json])
    func readsThroughTheOperatorCallWithTheFileSize(contentType: MesosContentType) async throws {
        let agent = FakeFileAgent()
        agent.write(Self.stdout, "hello world")
        let files = agent.files(contentType: contentType)
        let page = try await files.read(path: Self.stdout, offset: 6, length: 3)
        #expect(page.data == Array("wor".utf8))
        #expect(page.size == 11)
        #expect(try await files.size(path: Self.stdout) == 11)
        #expect(agent.requests == ["api READ_FILE", "api READ_FILE"])
    }

    @Test func fallsBackToTheLegacyEndpointsAndRemembersARefusal() async throws {
        let agent = FakeFileAgent()
        agent.write(Self.stdout, "hello")
        agent.state.withLock { $0.operatorStatus = 501 }
        let files = agent.files()
        let page = try await files.read(path: Self.stdout, offset: 1, length: 10)
        #expect(page.data == Array("ello".utf8))
        #expect(page.size == nil)
        #expect(try await files.size(path: Self.stdout) == 5)
        #expect(agent.requests == ["api READ_FILE", "read \(Self.stdout) 1 10", "read \(Self.stdout) -1 -1"])
    }

    @Test func a404OnTheOperatorCallIsRetriedOnTheLegacyEndpointButNotRemembered() async throws {
        let agent = FakeFileAgent()
        agent.write(Self.stdout, "abc")
        agent.state.withLock { $0.operatorStatus = 404 }
        let files = agent.files()
        _ = try await files.read(path: Self.stdout, offset: 0)
        _ = try await files.read(path: Self.stdout, offset: 0)
        #expect(agent.requests.filter { $0.hasPrefix("api") }.count == 2)
    }

    @Test func operatorOnlyDoesNotFallBack() async throws {
        let agent = FakeFileAgent()
        agent.write(Self.stdout, "abc")
        agent.state.withLock { $0.operatorStatus = 501 }
        await #expect(throws: MesosError(code: .notImplemented)) {
            try await agent.files(api: .operatorOnly).read(path: Self.stdout, offset: 0)
        }
    }

    @Test(arguments: [TaskFiles.API.automatic, .legacyOnly])
    func missingFilesAndDirectoriesGiveTypedErrorsWithTheAgentsText(api: TaskFiles.API) async throws {
        let agent = FakeFileAgent()
        agent.state.withLock { $0.directories = ["/frameworks/F/executors/E/runs/latest"] }
        let files = agent.files(api: api)
        do {
            _ = try await files.read(path: Self.stdout, offset: 0)
            Issue.record("read of a missing file succeeded")
        } catch {
            #expect(error.code == .notFound)
            #expect(error.httpStatus == 404)
            #expect(error.message.contains("agent.test:5051"))
        }
        do {
            _ = try await files.read(path: "/frameworks/F/executors/E/runs/latest", offset: 0)
            Issue.record("read of a directory succeeded")
        } catch {
            #expect(error.code == .malformedRequest)
            #expect(error.message.contains("Cannot read a directory."))
        }
    }

    @Test(arguments: [TaskFiles.API.automatic, .legacyOnly])
    func readAllCollectsPagesBeyondTheAgentsCap(api: TaskFiles.API) async throws {
        let agent = FakeFileAgent()
        let big = (0..<150_000).map { UInt8(truncatingIfNeeded: $0 % 251) }
        agent.state.withLock { $0.files[Self.stdout] = big }
        let bytes = try await agent.files(api: api).readAll(path: Self.stdout)
        #expect(bytes == big)
        await #expect(throws: MesosError(code: .recordTooLarge)) {
            try await agent.files(api: api).readAll(path: Self.stdout, limit: 1000)
        }
    }

    @Test(arguments: [TaskFiles.API.automatic, .legacyOnly])
    func listsADirectory(api: TaskFiles.API) async throws {
        let agent = FakeFileAgent()
        let dir = "/frameworks/F/executors/E/runs/latest"
        agent.state.withLock { $0.directories = [dir] }
        agent.write(dir + "/stdout", "12345")
        agent.write(dir + "/stderr", "")
        let entries = try await agent.files(api: api).list(path: dir)
        #expect(entries.map(\.name) == ["stderr", "stdout"])
        #expect(entries.map(\.size) == [0, 5])
        #expect(entries.allSatisfy { $0.mode == "-rw-r--r--" && $0.user == "mesos" && $0.modificationTime == 1_700_000_000 })
    }
}
