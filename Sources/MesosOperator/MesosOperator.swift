/// The operator service: typed calls to a Mesos master's and an agent's `/api/v1` operator endpoints, the master's
/// operator event stream, a cluster-state mirror built from it, and task sandbox files.
public enum MesosOperator {}
