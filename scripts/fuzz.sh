#!/usr/bin/env bash
# Builds the libFuzzer targets with the fuzzer and address sanitizer and runs them.
#   scripts/fuzz.sh [TARGET...]      TARGET: MesosFuzzRecordIO, MesosFuzzEvents (default: both)
#   FUZZ_RUNS=1000000 (executions per target), FUZZ_JOBS=1
# Crashes are written to fuzz-artifacts/<target>/; seeds come from Tests/Fixtures/vectors.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${FUZZ_RUNS:-1000000}
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(MesosFuzzRecordIO MesosFuzzEvents)
scratch=.build-fuzz
for target in "${targets[@]}"; do
    swift build -c debug --scratch-path "$scratch" --product "$target" \
        -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING -Xswiftc -Xclang-linker -Xswiftc -fuse-ld=lld >/dev/null
done
bin=$(swift build -c debug --scratch-path "$scratch" --show-bin-path)
python3 - <<'PY'
import json, os
os.makedirs("fuzz-artifacts/corpus-MesosFuzzRecordIO", exist_ok=True)
os.makedirs("fuzz-artifacts/corpus-MesosFuzzEvents", exist_ok=True)
stream = open("Tests/Fixtures/vectors/stream.bin", "rb").read()
open("fuzz-artifacts/corpus-MesosFuzzRecordIO/stream", "wb").write(b"\x07" + stream)
samples = json.load(open("Tests/Fixtures/vectors/samples.json"))
for name, message in samples.items():
    data = json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()
    open(f"fuzz-artifacts/corpus-MesosFuzzEvents/{name}", "wb").write(b"\x00" + data)
    open(f"fuzz-artifacts/corpus-MesosFuzzRecordIO/{name}", "wb").write(b"\x03" + str(len(data)).encode() + b"\n" + data)
PY
status=0
for target in "${targets[@]}"; do
    mkdir -p "fuzz-artifacts/$target"
    echo "== $target: $runs runs"
    SWIFT_BACKTRACE=enable=no "$bin/$target" -runs="$runs" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="fuzz-artifacts/$target/" "fuzz-artifacts/corpus-$target" 2>&1 | tail -n 4 || status=1
done
exit $status
