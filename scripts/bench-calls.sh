#!/usr/bin/env bash
# Calls throughput against a real master: mesos-bench `calls` (through MesosScheduler) on every transport next
# to wrk with the same ACKNOWLEDGE body and headers on the same master, at 1 and 16 in flight, and the ratios.
#   scripts/bench-calls.sh [MASTER_URL]   (default http://127.0.0.1:5050)
#   CALLS=20000 WRK_SECONDS=10 ROUNDS=1 CONTENT_TYPE=protobuf|json (protobuf: the library's default)
#   TRANSPORTS="curl nio" (urlsession too if wanted)
#   EXECUTORS="default transport" (where mesos-bench's workers run: the cooperative pool, the transport's own
#   thread or event loop; "transport" is skipped for urlsession, which has none)
#   REFERENCES="socket nio-codecs" (http masters only; REFERENCES= to skip): the same calls with no library code
#   per call, as ratios of wrk too: `socket` writes prebuilt bytes to a blocking socket per worker (what any
#   client in this process can reach), `nio-codecs` drives SwiftNIO's HTTP/1.1 codecs from a handler on the event
#   loop (the best a transport built on NIO's codecs can do).
# Needs wrk (apt-get install -y wrk) and a release build of mesos-bench (built here if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
master=${1:-http://127.0.0.1:5050}
calls=${CALLS:-20000}
seconds=${WRK_SECONDS:-10}
rounds=${ROUNDS:-1}
content_type=${CONTENT_TYPE:-protobuf}
executors=${EXECUTORS:-default transport}
transports=${TRANSPORTS:-curl nio}
references=${REFERENCES-socket nio-codecs}
case "$master" in https:*) references= ;; esac
command -v wrk >/dev/null || { echo "bench-calls.sh: wrk is not installed (apt-get install -y wrk)" >&2; exit 1; }
scratch=${BENCH_SCRATCH:-.build-bench}
swift build -c release --scratch-path "$scratch" --product mesos-bench >/dev/null
bench="$scratch/release/mesos-bench"
work=$(mktemp -d /tmp/swift-mesos-wrk.XXXXXX)
trap 'kill "$subscriber" 2>/dev/null || true; rm -rf "$work"' EXIT

# A framework subscribed for wrk: its stream stays open (and drained) while wrk runs.
python3 - "$master" "$work" "$content_type" <<'PY' &
import json, socket, sys, urllib.parse, base64, os
master, work, content_type = sys.argv[1], sys.argv[2], sys.argv[3]
url = urllib.parse.urlparse(master)
body = json.dumps({"type": "SUBSCRIBE", "subscribe": {"framework_info": {"user": "root", "name": "wrk-reference"}}})
sock = socket.create_connection((url.hostname, url.port or 80))
sock.sendall((f"POST /api/v1/scheduler HTTP/1.1\r\nHost: {url.hostname}:{url.port}\r\nContent-Type: application/json\r\n"
              f"Accept: application/json\r\nContent-Length: {len(body)}\r\n\r\n{body}").encode())
data = b""
while b"\r\n\r\n" not in data:
    data += sock.recv(65536)
head, rest = data.split(b"\r\n\r\n", 1)
stream_id = [l.split(b":", 1)[1].strip().decode() for l in head.split(b"\r\n") if l.lower().startswith(b"mesos-stream-id")][0]
while b'"framework_id"' not in rest:
    rest += sock.recv(65536)
text = rest.decode(errors="replace")
start = text.index('"framework_id"')
framework_id = json.loads(text[text.index("{", start):text.index("}", start) + 1])["value"]
uuid = bytearray(os.urandom(16)); uuid[6] = (uuid[6] & 0x0F) | 0x40; uuid[8] = (uuid[8] & 0x3F) | 0x80
def field(number, payload):  # a length-delimited protobuf field
    return bytes([number << 3 | 2, len(payload)]) + payload
def ident(value):
    return field(1, value.encode())
if content_type == "json":
    media = "application/json"
    ack = json.dumps({"framework_id": {"value": framework_id}, "type": "ACKNOWLEDGE",
                      "acknowledge": {"agent_id": {"value": "bench-agent-0"}, "task_id": {"value": "bench-task-0"},
                                      "uuid": base64.b64encode(bytes(uuid)).decode()}}, separators=(",", ":")).encode()
else:
    media = "application/x-protobuf"
    # Call{framework_id=1, type=2 (ACKNOWLEDGE=8), acknowledge=8{agent_id=1, task_id=2, uuid=3}}
    ack = (field(1, ident(framework_id)) + bytes([2 << 3, 8])
           + field(8, field(1, ident("bench-agent-0")) + field(2, ident("bench-task-0")) + field(3, bytes(uuid))))
lua_body = "".join("\\%d" % b for b in ack)
with open(f"{work}/ack.lua", "w") as f:
    f.write(f'wrk.method = "POST"\nwrk.headers["Content-Type"] = "{media}"\nwrk.headers["Accept"] = "{media}"\n')
    f.write(f'wrk.headers["Mesos-Stream-Id"] = "{stream_id}"\nwrk.body = "{lua_body}"\n')
    f.write('done = function(summary, latency, requests)\n'
            '  io.write(string.format("wrk_requests=%d wrk_non_2xx=%d\\n", summary.requests, summary.errors.status))\nend\n')
open(f"{work}/ready", "w").close()
while sock.recv(65536):
    pass
PY
subscriber=$!
for _ in $(seq 1 100); do [ -f "$work/ready" ] && break; sleep 0.1; done
[ -f "$work/ready" ] || { echo "bench-calls.sh: could not subscribe to $master" >&2; exit 1; }

for round in $(seq 1 "$rounds"); do
    for concurrency in 1 16; do
        wrk_line=$(wrk -t1 -c"$concurrency" -d"${seconds}s" -s "$work/ack.lua" "$master/api/v1/scheduler" | tee "$work/wrk.txt" | sed -n 's/^Requests\/sec: *//p')
        non2xx=$(sed -n 's/.*wrk_non_2xx=\([0-9]*\).*/\1/p' "$work/wrk.txt")
        for reference in $references; do
            ours=$("$bench" calls --master "$master" --calls "$calls" --concurrency "$concurrency" --content-type "$content_type" \
                --via "$reference" | tail -n 1)
            ours_rate=$(echo "$ours" | sed -n 's/.*calls_per_s=\([0-9.]*\).*/\1/p')
            ratio=$(python3 -c "print(f'{${ours_rate:-0} / $wrk_line * 100:.1f}')")
            echo "round=$round content_type=$content_type concurrency=$concurrency wrk_calls_per_s=$wrk_line wrk_non_2xx=${non2xx:-?} reference=$reference mesos_bench: $ours ratio_percent=$ratio"
        done
        for transport in $transports; do
            for executor in $executors; do
                [ "$transport" = urlsession ] && [ "$executor" = transport ] && continue
                ours=$("$bench" calls --master "$master" --calls "$calls" --concurrency "$concurrency" --content-type "$content_type" \
                    --transport "$transport" --executor "$executor" | tail -n 1)
                ours_rate=$(echo "$ours" | sed -n 's/.*calls_per_s=\([0-9.]*\).*/\1/p')
                ratio=$(python3 -c "print(f'{${ours_rate:-0} / $wrk_line * 100:.1f}')")
                echo "round=$round content_type=$content_type concurrency=$concurrency wrk_calls_per_s=$wrk_line wrk_non_2xx=${non2xx:-?} transport=$transport executor=$executor mesos_bench: $ours ratio_percent=$ratio"
            done
        done
    done
done
