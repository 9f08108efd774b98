#!/usr/bin/env bash
# Checks what Maven Central needs of each published module, from outside the build:
#   - the jar, -sources.jar and -javadoc.jar exist and are not empty;
#   - the javadoc jar has index.html (autoconfigure, test), the starter's placeholder
#     jars have README.md;
#   - the effective POM has name, description, url, licenses, developers and scm, with the
#     project's url (not one with the module's artifactId appended).
# The normal build checks the files and fields already (the enforcer executions
# release-check-* in pom.xml); this script also looks inside the jars and at the
# effective POM, which the enforcer cannot.
#
#   bench/release-check.sh            checks what the last ./mvnw verify left in target/
#   bench/release-check.sh --build    runs ./mvnw -B -q verify -DskipTests first
#
# Prints one line per check and a last line "N passed, N failed"; exits 1 on a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh

URL=https://github.com/graceful-shutdown/graceful-shutdown-spring-boot
# The version in pom.xml, not lib.sh's SNAPSHOT: a maintainer runs this on the release
# version too (README, "Releasing").
VERSION=$(sed -n '0,/^  <version>/s|^  <version>\(.*\)</version>|\1|p' pom.xml)
MODULES=(graceful-shutdown-autoconfigure graceful-shutdown-starter graceful-shutdown-test)
passed=0
failed=0
check() { # check DESCRIPTION COMMAND...
	local what=$1
	shift
	if "$@" >/dev/null 2>&1; then
		printf 'ok    %s\n' "$what"
		passed=$((passed + 1))
	else
		printf 'FAIL  %s\n' "$what"
		failed=$((failed + 1))
	fi
}
nonempty() { [[ -s $1 ]] && unzip -tq "$1"; }
# unzip's own pattern, not a pipe into grep -q: grep would quit early, and pipefail would
# count unzip's SIGPIPE as a missing entry.
has_entry() { [[ -n $(unzip -Z1 "$1" "$2" 2>/dev/null) ]]; }

if [[ ${1:-} == --build ]]; then
	log "building: ./mvnw -B -q verify -DskipTests"
	./mvnw -B -q verify -DskipTests
fi

# One effective POM per module, written by the help plugin.
EFFECTIVE=$(mktemp -d)
trap 'rm -rf "$EFFECTIVE"' EXIT
for m in "${MODULES[@]}"; do
	./mvnw -B -q -pl "$m" org.apache.maven.plugins:maven-help-plugin:3.5.2:effective-pom \
		-Doutput="$EFFECTIVE/$m.xml" >"$EFFECTIVE/$m.log" 2>&1 \
		|| { cat "$EFFECTIVE/$m.log" >&2; die "help:effective-pom failed for $m"; }
done

for m in "${MODULES[@]}"; do
	artifact=$(sed -n 's|^  <artifactId>\(.*\)</artifactId>|\1|p' "$m/pom.xml" | head -n 1)
	base=$m/target/$artifact-$VERSION
	for suffix in "" -sources -javadoc; do
		check "$artifact: $artifact-$VERSION$suffix.jar is a non-empty jar" nonempty "$base$suffix.jar"
	done
	if [[ $m == graceful-shutdown-starter ]]; then
		check "$artifact: -sources.jar has README.md" has_entry "$base-sources.jar" README.md
		check "$artifact: -javadoc.jar has README.md" has_entry "$base-javadoc.jar" README.md
	else
		check "$artifact: -javadoc.jar has index.html" has_entry "$base-javadoc.jar" index.html
		check "$artifact: -sources.jar has .java files" has_entry "$base-sources.jar" '*.java'
	fi
	# Each field on its own line of output, so a failure says which one.
	while IFS= read -r line; do
		field=${line%%=*}
		check "$artifact: effective POM $field" test "${line#*=}" = ok
	done < <(python3 - "$EFFECTIVE/$m.xml" "$URL" <<'EOF'
import sys
import xml.etree.ElementTree as ET

path, url = sys.argv[1], sys.argv[2]
ns = {"m": "http://maven.apache.org/POM/4.0.0"}
p = ET.parse(path).getroot()
if p.tag.endswith("projects"):
    p = p.find("m:project", ns)
def text(xpath):
    e = p.find(xpath, ns)
    return (e.text or "").strip() if e is not None else ""
checks = {
    "name": bool(text("m:name")),
    "description": bool(text("m:description")),
    "url": text("m:url") == url,
    "licenses": text("m:licenses/m:license/m:name") == "Apache-2.0"
        and text("m:licenses/m:license/m:url") == "https://www.apache.org/licenses/LICENSE-2.0",
    "developers": bool(text("m:developers/m:developer/m:name") or text("m:developers/m:developer/m:id")),
    "scm.url": text("m:scm/m:url") == url,
    "scm.connection": text("m:scm/m:connection") == "scm:git:" + url + ".git",
    "scm.developerConnection": text("m:scm/m:developerConnection").startswith("scm:git:")
        and text("m:scm/m:developerConnection").endswith("graceful-shutdown/graceful-shutdown-spring-boot.git"),
}
for k, v in checks.items():
    print(f"{k}={'ok' if v else 'bad'}")
EOF
	)
done

check "LICENSE.txt is the Apache License 2.0" grep -q "Apache License" LICENSE.txt
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
