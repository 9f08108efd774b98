#!/usr/bin/env bash
# Rolling restarts through a load balancer that reuses its backend connections: HAProxy
# with `http-reuse always`, which sends any request over any idle connection to a server.
# A server that answers without `Connection: close` and then closes the connection leaves
# HAProxy an idle connection that is already dead; the next request sent over it fails
# (HAProxy answers 502 and logs SH/SD; with `retries 0` it does not try again). Three
# setups, RUNS runs each, every run one bench/rolling-restart.sh (both instances
# restarted under load):
#
#   starter-3s   the starter, --graceful-shutdown.drain-delay=3s
#   starter-0s   the starter, no drain delay
#   boot         --graceful-shutdown.enabled=false: Spring Boot's own graceful shutdown
#
#   bench/rolling-reuse.sh [RUNS] [DURATION_S]     (defaults 3 and 50: about 3.5 min a run,
#                                                  so about 10.5 min for 3 runs of 3 setups)
#   SETUPS="boot starter-0s" bench/rolling-reuse.sh 1
#
# Environment: RUNS and DURATION_S as above; SETUPS [starter-3s starter-0s boot];
# HTTP_REUSE [always] (set to safe to compare with HAProxy's default); everything
# rolling-restart.sh reads (ports, JAVA_HOME, JAVA_OPTS, DEMO_ARGS, ...).
#
# Prints one line per run and a table, per setup, of the errors of each run (and its
# restarts: 1 when b's restart no longer fitted in the load; give a longer DURATION_S on
# a loaded machine, where a JVM start takes up to 30 s): wrk's non-2xx
# answers (by status) and socket errors, and the failed requests HAProxy logged, by
# termination state (SC: connection refused, SH: the server closed it before the
# response headers, SD: during the body; see HAProxy's "session state at disconnection").
# Ends with one line:
#   RESULT http_reuse=always runs=3 starter-3s=E/E/E starter-0s=E/E/E boot=E/E/E
# where E is one run's errors (non-2xx + socket errors as wrk counted them). Each run's
# files are in its own bench/results/<timestamp>-<mode>/ (named in the table); this
# script's own summary is in bench/results/<timestamp>-rolling-reuse/.
set -euo pipefail

RUNS=${1:-3}
DURATION=${2:-50}
[[ $RUNS =~ ^[0-9]+$ ]] && ((RUNS >= 1)) || { echo "usage: $0 [RUNS>=1] [DURATION_S]" >&2; exit 2; }
SETUPS=${SETUPS:-starter-3s starter-0s boot}
export HTTP_REUSE=${HTTP_REUSE:-always}
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

OUT=$BENCH_DIR/results/$(date +%Y%m%d-%H%M%S)-rolling-reuse
mkdir -p "$OUT"
ensure_jar
: >"$OUT/runs.txt"
CHILD=
trap '[[ -n $CHILD ]] && kill -TERM "$CHILD" 2>/dev/null; wait 2>/dev/null; exit 130' INT TERM

for ((run = 1; run <= RUNS; run++)); do
	for setup in $SETUPS; do
		case $setup in
			starter-*) mode=starter; delay=${setup#starter-} ;;
			boot) mode=boot; delay=0s ;;
			*) die "unknown setup '$setup' (starter-<delay>, boot)" ;;
		esac
		log "run $run/$RUNS: $setup (http-reuse $HTTP_REUSE)"
		logfile=$OUT/run-$run-$setup.log
		rc=0
		DRAIN_DELAY=$delay "$BENCH_DIR/rolling-restart.sh" "$mode" "$DURATION" >"$logfile" 2>&1 &
		CHILD=$!
		wait "$CHILD" || rc=$?
		CHILD=
		result=$(grep '^RESULT ' "$logfile" | tail -n 1 || true)
		dir=$(sed -n 's/.* results in \(.*\)$/\1/p' "$logfile" | head -n 1)
		[[ -n $result && $rc == 0 ]] || { tail -n 30 "$logfile" >&2; die "rolling-restart.sh failed (status $rc): $logfile"; }
		status=$(grep -h '^STATUS ' "$dir/wrk.txt" | sed 's/^STATUS //' || true)
		# Failed requests HAProxy logged (option dontlog-normal: failures only), by
		# termination state; wrk's probe connection before the run (<NOSRV> 400 CR) and the
		# teardown after it (C*: client side) are not failures.
		lb=$(awk '$4 == "fe" && NF >= 11 && $5 != "fe/<NOSRV>" && $11 !~ /^C/ { n[$7 " " substr($11, 1, 2)]++ }
			END { for (k in n) printf "%s%s=%d", (c++ ? "," : ""), k, n[k] }' "$dir/haproxy.log" | tr ' ' ':')
		printf '%s run=%d %s lb_failures=%s status=%s dir=%s\n' "$setup" "$run" "${result#RESULT }" "${lb:-none}" "${status// /,}" "${dir#"$ROOT"/}" |
			tee -a "$OUT/runs.txt"
	done
done

# ---------------------------------------------------------------- summary
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }
{
	echo
	echo "errors per run, http-reuse $HTTP_REUSE (errors = non-2xx + wrk socket errors; HAProxy's failures as status:state=count)"
	printf '%-11s %4s %8s %9s %7s %7s %5s %7s  %s\n' setup run restarts requests non2xx connect read timeout "HAProxy failures"
	while read -r line; do
		set -- $line
		printf '%-11s %4s %8s %9s %7s %7s %5s %7s  %s\n' "$1" "$(field run <<<"$line")" "$(field restarts <<<"$line")" "$(field requests <<<"$line")" \
			"$(field non2xx <<<"$line")" "$(field socket_errors_connect <<<"$line")" "$(field read <<<"$line")" \
			"$(field timeout <<<"$line")" "$(field lb_failures <<<"$line")"
	done <"$OUT/runs.txt"
} | tee "$OUT/summary.txt"
RESULT="RESULT http_reuse=$HTTP_REUSE runs=$RUNS"
for setup in $SETUPS; do
	per_run=$(awk -v s="$setup" '$1 == s {
		e = 0
		for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] ~ /^(non2xx|socket_errors_connect|read|write|timeout)$/) e += kv[2] }
		printf "%s%d", (n++ ? "/" : ""), e }' "$OUT/runs.txt")
	RESULT+=" $setup=$per_run"
done
echo "$RESULT" | tee -a "$OUT/summary.txt"
echo "details in $OUT"
