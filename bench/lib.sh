# Sourced by the bench scripts: where things are, logging, the demo jar, and one
# readiness wait that fails.
# shellcheck shell=bash

JAVA_OPTS=${JAVA_OPTS:-}
HOST=127.0.0.1
JAVA=${JAVA_HOME:+$JAVA_HOME/bin/}java
# Seconds an app gets to answer readiness 200 before the script fails (a start under
# full load on the 2-core machine can take 10-15 s).
READY_TIMEOUT=${READY_TIMEOUT:-120}

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
VERSION=0.1.0-SNAPSHOT
# Built by the reactor (./mvnw package): the demo app, and the standalone bench projects.
JAR=$ROOT/demo-app/target/graceful-shutdown-demo-app-$VERSION.jar
JMH_JAR=$BENCH_DIR/jmh/target/benchmarks.jar
STARTUP_APP_DIR=$BENCH_DIR/startup-app
# bench/jmh and bench/startup-app are not reactor modules: they resolve the starter from
# a local repository. Never ~/.m2, which other worktrees share and fill with their own
# SNAPSHOTs: install_private installs this worktree's artifacts into PRIVATE_REPO, and
# everything else is read from ~/.m2 as a read-only tail (Maven 3.9's
# maven.repo.local.tail); what is missing there is downloaded into PRIVATE_REPO.
PRIVATE_REPO=${PRIVATE_REPO:-$BENCH_DIR/target/m2}
AUTOCONFIGURE_JAR=$PRIVATE_REPO/io/github/gracefulshutdown/graceful-shutdown-spring-boot-autoconfigure/$VERSION/graceful-shutdown-spring-boot-autoconfigure-$VERSION.jar

log() { printf '%s %s\n' "$(date +%H:%M:%S.%3N)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Builds the demo jar if it is missing (package, not install: ~/.m2 is shared).
ensure_jar() {
	if [[ ! -f $JAR ]]; then
		log "demo jar missing: building it"
		(cd "$ROOT" && ./mvnw -B -q package -DskipTests)
		[[ -f $JAR ]] || die "build did not produce $JAR"
	fi
}

# Maven with PRIVATE_REPO as the local repository and ~/.m2 as its read-only tail.
mvn_private() {
	(cd "$ROOT" && ./mvnw -B -q -Dmaven.repo.local="$PRIVATE_REPO" \
		-Dmaven.repo.local.tail="${MAVEN_REPO_TAIL:-$HOME/.m2/repository}" "$@")
}

# Installs this worktree's parent pom, autoconfigure and starter into PRIVATE_REPO, every
# time: a stale copy would benchmark other code.
install_private() {
	log "installing the starter into $PRIVATE_REPO"
	mvn_private -DskipTests -pl graceful-shutdown-starter -am install
	[[ -f $AUTOCONFIGURE_JAR ]] || die "install did not produce $AUTOCONFIGURE_JAR"
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

# Waits until $2 answers 200 to a GET, for at most $5 seconds (default READY_TIMEOUT).
# Fails, with the last 30 lines of the log $3, if process $1 exits first or time runs
# out; $4 names the process in the message.
await_url() {
	local pid=$1 url=$2 logfile=$3 what=$4 limit=${5:-$READY_TIMEOUT} start=$SECONDS rc
	until [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$url") == 200 ]]; do
		if ! kill -0 "$pid" 2>/dev/null; then
			rc=0
			wait "$pid" 2>/dev/null || rc=$?
			log "$what: last lines of $logfile:"
			tail -n 30 "$logfile" >&2
			die "$what exited (status $rc) before $url answered 200"
		fi
		if ((SECONDS - start >= limit)); then
			log "$what: last lines of $logfile:"
			tail -n 30 "$logfile" >&2
			die "$what: $url did not answer 200 within ${limit} s"
		fi
		sleep 0.2
	done
}

# Waits until the app $1 on $HOST:$2 answers readiness 200; see await_url.
await_readiness() {
	await_url "$1" "http://$HOST:$2/actuator/health/readiness" "$3" "$4" "${5:-$READY_TIMEOUT}"
}

# Starts run $1 of the demo app from $TMP/demo-app.jar on $HOST:$PORT, with the other
# arguments, logging to $OUT/app-$1.log; sets APP and returns once readiness answers 200.
start_app() {
	local run=$1
	shift
	# shellcheck disable=SC2086 # JAVA_OPTS is a word list
	"$JAVA" $JAVA_OPTS -jar "$TMP/demo-app.jar" --server.address=$HOST --server.port="$PORT" "$@" \
		>"$OUT/app-$run.log" 2>&1 &
	APP=$!
	await_readiness "$APP" "$PORT" "$OUT/app-$run.log" "run $run"
}

# gnuplot for the charts, from Debian's packages (the package lists are refreshed only if
# the first try fails).
ensure_gnuplot() {
	command -v gnuplot >/dev/null && return
	log "installing gnuplot-nox (Debian)"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gnuplot-nox >/dev/null ||
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gnuplot-nox >/dev/null; }
}
