/// The instances of one spec, by instance number, with the indexes the runtime's hot paths read: which
/// instances may be launched at some time (so a launch round and the pending count look at those only, not at
/// every instance), and which wait for a deadline.
///
/// Every write goes through the subscript (or ``removeValue(forKey:)``), which files the instance again, so
/// the indexes always agree with the instances. Reads are those of a dictionary.
struct InstanceTable: Sendable, Sequence, ExpressibleByDictionaryLiteral {
    /// Where an instance is filed.
    enum Standing: Sendable, Equatable {
        /// Not launchable now nor later by itself (running, launching, done, or waited for).
        case busy
        /// Launchable as soon as its spec allows it (no backoff, no grace).
        case ready
        /// Launchable once its backoff or its grace (unreachable, unknown) ends.
        case gated
    }

    private var storage: [Int: RuntimeModel.Instance] = [:]
    /// Ready instances, by number.
    private(set) var ready: Set<Int> = []
    /// Gated instances, by number.
    private(set) var gated: Set<Int> = []
    /// Instances not done with a backoff or a grace deadline set (what ``RuntimeModel/nextDeadline(now:)`` reads).
    private(set) var timed: Set<Int> = []
    /// The spec's instance count: ready instances numbered below it are counted in ``readyBelowLimit``.
    var limit = 0 {
        didSet {
            if self.limit != oldValue { self.readyBelowLimit = self.ready.count { $0 < self.limit } }
        }
    }
    /// How many ready instances are numbered below ``limit``.
    private(set) var readyBelowLimit = 0

    init(limit: Int = 0) {
        self.limit = limit
    }

    init(dictionaryLiteral elements: (Int, RuntimeModel.Instance)...) {
        for (index, instance) in elements { self[index] = instance }
    }

    /// The standing of an instance, from its own fields (the spec's — cancelled, count, restart policy — are
    /// checked when reading). Ready and gated together hold every instance ``RuntimeModel/isLaunchable`` can
    /// accept at some time.
    static func standing(of instance: RuntimeModel.Instance) -> Standing {
        if instance.done || instance.launching { return .busy }
        let vacant = instance.current == nil || instance.state.map(\.isTerminal) ?? true
        let replaceable = !vacant && (instance.state == .taskUnreachable || instance.state == .taskUnknown)
            && instance.replaceAt != nil
        if !vacant && !replaceable { return .busy }
        return replaceable || instance.notBefore != nil ? .gated : .ready
    }

    subscript(index: Int) -> RuntimeModel.Instance? {
        get { self.storage[index] }
        set {
            if let old = self.storage[index] { self.unfile(index, old) }
            self.storage[index] = newValue
            if let newValue { self.file(index, newValue) }
        }
    }

    @discardableResult
    mutating func removeValue(forKey index: Int) -> RuntimeModel.Instance? {
        guard let old = self.storage.removeValue(forKey: index) else { return nil }
        self.unfile(index, old)
        return old
    }

    var values: Dictionary<Int, RuntimeModel.Instance>.Values { self.storage.values }
    var keys: Dictionary<Int, RuntimeModel.Instance>.Keys { self.storage.keys }
    var count: Int { self.storage.count }
    var isEmpty: Bool { self.storage.isEmpty }

    func makeIterator() -> Dictionary<Int, RuntimeModel.Instance>.Iterator { self.storage.makeIterator() }

    private mutating func file(_ index: Int, _ instance: RuntimeModel.Instance) {
        switch Self.standing(of: instance) {
        case .busy: break
        case .ready:
            self.ready.insert(index)
            if index < self.limit { self.readyBelowLimit += 1 }
        case .gated: self.gated.insert(index)
        }
        if !instance.done, instance.notBefore != nil || instance.replaceAt != nil { self.timed.insert(index) }
    }

    private mutating func unfile(_ index: Int, _ instance: RuntimeModel.Instance) {
        if self.ready.remove(index) != nil, index < self.limit { self.readyBelowLimit -= 1 }
        self.gated.remove(index)
        self.timed.remove(index)
    }
}
