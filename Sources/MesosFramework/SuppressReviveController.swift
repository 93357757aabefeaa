import MesosCore

/// Decides, per role, when to SUPPRESS and when to REVIVE offers, from how much work is pending for each role.
///
/// Design: a value type with no clock and no I/O; time comes in as `now` (an offset on the owner's clock) and
/// the controller answers with ``Directive``s to send. The owner reports back with ``confirm(_:)`` once a call
/// succeeded, so the controller always knows what the master was told.
///
/// - A role with nothing pending is *idle* and gets suppressed; a role with pending work is *wanted*.
/// - Debounce: at most one round of directives per ``Configuration/interval``; changes in between are folded
///   into the next round, which sees only the latest pending counts.
/// - A suppressed role that gets work is revived (unsuppressed) at the next round.
/// - New work (a pending count that rises) bumps the role's version; a wanted role whose version rose since its
///   last REVIVE is revived, which also clears long decline filters, but at most once per
///   ``Configuration/reviveCooldown`` (frequent revives act like tiny filters and starve other frameworks).
///   Each such REVIVE is repeated once, one interval later, if the role is still wanted (a DECLINE processed
///   after the REVIVE may have left a filter). No revive storm, however often work arrives.
/// - A SUPPRESS or REVIVE sent around the controller (directly on the scheduler) is not seen by it; send them
///   through the controller only.
/// - The controller starts from "nothing declared", so the first round suppresses every idle role.
/// - After every (re-)subscription, ``subscribed(declared:)`` tells it what the SUBSCRIBE declared as
///   `suppressed_roles` (``MesosScheduler`` declares the roles suppressed by successful SUPPRESS calls); the
///   next round is due at once and sends a SUPPRESS or REVIVE for any role whose declared state is wrong.
/// - Only the roles given at creation are accepted: the master silently drops a whole SUPPRESS or REVIVE that
///   names a role the framework is not subscribed with, so an unknown role is a local error.
public struct SuppressReviveController: Sendable {
    /// Tunables.
    public struct Configuration: Sendable, Hashable {
        /// At most one round of directives per interval (Marathon's `min_revive_offers_interval`, 5 s).
        public var interval: Duration
        /// New work for a role that is not suppressed revives it (to clear decline filters) at most once per
        /// cooldown: frequent revives act like tiny filters and starve other frameworks. Unsuppressing an idle
        /// role that gets work, and the one repeat, are not held back.
        public var reviveCooldown: Duration

        /// Creates a configuration.
        ///
        /// - Parameters:
        ///   - interval: Debounce interval (default 5 s).
        ///   - reviveCooldown: Least time between two new-work revives of a role that is not suppressed
        ///     (default 2 min).
        public init(interval: Duration = .seconds(5), reviveCooldown: Duration = .seconds(120)) {
            self.interval = interval
            self.reviveCooldown = reviveCooldown
        }
    }

    /// A call the controller wants sent.
    public enum Directive: Sendable, Hashable {
        /// SUPPRESS these roles (sorted).
        case suppress([String])
        /// REVIVE these roles (sorted).
        case revive([String])

        /// The scheduler call.
        public var call: SchedulerCall {
            switch self {
            case .suppress(let roles): return .suppress(roles: roles)
            case .revive(let roles): return .revive(roles: roles)
            }
        }
    }

    private struct RoleState: Sendable {
        var pending = 0
        var version = 0
        var revivedVersion = 0
        var repeatDue: Duration?
        var lastNewWorkRevive: Duration?
    }

    /// The configuration.
    public let configuration: Configuration
    /// The framework's roles.
    public let roles: Set<String>
    private var states: [String: RoleState]
    /// The roles the master was told (and confirmed) to suppress.
    public private(set) var suppressedRoles: Set<String>
    private var nextRound: Duration = .zero
    private var revivedInFlight: [String: (version: Int, isRepeat: Bool)] = [:]

    /// Creates a controller with nothing pending.
    ///
    /// - Parameters:
    ///   - roles: The framework's roles (`FrameworkInfo.roles`).
    ///   - declared: The roles already declared suppressed (the scheduler's `suppressedRoles`).
    ///   - configuration: Tunables.
    public init(roles: Set<String>, declared: Set<String> = [], configuration: Configuration = .init()) {
        self.roles = roles
        self.configuration = configuration
        self.states = Dictionary(uniqueKeysWithValues: roles.map { ($0, RoleState()) })
        self.suppressedRoles = declared.intersection(roles)
    }

    /// The pending work of a role.
    public func pending(for role: String) -> Int {
        self.states[role]?.pending ?? 0
    }

    /// The roles with work pending.
    public var busyRoles: Set<String> {
        Set(self.states.filter { $0.value.pending > 0 }.map(\.key))
    }

    /// The roles with nothing pending, sorted: what a SUBSCRIBE should declare as `suppressed_roles`.
    public var idleRoles: [String] {
        self.states.filter { $0.value.pending == 0 }.map(\.key).sorted()
    }

    /// Sets how much work is pending for a role. A rise counts as new work.
    ///
    /// - Throws: ``FrameworkServicesError/unknownRole(_:)`` for a role the framework is not subscribed with.
    public mutating func setPending(_ count: Int, for role: String) throws(FrameworkServicesError) {
        guard var state = self.states[role] else { throw .unknownRole(role) }
        let count = max(0, count)
        if count > state.pending { state.version += 1 }
        state.pending = count
        self.states[role] = state
    }

    /// The connection was (re-)established with SUBSCRIBE declaring `declared` as suppressed: the master's
    /// suppression state is now exactly that, and the next round is due at once.
    public mutating func subscribed(declared: Set<String>) {
        self.suppressedRoles = declared.intersection(self.roles)
        self.revivedInFlight = [:]
        self.nextRound = .zero
    }

    /// When the next round may send something, or `nil` if nothing would be sent whenever it ran.
    public func nextDeadline(now: Duration) -> Duration? {
        let due = self.states.compactMap { self.due(role: $0.key, state: $0.value, now: now)?.at }.min()
        return due.map { max($0, self.nextRound) }
    }

    /// When a role needs a directive, and whether that directive is the repeat of a revive.
    private func due(role: String, state: RoleState, now: Duration) -> (at: Duration, isRepeat: Bool)? {
        let suppressed = self.suppressedRoles.contains(role)
        if state.pending == 0 {
            return suppressed ? nil : (now, false)
        }
        if suppressed { return (now, false) }
        var candidates: [(at: Duration, isRepeat: Bool)] = []
        if let repeatDue = state.repeatDue { candidates.append((repeatDue, true)) }
        if state.version > state.revivedVersion {
            let allowed = state.lastNewWorkRevive.map { $0 + self.configuration.reviveCooldown } ?? now
            candidates.append((max(now, allowed), false))
        }
        // The repeat absorbs new work that arrived since the first revive.
        return candidates.min { ($0.at, $0.isRepeat ? 0 : 1) < ($1.at, $1.isRepeat ? 0 : 1) }
    }

    /// Runs a round if one is due at `now`: returns the directives to send (SUPPRESS first), possibly none.
    /// Each must be reported with ``confirm(_:)`` once the call succeeded.
    public mutating func directives(now: Duration) -> [Directive] {
        guard now >= self.nextRound else { return [] }
        var suppress: [String] = []
        var revive: [String] = []
        for (role, state) in self.states {
            guard let due = self.due(role: role, state: state, now: now), due.at <= now else { continue }
            if state.pending == 0 {
                suppress.append(role)
                self.states[role]?.repeatDue = nil
                continue
            }
            revive.append(role)
            self.revivedInFlight[role] = (state.version, due.isRepeat)
            self.states[role]?.revivedVersion = state.version
            if due.isRepeat {
                // The repeat (which may also cover newer work) is not repeated again.
                self.states[role]?.repeatDue = nil
            } else {
                // A revive that answers new work is repeated once, one interval later.
                self.states[role]?.repeatDue = now + self.configuration.interval
                self.states[role]?.lastNewWorkRevive = now
            }
        }
        guard !suppress.isEmpty || !revive.isEmpty else { return [] }
        self.nextRound = now + self.configuration.interval
        var result: [Directive] = []
        if !suppress.isEmpty { result.append(.suppress(suppress.sorted())) }
        if !revive.isEmpty { result.append(.revive(revive.sorted())) }
        return result
    }

    /// A directive's call succeeded: the master now has these roles suppressed or revived.
    public mutating func confirm(_ directive: Directive) {
        switch directive {
        case .suppress(let roles):
            self.suppressedRoles.formUnion(roles)
        case .revive(let roles):
            self.suppressedRoles.subtract(roles)
            for role in roles { self.revivedInFlight.removeValue(forKey: role) }
        }
    }

    /// A directive's call failed: the roles keep their previous state, and the directive is tried again at the
    /// next round (one interval later).
    public mutating func fail(_ directive: Directive) {
        guard case .revive(let roles) = directive else { return }
        for role in roles {
            guard let inFlight = self.revivedInFlight.removeValue(forKey: role) else { continue }
            if !inFlight.isRepeat {
                // Not revived after all: let the next round revive it as new work.
                let revived = self.states[role]?.revivedVersion ?? 0
                self.states[role]?.revivedVersion = min(revived, inFlight.version - 1)
                self.states[role]?.repeatDue = nil
                self.states[role]?.lastNewWorkRevive = nil
            }
        }
    }
}
