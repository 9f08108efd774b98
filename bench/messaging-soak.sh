#!/usr/bin/env bash
# Messaging soak: SIGTERMs at random moments while the demo app consumes from RabbitMQ
# and from Kafka, with the starter and with Spring Boot alone
# (graceful-shutdown.enabled=false), in one run. Counts, from the journal every instance
# writes (a START and an END line per message), the messages
#   lost         published, and never ENDed by any instance
#   twice        ENDed by more than one instance (processed twice)
#   cut          a START without its END: work cut in half, then redelivered
#   redelivered  STARTed more than once
# The goal for the starter is lost / twice / cut = 0 / 0 / 0.
#
#   bench/messaging-soak.sh [SIGTERMS] [MESSAGES] [WORK] [DEADLINE] [BROKERS]
#       defaults: 30 SIGTERMs per broker and mode, 200 messages, 6s of work per message,
#       10s deadline (spring.lifecycle.timeout-per-shutdown-phase), brokers "rabbit kafka"
#
# Each of the SIGTERMS instances runs the demo app with --spring.profiles.active=<broker>
# (2 consumers, prefetch 1 / max-poll-records 1), waits until it has started, lets it
# consume for 0.5 s to WORK + 2.5 s, sends SIGTERM and waits for its exit. One last instance,
# with 20 ms of work, consumes what is left. Then one RESULT line per broker and mode.
# RabbitMQ: Debian's rabbitmq-server on 127.0.0.1:5672, installed and started by
# .ci/start-rabbitmq if needed. Kafka: the embedded KRaft broker of spring-kafka-test,
# run in the soak driver's own JVM, a process apart from the instances it signals.
# Logs and journals stay in bench/results/<timestamp>-messaging-soak/.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

SIGTERMS=${1:-30}
MESSAGES=${2:-200}
WORK=${3:-6s}
DEADLINE=${4:-10s}
BROKERS=${5:-rabbit kafka}
OUT=$BENCH_DIR/results/$(date +%Y%m%d-%H%M%S)-messaging-soak
mkdir -p "$OUT"

[[ " $BROKERS " == *" rabbit "* ]] && "$ROOT/.ci/start-rabbitmq" >&2
log "building the demo jar and its test classes"
(cd "$ROOT" && ./mvnw -B -q -pl demo-app -am test-compile package -DskipTests)
CP_FILE=$OUT/classpath.txt
(cd "$ROOT" && ./mvnw -B -q -pl demo-app dependency:build-classpath -Dmdep.includeScope=test \
	-Dmdep.outputFile="$CP_FILE")
cp "$JAR" "$OUT/demo-app.jar"
CP="$ROOT/demo-app/target/test-classes:$ROOT/demo-app/target/classes:$(cat "$CP_FILE")"

for broker in $BROKERS; do
	for mode in starter boot; do
		log "$broker, $mode: $SIGTERMS SIGTERMs over $MESSAGES messages of $WORK, deadline $DEADLINE"
		"$JAVA" -cp "$CP" -Ddemo.jar="$OUT/demo-app.jar" -Ddemo.logs="$OUT/logs-$broker-$mode" -Dsoak.dir="$OUT/journals-$broker-$mode" \
			io.github.gracefulshutdown.demo.MessagingSoak "$broker" "$mode" "$SIGTERMS" "$MESSAGES" "$WORK" \
			"$DEADLINE" | tee "$OUT/$broker-$mode.txt" | grep --line-buffered -E 'RESULT|SIGTERM (1|10|20|30) of' >&2
	done
done
grep -h RESULT "$OUT"/*.txt
