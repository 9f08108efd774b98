#!/usr/bin/env bash
# The same workload shut down by Spring Boot alone and by the starter: what each loses
# or delays.
#
#   bench/side-by-side.sh [runs]      (default 3 runs of each mode, interleaved)
#
# Workload in the demo app, all in flight at SIGTERM:
#   - two job loops with 1.5 s and 6 s units: @Background jobs with the starter; with
#     Spring Boot alone, plain threads stopped from destroy() with a flag and an
#     interrupt (demo PlainLoops), as such loops are usually written;
#   - 4 @Async notifications of 2 s (submitted 0.5 s before SIGTERM);
#   - a @Scheduled report of 2 s every 1 s;
#   - a tracked import of 40 rows x 100 ms handed to an executor, and
#   - a 3 s HTTP request.
# Every unit journals START and END, or CUT when interrupted; a START with neither was
# killed with the JVM. Prints one RESULT line per run.
#
# Fails, with the end of the app's log, if an app exits before it is ready or is not
# ready within READY_TIMEOUT seconds (120). Environment: JAVA_HOME (default: java on
# PATH), JAVA_OPTS, APP_ARGS (extra arguments for the app in both modes), PORT [18097].
set -euo pipefail

RUNS=${1:-3}
PORT=${PORT:-18097}
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
OUT=$BENCH_DIR/results/$(date +%Y%m%d-%H%M%S)-side-by-side
mkdir -p "$OUT"
ensure_jar
require_free_port "$PORT"
TMP=$(mktemp -d /tmp/side-by-side.XXXXXX)

APP=
CURL_PID=
cleanup() {
  [ -n "$APP" ] && kill -9 "$APP" 2>/dev/null || true
  [ -n "$CURL_PID" ] && kill "$CURL_PID" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT
trap 'log "terminated"; exit 143' TERM
copy_jar "$TMP"

run() {
  local mode=$1 n=$2 dir="$OUT/$1-$2"
  mkdir -p "$dir"
  local args=(--server.port="$PORT" --demo.journal="$dir/journal.log" --demo.light.unit=1500ms
    --demo.heavy.unit=6s --demo.async.unit=2s --demo.scheduled.delay=1s --demo.scheduled.unit=2s
    --demo.scheduled.initial-delay=0s --demo.import.row=100ms)
  if [[ $mode == boot ]]; then
    args+=(--graceful-shutdown.enabled=false --demo.plain-loops.enabled=true)
  fi
  # shellcheck disable=SC2086 # JAVA_OPTS and APP_ARGS are word lists
  "$JAVA" $JAVA_OPTS -jar "$TMP/demo-app.jar" "${args[@]}" ${APP_ARGS:-} > "$dir/app.log" 2>&1 &
  APP=$!
  await_readiness "$APP" "$PORT" "$dir/app.log" "$mode run $n"
  sleep 2.5   # let the loops get into a unit
  curl -fs -X POST "http://127.0.0.1:$PORT/imports?rows=40" > /dev/null
  curl -fs -X POST "http://127.0.0.1:$PORT/notify?count=4" > /dev/null
  curl -s -o "$dir/slow.txt" -w '%{http_code}' "http://127.0.0.1:$PORT/slow?ms=3000" > "$dir/slow.code" 2>/dev/null &
  CURL_PID=$!
  sleep 0.5
  local start; start=$(date +%s%N)
  kill -TERM "$APP"
  wait "$APP" 2>/dev/null || true
  local exit_ms=$(( ($(date +%s%N) - start) / 1000000 ))
  APP=
  wait "$CURL_PID" 2>/dev/null || true
  CURL_PID=
  local started ended cut killed slow
  started=$(grep -c '^START' "$dir/journal.log" || true)
  ended=$(grep -c '^END' "$dir/journal.log" || true)
  cut=$(grep -c '^CUT' "$dir/journal.log" || true)
  killed=$(( started - ended - cut ))
  slow=$(cat "$dir/slow.code" 2>/dev/null || echo none)
  local lost; lost=$(awk '$1=="START"{s[$2" "$3]=1} $1=="END"||$1=="CUT"{if($1=="END")delete s[$2" "$3]} END{for(k in s){split(k,a," "); c[a[1]]++} for(j in c) printf "%s:%d,", j, c[j]}' "$dir/journal.log")
  echo "RESULT mode=$mode run=$n exit_after_sigterm_ms=$exit_ms units_started=$started completed=$ended cut=$cut killed=$killed slow_request=$slow lost_by_job=${lost:-none}"
}

for n in $(seq 1 "$RUNS"); do
  run boot "$n"
  run starter "$n"
done
echo "details in $OUT"
