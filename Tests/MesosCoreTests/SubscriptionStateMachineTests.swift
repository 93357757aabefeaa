import MesosCore
import Testing

private let frameworkID = FrameworkID("fw-1")
private let noJitter = SubscriptionStateMachine.Configuration(backoff: BackoffPolicy(jitter: false))

/// The states a machine can be driven into, for the exhaustive transition table.
enum StartState: String, CaseIterable, CustomTestStringConvertible {
    case unsubscribed, subscribing, subscribingWithStream, subscribed, disconnected, failed
    var testDescription: String { rawValue }

    func make() throws -> SubscriptionStateMachine {
        var machine = SubscriptionStateMachine(configuration: noJitter, seed: 1)
        switch self {
        case .unsubscribed:
            break
        case .subscribing:
            _ = try machine.subscribeRequested()
        case .subscribingWithStream:
            _ = try machine.subscribeRequested()
            _ = try machine.streamOpened(streamID: "s1")
        case .subscribed:
            _ = try machine.subscribeRequested()
            _ = try machine.streamOpened(streamID: "s1")
            _ = try machine.subscribedReceived(frameworkID: frameworkID, heartbeatIntervalSeconds: 15, masterInfo: nil)
        case .disconnected:
            machine = try StartState.subscribed.make()
            _ = try machine.streamEnded(nil)
        case .failed:
            machine = try StartState.subscribed.make()
            _ = try machine.errorReceived(message: "boom")
        }
        return machine
    }
}

/// The inputs of the machine.
enum Input: String, CaseIterable, CustomTestStringConvertible {
    case subscribeRequested, streamOpened, subscribedReceived, errorReceived, streamEnded, heartbeatMissed
    case backoffElapsed, teardownRequested
    var testDescription: String { rawValue }

    func apply(to machine: inout SubscriptionStateMachine) throws(MesosError) -> SubscriptionStateMachine.Action {
        switch self {
        case .subscribeRequested: return try machine.subscribeRequested()
        case .streamOpened: return try machine.streamOpened(streamID: "s2")
        case .subscribedReceived:
            return try machine.subscribedReceived(frameworkID: frameworkID, heartbeatIntervalSeconds: 15, masterInfo: nil)
        case .errorReceived: return try machine.errorReceived(message: "Framework failed over")
        case .streamEnded: return try machine.streamEnded(MesosError(code: .transportFailure))
        case .heartbeatMissed: return try machine.heartbeatMissed()
        case .backoffElapsed: return try machine.backoffElapsed()
        case .teardownRequested: return try machine.teardownRequested()
        }
    }
}

/// Which (state, input) pairs are legal.
private let legal: Set<String> = [
    "unsubscribed/subscribeRequested", "failed/subscribeRequested",
    "subscribing/streamOpened",
    "subscribingWithStream/subscribedReceived",
    "subscribing/errorReceived", "subscribingWithStream/errorReceived", "subscribed/errorReceived",
    "subscribing/streamEnded", "subscribingWithStream/streamEnded", "subscribed/streamEnded",
    "subscribed/heartbeatMissed",
    "disconnected/backoffElapsed",
    "subscribed/teardownRequested",
]

@Suite("Subscription state machine")
struct SubscriptionStateMachineTests {
    @Test("every input in every state is either a transition or a typed error that changes nothing",
          arguments: StartState.allCases, Input.allCases)
    func transitionTable(start: StartState, input: Input) throws {
        var machine = try start.make()
        let before = machine.state
        let key = "\(start.rawValue)/\(input.rawValue)"
        do {
            _ = try input.apply(to: &machine)
            #expect(legal.contains(key), "\(key) should have been rejected")
        } catch {
            #expect(!legal.contains(key), "\(key) should be allowed but threw \(error)")
            let expected: MesosError.Code = input == .teardownRequested ? .notSubscribed : .invalidState
            #expect(error.code == expected, "\(key)")
            #expect(machine.state == before, "\(key) changed the state although it threw")
        }
    }

    @Test("a first subscription: open, stream id, SUBSCRIBED, calls allowed with both ids")
    func happyPath() throws {
        var machine = SubscriptionStateMachine(configuration: noJitter, seed: 1)
        #expect(!machine.canSendCalls)
        #expect(throws: MesosError(code: .notSubscribed)) { try machine.callContext() }
        #expect(try machine.subscribeRequested() == .openStream(.init(frameworkID: nil, suppressedRoles: [], attempt: 1)))
        #expect(try machine.streamOpened(streamID: "stream-a") == .none)
        #expect(!machine.canSendCalls)
        var master = MasterInfo()
        master.hostname = "m1"
        let action = try machine.subscribedReceived(frameworkID: frameworkID, heartbeatIntervalSeconds: 15, masterInfo: master)
        guard case .subscribed(let subscription, let timeout) = action else {
            Issue.record("unexpected \(action)")
            return
        }
        #expect(subscription.streamID == "stream-a" && subscription.frameworkID == frameworkID)
        #expect(subscription.masterInfo?.hostname == "m1")
        #expect(!subscription.isResubscription)
        #expect(timeout == .seconds(75))
        #expect(try machine.callContext() == .init(frameworkID: frameworkID, streamID: "stream-a"))
        #expect(machine.frameworkID == frameworkID)
    }

    @Test("an absurd advertised heartbeat interval saturates instead of trapping", arguments: [1e300, 9.3e9])
    func absurdHeartbeatInterval(seconds: Double) throws {
        var machine = SubscriptionStateMachine(configuration: noJitter, seed: 1)
        _ = try machine.subscribeRequested()
        _ = try machine.streamOpened(streamID: "s")
        let action = try machine.subscribedReceived(frameworkID: frameworkID, heartbeatIntervalSeconds: seconds, masterInfo: nil)
        guard case .subscribed(let subscription, let timeout) = action else {
            Issue.record("unexpected \(action)")
            return
        }
        #expect(subscription.heartbeatInterval == .nanoseconds(Int64.max))
        #expect(timeout >= subscription.heartbeatInterval)
    }

    @Test("an advertised interval that is not a positive finite number falls back to the configured one",
          arguments: [Double.infinity, Double.nan, 0, -3])
    func unusableHeartbeatInterval(seconds: Double) throws {
        var machine = SubscriptionStateMachine(configuration: noJitter, seed: 1)
        _ = try machine.subscribeRequested()
        _ = try machine.streamOpened(streamID: "s")
        let action = try machine.subscribedReceived(frameworkID: frameworkID, heartbeatIntervalSeconds: seconds, masterInfo: nil)
        guard case .subscribed(let subscription, _) = action else {
            Issue.record("unexpected \(action)")
            return
        }
        #expect(subscription.heartbeatInterval == noJitter.defaultHeartbeatInterval)
    }

    @Test("a lost stream resubscribes with the same framework id and the suppressed roles")
    func resubscribeAfterLoss() throws {
        var machine = try StartState.subscribed.make()
        machine.rolesSuppressed(["b", "a"])
        machine.rolesRevived(["b"])
        let action = try machine.streamEnded(nil)
        #expect(action == .resubscribe(after: .milliseconds(500), attempt: 1, reason: MesosError(code: .streamEnded)))
        #expect(throws: MesosError(code: .notSubscribed)) { try machine.callContext() }
        #expect(try machine.backoffElapsed() == .openStream(.init(frameworkID: frameworkID, suppressedRoles: ["a"], attempt: 1)))
        _ = try machine.streamOpened(streamID: "stream-b")
        guard case .subscribed(let subscription, _) = try machine.subscribedReceived(
            frameworkID: frameworkID, heartbeatIntervalSeconds: 15, masterInfo: nil)
        else {
            Issue.record("not subscribed")
            return
        }
        #expect(subscription.isResubscription && subscription.streamID == "stream-b")
    }

    @Test("failed attempts back off exponentially up to the cap")
    func exponentialBackoff() throws {
        var machine = try StartState.subscribed.make()
        var delays: [Duration] = []
        let missed = try machine.heartbeatMissed()
        guard case .resubscribe(let first, _, _) = missed else {
            Issue.record("expected resubscribe, got \(missed)")
            return
        }
        delays.append(first)
        for _ in 0..<7 {
            _ = try machine.backoffElapsed()
            guard case .resubscribe(let delay, _, _) = try machine.streamEnded(MesosError(code: .unavailable)) else {
                Issue.record("expected resubscribe")
                return
            }
            delays.append(delay)
        }
        #expect(delays == [.milliseconds(500), .seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(15),
                           .seconds(15), .seconds(15)])
    }

    @Test("permanent failures while subscribing fail; temporary ones and redirects retry")
    func classificationWhileSubscribing() throws {
        for (status, retries) in [(401, false), (400, false), (415, false), (503, true), (307, true), (403, false)] {
            var machine = try StartState.subscribing.make()
            let action = try machine.streamEnded(MesosError.httpStatus(status))
            if retries {
                guard case .resubscribe(_, 2, _) = action else {
                    Issue.record("HTTP \(status): \(action)")
                    continue
                }
            } else {
                #expect(action == .fail(MesosError.httpStatus(status)), "HTTP \(status)")
                guard case .failed = machine.state else {
                    Issue.record("HTTP \(status) did not fail")
                    continue
                }
            }
        }
    }

    @Test("ERROR before SUBSCRIBED refuses; 'Framework failed over' ends without a resubscribe")
    func errorEvents() throws {
        var refusing = try StartState.subscribingWithStream.make()
        #expect(try refusing.errorReceived(message: "Role 'x' is not present in the master's --roles")
            == .fail(MesosError(code: .subscriptionRefused)))
        var live = try StartState.subscribed.make()
        #expect(try live.errorReceived(message: "Framework failed over") == .fail(MesosError(code: .frameworkFailedOver)))
        #expect(throws: MesosError(code: .invalidState)) { try live.streamEnded(nil) }
        var removed = try StartState.subscribed.make()
        #expect(try removed.errorReceived(message: "Framework has been removed") == .fail(MesosError(code: .frameworkRemoved)))
    }

    @Test("the attempt limit turns a retry into a failure")
    func attemptLimit() throws {
        var config = noJitter
        config.maximumAttempts = 2
        var machine = SubscriptionStateMachine(configuration: config, seed: 1)
        _ = try machine.subscribeRequested()
        guard case .resubscribe(_, 2, _) = try machine.streamEnded(MesosError(code: .transportFailure)) else {
            Issue.record("expected a retry")
            return
        }
        _ = try machine.backoffElapsed()
        let action = try machine.streamEnded(MesosError(code: .transportFailure))
        #expect(action == .fail(MesosError(code: .transportFailure)))
    }

    @Test("disconnect keeps the framework id for failover; teardown forgets it")
    func disconnectAndTeardown() throws {
        var machine = try StartState.subscribed.make()
        #expect(machine.disconnectRequested() == .closeStream)
        #expect(machine.disconnectRequested() == .none)
        #expect(machine.frameworkID == frameworkID)
        #expect(try machine.subscribeRequested() == .openStream(.init(frameworkID: frameworkID, suppressedRoles: [], attempt: 1)))

        var tearing = try StartState.subscribed.make()
        tearing.rolesSuppressed(["r"])
        #expect(try tearing.teardownRequested() == .teardown(.init(frameworkID: frameworkID, streamID: "s1")))
        #expect(tearing.frameworkID == nil && tearing.suppressedRoles.isEmpty && tearing.state == .unsubscribed)
    }

    @Test("a restarting scheduler fails over to its stored framework id from the first SUBSCRIBE")
    func initialFrameworkID() throws {
        var machine = SubscriptionStateMachine(frameworkID: frameworkID, suppressedRoles: ["x"], seed: 3)
        #expect(try machine.subscribeRequested() == .openStream(.init(frameworkID: frameworkID, suppressedRoles: ["x"], attempt: 1)))
        _ = try machine.streamOpened(streamID: "s")
        let other = try machine.subscribedReceived(frameworkID: FrameworkID("other"), heartbeatIntervalSeconds: nil, masterInfo: nil)
        #expect(other == .fail(MesosError(code: .malformedStream)))
    }

    @Test("an empty stream id is a malformed response and is retried")
    func emptyStreamID() throws {
        var machine = try StartState.subscribing.make()
        guard case .resubscribe(_, 2, let reason) = try machine.streamOpened(streamID: "") else {
            Issue.record("expected a retry")
            return
        }
        #expect(reason.code == .malformedStream)
    }

    @Test("a missing heartbeat interval falls back to the default")
    func defaultHeartbeat() throws {
        var machine = try StartState.subscribingWithStream.make()
        let action = try machine.subscribedReceived(frameworkID: frameworkID, heartbeatIntervalSeconds: nil, masterInfo: nil)
        guard case .subscribed(_, let timeout) = action else {
            Issue.record("expected subscribed, got \(action)")
            return
        }
        #expect(timeout == .seconds(75))
    }

    @Test("the advertised heartbeat interval, not the configured one, sets the timeout and the missed-heartbeat reason")
    func advertisedHeartbeat() throws {
        var machine = try StartState.subscribingWithStream.make()
        let action = try machine.subscribedReceived(frameworkID: frameworkID, heartbeatIntervalSeconds: 0.5, masterInfo: nil)
        guard case .subscribed(let subscription, let timeout) = action else {
            Issue.record("expected subscribed, got \(action)")
            return
        }
        #expect(subscription.heartbeatInterval == .milliseconds(500))
        #expect(timeout == .milliseconds(2500))
        let missed = try machine.heartbeatMissed()
        guard case .resubscribe(_, 1, let reason) = missed else {
            Issue.record("expected resubscribe, got \(missed)")
            return
        }
        #expect(reason.code == .heartbeatTimeout)
        #expect(reason.message.contains("2.5 seconds"), "\(reason.message)")
    }
}

@Suite("Backoff")
struct BackoffTests {
    @Test("full jitter stays within the ceiling and is reproducible with a seed")
    func jitterBounds() {
        let policy = BackoffPolicy()
        var a = SplitMix64(seed: 42)
        var b = SplitMix64(seed: 42)
        var distinct = Set<Duration>()
        for attempt in 1...50 {
            let delay = policy.delay(forAttempt: attempt, using: &a)
            #expect(delay >= .zero && delay <= policy.ceiling(forAttempt: attempt))
            #expect(delay == policy.delay(forAttempt: attempt, using: &b))
            distinct.insert(delay)
        }
        #expect(distinct.count > 40)
        #expect(policy.ceiling(forAttempt: 1) == .milliseconds(500))
        #expect(policy.ceiling(forAttempt: 100) == .seconds(15))
    }
}
