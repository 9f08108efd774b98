#!/usr/bin/env bash
# What a DevTools restart leaves behind: the demo app run the way an IDE runs it (its
# classes from a directory, Spring Boot DevTools on the class path), restarted N times
# by touching a class, then counted from a class histogram.
#
#   bench/devtools-restarts.sh [N]      # N restarts, 5 by default
#
# 1. Builds the demo jar if missing, unpacks it into a temporary directory: the app's own
#    classes into classes/ (which DevTools watches and loads in a RestartClassLoader), its
#    libraries into lib/, and spring-boot-devtools of the same Boot version beside them
#    (from ~/.m2, resolved first if missing).
# 2. Starts the app on 127.0.0.1:$PORT with -XX:SoftRefLRUPolicyMSPerMB=0, so a full GC
#    also clears softly reachable objects and only what is strongly held stays.
# 3. N times: touches DemoApplication.class and waits for the next `Started` line. Each
#    restart closes the old context the way a SIGTERM would, so it waits for the demo's
#    @Background jobs to wind down (about 14 s here).
# 4. Two `jcmd GC.run`, then `jcmd GC.class_histogram`, then SIGTERM.
#
# Prints one line:
#   RESULT restarts=N loaders=.. contexts=.. signal_handlers=.. exit=..
# What a leak-free run shows: contexts=1 and signal_handlers=1 (the live ones). loaders
# is one more than that on this demo: Spring Kafka's JacksonPresent keeps the class loader
# that was current when it was first loaded (a static field), so the first
# RestartClassLoader stays; it does not grow with N.
# KEEP_HEAP=1 also writes a heap dump (heap.hprof) into the results directory.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RESTARTS=${1:-5}
PORT=${PORT:-18095}
OUT=$BENCH_DIR/results/$(date +%Y%m%d-%H%M%S)-devtools
TMP=$(mktemp -d)
APP=
trap_one_app
mkdir -p "$OUT"
require_free_port "$PORT"
ensure_jar

(cd "$TMP" && unzip -q "$JAR")
mv "$TMP/BOOT-INF/classes" "$TMP/classes"
mv "$TMP/BOOT-INF/lib" "$TMP/lib"
boot=$(cd "$TMP/lib" && ls spring-boot-[0-9]*.jar | sed 's/^spring-boot-//; s/\.jar$//')
devtools=$HOME/.m2/repository/org/springframework/boot/spring-boot-devtools/$boot/spring-boot-devtools-$boot.jar
if [[ ! -f $devtools ]]; then
	log "resolving spring-boot-devtools $boot"
	(cd "$ROOT" && ./mvnw -B -q dependency:get -Dartifact="org.springframework.boot:spring-boot-devtools:$boot" -Dtransitive=false)
fi
main=$(sed -n 's/^Start-Class: *//p' "$TMP/META-INF/MANIFEST.MF" | tr -d '\r')
class=$TMP/classes/$(tr . / <<<"$main").class
logfile=$OUT/app.log

# shellcheck disable=SC2086 # JAVA_OPTS is a word list
"$JAVA" $JAVA_OPTS -XX:SoftRefLRUPolicyMSPerMB=0 -cp "$TMP/classes:$TMP/lib/*:$devtools" \
	-Dspring.devtools.restart.poll-interval=500ms -Dspring.devtools.restart.quiet-period=200ms \
	"$main" --server.address=$HOST --server.port="$PORT" >"$logfile" 2>&1 &
APP=$!
await_readiness "$APP" "$PORT" "$logfile" "demo app"
grep -q "restart" "$logfile" || log "note: the log does not mention DevTools restart"

started() { grep -c "Started ${main##*.}" "$logfile" || true; }
for ((restart = 1; restart <= RESTARTS; restart++)); do
	before=$(started)
	touch "$class"
	start=$SECONDS
	# A log to wait on, not an event to subscribe to: the restart happens in another JVM.
	until (($(started) > before)); do
		kill -0 "$APP" 2>/dev/null || die "the app exited during restart $restart (see $logfile)"
		((SECONDS - start < READY_TIMEOUT)) || die "restart $restart did not finish within $READY_TIMEOUT s"
		sleep 0.5
	done
	await_readiness "$APP" "$PORT" "$logfile" "demo app"
	log "restart $restart done in $((SECONDS - start)) s"
done

jcmd "$APP" GC.run >/dev/null
jcmd "$APP" GC.run >/dev/null
jcmd "$APP" GC.class_histogram >"$OUT/histogram.txt"
if [[ ${KEEP_HEAP:-0} == 1 ]]; then
	jcmd "$APP" GC.heap_dump "$OUT/heap.hprof" >/dev/null
fi
count() { awk -v c="$1" '$4 == c { n += $2 } END { print n + 0 }' "$OUT/histogram.txt"; }
loaders=$(count org.springframework.boot.devtools.restart.classloader.RestartClassLoader)
contexts=$(count org.springframework.boot.web.server.servlet.context.AnnotationConfigServletWebServerApplicationContext)
handlers=$(count io.github.gracefulshutdown.signal.SecondSignalHandler)

kill -TERM "$APP"
status=0
wait "$APP" || status=$?
APP=
echo "RESULT restarts=$RESTARTS loaders=$loaders contexts=$contexts signal_handlers=$handlers exit=$status boot=$boot results=$OUT"
