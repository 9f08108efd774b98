#!/usr/bin/env bash
# What the starter costs a user's own test suite: `mvn test` of bench/test-suite-app (a
# small webmvc + actuator service with graceful-shutdown.drain-delay=5s in its
# application.properties and three @SpringBootTest classes: MOCK with MockMvc,
# RANDOM_PORT over real HTTP, and one with @DirtiesContext), timed with and without the
# starter.
#
#   bench/test-suite.sh [RUNS]          (default 5 runs of each variant)
#   bench/test-suite.sh --summary DIR   (reprint the summary of a saved run)
#
# 1. Build. install_private (lib.sh) installs this worktree's starter into a private local
#    repository (bench/target/m2, with ~/.m2 as a read-only tail), never into ~/.m2.
#    SKIP_INSTALL=1 keeps what is there.
# 2. Warm-up: one unmeasured `mvn test` of each variant. It compiles each into its own
#    build directory (target/starter, target/plain) and downloads into the private
#    repository whatever it lacks (the only step that may go online).
# 3. Timed runs: RUNS rounds, each variant once a round, in ABBA order (plain starter,
#    starter plain, ...), so slow drift in the machine's load hits both alike. Every run is
#    the same `mvn -B -o test` (offline, the same local repository, classes already
#    compiled), with -Dstarter=off for the variant without the starter. Per run:
#      wall_s      the whole `mvn test`, start to exit, measured here
#      surefire_s  the sum of surefire's "Time elapsed" over the test classes. It includes
#                  the close of a @DirtiesContext context (after its class), but not the
#                  close of the contexts Spring's test context cache holds until the
#                  test JVM exits
#      exit_s      from the last test class's result line to surefire's "Results:": the
#                  test JVM's exit, where the cached contexts are closed. Surefire shows
#                  nothing of it: the fork's output is no longer forwarded by then
#      mvn_total_s Maven's own "Total time" (without the JVM's and the wrapper's start)
#      cpu_s       user + system CPU time of the whole run, Maven and the test JVM
#      load1       the 1-minute load average as the run started
#    The drain delay is a sleep: it adds wall time and no CPU time. On a machine shared
#    with other builds the CPU-bound rest of a run stretches with the load and the sleep
#    does not, so wall ratios are only comparable between runs at the same load: read
#    load1, and take the ratio from a quiet machine.
#    Prints every run, the medians, the ratios starter/plain of the medians and the
#    median of the ratios within a round (two runs back to back).
# 4. Diagnosis (DIAG=1, the default): one more run with the starter, its test JVM logging
#    to a file as well (-DargLine=-Dlogging.file.name=...), which does see the closes at
#    fork exit. Prints each "Shutdown requested" line (the drain delay's start) and each
#    verdict of our coordinator, with its time after the last test class ended (negative:
#    before it).
#
# Prints one line at the end:
#   RESULT runs=.. jdk=.. tests=.. wall_median_s_plain=.. wall_median_s_starter=..
#          wall_ratio=.. wall_paired_ratio=.. surefire_median_s_plain=.. ... exit_median_s_starter=..
#          cpu_median_s_plain=.. cpu_median_s_starter=.. load1_range=..  within_5pct=yes|no
# (within_5pct: wall_ratio <= 1.05, issue 15's goal) and keeps every log and surefire
# report in bench/results/<timestamp>-test-suite/ (git-ignored).
#
# Fails, with the end of the run's log, if any run fails (a test failure included), if a
# run shows no test results, if the two variants ran different numbers of tests, if the
# starter run did not load the starter or the plain run did.
#
# Environment: JAVA_HOME (default: java on PATH, for Maven and the tests), RUNS_TIMEOUT
# [600 s per run], SKIP_INSTALL [0], DIAG [1], MVN_ARGS (extra Maven arguments, every run).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

APP_DIR=$BENCH_DIR/test-suite-app

# ================================================================ summary
# Reads only $OUT/runs.txt (and $OUT/diag.txt if there), so --summary can reprint a saved run.

# stats VARIANT COLUMN -> "median min max n"
stats() {
	awk -v v="$1" -v c="$2" 'NR > 1 && $2 == v { print $c }' "$OUT/runs.txt" | sort -g | awk '
		{ x[NR] = $1 }
		END { printf "%.2f %.2f %.2f %d\n", (NR % 2) ? x[(NR + 1) / 2] : (x[NR / 2] + x[NR / 2 + 1]) / 2, x[1], x[NR], NR }'
}

# paired_ratio COLUMN -> median over the rounds of starter / plain
paired_ratio() {
	awk -v c="$1" 'NR > 1 { x[$1, $2] = $c; r[$1] = 1 }
		END { for (k in r) if (((k, "plain") in x) && ((k, "starter") in x)) printf "%.6f\n", x[k, "starter"] / x[k, "plain"] }' "$OUT/runs.txt" |
		sort -g | awk '{ x[NR] = $1 } END { printf "%.3f", (NR % 2) ? x[(NR + 1) / 2] : (x[NR / 2] + x[NR / 2 + 1]) / 2 }'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }

summarize() {
	local col name v med min max rounds tests jdk result
	declare -A MED=()
	rounds=$(awk 'NR > 1 { r[$1] = 1 } END { print length(r) }' "$OUT/runs.txt")
	tests=$(awk 'NR > 1 { print $7; exit }' "$OUT/runs.txt")
	jdk=$(sed -n 's/^jdk=//p' "$OUT/setup.txt" 2>/dev/null || true)
	{
		echo "mvn test of bench/test-suite-app, $rounds rounds, each variant once a round, ABBA order"
		echo "runs:"
		sed 's/^/  /' "$OUT/runs.txt"
		printf '  %-11s %-8s %8s %8s %8s\n' figure variant median min max
		for col in 3:wall_s 4:surefire_s 5:exit_s 6:mvn_total_s 8:cpu_s; do
			name=${col#*:}
			for v in plain starter; do
				read -r med min max _ < <(stats "$v" "${col%%:*}")
				MED[${name}_$v]=$med
				printf '  %-11s %-8s %8s %8s %8s\n' "$name" "$v" "$med" "$min" "$max"
			done
		done
		for col in 3:wall_s 4:surefire_s; do
			name=${col#*:}
			printf '  %-11s starter/plain: of the medians %s, median within a round %s\n' "$name" \
				"$(ratio "${MED[${name}_starter]}" "${MED[${name}_plain]}")" "$(paired_ratio "${col%%:*}")"
		done
		[[ -f $OUT/diag.txt ]] && cat "$OUT/diag.txt"
		sed -n 's/^load /load /p' "$OUT/setup.txt" 2>/dev/null | sed 's/^/  /'
	} >"$OUT/summary.txt"
	cat "$OUT/summary.txt" >&2
	local wall_ratio
	wall_ratio=$(ratio "${MED[wall_s_starter]}" "${MED[wall_s_plain]}")
	result="RESULT runs=$rounds jdk=${jdk:-?} tests=$tests"
	result+=" wall_median_s_plain=${MED[wall_s_plain]} wall_median_s_starter=${MED[wall_s_starter]}"
	result+=" wall_ratio=$wall_ratio wall_paired_ratio=$(paired_ratio 3)"
	result+=" surefire_median_s_plain=${MED[surefire_s_plain]} surefire_median_s_starter=${MED[surefire_s_starter]}"
	result+=" surefire_ratio=$(ratio "${MED[surefire_s_starter]}" "${MED[surefire_s_plain]}")"
	result+=" exit_median_s_plain=${MED[exit_s_plain]} exit_median_s_starter=${MED[exit_s_starter]}"
	result+=" cpu_median_s_plain=${MED[cpu_s_plain]} cpu_median_s_starter=${MED[cpu_s_starter]}"
	result+=" load1_range=$(awk 'NR > 1 { if (min == "" || $9 < min) min = $9; if ($9 > max) max = $9 } END { print min ".." max }' "$OUT/runs.txt")"
	result+=" within_5pct=$(awk -v r="$wall_ratio" 'BEGIN { print (r <= 1.05) ? "yes" : "no" }')"
	echo "$result" | tee -a "$OUT/summary.txt"
	echo "details in $OUT"
}

if [[ ${1:-} == --summary ]]; then
	OUT=${2:?usage: $0 --summary bench/results/<dir>}
	[[ -f $OUT/runs.txt ]] || die "$OUT/runs.txt not found"
	summarize
	exit 0
fi

# ================================================================ measurement
RUNS=${1:-5}
[[ $RUNS =~ ^[0-9]+$ ]] && ((RUNS >= 1)) || { echo "usage: $0 [RUNS>=1] | --summary DIR" >&2; exit 2; }
RUNS_TIMEOUT=${RUNS_TIMEOUT:-600}
SKIP_INSTALL=${SKIP_INSTALL:-0}
DIAG=${DIAG:-1}
MVN_ARGS=${MVN_ARGS:-}
for tool in "$JAVA" timeout awk; do command -v "$tool" >/dev/null || die "$tool not found"; done
JDK=$("$JAVA" -XshowSettings:properties -version 2>&1 | awk -F' = ' '/java.version = / { print $2 }')

OUT=$BENCH_DIR/results/$(date +%Y%m%d-%H%M%S)-test-suite
mkdir -p "$OUT"
trap 'log "interrupted"; exit 130' INT
trap 'log "terminated"; exit 143' TERM

{
	echo "command: $0 $RUNS"
	echo "jdk=$JDK"
	"$JAVA" -version 2>&1 | sed -n 1,2p
	(cd "$ROOT" && ./mvnw -B -v 2>/dev/null | sed -n 1p)
	echo "nproc=$(nproc) $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')"
	echo "commit=$(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD -- graceful-shutdown-autoconfigure graceful-shutdown-starter pom.xml || echo ' (with uncommitted changes)')"
	echo "MVN_ARGS=$MVN_ARGS"
	echo "load before: $(uptime)"
} >"$OUT/setup.txt"

if [[ $SKIP_INSTALL != 1 ]]; then
	install_private
fi
[[ -f $AUTOCONFIGURE_JAR ]] || die "$AUTOCONFIGURE_JAR missing (run without SKIP_INSTALL=1)"
echo "autoconfigure_jar_sha256=$(sha256sum "$AUTOCONFIGURE_JAR" | cut -c1-16)..." >>"$OUT/setup.txt"

# ---------------------------------------------------------------- one run
# mvn_test VARIANT LABEL [ONLINE] [Maven arguments...]: one `mvn test` of the app, its
# output timestamped (seconds since the epoch, then the line) in $OUT/LABEL.log and its
# surefire reports in $OUT/LABEL-reports/; sets WALL_S, CPU_S, SUREFIRE_S, EXIT_S,
# MVN_TOTAL_S, TESTS, COMPILED, LOAD and LAST_CLASS_END, or fails with the end of the log.
mvn_test() {
	local variant=$1 label=$2 online=$3 t0 t1 rc=0 offline=-o TIMEFORMAT='%U %S'
	shift 3
	local args=("$@")
	[[ $online == online ]] && offline=
	[[ $variant == plain ]] && args+=(-Dstarter=off)
	LOAD=$(cut -d' ' -f1 /proc/loadavg)
	t0=$EPOCHREALTIME
	{
		time {
			# shellcheck disable=SC2086 # offline and MVN_ARGS are word lists
			(cd "$ROOT" && timeout -k 10 "$RUNS_TIMEOUT" ./mvnw -B $offline -Dmaven.repo.local="$PRIVATE_REPO" \
				-Dmaven.repo.local.tail="${MAVEN_REPO_TAIL:-$HOME/.m2/repository}" -f "$APP_DIR/pom.xml" \
				$MVN_ARGS "${args[@]}" test 2>&1) |
				while IFS= read -r line; do printf '%s %s\n' "$EPOCHREALTIME" "$line"; done >"$OUT/$label.log" ||
				rc=$?
		}
	} 2>"$OUT/$label.time"
	t1=$EPOCHREALTIME
	CPU_S=$(awk '{ printf "%.2f", $1 + $2 }' "$OUT/$label.time")
	rm -rf "$OUT/$label-reports"
	[[ -d $APP_DIR/target/$variant/surefire-reports ]] &&
		cp -r "$APP_DIR/target/$variant/surefire-reports" "$OUT/$label-reports"
	if ((rc != 0)) || ! grep -q ' \[INFO\] BUILD SUCCESS' "$OUT/$label.log"; then
		log "$label: last lines of $OUT/$label.log:"
		tail -n 40 "$OUT/$label.log" | cut -d' ' -f2- >&2
		((rc == 124 || rc == 137)) && die "$label: mvn test did not end within $RUNS_TIMEOUT s"
		die "$label: mvn test failed (status $rc); see $OUT/$label.log and $OUT/$label-reports"
	fi
	WALL_S=$(awk -v a="$t1" -v b="$t0" 'BEGIN { printf "%.2f", a - b }')
	# Per class: "Tests run: N, Failures: F, Errors: E, Skipped: S, Time elapsed: X s -- in C"
	SUREFIRE_S=$(awk '/Tests run: .*Time elapsed: .* -- in / { sub(/.*Time elapsed: /, ""); s += $1; n++ }
		END { if (n) printf "%.2f", s }' "$OUT/$label.log")
	LAST_CLASS_END=$(awk '/Tests run: .*Time elapsed: .* -- in / { t = $1 } END { print t }' "$OUT/$label.log")
	EXIT_S=$(awk -v last="$LAST_CLASS_END" '/ \[INFO\] Results:$/ { printf "%.2f", $1 - last; exit }' "$OUT/$label.log")
	# Maven's own "Total time:  8.617 s" or "Total time:  01:02 min"
	MVN_TOTAL_S=$(awk '/\[INFO\] Total time: / { v = $(NF - 1)
		if ($NF == "min") { split(v, p, ":"); printf "%.2f", p[1] * 60 + p[2] } else printf "%.2f", v }' "$OUT/$label.log")
	COMPILED=$(grep -c 'Compiling [0-9]* source file' "$OUT/$label.log" || true)
	# The summary line after "Results:", without "Time elapsed"
	TESTS=$(awk '/ \[(INFO|WARNING)\] Tests run: [0-9]+, Failures: 0, Errors: 0, Skipped: [0-9]+$/ { sub(/,$/, "", $5); t = $5 } END { print t }' "$OUT/$label.log")
	[[ -n $SUREFIRE_S && -n $EXIT_S && -n $TESTS ]] && ((TESTS > 0)) ||
		die "$label: no test results in $OUT/$label.log"
	# The variant is what it says: only the starter's runs log its startup budget line.
	local ours
	ours=$(grep -c 'Graceful shutdown budget:' "$OUT/$label.log" || true)
	if [[ $variant == starter ]]; then
		((ours > 0)) || die "$label: the starter did not start (no 'Graceful shutdown budget' line in $OUT/$label.log)"
	else
		((ours == 0)) || die "$label: the starter is on the classpath of the run without it ($OUT/$label.log)"
	fi
}

# ---------------------------------------------------------------- warm-up
declare -A WARM_TESTS=()
log "JDK $JDK; warm-up, then $RUNS timed runs of each variant; results in $OUT"
for v in plain starter; do
	mvn_test "$v" "warmup-$v" online
	log "warm-up $v: wall ${WALL_S} s, surefire ${SUREFIRE_S} s, fork exit ${EXIT_S} s, $TESTS tests"
	WARM_TESTS[$v]=$TESTS
done
((WARM_TESTS[plain] == WARM_TESTS[starter])) ||
	die "the variants ran different numbers of tests: plain ${WARM_TESTS[plain]}, starter ${WARM_TESTS[starter]}"

# ---------------------------------------------------------------- timed runs
RUNS_FMT='%-5s %-8s %8s %10s %7s %11s %5s %7s %6s\n'
# shellcheck disable=SC2059 # the format is a constant
printf "$RUNS_FMT" round variant wall_s surefire_s exit_s mvn_total_s tests cpu_s load1 >"$OUT/runs.txt"
for ((r = 1; r <= RUNS; r++)); do
	order=(plain starter)
	((r % 2 == 0)) && order=(starter plain)
	for v in "${order[@]}"; do
		mvn_test "$v" "run-$r-$v" offline
		((TESTS == WARM_TESTS[plain])) || die "run-$r-$v ran $TESTS tests, the warm-up ${WARM_TESTS[plain]}"
		((COMPILED == 0)) || log "WARNING: run-$r-$v compiled sources: it did not start from the warm state"
		# shellcheck disable=SC2059
		printf "$RUNS_FMT" "$r" "$v" "$WALL_S" "$SUREFIRE_S" "$EXIT_S" "$MVN_TOTAL_S" "$TESTS" "$CPU_S" "$LOAD" >>"$OUT/runs.txt"
		log "run $r $v: wall ${WALL_S} s, surefire ${SUREFIRE_S} s, fork exit ${EXIT_S} s, mvn ${MVN_TOTAL_S} s, cpu ${CPU_S} s, $TESTS tests, load $LOAD"
	done
done
echo "load after the timed runs: $(uptime)" >>"$OUT/setup.txt"

# ---------------------------------------------------------------- diagnosis
if [[ $DIAG == 1 ]]; then
	log "diagnosis: one run with the starter, the test JVM also logging to $OUT/diag-app.log"
	rm -f "$OUT/diag-app.log"
	mvn_test starter diag offline "-DargLine=-Dlogging.file.name=$OUT/diag-app.log"
	[[ -s $OUT/diag-app.log ]] || die "diag: the test JVM wrote no $OUT/diag-app.log"
	# Log lines start with an ISO time in UTC; LAST_CLASS_END is seconds since the epoch.
	{
		echo "diagnosis (run 'diag', with the starter): drain-delay waits and verdicts, seconds after the last test class ended"
		echo "  (the contexts closed after that are the ones Spring's test context cache held until the test JVM exited;"
		echo "  their lines are in $OUT/diag-app.log only: surefire no longer forwards the fork's output)"
		grep -E 'ShutdownCoordinator .*: (Shutdown requested|Graceful shutdown (COMPLETED|TIMED_OUT))|drain-delay.*skip' "$OUT/diag-app.log" |
			while IFS= read -r line; do
				ts=$(date -d "${line%% *}" +%s.%N 2>/dev/null || echo '')
				[[ -n $ts ]] || continue
				printf '  %+7.2f s  %s\n' "$(awk -v a="$ts" -v b="$LAST_CLASS_END" 'BEGIN { print a - b }')" \
					"$(sed -E 's/^[^ ]+ +[A-Z]+ +[0-9]+ --- \[[^]]*\] \[ *([^]]*)\] [^ ]+ +: /[\1] /' <<<"$line")"
			done
		echo "  fork exit of that run: ${EXIT_S} s; wall ${WALL_S} s"
	} >"$OUT/diag.txt"
fi
echo "load at the end: $(uptime)" >>"$OUT/setup.txt"

summarize
