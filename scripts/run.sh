#!/usr/bin/env bash
# The main job: builds swift-mesos and decodes a captured Mesos scheduler event stream into typed events.
#   scripts/run.sh [--content-type json|protobuf] [--json] [FILE]
# With no FILE it decodes the sample stream in Tests/Fixtures/vectors/stream.bin.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build -c release --product mesos-decode >/dev/null
binary="$(swift build -c release --show-bin-path)/mesos-decode"
if [ $# -eq 0 ]; then
    exec "$binary" Tests/Fixtures/vectors/stream.bin
fi
exec "$binary" "$@"
