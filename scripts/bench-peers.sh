#!/usr/bin/env bash
# Ingest side by side with the Python peers, in one run, on the same stream: `mesos-bench serve
# --offers-on-subscribe` (a local server on 127.0.0.1 streaming the same prebuilt OFFERS event, 4 offers, after
# SUBSCRIBED) serves pymesos, pymesos-decline (and mesoshttp, Python's framing floor) from ../shared/peers and
# `mesos-bench ingest` (typed JSON, typed protobuf, the offer cycle with --decline), one client at a time; then
# prints each figure, the server's CPU during each client, and the ratios against the issue's targets.
#   scripts/bench-peers.sh
#   EVENTS=100000        OFFERS events each ingest client counts (every client the same number)
#   DECLINE_EVENTS=20000 OFFERS events of the offer cycle (pymesos-decline and ingest --decline)
#   ROUNDS=2  PORT=0 (0: a free port)  MESOSHTTP=1 (also mesoshttp)  RAW=1 (also Python's framing floor)
#   STATIC=1  the client built with --static-swift-stdlib (scratch .build-bench-static), as scripts/run.sh ships it
#   PEERS=/work/shared/peers (ingest.py, setup.sh); PEERS_VENV as setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."
events=${EVENTS:-100000}
decline_events=${DECLINE_EVENTS:-20000}
rounds=${ROUNDS:-2}
port=${PORT:-0}
peers=${PEERS:-$(cd .. && pwd)/shared/peers}
[ -f "$peers/ingest.py" ] || peers=/work/shared/peers
venv=$("$peers/setup.sh" | tail -n 1)
if [ "${STATIC:-0}" = 1 ]; then
    scratch=${BENCH_SCRATCH:-.build-bench-static}
    swift build -c release --static-swift-stdlib --scratch-path "$scratch" --product mesos-bench >/dev/null
else
    scratch=${BENCH_SCRATCH:-.build-bench}
    swift build -c release --scratch-path "$scratch" --product mesos-bench >/dev/null
fi
bench="$scratch/release/mesos-bench"
work=$(mktemp -d /tmp/swift-mesos-peers.XXXXXX)
server=""
cleanup() {
    exec 3>&- 2>/dev/null || true
    if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

# The server runs until its standard input closes: a fifo this script holds open on fd 3.
mkfifo "$work/stdin"
"$bench" serve --offers-on-subscribe --port "$port" <"$work/stdin" >"$work/serve.out" 2>"$work/serve.err" &
server=$!
exec 3>"$work/stdin"
for _ in $(seq 1 100); do grep -q '^port=' "$work/serve.out" 2>/dev/null && break; sleep 0.1; done
port=$(sed -n 's/^port=//p' "$work/serve.out")
[ -n "$port" ] || { echo "bench-peers.sh: the server did not start: $(cat "$work/serve.err")" >&2; exit 1; }
master="127.0.0.1:$port"
ticks=$(getconf CLK_TCK)
server_cpu() { awk -v t="$ticks" '{ printf "%.2f", ($14 + $15) / t }' "/proc/$server/stat"; }

echo "bench-peers: server mesos-bench serve on $master (pid $server), client $bench, events=$events decline_events=$decline_events rounds=$rounds"
echo "bench-peers: $(nproc) cores; load before: $(cut -d' ' -f1-3 /proc/loadavg)"

# run NAME COMMAND…: runs one client, prints its last line with the server's CPU and the wall time around it.
run() {
    local name=$1; shift
    local before after start end line
    before=$(server_cpu); start=$(date +%s.%N)
    line=$("$@" 2>"$work/client.err" | tail -n 1) || { echo "bench-peers: $name failed: $(tail -n 3 "$work/client.err")" >&2; exit 1; }
    end=$(date +%s.%N); after=$(server_cpu)
    local cpu wall
    cpu=$(python3 -c "print(f'{$after - $before:.2f}')")
    wall=$(python3 -c "print(f'{$end - $start:.2f}')")
    echo "$name: $line server_cpu_s=$cpu wall_s=$wall"
    echo "$name $line" >>"$work/results"
}

for round in $(seq 1 "$rounds"); do
    echo "round $round"
    run pymesos "$venv/bin/python" "$peers/ingest.py" pymesos "$master" "$events"
    [ "${MESOSHTTP:-0}" = 1 ] && run mesoshttp "$venv/bin/python" "$peers/ingest.py" mesoshttp "$master" "$events"
    [ "${RAW:-0}" = 1 ] && run python-raw "$venv/bin/python" "$peers/ingest.py" raw "$master" "$events"
    # As MesosScheduler reads (decoding batches on the cores), then decoded on the reading task alone.
    run swift-json "$bench" ingest --master "http://$master" --events "$events" --content-type json
    run swift-protobuf "$bench" ingest --master "http://$master" --events "$events" --content-type protobuf
    run swift-json-one-task "$bench" ingest --master "http://$master" --events "$events" --content-type json --decoding-concurrency 0
    run swift-protobuf-one-task "$bench" ingest --master "http://$master" --events "$events" --content-type protobuf --decoding-concurrency 0
    run pymesos-decline "$venv/bin/python" "$peers/ingest.py" pymesos-decline "$master" "$decline_events"
    run swift-decline-protobuf "$bench" ingest --master "http://$master" --events "$decline_events" --decline
    run swift-decline-json "$bench" ingest --master "http://$master" --events "$decline_events" --decline --content-type json
done

echo "ratios (each Swift figure over the Python figure of the same round):"
python3 - "$work/results" "$rounds" <<'PY'
import re, sys
rows = [line.split(" ", 1) for line in open(sys.argv[1]).read().splitlines()]
rounds = int(sys.argv[2])
def rates(name):
    return [float(re.search(r"events_per_s=([0-9.]+)", rest).group(1)) for n, rest in rows if n == name]
def rss(name):
    return [float(m.group(1)) for n, rest in rows if n == name for m in [re.search(r"peak_rss_mb=([0-9.]+)", rest)] if m]
checks = [("typed JSON / pymesos", "swift-json", "pymesos", 3.5),
          ("typed protobuf / pymesos (JSON)", "swift-protobuf", "pymesos", 8.0),
          ("typed JSON on the reading task / pymesos", "swift-json-one-task", "pymesos", None),
          ("typed protobuf on the reading task / pymesos (JSON)", "swift-protobuf-one-task", "pymesos", None),
          ("offer cycle: ingest --decline (protobuf) / pymesos-decline", "swift-decline-protobuf", "pymesos-decline", 5.0),
          ("offer cycle: ingest --decline --content-type json / pymesos-decline", "swift-decline-json", "pymesos-decline", None)]
for label, ours, theirs, goal in checks:
    ratios = [a / b for a, b in zip(rates(ours), rates(theirs))]
    text = " ".join(f"{r:.2f}x" for r in ratios)
    verdict = "" if goal is None else (f" target >= {goal}x: " + ("met" if all(r >= goal for r in ratios) else
                                         "met in %d of %d rounds" % (sum(r >= goal for r in ratios), len(ratios))
                                         if any(r >= goal for r in ratios) else "not met"))
    print(f"  {label}: {text}{verdict}")
peaks = [(name, rss(name)) for name in ("swift-json", "swift-protobuf", "swift-json-one-task", "swift-protobuf-one-task",
                                        "swift-decline-protobuf", "swift-decline-json")]
print("  peak RSS of mesos-bench ingest (MB): " + ", ".join(f"{n} " + "/".join(f"{v:.1f}" for v in p) for n, p in peaks))
worst = max(v for _, p in peaks[:4] for v in p)
print(f"  target peak RSS < 40 MB while ingesting at full speed (json, protobuf): worst {worst:.1f} -> " + ("met" if worst < 40 else "not met"))
PY
