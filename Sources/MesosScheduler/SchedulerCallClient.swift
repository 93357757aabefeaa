import Foundation
import MesosCore

/// Sends scheduler calls on behalf of a subscription held elsewhere: mesoshttp's
/// `SchedulerDriver(mesos_url, frameworkId, streamId)`, for another process (or component) that has the
/// framework id and `Mesos-Stream-Id` of a live subscription (see ``MesosScheduler/status``) and needs to kill
/// a task, reconcile or send a message without subscribing itself.
///
/// It holds no stream: when the subscription it was built from ends, the master answers its calls with 403
/// (``MesosError/Code/unsubscribed``) or 400 (stream id mismatch), and a new client must be built from the new
/// ids. Redirects to the leader are followed; at most `maximumCallsInFlight` calls are in flight at once,
/// further calls wait for a slot.
///
/// ```swift
/// let client = SchedulerCallClient(
///     master: .init(host: "10.0.0.5", port: 5050), frameworkID: savedID, streamID: savedStreamID,
///     transport: .curl())
/// try await client.kill(TaskID("web-1"))
/// ```
public struct SchedulerCallClient: SchedulerCallSender {
    /// The framework the calls are for.
    public let frameworkID: FrameworkID
    /// The `Mesos-Stream-Id` every call carries.
    public let streamID: String
    /// The master the calls go to (redirects are followed).
    public let master: MasterLocation
    private let exchange: MasterExchange
    private let codec: MesosCodec
    private let callTimeout: Duration
    private let schedulerPath: String
    private let gate: CallGate

    /// Creates a client for an existing subscription.
    ///
    /// - Parameters:
    ///   - master: The master holding the subscription.
    ///   - frameworkID: The subscribed framework's id.
    ///   - streamID: The subscription's `Mesos-Stream-Id`.
    ///   - transport: The HTTP transport.
    ///   - contentType: The encoding of calls (default protobuf).
    ///   - authenticator: Supplies the `Authorization` header, or `nil`.
    ///   - callTimeout: The longest a call may take (default 75 s).
    ///   - maximumCallsInFlight: The most calls in flight at once (default 64); later calls wait for a slot.
    ///   - maximumRedirects: The most redirects one call may follow.
    ///   - schedulerPath: The scheduler endpoint's path.
    public init(
        master: MasterLocation,
        frameworkID: FrameworkID,
        streamID: String,
        transport: any MesosTransport,
        contentType: MesosContentType = .protobuf,
        authenticator: (any MesosAuthenticator)? = nil,
        callTimeout: Duration = .seconds(75),
        maximumCallsInFlight: Int = 64,
        maximumRedirects: Int = 8,
        schedulerPath: String = "/api/v1/scheduler"
    ) {
        self.master = master
        self.frameworkID = frameworkID
        self.streamID = streamID
        self.exchange = MasterExchange(
            transport: transport, authenticator: authenticator, contentType: contentType, maximumRedirects: maximumRedirects)
        self.codec = MesosCodec(contentType)
        self.callTimeout = callTimeout
        self.schedulerPath = schedulerPath
        self.gate = CallGate(limit: max(1, maximumCallsInFlight))
    }

    /// Sends a call other than SUBSCRIBE with this client's framework id and stream id.
    ///
    /// - Throws: ``MesosError``: `.invalidCall` for SUBSCRIBE or an invalid call, or the master's answer.
    public func send(_ call: SchedulerCall) async throws(MesosError) {
        guard call.type != .subscribe else {
            throw MesosError(code: .invalidCall, message: "SUBSCRIBE needs a MesosScheduler; a call client only sends calls")
        }
        var call = call
        call.frameworkID = self.frameworkID
        if call.type == .updateFramework, !call.updateFramework.frameworkInfo.hasID {
            call.updateFramework.frameworkInfo.id = self.frameworkID
        }
        try call.validate()
        let body = try self.codec.encode(call)
        let error = try await self.gate.withSlot { () async throws(MesosError) -> MesosError? in
            let answer = try await self.exchange.post(
                to: self.master, path: self.schedulerPath, body: body, streamID: self.streamID,
                timeout: self.callTimeout, idleTimeout: nil)
            let status = answer.response.status
            if status == 202 || status == 200 {
                _ = await answer.body.prefixText(limit: 1 << 16)
                return nil
            }
            return MesosError.httpStatus(status, body: await answer.body.prefixText(), location: answer.response.headers["Location"])
        }
        if let error { throw error }
    }

    /// TEARDOWN: removes the framework from the cluster (all its tasks are killed). The scheduler holding the
    /// subscription sees its stream end.
    public func teardown() async throws(MesosError) {
        try await self.send(.teardown())
    }
}

extension MesosScheduler {
    /// A ``SchedulerCallClient`` for the live subscription (mesoshttp's `get_driver()`), to hand to another
    /// component; save ``SchedulerStatus/frameworkID`` and ``SchedulerStatus/streamID`` to build one in
    /// another process.
    ///
    /// - Throws: ``MesosError/Code/notSubscribed`` without a live subscription.
    public func callClient() throws(MesosError) -> SchedulerCallClient {
        let (context, master) = try self.state.withLock { state throws(MesosError) in
            (try state.machine.callContext(), state.master)
        }
        guard let master else {
            throw MesosError(code: .notSubscribed, message: "No master known")
        }
        return SchedulerCallClient(
            master: master, frameworkID: context.frameworkID, streamID: context.streamID,
            transport: self.configuration.transport, contentType: self.configuration.contentType,
            authenticator: self.configuration.authenticator, callTimeout: self.configuration.callTimeout,
            maximumCallsInFlight: self.configuration.maximumCallsInFlight,
            maximumRedirects: self.configuration.maximumRedirects, schedulerPath: self.configuration.schedulerPath)
    }
}
