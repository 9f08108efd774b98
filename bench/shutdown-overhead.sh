#!/usr/bin/env bash
# Shutdown overhead: how much longer than the work itself does a SIGTERM take?
#
#   bench/shutdown-overhead.sh [RUNS]        (default 10 runs)
#
# Each run starts the demo app on 127.0.0.1:18093 with
#   --demo.heavy.unit=3s --demo.light.unit=700ms --spring.lifecycle.timeout-per-shutdown-phase=15s
#   --demo.journal=<results>/journal-N.log
# waits for readiness, then a random 0-3.2 s (one ledger-rebuild cycle: a 3 s unit and a
# 200 ms pause), then until a ledger-rebuild unit is in flight (its last journal line is a
# START), and sends SIGTERM. From the journal (every line ends with the epoch ms at which
# it was written) and the SIGTERM instant it computes:
#   exit_ms       ms from SIGTERM to the process exit (bash's wait on the JVM)
#   remaining_ms  the longest remaining unit at SIGTERM: max over units in flight at SIGTERM
#                 (START before SIGTERM) of END - SIGTERM
#   overhead_ms   exit_ms - remaining_ms: signal handling, cancelling the token, waking the
#                 jobs, the rest of the context close and the JVM's exit
# and checks that no unit was cut (a START without an END). Units that started after
# SIGTERM (a job between two units when the signal came, before the token was cancelled)
# are counted separately.
#
# At the end it runs the token wake-latency unit test
#   ./mvnw -B -o -q -pl graceful-shutdown-autoconfigure test -Dtest=CancellableTokenTests
# and picks up its "token wake latency: median ..." line (TOKEN_TEST=0 skips it).
#
# Prints one line:
#   RESULT runs=10 overhead_median_ms=... overhead_max_ms=... exit_ms=... cut=0 token_wake=...
# and keeps per-run logs, journals and a table in bench/results/<timestamp>-shutdown-overhead/.
#
# Environment: JAVA_HOME (default: java on PATH), JAVA_OPTS, PORT [18093], TOKEN_TEST [1].
set -euo pipefail

RUNS=${1:-10}
[[ $RUNS =~ ^[0-9]+$ ]] && ((RUNS >= 1)) || { echo "usage: $0 [RUNS>=1]" >&2; exit 2; }
PORT=${PORT:-18093}
TOKEN_TEST=${TOKEN_TEST:-1}
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
DEMO_ARGS=(--demo.heavy.unit=3s --demo.light.unit=700ms --spring.lifecycle.timeout-per-shutdown-phase=15s)



for tool in "$JAVA" curl ss awk; do command -v "$tool" >/dev/null || die "$tool not found"; done
ensure_jar
require_free_port "$PORT"

OUT=$BENCH_DIR/results/$(date +%Y%m%d-%H%M%S)-shutdown-overhead
mkdir -p "$OUT"
TMP=$(mktemp -d /tmp/shutdown-overhead.XXXXXX)

copy_jar "$TMP"

trap_one_app

{
	echo "command: $0 $RUNS"
	echo "demo args: --server.address=$HOST --server.port=$PORT ${DEMO_ARGS[*]} --demo.journal=journal-N.log"
	echo "jar_sha256=$(sha256sum "$TMP/demo-app.jar" | cut -c1-16)..."
	"$JAVA" -version 2>&1 | sed -n 1,2p
	echo "nproc=$(nproc) $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')"
	echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$OUT/setup.txt"

rebuild_in_flight() { # the last ledger-rebuild line of the journal is a START
	[[ -f $1 ]] && [[ $(awk '$2 == "ledger-rebuild" { last = $1 } END { print last }' "$1") == START ]]
}

printf '%-4s %8s %9s %12s %11s %-24s %8s %6s %s\n' run delay_ms exit_ms remaining_ms overhead_ms longest_unit in_flight cut started_after >"$OUT/runs.txt"
for ((i = 1; i <= RUNS; i++)); do
	journal=$OUT/journal-$i.log
	start_app "$i" "${DEMO_ARGS[@]}" --demo.journal="$journal"

	delay=$((RANDOM % 3200))
	sleep "$(awk -v d="$delay" 'BEGIN { printf "%.3f", d / 1000 }')"
	until rebuild_in_flight "$journal"; do sleep 0.02; done

	# EPOCHREALTIME (seconds, 6 decimals) read without a fork, right before and after.
	t_kill=$EPOCHREALTIME
	kill -TERM "$APP"
	rc=0
	wait "$APP" || rc=$?
	t_exit=$EPOCHREALTIME
	t_kill=${t_kill/./} t_exit=${t_exit/./} # epoch microseconds
	APP=
	exit_ms=$(awk -v a="$t_exit" -v b="$t_kill" 'BEGIN { printf "%.1f", (a - b) / 1000 }')

	# job unit: START ts / END ts. In flight at SIGTERM: START <= SIGTERM and no END before it.
	read -r remaining longest inflight cut after < <(awk -v sig="$t_kill" '
		BEGIN { sig /= 1000 }
		{ key = $2 " " $3 }
		$1 == "START" { start[key] = $4 }
		$1 == "END" { end[key] = $4 }
		END {
			max = -1; which = "-"; n = 0; cut = 0; after = 0
			for (k in start) {
				if (!(k in end)) cut++
				if (start[k] > sig) { after++; continue }
				if ((k in end) && end[k] < sig) continue
				n++
				if ((k in end) && end[k] - sig > max) { max = end[k] - sig; which = k }
			}
			gsub(" ", "#", which)
			printf "%.1f %s %d %d %d\n", max, which, n, cut, after
		}' "$journal")
	overhead=$(awk -v e="$exit_ms" -v r="$remaining" 'BEGIN { printf "%.1f", e - r }')
	printf '%-4s %8s %9s %12s %11s %-24s %8s %6s %s\n' "$i" "$delay" "$exit_ms" "$remaining" "$overhead" "$longest" "$inflight" "$cut" "$after" >>"$OUT/runs.txt"
	summary=$(grep -o 'Graceful shutdown [A-Z_]* in [0-9.]* s.*' "$OUT/app-$i.log" | cut -c1-120 || true)
	log "run $i: exit ${exit_ms} ms (status $rc), longest remaining ${remaining} ms ($longest), overhead ${overhead} ms, cut $cut; $summary"
	echo "run $i exit_status=$rc $summary" >>"$OUT/summaries.txt"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/setup.txt"

stats() { # column -> "median max list"
	awk -v c="$1" 'NR > 1 { print $c }' "$OUT/runs.txt" | sort -g | awk '{ v[NR] = $1 } END {
		med = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%.1f %.1f\n", med, v[NR] }'
}
list() { awk -v c="$1" 'NR > 1 { print $c }' "$OUT/runs.txt" | paste -sd/; }
read -r OH_MED OH_MAX < <(stats 5)
read -r EX_MED EX_MAX < <(stats 3)
CUT=$(awk 'NR > 1 { s += $8 } END { print s + 0 }' "$OUT/runs.txt")
AFTER=$(awk 'NR > 1 { s += $9 } END { print s + 0 }' "$OUT/runs.txt")

TOKEN=skipped
if [[ $TOKEN_TEST == 1 ]]; then
	log "running CancellableTokenTests for the token wake latency"
	if (cd "$ROOT" && ./mvnw -B -o -q -pl graceful-shutdown-autoconfigure test -Dtest=CancellableTokenTests) >"$OUT/token-test.log" 2>&1; then
		TOKEN=$(grep -o 'token wake latency: .*' "$OUT/token-test.log" | head -n1 | sed 's/token wake latency: //; s/ /_/g')
		[[ -n $TOKEN ]] || TOKEN=not-printed
	else
		TOKEN=test-failed
		log "CancellableTokenTests failed; see $OUT/token-test.log"
	fi
fi

{
	cat "$OUT/runs.txt"
	echo "overhead ms: $(list 5) (median $OH_MED, max $OH_MAX)"
	echo "exit ms: $(list 3) (median $EX_MED, max $EX_MAX)"
	echo "units cut: $CUT; units started after SIGTERM: $AFTER"
	echo "token wake latency: ${TOKEN//_/ }"
} | tee "$OUT/summary.txt" >&2
RESULT="RESULT runs=$RUNS overhead_median_ms=$OH_MED overhead_max_ms=$OH_MAX overhead_ms=$(list 5) exit_median_ms=$EX_MED cut=$CUT started_after_sigterm=$AFTER token_wake=$TOKEN"
echo "$RESULT" | tee -a "$OUT/summary.txt"
echo "details in $OUT"
