#!/usr/bin/env bash
# Runs the whole test suite the way CI does, on a fresh Debian machine:
#   1. installs the system packages the build and the tests need;
#   2. sets up and starts a REAL Apache Mesos 1.11 master with one agent on 127.0.0.1 (../shared/realmesos);
#   3. runs `swift test` (unit, conformance and integration tests) with MESOS_MASTER_URL pointing at it;
#   4. stops the master.
# Environment: REALMESOS_DIR (where realmesos lives), SWIFT_MESOS_MASTER_PORT (default 5151),
#              SWIFT_TEST_ARGS (extra arguments for swift test, e.g. "--filter Codec").
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

scripts/install-deps.sh

find_realmesos() {
    for candidate in "${REALMESOS_DIR:-}" "$root/../shared/realmesos" "/work/shared/realmesos"; do
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
"$realmesos/stop-master.sh" "$port" >/dev/null 2>&1 || true
trap '"$realmesos/stop-master.sh" "$port" >/dev/null 2>&1 || true' EXIT
MESOS_MASTER_URL=$("$realmesos/start-master.sh" "$port" 1)
export MESOS_MASTER_URL REALMESOS_DIR="$realmesos"
echo "== real master at $MESOS_MASTER_URL"

echo "== swift test"
# shellcheck disable=SC2086
swift test ${SWIFT_TEST_ARGS:-}
