import MesosCore

/// The operator service: typed calls to a Mesos master's and an agent's `/api/v1` operator endpoints, the master's
/// operator event stream, a cluster-state mirror built from it, and task sandbox files.
///
/// - ``MesosMasterOperator``: every master call (GET_HEALTH … TEARDOWN), 307s followed to the leader, 503s retried.
/// - ``MesosAgentOperator``: the agent calls, including the container calls.
/// - ``MesosOperatorConfiguration``: transport, encoding, authentication, retries and the clock they run on.
public enum MesosOperator {}

/// A call to a master's operator endpoint (`mesos.v1.master.Call`).
public typealias MasterCall = Mesos_V1_Master_Call
/// A master's answer to an operator call (`mesos.v1.master.Response`).
public typealias MasterResponse = Mesos_V1_Master_Response
/// One record of the master's operator event stream (`mesos.v1.master.Event`).
public typealias MasterEvent = Mesos_V1_Master_Event
/// A call to an agent's operator endpoint (`mesos.v1.agent.Call`).
public typealias AgentCall = Mesos_V1_Agent_Call
/// An agent's answer to an operator call (`mesos.v1.agent.Response`).
public typealias AgentResponse = Mesos_V1_Agent_Response
/// One record of a container I/O stream (`mesos.v1.agent.ProcessIO`).
public typealias ProcessIO = Mesos_V1_Agent_ProcessIO
/// A task as the master or an agent reports it (`mesos.v1.Task`; not Swift's `Task`).
public typealias MesosTask = Mesos_V1_Task
/// One entry of a sandbox directory listing (`mesos.v1.FileInfo`).
public typealias FileInfo = Mesos_V1_FileInfo
/// Build facts of a master or agent (`mesos.v1.VersionInfo`).
public typealias VersionInfo = Mesos_V1_VersionInfo
/// A role's weight (`mesos.v1.WeightInfo`).
public typealias WeightInfo = Mesos_V1_WeightInfo
/// A machine for maintenance (`mesos.v1.MachineID`).
public typealias MachineID = Mesos_V1_MachineID
/// A role's quota guarantees and limits (`mesos.v1.quota.QuotaConfig`).
public typealias QuotaConfig = Mesos_V1_Quota_QuotaConfig
/// The maintenance schedule (`mesos.v1.maintenance.Schedule`).
public typealias MaintenanceSchedule = Mesos_V1_Maintenance_Schedule
/// One maintenance window (`mesos.v1.maintenance.Window`).
public typealias MaintenanceWindow = Mesos_V1_Maintenance_Window
