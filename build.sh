#!/usr/bin/env bash
# Builds pproxy and assembles a runnable output/: control.sh, carrera.yaml, bin/pproxy, the compiled
# proxy and its production dependencies. Data, logs and an edited output/carrera.yaml survive a rebuild.
set -euo pipefail
cd "$(dirname "$0")"

need_node() {
  node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>20||(a===20&&b>=19)?0:1)' 2>/dev/null
}
if ! need_node; then
  echo "build.sh: Node.js >= 20.19 is required (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi

echo "build.sh: installing dependencies"
npm ci --no-audit --no-fund --loglevel=error
echo "build.sh: compiling"
npm run --silent build

out=output
mkdir -p "$out"
rm -rf "$out/dist" "$out/node_modules" "$out/bin"
mkdir -p "$out/dist" "$out/bin"
cp -r dist/src "$out/dist/src"
cp package.json package-lock.json control.sh "$out/"
cp bin/pproxy bin/pproxy-server "$out/bin/"
if [ -f "$out/carrera.yaml" ] && ! cmp -s carrera.yaml "$out/carrera.yaml"; then
  echo "build.sh: keeping the edited $out/carrera.yaml (the shipped one is carrera.yaml)"
else
  cp carrera.yaml "$out/"
fi
cp -r node_modules "$out/node_modules"
(cd "$out" && npm prune --omit=dev --no-audit --no-fund --loglevel=error)
echo "build.sh: ready in $out/ (start: $out/control.sh start)"
