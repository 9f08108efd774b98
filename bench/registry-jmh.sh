#!/usr/bin/env bash
# JMH: the cost of JobRegistry.begin(name) + TrackedJob.close() against a Phaser
# register()/arriveAndDeregister() and a bare LongAdder increment()/decrement(), all on
# one shared @State(Scope.Benchmark), with 1 and then 2 threads, in one run.
#
#   bench/registry-jmh.sh                      (about 2 minutes: 3 benchmarks x 2 thread counts)
#   bench/registry-jmh.sh --summary DIR        (reprint the table of a saved run)
#
# Options through the environment (defaults in brackets):
#   FORKS [1] WI [3] W [2s] I [5] R [2s]  JMH -f -wi -w -i -r
#   THREADS ["1 2"]                          one JMH invocation per thread count (-t)
#   PROF [gc]                                JMH profiler, for B/op; PROF= to turn it off
#   JMH_ARGS []                              anything else for JMH
#
# bench/jmh is a standalone Maven project, not a module of the root reactor, so CI
# never builds it. It is built against this worktree's autoconfigure jar, installed each
# time into a private local repository (PRIVATE_REPO, default bench/target/m2; see
# install_private in lib.sh), never into ~/.m2. Raw JMH output, CSV and machine details
# go to bench/results/<stamp>-registry-jmh/.
# Prints a table: benchmark, threads, ns/op (average time per operation per thread),
# its 99.9% error, and bytes allocated per operation.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

FORKS=${FORKS:-1}
WI=${WI:-3}
W=${W:-2s}
I=${I:-5}
R=${R:-2s}
THREADS=${THREADS:-"1 2"}
PROF=${PROF-gc}
JMH_ARGS=${JMH_ARGS:-}

# Compact table from the CSVs of a results directory: primary score (ns/op) and, with
# -prof gc, B/op (gc.alloc.rate.norm).
summary() {
  local dir=$1 t
  printf '%-28s %7s %10s %10s %7s\n' benchmark threads ns/op '±99.9%' B/op
  for t in $THREADS; do
    [ -f "$dir/t$t.csv" ] || continue
    awk -F',' -v t="$t" '
      { for (i = 1; i <= NF; i++) gsub(/"/, "", $i) }
      NR == 1 { next }
      {
        split($1, part, ":")            # benchmark[:secondary metric]
        name = part[1]; sub(/.*\./, "", name)
        if (part[2] != "") {
          if (part[2] == "gc.alloc.rate.norm") alloc[name] = $5
          next
        }
        order[++n] = name; score[name] = $5; err[name] = $6
      }
      END {
        for (k = 1; k <= n; k++) {
          b = order[k]
          printf "%-28s %7s %10.2f %10.2f %7s\n", b, t, score[b], err[b], (b in alloc) ? sprintf("%.0f", alloc[b]) : "-"
        }
        if (("registryBeginClose" in score) && ("phaserRegisterArrive" in score) && score["phaserRegisterArrive"] > 0)
          printf "%-28s %7s %9.1fx\n", "registry / phaser", t, score["registryBeginClose"] / score["phaserRegisterArrive"]
      }' "$dir/t$t.csv"
  done
}

if [ "${1:-}" = "--summary" ]; then
  summary "${2:?usage: $0 --summary bench/results/<dir>}"
  exit 0
fi

OUT=$BENCH_DIR/results/$(date +%Y%m%d-%H%M%S)-registry-jmh
mkdir -p "$OUT"

install_private
mvn_private -f "$BENCH_DIR/jmh/pom.xml" package
[ -f "$JMH_JAR" ] || die "the build did not produce $JMH_JAR"

{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "nproc: $(nproc)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//')"
  echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
  "$JAVA" -version 2>&1
  echo "options: -f $FORKS -wi $WI -w $W -i $I -r $R ${PROF:+-prof $PROF} $JMH_ARGS; threads: $THREADS"
} > "$OUT/machine.txt"

for t in $THREADS; do
  # shellcheck disable=SC2086
  "$JAVA" -Duser.language=en -Duser.country=US -jar "$JMH_JAR" RegistryBenchmark \
    -f "$FORKS" -wi "$WI" -w "$W" -i "$I" -r "$R" -t "$t" ${PROF:+-prof "$PROF"} $JMH_ARGS \
    -rf csv -rff "$OUT/t$t.csv" 2>&1 | tee "$OUT/t$t.log"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/machine.txt"

summary "$OUT" | tee "$OUT/summary.txt"
echo "raw output: $OUT"
