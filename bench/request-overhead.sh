#!/usr/bin/env bash
# Request-tracking overhead: throughput of GET /hello with the starter (default) against
# the same demo app with --graceful-shutdown.enabled=false (Spring Boot's own HTTP path,
# no request-counting filter), under wrk.
#
#   bench/request-overhead.sh [ROUNDS]        (default 5 measured rounds per side)
#
# Both instances run at the same time, the starter on :18091 and boot on :18092 (127.0.0.1
# only), so JIT state, heap and background work age alike. Each side first gets one
# warm-up round, then the measured rounds are interleaved in ABBA order (A B, B A, A B, ...)
# so that slow drift in the machine's load (other people's builds on the same 2 cores)
# hits both sides alike. Each round is `wrk -t2 -c16 -d10s http://127.0.0.1:PORT/hello`.
# Note: both JVMs and wrk share the machine's 2 cores; the idle instance only runs the
# demo's background jobs (a few journal lines a second).
#
# Prints one line:
#   RESULT rounds=5 starter_median_rps=... boot_median_rps=... ratio=... paired_ratio_median=...
# and keeps wrk's raw output, the instance logs and setup details in
# bench/results/<timestamp>-request-overhead/ (git-ignored).
#
# Environment: JAVA_HOME (default: java on PATH), JAVA_OPTS (extra JVM options),
# WARMUP [1] (unmeasured rounds per side), BOOT_ARGS [--graceful-shutdown.enabled=false], DURATION [10s], THREADS [2], CONNECTIONS [16], STARTER_PORT [18091], BOOT_PORT [18092].
set -euo pipefail

ROUNDS=${1:-5}
[[ $ROUNDS =~ ^[0-9]+$ ]] && ((ROUNDS >= 1)) || { echo "usage: $0 [ROUNDS>=1]" >&2; exit 2; }
WARMUP=${WARMUP:-1}
# What makes the "boot" side: set BOOT_ARGS= (empty) for an A/A control run in which both
# sides run the starter, to see how far two identical instances differ on this machine.
BOOT_ARGS=${BOOT_ARGS-"--graceful-shutdown.enabled=false"}
DURATION=${DURATION:-10s}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-16}
STARTER_PORT=${STARTER_PORT:-18091}
BOOT_PORT=${BOOT_PORT:-18092}
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# ---------------------------------------------------------------- prerequisites
if ! command -v wrk >/dev/null; then
	log "installing wrk from Debian packages"
	[[ $(id -u) == 0 ]] || die "wrk missing and not root: apt-get install -y wrk"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi
for tool in "$JAVA" curl ss; do command -v "$tool" >/dev/null || die "$tool not found"; done
ensure_jar
for p in "$STARTER_PORT" "$BOOT_PORT"; do require_free_port "$p"; done

OUT=$BENCH_DIR/results/$(date +%Y%m%d-%H%M%S)-request-overhead
mkdir -p "$OUT"
TMP=$(mktemp -d /tmp/request-overhead.XXXXXX)

copy_jar "$TMP"

# ---------------------------------------------------------------- cleanup
declare -A PID=()
WRK_PID=
cleanup() {
	set +e
	[[ -n $WRK_PID ]] && kill -TERM "$WRK_PID" 2>/dev/null && wait "$WRK_PID" 2>/dev/null
	local side
	for side in "${!PID[@]}"; do
		if kill -0 "${PID[$side]}" 2>/dev/null; then
			kill -TERM "${PID[$side]}" 2>/dev/null
			for _ in $(seq 150); do kill -0 "${PID[$side]}" 2>/dev/null || break; sleep 0.1; done
			kill -KILL "${PID[$side]}" 2>/dev/null
			wait "${PID[$side]}" 2>/dev/null
		fi
	done
	PID=()
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT
trap 'log "terminated"; exit 143' TERM

# ---------------------------------------------------------------- instances
declare -A PORT=([starter]=$STARTER_PORT [boot]=$BOOT_PORT)
# Short background units (as in rolling-restart.sh) so that the starter instance exits
# quickly at the end; nothing on the HTTP path changes. The boot side runs no @Background
# jobs at all (disabled, the starter does not start them): a few journal lines a second.
DEMO_ARGS="--demo.heavy.unit=1s --demo.light.unit=500ms"
declare -A ARGS=([starter]="$DEMO_ARGS" [boot]="$DEMO_ARGS $BOOT_ARGS")
start() {
	local side=$1
	# shellcheck disable=SC2086 # JAVA_OPTS and ARGS are word lists
	"$JAVA" $JAVA_OPTS -jar "$TMP/demo-app.jar" --server.address=$HOST --server.port="${PORT[$side]}" \
		--demo.journal="$TMP/journal-$side.log" ${ARGS[$side]} >"$OUT/instance-$side.log" 2>&1 &
	PID[$side]=$!
}
wait_ready() {
	local side=$1
	await_readiness "${PID[$side]}" "${PORT[$side]}" "$OUT/instance-$side.log" "$side"
	[[ $(curl -s "http://$HOST:${PORT[$side]}/hello") == hello ]] || die "$side: GET /hello did not answer hello"
}

{
	echo "command: $0 $ROUNDS"
	echo "wrk -t$THREADS -c$CONNECTIONS -d$DURATION http://$HOST:PORT/hello"
	echo "starter: port $STARTER_PORT ${ARGS[starter]}"
	echo "boot:    port $BOOT_PORT ${ARGS[boot]}"
	echo "warm-up rounds per side: $WARMUP"
	echo "jar_sha256=$(sha256sum "$TMP/demo-app.jar" | cut -c1-16)..."
	"$JAVA" -version 2>&1 | sed -n 1,2p
	wrk -v 2>&1 | sed -n 1p || true
	echo "nproc=$(nproc) $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')"
	echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$OUT/setup.txt"

log "starting starter (:$STARTER_PORT) and boot (:$BOOT_PORT); results in $OUT"
start starter
start boot
wait_ready starter
wait_ready boot

# ---------------------------------------------------------------- rounds
# run_wrk SIDE LABEL: one wrk round; appends "LABEL SIDE rps non2xx errors" to rounds.txt
run_wrk() {
	local side=$1 label=$2 file="$OUT/wrk-$2-$1.txt"
	wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "http://$HOST:${PORT[$side]}/hello" >"$file" 2>&1 &
	WRK_PID=$!
	wait "$WRK_PID"
	WRK_PID=
	local rps non2xx errors p50
	rps=$(awk '/^Requests\/sec:/ { print $2 }' "$file")
	[[ -n $rps ]] || die "wrk printed no Requests/sec (see $file)"
	non2xx=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$file")
	errors=$(awk '/Socket errors:/ { sub(/.*Socket errors: /, ""); print }' "$file")
	p50=$(awk '$1 == "50%" { print $2 }' "$file")
	printf '%s %s %s %s %s %s\n' "$label" "$side" "$rps" "${non2xx:-0}" "$p50" "${errors:+errors:$errors}" >>"$OUT/rounds.txt"
	log "$label $side: $rps req/s, p50 $p50${non2xx:+, non-2xx $non2xx}${errors:+, socket errors: $errors}"
}

: >"$OUT/rounds.txt"
for ((w = 1; w <= WARMUP; w++)); do
	run_wrk starter warmup
	run_wrk boot warmup
done
for ((r = 1; r <= ROUNDS; r++)); do
	if ((r % 2)); then order=(starter boot); else order=(boot starter); fi
	for side in "${order[@]}"; do run_wrk "$side" "round$r"; done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/setup.txt"

# ---------------------------------------------------------------- summary
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
measured() { awk -v s="$1" '$1 != "warmup" && $2 == s { print $3 }' "$OUT/rounds.txt"; }
S_MED=$(measured starter | median)
B_MED=$(measured boot | median)
S_LIST=$(measured starter | paste -sd/)
B_LIST=$(measured boot | paste -sd/)
RATIO=$(awk -v s="$S_MED" -v b="$B_MED" 'BEGIN { printf "%.4f", s / b }')
# Per round, the ratio of the two runs taken back to back: less sensitive to slow drift.
PAIRED=$(awk '$1 != "warmup" { r[$1, $2] = $3; rounds[$1] = 1 } END { for (k in rounds) printf "%.4f\n", r[k, "starter"] / r[k, "boot"] }' "$OUT/rounds.txt" | median)
PAIRED_LIST=$(awk '$1 != "warmup" { r[$1, $2] = $3; if (!($1 in seen)) { seen[$1] = 1; order[++n] = $1 } } END { for (i = 1; i <= n; i++) printf "%.3f\n", r[order[i], "starter"] / r[order[i], "boot"] }' "$OUT/rounds.txt" | paste -sd/)
NON2XX=$(awk '{ s += $4 } END { print s + 0 }' "$OUT/rounds.txt")

{
	echo "rounds (label side req/s non2xx p50 [socket errors]):"
	cat "$OUT/rounds.txt"
	echo "starter req/s: $S_LIST (median $S_MED)"
	echo "boot    req/s: $B_LIST (median $B_MED)"
	echo "ratio of medians starter/boot: $RATIO; per-round ratios: $PAIRED_LIST (median $PAIRED)"
} | tee "$OUT/summary.txt" >&2
CONTROL=
[[ -z $BOOT_ARGS ]] && CONTROL="control=aa(both-sides-run-the-starter) "
RESULT="RESULT ${CONTROL}rounds=$ROUNDS starter_median_rps=$S_MED boot_median_rps=$B_MED ratio=$RATIO paired_ratio_median=$PAIRED starter_rps=$S_LIST boot_rps=$B_LIST non2xx=$NON2XX"
echo "$RESULT" | tee -a "$OUT/summary.txt"
echo "details in $OUT"
