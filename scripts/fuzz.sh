#!/usr/bin/env bash
# Builds the libFuzzer targets with the fuzzer and address sanitizer and runs them.
#   scripts/fuzz.sh [RUN...]    RUN: recordio, json, protobuf (default: all three)
#     recordio  MesosFuzzRecordIO: the RecordIO decoder under every chunking
#     json      MesosFuzzEvents with FUZZ_ENCODING=json: JSON event records, fast decoder cross-checked
#     protobuf  MesosFuzzEvents with FUZZ_ENCODING=protobuf: protobuf event records, fast decoder cross-checked
#   FUZZ_RUNS=1000000 (executions per run; run several invocations side by side to use more cores)
#   FUZZ_TIMEOUT=10 (seconds one input may take; raise it on a loaded machine)
# Crashes are written to fuzz-artifacts/<run>/; seeds come from Tests/Fixtures/vectors.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${FUZZ_RUNS:-1000000}
selected=("$@")
[ ${#selected[@]} -gt 0 ] || selected=(recordio json protobuf)
scratch=${FUZZ_SCRATCH:-.build-fuzz}
for product in MesosFuzzRecordIO MesosFuzzEvents; do
    swift build -c debug --scratch-path "$scratch" --product "$product" \
        -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING -Xswiftc -Xclang-linker -Xswiftc -fuse-ld=lld >/dev/null
done
bin=$(swift build -c debug --scratch-path "$scratch" --show-bin-path)
python3 - <<'PY'
import json, os
for run in ("recordio", "json", "protobuf"):
    os.makedirs(f"fuzz-artifacts/corpus-{run}", exist_ok=True)
stream = open("Tests/Fixtures/vectors/stream.bin", "rb").read()
open("fuzz-artifacts/corpus-recordio/stream", "wb").write(b"\x07" + stream)
samples = json.load(open("Tests/Fixtures/vectors/samples.json"))
for name, message in samples.items():
    data = json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()
    open(f"fuzz-artifacts/corpus-json/{name}", "wb").write(data)
    open(f"fuzz-artifacts/corpus-recordio/{name}", "wb").write(b"\x03" + str(len(data)).encode() + b"\n" + data)
PY
FUZZ_ENCODING=protobuf FUZZ_WRITE_SEEDS=fuzz-artifacts/corpus-protobuf FUZZ_SAMPLES=Tests/Fixtures/vectors/samples.json \
    SWIFT_BACKTRACE=enable=no "$bin/MesosFuzzEvents"
status=0
for run in "${selected[@]}"; do
    case "$run" in
        recordio) product=MesosFuzzRecordIO; encoding=json ;;
        json) product=MesosFuzzEvents; encoding=json ;;
        protobuf) product=MesosFuzzEvents; encoding=protobuf ;;
        *) echo "fuzz.sh: unknown run '$run' (recordio, json, protobuf)" >&2; exit 2 ;;
    esac
    mkdir -p "fuzz-artifacts/$run"
    echo "== $run ($product, $runs runs)"
    FUZZ_ENCODING=$encoding SWIFT_BACKTRACE=enable=no "$bin/$product" -runs="$runs" -max_len=4096 -timeout="${FUZZ_TIMEOUT:-10}" \
        -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="fuzz-artifacts/$run/" \
        "fuzz-artifacts/corpus-$run" 2>&1 | grep -E "^(stat::|Done|==[0-9]+==|SUMMARY|INFO: seed|.*(crash|leak|timeout|deadly))" | head -n 20 \
        || status=1
    if ls "fuzz-artifacts/$run"/crash-* "fuzz-artifacts/$run"/leak-* "fuzz-artifacts/$run"/timeout-* >/dev/null 2>&1; then
        echo "fuzz.sh: $run found a failing input in fuzz-artifacts/$run/" >&2
        status=1
    fi
done
exit $status
