#!/usr/bin/env bash
# Quick start, part 2: install what is missing, build everything (library, CLI, tests,
# benchmarks) and run the whole test suite. With CI=true warnings are errors, the tests run
# again under AddressSanitizer + UndefinedBehaviorSanitizer, the tests that run threads (label
# `concurrency`) run again under ThreadSanitizer, and the libraries are built with clang's
# -Wthread-safety so the lock annotations are checked. REFLEX_ASAN=1 / REFLEX_TSAN=1 /
# REFLEX_TSA=1 run one of those passes without CI=true.
set -euo pipefail
cd "$(dirname "$0")/.."
# Wall time of each phase, printed as it ends and summed up at the end (CI's budget).
phases=""
phase_start=$SECONDS
phase_end() {
  local took=$((SECONDS - phase_start))
  phases+="$(printf '  %-28s %4d s' "$1" "$took")"$'\n'
  echo "== $1: ${took} s"
  phase_start=$SECONDS
}
trap 'printf "== time by phase (total %d s)\n%s" "$SECONDS" "$phases"' EXIT
bash deploy/setup.sh --tests
# playwright-core for the browser tests, as tests/browser/package-lock.json pins it (it drives
# the system's Chromium; it downloads no browser). CI must run them: there a failure stops.
if command -v npm > /dev/null; then
  if [ ! -f tests/browser/node_modules/playwright-core/package.json ]; then
    npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error
  fi
elif [ "${CI:-}" = "true" ]; then
  echo "setup: npm is missing; the console's browser tests need Node.js and npm" >&2
  exit 1
else
  echo "setup: no npm here, so the console's browser tests are left out"
fi
phase_end "setup"
jobs=$(nproc)
# The tests mostly wait (sockets, brokers, child processes): one more than the cores keeps
# them busy (2 cores: 150 s at -j3 against 195 s at -j2 for the ci pass). The TSan pass,
# which computes, stays at the core count.
test_jobs=$((jobs + 1))
preset=dev
if [ "${CI:-}" = "true" ]; then preset=ci; fi
# Explicit: the quick-start demo configures the same build directory without tests.
cmake --preset "$preset" -DREFLEX_BUILD_TESTS=ON -DREFLEX_BUILD_BENCH=ON > /dev/null
cmake --build --preset "$preset" -j"$jobs"
phase_end "build ($preset)"
ctest --preset "$preset" -j"$test_jobs"
phase_end "tests ($preset)"
if [ "${CI:-}" = "true" ] || [ "${REFLEX_TSA:-}" = "1" ]; then
  echo "== clang build with -Wthread-safety (lock annotations checked; warnings are errors)"
  cmake --preset clang-tsa > /dev/null
  cmake --build --preset clang-tsa -j"$jobs"
  phase_end "build (clang-tsa)"
fi
if [ "${CI:-}" = "true" ] || [ "${REFLEX_ASAN:-}" = "1" ]; then
  echo "== sanitizer build (ASan + UBSan)"
  cmake --preset asan > /dev/null
  cmake --build --preset asan -j"$jobs"
  phase_end "build (asan)"
  ctest --preset asan -j"$test_jobs" -E 'bench_smoke'
  phase_end "tests (asan)"
fi
if [ "${CI:-}" = "true" ] || [ "${REFLEX_TSAN:-}" = "1" ]; then
  echo "== ThreadSanitizer build of the concurrency tests (suppressions: tests/tsan.supp)"
  cmake --preset tsan > /dev/null
  cmake --build --preset tsan -j"$jobs"
  phase_end "build (tsan)"
  ctest --preset tsan -j"$jobs"
  phase_end "tests (tsan)"
fi
