#!/usr/bin/env bash
# Cancelling and awaiting many tracked in-flight jobs: 10,000 by default.
#
#   bench/scale.sh [COUNT] [FINISH_MS] [RUNS]      (defaults: 10000 jobs, 500 ms, 3 runs)
#   JAVA_HOME=/usr/lib/jvm/temurin-25-jdk-amd64 bench/scale.sh      # virtual threads
#   JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64 bench/scale.sh 10000 500 1   # platform threads
#
# Each run starts the demo app on 127.0.0.1:18094 with the FanOutController on
# (--demo.fanout.enabled=true), calls POST /fanout?count=COUNT&finishMs=FINISH_MS, which
# answers once COUNT tracked jobs are running, each on its own thread and waiting on
# ShutdownToken.await(10 min), waits 2 s, and sends SIGTERM. The token wakes every job; each
# then finishes a final unit of FINISH_MS (a plain sleep: work that must complete) and its
# tracked job ends; the shutdown waits for all of them. So
#   overhead_ms = exit_ms - FINISH_MS
# is what cancelling, waking and awaiting COUNT jobs costs, plus the rest of the context
# close and the JVM exit (a run with COUNT=1 gives that fixed part).
# The demo's own background jobs run with 100 ms units (below FINISH_MS, so they do not set
# the exit time) and its @Scheduled task is off.
#
# Threads: VIRTUAL=auto (default) passes --spring.threads.virtual.enabled=true on Java 21+,
# false on older JVMs; the demo then uses Executors.newVirtualThreadPerTaskExecutor() (by
# reflection) or a cached pool of platform threads. VIRTUAL=true|false forces the property.
#
# Prints one line:
#   RESULT jdk=.. threads=.. jobs=.. finish_ms=.. runs=.. overhead_ms=a/b/c overhead_median_ms=..
#          coordinator_ms=.. finished=..
# and keeps the app logs and per-run figures in bench/results/<timestamp>-scale/.
#
# Environment: JAVA_HOME (default: java on PATH), JAVA_OPTS, VIRTUAL [auto], PORT [18094].
set -euo pipefail

COUNT=${1:-10000}
FINISH_MS=${2:-500}
RUNS=${3:-3}
for v in "$COUNT" "$FINISH_MS" "$RUNS"; do
	[[ $v =~ ^[0-9]+$ ]] || { echo "usage: $0 [COUNT] [FINISH_MS] [RUNS]" >&2; exit 2; }
done
PORT=${PORT:-18094}
VIRTUAL=${VIRTUAL:-auto}
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

for tool in "$JAVA" curl ss awk; do command -v "$tool" >/dev/null || die "$tool not found"; done
JDK=$("$JAVA" -XshowSettings:properties -version 2>&1 | awk -F' = ' '/java.version = / { print $2 }')
MAJOR=${JDK%%.*}
if [[ $VIRTUAL == auto ]]; then
	if ((MAJOR >= 21)); then VIRTUAL=true; else VIRTUAL=false; fi
fi
ensure_jar
require_free_port "$PORT"

OUT=$BENCH_DIR/results/$(date +%Y%m%d-%H%M%S)-scale
mkdir -p "$OUT"
TMP=$(mktemp -d /tmp/scale.XXXXXX)

copy_jar "$TMP"
# (grep reads to the end: with pipefail, grep -q would make unzip fail on SIGPIPE)
unzip -l "$TMP/demo-app.jar" | grep 'demo/FanOutController.class' >/dev/null ||
	die "the demo jar has no FanOutController: rebuild it (./mvnw -B -o -q install -DskipTests)"

trap_one_app

DEMO_ARGS=(--demo.fanout.enabled=true --spring.threads.virtual.enabled="$VIRTUAL"
	--demo.heavy.unit=100ms --demo.light.unit=100ms --demo.scheduled.enabled=false
	--spring.lifecycle.timeout-per-shutdown-phase=60s)
{
	echo "command: $0 $COUNT $FINISH_MS $RUNS"
	echo "demo args: --server.address=$HOST --server.port=$PORT ${DEMO_ARGS[*]} --demo.journal=journal-N.log"
	echo "jar_sha256=$(sha256sum "$TMP/demo-app.jar" | cut -c1-16)..."
	"$JAVA" -version 2>&1 | sed -n 1,2p
	echo "nproc=$(nproc) $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')"
	echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$OUT/setup.txt"

printf '%-4s %-8s %6s %9s %8s %9s %11s %14s %9s %s\n' run threads jobs start_ms os_thr rss_mb exit_ms coordinator_ms overhead finished >"$OUT/runs.txt"
THREAD_KIND=?
for ((i = 1; i <= RUNS; i++)); do
	start_app "$i" "${DEMO_ARGS[@]}" --demo.journal="$OUT/journal-$i.log"

	answer=$(curl -fsS --max-time 180 -X POST "http://$HOST:$PORT/fanout?count=$COUNT&finishMs=$FINISH_MS") ||
		die "run $i: POST /fanout failed"
	echo "run $i: $answer" >>"$OUT/fanout-answers.txt"
	[[ $answer == *'"running":true'* ]] || die "run $i: not every job started: $answer"
	THREAD_KIND=$(grep -o '"threads":"[a-z]*"' <<<"$answer" | cut -d'"' -f4)
	start_ms=$(grep -o '"startMs":[0-9]*' <<<"$answer" | cut -d: -f2)
	sleep 2
	os_threads=$(awk '/^Threads:/ { print $2 }' "/proc/$APP/status")
	rss_mb=$(awk '/^VmRSS:/ { printf "%d", $2 / 1024 }' "/proc/$APP/status")

	# EPOCHREALTIME (seconds, 6 decimals) read without a fork, right before and after.
	t_kill=$EPOCHREALTIME
	kill -TERM "$APP"
	rc=0
	wait "$APP" || rc=$?
	t_exit=$EPOCHREALTIME
	APP=
	exit_ms=$(awk -v a="$t_exit" -v b="$t_kill" 'BEGIN { printf "%.1f", (a - b) * 1000 }')
	overhead=$(awk -v e="$exit_ms" -v f="$FINISH_MS" 'BEGIN { printf "%.1f", e - f }')
	# The coordinator's own figure: "Graceful shutdown COMPLETED in 0.53 s: ..."
	coord_ms=$(grep -o 'Graceful shutdown [A-Z_]* in [0-9.]* s' "$OUT/app-$i.log" | awk '{ printf "%d", $5 * 1000 }')
	finished=$(grep -o 'fanout: [0-9]* of [0-9]* jobs finished' "$OUT/app-$i.log" | awk '{ print $2 "/" $4 }')
	printf '%-4s %-8s %6s %9s %8s %9s %11s %14s %9s %s\n' "$i" "$THREAD_KIND" "$COUNT" "$start_ms" "$os_threads" "$rss_mb" \
		"$exit_ms" "${coord_ms:--}" "$overhead" "${finished:--}" >>"$OUT/runs.txt"
	summary=$(grep -o 'Graceful shutdown [A-Z_]* in [0-9.]* s.*' "$OUT/app-$i.log" | cut -c1-140 || true)
	log "run $i ($THREAD_KIND, $COUNT jobs started in ${start_ms} ms): exit ${exit_ms} ms (status $rc), overhead ${overhead} ms, finished ${finished:-?}; $summary"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/setup.txt"

OH_LIST=$(awk 'NR > 1 { print $9 }' "$OUT/runs.txt" | paste -sd/)
OH_MED=$(awk 'NR > 1 { print $9 }' "$OUT/runs.txt" | sort -g | awk '{ v[NR] = $1 } END { printf "%.1f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
CO_LIST=$(awk 'NR > 1 { print $8 }' "$OUT/runs.txt" | paste -sd/)
FIN_LIST=$(awk 'NR > 1 { print $10 }' "$OUT/runs.txt" | paste -sd,)
{
	cat "$OUT/runs.txt"
	echo "overhead = exit - finishMs: $OH_LIST ms (median $OH_MED)"
} | tee "$OUT/summary.txt" >&2
RESULT="RESULT jdk=$JDK threads=$THREAD_KIND jobs=$COUNT finish_ms=$FINISH_MS runs=$RUNS overhead_ms=$OH_LIST overhead_median_ms=$OH_MED coordinator_ms=$CO_LIST finished=$FIN_LIST"
echo "$RESULT" | tee -a "$OUT/summary.txt"
echo "details in $OUT"
