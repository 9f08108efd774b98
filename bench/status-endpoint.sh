#!/usr/bin/env bash
# Latency and size of GET /actuator/shutdown-status with 10,000 tracked jobs active,
# over real HTTP on 127.0.0.1, then the size of the deadline report when all of them
# are still running at the deadline.
#
#   bench/status-endpoint.sh [jobs] [calls]     (defaults: 10000 jobs, 200 calls)
#
# Needs only a JDK and curl. Prints one line: RESULT jobs=... median_ms=... p95_ms=...
set -euo pipefail
cd "$(dirname "$0")/.."

JOBS=${1:-10000}
CALLS=${2:-200}
PORT=${PORT:-18090}
JAR=demo-app/target/graceful-shutdown-demo-app-0.1.0-SNAPSHOT.jar
OUT=bench/results/$(date +%Y%m%d-%H%M%S)-status-endpoint
mkdir -p "$OUT"
[ -f "$JAR" ] || ./mvnw -B -q install -DskipTests

if (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null; then
  echo "port $PORT is busy; set PORT=..." >&2
  exit 1
fi

java -jar "$JAR" --server.port="$PORT" --demo.journal="$OUT/journal.log" \
  --spring.lifecycle.timeout-per-shutdown-phase=2s --demo.import.row=100ms \
  > "$OUT/app.log" 2>&1 &
APP=$!
trap 'kill -9 $APP 2>/dev/null || true' EXIT

for _ in $(seq 1 120); do
  curl -fs "http://127.0.0.1:$PORT/actuator/health/readiness" > /dev/null 2>&1 && break
  sleep 0.5
done

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
kill -TERM $APP
wait $APP || true
EXIT_MS=$(( ($(date +%s%N) - START) / 1000000 ))
REPORT_LINES=$(awk '/Shutdown deadline of/{p=1} p&&/Graceful shutdown TIMED_OUT/{print NR-s; exit} /Shutdown deadline of/{s=NR}' "$OUT/app.log")
SUMMARY=$(grep -o 'Graceful shutdown TIMED_OUT.*' "$OUT/app.log" | cut -c1-200)

echo "RESULT jobs=$ACTIVE calls=$CALLS $STATS exit_after_sigterm_ms=$EXIT_MS report_lines=$REPORT_LINES"
echo "summary: $SUMMARY"
echo "details in $OUT"
