#!/usr/bin/env bash
# Startup cost of the starter: the same minimal web app with actuator (bench/startup-app:
# spring-boot-starter-webmvc + spring-boot-starter-actuator) started N times without and
# N times with graceful-shutdown-spring-boot-starter, interleaved, then a look at where
# the starter's time goes.
#
#   bench/startup.sh [N]               (default 20 starts of each variant)
#   bench/startup.sh --summary DIR     (reprint the summary of a saved run)
#
# 1. Build. install_private (lib.sh) installs this worktree's starter into a private local
#    repository (bench/target/m2, with ~/.m2 as a read-only tail), never into ~/.m2; then
#    bench/startup-app is packaged twice: target/plain/startup-app.jar and, with
#    -Pstarter, target/starter/startup-app.jar. SKIP_BUILD=1 reuses the jars.
# 2. Timed starts. The app halts the JVM as soon as SpringApplication.run() returns (right
#    after ApplicationReadyEvent), so nothing of a shutdown is timed. Per start:
#      wall_ms     the whole process, fork to exit, measured here (EPOCHREALTIME)
#      cpu_ms      its user + system CPU time (bash's time), all threads (JIT, GC too)
#      started_ms  Spring's own "Started StartupApp in N seconds"
#      uptime_ms   its "(process running for N)": JVM start to that line
#      main_ms     CPU time of the main thread, which does nearly all the startup work,
#                  up to ready (ThreadMXBean)
#    On a machine shared with other builds the wall figures also count the time spent
#    waiting for a core; the CPU figures do not, and are much less noisy.
#    WARMUP unmeasured starts of each variant come first. The measured starts alternate
#    in ABBA order (plain starter, starter plain, ...) so that slow drift in the load of
#    the machine hits both alike. Prints median, mean, min and max of each figure per
#    variant and the ratios starter/plain, and the mean and standard error of the
#    differences within each round (two starts taken back to back): on a shared machine
#    these are far less noisy than the difference of the medians.
# 3. Steps (STEPS starts of the starter variant, -Dstartup.steps=true): Spring's
#    BufferingApplicationStartup records every step, with its wall and its thread's CPU
#    time (CpuTimingStartup), and the starter's bean
#    post-processors are wrapped so that their calls for every bean, which show in no
#    step, are timed too (bench/startup-app: PostProcessorTimer, StepReport). Prints the
#    median per step of ours (bean name, type or defining class in io.github.gracefulshutdown),
#    per post-processor phase, and per class of ours, and the total.
# 4. Class loading: one start of each variant with -Xlog:class+load, counted.
# 5. JFR (JFR starts of the starter variant): execution samples every 1 ms up to "ready";
#    prints where the samples that have a frame of ours land, grouped by our outermost
#    frame (method and class), and an estimate in ms (main-thread CPU time per
#    main-thread sample). Samples only land in Java code: class loading and other work
#    inside the JVM do not show. Needs a JDK with the jfr tool next to java.
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
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

JFR_TOOL=$(dirname "$(readlink -f "$(command -v "$JAVA" || echo "$JAVA")")")/jfr

# ================================================================ summary
# Everything below reads only the files of a results directory $OUT (runs.txt,
# steps.txt, classes-*.txt, jfr-*.jfr and the logs), so --summary can reprint a saved run.

median() { sort -g | awk '{ x[NR] = $1 } END { if (NR) printf "%.1f\n", (NR % 2) ? x[(NR + 1) / 2] : (x[NR / 2] + x[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f", a / b }'; }
diff_ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.1f", a - b }'; }

# stats VARIANT COLUMN -> "median mean min max n"
stats() {
	awk -v v="$1" -v c="$2" 'NR > 1 && $2 == v { print $c }' "$OUT/runs.txt" | sort -g | awk '
		{ x[NR] = $1; s += $1 }
		END {
			med = (NR % 2) ? x[(NR + 1) / 2] : (x[NR / 2] + x[NR / 2 + 1]) / 2
			printf "%.1f %.1f %.1f %.1f %d\n", med, s / NR, x[1], x[NR], NR
		}'
}

# paired A B COLUMN -> "mean se median" of A - B within each round
paired() {
	awk -v a="$1" -v b="$2" -v c="$3" 'NR > 1 { x[$1, $2] = $c; r[$1] = 1 }
		END { for (k in r) if (((k, a) in x) && ((k, b) in x)) print x[k, a] - x[k, b] }' "$OUT/runs.txt" | sort -g | awk '
		{ d[NR] = $1; s += $1; ss += $1 * $1 }
		END {
			m = s / NR; sd = (NR > 1) ? sqrt((ss - NR * m * m) / (NR - 1)) : 0
			med = (NR % 2) ? d[(NR + 1) / 2] : (d[NR / 2] + d[NR / 2 + 1]) / 2
			printf "%+.1f %.1f %+.1f\n", m, sd / sqrt(NR), med
		}'
}

FIGURES="3:wall 4:cpu 5:started 6:uptime 7:main"
declare -A MED=() PAIRED=()

summary_timed() {
	local col f v med mean min max mean_d se med_d pair
	VARIANTS=()
	for v in plain starter noscan; do
		awk -v v="$v" 'NR > 1 && $2 == v { found = 1 } END { exit !found }' "$OUT/runs.txt" && VARIANTS+=("$v")
	done
	ROUNDS=$(awk 'NR > 1 { r[$1] = 1 } END { print length(r) }' "$OUT/runs.txt")
	for col in $FIGURES; do
		for v in "${VARIANTS[@]}"; do
			read -r med _ < <(stats "$v" "${col%%:*}")
			MED[${col#*:}_$v]=$med
		done
	done
	PAIRS=("starter plain")
	[[ " ${VARIANTS[*]} " == *" noscan "* ]] && PAIRS+=("noscan plain" "starter noscan")
	for pair in "${PAIRS[@]}"; do
		for col in $FIGURES; do
			# shellcheck disable=SC2086 # pair is two words
			PAIRED[${col#*:}_${pair// /-}]=$(paired $pair "${col%%:*}")
		done
	done
	{
		echo "timed starts, ms (JDK $JDK, $ROUNDS rounds, each variant once a round, ABBA order):"
		printf '  %-8s %-8s %9s %9s %9s %9s\n' figure variant median mean min max
		for col in $FIGURES; do
			for v in "${VARIANTS[@]}"; do
				read -r med mean min max _ < <(stats "$v" "${col%%:*}")
				printf '  %-8s %-8s %9s %9s %9s %9s\n' "${col#*:}" "$v" "$med" "$mean" "$min" "$max"
			done
		done
		echo "differences, ms: of the medians (ratio), and within each round: mean +- standard error (median)"
		for pair in "${PAIRS[@]}"; do
			for col in $FIGURES; do
				f=${col#*:}
				read -r mean_d se med_d <<<"${PAIRED[${f}_${pair// /-}]}"
				printf '  %-8s %-15s medians %+8.1f (%s)   per round %7s +- %5s (%s)\n' "$f" "${pair/ / - }" \
					"$(diff_ms "${MED[${f}_${pair%% *}]}" "${MED[${f}_${pair##* }]}")" \
					"$(ratio "${MED[${f}_${pair%% *}]}" "${MED[${f}_${pair##* }]}")" "$mean_d" "$se" "$med_d"
			done
		done
		echo "  beans: plain $(awk 'NR > 1 && $2 == "plain" { print $8; exit }' "$OUT/runs.txt"), starter $(awk 'NR > 1 && $2 == "starter" { print $8; exit }' "$OUT/runs.txt")"
	} >"$OUT/summary.txt"
	cat "$OUT/summary.txt" >&2
}

OUR_TOTAL=- OUR_STEPS=- OUR_BPP=- OUR_TOTAL_CPU=- OUR_STEPS_CPU=- OUR_BPP_CPU=- SUSPECTS=-
summary_steps() {
	[[ -s $OUT/steps.txt ]] || return 0
	local runs
	runs=$(awk '{ r[$1] = 1 } END { print length(r) }' "$OUT/steps.txt")
	# median over the runs of the values given as "key value" lines
	median_by_key() {
		sort -k1,1 -k2,2g | awk '
			$1 != k { if (n) out(); k = $1; n = 0 }
			{ x[++n] = $2 }
			END { if (n) out() }
			function out() { printf "%s %.3f\n", k, (n % 2) ? x[(n + 1) / 2] : (x[n / 2] + x[n / 2 + 1]) / 2 }'
	}
	short() { sed 's/io\.github\.gracefulshutdown\.//g'; }
	# med TYPE KEY_FIELDS VALUE_FIELD: median per key over the runs
	med() { awk -v t="$1" -v key="$2" -v f="$3" '$2 == t { n = split(key, k, ","); s = $k[1]; for (i = 2; i <= n; i++) s = s "|" $k[i]; print s, $f }' "$OUT/steps.txt" | median_by_key; }
	{
		echo "steps of ours (median over $runs starts; self = without the steps nested in it; wall and thread CPU):"
		printf '  %9s %9s %9s %9s  %s\n' total_ms self_ms total_cpu self_cpu 'step bean -> class charged'
		med STEP 7,8,9 3 >"$TMP/a"; med STEP 7,8,9 4 >"$TMP/b"; med STEP 7,8,9 5 >"$TMP/c"; med STEP 7,8,9 6 >"$TMP/d"
		join "$TMP/a" "$TMP/b" | join - "$TMP/c" | join - "$TMP/d" | sort -k5,5gr |
			awk '{ split($1, p, "|"); sub(/^spring\.beans\./, "", p[1]); printf "  %9.3f %9.3f %9.3f %9.3f  %s %s -> %s\n", $2, $3, $4, $5, p[1], p[2], p[3] }' | short
		echo "post-processor calls (median; own = without the bean creations nested in them):"
		printf '  %-36s %-17s %6s %9s %9s %9s %9s %9s %9s\n' post-processor phase calls ms nested own cpu nested_cpu own_cpu
		for f in 7 8 9 10 11 12; do med BPP 4,5,6 "$f" >"$TMP/bpp-$f"; done
		join "$TMP/bpp-7" "$TMP/bpp-8" | join - "$TMP/bpp-9" | join - "$TMP/bpp-10" | join - "$TMP/bpp-11" | join - "$TMP/bpp-12" | sort -k7,7gr |
			awk '{ split($1, p, "|"); printf "  %-36s %-17s %6s %9.3f %9.3f %9.3f %9.3f %9.3f %9.3f\n", p[1], p[2], p[3], $2, $3, $4, $5, $6, $7 }' | short
		grep ' BPP-UNTIMED ' "$OUT/steps.txt" | sort -u | sed 's/^/  not timed: /' || true
		echo "by class of ours (median over the starts of step self time + post-processor own time, wall and CPU):"
		printf '  %9s %9s  %s\n' ms cpu_ms class
		awk '$2 == "STEP" { s[$1 " " $9] += $4 } $2 == "BPP" { s[$1 " " $4] += $9 } END { for (k in s) { split(k, p, " "); print p[2], s[k] } }' "$OUT/steps.txt" | median_by_key >"$TMP/cls-wall"
		awk '$2 == "STEP" { s[$1 " " $9] += $6 } $2 == "BPP" { s[$1 " " $4] += $12 } END { for (k in s) { split(k, p, " "); print p[2], s[k] } }' "$OUT/steps.txt" | median_by_key >"$TMP/cls-cpu"
		join "$TMP/cls-wall" "$TMP/cls-cpu" | sort -k3,3gr | awk '{ printf "  %9.3f %9.3f  %s\n", $2, $3, $1 }' | short | tee "$TMP/classes"
		echo "totals (median over $runs starts):"
		awk '$2 == "STEPS" || $2 == "OURS" { for (i = 3; i <= NF; i++) { split($i, kv, "="); print kv[1], kv[2] } }' "$OUT/steps.txt" |
			median_by_key | tee "$TMP/totals" | sed 's/^/  /'
	} >"$OUT/steps-summary.txt"
	cat "$OUT/steps-summary.txt" >&2
	total() { awk -v k="$1" '$1 == k { print $2 }' "$TMP/totals"; }
	OUR_TOTAL=$(total total_ms) OUR_STEPS=$(total steps_self_ms) OUR_BPP=$(total post_processors_ms)
	OUR_TOTAL_CPU=$(total total_cpu_ms) OUR_STEPS_CPU=$(total steps_self_cpu_ms) OUR_BPP_CPU=$(total post_processors_cpu_ms)
	# The three classes of ours with the most CPU time, "Class:cpu_ms".
	SUSPECTS=$(head -n 3 "$TMP/classes" | awk '{ n = $3; sub(/.*\./, "", n); printf "%s%s:%.1f", (NR > 1) ? "," : "", n, $2 }')
}

CLASSES=-
summary_classes() {
	[[ -f $OUT/classes-plain.txt && -f $OUT/classes-starter.txt ]] || return 0
	local plain starter ours
	plain=$(grep -c '\[class,load\]' "$OUT/classes-plain.txt" || true)
	starter=$(grep -c '\[class,load\]' "$OUT/classes-starter.txt" || true)
	ours=$(grep '\[class,load\]' "$OUT/classes-starter.txt" | grep -c ' io\.github\.gracefulshutdown\.' || true)
	CLASSES="$plain/$starter"
	echo "classes loaded up to ready: plain $plain, starter $starter ($((starter - plain)) more; $ours of them io.github.gracefulshutdown)" |
		tee -a "$OUT/summary.txt" >&2
}

JFR_OURS=- JFR_OURS_MS=-
summary_jfr() {
	local files=("$OUT"/jfr-*.jfr) f main_ms
	[[ -f ${files[0]} ]] || return 0
	[[ -x $JFR_TOOL ]] || { log "no jfr tool at $JFR_TOOL: skipping the JFR summary"; return 0; }
	for f in "${files[@]}"; do
		"$JFR_TOOL" print --events jdk.ExecutionSample --stack-depth 512 "$f" >"$TMP/$(basename "$f" .jfr).txt"
	done
	# main-thread CPU of the JFR starts (their READY lines), to turn samples into ms
	main_ms=$(awk '/^READY / { sub(/.*main_cpu_ms=/, ""); s += $1; n++ } END { if (n) printf "%.0f", s / n }' "$OUT"/jfr-*.log)
	# For each sample: its thread, and the outermost frame of ours (the entry point into
	# our code that the sample's time belongs to), if any.
	cat "$TMP"/jfr-*.txt | awk -v runs="${#files[@]}" -v main_ms="${main_ms:-0}" '
		/^jdk.ExecutionSample/ { inside = 1; thread = ""; outer = ""; next }
		inside && /sampledThread = / { thread = $0; sub(/.*sampledThread = "/, "", thread); sub(/".*/, "", thread) }
		inside && /^[ \t]+io\.github\.gracefulshutdown\./ { f = $1; sub(/\(.*/, "", f); outer = f }
		inside && /^}/ {
			inside = 0; total++
			if (thread == "main") main++
			if (outer != "") { ours++; if (thread == "main") oursMain++; m[outer]++; c2 = outer; sub(/\.[^.]*$/, "", c2); cls[c2]++ }
		}
		END {
			per = (main ? main_ms * runs / main : 0)
			printf "JFR: %d samples in %d starts (%.0f a start), %d on main; %d with a frame of ours (%.1f a start, %.1f%% of main-thread samples), %d of them on main\n",
				total, runs, total / runs, main, ours, ours / runs, (main ? 100 * oursMain / main : 0), oursMain
			printf "main thread: %.0f ms CPU a start, so one main-thread sample stands for about %.2f ms; ours: about %.1f ms a start\n", main_ms, per, per * oursMain / runs
			print "samples per start by our outermost frame (class), and about that many ms:"
			for (k in cls) printf "  %7.1f %7.1f  %s\n", cls[k] / runs, per * cls[k] / runs, k | "sort -k1,1gr | head -n 12"
			close("sort -k1,1gr | head -n 12")
			print "samples per start by our outermost frame (method), and about that many ms:"
			for (k in m) printf "  %7.1f %7.1f  %s\n", m[k] / runs, per * m[k] / runs, k | "sort -k1,1gr | head -n 12"
			close("sort -k1,1gr | head -n 12")
			printf "OURS_PER_START %.1f %.1f\n", ours / runs, per * oursMain / runs
		}' | sed 's/io\.github\.gracefulshutdown\.//g' >"$TMP/jfr-summary.txt"
	grep -v '^OURS_PER_START' "$TMP/jfr-summary.txt" >"$OUT/jfr-summary.txt"
	cat "$OUT/jfr-summary.txt" >&2
	read -r JFR_OURS JFR_OURS_MS < <(awk '/^OURS_PER_START/ { print $2, $3 }' "$TMP/jfr-summary.txt")
}

summarize() {
	JDK=$(grep -o 'version "[^"]*"' "$OUT/setup.txt" | head -n 1 | cut -d'"' -f2)
	summary_timed
	summary_steps
	summary_classes
	summary_jfr
	local f pair mean_d se
	RESULT="RESULT n=$ROUNDS jdk=$JDK"
	for f in wall cpu started main; do
		RESULT+=" ${f}_median_ms_plain=${MED[${f}_plain]} ${f}_median_ms_starter=${MED[${f}_starter]}"
		[[ -n ${MED[${f}_noscan]:-} ]] && RESULT+=" ${f}_median_ms_noscan=${MED[${f}_noscan]}"
		RESULT+=" ${f}_ratio=$(ratio "${MED[${f}_starter]}" "${MED[${f}_plain]}")"
	done
	for pair in "${PAIRS[@]}"; do
		for f in wall started main; do
			read -r mean_d se _ <<<"${PAIRED[${f}_${pair// /-}]}"
			RESULT+=" ${f}_${pair// /-}_per_round_ms=${mean_d}+-${se}"
		done
	done
	RESULT+=" our_ms=$OUR_TOTAL our_steps_self_ms=$OUR_STEPS our_post_processors_ms=$OUR_BPP"
	RESULT+=" our_cpu_ms=$OUR_TOTAL_CPU our_steps_self_cpu_ms=$OUR_STEPS_CPU our_post_processors_cpu_ms=$OUR_BPP_CPU"
	RESULT+=" suspects_cpu_ms=$SUSPECTS classes_plain/starter=$CLASSES jfr_samples_ours_per_start=$JFR_OURS jfr_ours_ms=$JFR_OURS_MS"
	echo "$RESULT" | tee -a "$OUT/summary.txt"
	echo "details in $OUT"
}

if [[ ${1:-} == --summary ]]; then
	OUT=${2:?usage: $0 --summary bench/results/<dir>}
	[[ -f $OUT/runs.txt ]] || die "$OUT/runs.txt not found"
	TMP=$(mktemp -d /tmp/startup.XXXXXX)
	trap 'rm -rf "$TMP"' EXIT
	summarize
	exit 0
fi

# ================================================================ measurement
N=${1:-20}
[[ $N =~ ^[0-9]+$ ]] && ((N >= 1)) || { echo "usage: $0 [N>=1] | --summary DIR" >&2; exit 2; }
WARMUP=${WARMUP:-1}
STEPS=${STEPS:-3}
JFR=${JFR:-3}
NOSCAN=${NOSCAN:-0}
SKIP_BUILD=${SKIP_BUILD:-0}
START_TIMEOUT=${START_TIMEOUT:-120}
APP_ARGS=${APP_ARGS:-}

for tool in "$JAVA" timeout awk join unzip; do command -v "$tool" >/dev/null || die "$tool not found"; done
JDK=$("$JAVA" -XshowSettings:properties -version 2>&1 | awk -F' = ' '/java.version = / { print $2 }')
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
# WALL_MS, CPU_MS, STARTED_MS, UPTIME_MS, MAIN_MS and BEANS, or fails with the end of the log.
start_once() {
	local variant=$1 label=$2 jar rc=0 t0 t1 line TIMEFORMAT='%U %S'
	shift 2
	local opts=("$@")
	case $variant in
		plain) jar=$TMP/plain.jar ;;
		starter) jar=$TMP/starter.jar ;;
		noscan) jar=$TMP/starter.jar; opts+=(-Dstartup.skip-scan=true) ;;
		*) die "unknown variant $variant" ;;
	esac
	t0=$EPOCHREALTIME
	{
		# shellcheck disable=SC2086 # JAVA_OPTS and APP_ARGS are word lists
		time {
			timeout -k 5 "$START_TIMEOUT" "$JAVA" $JAVA_OPTS "${opts[@]}" -jar "$jar" \
				--server.address=$HOST --server.port=0 $APP_ARGS >"$OUT/$label.log" 2>&1 || rc=$?
		}
	} 2>"$TMP/time"
	t1=$EPOCHREALTIME
	line=$(grep -o 'Started StartupApp in [0-9.]* seconds (process running for [0-9.]*)' "$OUT/$label.log" || true)
	if ((rc != 0)) || [[ -z $line ]] || ! grep -q '^READY ' "$OUT/$label.log"; then
		log "$label: last lines of $OUT/$label.log:"
		tail -n 30 "$OUT/$label.log" >&2
		((rc == 124 || rc == 137)) && die "$label: not ready within $START_TIMEOUT s"
		die "$label: the app exited with status $rc before it was ready"
	fi
	WALL_MS=$(awk -v a="$t1" -v b="$t0" 'BEGIN { printf "%.1f", (a - b) * 1000 }')
	CPU_MS=$(awk '{ printf "%.0f", ($1 + $2) * 1000 }' "$TMP/time")
	MAIN_MS=$(awk '/^READY / { sub(/.*main_cpu_ms=/, ""); print $1; exit }' "$OUT/$label.log")
	STARTED_MS=$(awk '{ printf "%.0f", $4 * 1000 }' <<<"$line")
	UPTIME_MS=$(awk '{ v = $9; sub(/\)$/, "", v); printf "%.0f", v * 1000 }' <<<"$line")
	BEANS=$(awk '/^READY / { sub(/.*beans=/, ""); print $1; exit }' "$OUT/$label.log")
	[[ -n $MAIN_MS && -n $CPU_MS ]] || die "$label: no CPU figures (see $OUT/$label.log, $TMP/time)"
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
RUNS_FMT='%-5s %-8s %9s %7s %11s %10s %8s %6s\n'
# shellcheck disable=SC2059 # the format is a constant
printf "$RUNS_FMT" run variant wall_ms cpu_ms started_ms uptime_ms main_ms beans >"$OUT/runs.txt"
for ((r = 1; r <= N; r++)); do
	order=("${VARIANTS[@]}")
	if ((r % 2 == 0)); then
		order=()
		for ((k = ${#VARIANTS[@]} - 1; k >= 0; k--)); do order+=("${VARIANTS[k]}"); done
	fi
	for v in "${order[@]}"; do
		start_once "$v" "run-$r-$v"
		# shellcheck disable=SC2059
		printf "$RUNS_FMT" "$r" "$v" "$WALL_MS" "$CPU_MS" "$STARTED_MS" "$UPTIME_MS" "$MAIN_MS" "$BEANS" >>"$OUT/runs.txt"
		log "run $r $v: wall ${WALL_MS} ms, cpu ${CPU_MS} ms, started ${STARTED_MS} ms, uptime ${UPTIME_MS} ms, main thread cpu ${MAIN_MS} ms, $BEANS beans"
	done
done
echo "load after the timed starts: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/setup.txt"

# ---------------------------------------------------------------- steps
if ((STEPS > 0)); then
	log "$STEPS starts of the starter variant with -Dstartup.steps=true"
	: >"$OUT/steps.txt"
	for ((i = 1; i <= STEPS; i++)); do
		start_once starter "steps-$i" -Dstartup.steps=true
		grep -E '^(STEP|CHILD|BPP|BPP-UNTIMED|STEPS|OURS) ' "$OUT/steps-$i.log" | sed "s/^/$i /" >>"$OUT/steps.txt"
		log "steps $i: $(grep '^OURS ' "$OUT/steps-$i.log")"
	done
fi

# ---------------------------------------------------------------- class loading
log "one start of each variant with -Xlog:class+load"
for v in plain starter; do
	start_once "$v" "classes-$v" "-Xlog:class+load=info:file=$OUT/classes-$v.txt"
done

# ---------------------------------------------------------------- JFR
if ((JFR > 0)); then
	log "$JFR starts of the starter variant with JFR (execution samples every 1 ms)"
	for ((i = 1; i <= JFR; i++)); do
		start_once starter "jfr-$i" '-XX:StartFlightRecording:settings=profile,jdk.ExecutionSample#period=1ms' \
			-Dstartup.jfr="$OUT/jfr-$i.jfr"
		[[ -s $OUT/jfr-$i.jfr ]] || die "jfr-$i: no recording written (see $OUT/jfr-$i.log)"
	done
fi
echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/setup.txt"

# ---------------------------------------------------------------- result
summarize
