#!/usr/bin/env bash
# Rolling restart of a 2-replica deployment of the demo app behind HAProxy, under wrk load.
#
#   bench/rolling-restart.sh starter [DURATION_S]   # our starter, drain-delay $DRAIN_DELAY (default 3s)
#   bench/rolling-restart.sh boot    [DURATION_S]   # --graceful-shutdown.enabled=false: plain Spring Boot 4.1
#
# What it does (mirrors a Kubernetes rolling update of a Deployment with 2 replicas, where
# kube-proxy / an ingress routes to the pods that pass their readiness probe):
#   1. starts instances a (:18081) and b (:18082), waits for readiness 200 on each;
#   2. runs HAProxy on 127.0.0.1:18080, roundrobin over both, health check on the readiness
#      endpoint, no retries, no redispatch (kube-proxy does not retry a failed connection);
#   3. runs wrk against HAProxy for DURATION_S seconds (default 50: a JVM start takes 10-15 s on
#      the loaded 2-core box, and both restarts, including the new instances coming back into
#      rotation, should happen under load: b gets SIGTERM ~25-30 s in and is back ~40-48 s in);
#   4. ~5 s into the load: SIGTERM a, wait for it to exit, start it again on the same port,
#      wait until it answers readiness 200 *and* HAProxy has put it back in rotation;
#      ~5 s later, if enough load time is left, the same for b;
#   5. prints one line
#        RESULT mode=.. drain_delay=.. requests=.. non2xx=.. socket_errors_connect=.. read=..
#               write=.. timeout=.. duration=.. restarts=..
#      and keeps wrk's output, HAProxy's log and stats, every instance's log and an event
#      timeline in bench/results/<timestamp>-<mode>/ (git-ignored).
#
# Only 127.0.0.1 is used. Every process started here (haproxy, wrk, the JVMs) is stopped on
# exit, Ctrl-C or SIGTERM. HAProxy and wrk come from Debian's packages and are installed
# here if missing (needs root).
#
# Environment overrides (defaults in brackets):
#   DRAIN_DELAY [3s]  graceful-shutdown.drain-delay in starter mode. It must be longer than the
#                     time the load balancer needs to notice readiness went 503 and stop routing
#                     to the instance: here at most one check interval (500 ms) plus one check's
#                     response time, so ~0.5-1 s; 3 s leaves a wide margin on a loaded 2-core box.
#                     (In Kubernetes the equivalent is periodSeconds x failureThreshold of the
#                     readiness probe plus endpoint propagation to every kube-proxy/ingress, hence
#                     typical values of 5-15 s there.) Shorter than detection = requests routed
#                     to an instance that has already stopped accepting.
#   HTTP_REUSE [unset = HAProxy's default, "safe"]  set to never|safe|aggressive|always to test
#                     how HAProxy reuses idle server-side keep-alive connections.
#   LB_MODE [http]    http: HAProxy parses HTTP and picks a server per request (an ingress / L7
#                     load balancer). tcp: HAProxy picks a server per client connection and the
#                     connection stays pinned to it, even after the server is marked DOWN: how
#                     kube-proxy (iptables/IPVS, L4) treats a keep-alive client connection. Only
#                     in tcp mode does it matter whether the instance closes kept-alive client
#                     connections during the drain delay. (In tcp mode the log's "CD" lines
#                     stamped at the end of the run are wrk closing its connections.)
#   LB_PORT [18080] A_PORT [18081] B_PORT [18082] STATS_PORT [18089]
#   FIRST_RESTART_AT [5]  seconds into the load when a gets SIGTERM
#   PAUSE_BETWEEN [5]     seconds between a being back in rotation and b getting SIGTERM
#   DEMO_ARGS [--demo.heavy.unit=1s --demo.light.unit=500ms]  extra demo-app arguments. The
#                     demo's heavy background job has 15 s units by default, and the starter
#                     waits for a unit in flight to finish: that would keep a terminating
#                     instance around for up to 15 s and push b's restart out of the load
#                     window. It changes nothing on the HTTP path.
#   JAVA_OPTS [unset] extra JVM options.
set -euo pipefail

usage() {
	echo "usage: $0 starter|boot [DURATION_SECONDS]" >&2
	exit 2
}

MODE=${1:-}
DURATION=${2:-50}
case "$MODE" in starter | boot) ;; *) usage ;; esac
[[ "$DURATION" =~ ^[0-9]+$ ]] && ((DURATION >= 10)) || { echo "DURATION must be an integer >= 10 (seconds)" >&2; exit 2; }

DRAIN_DELAY=${DRAIN_DELAY:-3s}
LB_PORT=${LB_PORT:-18080}
A_PORT=${A_PORT:-18081}
B_PORT=${B_PORT:-18082}
STATS_PORT=${STATS_PORT:-18089}
FIRST_RESTART_AT=${FIRST_RESTART_AT:-5}
PAUSE_BETWEEN=${PAUSE_BETWEEN:-5}
DEMO_ARGS=${DEMO_ARGS:---demo.heavy.unit=1s --demo.light.unit=500ms}
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
HTTP_REUSE=${HTTP_REUSE:-}
LB_MODE=${LB_MODE:-http}
[[ $LB_MODE == http || $LB_MODE == tcp ]] || { echo "LB_MODE must be http or tcp" >&2; exit 2; }
EXIT_TIMEOUT=60   # s for a JVM to exit after SIGTERM before it is killed (demo deadline is 20 s)

if [[ $MODE == starter ]]; then
	MODE_ARGS=(--graceful-shutdown.drain-delay="$DRAIN_DELAY")
	DRAIN_LABEL=$DRAIN_DELAY
else
	# Disabled, the starter keeps only its injectable API (ShutdownToken, JobRegistry):
	# no coordinator, no filter, no drain. The HTTP path is Spring Boot's own.
	MODE_ARGS=(--graceful-shutdown.enabled=false)
	DRAIN_LABEL=0s
fi


# ---------------------------------------------------------------- prerequisites
if ! command -v haproxy >/dev/null || ! command -v wrk >/dev/null; then
	log "installing haproxy and wrk from Debian packages"
	[[ $(id -u) == 0 ]] || die "haproxy/wrk missing and not root: apt-get install -y haproxy wrk"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy wrk >/dev/null
fi
for tool in "$JAVA" curl ss; do command -v "$tool" >/dev/null || die "$tool not found"; done

ensure_jar

port_busy() { [[ -n $(ss -Hltn "sport = :$1") ]]; }
for p in "$LB_PORT" "$A_PORT" "$B_PORT" "$STATS_PORT"; do require_free_port "$p"; done

OUT=$BENCH_DIR/results/$(date +%Y%m%d-%H%M%S)-$MODE
mkdir -p "$OUT"
TMP=$(mktemp -d /tmp/rolling-restart.XXXXXX)

copy_jar "$TMP"
JAR_SHA=$(sha256sum "$TMP/demo-app.jar" | cut -c1-16)
JAR=$TMP/demo-app.jar

# ---------------------------------------------------------------- cleanup
declare -A PID=()    # instance name -> JVM pid
declare -A GEN=()    # instance name -> how many times it was started
declare -A PORT=([a]=$A_PORT [b]=$B_PORT)
HAPROXY_PID=
WRK_PID=
CLEANED=

# Stops a JVM gracefully (SIGTERM) and reaps it; SIGKILL after $2 seconds. Sets STOP_RC to
# its exit status (143 = exited on SIGTERM through the JVM's shutdown hooks, 137 = killed).
# Not to be called in a subshell: only this shell can wait for its own children.
STOP_RC=
stop_jvm() {
	local pid=$1 limit=$2 start=$SECONDS rc=0
	kill -TERM "$pid" 2>/dev/null || true
	while kill -0 "$pid" 2>/dev/null; do
		# a zombie (exited, not yet reaped) still passes kill -0: wait reaps it below
		[[ $(ps -o stat= -p "$pid" 2>/dev/null) == Z* ]] && break
		if ((SECONDS - start >= limit)); then
			log "pid $pid still running ${limit}s after SIGTERM: SIGKILL"
			kill -KILL "$pid" 2>/dev/null || true
			break
		fi
		sleep 0.05
	done
	wait "$pid" 2>/dev/null || rc=$?
	STOP_RC=$rc
}

cleanup() {
	[[ -n $CLEANED ]] && return
	CLEANED=1
	set +e
	if [[ -n $WRK_PID ]] && kill -0 "$WRK_PID" 2>/dev/null; then
		kill -TERM "$WRK_PID" 2>/dev/null
		wait "$WRK_PID" 2>/dev/null
	fi
	local name
	for name in "${!PID[@]}"; do
		if [[ -n ${PID[$name]} ]] && kill -0 "${PID[$name]}" 2>/dev/null; then
			stop_jvm "${PID[$name]}" 15
		fi
	done
	if [[ -n $HAPROXY_PID ]] && kill -0 "$HAPROXY_PID" 2>/dev/null; then
		kill -TERM "$HAPROXY_PID" 2>/dev/null
		wait "$HAPROXY_PID" 2>/dev/null
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'log "interrupted"; cleanup; exit 130' INT
trap 'log "terminated"; cleanup; exit 143' TERM

# ---------------------------------------------------------------- instances
T0= # EPOCHREALTIME when wrk started
now() { printf '%s' "$EPOCHREALTIME"; }
rel() { # seconds since the load started, for the event timeline
	if [[ -n $T0 ]]; then awk -v a="$EPOCHREALTIME" -v b="$T0" 'BEGIN { printf "%+.2f", a - b }'; else printf 'pre'; fi
}
event() {
	printf 't=%s %s %s\n' "$(rel)" "$(date +%H:%M:%S.%3N)" "$*" >>"$OUT/events.log"
	log "t=$(rel) $*"
}

start_instance() {
	local name=$1 port=${PORT[$1]}
	GEN[$name]=$((${GEN[$name]:-0} + 1))
	local tag=$name-${GEN[$name]}
	port_busy "$port" && die "port $port is busy, cannot start instance $name"
	# shellcheck disable=SC2086 # JAVA_OPTS and DEMO_ARGS are word lists
	"$JAVA" $JAVA_OPTS -jar "$JAR" --server.address=$HOST --server.port="$port" \
		--demo.journal="$OUT/journal-$tag.log" "${MODE_ARGS[@]}" $DEMO_ARGS \
		>"$OUT/instance-$tag.log" 2>&1 &
	PID[$name]=$!
	event "$name started (pid ${PID[$name]}, port $port, log instance-$tag.log)"
}

wait_ready() {
	local name=$1 port=${PORT[$1]} start=$SECONDS
	await_readiness "${PID[$name]}" "$port" "$OUT/instance-$name-${GEN[$name]}.log" "instance $name (port $port)" "$READY_TIMEOUT"
	event "$name readiness 200 ($((SECONDS - start))s after start)"
}

# HAProxy's own view of a server, from its CSV stats: UP, DOWN, "UP 1/2", ...
lb_status() {
	curl -s --max-time 1 "http://$HOST:$STATS_PORT/stats;csv" |
		awk -F, -v s="$1" '$1 == "app" && $2 == s { print $18 }'
}

wait_in_rotation() {
	local name=$1 start=$SECONDS
	until [[ $(lb_status "$name") == UP ]]; do
		((SECONDS - start < 30)) || die "HAProxy did not mark $name UP within 30s (status: $(lb_status "$name"))"
		sleep 0.1
	done
	event "$name UP in HAProxy"
}

# SIGTERM, wait for the exit, start again on the same port, wait until ready and in rotation.
restart_instance() {
	local name=$1 pid=${PID[$1]} t_term
	t_term=$(now)
	event "$name SIGTERM (pid $pid)"
	stop_jvm "$pid" "$EXIT_TIMEOUT"
	event "$name exited with status $STOP_RC, $(awk -v a="$EPOCHREALTIME" -v b="$t_term" 'BEGIN { printf "%.2f", a - b }')s after SIGTERM"
	start_instance "$name"
	wait_ready "$name"
	wait_in_rotation "$name"
}

# ---------------------------------------------------------------- haproxy
http_only() { [[ $LB_MODE == http ]] && printf '%s\n' "$1" || printf '    # (mode tcp: no HTTP-only settings)\n'; }

write_haproxy_cfg() {
	cat >"$TMP/haproxy.cfg" <<EOF
global
    # Foreground process; log lines go to our stdout, which is redirected to haproxy.log,
    # each prefixed with its ISO 8601 time (to line up with events.log and instance logs).
    log stdout format iso local0 info
    maxconn 2000

defaults
    mode $LB_MODE
    log global
    option ${LB_MODE}log
    # Log only what went wrong (5xx, connection errors, aborts, timeouts): a log line per
    # request at ~10k req/s would itself perturb the 2-core box.
    option dontlog-normal
    # Log every health-check state change (UP -> DOWN and back, with the reason).
    option log-health-checks
$(http_only '    # Keep-alive on both sides: wrk -> HAProxy and HAProxy -> Tomcat (HAProxy'"'"'s default since
    # 1.7, written out because the server-side reuse is what a graceful drain must get right).
    option http-keep-alive')
    # No retry and no redispatch: a request whose server connection fails is answered 503 to
    # the client, like kube-proxy (iptables/IPVS DNAT) which never retries a connection.
    retries 0
    timeout connect 1s
    timeout client 30s
    timeout server 30s
$(http_only '    timeout http-request 5s
    timeout http-keep-alive 10s')
    # A readiness check that takes longer than this counts as failed.
    timeout check 1s

frontend fe
    bind $HOST:$LB_PORT
    default_backend app

backend app
    balance roundrobin
$(http_only "$([[ -n $HTTP_REUSE ]] && echo "    http-reuse $HTTP_REUSE" || echo "    # http-reuse: HAProxy's default (safe)")")
    # Route only to instances whose readiness endpoint answers 200 (503 = OUT_OF_SERVICE).
    option httpchk GET /actuator/health/readiness
    http-check expect status 200
    # inter 500: check every 500 ms, so a readiness flip is seen within ~0.5 s (+ the check's
    #   own response time): this detection time is what the drain delay must exceed.
    # fall 1: one failed check takes the server out; fast removal is the point of the test and
    #   a readiness 503 is a deliberate signal, not noise.
    # rise 2: two good checks (~1 s) before a restarted instance gets traffic again.
    # fastinter/downinter equal inter so no state uses a slower check rate.
    default-server inter 500 fastinter 500 downinter 500 fall 1 rise 2
    server a $HOST:$A_PORT check
    server b $HOST:$B_PORT check

listen stats
    # The script reads server states from here (stats;csv).
    bind $HOST:$STATS_PORT
    mode http
    stats enable
    stats uri /stats
    stats refresh 0
EOF
	cp "$TMP/haproxy.cfg" "$OUT/haproxy.cfg"
}

# ---------------------------------------------------------------- wrk
cat >"$TMP/status.lua" <<'EOF'
-- Counts responses by status code over all wrk threads; printed after wrk's own report.
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) statuses = {} end
function response(status, headers, body) statuses[status] = (statuses[status] or 0) + 1 end
function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    for code, n in pairs(t:get("statuses")) do total[code] = (total[code] or 0) + n end
  end
  local codes = {}
  for code in pairs(total) do table.insert(codes, code) end
  table.sort(codes)
  local parts = {}
  for _, code in ipairs(codes) do table.insert(parts, code .. "=" .. total[code]) end
  print("STATUS " .. table.concat(parts, " "))
end
EOF

# ---------------------------------------------------------------- run
log "mode=$MODE drain_delay=$DRAIN_LABEL duration=${DURATION}s results in $OUT"
{
	echo "mode=$MODE drain_delay=$DRAIN_LABEL duration=$DURATION lb_mode=$LB_MODE http_reuse=${HTTP_REUSE:-default}"
	echo "demo_args=${MODE_ARGS[*]} $DEMO_ARGS"
	echo "jar_sha256=$JAR_SHA... (copy of demo-app/target/graceful-shutdown-demo-app-0.1.0-SNAPSHOT.jar)"
	"$JAVA" -version 2>&1 | sed -n 1p
	haproxy -v | sed -n 1p
	wrk -v 2>&1 | sed -n 1p || true # wrk -v exits 1
} >"$OUT/setup.txt"

start_instance a
start_instance b
wait_ready a
wait_ready b

write_haproxy_cfg
haproxy -c -q -f "$TMP/haproxy.cfg" || die "invalid HAProxy configuration: $OUT/haproxy.cfg"
# stdout = the log stream (log stdout); stderr repeats state changes as warnings. (-q would
# silence both.)
haproxy -db -f "$TMP/haproxy.cfg" >"$OUT/haproxy.log" 2>"$OUT/haproxy-stderr.log" &
HAPROXY_PID=$!
wait_in_rotation a
wait_in_rotation b

WRK_CMD=(wrk -t2 -c32 -d"${DURATION}s" --latency -s "$TMP/status.lua" "http://$HOST:$LB_PORT/hello")
echo "${WRK_CMD[*]}" >>"$OUT/setup.txt"
T0=$(now)
"${WRK_CMD[@]}" >"$OUT/wrk.txt" 2>&1 &
WRK_PID=$!
event "wrk started: ${WRK_CMD[*]}"

sleep_until() { # seconds into the load
	local d
	d=$(awk -v t="$1" -v a="$EPOCHREALTIME" -v b="$T0" 'BEGIN { d = t - (a - b); print (d > 0) ? d : 0 }')
	sleep "$d"
}
elapsed() { awk -v a="$EPOCHREALTIME" -v b="$T0" 'BEGIN { printf "%d", a - b }'; }

RESTARTS=0
sleep_until "$FIRST_RESTART_AT"
restart_instance a
RESTARTS=1
sleep "$PAUSE_BETWEEN"
# b's cut-over (readiness flip, drain delay, stop accepting) must happen under load: only if
# at least drain delay + 3 s of load are left.
drain_s=$(awk -v d="$DRAIN_LABEL" 'BEGIN { v = d + 0; if (d ~ /ms$/) v /= 1000; print int(v + 0.999) }')
if (($(elapsed) + drain_s + 3 <= DURATION)); then
	restart_instance b
	RESTARTS=2
else
	event "not restarting b: only $((DURATION - $(elapsed)))s of load left (needs drain delay + 3s); pass a longer duration"
fi

rc=0
wait "$WRK_PID" || rc=$?
WRK_PID=
event "wrk reaped (exit status $rc; it ran for its duration, see wrk.txt)"
((rc == 0)) || { cat "$OUT/wrk.txt" >&2; die "wrk failed"; }
curl -s --max-time 2 "http://$HOST:$STATS_PORT/stats;csv" >"$OUT/haproxy-stats.csv" || true

# ---------------------------------------------------------------- result
W=$OUT/wrk.txt
requests=$(awk '/ requests in / { print $1; exit }' "$W")
# wrk prints the duration as 50.07s, 1.33m or 1.02h: in seconds here.
duration=$(awk '/ requests in / { d = $4; sub(/,$/, "", d); f = 1
	if (d ~ /ms$/) f = 0.001; else if (d ~ /m$/) f = 60; else if (d ~ /h$/) f = 3600
	printf "%.2f", (d + 0) * f; exit }' "$W")
non2xx=$(awk -F': *' '/Non-2xx or 3xx responses/ { print $2; exit }' "$W")
read -r s_connect s_read s_write s_timeout < <(
	awk '/Socket errors:/ { gsub(/,/, ""); print $4, $6, $8, $10; exit }' "$W"
) || true # no such line when there was no socket error
RESULT="RESULT mode=$MODE drain_delay=$DRAIN_LABEL requests=${requests:-?} non2xx=${non2xx:-0} socket_errors_connect=${s_connect:-0} read=${s_read:-0} write=${s_write:-0} timeout=${s_timeout:-0} duration=${duration:-?} restarts=$RESTARTS$([[ $LB_MODE == http ]] || echo " lb=$LB_MODE")$([[ -z $HTTP_REUSE ]] || echo " http_reuse=$HTTP_REUSE")"

# Stop the remaining instances gracefully now, so their logs end with the shutdown summary.
for name in a b; do
	stop_jvm "${PID[$name]}" "$EXIT_TIMEOUT"
	PID[$name]=
done
kill -TERM "$HAPROXY_PID" 2>/dev/null || true
wait "$HAPROXY_PID" 2>/dev/null || true
HAPROXY_PID=

echo "$RESULT" >"$OUT/result.txt"
grep '^STATUS ' "$W" >>"$OUT/result.txt" || true
cat "$W"
echo
echo "--- events ($OUT/events.log)"
cat "$OUT/events.log"
# Failed requests as HAProxy logged them (option dontlog-normal: only failures are logged), by
# server, status and termination state (e.g. SC = server refused the connection, SH = server
# closed before sending headers, SD = closed during data, <NOSRV>/SC = no server available).
# wrk opens one connection and closes it before the run to check the target: that is the
# single "fe/<NOSRV> 400 CR--" line, not a failure.
# In tcp mode a line is a failed connection (server, termination state).
echo "--- HAProxy: failed requests by server, status, termination state (first, last) ($OUT/haproxy.log)"
awk -v http="$([[ $LB_MODE == http ]] && echo 1 || echo 0)" '$4 == "fe" && NF >= 8 {
	k = http ? $5 " " $7 " " $11 : $5 " " $8; n[k]++; t = substr($3, 14, 12)
	if (!(k in first)) first[k] = t; last[k] = t
} END { for (k in n) printf "  %6d  %s  (%s .. %s)\n", n[k], k, first[k], last[k] }' "$OUT/haproxy.log" | sort -k2
echo "--- HAProxy state changes (the last ones are the teardown after the load)"
grep -h 'is DOWN\|is UP' "$OUT/haproxy.log" | sed 's/^/  /' || true
echo "$RESULT"
