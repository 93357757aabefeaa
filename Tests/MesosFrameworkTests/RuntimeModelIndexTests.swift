import Foundation
import MesosCore
@testable import MesosFramework
import MesosResources
import Testing

/// The runtime model's incremental bookkeeping (the instance tables' ready, gated and timed sets and their
/// pending counts) against a full recount, after random sequences of the operations the runtime performs.
@Suite("RuntimeModel indexes")
struct RuntimeModelIndexTests {
    // MARK: - The reference: what the model computed before it kept indexes

    static func recountPending(_ model: RuntimeModel, now: Duration) -> [String: Int] {
        var counts: [String: Int] = [:]
        for spec in model.specs.values {
            counts[spec.role, default: 0] += spec.instances.values.filter { model.isLaunchable($0, in: spec, now: now) }.count
        }
        return counts
    }

    static func recountLaunchable(_ model: RuntimeModel, now: Duration) -> [String] {
        model.specs.values.sorted { $0.order < $1.order }.flatMap { spec in
            spec.instances.keys.sorted().compactMap { index in
                model.isLaunchable(spec.instances[index]!, in: spec, now: now) ? "\(spec.spec.name)#\(index)" : nil
            }
        }
    }

    static func recountDeadline(_ model: RuntimeModel, now: Duration) -> Duration? {
        var best: Duration?
        for spec in model.specs.values where !spec.cancelled {
            for instance in spec.instances.values where !instance.done {
                for candidate in [instance.notBefore, instance.replaceAt].compactMap({ $0 }) where candidate > now {
                    best = min(best ?? candidate, candidate)
                }
            }
        }
        return best
    }

    /// Checks every index of every table against its instances, and the model's answers against the recount.
    static func check(_ model: RuntimeModel, now: Duration, step: Int) {
        for spec in model.specs.values {
            let table = spec.instances
            var ready: Set<Int> = []
            var gated: Set<Int> = []
            var timed: Set<Int> = []
            for (index, instance) in table {
                switch InstanceTable.standing(of: instance) {
                case .ready: ready.insert(index)
                case .gated: gated.insert(index)
                case .busy: break
                }
                if !instance.done, instance.notBefore != nil || instance.replaceAt != nil { timed.insert(index) }
            }
            #expect(table.ready == ready, "step \(step): ready set of \(spec.spec.name)")
            #expect(table.gated == gated, "step \(step): gated set of \(spec.spec.name)")
            #expect(table.timed == timed, "step \(step): timed set of \(spec.spec.name)")
            #expect(table.limit == spec.spec.instances, "step \(step): limit of \(spec.spec.name)")
            #expect(
                table.readyBelowLimit == ready.count(where: { $0 < spec.spec.instances }),
                "step \(step): ready count of \(spec.spec.name)")
        }
        #expect(model.pendingByRole(now: now) == Self.recountPending(model, now: now), "step \(step): pending")
        #expect(
            model.launchable(now: now).map { "\($0.spec)#\($0.instance)" } == Self.recountLaunchable(model, now: now),
            "step \(step): launchable")
        #expect(model.nextDeadline(now: now) == Self.recountDeadline(model, now: now), "step \(step): deadline")
    }

    // MARK: - The runtime's operations on the model

    static func submit(_ model: inout RuntimeModel, name: String, instances: Int, restart: RestartPolicy, role: String) throws {
        let spec = TaskSpec(name: name, command: .shell("true"), resources: "cpus:0.1;mem:16", instances: instances, restart: restart)
        let parsed = try spec.validate()
        var entry = RuntimeModel.Spec(
            spec: spec, demand: parsed.demand, constraints: parsed.constraints, order: model.nextOrder, role: role)
        model.nextOrder += 1
        for index in 0..<instances { entry.instances[index] = .init(index: index) }
        model.specs[name] = entry
    }

    /// What `FrameworkRuntime.reserve` does: the instance's next attempt becomes its current, launching task.
    static func reserve(_ model: inout RuntimeModel, spec name: String, index: Int) -> String? {
        guard var instance = model.specs[name]?.instances[index] else { return nil }
        let attempt = instance.attempt + 1
        let id = RuntimeModel.taskID(spec: name, instance: index, attempt: attempt)
        instance.attempt = attempt
        instance.current = id
        instance.state = .taskStaging
        instance.status = nil
        instance.notBefore = nil
        instance.replaceAt = nil
        instance.launching = true
        model.specs[name]?.instances[index] = instance
        model.tasks[id] = RuntimeModel.TaskEntry(
            record: TaskRecord(spec: name, instance: index, attempt: attempt, agentID: "A1", killedByUs: false, replaces: nil),
            state: .taskStaging, site: nil)
        return id
    }

    /// What `FrameworkRuntime.scale` does to the model.
    static func scale(_ model: inout RuntimeModel, spec name: String, to count: Int) {
        guard var spec = model.specs[name] else { return }
        spec.spec.instances = count
        let attempts = model.lastAttempts(spec: name)
        for index in 0..<count where spec.instances[index] == nil {
            spec.instances[index] = .init(index: index, attempt: attempts[index] ?? 0)
        }
        for index in spec.instances.keys.sorted(by: >) where index >= count {
            model.dropIfRetired(&spec, index: index)
        }
        model.specs[name] = spec
    }

    @Test(arguments: [UInt64(1), 2, 3, 4, 5, 6, 7, 8])
    func indexesEqualARecountAfterRandomOperations(seed: UInt64) throws {
        var random = SplitMix64(seed: seed)
        var model = RuntimeModel(serviceBackoff: Backoff(initial: .seconds(3), maximum: .seconds(30)))
        var now = Duration.zero
        let policies: [RestartPolicy] = [
            .never, .always, .onFailure(maxAttempts: 3, backoff: Backoff(initial: .seconds(2), maximum: .seconds(10))),
        ]
        let states: [TaskState] = [
            .taskRunning, .taskFinished, .taskFailed, .taskKilled, .taskLost, .taskUnreachable, .taskUnknown,
            .taskGone, .taskDropped, .taskStarting,
        ]
        for number in 0..<3 {
            try Self.submit(
                &model, name: "s\(number)", instances: Int.random(in: 1...6, using: &random),
                restart: policies[number % policies.count], role: number == 2 ? "batch" : "web")
        }
        Self.check(model, now: now, step: -1)
        var launched: [String] = []
        for step in 0..<400 {
            let names = model.specs.keys.sorted()
            let name = names[Int.random(in: 0..<names.count, using: &random)]
            switch Int.random(in: 0..<100, using: &random) {
            case 0..<30:
                // A launch round: reserve some launchable instances, then note their ACCEPT.
                for (spec, index) in model.launchable(now: now).prefix(Int.random(in: 1...4, using: &random)) {
                    if let id = Self.reserve(&model, spec: spec, index: index) { launched.append(id) }
                }
                for id in launched.suffix(4) where Bool.random(using: &random) { _ = model.launched(id) }
            case 30..<65:
                // A status update for a task (the current one or an older one), sometimes with advice.
                guard !launched.isEmpty else { continue }
                let id = launched[Int.random(in: 0..<launched.count, using: &random)]
                var status = TaskStatus()
                status.taskID = TaskID(id)
                status.agentID = AgentID("A\(Int.random(in: 1...3, using: &random))")
                status.state = states[Int.random(in: 0..<states.count, using: &random)]
                status.uuid = Data((0..<16).map { _ in UInt8.random(in: 0...255, using: &random) })
                let advice: ReconciliationDriver.Advice? = switch Int.random(in: 0..<6, using: &random) {
                case 0: .unknownToMaster(recentlyLaunched: Bool.random(using: &random))
                case 1: .returned(replacement: launched.randomElement(using: &random).map { TaskID($0) })
                default: nil
                }
                _ = model.launched(id)
                _ = model.apply(
                    status, now: now, unreachableGrace: .seconds(7), recentLaunchWindow: .seconds(4), advice: advice)
            case 65..<75:
                Self.scale(&model, spec: name, to: Int.random(in: 0...8, using: &random))
            case 75..<78:
                model.specs[name]?.cancelled = true
            case 78..<82:
                // A release: a launching instance goes back to what it was.
                guard let id = launched.last, let entry = model.tasks[id],
                    var instance = model.specs[entry.record.spec]?.instances[entry.record.instance], instance.launching
                else { continue }
                model.tasks.removeValue(forKey: id)
                launched.removeLast()
                instance.launching = false
                instance.current = nil
                instance.state = nil
                model.specs[entry.record.spec]?.instances[entry.record.instance] = instance
            case 82..<85:
                try Self.submit(
                    &model, name: "n\(step)", instances: Int.random(in: 0...5, using: &random),
                    restart: policies[step % policies.count], role: step % 2 == 0 ? "web" : "batch")
            default:
                now += .seconds(Int.random(in: 0...4, using: &random))
            }
            Self.check(model, now: now, step: step)
        }
    }

    @Test func aSpecsStoredStatusIsTheStatusApplied() throws {
        var model = RuntimeModel(serviceBackoff: Backoff())
        try Self.submit(&model, name: "web", instances: 1, restart: .always, role: "web")
        let id = try #require(Self.reserve(&model, spec: "web", index: 0))
        var status = TaskStatus()
        status.taskID = TaskID(id)
        status.agentID = AgentID("A1")
        status.state = .taskRunning
        status.message = "up"
        status.uuid = Data(repeating: 7, count: 16)
        _ = model.launched(id)
        _ = model.apply(status, now: .zero, unreachableGrace: .seconds(1), recentLaunchWindow: .seconds(1), advice: nil)
        #expect(model.specs["web"]?.instances[0]?.status == status)
        #expect(model.result(of: "web") == nil)
    }
}

/// The acknowledgement manager's bounded memory against a plain reference (a list cut from the front).
@Suite("AcknowledgementManager memory")
struct AcknowledgementMemoryTests {
    @Test(arguments: [1, 2, 5, 16])
    func remembersExactlyTheLatestUUIDsAndRecords(limit: Int) {
        var random = SplitMix64(seed: UInt64(limit))
        var manager = AcknowledgementManager(mode: .automatic, memoryLimit: limit)
        var uuids: [Data] = []
        var records: [AcknowledgementManager.Record] = []
        for step in 0..<300 {
            var status = TaskStatus()
            status.taskID = TaskID("t\(step % 7)")
            status.agentID = AgentID("A1")
            status.state = .taskRunning
            status.uuid = Data([UInt8(Int.random(in: 0..<24, using: &random))] + [UInt8](repeating: 1, count: 15))
            let update = StatusUpdate.task(status)
            manager.markCommitted(update)
            if !uuids.contains(status.uuid) {
                uuids.append(status.uuid)
                if uuids.count > limit { uuids.removeFirst() }
            }
            manager.record(update, .acknowledged)
            records.append(.init(subject: status.taskID.value, uuid: status.uuid, outcome: .acknowledged))
            if records.count > limit { records.removeFirst() }
            #expect(manager.records == records, "step \(step)")
            for byte in 0..<24 {
                let uuid = Data([UInt8(byte)] + [UInt8](repeating: 1, count: 15))
                #expect(manager.isCommitted(uuid) == uuids.contains(uuid), "step \(step), uuid \(byte)")
            }
        }
    }
}
