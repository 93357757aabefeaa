import Foundation
import MesosCore

/// The read-only half of the master's operator API (`POST /api/v1`): GET_HEALTH, GET_VERSION, GET_STATE,
/// GET_AGENTS, GET_FRAMEWORKS, GET_EXECUTORS, GET_TASKS and SUBSCRIBE (the event stream,
/// `LocalMaster+OperatorStream.swift`), built from the local cluster's own state, with the master's checks in its
/// order (authentication, method, content type, body, Accept). Other calls answer 501.
extension LocalMaster {
    /// Answers `POST /api/v1`.
    func operatorEndpoint(_ request: MesosHTTPRequest) -> (MesosHTTPResponse, MesosResponseBody) {
        if !self.configuration.credentials.isEmpty, self.authenticatePrincipal(request.headers["Authorization"]) == nil {
            return Self.response(.text(401, "Unauthorized", headers: ["WWW-Authenticate": #"Basic realm="mesos-master-readwrite""#]))
        }
        guard request.method == "POST" else {
            return Self.response(.text(405, "Expecting 'POST', received '\(request.method)'"))
        }
        guard let contentTypeHeader = request.headers["Content-Type"] else {
            return Self.response(.text(400, "Expecting 'Content-Type' to be present"))
        }
        guard let contentType = MesosContentType(mediaType: contentTypeHeader) else {
            return Self.response(.text(415, "Expecting 'Content-Type' of application/json or application/x-protobuf"))
        }
        let call: Mesos_V1_Master_Call
        do {
            call = try MesosCodec(contentType).decode(Mesos_V1_Master_Call.self, from: ArraySlice(request.body ?? []))
        } catch {
            return Self.response(.text(400, "Failed to parse body into Call: \(error.message)"))
        }
        guard call.hasType else {
            return Self.response(.text(400, "Failed to validate master::Call: Expecting 'type' to be present"))
        }
        guard let accept = Self.negotiate(request.headers["Accept"]) else {
            return Self.response(.text(406, "Expecting 'Accept' to allow application/json or application/x-protobuf"))
        }
        var response = Mesos_V1_Master_Response()
        switch call.type {
        case .getHealth:
            response.type = .getHealth
            response.getHealth.healthy = true
        case .getVersion:
            response.type = .getVersion
            response.getVersion.versionInfo.version = self.configuration.version
            response.getVersion.versionInfo.buildUser = "swift-mesos local cluster"
        case .getState:
            response.type = .getState
            response.getState = self.operatorState()
        case .getAgents:
            response.type = .getAgents
            response.getAgents = self.operatorState().getAgents
        case .getFrameworks:
            response.type = .getFrameworks
            response.getFrameworks = self.operatorState().getFrameworks
        case .getExecutors:
            response.type = .getExecutors
            response.getExecutors = self.operatorState().getExecutors
        case .getTasks:
            response.type = .getTasks
            response.getTasks = self.operatorState().getTasks
        case .subscribe:
            return self.operatorSubscribe(accept: accept)
        default:
            return Self.response(.text(501, "The local cluster does not implement this operator call"))
        }
        guard let body = try? MesosCodec(accept).encode(response) else {
            return Self.response(.text(500, "Failed to encode the response"))
        }
        let headers: MesosHTTPHeaders = ["Content-Type": accept.mediaType, "Content-Length": String(body.count)]
        return (MesosHTTPResponse(status: 200, headers: headers), MesosResponseBody(bytes: body))
    }

    /// The answer's encoding: JSON when `Accept` is absent or allows it (JSON wins), else protobuf, else `nil`.
    static func negotiate(_ accept: String?) -> MesosContentType? {
        guard let accept, !accept.trimmingCharacters(in: .whitespaces).isEmpty else { return .json }
        let types = accept.split(separator: ",").map {
            $0.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        }
        if types.contains(where: { ["application/json", "application/*", "*/*"].contains($0) }) { return .json }
        if types.contains("application/x-protobuf") { return .protobuf }
        return nil
    }

    /// The master's view of the cluster, as GET_STATE reports it.
    func operatorState() -> Mesos_V1_Master_Response.GetState {
        self.state.withLock { state in self.operatorState(of: state) }
    }

    /// The master's view of `state`, as GET_STATE reports it (called under the master's lock).
    func operatorState(of state: State) -> Mesos_V1_Master_Response.GetState {
        let version = self.configuration.version
        var result = Mesos_V1_Master_Response.GetState()
        result.getAgents.agents = state.agents.map { record in
            var agent = Mesos_V1_Master_Response.GetAgents.Agent()
            agent.agentInfo = record.info
            agent.active = true
            agent.deactivated = false
            agent.version = version
            agent.pid = "slave(\(record.index + 1))@127.0.0.1:\(5051 + record.index)"
            agent.totalResources = record.total.array
            agent.allocatedResources = record.used.array
            agent.offeredResources = record.offered.array
            return agent
        }
        for key in state.frameworkOrder {
            guard let record = state.frameworks[key] else { continue }
            let framework = Self.operatorFramework(record)
            if record.isRemoved {
                result.getFrameworks.completedFrameworks.append(framework)
            } else {
                result.getFrameworks.frameworks.append(framework)
            }
            let live = record.taskOrder.compactMap { record.tasks[$0] }
            result.getTasks.tasks += live.map { Self.operatorTask($0, framework: record.id, agents: state.agents) }
            result.getTasks.completedTasks += record.completed.map { Self.operatorTask($0, framework: record.id, agents: state.agents) }
            for task in live + record.completed where task.info.hasExecutor {
                var executor = Mesos_V1_Master_Response.GetExecutors.Executor()
                executor.executorInfo = task.info.executor
                executor.executorInfo.frameworkID = record.id
                executor.agentID = state.agents[task.agentIndex].id
                if !result.getExecutors.executors.contains(where: { $0.executorInfo.executorID == executor.executorInfo.executorID && $0.executorInfo.frameworkID == record.id }) {
                    result.getExecutors.executors.append(executor)
                }
            }
        }
        return result
    }

    /// A framework as the master's operator API describes it.
    static func operatorFramework(_ record: FrameworkRecord) -> Mesos_V1_Master_Response.GetFrameworks.Framework {
        var framework = Mesos_V1_Master_Response.GetFrameworks.Framework()
        framework.frameworkInfo = record.info
        framework.frameworkInfo.id = record.id
        framework.connected = record.connection != nil && !record.isRemoved
        framework.active = framework.connected
        framework.recovered = false
        framework.allocatedResources = record.taskOrder.compactMap { record.tasks[$0] }.flatMap { $0.resources.array }
        return framework
    }

    /// A task as the master's operator API describes it (command tasks have no executor id).
    static func operatorTask(_ record: TaskRecord, framework: FrameworkID, agents: [AgentRecord]) -> Mesos_V1_Task {
        var task = Mesos_V1_Task()
        task.name = record.info.name
        task.taskID = record.info.taskID
        task.frameworkID = framework
        if record.info.hasExecutor { task.executorID = record.info.executor.executorID }
        task.agentID = agents[record.agentIndex].id
        task.state = record.state
        task.resources = record.info.resources
        if let latest = record.latest {
            var status = latest
            status.clearData()
            task.statuses = [status]
        }
        if record.info.hasLabels { task.labels = record.info.labels }
        return task
    }
}
