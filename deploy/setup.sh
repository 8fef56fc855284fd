#!/usr/bin/env bash
# Installs the Debian 12 packages Reflex needs to build, test and run its demo, when any is
# missing. Safe to run again: it installs nothing when everything is present.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config ccache clang
  libre2-dev libsimdjson-dev nlohmann-json3-dev libyaml-cpp-dev libcli11-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  librdkafka-dev kcat prometheus-cpp-dev libcpp-httplib-dev libssl-dev
  libcurl4-openssl-dev libsqlite3-dev libboost-graph-dev curl libzip-dev libpugixml-dev
  libpq-dev
)

# With --tests: what the test suite needs beyond the build (the console's browser tests run
# Debian's Chromium; the PostgreSQL store tests start a throwaway server from Debian's
# postgresql package in a temporary directory, tests/pg_server.h; the deployment tests run
# systemd-analyze verify on the systemd unit, and a debian:12 image has no systemd; Node.js
# and npm come with the machine).
if [ "${1:-}" = "--tests" ]; then
  PACKAGES+=(chromium postgresql systemd)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages present"
  exit 0
fi

echo "setup: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
