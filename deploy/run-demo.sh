#!/usr/bin/env bash
# Quick start, part 1: install what is missing, build, and run Reflex's main job on its
# embedded default: an in-process Kafka broker, the bundled example tables, and the bundled
# example events streamed through it (known, suppressed, unknown and malformed ones).
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/setup.sh
cmake --preset dev -DREFLEX_BUILD_TESTS=OFF -DREFLEX_BUILD_BENCH=OFF > /dev/null
cmake --build build --target reflex -j"$(nproc)"
echo
echo "== reflex check rules/examples"
./build/cli/reflex check rules/examples
echo
echo "== reflex run --demo: embedded Kafka broker, bundled tables, the example event stream (--keep-running: stay up for the console)"
./build/cli/reflex run --demo --state-dir "${REFLEX_STATE_DIR:-.reflex/demo}" --http-listen 127.0.0.1:0 "$@"
