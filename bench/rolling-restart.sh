#!/usr/bin/env bash
# Rolling restart of a 2-replica deployment of the demo app behind HAProxy, under wrk load.
#
#   bench/rolling-restart.sh starter  [DURATION_S]  # our starter, drain-delay $DRAIN_DELAY (default 3s)
#   bench/rolling-restart.sh boot     [DURATION_S]  # --graceful-shutdown.enabled=false: plain Spring Boot 4.1
#   bench/rolling-restart.sh defaults [DURATION_S]  # our starter with no drain-delay argument at all:
#                                                   # the default for $PLATFORM applies
#   bench/rolling-restart.sh compare  [DURATION_S]  # one invocation, two runs on "Kubernetes":
#                                                   # defaults, then boot (default 60 s each)
#
# compare is issue 15's figure: what a user gets who never sets graceful-shutdown.drain-delay,
# on Kubernetes, against Spring Boot alone. Both runs see the platform as Kubernetes
# (PLATFORM=kubernetes, below), so the starter's drain delay is its Kubernetes default, 5 s,
# and every starter instance's startup budget line must say so ("drain-delay 5 s (the default
# on Kubernetes)") or the run fails. It prints both RESULT lines and one
#   SUMMARY platform=kubernetes defaults_errors=.. boot_errors=.. ... goal_0_errors_at_defaults=met|missed
# and keeps both runs, a per-second CSV of each and the summary in
# bench/results/<timestamp>-compare/. bench/plot-rolling-restart.sh draws its chart.
#
# What the 5 s default covers, and what it does not. On SIGTERM the starter turns readiness
# 503 at once and keeps serving for the drain delay; only then does Tomcat stop accepting.
# The delay has to outlast the time until nothing routes new requests to the pod any more:
#   - On Kubernetes, a pod that is being deleted (a rolling update, a scale-down, a drain)
#     leaves the Service's endpoints because it is Terminating, not because its readiness
#     probe failed: the EndpointSlice marks it not ready as soon as the deletion starts, at
#     the same moment the kubelet runs preStop and sends SIGTERM. What the delay must cover
#     is that update reaching every kube-proxy (iptables/IPVS rules on every node) and every
#     ingress controller or service mesh: typically well under a second to 2-3 s, and 5 s
#     leaves a margin. HAProxy's 500 ms health check here stands in for that propagation:
#     it stops routing to an instance within ~0.5-1 s of the 503.
#   - Not covered: a load balancer that only learns of the termination from the readiness
#     probe or from its own health checks (kube's default readiness probe, periodSeconds 10
#     x failureThreshold 3, takes up to 30 s to fail; a cloud load balancer's target health
#     checks and deregistration are similar), nor a slow control plane in a large cluster.
#     Those need a longer drain-delay (or a preStop sleep) sized to them; 5 s is the
#     default for the common in-cluster path, not a bound for every path.
#   - The readiness probe still matters on its own: it is what keeps a restarted pod out of
#     rotation until it is ready (here: HAProxy's rise 2).
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
#      and keeps wrk's output, HAProxy's log and stats, every instance's log, an event
#      timeline (events.log, and events.csv: t,instance,event) and per-second counts
#      (per-second.csv: t,epoch,requests,errors,lb_failed) in
#      bench/results/<timestamp>-<mode>/ (git-ignored).
#   Every instance's startup budget line is checked against its mode: starter names the
#   drain-delay argument, defaults the platform's default (5 s on Kubernetes, 0 s outside),
#   boot has none (the starter is off). A mismatch fails the run before the load starts.
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
#   PLATFORM [none; kubernetes in compare]  kubernetes: every instance gets the two variables
#                     a Kubernetes pod has, KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT
#                     (127.0.0.1:443 here; nothing in the demo connects to them), from which
#                     Spring Boot detects CloudPlatform.KUBERNETES, and no
#                     SPRING_MAIN_CLOUD_PLATFORM, which would override the detection.
#                     none: the caller's environment as it is.
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
	echo "usage: $0 starter|boot|defaults|compare [DURATION_SECONDS]" >&2
	exit 2
}

MODE=${1:-}
case "$MODE" in starter | boot | defaults) DURATION=${2:-50} ;; compare) DURATION=${2:-60} ;; *) usage ;; esac
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

# ---------------------------------------------------------------- compare
# Two runs of this same script, one after the other, on the same ports. Each child has its
# own cleanup; this shell only starts them, forwards a Ctrl-C or SIGTERM, and sums up.
if [[ $MODE == compare ]]; then
	COMPARE_OUT=$BENCH_DIR/results/$(date +%Y%m%d-%H%M%S)-compare
	mkdir -p "$COMPARE_OUT"
	CHILD=
	stop_child() {
		[[ -n $CHILD ]] && kill -TERM "$CHILD" 2>/dev/null && wait "$CHILD" 2>/dev/null
		exit "$1"
	}
	trap 'log "interrupted"; stop_child 130' INT
	trap 'log "terminated"; stop_child 143' TERM
	log "compare: the starter at its defaults, then Spring Boot alone, both with the platform detected as Kubernetes, ${DURATION}s of load each; results in $COMPARE_OUT"
	for m in defaults boot; do
		# A run's progress goes to the terminal (stderr), its report to $m.out.
		PLATFORM=kubernetes RUN_DIR=$COMPARE_OUT/$m bash "$BENCH_DIR/rolling-restart.sh" "$m" "$DURATION" \
			>"$COMPARE_OUT/$m.out" &
		CHILD=$!
		rc=0
		wait "$CHILD" || rc=$?
		CHILD=
		((rc == 0)) || { tail -n 30 "$COMPARE_OUT/$m.out" >&2; die "the $m run failed (status $rc): $COMPARE_OUT/$m.out"; }
		sed -n '/^--- HAProxy: failed/,/^--- HAProxy state/p' "$COMPARE_OUT/$m.out" | sed '$d' >&2
	done
	# errors = what the client saw fail: wrk's non-2xx answers plus its socket errors.
	field() { tr ' ' '\n' <"$COMPARE_OUT/$1/result.txt" | sed -n "s/^$2=//p" | head -n 1; }
	errors() { echo $(($(field "$1" non2xx) + $(field "$1" socket_errors_connect) + $(field "$1" read) + $(field "$1" write) + $(field "$1" timeout))); }
	d_err=$(errors defaults) b_err=$(errors boot)
	d_restarts=$(field defaults restarts) b_restarts=$(field boot restarts)
	if ((d_restarts < 2 || b_restarts < 2)); then
		goal="not_measured(restarts=$d_restarts/$b_restarts; pass a longer duration)"
	elif ((d_err == 0)); then goal=met; else goal=missed; fi
	SUMMARY="SUMMARY platform=kubernetes duration=$DURATION defaults_drain_delay=$(field defaults drain_delay) defaults_errors=$d_err defaults_requests=$(field defaults requests) boot_errors=$b_err boot_requests=$(field boot requests) restarts=$d_restarts/$b_restarts goal_0_errors_at_defaults=$goal"
	{
		sed -n 1p "$COMPARE_OUT/defaults/result.txt"
		sed -n 1p "$COMPARE_OUT/boot/result.txt"
		echo "$SUMMARY"
	} | tee "$COMPARE_OUT/summary.txt"
	log "chart: bench/plot-rolling-restart.sh ${COMPARE_OUT#"$ROOT"/}"
	exit 0
fi

PLATFORM=${PLATFORM-}
[[ $MODE == defaults ]] && PLATFORM=${PLATFORM:-none}
case $PLATFORM in
kubernetes)
	# What a pod has: the API server's address. Spring Boot's CloudPlatform.KUBERNETES is
	# detected from these two; SPRING_MAIN_CLOUD_PLATFORM would override the detection.
	INSTANCE_ENV=(-u SPRING_MAIN_CLOUD_PLATFORM KUBERNETES_SERVICE_HOST=127.0.0.1 KUBERNETES_SERVICE_PORT=443) ;;
none) INSTANCE_ENV=(-u KUBERNETES_SERVICE_HOST -u KUBERNETES_SERVICE_PORT SPRING_MAIN_CLOUD_PLATFORM=none) ;;
'') INSTANCE_ENV=() ;;
*) echo "PLATFORM must be kubernetes, none or unset" >&2; exit 2 ;;
esac

# BUDGET_EXPECT: what every instance's startup budget line must contain (empty: there must
# be no such line, the starter is off).
BUDGET_PREFIX='Graceful shutdown budget: '
case $MODE in
starter)
	MODE_ARGS=(--graceful-shutdown.drain-delay="$DRAIN_DELAY")
	DRAIN_LABEL=$DRAIN_DELAY
	BUDGET_EXPECT="(graceful-shutdown.drain-delay in" ;;
defaults)
	# No drain-delay argument at all, so the platform's default is what is measured.
	MODE_ARGS=()
	if [[ $PLATFORM == kubernetes ]]; then
		DRAIN_LABEL=5s
		BUDGET_EXPECT="${BUDGET_PREFIX}drain-delay 5 s (the default on Kubernetes)"
	else
		DRAIN_LABEL=0s
		BUDGET_EXPECT="${BUDGET_PREFIX}drain-delay 0 s (the default outside Kubernetes)"
	fi ;;
boot)
	# Disabled, the starter keeps only its injectable API (ShutdownToken, JobRegistry):
	# no coordinator, no filter, no drain. The HTTP path is Spring Boot's own.
	MODE_ARGS=(--graceful-shutdown.enabled=false)
	DRAIN_LABEL=0s
	BUDGET_EXPECT= ;;
esac


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

OUT=${RUN_DIR:-$BENCH_DIR/results/$(date +%Y%m%d-%H%M%S)-$MODE}
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
	env "${INSTANCE_ENV[@]}" "$JAVA" $JAVA_OPTS -jar "$JAR" --server.address=$HOST --server.port="$port" \
		--demo.journal="$OUT/journal-$tag.log" "${MODE_ARGS[@]}" $DEMO_ARGS \
		>"$OUT/instance-$tag.log" 2>&1 &
	PID[$name]=$!
	event "$name started (pid ${PID[$name]}, port $port, log instance-$tag.log)"
}

wait_ready() {
	local name=$1 port=${PORT[$1]} start=$SECONDS
	await_readiness "${PID[$name]}" "$port" "$OUT/instance-$name-${GEN[$name]}.log" "instance $name (port $port)" "$READY_TIMEOUT"
	event "$name readiness 200 ($((SECONDS - start))s after start)"
	check_budget "$name" "$OUT/instance-$name-${GEN[$name]}.log"
}

# The instance logged its budget at start, before readiness: a wrong drain delay (the
# platform not detected, a stray property) would make the whole run measure something else.
check_budget() {
	local name=$1 logfile=$2 line
	line=$(grep -F "$BUDGET_PREFIX" "$logfile" | head -n 1 || true)
	if [[ -z $BUDGET_EXPECT ]]; then
		[[ -z $line ]] || die "instance $name ($MODE mode) must not log a budget line, but: $line"
	else
		[[ $line == *"$BUDGET_EXPECT"* ]] ||
			die "instance $name ($MODE mode, platform ${PLATFORM:-as is}): the budget line should contain '$BUDGET_EXPECT' but is: ${line:-(none) in $logfile}"
		event "$name budget: ${line#*"$BUDGET_PREFIX"}"
	fi
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
-- Also counts responses, and those with a status >= 400 (what wrk reports as "Non-2xx or
-- 3xx responses"), per wall-clock second, written to $PER_SECOND_FILE as
-- "epoch_second responses errors" lines. A response is counted in the second it arrived.
local threads = {}
local clock = os.time
function setup(thread) table.insert(threads, thread) end
function init(args) statuses = {}; per_second = {}; errors_per_second = {} end
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  local s = clock()
  per_second[s] = (per_second[s] or 0) + 1
  if status > 399 then errors_per_second[s] = (errors_per_second[s] or 0) + 1 end
end
function done(summary, latency, requests)
  local total, seconds, errors = {}, {}, {}
  for _, t in ipairs(threads) do
    for code, n in pairs(t:get("statuses")) do total[code] = (total[code] or 0) + n end
    for s, n in pairs(t:get("per_second")) do seconds[s] = (seconds[s] or 0) + n end
    for s, n in pairs(t:get("errors_per_second")) do errors[s] = (errors[s] or 0) + n end
  end
  local codes = {}
  for code in pairs(total) do table.insert(codes, code) end
  table.sort(codes)
  local parts = {}
  for _, code in ipairs(codes) do table.insert(parts, code .. "=" .. total[code]) end
  print("STATUS " .. table.concat(parts, " "))
  local path = os.getenv("PER_SECOND_FILE")
  if path then
    local keys = {}
    for s in pairs(seconds) do table.insert(keys, s) end
    table.sort(keys)
    local f = assert(io.open(path, "w"))
    for _, s in ipairs(keys) do f:write(s, " ", seconds[s], " ", errors[s] or 0, "\n") end
    f:close()
  end
end
EOF

# Per-second counts for the chart, from t=0 (the second the load started in) to the last
# second wrk saw a response in: t,epoch,requests,errors,lb_failed, where requests and errors
# are wrk's (responses; status >= 400) and lb_failed is the failed requests (http) or
# connections (tcp) HAProxy logged in that second, by its log time, without the client's own
# closes (termination state C*: wrk's probe connection before the run, its teardown after).
# The load starts on a whole second, so second t covers [t, t+1) s after the start.
write_per_second() {
	local t0_s=${T0%.*}
	awk -v t0="$t0_s" -v http="$([[ $LB_MODE == http ]] && echo 1 || echo 0)" '
	function days(y, m, d) { # days since 1970-01-01 of a Gregorian date (Hinnant)
		y -= (m <= 2); era = int(y / 400); yoe = y - era * 400
		doy = int((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1
		return era * 146097 + yoe * 365 + int(yoe / 4) - int(yoe / 100) + doy - 719468
	}
	FILENAME == ARGV[1] { req[$1] = $2; err[$1] = $3; if ($1 > last) last = $1; next }
	$4 == "fe" && NF >= 8 && (http ? $11 : $8) !~ /^C/ {
		# 2026-12-02T15:01:09.345304+00:00
		ts = $1; off = substr(ts, length(ts) - 5)
		e = days(substr(ts, 1, 4) + 0, substr(ts, 6, 2) + 0, substr(ts, 9, 2) + 0) * 86400 \
			+ substr(ts, 12, 2) * 3600 + substr(ts, 15, 2) * 60 + int(substr(ts, 18, 2))
		e -= (substr(off, 1, 1) == "-" ? -1 : 1) * (substr(off, 2, 2) * 3600 + substr(off, 5, 2) * 60)
		lb[e]++
	}
	END {
		print "t,epoch,requests,errors,lb_failed"
		for (s = t0; s <= last; s++) printf "%d,%d,%d,%d,%d\n", s - t0, s, req[s] + 0, err[s] + 0, lb[s] + 0
	}' "$OUT/wrk-per-second.txt" "$OUT/haproxy.log" >"$OUT/per-second.csv"
}

# The timeline as CSV for the chart: t,instance,event with event one of started, ready
# (readiness 200), up (in rotation in HAProxy), sigterm, exited.
write_events_csv() {
	awk '{ t = substr($1, 3); name = $3; ev = "" }
		/ started \(pid/ { ev = "started" } / readiness 200 / { ev = "ready" } / UP in HAProxy$/ { ev = "up" }
		/ SIGTERM \(pid/ { ev = "sigterm" } / exited with status / { ev = "exited" }
		BEGIN { print "t,instance,event" }
		t != "pre" && ev != "" && (name == "a" || name == "b") { printf "%.2f,%s,%s\n", t, name, ev }' \
		"$OUT/events.log" >"$OUT/events.csv"
}

# ---------------------------------------------------------------- run
log "mode=$MODE drain_delay=$DRAIN_LABEL platform=${PLATFORM:-as is} duration=${DURATION}s results in $OUT"
{
	echo "mode=$MODE drain_delay=$DRAIN_LABEL duration=$DURATION lb_mode=$LB_MODE http_reuse=${HTTP_REUSE:-default}"
	echo "demo_args=${MODE_ARGS[*]} $DEMO_ARGS"
	echo "platform=${PLATFORM:-as is} instance_env=${INSTANCE_ENV[*]}"
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
# Start on a whole second, so that the per-second buckets (wall-clock seconds, which is all
# wrk's Lua has) line up with seconds since the start.
sleep "$(awk -v a="$EPOCHREALTIME" 'BEGIN { printf "%.3f", 1 - (a - int(a)) }')"
T0=$(now)
PER_SECOND_FILE=$OUT/wrk-per-second.txt "${WRK_CMD[@]}" >"$OUT/wrk.txt" 2>&1 &
WRK_PID=$!
echo "t0_epoch=$T0" >>"$OUT/setup.txt"
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
RESULT="RESULT mode=$MODE drain_delay=$DRAIN_LABEL requests=${requests:-?} non2xx=${non2xx:-0} socket_errors_connect=${s_connect:-0} read=${s_read:-0} write=${s_write:-0} timeout=${s_timeout:-0} duration=${duration:-?} restarts=$RESTARTS$([[ -z $PLATFORM ]] || echo " platform=$PLATFORM")$([[ $LB_MODE == http ]] || echo " lb=$LB_MODE")$([[ -z $HTTP_REUSE ]] || echo " http_reuse=$HTTP_REUSE")"

# Stop the remaining instances gracefully now, so their logs end with the shutdown summary.
for name in a b; do
	stop_jvm "${PID[$name]}" "$EXIT_TIMEOUT"
	PID[$name]=
done
kill -TERM "$HAPROXY_PID" 2>/dev/null || true
wait "$HAPROXY_PID" 2>/dev/null || true
HAPROXY_PID=

write_per_second
write_events_csv
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
