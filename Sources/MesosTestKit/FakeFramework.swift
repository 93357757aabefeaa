import MesosCore

/// What the fake master knows about one framework (a snapshot).
public struct FakeFramework: Sendable {
    /// The framework's id.
    public var id: FrameworkID
    /// The `FrameworkInfo` from its latest SUBSCRIBE or UPDATE_FRAMEWORK.
    public var info: FrameworkInfo
    /// `true` while it has a live subscription stream.
    public var isSubscribed: Bool
    /// The `Mesos-Stream-Id` of its current subscription, `nil` when not subscribed.
    public var streamID: String?
    /// How many times it subscribed (the first time included).
    public var subscriptionCount: Int
    /// `true` after TEARDOWN: further SUBSCRIBEs get ERROR "Framework has been removed".
    public var isRemoved: Bool

    /// Creates a snapshot.
    public init(
        id: FrameworkID,
        info: FrameworkInfo,
        isSubscribed: Bool,
        streamID: String?,
        subscriptionCount: Int,
        isRemoved: Bool
    ) {
        self.id = id
        self.info = info
        self.isSubscribed = isSubscribed
        self.streamID = streamID
        self.subscriptionCount = subscriptionCount
        self.isRemoved = isRemoved
    }
}
