#!/usr/bin/env bash
# Installs the Debian packages swift-mesos builds and tests with (only those that are missing).
#   scripts/install-deps.sh [extra-package...]
set -euo pipefail
packages=(libcurl4-openssl-dev zlib1g-dev libzookeeper-mt-dev pkg-config curl openssl nginx-light python3 "$@")
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "install-deps: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 || {
    $sudo apt-get update -qq >/dev/null
    $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}
