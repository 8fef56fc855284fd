#!/usr/bin/env bash
# Quick start, part 1: install what is missing, build, and run Reflex's main job on its
# embedded default: the bundled example events decided by the bundled example tables.
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/setup.sh
cmake --preset dev -DREFLEX_BUILD_TESTS=OFF -DREFLEX_BUILD_BENCH=OFF > /dev/null
cmake --build build --target reflex -j"$(nproc)"
echo
echo "== reflex check rules/examples"
./build/cli/reflex check rules/examples
echo
echo "== reflex test rules/examples"
./build/cli/reflex test rules/examples
echo
echo "== reflex replay rules/examples/events/sample.jsonl --rules rules/examples"
./build/cli/reflex replay rules/examples/events/sample.jsonl --rules rules/examples "$@"
