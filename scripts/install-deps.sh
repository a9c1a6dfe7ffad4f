#!/usr/bin/env bash
# Installs every Debian package cvmbus needs to build, test, fuzz and
# benchmark. Debian 12 (bookworm) packages only; nothing is downloaded from
# anywhere else. Safe to run again: it installs only what is missing.
set -euo pipefail

PACKAGES=(
  # build
  build-essential cmake ninja-build pkg-config clang
  # tests, sanitizers (clang's ASan/UBSan/TSan/libFuzzer runtimes)
  libcmocka-dev libclang-rt-14-dev
  # the ring interop peer and benchmark baseline: DPDK's VMBus bus driver
  librte-bus-vmbus23
  # attestation (ECDSA P-384, SHA-384) and JSON configuration
  libssl-dev libjansson-dev
  # network tests: namespaces, TAP devices, real traffic
  iproute2 iputils-ping iperf3
  # tool output and inspection
  python3 jq
  # the HTML report as a person sees it (headless Chromium: tests/cli) and
  # the man page rendered and checked for warnings (groff, man)
  chromium groff-base man-db
  # the disk over NBD (plugins/nbdkit, tests/disk, bench/storage.sh): nbdkit
  # and its plugin headers, and real clients: nbdinfo/nbdcopy, fio (nbd
  # engine), qemu-img/qemu-io
  nbdkit nbdkit-plugin-dev libnbd-bin fio qemu-utils
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
    echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
