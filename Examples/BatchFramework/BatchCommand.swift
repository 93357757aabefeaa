// A small batch framework on swift-mesos: runs N tasks, retries the ones that fail (up to a limit), prints a
// summary. It runs on the embedded local cluster unless --master names a real one.
//
//   swift run batch-framework                                   # 6 items on the local cluster; every third fails once
//   swift run batch-framework --tasks 20 --command 'echo {index}; sleep 1'
//   swift run batch-framework --master http://127.0.0.1:5050 --max-attempts 2
//
// In --command, {index} is the item number (1...N) and {attempt} the attempt number (1...).
import ArgumentParser
import Foundation
import MesosCore
import MesosCurlTransport
import MesosDiscovery
import MesosLocalCluster
import MesosResources
import MesosScheduler
import Synchronization

#if canImport(Logging)
import Logging
#endif

@main
struct BatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "batch-framework",
        abstract: "Run a batch of tasks, retrying failed ones, and print a summary."
    )

    @Option(help: "The master URL (http://host:port[,...]); the embedded local cluster when omitted or 'local'.")
    var master: String?

    @Option(help: "How many items to run.")
    var tasks: Int = 6

    @Option(help: "The command of each item; {index} and {attempt} are replaced.")
    var command: String = #"echo "item {index}, attempt {attempt}"; [ $(( {index} % 3 )) -ne 0 ] || [ {attempt} -ge 2 ]"#

    @Option(name: .customLong("max-attempts"), help: "Attempts per item before it counts as failed.")
    var maxAttempts: Int = 3

    @Option(help: "Each task's resources.")
    var resources: String = "cpus:0.1;mem:32"

    @Option(help: "Give up after this many seconds.")
    var timeout: Double = 300

    @Flag(help: "Show the library's and the local cluster's logs.")
    var verbose = false

    mutating func run() async throws {
        guard self.tasks >= 1, self.maxAttempts >= 1 else {
            throw ValidationError("--tasks and --max-attempts must be at least 1")
        }
        let perTask: [Resource]
        do {
            perTask = try Resources(parsing: self.resources).allocated(to: "*").array
        } catch {
            throw ValidationError("Malformed resources '\(self.resources)': \(error)")
        }

        #if canImport(Logging)
        let level: Logger.Level = self.verbose ? .debug : .warning
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        #endif
        let batch = Batch(count: self.tasks, maxAttempts: self.maxAttempts, command: self.command, resources: perTask)
        var cluster: LocalCluster?
        let detector: MasterDetector
        let transport: any MesosTransport
        if let master = self.master, master != "local" {
            transport = MesosCurlTransport(configuration: .init())
            do {
                detector = try MasterDetectors.make(url: master, transport: transport)
            } catch {
                throw ValidationError(error.message)
            }
            print("Running \(self.tasks) items on \(master)")
        } else {
            let local = LocalCluster(agents: 1) { chunk in batch.output(chunk) }
            cluster = local
            detector = local.detector
            transport = local.transport
            print("Running \(self.tasks) items on the embedded local cluster (\(LocalCluster.AgentResources.thisMachine()))")
        }

        var info = FrameworkInfo()
        info.user = ProcessInfo.processInfo.environment["USER"] ?? "root"
        info.name = "batch-framework"
        info.roles = ["*"]
        var multiRole = FrameworkInfo.Capability()
        multiRole.type = .multiRole
        info.capabilities = [multiRole]
        let scheduler = MesosScheduler(configuration: .init(frameworkInfo: info, master: detector, transport: transport))

        let started = ContinuousClock.now
        let limit = Duration.seconds(self.timeout)
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    try await Task.sleep(for: limit)
                    print("Timed out after \(limit); tearing down")
                    try? await scheduler.teardown()
                    scheduler.disconnect()
                }
                defer { group.cancelAll() }
                try await scheduler.withSubscription { events in
                    for try await event in events {
                        switch event {
                        case .subscribed(let subscribed):
                            print("Subscribed as framework \(subscribed.frameworkID.value)")
                        case .offers(let offers):
                            try await batch.use(offers, scheduler: scheduler)
                        case .update(let status):
                            if try await batch.record(status, scheduler: scheduler) {
                                try await scheduler.teardown()
                                return
                            }
                        default:
                            continue
                        }
                    }
                }
            }
        } catch {
            print("batch-framework: error: \((error as? MesosError)?.message ?? "\(error)")")
        }
        await cluster?.shutdown()
        let succeeded = batch.printSummary(elapsed: ContinuousClock.now - started)
        if !succeeded { throw ExitCode(1) }
    }
}

/// The items and their attempts; touched by the event loop and by the output callback.
final class Batch: Sendable {
    struct Item: Sendable {
        var index: Int
        var attempts = 0
        var state: TaskState?
        var message = ""
        var taskID: String?
        var launchedAt: ContinuousClock.Instant?
        var duration: Duration?
    }

    private struct State: Sendable {
        var items: [Item]
        var pending: [Int]
        var running: [String: Int] = [:]
        var suppressed = false
    }

    let maxAttempts: Int
    let command: String
    let resources: [Resource]
    private let state: Mutex<State>

    init(count: Int, maxAttempts: Int, command: String, resources: [Resource]) {
        self.maxAttempts = maxAttempts
        self.command = command
        self.resources = resources
        self.state = Mutex(State(items: (1...count).map { Item(index: $0) }, pending: Array(0..<count)))
    }

    /// Launches as many pending items as each offer holds; declines the rest.
    func use(_ offers: [Offer], scheduler: MesosScheduler) async throws {
        let cpus = self.resources.filter { $0.name == "cpus" }.reduce(0) { $0 + $1.scalar.value }
        let mem = self.resources.filter { $0.name == "mem" }.reduce(0) { $0 + $1.scalar.value }
        for offer in offers {
            var freeCPUs = offer.resources.filter { $0.name == "cpus" }.reduce(0) { $0 + $1.scalar.value }
            var freeMem = offer.resources.filter { $0.name == "mem" }.reduce(0) { $0 + $1.scalar.value }
            let tasks = self.state.withLock { state -> [TaskInfo] in
                var tasks: [TaskInfo] = []
                while let next = state.pending.first, freeCPUs + 0.0005 >= cpus, freeMem + 0.0005 >= mem {
                    state.pending.removeFirst()
                    freeCPUs -= cpus
                    freeMem -= mem
                    state.items[next].attempts += 1
                    let item = state.items[next]
                    let taskID = "item-\(item.index)-attempt-\(item.attempts)-\(UUID().uuidString.prefix(4).lowercased())"
                    state.items[next].taskID = taskID
                    state.items[next].launchedAt = .now
                    state.running[taskID] = next
                    var task = TaskInfo()
                    task.name = "batch item \(item.index)"
                    task.taskID = TaskID(taskID)
                    task.agentID = offer.agentID
                    task.resources = self.resources
                    task.command.value = self.command
                        .replacingOccurrences(of: "{index}", with: String(item.index))
                        .replacingOccurrences(of: "{attempt}", with: String(item.attempts))
                    tasks.append(task)
                }
                return tasks
            }
            if tasks.isEmpty {
                try await scheduler.decline([offer.id], filters: .refuse(seconds: 5))
            } else {
                for task in tasks {
                    print("  launch  \(task.name) as task \(task.taskID.value) on \(offer.hostname)")
                }
                try await scheduler.accept(offer, operations: [.launch(tasks)], filters: .refuse(seconds: 1))
            }
        }
        let idle = self.state.withLock { state -> Bool in
            guard state.pending.isEmpty, !state.suppressed else { return false }
            state.suppressed = true
            return true
        }
        if idle { try await scheduler.suppress() }
    }

    /// Records a status update; returns `true` when every item is done.
    func record(_ status: TaskStatus, scheduler: MesosScheduler) async throws -> Bool {
        let (line, retry, done) = self.state.withLock { state -> (String?, Bool, Bool) in
            guard let index = state.running[status.taskID.value] else { return (nil, false, false) }
            state.items[index].state = status.state
            state.items[index].message = status.message
            guard status.state.isTerminal else { return (nil, false, false) }
            state.running[status.taskID.value] = nil
            let item = state.items[index]
            state.items[index].duration = item.launchedAt.map { ContinuousClock.now - $0 }
            var line = "  \(Self.name(status.state))  item \(item.index), attempt \(item.attempts)"
            if !status.message.isEmpty { line += ": \(status.message)" }
            var retry = false
            if status.state != .taskFinished {
                if item.attempts < self.maxAttempts {
                    state.pending.append(index)
                    retry = state.suppressed
                    state.suppressed = false
                    line += " (will retry)"
                } else {
                    line += " (giving up)"
                }
            }
            let done = state.pending.isEmpty && state.running.isEmpty
            return (line, retry, done)
        }
        if let line { print(line) }
        if retry { try await scheduler.revive() }
        return done
    }

    /// Prints the task's output, one prefixed line at a time.
    func output(_ chunk: TaskOutputChunk) {
        let label = self.state.withLock { state in
            state.running[chunk.taskID.value].map { "item \(state.items[$0].index)" } ?? chunk.taskID.value
        }
        for line in String(decoding: chunk.bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
            print("    [\(label)] \(line)")
        }
    }

    /// Prints one row per item; returns whether all finished.
    func printSummary(elapsed: Duration) -> Bool {
        let items = self.state.withLock { $0.items }
        print("")
        print("item  attempts  result         time")
        for item in items {
            let result = item.state.map(Self.name) ?? "NOT RUN"
            let time = item.duration.map { String(format: "%.2fs", $0.inSeconds) } ?? "-"
            print(String(format: "%-4d  %-8d  %@  %@", item.index, item.attempts, result.padding(toLength: 13, withPad: " ", startingAt: 0), time))
        }
        let finished = items.filter { $0.state == .taskFinished }.count
        let retried = items.filter { $0.attempts > 1 }.count
        print("\(finished)/\(items.count) finished, \(retried) retried, in \(String(format: "%.1f", elapsed.inSeconds))s")
        return finished == items.count
    }

    static func name(_ state: TaskState) -> String {
        var result = ""
        for character in "\(state)" {
            if character.isUppercase { result.append("_") }
            result.append(contentsOf: character.uppercased())
        }
        return result
    }
}
