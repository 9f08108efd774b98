# Sourced by the bench scripts: where things are, logging, and the demo jar.
# shellcheck shell=bash

JAVA_OPTS=${JAVA_OPTS:-}
HOST=127.0.0.1
JAVA=${JAVA_HOME:+$JAVA_HOME/bin/}java

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
JAR=$ROOT/demo-app/target/graceful-shutdown-demo-app-0.1.0-SNAPSHOT.jar

log() { printf '%s %s\n' "$(date +%H:%M:%S.%3N)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Builds the demo jar if it is missing.
ensure_jar() {
	if [[ ! -f $JAR ]]; then
		log "demo jar missing: building it"
		(cd "$ROOT" && ./mvnw -B -q install -DskipTests)
		[[ -f $JAR ]] || die "build did not produce $JAR"
	fi
}

# Fails if something already listens on the port.
require_free_port() {
	[[ -z $(ss -Hltn "sport = :$1") ]] || die "port $1 is already in use: $(ss -Hltnp "sport = :$1" | sed -n 1p)"
}

# Copies the demo jar to $1/demo-app.jar once it has stopped changing. A private copy:
# other Maven runs rewrite the jar in place, which would break JVMs that load classes
# from it lazily, and a restarted instance would run different code.
copy_jar() {
	local before
	for _ in $(seq 60); do
		before=$(stat -c '%s %Y' "$JAR")
		sleep 1
		[[ $(stat -c '%s %Y' "$JAR") == "$before" ]] && break
	done
	cp "$JAR" "$1/demo-app.jar"
	[[ $(stat -c %s "$1/demo-app.jar") == "${before%% *}" ]] || die "$JAR changed while it was copied; run again"
}

# For scripts that run one demo app at a time, as $APP, with scratch files in $TMP: on
# exit, an app still running is killed and $TMP removed.
APP=
trap_one_app() {
	trap cleanup_one_app EXIT
	trap 'log "interrupted"; exit 130' INT
	trap 'log "terminated"; exit 143' TERM
}

cleanup_one_app() {
	set +e
	if [[ -n $APP ]] && kill -0 "$APP" 2>/dev/null; then
		kill -KILL "$APP" 2>/dev/null
		wait "$APP" 2>/dev/null
	fi
	rm -rf "$TMP"
}

# Starts run $1 of the demo app from $TMP/demo-app.jar on $HOST:$PORT, with the other
# arguments, logging to $OUT/app-$1.log; sets APP and returns once readiness answers 200.
start_app() {
	local run=$1 start=$SECONDS
	shift
	# shellcheck disable=SC2086 # JAVA_OPTS is a word list
	"$JAVA" $JAVA_OPTS -jar "$TMP/demo-app.jar" --server.address=$HOST --server.port="$PORT" "$@" \
		>"$OUT/app-$run.log" 2>&1 &
	APP=$!
	until [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://$HOST:$PORT/actuator/health/readiness") == 200 ]]; do
		kill -0 "$APP" 2>/dev/null || { tail -n 30 "$OUT/app-$run.log" >&2; die "run $run: the app died before it became ready"; }
		((SECONDS - start < 120)) || die "run $run: not ready after 120 s"
		sleep 0.2
	done
}
