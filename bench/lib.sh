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
