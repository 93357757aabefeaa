import Foundation
import MesosCore
import MesosFramework
import MesosFrameworkZooKeeper
import MesosZooKeeper
import Testing

/// The behaviour every ``FrameworkStateStore`` adapter shares, checked against each of them.
enum ConformanceCheck: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case emptyStore, createThenRead, createTwiceConflicts, compareAndSet, setOfMissingRecordConflicts
    case anyCreatesThenReplaces, deleteIsVersioned, namespacesAreSeparate, oddKeysRoundTrip, invalidKeysAreRefused
    case frameworkIDAndStatuses, concurrentWritersOneWins

    var testDescription: String { self.rawValue }

    func run(on store: any FrameworkStateStore) async throws {
        let data = Data("spec-a".utf8)
        switch self {
        case .emptyStore:
            #expect(try await store.load(.specs).isEmpty)
            #expect(try await store.get(.specs, key: "a") == nil)
            #expect(try await store.loadFrameworkID() == nil)

        case .createThenRead:
            #expect(try await store.put(.specs, key: "a", data: data, expected: .absent) == 0)
            #expect(try await store.get(.specs, key: "a") == VersionedRecord(data: data, version: 0))
            #expect(try await store.load(.specs) == ["a": VersionedRecord(data: data, version: 0)])

        case .createTwiceConflicts:
            try await store.put(.specs, key: "a", data: data, expected: .absent)
            let error = await #expect(throws: StateStoreError.self) {
                try await store.put(.specs, key: "a", data: Data("other".utf8), expected: .absent)
            }
            #expect(error?.kind == .conflict)
            #expect(error?.actualVersion == 0)
            #expect(try await store.get(.specs, key: "a")?.data == data)

        case .compareAndSet:
            try await store.put(.specs, key: "a", data: data, expected: .absent)
            #expect(try await store.put(.specs, key: "a", data: Data("v1".utf8), expected: .version(0)) == 1)
            let error = await #expect(throws: StateStoreError.self) {
                try await store.put(.specs, key: "a", data: Data("stale".utf8), expected: .version(0))
            }
            #expect(error?.kind == .conflict)
            #expect(error?.actualVersion == 1)
            #expect(error?.expected == .version(0))
            #expect(try await store.get(.specs, key: "a") == VersionedRecord(data: Data("v1".utf8), version: 1))

        case .setOfMissingRecordConflicts:
            let error = await #expect(throws: StateStoreError.self) {
                try await store.put(.specs, key: "missing", data: data, expected: .version(0))
            }
            #expect(error?.kind == .conflict)
            #expect(error?.actualVersion == nil)
            #expect(try await store.get(.specs, key: "missing") == nil)

        case .anyCreatesThenReplaces:
            #expect(try await store.put(.tasks, key: "t", data: data, expected: .any) == 0)
            #expect(try await store.put(.tasks, key: "t", data: Data("2".utf8), expected: .any) == 1)
            #expect(try await store.get(.tasks, key: "t") == VersionedRecord(data: Data("2".utf8), version: 1))

        case .deleteIsVersioned:
            try await store.put(.specs, key: "a", data: data, expected: .absent)
            try await store.put(.specs, key: "a", data: data, expected: .version(0))
            let stale = await #expect(throws: StateStoreError.self) {
                try await store.delete(.specs, key: "a", expected: .version(0))
            }
            #expect(stale?.kind == .conflict)
            let absent = await #expect(throws: StateStoreError.self) {
                try await store.delete(.specs, key: "a", expected: .absent)
            }
            #expect(absent?.kind == .conflict)
            try await store.delete(.specs, key: "a", expected: .version(1))
            #expect(try await store.get(.specs, key: "a") == nil)
            #expect(try await store.load(.specs).isEmpty)
            try await store.delete(.specs, key: "a", expected: .any)  // nothing there: fine
            try await store.delete(.specs, key: "a", expected: .absent)
            let gone = await #expect(throws: StateStoreError.self) {
                try await store.delete(.specs, key: "a", expected: .version(1))
            }
            #expect(gone?.kind == .conflict)
            // Created again, it starts over.
            #expect(try await store.put(.specs, key: "a", data: data, expected: .absent) == 0)

        case .namespacesAreSeparate:
            try await store.put(.specs, key: "x", data: Data("spec".utf8), expected: .absent)
            try await store.put(.tasks, key: "x", data: Data("task".utf8), expected: .absent)
            try await store.put(try StateNamespace("custom_1"), key: "x", data: Data("c".utf8), expected: .absent)
            #expect(try await store.get(.specs, key: "x")?.data == Data("spec".utf8))
            #expect(try await store.get(.tasks, key: "x")?.data == Data("task".utf8))
            #expect(try await store.load(try StateNamespace("custom_1")).count == 1)
            #expect(try await store.load(.statuses).isEmpty)

        case .oddKeysRoundTrip:
            let keys = ["web.1", "a/b c%d", "задача-7", "..", ".", "x" + String(repeating: "y", count: 200), "%41"]
            for (index, key) in keys.enumerated() {
                try await store.put(.tasks, key: key, data: Data([UInt8(index), 0, 255]), expected: .absent)
            }
            let loaded = try await store.load(.tasks)
            #expect(Set(loaded.keys) == Set(keys))
            for (index, key) in keys.enumerated() {
                #expect(loaded[key]?.data == Data([UInt8(index), 0, 255]))
            }
            // Empty data is a record too.
            try await store.put(.tasks, key: "empty", data: Data(), expected: .absent)
            #expect(try await store.get(.tasks, key: "empty") == VersionedRecord(data: Data(), version: 0))

        case .invalidKeysAreRefused:
            for key in ["", "a\u{0}b", String(repeating: "k", count: 513)] {
                let error = await #expect(throws: StateStoreError.self) {
                    try await store.put(.specs, key: key, data: data, expected: .any)
                }
                #expect(error?.kind == .invalidArgument)
            }
            #expect(throws: StateStoreError.self) { try StateNamespace("Bad/Name") }
            #expect(throws: StateStoreError.self) { try StateNamespace("") }

        case .frameworkIDAndStatuses:
            try await store.saveFrameworkID(FrameworkID("fw-1"))
            try await store.saveFrameworkID(FrameworkID("fw-2"))
            #expect(try await store.loadFrameworkID() == FrameworkID("fw-2"))
            var status = TaskStatus()
            status.taskID = TaskID("web-1")
            status.state = .taskRunning
            status.agentID = AgentID("agent-1")
            status.message = "running"
            #expect(try await store.saveStatus(status) == 0)
            status.state = .taskFinished
            #expect(try await store.saveStatus(status, expected: .version(0)) == 1)
            let statuses = try await store.loadStatuses()
            #expect(statuses.count == 1)
            #expect(statuses["web-1"]?.status == status)
            #expect(statuses["web-1"]?.version == 1)

        case .concurrentWritersOneWins:
            try await store.put(.specs, key: "contended", data: data, expected: .absent)
            let outcomes = await withTaskGroup(of: Result<Int64, StateStoreError>.self) { group in
                for writer in 0..<8 {
                    group.addTask {
                        do throws(StateStoreError) {
                            return .success(
                                try await store.put(
                                    .specs, key: "contended", data: Data("writer \(writer)".utf8), expected: .version(0)
                                ))
                        } catch {
                            return .failure(error)
                        }
                    }
                }
                var outcomes: [Result<Int64, StateStoreError>] = []
                for await outcome in group { outcomes.append(outcome) }
                return outcomes
            }
            let winners = outcomes.compactMap { try? $0.get() }
            let losers = outcomes.compactMap { outcome -> StateStoreError? in
                if case .failure(let error) = outcome { return error }
                return nil
            }
            #expect(winners == [1])
            #expect(losers.count == 7)
            #expect(losers.allSatisfy { $0.kind == .conflict && $0.actualVersion == 1 })
            #expect(try await store.get(.specs, key: "contended")?.version == 1)
        }
    }
}

@Suite("State store conformance: in memory")
struct InMemoryStateStoreConformanceTests {
    @Test("conformance", arguments: ConformanceCheck.allCases)
    func conformance(_ check: ConformanceCheck) async throws {
        try await check.run(on: InMemoryStateStore())
    }
}

@Suite("State store conformance: file")
struct FileStateStoreConformanceTests {
    @Test("conformance", arguments: ConformanceCheck.allCases)
    func conformance(_ check: ConformanceCheck) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try await FileStateStore.open(path: directory.path + "/state")
        defer { store.close() }
        try await check.run(on: store)
        // Whatever the check wrote reads back the same after a reopen.
        var before: [StateNamespace: [String: VersionedRecord]] = [:]
        for namespace in [StateNamespace.specs, .tasks, .statuses, .framework] {
            before[namespace] = try await store.load(namespace)
        }
        store.close()
        let reopened = try await FileStateStore.open(path: directory.path + "/state")
        defer { reopened.close() }
        for namespace in [StateNamespace.specs, .tasks, .statuses, .framework] {
            #expect(try await reopened.load(namespace) == before[namespace])
        }
    }
}

@Suite(
    "State store conformance: ZooKeeper",
    .enabled(if: ZooKeeperTestServer.enabled, "needs ZOOKEEPER_CONNECT (scripts/zookeeper.sh starts one)")
)
struct ZooKeeperStateStoreConformanceTests {
    @Test("conformance", arguments: ConformanceCheck.allCases)
    func conformance(_ check: ConformanceCheck) async throws {
        let client = try await ZooKeeperTestServer.client()
        let path = ZooKeeperTestServer.uniquePath("store-\(check.rawValue)")
        do {
            try await check.run(on: ZooKeeperStateStore(client: client, path: path))
        } catch {
            await ZooKeeperTestServer.deleteRecursively(path, client: client)
            await client.close()
            throw error
        }
        await ZooKeeperTestServer.deleteRecursively(path, client: client)
        await client.close()
    }
}

/// A fresh directory under the temporary directory.
struct TemporaryDirectory {
    let path: String

    init() throws {
        self.path = FileManager.default.temporaryDirectory.appendingPathComponent("swift-mesos-store-\(UUID())").path
        try FileManager.default.createDirectory(atPath: self.path, withIntermediateDirectories: true)
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: self.path)
    }
}
