#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs the system packages and npm dependencies the
# tests need when they are missing, fetches the real brokers from Maven Central, compiles, then runs
# every test with Node's test runner.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-test-deps.sh
scripts/fetch-test-peers.sh
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
npm run --silent build
scripts/build-plugins.sh
# Explicit file list: node --test would also run every .js under a test/ directory (fixtures, helpers).
mapfile -t files < <(find dist/test -name '*.test.js' | sort)
exec node --test --test-concurrency="${TEST_CONCURRENCY:-2}" "${files[@]}"
