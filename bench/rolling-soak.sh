#!/usr/bin/env bash
# Rolling soak: two instances of the demo app behind HAProxy, under steady load, and N
# cycles, each of which SIGTERMs one of them at a random moment, waits for it to exit,
# starts it again and waits until it is ready and back in rotation; the instances take
# turns. The load balancer always has an instance to send to, so every request must be
# answered 2xx, and every unit of work that started (requests, jobs, imports, @Async and
# @Scheduled work, as the demo's journal records them) must have its end.
#
#   bench/rolling-soak.sh [CYCLES]             (default 100 cycles per setup)
#   SETUPS=starter bench/rolling-soak.sh 20
#
# Setups (SETUPS, default "starter boot", run one after the other with the same cycles):
#   starter  the demo app as shipped, with --graceful-shutdown.drain-delay=$DRAIN_DELAY
#            (default 1s: longer than HAProxy needs to see readiness 503, at most one
#            100 ms check interval plus one check)
#   boot     --graceful-shutdown.enabled=false: Spring Boot's own graceful shutdown,
#            for the side-by-side figure
#
# Topology, 127.0.0.1 only: instances a (:18101) and b (:18102); HAProxy on :18100,
# round-robin in HTTP mode, health-checking /actuator/health/readiness every 100 ms
# (fall 1, rise 2), `retries 0` and no redispatch (kube-proxy never retries), keep-alive
# to the backends with HAProxy's default http-reuse (HTTP_REUSE to change it); its stats
# page on :18109 tells when a server is UP.
#
# One cycle: wrk starts, `-t1 -c$HELLO_CONNECTIONS` on GET /hello and `-t1 -c4` on
# GET /slow?ms=300 (a journaled unit per request), through HAProxy, with the status of
# every response counted (status-count.lua); the victim gets 3 imports and 3 @Async
# notifications; 0.5-3.5 s (random) into the load it gets SIGTERM; once it has exited it
# is started again, and once it answers readiness 200 and HAProxy has marked it UP, wrk
# is stopped (SIGINT: it prints its report) and the cycle is checked:
#   - every response 2xx: wrk's status counts; no socket error (connect, read, write,
#     timeout) on the way to HAProxy, which never goes away;
#   - the victim's journal: every START has its END (a CUT, or a START with no line
#     after it, is a lost unit);
#   - starter only: its summary line says COMPLETED.
# At the end of a setup both instances are stopped the same way and their journals
# checked too, so every journal of every generation is.
#
# Prints one line per cycle, then per setup one line
#   RESULT setup=starter cycles=.. failed_cycles=.. requests=.. non2xx=.. conn_errors=..
#          units_started=.. units_ended=.. units_cut=.. completed=../.. max_exit_s=..
#          mean_cycle_s=..
# and a side-by-side table of the setups. Exits 1 if a starter cycle failed (boot's
# losses are the comparison, not a failure of this script). Everything is kept in
# bench/results/<timestamp>-rolling-soak/<setup>/ (git-ignored): cycle-N/ with wrk's
# output, the HAProxy log of the cycle's failures, and the instance logs and journals.
#
# Fails at once, with the end of the log, if an instance exits before it is ready or is
# not ready within READY_TIMEOUT seconds (120), if HAProxy does not mark it UP within
# 30 s, or if one of the ports is busy. HAProxy and wrk are installed from Debian's
# packages if missing (needs root). Every process it started is stopped on exit, Ctrl-C
# or SIGTERM. A cycle takes about 15-25 s on the 2-core machine, most of it the JVM start
# under load: 100 cycles of both setups, about 1 hour.
#
# Environment (defaults in brackets): SETUPS [starter boot], DRAIN_DELAY [1s],
# HELLO_CONNECTIONS [2], HTTP_REUSE [HAProxy's default], LB_PORT [18100], A_PORT [18101],
# B_PORT [18102], STATS_PORT [18109], EXIT_TIMEOUT [60] (s after SIGTERM before SIGKILL),
# JAVA_HOME, JAVA_OPTS, APP_ARGS (more demo-app arguments, both setups).
set -euo pipefail

CYCLES=${1:-100}
[[ $CYCLES =~ ^[0-9]+$ ]] && ((CYCLES >= 1)) || { echo "usage: $0 [CYCLES>=1]" >&2; exit 2; }
SETUPS=${SETUPS:-starter boot}
DRAIN_DELAY=${DRAIN_DELAY:-1s}
HELLO_CONNECTIONS=${HELLO_CONNECTIONS:-2}
HTTP_REUSE=${HTTP_REUSE:-}
LB_PORT=${LB_PORT:-18100}
A_PORT=${A_PORT:-18101}
B_PORT=${B_PORT:-18102}
STATS_PORT=${STATS_PORT:-18109}
EXIT_TIMEOUT=${EXIT_TIMEOUT:-60}
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
for setup in $SETUPS; do
	[[ $setup == starter || $setup == boot ]] || { echo "SETUPS: starter and/or boot, not '$setup'" >&2; exit 2; }
done

# ---------------------------------------------------------------- prerequisites
if ! command -v haproxy >/dev/null || ! command -v wrk >/dev/null; then
	log "installing haproxy and wrk from Debian packages"
	[[ $(id -u) == 0 ]] || die "haproxy/wrk missing and not root: apt-get install -y haproxy wrk"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy wrk >/dev/null
fi
for tool in "$JAVA" curl ss awk; do command -v "$tool" >/dev/null || die "$tool not found"; done
ensure_jar
for p in "$LB_PORT" "$A_PORT" "$B_PORT" "$STATS_PORT"; do require_free_port "$p"; done

ROOT_OUT=$BENCH_DIR/results/$(date +%Y%m%d-%H%M%S)-rolling-soak
mkdir -p "$ROOT_OUT"
TMP=$(mktemp -d /tmp/rolling-soak.XXXXXX)
copy_jar "$TMP"

# ---------------------------------------------------------------- processes and cleanup
declare -A PID=() GEN=() PORT=([a]=$A_PORT [b]=$B_PORT)
HAPROXY_PID=
WRK_PIDS=()
CLEANED=

# SIGTERM, then wait for the exit (SIGKILL after $2 s); sets STOP_RC and STOP_S (seconds
# from SIGTERM to exit). Not in a subshell: only this shell can reap its children.
STOP_RC=
STOP_S=
stop_jvm() {
	local pid=$1 limit=$2 t0=${EPOCHREALTIME/./} rc=0
	kill -TERM "$pid" 2>/dev/null || true
	while kill -0 "$pid" 2>/dev/null; do
		[[ $(ps -o stat= -p "$pid" 2>/dev/null) == Z* ]] && break
		if ((${EPOCHREALTIME/./} - t0 >= limit * 1000000)); then
			log "pid $pid still running ${limit} s after SIGTERM: SIGKILL"
			kill -KILL "$pid" 2>/dev/null || true
			break
		fi
		sleep 0.02
	done
	wait "$pid" 2>/dev/null || rc=$?
	STOP_RC=$rc
	STOP_S=$(awk -v us="$((${EPOCHREALTIME/./} - t0))" 'BEGIN { printf "%.2f", us / 1e6 }')
}

stop_wrk() {
	local p
	for p in "${WRK_PIDS[@]}"; do kill -INT "$p" 2>/dev/null || true; done
	for p in "${WRK_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	WRK_PIDS=()
}

stop_haproxy() {
	if [[ -n $HAPROXY_PID ]]; then
		kill -TERM "$HAPROXY_PID" 2>/dev/null || true
		wait "$HAPROXY_PID" 2>/dev/null || true
		HAPROXY_PID=
	fi
}

cleanup() {
	[[ -n $CLEANED ]] && return
	CLEANED=1
	set +e
	stop_wrk
	local name
	for name in "${!PID[@]}"; do
		[[ -n ${PID[$name]} ]] && kill -0 "${PID[$name]}" 2>/dev/null && stop_jvm "${PID[$name]}" 15
	done
	stop_haproxy
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'log "interrupted"; cleanup; exit 130' INT
trap 'log "terminated"; cleanup; exit 143' TERM

# ---------------------------------------------------------------- instances
DEMO_ARGS=(--demo.light.unit=700ms --demo.heavy.unit=2500ms --demo.async.unit=1s --demo.scheduled.delay=700ms
	--demo.scheduled.unit=500ms --demo.scheduled.initial-delay=0s --demo.import.row=50ms
	--spring.lifecycle.timeout-per-shutdown-phase=20s)

start_instance() {
	local name=$1 port=${PORT[$1]}
	GEN[$name]=$((${GEN[$name]:-0} + 1))
	local tag=$name-${GEN[$name]}
	[[ -z $(ss -Hltn "sport = :$port") ]] || die "port $port is busy, cannot start instance $name"
	# shellcheck disable=SC2086 # JAVA_OPTS and APP_ARGS are word lists
	"$JAVA" $JAVA_OPTS -jar "$TMP/demo-app.jar" --server.address=$HOST --server.port="$port" \
		--demo.journal="$OUT/journal-$tag.log" "${DEMO_ARGS[@]}" "${MODE_ARGS[@]}" ${APP_ARGS:-} \
		>"$OUT/instance-$tag.log" 2>&1 &
	PID[$name]=$!
}

lb_status() {
	curl -s --max-time 1 "http://$HOST:$STATS_PORT/stats;csv" | awk -F, -v s="$1" '$1 == "app" && $2 == s { print $18 }'
}

# Readiness 200, then HAProxy's UP (rise 2: two good checks).
wait_serving() {
	local name=$1 start=$SECONDS
	await_readiness "${PID[$name]}" "${PORT[$name]}" "$OUT/instance-$name-${GEN[$name]}.log" "instance $name"
	until [[ $(lb_status "$name") == UP ]]; do
		((SECONDS - start < READY_TIMEOUT + 30)) || die "HAProxy did not mark $name UP (status: $(lb_status "$name"))"
		sleep 0.05
	done
}

# journal_check FILE: prints "started ended cut" for one journal. A unit is its job and
# id; it ended if an END line has them.
journal_check() {
	awk '$1 == "START" { s[$2 " " $3] = 1; n++ } $1 == "END" { if ($2 " " $3 in s) e++ } $1 == "CUT" { c++ }
		END { printf "%d %d %d\n", n, e, c }' "$1" 2>/dev/null || echo "0 0 0"
}

write_haproxy_cfg() {
	cat >"$OUT/haproxy.cfg" <<EOF
global
    log stdout format iso local0 info
    maxconn 2000
defaults
    mode http
    log global
    option httplog
    # Only failures are logged: 5xx answers, server connection errors, aborts.
    option dontlog-normal
    option log-health-checks
    option http-keep-alive
    # No retry, no redispatch: a failed server connection is the client's, as with kube-proxy.
    retries 0
    timeout connect 1s
    timeout client 30s
    timeout server 30s
    timeout http-keep-alive 10s
    timeout check 1s
frontend fe
    bind $HOST:$LB_PORT
    default_backend app
backend app
    balance roundrobin
$([[ -n $HTTP_REUSE ]] && echo "    http-reuse $HTTP_REUSE" || echo "    # http-reuse: HAProxy's default (safe)")
    option httpchk GET /actuator/health/readiness
    http-check expect status 200
    default-server inter 100 fastinter 100 downinter 100 fall 1 rise 2
    server a $HOST:$A_PORT check
    server b $HOST:$B_PORT check
listen stats
    bind $HOST:$STATS_PORT
    mode http
    stats enable
    stats uri /stats
    stats refresh 0
EOF
}

# wrk_counts FILE: "requests non2xx connect read write timeout" of one wrk report.
wrk_counts() {
	awk '/ requests in / { r = $1 }
		$1 == "status" && ($2 < 200 || $2 > 299) { bad += $3 }
		/Socket errors:/ { gsub(/,/, ""); c = $4; rd = $6; w = $8; t = $10 }
		END { printf "%d %d %d %d %d %d\n", r, bad, c, rd, w, t }' "$1"
}

# ---------------------------------------------------------------- one setup
declare -A SUMMARY=()
run_setup() {
	local setup=$1
	OUT=$ROOT_OUT/$setup
	mkdir -p "$OUT"
	if [[ $setup == starter ]]; then
		MODE_ARGS=(--graceful-shutdown.drain-delay="$DRAIN_DELAY")
	else
		MODE_ARGS=(--graceful-shutdown.enabled=false)
	fi
	GEN=()
	{
		echo "setup=$setup cycles=$CYCLES args=${MODE_ARGS[*]} ${DEMO_ARGS[*]} ${APP_ARGS:-}"
		echo "http_reuse=${HTTP_REUSE:-default} hello_connections=$HELLO_CONNECTIONS"
		echo "jar_sha256=$(sha256sum "$TMP/demo-app.jar" | cut -c1-16)..."
		"$JAVA" -version 2>&1 | sed -n 1p
		haproxy -v | sed -n 1p
		echo "nproc=$(nproc) load before: $(cut -d' ' -f1-3 /proc/loadavg)"
	} >"$OUT/setup.txt"
	log "$setup: starting a and b; results in $OUT"
	start_instance a
	start_instance b
	write_haproxy_cfg
	haproxy -c -q -f "$OUT/haproxy.cfg" || die "invalid HAProxy configuration: $OUT/haproxy.cfg"
	haproxy -db -f "$OUT/haproxy.cfg" >"$OUT/haproxy.log" 2>"$OUT/haproxy-stderr.log" &
	HAPROXY_PID=$!
	wait_serving a
	wait_serving b

	local n victim dir t_cycle requests=0 non2xx=0 conn=0 started=0 ended=0 cut=0 failed=0 completed=0 max_exit=0 cycle_s_sum=0
	for ((n = 1; n <= CYCLES; n++)); do
		if ((n % 2)); then victim=a; else victim=b; fi
		dir=$OUT/cycle-$n
		mkdir -p "$dir"
		t_cycle=$EPOCHREALTIME
		[[ $(lb_status a) == UP && $(lb_status b) == UP ]] || die "cycle $n: not both instances UP before the SIGTERM"
		local lb_lines
		lb_lines=$(wc -l <"$OUT/haproxy.log")
		wrk -t1 -c"$HELLO_CONNECTIONS" -d3600s --timeout 10s -s "$BENCH_DIR/status-count.lua" "http://$HOST:$LB_PORT/hello" >"$dir/wrk-hello.txt" 2>&1 &
		WRK_PIDS=($!)
		wrk -t1 -c4 -d3600s --timeout 10s -s "$BENCH_DIR/status-count.lua" "http://$HOST:$LB_PORT/slow?ms=300" >"$dir/wrk-slow.txt" 2>&1 &
		WRK_PIDS+=($!)
		curl -fs -X POST "http://$HOST:${PORT[$victim]}/imports?rows=30&count=3" >/dev/null || true
		curl -fs -X POST "http://$HOST:${PORT[$victim]}/notify?count=3" >/dev/null || true
		sleep "$(awk -v s="$RANDOM" 'BEGIN { printf "%.3f", 0.5 + (s % 3000) / 1000 }')"
		local gen=${GEN[$victim]}
		stop_jvm "${PID[$victim]}" "$EXIT_TIMEOUT"
		local exit_rc=$STOP_RC exit_s=$STOP_S
		mv "$OUT/instance-$victim-$gen.log" "$OUT/journal-$victim-$gen.log" "$dir/" 2>/dev/null || true
		start_instance "$victim"
		wait_serving "$victim"
		stop_wrk
		sed -n "$((lb_lines + 1)),\$p" "$OUT/haproxy.log" >"$dir/haproxy.log"

		local r=0 b=0 c=0 w s=0 e=0 u=0 req bad con rd wr to summary status=ok
		for w in "$dir"/wrk-*.txt; do
			read -r req bad con rd wr to < <(wrk_counts "$w")
			r=$((r + req)); b=$((b + bad)); c=$((c + con + rd + wr + to))
		done
		read -r s e u < <(journal_check "$dir/journal-$victim-$gen.log")
		summary=$(grep -o 'Graceful shutdown [A-Z_]* in [0-9.]* s' "$dir/instance-$victim-$gen.log" || echo "no summary")
		if ((b > 0 || c > 0 || e < s)) || [[ $setup == starter && $summary != *COMPLETED* ]]; then
			status=FAIL
			failed=$((failed + 1))
		fi
		[[ $summary == *COMPLETED* ]] && completed=$((completed + 1))
		requests=$((requests + r)); non2xx=$((non2xx + b)); conn=$((conn + c))
		started=$((started + s)); ended=$((ended + e)); cut=$((cut + u))
		max_exit=$(awk -v a="$exit_s" -v m="$max_exit" 'BEGIN { print (a > m) ? a : m }')
		local cycle_s
		cycle_s=$(awk -v a="$EPOCHREALTIME" -v b="$t_cycle" 'BEGIN { printf "%.1f", a - b }')
		cycle_s_sum=$(awk -v a="$cycle_s_sum" -v c="$cycle_s" 'BEGIN { print a + c }')
		local statuses
		statuses=$(awk '$1 == "status" { n[$2] += $3 } END { for (k in n) printf "%s%s=%d", (c++ ? "," : ""), k, n[k] }' "$dir"/wrk-*.txt)
		echo "$setup cycle $n ($victim): $status requests=$r non2xx=$b conn_errors=$c statuses=${statuses:-none} units=$e/$s cut=$u exit=${exit_s}s rc=$exit_rc cycle=${cycle_s}s ($summary)" |
			tee -a "$OUT/cycles.txt"
	done

	# The survivors' journals, after a graceful stop of both.
	local name gen s e u
	for name in a b; do
		gen=${GEN[$name]}
		stop_jvm "${PID[$name]}" "$EXIT_TIMEOUT"
		PID[$name]=
		read -r s e u < <(journal_check "$OUT/journal-$name-$gen.log")
		started=$((started + s)); ended=$((ended + e)); cut=$((cut + u))
		echo "$setup final stop of $name-$gen: units=$e/$s cut=$u exit=${STOP_S}s rc=$STOP_RC" | tee -a "$OUT/cycles.txt"
		((e < s)) && [[ $setup == starter ]] && failed=$((failed + 1))
	done
	stop_haproxy
	echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/setup.txt"
	local mean
	mean=$(awk -v s="$cycle_s_sum" -v n="$CYCLES" 'BEGIN { printf "%.1f", s / n }')
	SUMMARY[$setup]="$CYCLES $failed $requests $non2xx $conn $started $ended $cut $completed $max_exit $mean"
	echo "RESULT setup=$setup cycles=$CYCLES failed_cycles=$failed requests=$requests non2xx=$non2xx conn_errors=$conn units_started=$started units_ended=$ended units_cut=$cut completed=$completed/$CYCLES max_exit_s=$max_exit mean_cycle_s=$mean$([[ $setup == starter ]] && echo " drain_delay=$DRAIN_DELAY")" |
		tee "$OUT/result.txt"
}

for setup in $SETUPS; do run_setup "$setup"; done

{
	echo
	echo "side by side ($CYCLES cycles each; units: ended/started, cut = ended with a CUT line)"
	printf '%-8s %7s %10s %7s %11s %13s %5s %10s %10s %12s\n' setup failed requests non2xx conn_errors units cut COMPLETED max_exit_s mean_cycle_s
	for setup in $SETUPS; do
		read -r c f r b e s d u k m a <<<"${SUMMARY[$setup]}"
		printf '%-8s %7s %10s %7s %11s %13s %5s %10s %10s %12s\n' "$setup" "$f/$c" "$r" "$b" "$e" "$d/$s" "$u" "$k/$c" "$m" "$a"
	done
} | tee "$ROOT_OUT/summary.txt"
echo "details in $ROOT_OUT"
starter_failed=0
[[ -n ${SUMMARY[starter]:-} ]] && starter_failed=$(awk '{ print $2 }' <<<"${SUMMARY[starter]}")
((starter_failed == 0))
