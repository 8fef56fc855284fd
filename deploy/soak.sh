#!/usr/bin/env bash
# Bounded soak run (not part of the test suite): `reflex run` on its embedded broker, with the
# bundled example rules, in dry run (actions journaled, not executed), driven through Kafka by
# bench/soak_driver at half of the maximum throughput it measures first, for SOAK_SECONDS.
# At the end it prints the engine's memory (RSS: start, max, end, and over time), decision
# latency percentiles (p50, p99, p999) and lost events (produced minus decided).
#
#   SOAK_SECONDS=600 deploy/soak.sh          # the default: ten minutes
#   SOAK_SECONDS=60 SOAK_RATE=5000 deploy/soak.sh   # a fixed rate instead of half the max
#
# Environment: SOAK_SECONDS (600), SOAK_RATE (events/s; unset = half of the probed max),
# SOAK_PROBE_SECONDS (15), SOAK_EVENTS (JSON Lines to cycle through; the bundled sample),
# SOAK_BUILD=0 (use the binaries in build/ as they are).
# The driver and the engine share the machine: on two cores the measured maximum is that of
# both together. Exit status: the driver's (0 = nothing lost).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${SOAK_SECONDS:-600}
probe=${SOAK_PROBE_SECONDS:-15}
events=${SOAK_EVENTS:-rules/examples/events/sample.jsonl}
build=build  # the dev preset (RelWithDebInfo), as the quick start builds it

if [ "${SOAK_BUILD:-1}" = "1" ]; then
  cmake --preset dev -DREFLEX_BUILD_TESTS=OFF -DREFLEX_BUILD_BENCH=ON > /dev/null
  cmake --build "$build" -j"$(nproc)" --target reflex soak_driver
fi

work=$(mktemp -d)
reflex_pid=
cleanup() {
  if [ -n "$reflex_pid" ] && kill -0 "$reflex_pid" 2> /dev/null; then
    kill -TERM "$reflex_pid" 2> /dev/null || true
    wait "$reflex_pid" 2> /dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

"$build/cli/reflex" run --state-dir "$work/state" --dry-run --http-listen 127.0.0.1:0 \
  > "$work/out" 2> "$work/err" &
reflex_pid=$!
bootstrap=
for _ in $(seq 1 300); do
  bootstrap=$(sed -n 's/^embedded Kafka broker on \([0-9.:]*\).*/\1/p' "$work/out")
  if [ -n "$bootstrap" ] && grep -q '"msg":"reflex running"' "$work/err"; then break; fi
  if ! kill -0 "$reflex_pid" 2> /dev/null; then
    echo "soak: reflex run exited" >&2
    cat "$work/err" >&2
    exit 2
  fi
  sleep 0.1
done
if [ -z "$bootstrap" ]; then
  echo "soak: reflex run did not print its broker within 30 s" >&2
  exit 2
fi
echo "== soak: reflex run (pid $reflex_pid) on its embedded broker $bootstrap, ${seconds} s"

rc=0
args=(--bootstrap "$bootstrap" --pid "$reflex_pid" --events "$events" --seconds "$seconds"
      --probe-seconds "$probe")
if [ -n "${SOAK_RATE:-}" ]; then args+=(--rate "$SOAK_RATE"); fi
"$build/bench/soak_driver" "${args[@]}" || rc=$?

kill -TERM "$reflex_pid"
stop_rc=0
wait "$reflex_pid" || stop_rc=$?
reflex_pid=
echo "reflex run stopped with exit status $stop_rc;" \
  "errors logged: $(grep -c '"level":"error"' "$work/err" || true)"
exit "$rc"
