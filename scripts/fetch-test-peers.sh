#!/usr/bin/env bash
# Fetches the real brokers the end-to-end tests run from Maven Central: each test/peers/<name>/pom.xml
# pins one server, whose jars and run-time dependencies land in test/peers/<name>/target/lib
# (git-ignored; Maven caches the downloads in ~/.m2). A peer whose jars are there is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v mvn >/dev/null 2>&1 || { echo "fetch-test-peers: mvn not found (scripts/install-test-deps.sh installs it)" >&2; exit 1; }
for pom in test/peers/*/pom.xml; do
  peer=$(dirname "$pom")
  # the pom is newer than the jars when a pinned version changed
  if [ -f "$peer/target/lib/.fetched" ] && [ "$peer/target/lib/.fetched" -nt "$pom" ]; then continue; fi
  echo "fetch-test-peers: fetching $(basename "$peer")"
  rm -rf "$peer/target/lib"
  # Debian's Maven 3.8 writes colour resets even in batch mode; its errors come through without them
  mvn -q -B -f "$pom" dependency:copy-dependencies -DoutputDirectory=target/lib -DincludeScope=runtime 2>&1 | sed 's/\x1b\[[0-9;]*m//g'
  touch "$peer/target/lib/.fetched"
done
