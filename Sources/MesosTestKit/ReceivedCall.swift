import MesosCore

/// A request to the scheduler endpoint as the fake master recorded it.
public struct ReceivedCall: Sendable {
    /// The decoded call, or `nil` if the body could not be decoded.
    public var call: SchedulerCall?
    /// The raw request, headers and body included.
    public var request: FakeMasterRequest
    /// The `Mesos-Stream-Id` header the request carried, if any.
    public var streamID: String?
    /// The status the fake master answered with (`0` when a fault closed the connection or never answered).
    public var status: Int

    /// Creates a record.
    public init(call: SchedulerCall?, request: FakeMasterRequest, streamID: String?, status: Int) {
        self.call = call
        self.request = request
        self.streamID = streamID
        self.status = status
    }

    /// The call's type, if it decoded.
    public var type: SchedulerCall.TypeEnum? { self.call?.type }
}
