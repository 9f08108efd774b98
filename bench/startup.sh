#!/usr/bin/env bash
# Startup cost of the starter: the same minimal web app with actuator (bench/startup-app:
# spring-boot-starter-webmvc + spring-boot-starter-actuator) started N times without and
# N times with graceful-shutdown-spring-boot-starter, interleaved, then a look at where
# the starter's time goes.
#
#   bench/startup.sh [N]          (default 20 starts of each variant)
#
# 1. Build. install_private (lib.sh) installs this worktree's starter into a private local
#    repository (bench/target/m2, with ~/.m2 as a read-only tail), never into ~/.m2; then
#    bench/startup-app is packaged twice: target/plain/startup-app.jar and, with
#    -Pstarter, target/starter/startup-app.jar. SKIP_BUILD=1 reuses the jars.
# 2. Timed starts. The app halts the JVM as soon as SpringApplication.run() returns (right
#    after ApplicationReadyEvent), so nothing of a shutdown is timed. Per start:
#      wall_ms     the whole process, fork to exit, measured here (EPOCHREALTIME)
#      started_ms  Spring's own "Started StartupApp in N seconds"
#      uptime_ms   its "(process running for N)": JVM start to that line
#    WARMUP unmeasured starts of each variant come first. The measured starts alternate
#    in ABBA order (plain starter, starter plain, ...) so that slow drift in the load of
#    the machine hits both alike. Prints median, mean, min and max of each figure per
#    variant and the ratios starter/plain.
# 3. Steps (STEPS starts of the starter variant, -Dstartup.steps=true): Spring's
#    BufferingApplicationStartup records every step, and the starter's bean
#    post-processors are wrapped so that their calls for every bean, which show in no
#    step, are timed too (bench/startup-app: PostProcessorTimer, StepReport). Prints the
#    median per step of ours (bean name, type or defining class in io.github.gracefulshutdown),
#    per post-processor phase, and per class of ours, and the total.
# 4. Class loading: one start of each variant with -Xlog:class+load, counted.
# 5. JFR (JFR starts of the starter variant): execution samples every 1 ms up to "ready";
#    prints where the samples that have a frame of ours land, grouped by our outermost
#    frame (method and class). Needs a JDK with the jfr tool next to java.
# With NOSCAN=1 a third variant joins the timed starts: the starter jar, but its
# BackgroundJobProcessor does not look for @Background methods (-Dstartup.skip-scan=true),
# to measure what that scan costs a start.
#
# Prints one line at the end:
#   RESULT n=.. jdk=.. wall_median_ms_plain=.. wall_median_ms_starter=.. wall_ratio=..
#          started_median_ms_plain=.. started_median_ms_starter=.. started_ratio=.. ...
# and keeps every log, the per-start figures and the JFR files in
# bench/results/<timestamp>-startup/ (git-ignored).
#
# Every start must exit 0 within START_TIMEOUT seconds (120) having logged "Started";
# otherwise the script fails with the end of that start's log. The app listens on a
# random port (server.port=0) on 127.0.0.1.
#
# Environment: JAVA_HOME (default: java on PATH), JAVA_OPTS (extra JVM options, every
# start), APP_ARGS (extra app arguments, every start), WARMUP [1], STEPS [3], JFR [3],
# NOSCAN [0], SKIP_BUILD [0], START_TIMEOUT [120].
set -euo pipefail

N=${1:-20}
[[ $N =~ ^[0-9]+$ ]] && ((N >= 1)) || { echo "usage: $0 [N>=1]" >&2; exit 2; }
WARMUP=${WARMUP:-1}
STEPS=${STEPS:-3}
JFR=${JFR:-3}
NOSCAN=${NOSCAN:-0}
SKIP_BUILD=${SKIP_BUILD:-0}
START_TIMEOUT=${START_TIMEOUT:-120}
APP_ARGS=${APP_ARGS:-}
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

for tool in "$JAVA" timeout awk; do command -v "$tool" >/dev/null || die "$tool not found"; done
JDK=$("$JAVA" -XshowSettings:properties -version 2>&1 | awk -F' = ' '/java.version = / { print $2 }')
JFR_TOOL=$(dirname "$(readlink -f "$(command -v "$JAVA")")")/jfr
if ((JFR > 0)) && [[ ! -x $JFR_TOOL ]]; then
	die "no jfr tool next to $JAVA ($JFR_TOOL); set JAVA_HOME to a JDK or JFR=0"
fi

# ---------------------------------------------------------------- build
PLAIN_JAR=$STARTUP_APP_DIR/target/plain/startup-app.jar
STARTER_JAR=$STARTUP_APP_DIR/target/starter/startup-app.jar
if [[ $SKIP_BUILD != 1 ]]; then
	install_private
	log "building bench/startup-app: plain and -Pstarter"
	mvn_private -f "$STARTUP_APP_DIR/pom.xml" package
	mvn_private -f "$STARTUP_APP_DIR/pom.xml" -Pstarter package
fi
for jar in "$PLAIN_JAR" "$STARTER_JAR"; do [[ -f $jar ]] || die "$jar missing (run without SKIP_BUILD=1)"; done
unzip -l "$STARTER_JAR" | grep 'graceful-shutdown-spring-boot-autoconfigure' >/dev/null ||
	die "$STARTER_JAR does not contain the starter"
if unzip -l "$PLAIN_JAR" | grep 'graceful-shutdown-spring-boot-autoconfigure' >/dev/null; then die "$PLAIN_JAR contains the starter"; fi

OUT=$BENCH_DIR/results/$(date +%Y%m%d-%H%M%S)-startup
mkdir -p "$OUT"
TMP=$(mktemp -d /tmp/startup.XXXXXX)
APP=
trap_one_app
# Private copies: a rebuild during the run must not change what is measured.
cp "$PLAIN_JAR" "$TMP/plain.jar"
cp "$STARTER_JAR" "$TMP/starter.jar"

{
	echo "command: $0 $N"
	echo "warm-up starts per variant: $WARMUP; steps starts: $STEPS; jfr starts: $JFR; noscan: $NOSCAN"
	echo "plain_jar_sha256=$(sha256sum "$TMP/plain.jar" | cut -c1-16)..."
	echo "starter_jar_sha256=$(sha256sum "$TMP/starter.jar" | cut -c1-16)..."
	echo "autoconfigure: $(unzip -l "$TMP/starter.jar" | grep -o 'BOOT-INF/lib/graceful-shutdown-spring-boot-autoconfigure[^ ]*')"
	"$JAVA" -version 2>&1 | sed -n 1,2p
	echo "JAVA_OPTS=$JAVA_OPTS APP_ARGS=$APP_ARGS"
	echo "nproc=$(nproc) $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')"
	echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$OUT/setup.txt"

# ---------------------------------------------------------------- one start
# start_once VARIANT LABEL [JVM options...]: one start, logged to $OUT/LABEL.log; sets
# WALL_MS, STARTED_MS, UPTIME_MS and BEANS, or fails with the end of the log.
start_once() {
	local variant=$1 label=$2 jar rc=0 t0 t1 line
	shift 2
	local opts=("$@")
	case $variant in
		plain) jar=$TMP/plain.jar ;;
		starter) jar=$TMP/starter.jar ;;
		noscan) jar=$TMP/starter.jar; opts+=(-Dstartup.skip-scan=true) ;;
		*) die "unknown variant $variant" ;;
	esac
	t0=$EPOCHREALTIME
	# shellcheck disable=SC2086 # JAVA_OPTS and APP_ARGS are word lists
	timeout -k 5 "$START_TIMEOUT" "$JAVA" $JAVA_OPTS "${opts[@]}" -jar "$jar" \
		--server.address=$HOST --server.port=0 $APP_ARGS >"$OUT/$label.log" 2>&1 || rc=$?
	t1=$EPOCHREALTIME
	line=$(grep -o 'Started StartupApp in [0-9.]* seconds (process running for [0-9.]*)' "$OUT/$label.log" || true)
	if ((rc != 0)) || [[ -z $line ]] || ! grep -q '^READY ' "$OUT/$label.log"; then
		log "$label: last lines of $OUT/$label.log:"
		tail -n 30 "$OUT/$label.log" >&2
		((rc == 124 || rc == 137)) && die "$label: not ready within $START_TIMEOUT s"
		die "$label: the app exited with status $rc before it was ready"
	fi
	WALL_MS=$(awk -v a="$t1" -v b="$t0" 'BEGIN { printf "%.1f", (a - b) * 1000 }')
	STARTED_MS=$(awk '{ printf "%.0f", $4 * 1000 }' <<<"$line")
	UPTIME_MS=$(awk '{ v = $9; sub(/\)$/, "", v); printf "%.0f", v * 1000 }' <<<"$line")
	BEANS=$(awk '/^READY / { sub(/.*beans=/, ""); print $1; exit }' "$OUT/$label.log")
}

VARIANTS=(plain starter)
((NOSCAN == 1)) && VARIANTS+=(noscan)

# ---------------------------------------------------------------- timed starts
log "JDK $JDK; $WARMUP warm-up and $N measured starts of each of: ${VARIANTS[*]}; results in $OUT"
for ((w = 1; w <= WARMUP; w++)); do
	for v in "${VARIANTS[@]}"; do
		start_once "$v" "warmup-$w-$v"
		log "warm-up $w $v: wall ${WALL_MS} ms, started ${STARTED_MS} ms"
	done
done
printf '%-5s %-8s %9s %11s %10s %6s\n' run variant wall_ms started_ms uptime_ms beans >"$OUT/runs.txt"
for ((r = 1; r <= N; r++)); do
	order=("${VARIANTS[@]}")
	if ((r % 2 == 0)); then
		order=()
		for ((k = ${#VARIANTS[@]} - 1; k >= 0; k--)); do order+=("${VARIANTS[k]}"); done
	fi
	for v in "${order[@]}"; do
		start_once "$v" "run-$r-$v"
		printf '%-5s %-8s %9s %11s %10s %6s\n' "$r" "$v" "$WALL_MS" "$STARTED_MS" "$UPTIME_MS" "$BEANS" >>"$OUT/runs.txt"
		log "run $r $v: wall ${WALL_MS} ms, started ${STARTED_MS} ms, uptime ${UPTIME_MS} ms, $BEANS beans"
	done
done
echo "load after the timed starts: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/setup.txt"

# stats VARIANT COLUMN -> "median mean min max n"
stats() {
	awk -v v="$1" -v c="$2" 'NR > 1 && $2 == v { print $c }' "$OUT/runs.txt" | sort -g | awk '
		{ x[NR] = $1; s += $1 }
		END {
			med = (NR % 2) ? x[(NR + 1) / 2] : (x[NR / 2] + x[NR / 2 + 1]) / 2
			printf "%.1f %.1f %.1f %.1f %d\n", med, s / NR, x[1], x[NR], NR
		}'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f", a / b }'; }
diff_ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.1f", a - b }'; }

declare -A MED=()
for col in 3:wall 4:started 5:uptime; do
	for v in "${VARIANTS[@]}"; do
		read -r med _ < <(stats "$v" "${col%%:*}")
		MED[${col#*:}_$v]=$med
	done
done
{
	echo "timed starts, ms (JDK $JDK, $N per variant, interleaved):"
	printf '  %-10s %-8s %9s %9s %9s %9s\n' figure variant median mean min max
	for col in 3:wall 4:started 5:uptime; do
		for v in "${VARIANTS[@]}"; do
			read -r med mean min max _ < <(stats "$v" "${col%%:*}")
			printf '  %-10s %-8s %9s %9s %9s %9s\n' "${col#*:}" "$v" "$med" "$mean" "$min" "$max"
		done
	done
	for f in wall started uptime; do
		echo "  $f: starter/plain median ratio $(ratio "${MED[${f}_starter]}" "${MED[${f}_plain]}"), difference $(diff_ms "${MED[${f}_starter]}" "${MED[${f}_plain]}") ms"
		if ((NOSCAN == 1)); then
			echo "  $f: noscan/plain $(ratio "${MED[${f}_noscan]}" "${MED[${f}_plain]}"); starter - noscan $(diff_ms "${MED[${f}_starter]}" "${MED[${f}_noscan]}") ms (the @Background scan)"
		fi
	done
	# Per pair of starts taken back to back: less sensitive to drift than the medians.
	echo "  wall: median of per-round differences starter - plain: $(awk 'NR > 1 { w[$1, $2] = $3; r[$1] = 1 } END { for (k in r) printf "%.1f\n", w[k, "starter"] - w[k, "plain"] }' "$OUT/runs.txt" | sort -g | awk '{ x[NR] = $1 } END { printf "%+.1f", (NR % 2) ? x[(NR + 1) / 2] : (x[NR / 2] + x[NR / 2 + 1]) / 2 }') ms"
	echo "  beans: plain $(awk 'NR > 1 && $2 == "plain" { print $6; exit }' "$OUT/runs.txt"), starter $(awk 'NR > 1 && $2 == "starter" { print $6; exit }' "$OUT/runs.txt")"
} | tee "$OUT/summary.txt" >&2

# ---------------------------------------------------------------- steps
OUR_TOTAL=- OUR_STEPS=- OUR_BPP=- SUSPECTS=-
if ((STEPS > 0)); then
	log "$STEPS starts of the starter variant with -Dstartup.steps=true"
	: >"$OUT/steps.txt"
	for ((i = 1; i <= STEPS; i++)); do
		start_once starter "steps-$i" -Dstartup.steps=true
		grep -E '^(STEP|CHILD|BPP|BPP-UNTIMED|STEPS|OURS) ' "$OUT/steps-$i.log" | sed "s/^/$i /" >>"$OUT/steps.txt"
		log "steps $i: $(grep '^OURS ' "$OUT/steps-$i.log")"
	done
	# median over the runs of the values given as "key value" lines
	median_by_key() {
		sort -k1,1 -k2,2g | awk '
			$1 != k { if (n) out(); k = $1; n = 0 }
			{ x[++n] = $2 }
			END { if (n) out() }
			function out() { printf "%s %.3f\n", k, (n % 2) ? x[(n + 1) / 2] : (x[n / 2] + x[n / 2 + 1]) / 2 }'
	}
	short() { sed 's/io\.github\.gracefulshutdown\.//g'; }
	{
		echo "steps of ours (median over $STEPS starts; self = without the steps nested in it):"
		printf '  %9s %9s  %s\n' total_ms self_ms 'step bean -> class charged'
		awk '$2 == "STEP" { k = $5 "|" $6 "|" $7; print k, $3 }' "$OUT/steps.txt" | median_by_key >"$TMP/total"
		awk '$2 == "STEP" { k = $5 "|" $6 "|" $7; print k, $4 }' "$OUT/steps.txt" | median_by_key >"$TMP/self"
		join "$TMP/total" "$TMP/self" | sort -k3,3gr | awk '{ split($1, p, "|"); sub(/^spring\.beans\./, "", p[1]); printf "  %9.3f %9.3f  %s %s -> %s\n", $2, $3, p[1], p[2], p[3] }' | short
		echo "post-processor calls (median; own = without the bean creations nested in them):"
		printf '  %-36s %-17s %6s %9s %9s %9s\n' post-processor phase calls ms nested_ms own_ms
		awk '$2 == "BPP" { print $3 "|" $4 "|" $5 "|" $6, $9 }' "$OUT/steps.txt" | median_by_key >"$TMP/own"
		awk '$2 == "BPP" { print $3 "|" $4 "|" $5 "|" $6, $7 }' "$OUT/steps.txt" | median_by_key >"$TMP/ms"
		awk '$2 == "BPP" { print $3 "|" $4 "|" $5 "|" $6, $8 }' "$OUT/steps.txt" | median_by_key >"$TMP/nested"
		join "$TMP/ms" "$TMP/nested" | join - "$TMP/own" | sort -k4,4gr | awk '{ split($1, p, "|"); printf "  %-36s %-17s %6s %9.3f %9.3f %9.3f\n", p[2], p[3], p[4], $2, $3, $4 }' | short
		grep ' BPP-UNTIMED ' "$OUT/steps.txt" | sort -u | sed 's/^/  not timed: /' || true
		echo "by class of ours (median over the starts of the sum per start of step self time + post-processor own time):"
		awk '$2 == "STEP" { s[$1 " " $7] += $4 } $2 == "BPP" { s[$1 " " $4] += $9 } END { for (k in s) { split(k, p, " "); print p[2], s[k] } }' "$OUT/steps.txt" |
			median_by_key | sort -k2,2gr | awk '{ printf "  %9.3f  %s\n", $2, $1 }' | short | tee "$TMP/classes"
		echo "totals (median over $STEPS starts):"
		awk '$2 == "STEPS" { for (i = 3; i <= NF; i++) { split($i, kv, "="); print kv[1], kv[2] } }
		     $2 == "OURS" { for (i = 3; i <= NF; i++) { split($i, kv, "="); print kv[1], kv[2] } }' "$OUT/steps.txt" |
			median_by_key | tee "$TMP/totals" | sed 's/^/  /'
	} | tee "$OUT/steps-summary.txt" >&2
	OUR_TOTAL=$(awk '$1 == "total_ms" { print $2 }' "$TMP/totals")
	OUR_STEPS=$(awk '$1 == "steps_self_ms" { print $2 }' "$TMP/totals")
	OUR_BPP=$(awk '$1 == "post_processors_ms" { print $2 }' "$TMP/totals")
	SUSPECTS=$(head -n 3 "$TMP/classes" | awk '{ n = $2; sub(/.*\./, "", n); printf "%s%s:%.1f", (NR > 1) ? "," : "", n, $1 }')
fi

# ---------------------------------------------------------------- class loading
CLASSES=-
log "one start of each variant with -Xlog:class+load"
for v in plain starter; do
	start_once "$v" "classes-$v" "-Xlog:class+load=info:file=$OUT/classes-$v.txt"
done
CL_PLAIN=$(grep -c '\[class,load\]' "$OUT/classes-plain.txt" || true)
CL_STARTER=$(grep -c '\[class,load\]' "$OUT/classes-starter.txt" || true)
CL_OURS=$(grep '\[class,load\]' "$OUT/classes-starter.txt" | grep -c ' io\.github\.gracefulshutdown\.' || true)
CLASSES="$CL_PLAIN/$CL_STARTER"
{
	echo "classes loaded up to ready: plain $CL_PLAIN, starter $CL_STARTER ($((CL_STARTER - CL_PLAIN)) more; $CL_OURS of them io.github.gracefulshutdown)"
} | tee -a "$OUT/summary.txt" >&2

# ---------------------------------------------------------------- JFR
JFR_OURS=-
if ((JFR > 0)); then
	log "$JFR starts of the starter variant with JFR (execution samples every 1 ms)"
	for ((i = 1; i <= JFR; i++)); do
		start_once starter "jfr-$i" '-XX:StartFlightRecording:settings=profile,jdk.ExecutionSample#period=1ms' \
			-Dstartup.jfr="$OUT/jfr-$i.jfr"
		[[ -s $OUT/jfr-$i.jfr ]] || die "jfr-$i: no recording written (see $OUT/jfr-$i.log)"
		"$JFR_TOOL" print --events jdk.ExecutionSample --stack-depth 512 "$OUT/jfr-$i.jfr" >"$TMP/jfr-$i.txt"
		"$JFR_TOOL" summary "$OUT/jfr-$i.jfr" >"$OUT/jfr-$i-summary.txt"
	done
	# For each sample: its thread, and the outermost frame of ours (the entry point into
	# our code that the sample's time belongs to), if any.
	cat "$TMP"/jfr-*.txt | awk -v runs="$JFR" '
		/^jdk.ExecutionSample/ { inside = 1; thread = ""; outer = ""; next }
		inside && /sampledThread = / { thread = $0; sub(/.*sampledThread = "/, "", thread); sub(/".*/, "", thread) }
		inside && /^[ \t]+io\.github\.gracefulshutdown\./ { f = $1; sub(/\(.*/, "", f); outer = f }
		inside && /^}/ {
			inside = 0; total++
			if (thread == "main") main++
			if (outer != "") { ours++; if (thread == "main") oursMain++; m[outer]++; c2 = outer; sub(/\.[^.]*$/, "", c2); cls[c2]++ }
		}
		END {
			printf "JFR: %d samples in %d starts (%.0f a start), %d on main; %d with a frame of ours (%.1f a start, %.1f%% of main-thread samples), %d of them on main\n",
				total, runs, total / runs, main, ours, ours / runs, (main ? 100 * oursMain / main : 0), oursMain
			print "samples per start by our outermost frame (class):"
			for (k in cls) printf "  %7.1f  %s\n", cls[k] / runs, k | "sort -k1,1gr | head -n 12"
			close("sort -k1,1gr | head -n 12")
			print "samples per start by our outermost frame (method):"
			for (k in m) printf "  %7.1f  %s\n", m[k] / runs, k | "sort -k1,1gr | head -n 12"
			close("sort -k1,1gr | head -n 12")
			printf "OURS_PER_START %.1f\n", ours / runs
		}' | sed 's/io\.github\.gracefulshutdown\.//g' >"$TMP/jfr-summary.txt"
	grep -v '^OURS_PER_START' "$TMP/jfr-summary.txt" | tee "$OUT/jfr-summary.txt" >&2
	JFR_OURS=$(awk '/^OURS_PER_START/ { print $2 }' "$TMP/jfr-summary.txt")
fi
echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/setup.txt"

# ---------------------------------------------------------------- result
RESULT="RESULT n=$N jdk=$JDK wall_median_ms_plain=${MED[wall_plain]} wall_median_ms_starter=${MED[wall_starter]} wall_ratio=$(ratio "${MED[wall_starter]}" "${MED[wall_plain]}")"
RESULT+=" started_median_ms_plain=${MED[started_plain]} started_median_ms_starter=${MED[started_starter]} started_ratio=$(ratio "${MED[started_starter]}" "${MED[started_plain]}")"
((NOSCAN == 1)) && RESULT+=" wall_median_ms_noscan=${MED[wall_noscan]} started_median_ms_noscan=${MED[started_noscan]}"
RESULT+=" our_ms=$OUR_TOTAL our_steps_self_ms=$OUR_STEPS our_post_processors_ms=$OUR_BPP suspects_ms=$SUSPECTS classes_plain/starter=$CLASSES jfr_samples_ours_per_start=$JFR_OURS"
echo "$RESULT" | tee -a "$OUT/summary.txt"
echo "details in $OUT"
