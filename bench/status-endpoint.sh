#!/usr/bin/env bash
# Latency and size of GET /actuator/shutdown-status with 10,000 tracked jobs active,
# over real HTTP on 127.0.0.1, then the size of the deadline report when all of them
# are still running at the deadline.
#
#   bench/status-endpoint.sh [jobs] [calls]     (defaults: 10000 jobs, 200 calls)
#
# Needs only a JDK and curl. Prints one line: RESULT jobs=... median_ms=... p95_ms=...
# It fails instead, with the end of the app's log, if the app exits before it is ready
# or is not ready within READY_TIMEOUT seconds (120).
#
# Environment: JAVA_HOME (default: java on PATH), JAVA_OPTS, APP_ARGS (extra arguments
# for the app), PORT [18090].
set -euo pipefail

JOBS=${1:-10000}
CALLS=${2:-200}
PORT=${PORT:-18090}
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
OUT=$BENCH_DIR/results/$(date +%Y%m%d-%H%M%S)-status-endpoint
mkdir -p "$OUT"
ensure_jar
require_free_port "$PORT"
TMP=$(mktemp -d /tmp/status-endpoint.XXXXXX)
trap_one_app
copy_jar "$TMP"

# shellcheck disable=SC2086 # JAVA_OPTS and APP_ARGS are word lists
"$JAVA" $JAVA_OPTS -jar "$TMP/demo-app.jar" --server.port="$PORT" --demo.journal="$OUT/journal.log" \
  --spring.lifecycle.timeout-per-shutdown-phase=2s --demo.import.row=100ms ${APP_ARGS:-} \
  > "$OUT/app.log" 2>&1 &
APP=$!
await_readiness "$APP" "$PORT" "$OUT/app.log" "demo app"

# Each import takes 600 rows x 100 ms = 60 s; four run at a time, the rest are queued,
# and every one of them is a tracked, active job from the moment it is submitted.
curl -fs -X POST "http://127.0.0.1:$PORT/imports?count=$JOBS&rows=600" > /dev/null
ACTIVE=$(curl -fs "http://127.0.0.1:$PORT/actuator/shutdown-status" | grep -o '"activeJobs":[0-9]*' | cut -d: -f2)

# Warm-up, then measured calls.
for _ in $(seq 1 50); do curl -fs -o /dev/null "http://127.0.0.1:$PORT/actuator/shutdown-status"; done
for _ in $(seq 1 "$CALLS"); do
  curl -fs -o /dev/null -w '%{time_total} %{size_download}\n' "http://127.0.0.1:$PORT/actuator/shutdown-status"
done > "$OUT/calls.txt"
curl -fs "http://127.0.0.1:$PORT/actuator/shutdown-status" > "$OUT/sample.json"

STATS=$(sort -n "$OUT/calls.txt" | awk '{t[NR]=$1*1000; s=$2} END {
  printf "median_ms=%.2f p95_ms=%.2f max_ms=%.2f bytes=%d", t[int(NR/2)+1], t[int(NR*0.95)], t[NR], s }')

# SIGTERM with every job still running at the 2 s deadline: the report stays bounded.
START=$(date +%s%N)
kill -TERM "$APP"
wait "$APP" || true
APP=
EXIT_MS=$(( ($(date +%s%N) - START) / 1000000 ))
REPORT_LINES=$(awk '/Shutdown deadline of/{p=1} p&&/Graceful shutdown TIMED_OUT/{print NR-s; exit} /Shutdown deadline of/{s=NR}' "$OUT/app.log")
SUMMARY=$(grep -o 'Graceful shutdown TIMED_OUT.*' "$OUT/app.log" | cut -c1-200)

echo "RESULT jobs=$ACTIVE calls=$CALLS $STATS exit_after_sigterm_ms=$EXIT_MS report_lines=$REPORT_LINES"
echo "summary: $SUMMARY"
echo "details in $OUT"
