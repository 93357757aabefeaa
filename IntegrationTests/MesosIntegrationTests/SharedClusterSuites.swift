import Testing

/// The suites that change a cluster other suites use, and those that use it: one at a time. The operator API
/// tests drain the operator master's agent and change its maintenance schedule, weights and quota under the
/// operator tool's and the event stream's tests; the failover tests kill the HA leader under the tests that
/// reach the HA masters through a follower or `zk://`.
@Suite(.serialized) enum SharedClusterSuites {}
