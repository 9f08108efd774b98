#!/usr/bin/env bash
# One shutdown's timeline: what the demo app has in flight, from SIGTERM to its exit, as
# its own status endpoint reports it, drawn as docs/shutdown-timeline.png.
#
#   bench/shutdown-timeline.sh            # run, write the CSV, draw the chart
#   bench/shutdown-timeline.sh --plot DIR # draw the chart again from a saved run
#
# 1. Starts RabbitMQ if it is not listening (.ci/start-rabbitmq: Debian's rabbitmq-server,
#    installed if missing) and the demo app with the rabbit profile on 127.0.0.1:18190, its
#    management server on :18191 (it answers for the whole sequence: its child context
#    closes after ours), drain-delay 2 s, deadline 15 s, 2 RabbitMQ consumers with 3 s of
#    work per message, @Background jobs in 1 s and 4 s units, @Scheduled reports.
# 2. Puts work in flight: 8 messages published, an import of 40 rows (4 s), 4 @Async
#    notifications (1.5 s each), and a new `GET /slow?ms=3000` every 250 ms from 2 s before
#    SIGTERM until the app refuses connections (so requests arrive during the drain delay
#    too, as they do while load balancers catch up).
# 3. SIGTERM, then samples `GET /actuator/shutdown-status` every 100 ms until the process
#    has exited (a sampler, so a sleep between samples: the sampling rate is the point).
# 4. Writes samples.csv (t_ms after SIGTERM, state, requests, jobs, messages, as the
#    endpoint's `inFlight` says), clients.csv (every /slow request: start and end relative
#    to SIGTERM, outcome), the app's log and its verdict line into
#    bench/results/<timestamp>-timeline/, and draws docs/shutdown-timeline.png with gnuplot
#    (Debian's gnuplot-nox, installed if missing).
#
# Prints one line:
#   RESULT verdict="Graceful shutdown COMPLETED in ..." exit_ms=.. samples=.. slow_requests=..
#          slow_ok=.. slow_refused=.. slow_cut=.. max_requests=.. max_jobs=.. max_messages=..
# slow_cut counts /slow requests that were accepted and then failed (a reset or a short
# answer): the figure that must be 0.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

APP_PORT=${APP_PORT:-18190}
MGMT_PORT=${MGMT_PORT:-18191}
PNG=${PNG:-$ROOT/docs/shutdown-timeline.png}

plot() {
	local dir=$1
	ensure_gnuplot
	mkdir -p "$(dirname "$PNG")"
	local verdict
	verdict=$(sed 's/.*: Graceful shutdown/Graceful shutdown/; s/"/'"'"'/g' "$dir/verdict.txt" | cut -c1-110)
	# Phase boundaries from the samples: the first sample in each state.
	local delay_at draining_at end_at exit_at
	delay_at=$(sed -n 's/^delay=//p' "$dir/phases.txt")
	draining_at=$(sed -n 's/^draining=//p' "$dir/phases.txt")
	end_at=$(sed -n 's/^end=//p' "$dir/phases.txt")
	exit_at=$(cat "$dir/exit_ms.txt")
	gnuplot <<EOF
set terminal pngcairo size 1100,520 font "DejaVu Sans,11"
set output "$PNG"
set datafile separator ","
set title "One shutdown of the demo app, as GET /actuator/shutdown-status saw it every 100 ms\n{/*0.85 $verdict}"
set xlabel "seconds after SIGTERM"
set ylabel "in flight"
set key top right box opaque
set grid ytics
set yrange [0:*]
set xrange [-1.1:$(awk -v e="$exit_at" 'BEGIN { printf "%.1f", e / 1000 + 0.4 }')]
set object 1 rect from ${delay_at:-0}/1000.0, graph 0 to ${draining_at:-0}/1000.0, graph 1 behind fc rgb "#f4e3b5" fs solid 0.6 noborder
set object 2 rect from ${draining_at:-0}/1000.0, graph 0 to ${end_at:-0}/1000.0, graph 1 behind fc rgb "#d6e6f5" fs solid 0.6 noborder
set label 1 "drain delay\n(readiness 503, still serving)" at ${delay_at:-0}/1000.0 + 0.05, graph 0.06 font ",9"
set label 2 "draining\n(new connections refused)" at ${draining_at:-0}/1000.0 + 0.05, graph 0.06 font ",9"
set label 4 "verdict" at ${end_at:-0}/1000.0, graph 0.7 offset 0.4,0 font ",9"
set arrow 2 from ${end_at:-0}/1000.0, graph 0 to ${end_at:-0}/1000.0, graph 1 nohead lc rgb "#1f4e79"
set arrow 1 from $exit_at/1000.0, graph 0 to $exit_at/1000.0, graph 1 nohead dt 2 lc rgb "#555555"
set label 3 "exit" at $exit_at/1000.0, graph 0.8 offset 0.4,0 font ",9"
plot "$dir/samples.csv" every ::1 using (\$1/1000):3 with steps lw 2.5 lc rgb "#1f77b4" title "HTTP requests", \
     "" every ::1 using (\$1/1000):4 with steps lw 2.5 lc rgb "#2ca02c" title "jobs (background, async, scheduled, tracked)", \
     "" every ::1 using (\$1/1000):5 with steps lw 2.5 lc rgb "#d62728" title "RabbitMQ messages"
EOF
	log "chart: ${PNG#"$ROOT"/}"
}

if [[ ${1:-} == --plot ]]; then
	plot "${2:?usage: $0 --plot bench/results/<dir>}"
	exit 0
fi

for tool in curl python3 "$JAVA"; do command -v "$tool" >/dev/null || die "$tool not found"; done
ensure_gnuplot
"$ROOT/.ci/start-rabbitmq" >&2
ensure_jar
for p in "$APP_PORT" "$MGMT_PORT"; do require_free_port "$p"; done

OUT=$BENCH_DIR/results/$(date +%Y%m%d-%H%M%S)-timeline
mkdir -p "$OUT"
QUEUE=timeline-$(date +%s)
APP_PID=
CLIENTS=()
cleanup() {
	for pid in "${CLIENTS[@]}"; do kill "$pid" 2>/dev/null || true; done
	[[ -n $APP_PID ]] && kill -KILL "$APP_PID" 2>/dev/null || true
}
trap cleanup EXIT

# SPRING_MAIN_CLOUD_PLATFORM=none: the drain delay is the one given here, wherever this runs.
SPRING_MAIN_CLOUD_PLATFORM=none "$JAVA" $JAVA_OPTS -jar "$JAR" --server.address=$HOST --server.port="$APP_PORT" \
	--management.server.port="$MGMT_PORT" --management.server.address=$HOST \
	--spring.profiles.active=rabbit --demo.rabbit.queue="$QUEUE" --demo.rabbit.work=3s \
	--graceful-shutdown.drain-delay=2s --spring.lifecycle.timeout-per-shutdown-phase=15s \
	--demo.heavy.unit=4s --demo.light.unit=1s --demo.journal="$OUT/journal.log" \
	>"$OUT/app.log" 2>&1 &
APP_PID=$!
log "demo app pid $APP_PID, results in $OUT"
await_readiness "$APP_PID" "$MGMT_PORT" "$OUT/app.log" "the demo app" "$READY_TIMEOUT"
await_url "$APP_PID" "http://$HOST:$APP_PORT/hello" "$OUT/app.log" "the demo app (its own port)" 30

now_ms() { echo $(($(date +%s%N) / 1000000)); }

curl -s -X POST "http://$HOST:$APP_PORT/rabbit/orders?count=8" >/dev/null
curl -s -X POST "http://$HOST:$APP_PORT/imports?rows=40" >/dev/null
curl -s -X POST "http://$HOST:$APP_PORT/notify?count=4" >/dev/null

# One client per /slow request, each recording start, end and what it got.
slow_client() {
	local i=$1 start end code
	start=$(now_ms)
	code=$(curl -s -o /dev/null -w '%{http_code}:%{size_download}' --max-time 30 "http://$HOST:$APP_PORT/slow?ms=3000" 2>/dev/null) || true
	end=$(now_ms)
	echo "$i,$start,$end,${code:-000:0}" >>"$OUT/clients.raw"
}
SIGTERM_AT=$(($(now_ms) + 2000))
i=0
(
	# Until the app refuses: a new request every 250 ms.
	while (($(now_ms) < SIGTERM_AT + 15000)); do
		(exec 3<>"/dev/tcp/$HOST/$APP_PORT") 2>/dev/null || break
		i=$((i + 1))
		slow_client "$i" &
		sleep 0.25
	done
	wait
) &
CLIENTS+=($!)

# The sampler: one request every 100 ms, each in the background so that a slow answer
# does not stretch the interval; each line carries the time its request was sent.
sample() {
	local t=$1 body
	body=$(curl -s --max-time 2 "http://$HOST:$MGMT_PORT/actuator/shutdown-status" 2>/dev/null) || return 0
	[[ -n $body ]] && printf '%s\t%s\n' "$t" "$body" >>"$OUT/samples.raw"
}
: >"$OUT/samples.raw"
while (($(now_ms) < SIGTERM_AT - 1000)); do sleep 0.05; done
SAMPLER_START=$(now_ms)
SIGNALLED=0
while kill -0 "$APP_PID" 2>/dev/null; do
	if ((SIGNALLED == 0 && $(now_ms) >= SIGTERM_AT)); then
		SIGTERM_AT=$(now_ms)
		kill -TERM "$APP_PID"
		log "SIGTERM"
		SIGNALLED=1
	fi
	sample "$(($(now_ms) - SIGTERM_AT))" &
	sleep 0.1
done
wait "$APP_PID" 2>/dev/null || true
EXIT_MS=$(($(now_ms) - SIGTERM_AT))
APP_PID=
echo "$EXIT_MS" >"$OUT/exit_ms.txt"
wait "${CLIENTS[@]}" 2>/dev/null || true
CLIENTS=()
wait # the last samples

python3 - "$OUT" "$SIGTERM_AT" <<'EOF'
import json, sys
out, sigterm = sys.argv[1], int(sys.argv[2])
with open(f"{out}/samples.csv", "w") as csv:
    csv.write("t_ms,state,requests,jobs,messages\n")
    for line in sorted(open(f"{out}/samples.raw"), key=lambda l: int(l.split("\t", 1)[0])):
        t, body = line.rstrip("\n").split("\t", 1)
        try:
            s = json.loads(body)
        except ValueError:
            continue
        f = s.get("inFlight", {})
        csv.write(f"{t},{s['state']},{f.get('request', 0)},{f.get('job', 0)},{f.get('message', 0)}\n")
# The phases from the app's own log, to the millisecond: the samples are 100 ms apart.
from datetime import datetime
marks = {"delay": "Shutdown requested", "draining": "Draining ", "end": "Graceful shutdown COMPLETED in "}
marks_alt = {"end": "Graceful shutdown TIMED_OUT in "}
found = {}
for line in open(f"{out}/app.log"):
    for key, text in list(marks.items()) + list(marks_alt.items()):
        if key not in found and text in line and line[:4].isdigit():
            ts = datetime.strptime(line[:23], "%Y-%m-%dT%H:%M:%S.%f")
            epoch_ms = int((ts - datetime(1970, 1, 1)).total_seconds() * 1000)
            found[key] = epoch_ms - sigterm
with open(f"{out}/phases.txt", "w") as phases:
    for key in ("delay", "draining", "end"):
        phases.write(f"{key}={found.get(key, '')}\n")
with open(f"{out}/clients.csv", "w") as csv:
    csv.write("request,start_ms,end_ms,outcome\n")
    try:
        rows = [l.strip().split(",") for l in open(f"{out}/clients.raw")]
    except FileNotFoundError:
        rows = []
    for i, start, end, code in sorted(rows, key=lambda r: int(r[0])):
        status, size = code.split(":")
        # 3000 ms of sleep answers "slept 3000 ms" or similar: any 200 with a body is whole.
        outcome = "ok" if status == "200" and int(size) > 0 else ("refused" if status == "000" and int(end) - int(start) < 100 else f"cut({status})")
        csv.write(f"{i},{int(start) - sigterm},{int(end) - sigterm},{outcome}\n")
EOF

grep -m1 "Graceful shutdown \(COMPLETED\|TIMED_OUT\)" "$OUT/app.log" >"$OUT/verdict.txt" || echo "no verdict line" >"$OUT/verdict.txt"
plot "$OUT"

max() { awk -F, -v c="$1" 'NR > 1 && $c > m { m = $c } END { print m + 0 }' "$OUT/samples.csv"; }
count() { awk -F, -v o="$1" 'NR > 1 && $4 ~ "^" o { n++ } END { print n + 0 }' "$OUT/clients.csv"; }
RESULT="RESULT verdict=\"$(sed 's/.*: Graceful shutdown/Graceful shutdown/' "$OUT/verdict.txt")\" exit_ms=$EXIT_MS"
RESULT+=" samples=$(($(wc -l <"$OUT/samples.csv") - 1)) slow_requests=$(($(wc -l <"$OUT/clients.csv") - 1))"
RESULT+=" slow_ok=$(count ok) slow_refused=$(count refused) slow_cut=$(count cut)"
RESULT+=" max_requests=$(max 3) max_jobs=$(max 4) max_messages=$(max 5)"
echo "$RESULT" | tee "$OUT/result.txt"
