#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import MesosCore

/// The callbacks of an executor, in the style of Mesos's executor driver: give one to
/// ``MesosExecutor/run(delegate:)``.
///
/// Every method has an empty default, so implement only what you need. The executor calls them one at a time,
/// in the order the events arrive, on the task that reads the event stream: return promptly (start a process,
/// then return) and do long work in a task of your own, since the stream (and so every ACKNOWLEDGED) waits
/// meanwhile. ``shutdown(_:)`` is the exception: it runs beside the stream, so it may wait for the tasks it
/// kills and for their acknowledgements.
public protocol Executor: Sendable {
    /// The first SUBSCRIBED: executor, framework and agent info, and the executor's container.
    func registered(_ executor: MesosExecutor, _ subscribed: ExecutorEvent.Subscribed) async
    /// SUBSCRIBED again after the agent came back (checkpointing frameworks only).
    func reregistered(_ executor: MesosExecutor, _ subscribed: ExecutorEvent.Subscribed) async
    /// The connection to the agent was lost; the executor re-subscribes if the framework checkpoints.
    func disconnected(_ executor: MesosExecutor, reason: MesosError) async
    /// LAUNCH: run this task, then report it with ``MesosExecutor/update(_:)``.
    func launchTask(_ executor: MesosExecutor, _ task: TaskInfo) async
    /// LAUNCH_GROUP: run these tasks together.
    func launchTaskGroup(_ executor: MesosExecutor, _ group: TaskGroupInfo) async
    /// KILL: kill the task; `killPolicy`, when not `nil`, overrides the task's own.
    func killTask(_ executor: MesosExecutor, _ taskID: TaskID, killPolicy: KillPolicy?) async
    /// ACKNOWLEDGED: the agent accepted the update with this uuid (it is no longer resent).
    func acknowledged(_ executor: MesosExecutor, taskID: TaskID, uuid: Data) async
    /// MESSAGE: opaque data from the scheduler.
    func frameworkMessage(_ executor: MesosExecutor, _ data: [UInt8]) async
    /// SHUTDOWN (from the agent, or because the agent is gone for good): kill every task and send their
    /// terminal updates. The executor ends after this returns and every update is acknowledged, or when the
    /// shutdown grace period runs out, whichever is first.
    func shutdown(_ executor: MesosExecutor) async
    /// An ERROR event, a malformed event stream, or a refusal that ends the executor.
    func error(_ executor: MesosExecutor, _ error: MesosError) async
}

extension Executor {
    /// Does nothing.
    public func registered(_ executor: MesosExecutor, _ subscribed: ExecutorEvent.Subscribed) async {}
    /// Does nothing.
    public func reregistered(_ executor: MesosExecutor, _ subscribed: ExecutorEvent.Subscribed) async {}
    /// Does nothing.
    public func disconnected(_ executor: MesosExecutor, reason: MesosError) async {}
    /// Does nothing.
    public func launchTask(_ executor: MesosExecutor, _ task: TaskInfo) async {}
    /// Does nothing.
    public func launchTaskGroup(_ executor: MesosExecutor, _ group: TaskGroupInfo) async {}
    /// Does nothing.
    public func killTask(_ executor: MesosExecutor, _ taskID: TaskID, killPolicy: KillPolicy?) async {}
    /// Does nothing.
    public func acknowledged(_ executor: MesosExecutor, taskID: TaskID, uuid: Data) async {}
    /// Does nothing.
    public func frameworkMessage(_ executor: MesosExecutor, _ data: [UInt8]) async {}
    /// Does nothing.
    public func shutdown(_ executor: MesosExecutor) async {}
    /// Does nothing.
    public func error(_ executor: MesosExecutor, _ error: MesosError) async {}
}
