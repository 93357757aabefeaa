import Foundation
import MesosCore
import Testing

private let fw = FrameworkID("fw")

private func info() -> FrameworkInfo {
    var info = FrameworkInfo()
    info.user = "root"
    info.name = "test"
    info.roles = ["batch"]
    info.capabilities = [.init()]
    info.capabilities[0].type = .multiRole
    return info
}

private func task(_ id: String) -> TaskInfo {
    var task = TaskInfo()
    task.name = id
    task.taskID = TaskID(id)
    task.agentID = AgentID("a1")
    task.command.value = "echo hi"
    task.resources = [.scalar("cpus", 0.1), .scalar("mem", 32)]
    return task
}

@Suite("Calls")
struct CallTests {
    /// One valid call of every type.
    static let validCalls: [SchedulerCall] = [
        .subscribe(frameworkInfo: info(), suppressedRoles: ["batch"]),
        .teardown(frameworkID: fw),
        .accept(offerIDs: [OfferID("o1")], operations: [.launch([task("t1")])], filters: .refuse(seconds: 30), frameworkID: fw),
        .decline(offerIDs: [OfferID("o1")], frameworkID: fw),
        .acceptInverseOffers(inverseOfferIDs: [OfferID("i1")], frameworkID: fw),
        .declineInverseOffers(inverseOfferIDs: [OfferID("i1")], frameworkID: fw),
        .revive(roles: ["batch"], frameworkID: fw),
        .kill(taskID: TaskID("t1"), agentID: AgentID("a1"), frameworkID: fw),
        .shutdown(executorID: ExecutorID("e1"), agentID: AgentID("a1"), frameworkID: fw),
        .acknowledge(agentID: AgentID("a1"), taskID: TaskID("t1"), uuid: Data([0, 1, 2, 3, 4, 5, 0x47, 7, 0x88, 9, 10, 11, 12, 13, 14, 15]), frameworkID: fw),
        .acknowledgeOperationStatus(operationID: OperationID("op"), uuid: withUnsafeBytes(of: UUID().uuid) { Data($0) },
                                    agentID: AgentID("a1"), frameworkID: fw),
        .reconcile(tasks: [(TaskID("t1"), AgentID("a1")), (TaskID("t2"), nil)], frameworkID: fw),
        .reconcileOperations(operations: [(OperationID("op"), nil, nil)], frameworkID: fw),
        .message(agentID: AgentID("a1"), executorID: ExecutorID("e1"), data: Data("hi".utf8), frameworkID: fw),
        .request([ResourceRequest()], frameworkID: fw),
        .suppress(roles: [], frameworkID: fw),
        .updateFramework(frameworkInfo: { var i = info(); i.id = fw; return i }()),
    ]

    @Test("there is a builder for each of the 17 call types, and each builds a valid call")
    func everyCallType() throws {
        let types = Set(Self.validCalls.map(\.type))
        #expect(types.count == 17)
        #expect(types == Set(SchedulerCall.TypeEnum.allCases.filter { $0 != .unknown }))
        for call in Self.validCalls {
            #expect(throws: Never.self, "\(call.type)") { try call.validate() }
            for codec in [MesosCodec(.json), MesosCodec(.protobuf)] {
                let again = try codec.decode(SchedulerCall.self, from: try codec.encode(call)[...])
                #expect(again == call)
            }
        }
    }

    @Test("every Offer.Operation kind has a builder that validates")
    func everyOperation() throws {
        var volume = Resource.scalar("disk", 64)
        volume.disk.persistence.id = "v1"
        var executor = ExecutorInfo()
        executor.executorID = ExecutorID("ex")
        executor.type = .default
        var groupTask = task("g1")
        groupTask.clearCommand()
        let operations: [OfferOperation] = [
            .launch([task("t")]),
            .launchGroup(executor: executor, tasks: [groupTask]),
            .reserve([.scalar("cpus", 1, role: "batch")]),
            .unreserve([.scalar("cpus", 1)]),
            .create(volumes: [volume]),
            .destroy(volumes: [volume]),
            .growVolume(volume, addition: .scalar("disk", 10)),
            .shrinkVolume(volume, subtract: 10),
            .createDisk(source: .scalar("disk", 100), targetType: .mount, targetProfile: "fast"),
            .destroyDisk(source: .scalar("disk", 100)),
        ]
        #expect(Set(operations.map(\.type)) == Set(OfferOperation.TypeEnum.allCases.filter { $0 != .unknown }))
        for operation in operations {
            let call = SchedulerCall.accept(offerIDs: [OfferID("o")], operations: [operation], frameworkID: fw)
            #expect(throws: Never.self, "\(operation.type)") { try call.validate() }
        }
    }

    @Test("invalid calls are rejected with a message naming the problem",
          arguments: [
            ("no framework id", SchedulerCall.decline(offerIDs: [OfferID("o")]), "framework_id"),
            ("uuid of an unknown version", .acknowledge(agentID: AgentID("a"), taskID: TaskID("t"), uuid: Data(repeating: 0xFF, count: 16), frameworkID: fw), "not a valid UUID"),
            ("short uuid", .acknowledge(agentID: AgentID("a"), taskID: TaskID("t"), uuid: Data([1, 2]), frameworkID: fw), "16 bytes"),
            ("no offers", .accept(offerIDs: [], operations: [], frameworkID: fw), "offer_ids"),
            ("no user", .subscribe(frameworkInfo: { var i = info(); i.user = ""; return i }()), "user"),
            ("roles without MULTI_ROLE", .subscribe(frameworkInfo: { var i = info(); i.capabilities = []; return i }()), "MULTI_ROLE"),
            ("bad role", .subscribe(frameworkInfo: { var i = info(); i.roles = ["a//b"]; return i }()), "role"),
            ("suppressed unknown role", .subscribe(frameworkInfo: info(), suppressedRoles: ["other"]), "suppressed"),
            ("launch with op id", .accept(offerIDs: [OfferID("o")], operations: [{ var o = OfferOperation.launch([task("t")]); o.id = OperationID("x"); return o }()], frameworkID: fw), "operation id"),
            ("task with both", .accept(offerIDs: [OfferID("o")], operations: [.launch([{ var t = task("t"); t.executor.executorID = ExecutorID("e"); return t }()])], frameworkID: fw), "exactly one"),
            ("task id with slash", .accept(offerIDs: [OfferID("o")], operations: [.launch([task("a/b")])], frameworkID: fw), "task id"),
            ("untyped", SchedulerCall(), "type"),
            ("update framework id mismatch", .updateFramework(frameworkInfo: info()), "framework_id"),
          ] as [(String, SchedulerCall, String)])
    func invalidCalls(name: String, call: SchedulerCall, fragment: String) {
        do {
            try call.validate()
            Issue.record("\(name) was accepted")
        } catch {
            #expect(error.code == .invalidCall, "\(name)")
            #expect(error.message.contains(fragment), "\(name): \(error.message)")
        }
    }

    @Test("updates without a uuid cannot be acknowledged")
    func noUUIDNoAck() {
        var status = TaskStatus()
        status.taskID = TaskID("t")
        status.state = .taskLost
        #expect(!status.needsAcknowledgement)
        #expect(throws: MesosError(code: .invalidCall)) { try SchedulerCall.acknowledge(status) }
    }

    @Test("terminal task states")
    func terminalStates() {
        let terminal = TaskState.allCases.filter(\.isTerminal)
        #expect(Set(terminal) == [.taskFinished, .taskFailed, .taskKilled, .taskError, .taskLost, .taskDropped,
                                  .taskGone, .taskGoneByOperator])
    }

    @Test("a re-subscription carries the framework id in both places")
    func resubscribeIDs() throws {
        var resub = info()
        resub.id = fw
        let call = SchedulerCall.subscribe(frameworkInfo: resub)
        #expect(call.frameworkID == fw && call.subscribe.frameworkInfo.id == fw)
        try call.validate()
    }
}

@Suite("Errors")
struct ErrorTests {
    @Test("HTTP statuses map to codes and classifications")
    func statusMapping() {
        let stale = MesosError.httpStatus(400, body: "The stream ID 'x' included in this request didn't match the stream ID currently associated with framework ID fw")
        #expect(stale.code == .streamIDMismatch && stale.indicatesSubscriptionLoss && stale.httpStatus == 400)
        let unsubscribed = MesosError.httpStatus(403, body: "Framework is not subscribed")
        #expect(unsubscribed.code == .unsubscribed && unsubscribed.indicatesSubscriptionLoss && !unsubscribed.isTemporary)
        #expect(MesosError.httpStatus(403, body: "Not authorized").code == .forbidden)
        #expect(MesosError.httpStatus(400, body: "Framework cannot be found").code == .frameworkNotFound)
        #expect(MesosError.httpStatus(400, body: "Failed to validate scheduler::Call").code == .malformedRequest)
        let unavailable = MesosError.httpStatus(503, body: "No leader elected")
        #expect(unavailable.isTemporary && !unavailable.indicatesSubscriptionLoss)
        #expect(MesosError.httpStatus(429).isTemporary)
        #expect(MesosError.httpStatus(307, location: "//m2:5050/api/v1/scheduler").code == .notLeader)
        #expect(MesosError.httpStatus(415).code == .unsupportedMediaType)
        #expect(MesosError.httpStatus(401).code == .unauthenticated)
        #expect(MesosError.httpStatus(418).code == .unexpectedStatus)
        #expect(MesosError(code: .transportFailure).isTemporary)
        #expect(MesosError(code: .streamEnded).indicatesSubscriptionLoss)
    }

    @Test("descriptions carry the status, message and cause; short descriptions are bounded")
    func descriptions() {
        let error = MesosError.httpStatus(503, body: String(repeating: "x", count: 10_000))
        #expect(error.message.count < 4200)
        #expect(error.description.hasPrefix("MesosError.unavailable (HTTP 503)"))
        #expect(error.shortDescription == "unavailable")
        let wrapped = MesosError.recordIO(.lengthOverflow(offset: 3))
        #expect(wrapped.code == .malformedStream && wrapped.description.contains("64 bits"))
    }
}
