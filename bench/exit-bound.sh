#!/usr/bin/env bash
# Exit bound: does the budget the app states at startup bound the process, whatever
# blocks its close?
#
#   bench/exit-bound.sh [RUNS]        (default 20 runs)
#
# Each run starts the demo app on 127.0.0.1:18095 with
#   --spring.lifecycle.timeout-per-shutdown-phase=3s --demo.light.unit=300ms
#   --demo.heavy.unit=600ms --demo.scheduled.enabled=false --demo.journal=<results>/journal-N.log
# and one blocker, drawn at random from a shuffled deck that holds each blocker
# RUNS / 4 times (the first RUNS % 4 blockers once more):
#   blocking-stop         --demo.blocking-stop=60s         a stop() in phase MAX_VALUE that blocks
#   blocking-pre-destroy  --demo.blocking-pre-destroy=60s  a @PreDestroy that blocks
#   never-calls-back      --demo.never-stops=true          a stop(Runnable) that never calls back
#   slow-exit-hook        --demo.slow-exit-hook=60s        a JVM shutdown hook of its own that takes 60 s
# It waits for readiness, reads the budget from the startup line
#   Graceful shutdown budget: drain-delay 0 s + deadline 3 s + margin 5 s = 8 s; ...
# starts GET /slow?ms=2500 with curl, waits until the journal shows it in flight (a slow
# START without its END), sends SIGTERM and waits for the JVM to exit. Per run it records:
#   blocker     which blocker the run had
#   budget_s    the budget stated at startup (the sum, margin included)
#   exit_ms     ms from SIGTERM to the process exit (bash's wait on the JVM)
#   over_ms     exit_ms - budget: > 0 means the process outlived the budget it stated
#   status      the exit status: 124 if the watchdog halted, 143 after a normal exit
#   request     curl's status for the request in flight at SIGTERM
#   cut         journal units with a START and no END (work cut in half)
#   tail_ms     ms from the last log line's timestamp to the exit: for a halt, what the JVM
#               takes to halt once the ERROR block is logged
#   ending      what the log says last: halt (the watchdog's ERROR block) or the verdict
# and prints the median and max of over_ms. The goal: max over_ms < 1000.
#
# Expect blocking-stop runs to be about 0.3 s later than the others: the watchdog halts
# while Tomcat still runs (it stops in a later phase), and HotSpot's halt waits up to
# 300 ms for threads in native code, such as Tomcat's acceptor in accept(), to block.
#
# Prints one line:
#   RESULT runs=20 over_median_ms=... over_max_ms=... goal_max_below_1000_ms=met ...
# and keeps per-run logs, journals and the table in bench/results/<timestamp>-exit-bound/.
#
# Environment: JAVA_HOME (default: java on PATH), JAVA_OPTS, PORT [18095], DEADLINE [3s],
# BLOCK [60s] (how long each blocker blocks), SEED (for $RANDOM, to repeat a deck).
set -euo pipefail

RUNS=${1:-20}
[[ $RUNS =~ ^[0-9]+$ ]] && ((RUNS >= 1)) || { echo "usage: $0 [RUNS>=1]" >&2; exit 2; }
PORT=${PORT:-18095}
DEADLINE=${DEADLINE:-3s}
BLOCK=${BLOCK:-60s}
[[ -n ${SEED:-} ]] && RANDOM=$SEED
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
DEMO_ARGS=(--spring.lifecycle.timeout-per-shutdown-phase="$DEADLINE" --demo.light.unit=300ms
	--demo.heavy.unit=600ms --demo.scheduled.enabled=false)
BLOCKERS=(blocking-stop blocking-pre-destroy never-calls-back slow-exit-hook)
REQUEST=/slow?ms=2500

blocker_args() {
	case $1 in
		blocking-stop) echo "--demo.blocking-stop=$BLOCK" ;;
		blocking-pre-destroy) echo "--demo.blocking-pre-destroy=$BLOCK" ;;
		never-calls-back) echo "--demo.never-stops=true" ;;
		slow-exit-hook) echo "--demo.slow-exit-hook=$BLOCK" ;;
		*) die "unknown blocker $1" ;;
	esac
}

for tool in "$JAVA" curl ss awk shuf; do command -v "$tool" >/dev/null || die "$tool not found"; done
ensure_jar
require_free_port "$PORT"

OUT=$BENCH_DIR/results/$(date +%Y%m%d-%H%M%S)-exit-bound
mkdir -p "$OUT"
TMP=$(mktemp -d /tmp/exit-bound.XXXXXX)

copy_jar "$TMP"

CURL=
trap_one_app
trap 'cleanup_one_app; [[ -n $CURL ]] && kill "$CURL" 2>/dev/null; true' EXIT

# The deck: each blocker equally often, shuffled with $RANDOM (repeatable with SEED).
DECK=()
for ((i = 0; i < RUNS; i++)); do DECK+=("${BLOCKERS[i % ${#BLOCKERS[@]}]}"); done
for ((i = RUNS - 1; i > 0; i--)); do
	j=$((RANDOM % (i + 1)))
	t=${DECK[i]}
	DECK[i]=${DECK[j]}
	DECK[j]=$t
done

{
	echo "command: $0 $RUNS"
	echo "demo args: --server.address=$HOST --server.port=$PORT ${DEMO_ARGS[*]} --demo.journal=journal-N.log <blocker>"
	echo "blockers: $(for b in "${BLOCKERS[@]}"; do printf '%s=%s ' "$b" "$(blocker_args "$b")"; done)"
	echo "deck: ${DECK[*]}"
	echo "jar_sha256=$(sha256sum "$TMP/demo-app.jar" | cut -c1-16)..."
	"$JAVA" -version 2>&1 | sed -n 1,2p
	echo "nproc=$(nproc) $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')"
	echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$OUT/setup.txt"

request_in_flight() { # the journal has a slow START without its END
	[[ -f $1 ]] && awk '$2 == "slow" && $1 == "START" { open[$3] = 1 } $2 == "slow" && $1 == "END" { delete open[$3] }
		END { for (k in open) exit 0; exit 1 }' "$1"
}

printf '%-4s %-21s %8s %9s %9s %6s %7s %3s %8s %s\n' run blocker budget_s exit_ms over_ms status request cut tail_ms ending >"$OUT/runs.txt"
for ((i = 1; i <= RUNS; i++)); do
	blocker=${DECK[i - 1]}
	journal=$OUT/journal-$i.log
	applog=$OUT/app-$i.log
	start_app "$i" "${DEMO_ARGS[@]}" --demo.journal="$journal" "$(blocker_args "$blocker")"

	budget=$(grep -m1 -o 'Graceful shutdown budget: .* = [0-9.]* s;' "$applog" | sed 's/.* = \([0-9.]*\) s;/\1/' || true)
	[[ -n $budget ]] || die "run $i: no budget line in $applog"

	curl -s -o /dev/null -w '%{http_code}' --max-time 30 "http://$HOST:$PORT$REQUEST" >"$TMP/curl-$i" 2>/dev/null &
	CURL=$!
	for _ in $(seq 500); do request_in_flight "$journal" && break; sleep 0.02; done
	request_in_flight "$journal" || die "run $i: GET $REQUEST never showed in flight in $journal"

	# EPOCHREALTIME (seconds, 6 decimals) read without a fork, right before and after.
	t_kill=$EPOCHREALTIME
	kill -TERM "$APP"
	rc=0
	wait "$APP" || rc=$?
	t_exit=$EPOCHREALTIME
	APP=
	wait "$CURL" 2>/dev/null || true
	CURL=
	request=$(cat "$TMP/curl-$i")
	t_kill=${t_kill/./} t_exit=${t_exit/./} # epoch microseconds
	exit_ms=$(awk -v a="$t_exit" -v b="$t_kill" 'BEGIN { printf "%.1f", (a - b) / 1000 }')
	over_ms=$(awk -v e="$exit_ms" -v b="$budget" 'BEGIN { printf "%.1f", e - b * 1000 }')
	cut=$(awk '$1 == "START" { s[$2 " " $3] = 1 } $1 == "END" { delete s[$2 " " $3] } END { n = 0; for (k in s) n++; print n }' "$journal")
	if grep -q 'is spent and the process is still alive' "$applog"; then
		ending=halt:$(grep -A1 'is spent and the process is still alive' "$applog" | sed -n 2p | sed 's/^ *//' | cut -c1-60)
	else
		ending=$(grep -o 'Graceful shutdown [A-Z_]* in [0-9.]* s' "$applog" | tail -n1 | sed 's/Graceful shutdown //; s/ /_/g')
		ending=${ending:-none}
	fi
	# The last line with a timestamp (the watchdog's stderr copy has one too), in epoch ms.
	last=$(grep -E '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[^ ]+ +[A-Z]+ ' "$applog" | tail -n1 | cut -d' ' -f1)
	tail_ms=$(awk -v e="$t_exit" -v l="$(date -d "$last" +%s%3N)" 'BEGIN { printf "%.1f", e / 1000 - l }')
	printf '%-4s %-21s %8s %9s %9s %6s %7s %3s %8s %s\n' "$i" "$blocker" "$budget" "$exit_ms" "$over_ms" "$rc" "$request" "$cut" "$tail_ms" "$ending" >>"$OUT/runs.txt"
	log "run $i ($blocker): exit ${exit_ms} ms after SIGTERM, budget ${budget} s, over ${over_ms} ms, status $rc, request $request, cut $cut, exit ${tail_ms} ms after the last line; $ending"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/setup.txt"

stats() { # rows matching blocker $2 (or all), column $1 -> "median max"
	awk -v c="$1" -v b="${2:-}" 'NR > 1 && (b == "" || $2 == b) { print $c }' "$OUT/runs.txt" | sort -g |
		awk '{ v[NR] = $1 } END {
			if (NR == 0) { print "- -"; exit }
			med = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			printf "%.1f %.1f\n", med, v[NR] }'
}
read -r OVER_MED OVER_MAX < <(stats 5)
read -r EXIT_MED EXIT_MAX < <(stats 4)
CUT=$(awk 'NR > 1 { s += $8 } END { print s + 0 }' "$OUT/runs.txt")
NOT_OK=$(awk 'NR > 1 && $7 != 200 { n++ } END { print n + 0 }' "$OUT/runs.txt")
GOAL=$(awk -v m="$OVER_MAX" 'BEGIN { print (m < 1000) ? "met" : "missed" }')

{
	cat "$OUT/runs.txt"
	for b in "${BLOCKERS[@]}"; do
		read -r med max < <(stats 5 "$b")
		echo "over_ms $b: median $med, max $max"
	done
	echo "over_ms (exit - budget): median $OVER_MED, max $OVER_MAX; goal max < 1000 ms: $GOAL"
	echo "exit ms: median $EXIT_MED, max $EXIT_MAX"
	echo "requests in flight at SIGTERM not answered 200: $NOT_OK; units cut: $CUT"
} | tee "$OUT/summary.txt" >&2
RESULT="RESULT runs=$RUNS over_median_ms=$OVER_MED over_max_ms=$OVER_MAX goal_max_below_1000_ms=$GOAL exit_median_ms=$EXIT_MED exit_max_ms=$EXIT_MAX requests_not_200=$NOT_OK cut=$CUT"
echo "$RESULT" | tee -a "$OUT/summary.txt"
echo "details in $OUT"
