#!/usr/bin/env bash
# Soak: N runs of the demo app, each SIGTERMed at a random moment under load (requests,
# background jobs, tracked imports, @Async and @Scheduled work). Each run checks:
#   - the journal: every unit that started has an END (no CUT, none killed);
#   - the requests: wrk saw no read errors, no timeouts and no non-2xx answers, that is,
#     every request that got a connection got a complete answer (connections refused
#     once the drain starts are expected and not counted);
#   - the summary line says COMPLETED.
#
#   bench/soak.sh [runs]        (default 100; about 8 s a run)
#
# Prints one line per run and a RESULT line; exits non-zero if anything was lost.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${1:-100}
PORT=${PORT:-18098}
JAR=demo-app/target/graceful-shutdown-demo-app-0.1.0-SNAPSHOT.jar
OUT=bench/results/$(date +%Y%m%d-%H%M%S)-soak
mkdir -p "$OUT"
[ -f "$JAR" ] || ./mvnw -B -q install -DskipTests
cp "$JAR" "$OUT/demo.jar"
command -v wrk > /dev/null || { apt-get update -qq && apt-get install -y -qq wrk > /dev/null; }

APP=
PIDS=()
cleanup() {
  [ -n "$APP" ] && kill -9 "$APP" 2>/dev/null || true
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
}
trap cleanup EXIT INT TERM

total_units=0; total_requests=0; lost_units=0; broken_requests=0; failed_runs=0
for n in $(seq 1 "$RUNS"); do
  dir="$OUT/run-$n"; mkdir -p "$dir"
  java -jar "$OUT/demo.jar" --server.port="$PORT" --demo.journal="$dir/journal.log" \
    --demo.light.unit=700ms --demo.heavy.unit=2500ms --demo.async.unit=1s --demo.scheduled.delay=700ms \
    --demo.scheduled.unit=500ms --demo.scheduled.initial-delay=0s --demo.import.row=50ms \
    --spring.lifecycle.timeout-per-shutdown-phase=20s > "$dir/app.log" 2>&1 &
  APP=$!
  for _ in $(seq 1 120); do
    curl -fs "http://127.0.0.1:$PORT/actuator/health/readiness" > /dev/null 2>&1 && break
    sleep 0.5
  done
  wrk -t1 -c4 -d8s --timeout 10s "http://127.0.0.1:$PORT/hello" > "$dir/wrk-hello.txt" 2>&1 &
  PIDS=($!)
  wrk -t1 -c4 -d8s --timeout 10s "http://127.0.0.1:$PORT/slow?ms=300" > "$dir/wrk-slow.txt" 2>&1 &
  PIDS+=($!)
  curl -fs -X POST "http://127.0.0.1:$PORT/imports?rows=30&count=3" > /dev/null || true
  curl -fs -X POST "http://127.0.0.1:$PORT/notify?count=3" > /dev/null || true
  # A random moment between 0.5 s and 3.5 s into the load.
  sleep "$(awk -v s="$RANDOM" 'BEGIN { printf "%.3f", 0.5 + (s % 3000) / 1000 }')"
  kill -TERM "$APP"
  wait "$APP" 2>/dev/null || true
  APP=
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  PIDS=()

  started=$(grep -c '^START' "$dir/journal.log" || true)
  ended=$(grep -c '^END' "$dir/journal.log" || true)
  lost=$(( started - ended ))
  requests=0; broken=0
  for w in "$dir"/wrk-*.txt; do
    r=$(awk '/requests in/ {print $1}' "$w"); requests=$(( requests + ${r:-0} ))
    # Broken: a read error (the connection closed or reset under a request), a timeout or
    # a non-2xx answer. Connect and write errors are wrk's attempts to open new
    # connections once the server no longer accepts: those requests never got one.
    b=$(awk '/Socket errors/ { for (i = 1; i <= NF; i++) { if ($i == "read") r = $(i+1); if ($i == "timeout") t = $(i+1) } }
             /Non-2xx/ { n = $NF } END { gsub(",", "", r); print r + t + n }' "$w")
    broken=$(( broken + ${b:-0} ))
  done
  summary=$(grep -o 'Graceful shutdown [A-Z_]* in [0-9.]* s' "$dir/app.log" || echo "no summary")
  total_units=$(( total_units + started )); total_requests=$(( total_requests + requests ))
  lost_units=$(( lost_units + lost )); broken_requests=$(( broken_requests + broken ))
  status=ok
  if (( lost > 0 || broken > 0 )) || [[ $summary != *COMPLETED* ]]; then status=FAIL; failed_runs=$(( failed_runs + 1 )); fi
  echo "run $n: $status units=$started lost=$lost requests=$requests broken=$broken ($summary)"
done
echo "RESULT runs=$RUNS failed_runs=$failed_runs units_checked=$total_units units_lost=$lost_units requests=$total_requests broken_requests=$broken_requests"
echo "details in $OUT"
(( failed_runs == 0 ))
