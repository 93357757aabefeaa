#!/usr/bin/env bash
# Runs the unit test targets under ThreadSanitizer (`swift test --sanitize=thread`), each in its own process.
#   scripts/tsan.sh [TARGET...]   (default: every target that needs no external server)
# Builds in .build-tsan. Any ThreadSanitizer report fails the run (suppressions: scripts/tsan.supp, with reasons).
# The package's locks are pthread mutexes (MesosCore's LockedValue), which the sanitizer sees; the standard
# library's Mutex is not used because its contended path is invisible to it on Linux (false reports).
set -euo pipefail
cd "$(dirname "$0")/.."
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(MesosRecordIOTests MesosCoreTests MesosCompressionTests MesosSchedulerTests
    MesosCurlTransportTests MesosTestKitTests MesosLocalClusterTests MesosTransportConformanceTests
    MesosResourcesTests MesosFrameworkTests MesosExecutorTests MesosCommandExecutorTests
    MesosSocketTransportTests MesosToolSupportTests MesosOperatorTests MesosNIOTransportTests)
scratch=${TSAN_SCRATCH:-.build-tsan}
echo "== swift build --build-tests --sanitize=thread ($scratch)"
swift build --build-tests --sanitize=thread --scratch-path "$scratch"
export TSAN_OPTIONS="halt_on_error=0 second_deadlock_stack=1 suppressions=$(pwd)/scripts/tsan.supp ${TSAN_OPTIONS:-}"
failed=()
for target in "${targets[@]}"; do
    echo "== tsan $target"
    log=$(mktemp /tmp/swift-mesos-tsan.XXXXXX)
    status=0
    # The servers are not used here: their tests skip themselves without MESOS_MASTER_URL (and without
    # MESOS_REQUIRE_SERVERS, which scripts/test.sh sets for the ordinary run).
    env -u MESOS_MASTER_URL -u ZOOKEEPER_CONNECT -u MESOS_HA_ZK -u MESOS_HA_MASTERS -u MESOS_REQUIRE_SERVERS \
        timeout 1200 swift test --skip-build --sanitize=thread --scratch-path "$scratch" --filter "^$target\." >"$log" 2>&1 || status=$?
    reports=$(grep -c "^WARNING: ThreadSanitizer" "$log" || true)
    grep -E "Test run with|SUMMARY: ThreadSanitizer" "$log" | sort | uniq -c || true
    if [ "$status" -ne 0 ] || [ "$reports" -ne 0 ]; then
        echo "tsan.sh: $target: exit $status, $reports ThreadSanitizer report(s); log: $log" >&2
        failed+=("$target")
    else
        rm -f "$log"
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "tsan.sh: FAILED: ${failed[*]}" >&2
    exit 1
fi
echo "tsan.sh: no ThreadSanitizer reports"
