#!/usr/bin/env bash
# JMH: what request tracking costs per request. InFlightRequests.doFilter (the filter plus
# its InFlightTracker begin/end) around a no-op FilterChain, against the chain called
# directly, with 1 and 2 threads sharing one filter, and 2 threads with a filter each
# (filterOwn_t2: nothing shared, the control for contention), and the path as it runs on
# Tomcat, where the access-log call ends the request (filterTomcat_t1) (RequestPathBenchmark in
# bench/jmh).
#
#   bench/request-path-jmh.sh                  (about 2 minutes: 6 benchmarks x 8 x 2 s)
#   bench/request-path-jmh.sh --summary DIR    (reprint the table of a saved run)
#
# Options through the environment (defaults in brackets):
#   FORKS [1] WI [3] W [2s] I [5] R [2s]  JMH -f -wi -w -i -r
#   PROF [gc]                             JMH profiler, for B/op; PROF= to turn it off
#   BUDGET_NS [280]                       1 % of the ~28 us of CPU of a trivial request
#   JMH_ARGS []                           anything else for JMH
#   JAVA_HOME                             the JVM that runs the benchmark
#
# Built like registry-jmh.sh: bench/jmh is a standalone Maven project, built against
# this worktree's autoconfigure jar, installed each time into a private local repository
# (PRIVATE_REPO, default bench/target/m2; see install_private in lib.sh), never into ~/.m2.
#
# Prints the [stripe] lines (which tracker stripe each benchmark thread uses), a table
# (benchmark, threads, ns/op, its 99.9% error, B/op), then per thread count the overhead
# (filter - direct, errors added in quadrature), and one line:
#   RESULT t1_filter_ns=.. t1_direct_ns=.. t1_overhead_ns=.. t1_alloc_B=.. t2_filter_ns=..
#          t2_direct_ns=.. t2_overhead_ns=.. t2_alloc_B=.. t2_own_filter_ns=.. budget_ns=280
#          within_budget=yes|no
# (each *_overhead_ns with an *_overhead_err_ns)
# within_budget compares the larger overhead, plus its error, with BUDGET_NS. Raw JMH
# output, CSV and machine details go to bench/results/<stamp>-request-path-jmh/.
# Exits 1 if the benchmark fails (a tear-down check of the tracker's balance, or of the
# reused mock request and response, throws).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

FORKS=${FORKS:-1}
WI=${WI:-3}
W=${W:-2s}
I=${I:-5}
R=${R:-2s}
PROF=${PROF-gc}
BUDGET_NS=${BUDGET_NS:-280}
JMH_ARGS=${JMH_ARGS:-}

# Table and RESULT line from the CSV of a results directory.
summary() {
  local csv=$1/result.csv
  [ -f "$csv" ] || die "no $csv"
  awk -F',' -v budget="$BUDGET_NS" '
    { for (i = 1; i <= NF; i++) gsub(/"/, "", $i) }
    NR == 1 { next }
    {
      split($1, part, ":")            # benchmark[:secondary metric]
      name = part[1]; sub(/.*\./, "", name)
      if (part[2] != "") {
        if (part[2] == "gc.alloc.rate.norm") alloc[name] = $5
        next
      }
      order[++n] = name; threads[name] = $3; score[name] = $5; err[name] = $6
    }
    END {
      printf "%-12s %7s %10s %10s %7s\n", "benchmark", "threads", "ns/op", "+-99.9%", "B/op"
      for (k = 1; k <= n; k++) {
        b = order[k]
        printf "%-12s %7s %10.2f %10.2f %7s\n", b, threads[b], score[b], err[b], (b in alloc) ? sprintf("%.0f", alloc[b]) : "-"
      }
      result = "RESULT"; worst = -1
      for (t = 1; t <= 2; t++) {
        f = "filter_t" t; d = "direct_t" t
        if (!(f in score) || !(d in score)) continue
        over = score[f] - score[d]; e = sqrt(err[f] ^ 2 + err[d] ^ 2)
        printf "overhead with %d thread%s: %.1f +- %.1f ns per request (%.2f %% of the %d ns budget)\n", t, (t > 1) ? "s" : "", over, e, 100 * over / budget, budget
        a = (f in alloc) ? sprintf("%.0f", alloc[f] - ((d in alloc) ? alloc[d] : 0)) : "?"
        result = result sprintf(" t%d_filter_ns=%.1f t%d_direct_ns=%.1f t%d_overhead_ns=%.1f t%d_overhead_err_ns=%.1f t%d_alloc_B=%s", t, score[f], t, score[d], t, over, t, e, t, a)
        if (over + e > worst) worst = over + e
      }
      if (("filterOwn_t2" in score) && ("filter_t2" in score)) {
        printf "2 threads, one filter each (nothing shared): %.1f ns; sharing one filter adds %.1f ns\n", score["filterOwn_t2"], score["filter_t2"] - score["filterOwn_t2"]
        result = result sprintf(" t2_own_filter_ns=%.1f", score["filterOwn_t2"])
      }
      if (("filterTomcat_t1" in score) && ("direct_t1" in score)) {
        over = score["filterTomcat_t1"] - score["direct_t1"]; e = sqrt(err["filterTomcat_t1"] ^ 2 + err["direct_t1"] ^ 2)
        printf "overhead on the Tomcat path (ended at the access-log call) with 1 thread: %.1f +- %.1f ns per request\n", over, e
        result = result sprintf(" t1_tomcat_overhead_ns=%.1f t1_tomcat_overhead_err_ns=%.1f", over, e)
        if (over + e > worst) worst = over + e
      }
      if (worst < 0) { print "RESULT incomplete: no filter/direct pair in the CSV"; exit 1 }
      printf "%s budget_ns=%d within_budget=%s\n", result, budget, (worst <= budget) ? "yes" : "no"
    }' "$csv"
}

if [ "${1:-}" = "--summary" ]; then
  summary "${2:?usage: $0 --summary bench/results/<dir>}"
  exit 0
fi

OUT=$BENCH_DIR/results/$(date +%Y%m%d-%H%M%S)-request-path-jmh
mkdir -p "$OUT"

install_private
mvn_private -f "$BENCH_DIR/jmh/pom.xml" package
[ -f "$JMH_JAR" ] || die "the build did not produce $JMH_JAR"

{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "git: $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD -- graceful-shutdown-autoconfigure || echo ' (autoconfigure modified)')"
  echo "nproc: $(nproc)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//')"
  echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
  "$JAVA" -version 2>&1
  echo "options: -f $FORKS -wi $WI -w $W -i $I -r $R ${PROF:+-prof $PROF} $JMH_ARGS"
} > "$OUT/machine.txt"

# The thread counts come from the benchmarks' own @Threads.
# shellcheck disable=SC2086 # JMH_ARGS is a word list
"$JAVA" -Duser.language=en -Duser.country=US -jar "$JMH_JAR" RequestPathBenchmark \
  -f "$FORKS" -wi "$WI" -w "$W" -i "$I" -r "$R" ${PROF:+-prof "$PROF"} $JMH_ARGS \
  -rf csv -rff "$OUT/result.csv" 2>&1 | tee "$OUT/jmh.log"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/machine.txt"
grep -q '^Result "' "$OUT/jmh.log" && ! grep -q '<failure>' "$OUT/jmh.log" || die "JMH reported a failure (see $OUT/jmh.log)"

{ grep -h '^\[stripe\]' "$OUT/jmh.log" | sort -u || true; summary "$OUT"; } | tee "$OUT/summary.txt"
echo "raw output: $OUT"
