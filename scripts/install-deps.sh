#!/usr/bin/env bash
# Installs Debian 12 packages, only those missing: the ones courier needs,
# or the ones named (what a benchmark or test script needs besides).
# Runs apt-get update only when the package lists are empty or stale for
# what we ask. Works as root, or through sudo otherwise.
#   scripts/install-deps.sh [package...]
#   COURIER_WITH_CAF=1  also install CAF 0.17 (the benchmark baseline)
set -euo pipefail

if [ $# -gt 0 ]; then
  pkgs=("$@")
else
  pkgs=(g++ make cmake pkg-config libuv1-dev libconcurrentqueue-dev
        libboost-test-dev libhttp-parser-dev nlohmann-json3-dev curl
        libnats-dev nats-server)
  if [ "${COURIER_WITH_CAF:-0}" = 1 ]; then
    pkgs+=(libcaf-dev)
  fi
fi

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
      grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1; then
  as_root=(sudo)
else
  echo "install-deps: need root or sudo to install: ${missing[*]}" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
install() {
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}"
}
if ! compgen -G '/var/lib/apt/lists/*_Packages' >/dev/null || ! install; then
  "${as_root[@]}" apt-get update -q
  install
fi
