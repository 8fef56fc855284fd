#!/usr/bin/env bash
# Quick start, part 2: install what is missing, build everything (library, CLI, tests,
# benchmarks) and run the whole test suite. With CI=true warnings are errors, the tests run
# again under AddressSanitizer + UndefinedBehaviorSanitizer, the tests that run threads (label
# `concurrency`) run again under ThreadSanitizer, and the libraries are built with clang's
# -Wthread-safety so the lock annotations are checked. REFLEX_ASAN=1 / REFLEX_TSAN=1 /
# REFLEX_TSA=1 run one of those passes without CI=true.
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/setup.sh
jobs=$(nproc)
preset=dev
if [ "${CI:-}" = "true" ]; then preset=ci; fi
# Explicit: the quick-start demo configures the same build directory without tests.
cmake --preset "$preset" -DREFLEX_BUILD_TESTS=ON -DREFLEX_BUILD_BENCH=ON > /dev/null
cmake --build --preset "$preset" -j"$jobs"
ctest --preset "$preset" -j"$jobs"
if [ "${CI:-}" = "true" ] || [ "${REFLEX_TSA:-}" = "1" ]; then
  echo "== clang build with -Wthread-safety (lock annotations checked; warnings are errors)"
  cmake --preset clang-tsa > /dev/null
  cmake --build --preset clang-tsa -j"$jobs"
fi
if [ "${CI:-}" = "true" ] || [ "${REFLEX_ASAN:-}" = "1" ]; then
  echo "== sanitizer build (ASan + UBSan)"
  cmake --preset asan > /dev/null
  cmake --build --preset asan -j"$jobs"
  ctest --preset asan -j"$jobs" -E 'bench_smoke'
fi
if [ "${CI:-}" = "true" ] || [ "${REFLEX_TSAN:-}" = "1" ]; then
  echo "== ThreadSanitizer build of the concurrency tests (suppressions: tests/tsan.supp)"
  cmake --preset tsan > /dev/null
  cmake --build --preset tsan -j"$jobs"
  ctest --preset tsan -j"$jobs"
fi
