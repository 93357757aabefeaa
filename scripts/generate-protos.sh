#!/usr/bin/env bash
# Regenerates Sources/MesosCore/Generated/*.pb.swift (mesos, scheduler, executor, and the
# operator API's allocator, quota, maintenance, master, agent) from the
# project's schema in Protos/, using protoc and protoc-gen-swift 1.39.0.
#
# Usage: scripts/generate-protos.sh
#
# Environment:
#   PROTOC              protoc binary to use (default: `protoc` on PATH; on
#                       Debian/Ubuntu it is installed with apt-get if missing)
#   PROTOC_GEN_SWIFT    an already built protoc-gen-swift to use instead of
#                       building one (its version must be 1.39.0)
#   PLUGIN_CACHE_DIR    where swift-protobuf is cloned and built
#                       (default: .build-protoc-gen-swift/, git-ignored)
set -euo pipefail

readonly SWIFT_PROTOBUF_VERSION="1.39.0"
readonly SWIFT_PROTOBUF_URL="https://github.com/apple/swift-protobuf.git"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
readonly OUT_DIR="$ROOT/Sources/MesosCore/Generated"
readonly CACHE_DIR="${PLUGIN_CACHE_DIR:-$ROOT/.build-protoc-gen-swift}"
readonly PROTOS=(
  mesos/v1/mesos.proto
  mesos/v1/scheduler/scheduler.proto
  mesos/v1/executor/executor.proto
  mesos/v1/allocator/allocator.proto
  mesos/v1/quota/quota.proto
  mesos/v1/maintenance/maintenance.proto
  mesos/v1/master/master.proto
  mesos/v1/agent/agent.proto
)

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# --- protoc -----------------------------------------------------------------
find_protoc() {
  if [[ -n "${PROTOC:-}" ]]; then
    [[ -x "$PROTOC" ]] || die "PROTOC=$PROTOC is not executable"
    printf '%s\n' "$PROTOC"
    return
  fi
  if ! command -v protoc >/dev/null 2>&1; then
    command -v apt-get >/dev/null 2>&1 ||
      die "protoc not found and apt-get unavailable; install protobuf-compiler"
    local sudo=()
    if [[ "$(id -u)" -ne 0 ]]; then sudo=(sudo); fi
    log "protoc not found; installing protobuf-compiler with apt-get"
    "${sudo[@]}" apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q protobuf-compiler >&2
  fi
  command -v protoc
}

# --- protoc-gen-swift -------------------------------------------------------
find_plugin() {
  local plugin
  if [[ -n "${PROTOC_GEN_SWIFT:-}" ]]; then
    plugin="$PROTOC_GEN_SWIFT"
    [[ -x "$plugin" ]] || die "PROTOC_GEN_SWIFT=$plugin is not executable"
  else
    local src="$CACHE_DIR/swift-protobuf-$SWIFT_PROTOBUF_VERSION"
    plugin="$src/.build/release/protoc-gen-swift"
    if [[ ! -x "$plugin" ]]; then
      if [[ ! -d "$src/.git" ]]; then
        log "cloning swift-protobuf $SWIFT_PROTOBUF_VERSION into $src"
        mkdir -p "$CACHE_DIR"
        git -c advice.detachedHead=false clone --quiet --depth 1 --branch "$SWIFT_PROTOBUF_VERSION" \
          "$SWIFT_PROTOBUF_URL" "$src" >&2
      fi
      log "building protoc-gen-swift (release)"
      (cd "$src" && swift build -c release --product protoc-gen-swift >&2)
    fi
  fi
  local version
  version="$("$plugin" --version 2>/dev/null | awk '{print $NF}')"
  [[ "$version" == "$SWIFT_PROTOBUF_VERSION" ]] ||
    die "$plugin reports version '$version', expected $SWIFT_PROTOBUF_VERSION"
  printf '%s\n' "$plugin"
}

main() {
  local protoc plugin
  protoc="$(find_protoc)"
  plugin="$(find_plugin)"
  log "using $("$protoc" --version) at $protoc"
  log "using protoc-gen-swift $SWIFT_PROTOBUF_VERSION at $plugin"

  # Generate into a scratch directory first so a failure leaves the
  # committed files untouched.
  STAGING="$(mktemp -d)"
  trap 'rm -rf "$STAGING"' EXIT

  (cd "$ROOT" && "$protoc" \
    --plugin=protoc-gen-swift="$plugin" \
    --swift_opt=Visibility=Public \
    --swift_opt=FileNaming=DropPath \
    --swift_out="$STAGING" \
    -I Protos \
    "${PROTOS[@]/#/Protos/}")

  mkdir -p "$OUT_DIR"
  local file
  for file in "$STAGING"/*.pb.swift; do
    unchecked_storage "$file"
    cp "$file" "$OUT_DIR/"
    printf 'wrote %s (%s lines)\n' \
      "${OUT_DIR#"$ROOT"/}/$(basename "$file")" "$(wc -l <"$file" | tr -d ' ')"
  done
}

# --- storage classes ----------------------------------------------------------
# A large message keeps its fields in a private `_StorageClass` (copy on write). Every read and write of those
# properties pays a dynamic exclusivity check (~15% of decoding an OFFERS event). The generated code only reaches
# them through `_storage`/`_uniqueStorage()` and never holds two overlapping accesses to one property (each access
# is a whole get, set or inout of a nested value), so the checks are turned off for exactly those properties.
unchecked_storage() {
  awk '
    /fileprivate class _StorageClass \{$/ { inside = 1; indent = match($0, /[^ ]/); print; next }
    inside && /^ *\}$/ && match($0, /[^ ]/) == indent { inside = 0 }
    inside && /^ *var _[A-Za-z0-9_]+: / { sub(/var _/, "@exclusivity(unchecked) var _") }
    { print }
  ' "$1" >"$1.unchecked"
  mv "$1.unchecked" "$1"
}

if [[ "${1:-}" == "--unchecked-storage-only" ]]; then
  # Applies the storage step to the committed files (what a full run does to protoc's output).
  for file in "$OUT_DIR"/*.pb.swift; do
    grep -q "@exclusivity(unchecked)" "$file" || unchecked_storage "$file"
  done
  exit 0
fi

main "$@"
