#!/usr/bin/env bash
# Request-tracking overhead: throughput of GET /hello with the starter (default) against
# the same demo app with --graceful-shutdown.enabled=false (Spring Boot's own HTTP path,
# no request-counting filter), under wrk, with an A/A control in the same run: a second,
# identical starter instance, measured with the same interleaving, so the starter/boot
# ratio is printed next to the starter/starter ratio, the noise floor of this machine.
#
#   bench/request-overhead.sh [ROUNDS]        (default 5 measured rounds; 3 wrk runs each)
#
# Three instances run at the same time, 127.0.0.1 only: the starter on :18091, boot on
# :18092 and the control (the starter again, same arguments) on :18093, so JIT state, heap
# and background work age alike. Each first gets one warm-up round. In every measured
# round the starter runs in the middle, between boot and the control, and the two swap
# ends every round: boot starter control, then control starter boot, ... So boot and the
# control are each measured right before and right after the starter equally often, and
# the two per-round ratios (starter/boot, starter/control) see the same drift in the
# machine's load (other people's builds on the same 2 cores). Each run is
# `wrk -t2 -c16 -d10s http://127.0.0.1:PORT/hello`. The instances not being measured sit
# idle, with the demo's background jobs (sleeps and a few journal lines a second; the
# boot side runs none).
#
# Prints the rounds, then one line:
#   RESULT rounds=5 ratio=.. control_ratio=.. paired_ratio_median=.. control_paired_median=..
#          paired_ratio_range=MIN..MAX control_paired_range=MIN..MAX starter_median_rps=..
#          boot_median_rps=.. control_median_rps=.. starter_rps=../.. boot_rps=..
#          control_rps=.. non2xx=..
# ratio is starter/boot of the medians, control_ratio starter/control; the paired figures
# are the medians and ranges of the per-round ratios. The starter's cost is resolved only
# where the ratio lies outside what the control shows. wrk's raw output, the instance logs
# and setup details are kept in bench/results/<timestamp>-request-overhead/ (git-ignored).
#
# Environment: JAVA_HOME (default: java on PATH), JAVA_OPTS (extra JVM options),
# WARMUP [1] (unmeasured rounds), BOOT_ARGS [--graceful-shutdown.enabled=false],
# DURATION [10s], THREADS [2], CONNECTIONS [16], STARTER_PORT [18091], BOOT_PORT [18092],
# CONTROL_PORT [18093]. wrk is installed from Debian's packages if missing (needs root).
set -euo pipefail

ROUNDS=${1:-5}
[[ $ROUNDS =~ ^[0-9]+$ ]] && ((ROUNDS >= 1)) || { echo "usage: $0 [ROUNDS>=1]" >&2; exit 2; }
WARMUP=${WARMUP:-1}
# What makes the "boot" side. BOOT_ARGS= (empty) makes it a starter too: three identical
# instances.
BOOT_ARGS=${BOOT_ARGS-"--graceful-shutdown.enabled=false"}
DURATION=${DURATION:-10s}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-16}
STARTER_PORT=${STARTER_PORT:-18091}
BOOT_PORT=${BOOT_PORT:-18092}
CONTROL_PORT=${CONTROL_PORT:-18093}
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
for p in "$STARTER_PORT" "$BOOT_PORT" "$CONTROL_PORT"; do require_free_port "$p"; done

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
declare -A PORT=([starter]=$STARTER_PORT [boot]=$BOOT_PORT [control]=$CONTROL_PORT)
# Short background units (as in rolling-restart.sh) so that the starter instance exits
# quickly at the end; nothing on the HTTP path changes. The boot side runs no @Background
# jobs at all (disabled, the starter does not start them): a few journal lines a second.
DEMO_ARGS="--demo.heavy.unit=1s --demo.light.unit=500ms"
declare -A ARGS=([starter]="$DEMO_ARGS" [boot]="$DEMO_ARGS $BOOT_ARGS" [control]="$DEMO_ARGS")
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
	echo "control: port $CONTROL_PORT ${ARGS[control]}"
	echo "round orders: odd rounds boot starter control, even rounds control starter boot"
	echo "warm-up rounds per side: $WARMUP"
	echo "jar_sha256=$(sha256sum "$TMP/demo-app.jar" | cut -c1-16)..."
	"$JAVA" -version 2>&1 | sed -n 1,2p
	wrk -v 2>&1 | sed -n 1p || true
	echo "nproc=$(nproc) $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')"
	echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$OUT/setup.txt"

log "starting starter (:$STARTER_PORT), boot (:$BOOT_PORT) and control (:$CONTROL_PORT); results in $OUT"
for side in starter boot control; do start "$side"; done
for side in starter boot control; do wait_ready "$side"; done

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
	for side in starter boot control; do run_wrk "$side" warmup; done
done
for ((r = 1; r <= ROUNDS; r++)); do
	# The starter in the middle; boot and the control swap ends every round.
	if ((r % 2)); then order=(boot starter control); else order=(control starter boot); fi
	for side in "${order[@]}"; do run_wrk "$side" "round$r"; done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/setup.txt"

# ---------------------------------------------------------------- summary
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.6g\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
measured() { awk -v s="$1" '$1 != "warmup" && $2 == s { print $3 }' "$OUT/rounds.txt"; }
# per_round OTHER: the starter's req/s over OTHER's, one line per round, in round order.
per_round() {
	awk -v o="$1" '$1 != "warmup" { r[$1, $2] = $3; if (!($1 in seen)) { seen[$1] = 1; order[++n] = $1 } }
		END { for (i = 1; i <= n; i++) printf "%.4f\n", r[order[i], "starter"] / r[order[i], o] }' "$OUT/rounds.txt"
}
range() { sort -g | awk 'NR == 1 { min = $1 } { max = $1 } END { printf "%.3f..%.3f", min, max }'; }
S_MED=$(measured starter | median)
B_MED=$(measured boot | median)
C_MED=$(measured control | median)
S_LIST=$(measured starter | paste -sd/)
B_LIST=$(measured boot | paste -sd/)
C_LIST=$(measured control | paste -sd/)
RATIO=$(awk -v s="$S_MED" -v b="$B_MED" 'BEGIN { printf "%.4f", s / b }')
CONTROL_RATIO=$(awk -v s="$S_MED" -v c="$C_MED" 'BEGIN { printf "%.4f", s / c }')
# Per round, the ratio of runs taken back to back: less sensitive to slow drift.
PAIRED=$(per_round boot | median)
PAIRED_LIST=$(per_round boot | awk '{ printf "%.3f\n", $1 }' | paste -sd/)
PAIRED_RANGE=$(per_round boot | range)
C_PAIRED=$(per_round control | median)
C_PAIRED_LIST=$(per_round control | awk '{ printf "%.3f\n", $1 }' | paste -sd/)
C_PAIRED_RANGE=$(per_round control | range)
NON2XX=$(awk '{ s += $4 } END { print s + 0 }' "$OUT/rounds.txt")

{
	echo "rounds (label side req/s non2xx p50 [socket errors]):"
	cat "$OUT/rounds.txt"
	echo "starter req/s: $S_LIST (median $S_MED)"
	echo "boot    req/s: $B_LIST (median $B_MED)"
	echo "control req/s: $C_LIST (median $C_MED)"
	echo "starter/boot:    ratio of medians $RATIO; per round $PAIRED_LIST (median $PAIRED, range $PAIRED_RANGE)"
	echo "starter/control: ratio of medians $CONTROL_RATIO; per round $C_PAIRED_LIST (median $C_PAIRED, range $C_PAIRED_RANGE)  <- A/A: the noise floor"
} | tee "$OUT/summary.txt" >&2
RESULT="RESULT rounds=$ROUNDS ratio=$RATIO control_ratio=$CONTROL_RATIO paired_ratio_median=$PAIRED control_paired_median=$C_PAIRED paired_ratio_range=$PAIRED_RANGE control_paired_range=$C_PAIRED_RANGE starter_median_rps=$S_MED boot_median_rps=$B_MED control_median_rps=$C_MED starter_rps=$S_LIST boot_rps=$B_LIST control_rps=$C_LIST non2xx=$NON2XX$([[ -n $BOOT_ARGS ]] || echo " boot_args=none(all-three-run-the-starter)")"
echo "$RESULT" | tee -a "$OUT/summary.txt"
echo "details in $OUT"
