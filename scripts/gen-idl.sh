#!/usr/bin/env bash
# Regenerates the Node client/server stubs from idl/producer.thrift into src/gen/ (committed).
# js:node,ts,es6 is the combination that works with npm thrift 0.24 (plain js:node output calls
# thrift.Q, which 0.24 no longer ships). Needs the Debian package thrift-compiler.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v thrift >/dev/null || { echo "gen-idl: the thrift compiler is missing (apt-get install -y thrift-compiler)" >&2; exit 1; }
out=src/gen
rm -rf "$out" && mkdir -p "$out"
thrift --gen js:node,ts,es6 -out "$out" idl/producer.thrift
echo "gen-idl: $(thrift --version) -> $out: $(ls "$out" | tr '\n' ' ')"
