#!/usr/bin/env bash
# Installs the Debian packages the test suite's real peers need, when they are missing:
# thrift-compiler + python3-thrift (cross-language wire check with Apache Thrift's Python client),
# kcat, whose librdkafka1 holds the mock Kafka cluster the Kafka tests drive (and kcat reads back),
# zookeeper, the real ZooKeeper server (it brings a Java runtime),
# nats-server and redis-server, the real servers of the NATS JetStream and Redis Streams plugins,
# prometheus, the real Prometheus server that scrapes the proxy's /metrics (and promtool, which lints it),
# tmux, the real terminal `pproxy top` is tested in (test/cli/top-terminal.test.ts),
# maven, which fetches the Java peers from Maven Central (scripts/fetch-test-peers.sh: Apache Kafka 4
# and 3, Apache RocketMQ 5).
set -euo pipefail
missing=()
command -v thrift >/dev/null 2>&1 || missing+=(thrift-compiler)
/usr/bin/python3 -c 'import thrift' >/dev/null 2>&1 || missing+=(python3-thrift)
command -v kcat >/dev/null 2>&1 || missing+=(kcat)
{ [ -f /usr/share/java/zookeeper.jar ] && command -v java >/dev/null 2>&1; } || missing+=(zookeeper)
command -v nats-server >/dev/null 2>&1 || missing+=(nats-server)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
{ command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; } || missing+=(prometheus)
command -v tmux >/dev/null 2>&1 || missing+=(tmux)
command -v mvn >/dev/null 2>&1 || missing+=(maven)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "install-test-deps: missing ${missing[*]}; run as root or: apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "install-test-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
