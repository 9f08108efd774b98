#!/usr/bin/env bash
# Soak: N runs of the demo app, each SIGTERMed at a random moment under load (requests,
# background jobs, tracked imports, @Async and @Scheduled work). Each run checks:
#   - the journal: every unit that started has an END (no CUT, none killed);
#   - the requests: wrk saw no read errors, no timeouts and no answer other than 2xx or
#     503, that is, every request that got a connection got a complete answer.
#     Connections refused once the drain starts, and 503 answers to requests that arrive
#     on an open connection after the requests have drained, are clean refusals: counted
#     (refused=), not broken;
#   - the summary line says COMPLETED.
#
#   bench/soak.sh [runs]        (default 100; about 8 s a run)
#
# Two topologies (LB=...):
#   haproxy  (default) wrk goes through HAProxy, which routes to the instance only while
#            /actuator/health/readiness answers 200 (checked every 100 ms), as a Kubernetes
#            Service or ingress does, with no retries; the app runs with a drain delay
#            (DRAIN_DELAY, default 1s) longer than the time HAProxy takes to notice. A
#            request HAProxy answers 503 because no instance is in rotation is a clean
#            refusal; one whose server connection failed is broken (from HAProxy's log).
#   none     wrk straight at the instance, drain delay 0 (DRAIN_DELAY to change it): the
#            worst case, with clients still connecting at the instant the server socket
#            closes.
#
# APP_ARGS adds arguments to the app's command line; APP_ARGS=--graceful-shutdown.enabled=false
# runs Spring Boot's own shutdown, to see the checks catch what it breaks.
#
# Prints one line per run and a RESULT line; exits non-zero if anything was lost. Fails
# at once, without a RESULT line and with the end of the log, if the app exits before it
# is ready or is not ready within READY_TIMEOUT seconds (120), or if HAProxy does not
# route to it within 5 s. Environment: JAVA_HOME (default: java on PATH), JAVA_OPTS,
# PORT [18098], LB_PORT [18099].
set -euo pipefail

RUNS=${1:-100}
PORT=${PORT:-18098}
LB=${LB:-haproxy}
LB_PORT=${LB_PORT:-18099}
case $LB in
  haproxy) DRAIN_DELAY=${DRAIN_DELAY:-1s}; TARGET=$LB_PORT ;;
  none) DRAIN_DELAY=${DRAIN_DELAY:-0s}; TARGET=$PORT ;;
  *) echo "LB must be haproxy or none, not '$LB'" >&2; exit 2 ;;
esac
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
OUT=$BENCH_DIR/results/$(date +%Y%m%d-%H%M%S)-soak
mkdir -p "$OUT"
ensure_jar
require_free_port "$PORT"
if [ "$LB" = haproxy ]; then require_free_port "$LB_PORT"; fi
TMP=$(mktemp -d /tmp/soak.XXXXXX)
command -v wrk > /dev/null || { apt-get update -qq && apt-get install -y -qq wrk > /dev/null; }
if [ "$LB" = haproxy ]; then
  command -v haproxy > /dev/null || { apt-get update -qq && apt-get install -y -qq haproxy > /dev/null; }
  cat > "$OUT/haproxy.cfg" <<EOF
global
    log stdout format iso local0 info
    maxconn 2000
defaults
    mode http
    log global
    option httplog
    # Only failed requests are logged: 5xx answers, server connection errors, aborts.
    option dontlog-normal
    option log-health-checks
    option http-keep-alive
    # No retry, no redispatch: like kube-proxy, a failed server connection is the client's.
    retries 0
    timeout connect 1s
    timeout client 30s
    timeout server 30s
    timeout check 1s
frontend fe
    bind 127.0.0.1:$LB_PORT
    # Once the instance is out of rotation wrk gets a 503 per request at full speed: clean
    # refusals, not worth a log line each.
    http-request set-log-level silent if { nbsrv(app) eq 0 }
    default_backend app
backend app
    option httpchk GET /actuator/health/readiness
    http-check expect status 200
    default-server inter 100 fastinter 100 downinter 100 fall 1 rise 1
    server app 127.0.0.1:$PORT check
EOF
fi
echo "LB=$LB drain-delay=$DRAIN_DELAY target=127.0.0.1:$TARGET app-args=${APP_ARGS:-}" | tee "$OUT/setup.txt"

APP=
LBPID=
PIDS=()
cleanup() {
  [ -n "$APP" ] && kill -9 "$APP" 2>/dev/null || true
  [ -n "$LBPID" ] && kill -9 "$LBPID" 2>/dev/null || true
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT
trap 'log "terminated"; exit 143' TERM
copy_jar "$TMP"

total_units=0; total_requests=0; total_answered=0; lost_units=0; broken_requests=0; refused_requests=0; total_read_errors=0
failed_runs=0
for n in $(seq 1 "$RUNS"); do
  dir="$OUT/run-$n"; mkdir -p "$dir"
  # shellcheck disable=SC2086 # JAVA_OPTS and APP_ARGS are word lists
  "$JAVA" $JAVA_OPTS -jar "$TMP/demo-app.jar" --server.port="$PORT" --demo.journal="$dir/journal.log" \
    --demo.light.unit=700ms --demo.heavy.unit=2500ms --demo.async.unit=1s --demo.scheduled.delay=700ms \
    --demo.scheduled.unit=500ms --demo.scheduled.initial-delay=0s --demo.import.row=50ms \
    --spring.lifecycle.timeout-per-shutdown-phase=20s --graceful-shutdown.drain-delay="$DRAIN_DELAY" \
    ${APP_ARGS:-} > "$dir/app.log" 2>&1 &
  APP=$!
  await_readiness "$APP" "$PORT" "$dir/app.log" "run $n"
  if [ "$LB" = haproxy ]; then
    haproxy -db -f "$OUT/haproxy.cfg" > "$dir/haproxy.log" 2>&1 &
    LBPID=$!
    await_url "$LBPID" "http://$HOST:$LB_PORT/hello" "$dir/haproxy.log" "run $n: haproxy" 5
  fi
  wrk -t1 -c4 -d8s --timeout 10s -s "$BENCH_DIR/status-count.lua" "http://127.0.0.1:$TARGET/hello" > "$dir/wrk-hello.txt" 2>&1 &
  PIDS=($!)
  wrk -t1 -c4 -d8s --timeout 10s -s "$BENCH_DIR/status-count.lua" "http://127.0.0.1:$TARGET/slow?ms=300" > "$dir/wrk-slow.txt" 2>&1 &
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
  if [ -n "$LBPID" ]; then kill "$LBPID" 2>/dev/null || true; wait "$LBPID" 2>/dev/null || true; LBPID=; fi

  started=$(grep -c '^START' "$dir/journal.log" || true)
  ended=$(grep -c '^END' "$dir/journal.log" || true)
  lost=$(( started - ended ))
  requests=0; broken=0; refused=0; read_errors=0
  for w in "$dir"/wrk-*.txt; do
    r=$(awk '/requests in/ {print $1}' "$w"); requests=$(( requests + ${r:-0} ))
    # Broken: a read error (the connection closed or reset under a request), a timeout or
    # an answer other than 2xx and 503. Connect and write errors are wrk's attempts to
    # open new connections once the server no longer accepts: those requests never got one.
    e=$(awk '/Socket errors/ { for (i = 1; i <= NF; i++) { if ($i == "read") r = $(i+1); if ($i == "timeout") t = $(i+1) } }
             END { gsub(",", "", r); print r + t }' "$w")
    b=$(awk '$1 == "status" && ($2 < 200 || $2 > 299) && $2 != 503 { n += $3 } END { print n + 0 }' "$w")
    f=$(awk '$1 == "status" && $2 == 503 { n += $3 } END { print n + 0 }' "$w")
    read_errors=$(( read_errors + ${e:-0} ))
    broken=$(( broken + ${e:-0} + ${b:-0} )); refused=$(( refused + ${f:-0} ))
  done
  if [ "$LB" = haproxy ]; then
    # A 503 that HAProxy made up because the connection to the instance failed (its
    # termination state starts with S, s, P, R...: see HAProxy's "Session state at
    # disconnection") is broken, not refused. Its 503 for "<NOSRV>", no instance in
    # rotation, and the app's own 503 (state "--") are clean refusals. States starting
    # with C are wrk closing its connections when its time is up.
    lb_failed=$(awk '$5 ~ /^app\// && $5 != "app/<NOSRV>" && $7 == 503 && $11 !~ /^[-Cc]/ { n++ } END { print n + 0 }' "$dir/haproxy.log")
    broken=$(( broken + lb_failed )); refused=$(( refused - lb_failed ))
  fi
  summary=$(grep -o 'Graceful shutdown [A-Z_]* in [0-9.]* s' "$dir/app.log" || echo "no summary")
  answered=$(( requests - refused ))
  total_units=$(( total_units + started )); total_requests=$(( total_requests + requests ))
  total_answered=$(( total_answered + answered ))
  lost_units=$(( lost_units + lost )); broken_requests=$(( broken_requests + broken ))
  refused_requests=$(( refused_requests + refused )); total_read_errors=$(( total_read_errors + read_errors ))
  status=ok
  if (( lost > 0 || broken > 0 )) || [[ $summary != *COMPLETED* ]]; then status=FAIL; failed_runs=$(( failed_runs + 1 )); fi
  echo "run $n: $status units=$started lost=$lost requests=$requests served=$answered broken=$broken (read errors $read_errors) refused=$refused ($summary)"
done
echo "RESULT runs=$RUNS failed_runs=$failed_runs units_checked=$total_units units_lost=$lost_units requests=$total_requests served=$total_answered broken_requests=$broken_requests read_errors=$total_read_errors refused_503=$refused_requests"
echo "details in $OUT"
(( failed_runs == 0 ))
