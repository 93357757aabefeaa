import Foundation
import MesosCore
import MesosResources

/// One state change of a task the runtime launched (or adopted), as ``FrameworkRuntime/events(of:)`` delivers it.
public struct TaskEvent: Sendable, Equatable {
    /// The spec's name.
    public var spec: String
    /// The instance number (0-based).
    public var instance: Int
    /// The attempt number of this instance (1-based).
    public var attempt: Int
    /// The task.
    public var taskID: TaskID
    /// Its new state (STAGING when the runtime launched it).
    public var state: TaskState
    /// The status update, if the change came from one.
    public var status: TaskStatus?
}

/// How one instance ended (or stands), in a ``SpecResult``.
public struct InstanceResult: Sendable, Equatable {
    /// The instance number.
    public var instance: Int
    /// Its latest task, if it was ever launched.
    public var taskID: TaskID?
    /// Its latest task's state, if any.
    public var state: TaskState?
    /// How many tasks were launched for it.
    public var attempts: Int
    /// The latest status update of its latest task.
    public var status: TaskStatus?

    /// `true` when its latest task finished (TASK_FINISHED).
    public var succeeded: Bool { self.state == .taskFinished }
}

/// The outcome of a spec whose instances are all done (finished, given up, or killed by a cancel).
public struct SpecResult: Sendable, Equatable {
    /// The spec's name.
    public var spec: String
    /// Whether the spec was cancelled.
    public var cancelled: Bool
    /// Each instance, by instance number.
    public var instances: [InstanceResult]

    /// `true` when every instance finished.
    public var succeeded: Bool { !self.instances.isEmpty && self.instances.allSatisfy(\.succeeded) }
}

/// Why the runtime refused a request.
public struct FrameworkRuntimeError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong.
    public enum Kind: Sendable, Equatable {
        /// The spec is invalid (see the message).
        case invalidSpec(TaskSpecError.Kind)
        /// A spec with this name exists already.
        case duplicateSpec
        /// No spec with this name.
        case unknownSpec
        /// The spec's role is not one of the framework's roles.
        case unknownRole
        /// The framework info has no `failover_timeout`: a restarted runtime could not take its tasks over.
        case failoverTimeoutNotSet
        /// The store failed (the request was not applied).
        case store(StateStoreError.Kind)
        /// The stored state cannot be read back (a record does not decode).
        case corruptState
        /// The spec still has instances to run or tasks that are not over (``FrameworkRuntime/forget(_:)``).
        case specNotDone
        /// The runtime was stopped.
        case stopped
    }

    /// What went wrong.
    public var kind: Kind
    /// A sentence for people.
    public var message: String

    /// Creates an error.
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    static func store(_ error: StateStoreError) -> FrameworkRuntimeError {
        FrameworkRuntimeError(.store(error.kind), error.description)
    }

    /// `kind: message`.
    public var description: String { "\(self.kind): \(self.message)" }
}

/// The stored form of a spec (namespace `specs`, key: its name).
struct SpecRecord: Codable, Sendable {
    var spec: TaskSpec
    var cancelled: Bool
    var order: Int
}

/// The stored form of a launched task (namespace `tasks`, key: its task id), written before its ACCEPT.
///
/// The agent's hostname, fault domain and attributes are stored so placement constraints still count the task
/// after a restart (before its agent sends an offer again); in memory the model keeps them once per agent, so
/// ``site`` is `nil` there. `failuresBefore` is how many failed attempts its instance had when it was launched, so
/// a restart neither forgets the failures (`maxAttempts`) nor needs the older records. Fields added after the first
/// version are optional: older records still decode. (Field order keeps the in-memory record small.)
struct TaskRecord: Sendable {
    var spec: String
    var instance: Int
    var attempt: Int
    var agentID: String?
    var killedByUs: Bool
    var failuresBefore: Int32?
    var replaces: String?
    var site: SiteFields?

    /// The site of a stored record.
    final class SiteFields: Sendable {
        let hostname: String
        let region: String?
        let zone: String?
        let attributes: String?

        init(hostname: String, region: String?, zone: String?, attributes: String?) {
            self.hostname = hostname
            self.region = region
            self.zone = zone
            self.attributes = attributes
        }
    }

    /// The site the record names, if it names one; `sites` shares one value per agent between records.
    func site(interning sites: inout [String: AgentSite]) -> AgentSite? {
        guard let agentID, let fields = self.site else { return nil }
        if let known = sites[agentID], known.hostname == fields.hostname { return known }
        let site = AgentSite(
            agentID: agentID, hostname: fields.hostname, region: fields.region, zone: fields.zone,
            attributes: fields.attributes.flatMap { try? [Attribute](parsing: $0) } ?? [])
        sites[agentID] = site
        return site
    }

    /// The record without its site, as the model keeps it (the site is kept once per agent).
    var withoutSite: TaskRecord {
        var record = self
        record.site = nil
        return record
    }

    /// The record to store: with the site's fields when the task has a site.
    func with(_ site: AgentSite?) -> TaskRecord {
        guard let site else { return self }
        var record = self
        record.agentID = site.agentID
        record.site = SiteFields(
            hostname: site.hostname, region: site.region, zone: site.zone, attributes: site.attributes.textForm)
        return record
    }
}

extension TaskRecord: Codable {
    private enum CodingKeys: String, CodingKey {
        case spec, instance, attempt, agentID, killedByUs, failuresBefore, replaces, hostname, region, zone, attributes
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.spec = try container.decode(String.self, forKey: .spec)
        self.instance = try container.decode(Int.self, forKey: .instance)
        self.attempt = try container.decode(Int.self, forKey: .attempt)
        self.agentID = try container.decodeIfPresent(String.self, forKey: .agentID)
        self.killedByUs = try container.decode(Bool.self, forKey: .killedByUs)
        self.failuresBefore = try container.decodeIfPresent(Int32.self, forKey: .failuresBefore)
        self.replaces = try container.decodeIfPresent(String.self, forKey: .replaces)
        self.site = try container.decodeIfPresent(String.self, forKey: .hostname).map { hostname in
            SiteFields(
                hostname: hostname, region: try container.decodeIfPresent(String.self, forKey: .region),
                zone: try container.decodeIfPresent(String.self, forKey: .zone),
                attributes: try container.decodeIfPresent(String.self, forKey: .attributes))
        }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(self.spec, forKey: .spec)
        try container.encode(self.instance, forKey: .instance)
        try container.encode(self.attempt, forKey: .attempt)
        try container.encodeIfPresent(self.agentID, forKey: .agentID)
        try container.encode(self.killedByUs, forKey: .killedByUs)
        try container.encodeIfPresent(self.failuresBefore, forKey: .failuresBefore)
        try container.encodeIfPresent(self.replaces, forKey: .replaces)
        if let site = self.site {
            try container.encode(site.hostname, forKey: .hostname)
            try container.encodeIfPresent(site.region, forKey: .region)
            try container.encodeIfPresent(site.zone, forKey: .zone)
            try container.encodeIfPresent(site.attributes, forKey: .attributes)
        }
    }
}

/// The runtime's view of its specs and tasks: pure decisions, no I/O, time passed in.
struct RuntimeModel: Sendable {
    struct Instance: Sendable {
        var index: Int
        var attempt = 0
        var failures = 0
        var current: String?
        var state: TaskState?
        /// The latest status of the current task, kept encoded (a decoded `TaskStatus` is several times larger).
        var statusBytes: [UInt8]?
        // Deadlines (offsets on the clock, never negative) as nanoseconds, `Int64.min` for none: an optional
        // `Duration` takes 24 bytes, this 8.
        private var notBeforeNanoseconds: Int64 = .min
        private var replaceAtNanoseconds: Int64 = .min
        var done = false
        var launching = false

        /// Not launched again before this moment (a backoff).
        var notBefore: Duration? {
            get { self.notBeforeNanoseconds == .min ? nil : .nanoseconds(self.notBeforeNanoseconds) }
            set { self.notBeforeNanoseconds = newValue.map(\.inNanoseconds) ?? .min }
        }
        /// Replaced at this moment (an unreachable or unknown task's grace).
        var replaceAt: Duration? {
            get { self.replaceAtNanoseconds == .min ? nil : .nanoseconds(self.replaceAtNanoseconds) }
            set { self.replaceAtNanoseconds = newValue.map(\.inNanoseconds) ?? .min }
        }

        init(index: Int, attempt: Int = 0) {
            self.index = index
            self.attempt = attempt
        }

        /// The latest status update of the current task.
        var status: TaskStatus? {
            get { self.statusBytes.flatMap { try? MesosCodec(.protobuf).decode(TaskStatus.self, from: $0[...]) } }
            set { self.statusBytes = newValue.flatMap { try? MesosCodec(.protobuf).encode($0) } }
        }
    }

    struct Spec: Sendable {
        var spec: TaskSpec {
            didSet { self.instances.limit = self.spec.instances }
        }
        var demand: ResourceDemand
        var constraints: [PlacementConstraint]
        var order: Int
        var cancelled = false
        var instances: InstanceTable {
            didSet { if self.instances.limit != self.spec.instances { self.instances.limit = self.spec.instances } }
        }
        var role: String

        init(
            spec: TaskSpec, demand: ResourceDemand, constraints: [PlacementConstraint], order: Int,
            cancelled: Bool = false, role: String
        ) {
            self.spec = spec
            self.demand = demand
            self.constraints = constraints
            self.order = order
            self.cancelled = cancelled
            self.instances = InstanceTable(limit: spec.instances)
            self.role = role
        }
    }

    struct TaskEntry: Sendable {
        var record: TaskRecord
        var state: TaskState
        /// The agent it was launched on, behind a reference that the tasks of one agent share
        /// (``RuntimeModel/setSite(_:of:)``): an `AgentSite` inline is most of an entry's size.
        var siteReference: SiteReference?

        init(record: TaskRecord, state: TaskState, site: AgentSite?) {
            self.record = record
            self.state = state
            self.siteReference = site.map(SiteReference.init)
        }

        var site: AgentSite? {
            get { self.siteReference?.site }
            set { self.siteReference = newValue.map(SiteReference.init) }
        }
    }

    /// An agent site, shared by the entries of the tasks on that agent.
    final class SiteReference: Sendable {
        let site: AgentSite

        init(_ site: AgentSite) {
            self.site = site
        }
    }

    var specs: [String: Spec] = [:]
    var tasks: [String: TaskEntry] = [:]
    /// One shared reference per distinct agent site (as many as agents).
    var siteReferences: [AgentSite: SiteReference] = [:]
    var nextOrder = 0
    var serviceBackoff: Backoff

    static func taskID(spec: String, instance: Int, attempt: Int) -> String {
        "\(spec).\(instance).\(attempt)"
    }

    /// Whether the instance's current task no longer holds it: ended, or unreachable/unknown past its grace.
    static func isVacant(_ instance: Instance, now: Duration) -> Bool {
        guard instance.current != nil, let state = instance.state else { return true }
        if state.isTerminal { return true }
        if state == .taskUnreachable || state == .taskUnknown, let at = instance.replaceAt { return now >= at }
        return false
    }

    func isLaunchable(_ instance: Instance, in spec: Spec, now: Duration) -> Bool {
        if spec.spec.restart == .never, instance.current != nil, !(instance.state?.isTerminal ?? true) {
            return false  // run once: an unreachable or unknown task is waited for, never replaced
        }
        return !spec.cancelled && instance.index < spec.spec.instances && !instance.done && !instance.launching
            && Self.isVacant(instance, now: now) && (instance.notBefore ?? .zero) <= now
    }

    /// The instances to launch now, in submission order then instance order. Only the instances the table
    /// files as ready or gated are looked at (the others cannot be launchable).
    func launchable(now: Duration) -> [(spec: String, instance: Int)] {
        self.specs.values.sorted { $0.order < $1.order }.flatMap { spec -> [(spec: String, instance: Int)] in
            guard !spec.cancelled else { return [] }
            return spec.instances.ready.union(spec.instances.gated).sorted().compactMap { index in
                self.isLaunchable(spec.instances[index]!, in: spec, now: now) ? (spec.spec.name, index) : nil
            }
        }
    }

    /// How many instances of each role wait for offers now: the spec's ready instances below its count, kept
    /// by the table, and those of its gated instances whose backoff or grace is over.
    func pendingByRole(now: Duration) -> [String: Int] {
        var counts: [String: Int] = [:]
        for spec in self.specs.values {
            var count = 0
            if !spec.cancelled {
                count = spec.instances.readyBelowLimit
                    + spec.instances.gated.count(where: { self.isLaunchable(spec.instances[$0]!, in: spec, now: now) })
            }
            counts[spec.role, default: 0] += count
        }
        return counts
    }

    /// The earliest moment an instance becomes launchable or replaceable, after `now`.
    func nextDeadline(now: Duration) -> Duration? {
        var best: Duration?
        for spec in self.specs.values where !spec.cancelled {
            for index in spec.instances.timed {
                let instance = spec.instances[index]!
                for candidate in [instance.notBefore, instance.replaceAt].compactMap({ $0 }) where candidate > now {
                    best = min(best ?? candidate, candidate)
                }
            }
        }
        return best
    }

    /// Notes that a task's ACCEPT was sent: its instance is no longer launching. Returns its STAGING event the
    /// first time only.
    mutating func launched(_ id: String) -> TaskEvent? {
        guard let record = self.tasks[id]?.record,
            self.specs[record.spec]?.instances[record.instance]?.launching == true,
            self.specs[record.spec]?.instances[record.instance]?.current == id
        else { return nil }
        self.specs[record.spec]?.instances[record.instance]?.launching = false
        return TaskEvent(
            spec: record.spec, instance: record.instance, attempt: record.attempt, taskID: TaskID(id),
            state: .taskStaging, status: nil)
    }

    /// Records the agent a task was launched on, sharing one reference per distinct site.
    mutating func setSite(_ site: AgentSite, of id: String) {
        guard self.tasks[id] != nil else { return }
        let reference = self.siteReferences[site] ?? SiteReference(site)
        self.siteReferences[site] = reference
        self.tasks[id]?.siteReference = reference
    }

    /// The highest attempt launched for an instance number (0: none).
    func lastAttempt(spec: String, instance: Int) -> Int {
        self.tasks.values.filter { $0.record.spec == spec && $0.record.instance == instance }.map(\.record.attempt).max() ?? 0
    }

    /// The highest attempt launched for each instance number of a spec that has tasks, in one pass over the
    /// tasks (``lastAttempt(spec:instance:)`` for many instances at once).
    func lastAttempts(spec: String) -> [Int: Int] {
        var attempts: [Int: Int] = [:]
        for entry in self.tasks.values where entry.record.spec == spec {
            attempts[entry.record.instance] = max(attempts[entry.record.instance] ?? 0, entry.record.attempt)
        }
        return attempts
    }

    /// Whether the runtime itself ended this task (a kill it asked for).
    func killedByUs(_ taskID: String) -> Bool {
        guard let entry = self.tasks[taskID] else { return false }
        if entry.record.killedByUs { return true }
        guard let spec = self.specs[entry.record.spec] else { return true }
        return spec.cancelled || entry.record.instance >= spec.spec.instances
    }

    /// Applies a committed status update. Returns the event to publish, if the task is one of ours.
    mutating func apply(
        _ status: TaskStatus, now: Duration, unreachableGrace: Duration, recentLaunchWindow: Duration,
        advice: ReconciliationDriver.Advice?
    ) -> TaskEvent? {
        let id = status.taskID.value
        guard var entry = self.tasks[id] else { return nil }
        entry.state = status.state
        if status.hasAgentID, !status.agentID.value.isEmpty { entry.record.agentID = status.agentID.value }
        self.tasks[id] = entry
        let record = entry.record
        let event = TaskEvent(
            spec: record.spec, instance: record.instance, attempt: record.attempt, taskID: status.taskID,
            state: status.state, status: status)
        // The spec is taken out of the map while it changes and put back on return, so that its instance table
        // is changed in place rather than copied.
        guard var spec = self.specs.removeValue(forKey: record.spec) else { return event }
        defer { self.specs[record.spec] = spec }
        // What `killedByUs(id)` answers (it reads the spec, which is out of the map now).
        let killedByUs = record.killedByUs || spec.cancelled || record.instance >= spec.spec.instances
        guard var instance = spec.instances[record.instance] else { return event }
        if case .returned(let replacement?) = advice, replacement.value == instance.current,
            self.tasks[replacement.value]?.record.killedByUs == true
        {
            // The replacement is being killed (ReturnedTaskPolicy.killReplacement): the original holds the
            // instance again.
            instance.current = id
        }
        guard instance.current == id else {
            if status.state.isTerminal, !spec.instances.values.contains(where: { $0.current == id }) {
                self.dropIfRetired(&spec, index: record.instance)
            }
            return event
        }
        instance.state = status.state
        instance.status = status
        switch status.state {
        case .taskRunning:
            instance.replaceAt = nil
            if spec.spec.restart == .always { instance.failures = 0 }
        case .taskUnreachable:
            instance.replaceAt = instance.replaceAt ?? now + unreachableGrace
        case .taskUnknown:
            if case .unknownToMaster(recentlyLaunched: true) = advice {
                instance.replaceAt = now + recentLaunchWindow
            } else {
                instance.replaceAt = now
            }
        default:
            break
        }
        if status.state.isTerminal {
            instance.replaceAt = nil
            self.settle(&instance, spec: spec, state: status.state, killedByUs: killedByUs, now: now)
        }
        spec.instances[record.instance] = instance
        self.dropIfRetired(&spec, index: record.instance)
        return event
    }

    /// Whether a task's end (not a kill of the runtime's) counts as a failure of its instance: any end but
    /// TASK_FINISHED for run-to-completion instances; for services, the task's own end (it exited, failed, was
    /// killed by someone else), not a loss to the cluster (agent gone, unreachable, dropped), which is replaced at
    /// once.
    static func countsAsFailure(_ state: TaskState, restart: RestartPolicy) -> Bool {
        switch restart {
        case .never, .onFailure:
            return state != .taskFinished
        case .always:
            switch state {
            case .taskLost, .taskGone, .taskGoneByOperator, .taskDropped, .taskUnreachable, .taskUnknown:
                return false
            default:
                return true
            }
        }
    }

    /// Decides what an instance whose task ended does next.
    func settle(_ instance: inout Instance, spec: Spec, state: TaskState, killedByUs: Bool, now: Duration) {
        if killedByUs || spec.cancelled || instance.index >= spec.spec.instances {
            instance.done = true
            return
        }
        let failed = Self.countsAsFailure(state, restart: spec.spec.restart)
        switch spec.spec.restart {
        case .never:
            instance.done = true
        case .onFailure(let maxAttempts, let backoff):
            if !failed {
                instance.done = true
            } else {
                instance.failures += 1
                if instance.failures >= maxAttempts {
                    instance.done = true
                } else {
                    instance.notBefore = now + backoff.delay(afterFailures: instance.failures)
                }
            }
        case .always:
            if failed {
                instance.failures += 1
                instance.notBefore = now + self.serviceBackoff.delay(afterFailures: instance.failures)
            } else {
                instance.notBefore = nil
            }
        }
    }

    /// Removes a task that is over and no longer its instance's current task (an earlier attempt, or a copy that
    /// came back and was killed) from the model. Returns `true` when it was removed: its stored record and status
    /// can go. The last task of an instance is never pruned (task ids are not reused: the next attempt number
    /// comes from it).
    mutating func pruneSuperseded(_ id: String) -> Bool {
        guard let entry = self.tasks[id], entry.state.isTerminal,
            let instance = self.specs[entry.record.spec]?.instances[entry.record.instance],
            let current = instance.current, current != id, self.tasks[current] != nil,
            entry.record.attempt < instance.attempt
        else { return false }
        self.tasks.removeValue(forKey: id)
        return true
    }

    /// Forgets an instance scaled away once its task is over.
    mutating func dropIfRetired(_ spec: inout Spec, index: Int) {
        guard index >= spec.spec.instances, let instance = spec.instances[index] else { return }
        let active = instance.current.map { self.tasks[$0].map { !$0.state.isTerminal } ?? false } ?? false
        if !active && !instance.launching { spec.instances.removeValue(forKey: index) }
    }

    /// The result of a spec, once every instance it still has is done (or it was cancelled and nothing runs).
    func result(of name: String) -> SpecResult? {
        guard let spec = self.specs[name] else { return nil }
        // Checked before sorting: a spec still running (the common case while waited for) answers at its first
        // unfinished instance.
        let finished = spec.instances.values.allSatisfy { instance in
            if instance.launching { return false }
            if spec.cancelled || instance.index >= spec.spec.instances {
                return instance.current.map { self.tasks[$0].map { $0.state.isTerminal } ?? true } ?? true
            }
            return instance.done
        }
        guard finished else { return nil }
        let instances = spec.instances.values.sorted { $0.index < $1.index }
        return SpecResult(
            spec: name, cancelled: spec.cancelled,
            instances: instances.filter { $0.index < spec.spec.instances || spec.cancelled }.map { instance in
                InstanceResult(
                    instance: instance.index, taskID: instance.current.map { TaskID($0) }, state: instance.state,
                    attempts: instance.attempt, status: instance.status)
            })
    }

    /// Rebuilds the model from stored specs, task records and statuses (at start).
    mutating func restore(
        specs: [SpecRecord], tasks: [String: TaskRecord], statuses: [String: TaskStatus], defaultRole: String,
        now: Duration
    ) throws(FrameworkRuntimeError) {
        for record in specs.sorted(by: { $0.order < $1.order }) {
            let parsed: (demand: ResourceDemand, constraints: [PlacementConstraint])
            do {
                parsed = try record.spec.validate()
            } catch {
                throw FrameworkRuntimeError(.corruptState, "stored spec \(record.spec.name): \(error)")
            }
            var spec = Spec(
                spec: record.spec, demand: parsed.demand, constraints: parsed.constraints, order: record.order,
                cancelled: record.cancelled, role: record.spec.role ?? defaultRole)
            for index in 0..<record.spec.instances { spec.instances[index] = Instance(index: index) }
            self.specs[record.spec.name] = spec
            self.nextOrder = max(self.nextOrder, record.order + 1)
        }
        var sites: [String: AgentSite] = [:]
        for (id, record) in tasks.sorted(by: { $0.value.attempt < $1.value.attempt }) {
            let state = statuses[id]?.state ?? .taskStaging
            var record = record
            if let status = statuses[id], status.hasAgentID, !status.agentID.value.isEmpty,
                status.agentID.value != record.agentID
            {
                record.agentID = status.agentID.value
                record.site = nil  // the stored site was another agent's
            }
            self.tasks[id] = TaskEntry(record: record.withoutSite, state: state, site: nil)
            if let site = record.site(interning: &sites) { self.setSite(site, of: id) }
            guard var spec = self.specs[record.spec] else { continue }
            var instance = spec.instances[record.instance] ?? Instance(index: record.instance)
            if record.attempt >= instance.attempt {
                instance.attempt = record.attempt
                if !record.killedByUs || instance.current == nil {
                    instance.current = id
                    instance.state = state
                    instance.status = statuses[id]
                }
            }
            let failed = state.isTerminal && !record.killedByUs && Self.countsAsFailure(state, restart: spec.spec.restart)
            if let before = record.failuresBefore.map(Int.init) {
                // Newer records know the failures before them: older (possibly pruned) records are not needed.
                instance.failures = max(instance.failures, before + (failed ? 1 : 0))
            } else if failed {
                instance.failures += 1
            }
            spec.instances[record.instance] = instance
            self.specs[record.spec] = spec
        }
        // Decide again, for instances whose latest task is over. Its backoff starts again from the restart: the
        // moment the previous process meant is not known, and a framework that keeps crashing must not relaunch
        // failing tasks at full speed.
        for (name, var spec) in self.specs {
            for (index, var instance) in spec.instances {
                guard let current = instance.current, let state = instance.state, state.isTerminal else { continue }
                // The count already holds this task's failure, which `settle` adds again.
                let killed = self.killedByUs(current)
                let failed = !killed && Self.countsAsFailure(state, restart: spec.spec.restart)
                instance.failures = max(0, instance.failures - (failed ? 1 : 0))
                self.settle(&instance, spec: spec, state: state, killedByUs: killed, now: now)
                spec.instances[index] = instance
            }
            for index in spec.instances.keys { self.dropIfRetired(&spec, index: index) }
            self.specs[name] = spec
        }
    }
}
