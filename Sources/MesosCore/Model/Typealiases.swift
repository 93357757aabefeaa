// Short names for the generated wire types. The generated names (`Mesos_V1_…`) keep working.

/// A framework's id, assigned by the master (`<master id>-NNNN`).
public typealias FrameworkID = Mesos_V1_FrameworkID

/// An offer's (or inverse offer's) id.
public typealias OfferID = Mesos_V1_OfferID

/// An agent's id (`<master id>-S<n>`).
public typealias AgentID = Mesos_V1_AgentID

/// A task's id, chosen by the framework.
public typealias TaskID = Mesos_V1_TaskID

/// An executor's id, chosen by the framework.
public typealias ExecutorID = Mesos_V1_ExecutorID

/// A container's id, with its parent for nested containers.
public typealias ContainerID = Mesos_V1_ContainerID

/// A resource provider's id.
public typealias ResourceProviderID = Mesos_V1_ResourceProviderID

/// An offer operation's id, chosen by the framework to get operation feedback.
public typealias OperationID = Mesos_V1_OperationID

/// A UUID carried as 16 raw bytes (used by operation status updates).
public typealias MesosUUID = Mesos_V1_UUID

/// A point in time, in nanoseconds since the epoch.
public typealias TimeInfo = Mesos_V1_TimeInfo

/// A duration in nanoseconds.
public typealias DurationInfo = Mesos_V1_DurationInfo

/// A host name or IP and a port.
public typealias Address = Mesos_V1_Address

/// A URL broken into scheme, address, path, query and fragment.
public typealias MesosURL = Mesos_V1_URL

/// A maintenance window: a start and an optional duration.
public typealias Unavailability = Mesos_V1_Unavailability

/// The fault domain (region and zone) of a master or agent.
public typealias DomainInfo = Mesos_V1_DomainInfo

/// A key/value pair.
public typealias Parameter = Mesos_V1_Parameter

/// A list of key/value pairs.
public typealias Parameters = Mesos_V1_Parameters

/// A key with an optional value.
public typealias Label = Mesos_V1_Label

/// A list of labels.
public typealias Labels = Mesos_V1_Labels

/// A principal and a secret (deprecated uses only).
public typealias Credential = Mesos_V1_Credential

/// A secret, by reference or by value.
public typealias Secret = Mesos_V1_Secret

/// A typed value: scalar, ranges, set or text.
public typealias Value = Mesos_V1_Value

/// An agent attribute offered with its resources.
public typealias Attribute = Mesos_V1_Attribute

/// A resource: cpus, mem, disk, ports, gpus or a custom one, with its reservations.
public typealias Resource = Mesos_V1_Resource

/// Per-role limits on which offers a framework wants.
public typealias OfferFilters = Mesos_V1_OfferFilters

/// How long declined resources stay away (`refuse_seconds`, default 5 s).
public typealias Filters = Mesos_V1_Filters

/// A resource request for the REQUEST call.
public typealias ResourceRequest = Mesos_V1_Request

/// Describes a framework: user, name, id, roles, capabilities, failover timeout, …
public typealias FrameworkInfo = Mesos_V1_FrameworkInfo

/// Describes a master: id, address, version, capabilities.
public typealias MasterInfo = Mesos_V1_MasterInfo

/// Describes an agent.
public typealias AgentInfo = Mesos_V1_AgentInfo

/// Resources one agent offers to the framework.
public typealias Offer = Mesos_V1_Offer

/// One operation of an ACCEPT: launch, reserve, create a volume, …
public typealias OfferOperation = Mesos_V1_Offer.Operation

/// A request from the cluster to give resources back (maintenance).
public typealias InverseOffer = Mesos_V1_InverseOffer

/// Describes a task to launch.
public typealias TaskInfo = Mesos_V1_TaskInfo

/// Tasks launched together in one executor (LAUNCH_GROUP).
public typealias TaskGroupInfo = Mesos_V1_TaskGroupInfo

/// A command to run, with URIs to fetch and an environment.
public typealias CommandInfo = Mesos_V1_CommandInfo

/// Environment variables for a command.
public typealias Environment = Mesos_V1_Environment

/// Describes an executor.
public typealias ExecutorInfo = Mesos_V1_ExecutorInfo

/// How a task is killed (grace period).
public typealias KillPolicy = Mesos_V1_KillPolicy

/// A health check for a task.
public typealias HealthCheck = Mesos_V1_HealthCheck

/// A general check for a task.
public typealias CheckInfo = Mesos_V1_CheckInfo

/// Service discovery information for a task.
public typealias DiscoveryInfo = Mesos_V1_DiscoveryInfo

/// A named port for service discovery.
public typealias Port = Mesos_V1_Port

/// A list of ports.
public typealias Ports = Mesos_V1_Ports

/// Describes a container (MESOS or DOCKER), its volumes and networks.
public typealias ContainerInfo = Mesos_V1_ContainerInfo

/// A container image (Docker or AppC).
public typealias Image = Mesos_V1_Image

/// A volume mounted into a container.
public typealias Volume = Mesos_V1_Volume

/// A container's network.
public typealias NetworkInfo = Mesos_V1_NetworkInfo

/// Linux-specific container settings.
public typealias LinuxInfo = Mesos_V1_LinuxInfo

/// Resource limits (rlimits) for a container.
public typealias RLimitInfo = Mesos_V1_RLimitInfo

/// A TTY for a container.
public typealias TTYInfo = Mesos_V1_TTYInfo

/// The state of a task.
public typealias TaskState = Mesos_V1_TaskState

/// A task's status as reported in UPDATE events.
public typealias TaskStatus = Mesos_V1_TaskStatus

/// The status of a task's container.
public typealias ContainerStatus = Mesos_V1_ContainerStatus

/// The result of a check.
public typealias CheckStatusInfo = Mesos_V1_CheckStatusInfo

/// The state of an offer operation.
public typealias OperationState = Mesos_V1_OperationState

/// An offer operation's status as reported in UPDATE_OPERATION_STATUS events.
public typealias OperationStatus = Mesos_V1_OperationStatus

/// A call from a scheduler to the master (the body of `POST /api/v1/scheduler`).
public typealias SchedulerCall = Mesos_V1_Scheduler_Call

/// An event record as it is on the wire; see ``SchedulerEvent`` for the typed form.
public typealias SchedulerEventMessage = Mesos_V1_Scheduler_Event

/// Per-role attribute constraints the master applies before offering.
public typealias OfferConstraints = Mesos_V1_Scheduler_OfferConstraints

/// One attribute constraint of ``OfferConstraints``.
public typealias AttributeConstraint = Mesos_V1_Scheduler_AttributeConstraint
