#!/usr/bin/env bash
# Builds the storage plugins shipped under plugins/ (each a package of its own: its dependencies are
# installed in its folder, its TypeScript compiled against the contract's types in dist/, so the
# proxy is built first).
set -euo pipefail
cd "$(dirname "$0")/.."
for plugin in plugins/*/; do
  [ -f "$plugin/package.json" ] || continue
  (
    cd "$plugin"
    if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
      npm ci --no-audit --no-fund --loglevel=error
    fi
    npm run --silent build
  )
done
