#!/usr/bin/env bash
# Draws docs/rolling-restart.png from one `bench/rolling-restart.sh compare` run: failed
# requests per second through the rolling restart, the starter at its Kubernetes defaults
# against Spring Boot alone, with each SIGTERM marked, and requests per second faintly on
# the right-hand axis.
#
#   bench/plot-rolling-restart.sh bench/results/<timestamp>-compare [OUT.png]
#
# Reads each run's per-second.csv (t,epoch,requests,errors,lb_failed: wrk's responses and
# those with a status >= 400 per second of load) and events.csv (t,instance,event), both
# written by rolling-restart.sh. wrk's socket errors (a connection reset mid-request) are
# not responses and so are not in the per-second counts; the RESULT lines in the run's
# summary.txt have them. gnuplot comes from Debian's gnuplot-nox, installed if missing.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DIR=${1:?usage: $0 bench/results/<timestamp>-compare [OUT.png]}
PNG=${2:-$ROOT/docs/rolling-restart.png}
for run in defaults boot; do
	[[ -f $DIR/$run/per-second.csv && -f $DIR/$run/events.csv ]] ||
		die "$DIR/$run has no per-second.csv or events.csv: is it a rolling-restart.sh compare run?"
done
ensure_gnuplot
mkdir -p "$(dirname "$PNG")"

field() { tr ' ' '\n' <"$DIR/$1/result.txt" | sed -n "s/^$2=//p" | head -n 1; }
errors() { echo $(($(field "$1" non2xx) + $(field "$1" socket_errors_connect) + $(field "$1" read) + $(field "$1" write) + $(field "$1" timeout))); }
title_of() {
	local resets=$(($(errors "$1") - $(field "$1" non2xx)))
	printf "%s: %s failed of %s requests" "$2" "$(errors "$1")" "$(field "$1" requests)"
	((resets == 0)) || printf " (%s error responses, drawn; %s connection errors)" "$(field "$1" non2xx)" "$resets"
}

# One vertical line per SIGTERM, in each run's colour.
arrows=""
n=1
for run in defaults boot; do
	colour=$([[ $run == defaults ]] && echo '#2ca02c' || echo '#d62728')
	y=$([[ $run == defaults ]] && echo 0.66 || echo 0.59)
	while IFS=, read -r t instance _; do
		arrows+="set arrow $n from $t, graph 0 to $t, graph 1 nohead dt 2 lw 1.2 lc rgb '$colour'"$'\n'
		arrows+="set label $n 'SIGTERM $instance' at $t, graph $y offset 0.5,0 font ',9' tc rgb '$colour'"$'\n'
		n=$((n + 1))
	done < <(awk -F, '$3 == "sigterm"' "$DIR/$run/events.csv")
done

gnuplot <<EOF
set terminal pngcairo size 1100,520 font "DejaVu Sans,11"
set output "$PNG"
set datafile separator ","
set title "Rolling restart of 2 instances behind HAProxy under wrk load, platform detected as Kubernetes, no settings\n{/*0.85 both instances SIGTERMed and restarted in turn; HAProxy checks readiness every 500 ms and never retries}"
set xlabel "seconds of load"
set ylabel "failed requests per second (status >= 400)"
set y2label "requests per second" tc rgb "#999999"
set y2tics tc rgb "#999999"
set ytics nomirror
set yrange [0:*]
set y2range [0:*]
set key top right box opaque font ',10'
set grid ytics
$arrows
plot "$DIR/boot/per-second.csv" every ::1 using 1:3 axes x1y2 with lines lw 1 lc rgb "#f2b8b8" notitle, \
     "$DIR/defaults/per-second.csv" every ::1 using 1:3 axes x1y2 with lines lw 1 lc rgb "#b8dcb8" notitle, \
     "$DIR/boot/per-second.csv" every ::1 using 1:4 with impulses lw 6 lc rgb "#d62728" title "$(title_of boot 'Spring Boot alone')", \
     "$DIR/defaults/per-second.csv" every ::1 using 1:4 with linespoints lw 2.5 pt 7 ps 0.5 lc rgb "#2ca02c" title "$(title_of defaults 'with the starter, its defaults (drain-delay 5 s on Kubernetes)')"
EOF
log "chart: ${PNG#"$ROOT"/}"
