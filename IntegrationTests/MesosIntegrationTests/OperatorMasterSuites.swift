import Testing

/// The suites that share the operator master (`MESOS_OPERATOR_MASTER_URL`): one at a time, because some change
/// the cluster under the others (a drained agent kills their tasks, a maintenance schedule, weights and quota).
@Suite(.serialized) enum OperatorMasterSuites {}
