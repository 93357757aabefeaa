#!/usr/bin/env bash
# Runs the whole test suite the way CI does, on a fresh Debian machine:
#   1. installs the system packages the build and the tests need;
#   2. sets up and starts a REAL Apache Mesos 1.11 master with one agent on 127.0.0.1 (../shared/realmesos),
#      a second one for the framework toolkit's tests whose agent has resources reserved to role batch,
#      a third one whose agent runs the built mesos-command-executor for every command task (MESOS_LAUNCHER_DIR),
#      a fourth one for the operator API's tests, which change weights, quotas, maintenance and reservations,
#      a private ZooKeeper 3.8 (scripts/zookeeper.sh) and three real HA masters electing through another one;
#   3. runs `swift test` (unit, conformance and integration tests) with MESOS_MASTER_URL pointing at it;
#   4. runs the unit targets again under ThreadSanitizer (scripts/tsan.sh);
#   5. stops them all.
# Every server-backed test runs (MESOS_REQUIRE_SERVERS=1: a missing server fails the test, it is not skipped).
# Environment: REALMESOS_DIR (where realmesos lives; default ../shared/realmesos), SWIFT_MESOS_MASTER_PORT (default 5151),
#              SWIFT_MESOS_TOOLKIT_MASTER_PORT (default 5152), SWIFT_MESOS_EXECUTOR_MASTER_PORT (default 5153),
#              SWIFT_MESOS_OPERATOR_MASTER_PORT (default 5154),
#              REALMESOS_HOME (realmesos's home, for its mesos-containerizer; default /tmp/realmesos-home),
#              SWIFT_TEST_ARGS (extra arguments for swift test, e.g. "--filter Codec").
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

scripts/install-deps.sh

find_realmesos() {
    for candidate in "${REALMESOS_DIR:-}" "$root/../shared/realmesos"; do
        if [ -n "$candidate" ] && [ -x "$candidate/setup.sh" ]; then
            (cd "$candidate" && pwd)
            return 0
        fi
    done
    return 1
}
realmesos=$(find_realmesos) || {
    echo "test.sh: cannot find realmesos (set REALMESOS_DIR); the integration tests need a real Mesos master" >&2
    exit 1
}

port=${SWIFT_MESOS_MASTER_PORT:-5151}
echo "== setting up the real Mesos master ($realmesos)"
"$realmesos/setup.sh" >/tmp/swift-mesos-realmesos-setup.log 2>&1 || {
    tail -n 30 /tmp/swift-mesos-realmesos-setup.log >&2
    exit 1
}
"$realmesos/setup.sh" --ha >>/tmp/swift-mesos-realmesos-setup.log 2>&1 || {
    tail -n 30 /tmp/swift-mesos-realmesos-setup.log >&2
    exit 1
}
# Build before starting the servers: the HA masters hold ZooKeeper sessions with a 2 s timeout, and a build
# saturating both cores can starve them long enough for a session to expire (a master then exits on purpose).
echo "== swift build --build-tests"
swift build --build-tests

# Every server-backed test must run here: with MESOS_REQUIRE_SERVERS=1 a suite whose server is missing fails
# instead of skipping. First prove that it does, with no master configured.
# require_servers_check VARIABLE FILTER WHAT: with VARIABLE unset and MESOS_REQUIRE_SERVERS=1, the suites matching
# FILTER must fail, and for that reason.
require_servers_check() {
    echo "== MESOS_REQUIRE_SERVERS=1 with no $3: the $3 tests must fail"
    if env -u "$1" MESOS_REQUIRE_SERVERS=1 swift test --skip-build --filter "$2" >/tmp/swift-mesos-require-check.log 2>&1; then
        echo "test.sh: the $3 tests passed without one although MESOS_REQUIRE_SERVERS=1" >&2
        exit 1
    fi
    grep -q "$1 is not set, and MESOS_REQUIRE_SERVERS=1 requires every server-backed test" /tmp/swift-mesos-require-check.log || {
        tail -n 20 /tmp/swift-mesos-require-check.log >&2
        echo "test.sh: the $3 tests failed for another reason than the missing server" >&2
        exit 1
    }
}
require_servers_check MESOS_MASTER_URL 'RealMasterTests' 'real-master'
require_servers_check MESOS_TOOLKIT_MASTER_URL 'RealMasterToolkitTests' 'toolkit-master'
require_servers_check MESOS_EXECUTOR_MASTER_URL 'RealAgentCommandExecutorTests' 'executor-master'
require_servers_check MESOS_OPERATOR_MASTER_URL 'RealMasterOperatorTests' 'operator-master'
export MESOS_REQUIRE_SERVERS=1

zk_port=${SWIFT_MESOS_ZK_PORT:-2281}
zkdir=$(mktemp -d /tmp/swift-mesos-zk.XXXXXX)
toolkit_port=${SWIFT_MESOS_TOOLKIT_MASTER_PORT:-5152}
# The toolkit master's agent: unreserved resources and the same statically reserved to role batch (Mesos 1.11
# needs no MESOS_ROLES for a static reservation; /master/state then lists reserved_resources.batch).
toolkit_resources='cpus:1;mem:1024;cpus(batch):1;mem(batch):512;ports:[31000-31010]'
executor_port=${SWIFT_MESOS_EXECUTOR_MASTER_PORT:-5153}
# The operator tests' own master (one agent): their mutations must not disturb the other suites' masters.
operator_port=${SWIFT_MESOS_OPERATOR_MASTER_PORT:-5154}
# The executor master's launcher directory: the agent runs $MESOS_LAUNCHER_DIR/mesos-executor for every command
# task and launches it through $MESOS_LAUNCHER_DIR/mesos-containerizer (realmesos's, under its home's libexec).
launcher_dir=$(mktemp -d /tmp/swift-mesos-launcher.XXXXXX)
cleanup() {
    "$realmesos/stop-master.sh" "$port" >/dev/null 2>&1 || true
    "$realmesos/stop-master.sh" "$toolkit_port" >/dev/null 2>&1 || true
    "$realmesos/stop-master.sh" "$executor_port" >/dev/null 2>&1 || true
    "$realmesos/stop-master.sh" "$operator_port" >/dev/null 2>&1 || true
    "$realmesos/stop-ha.sh" >/dev/null 2>&1 || true
    scripts/zookeeper.sh stop "$zkdir" >/dev/null 2>&1 || true
    rm -rf "$zkdir" "$launcher_dir"
}
trap cleanup EXIT
"$realmesos/stop-master.sh" "$port" >/dev/null 2>&1 || true
"$realmesos/stop-ha.sh" >/dev/null 2>&1 || true
"$realmesos/stop-master.sh" "$toolkit_port" >/dev/null 2>&1 || true
"$realmesos/stop-master.sh" "$executor_port" >/dev/null 2>&1 || true
"$realmesos/stop-master.sh" "$operator_port" >/dev/null 2>&1 || true
MESOS_MASTER_URL=$("$realmesos/start-master.sh" "$port" 1)
echo "== real master at $MESOS_MASTER_URL"
# realmesos passes MESOS_* on to the agent as its flags.
MESOS_TOOLKIT_MASTER_URL=$(MESOS_RESOURCES="$toolkit_resources" "$realmesos/start-master.sh" "$toolkit_port" 1)
echo "== toolkit master at $MESOS_TOOLKIT_MASTER_URL (agent: $toolkit_resources)"
containerizer="${REALMESOS_HOME:-/tmp/realmesos-home}/libexec/mesos-containerizer"
command_executor="$(swift build --show-bin-path)/mesos-command-executor"
for needed in "$containerizer" "$command_executor"; do
    [ -x "$needed" ] || { echo "test.sh: $needed is missing (realmesos setup or the build failed)" >&2; exit 1; }
done
ln -s "$containerizer" "$launcher_dir/mesos-containerizer"
ln -s "$command_executor" "$launcher_dir/mesos-executor"
MESOS_EXECUTOR_MASTER_URL=$(MESOS_LAUNCHER_DIR="$launcher_dir" "$realmesos/start-master.sh" "$executor_port" 1)
echo "== executor master at $MESOS_EXECUTOR_MASTER_URL (its agent runs $command_executor for command tasks)"
MESOS_OPERATOR_MASTER_URL=$("$realmesos/start-master.sh" "$operator_port" 1)
echo "== operator master at $MESOS_OPERATOR_MASTER_URL"
scripts/zookeeper.sh start "$zk_port" "$zkdir"
echo "== ZooKeeper at 127.0.0.1:$zk_port"
# ZooKeeper session timeout of the HA masters (realmesos defaults to 2 s). A master exits when its session
# expires, and on a 2-core CI machine the discovery tests start several ZooKeeper JVMs at once, which has
# starved the masters' ZooKeeper for about 5 s. Failover then takes about this long (the tests allow 15 s).
export MESOS_ZK_SESSION_TIMEOUT=${MESOS_ZK_SESSION_TIMEOUT:-8secs}
# realmesos's readiness probe of its ZooKeeper reads the answer to "ruok" without a time limit; on a loaded
# machine a JVM that accepts the connection before it can answer left it waiting for good. Bounded, retried.
ha_started=0
for attempt in 1 2 3; do
    if timeout 150 "$realmesos/start-ha.sh" local:2381 5161 5162 5163 >/dev/null; then
        ha_started=1
        break
    fi
    echo "test.sh: starting the HA masters failed or hung (attempt $attempt); stopping them and retrying" >&2
    "$realmesos/stop-ha.sh" >/dev/null 2>&1 || true
done
[ "$ha_started" -eq 1 ] || { echo "test.sh: could not start the HA masters" >&2; exit 1; }
echo "== HA masters on 5161 5162 5163 (ZooKeeper 127.0.0.1:2381, session timeout $MESOS_ZK_SESSION_TIMEOUT)"
export MESOS_MASTER_URL MESOS_TOOLKIT_MASTER_URL MESOS_EXECUTOR_MASTER_URL MESOS_OPERATOR_MASTER_URL REALMESOS_DIR="$realmesos"
export ZOOKEEPER_CONNECT=127.0.0.1:$zk_port
export MESOS_HA_ZK=zk://127.0.0.1:2381/mesos
export MESOS_HA_MASTERS=http://127.0.0.1:5161,http://127.0.0.1:5162,http://127.0.0.1:5163


# Each test target runs in its own process, one after the other: the network tests measure timeouts and
# memory, and on a 2-core machine they must not share the CPU with every other suite at once (Linux URLSession
# alone busy-polls a core while a stream is idle).
targets=$(sed -n 's/^ *name: "\(Mesos[A-Za-z]*Tests\)",$/\1/p' Package.swift)
failed=()
for target in $targets; do
    echo "== $target"
    mode=""
    # Linux URLSession busy-polls and shares sessions: its tests run one at a time.
    [ "$target" = "MesosURLSessionTransportTests" ] && mode="--no-parallel"
    # shellcheck disable=SC2086
    # A hung test target fails after 15 minutes instead of stalling CI.
    if ! timeout 900 swift test --skip-build $mode --filter "^$target\." ${SWIFT_TEST_ARGS:-}; then
        failed+=("$target")
    fi
done
# The unit targets again under ThreadSanitizer (its own build in .build-tsan; SWIFT_MESOS_SKIP_TSAN=1 skips it).
if [ "${SWIFT_MESOS_SKIP_TSAN:-0}" != 1 ]; then
    if ! scripts/tsan.sh; then
        failed+=("ThreadSanitizer")
    fi
fi
if [ ${#failed[@]} -gt 0 ]; then
    echo "test.sh: FAILED: ${failed[*]}" >&2
    exit 1
fi
echo "test.sh: all test targets passed"
