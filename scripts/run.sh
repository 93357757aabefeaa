#!/usr/bin/env bash
# The main job: runs a command as a Mesos task with mesos-execute (release build).
#   scripts/run.sh                    # mesos-execute --command 'echo hello' on the embedded local cluster
#   scripts/run.sh [mesos-execute options…]   e.g. --master http://127.0.0.1:5050 --command 'echo hi'
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build -c release --product mesos-execute >/dev/null
binary="$(swift build -c release --show-bin-path)/mesos-execute"
if [ $# -eq 0 ]; then
    exec "$binary" --command 'echo hello'
fi
exec "$binary" "$@"
