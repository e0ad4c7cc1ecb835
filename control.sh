#!/usr/bin/env bash
# Starts and stops pproxy.
#   control.sh start [config]    start in the background (config: default carrera.yaml next to this script)
#   control.sh stop              SIGTERM, wait for the drain, SIGKILL after PPROXY_STOP_TIMEOUT s
#   control.sh restart [config]
#   control.sh reload            apply the changed config file live (SIGHUP; also reopens the log)
#   control.sh status            is it running, and does it answer a heartbeat (and what its admin
#                                listener's /status says, when adminPort is on)
# Exit codes: start 0 started, 1 already running, 2 failed to start; reload 0 signalled, 3 not running;
#             stop 0 stopped (or was not running), 2 had to be killed;
#             status 0 running and answering, 1 dead with a stale pid file, 3 not running,
#                    4 running but not answering.
# Environment: PPROXY_RUN_DIR (pid, address and status files, default ./run), PPROXY_LOG_DIR (console.log,
# default ./logs), PPROXY_STOP_TIMEOUT (seconds, default 60: longer than a default stop takes at most), PPROXY_START_TIMEOUT (default 20), NODE.
set -uo pipefail

HOME_DIR=$(cd "$(dirname "$0")" && pwd)
RUN_DIR=${PPROXY_RUN_DIR:-$HOME_DIR/run}
LOG_DIR=${PPROXY_LOG_DIR:-$HOME_DIR/logs}
PID_FILE=$RUN_DIR/pproxy.pid
ADDR_FILE=$RUN_DIR/pproxy.addr
ADMIN_FILE=$RUN_DIR/pproxy.admin
STATUS_FILE=$RUN_DIR/pproxy.status
CONSOLE_LOG=$LOG_DIR/console.log
STOP_TIMEOUT=${PPROXY_STOP_TIMEOUT:-60}
START_TIMEOUT=${PPROXY_START_TIMEOUT:-20}
NODE=${NODE:-node}
MAIN=$HOME_DIR/dist/src/main.js
SERVER=$HOME_DIR/bin/pproxy-server
CLI=$HOME_DIR/dist/src/cli/pproxy.js

say() { echo "pproxy: $*"; }

# The pid from the pid file if that process is alive and is this pproxy (pids get reused).
running_pid() {
  [ -f "$PID_FILE" ] || return 1
  local pid
  pid=$(cat "$PID_FILE" 2>/dev/null) || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$MAIN" || return 1
  echo "$pid"
}

start() {
  local config=${1:-$HOME_DIR/carrera.yaml}
  local pid
  if pid=$(running_pid); then
    say "already running (pid $pid)"
    return 1
  fi
  [ -f "$MAIN" ] || { say "not built: $MAIN is missing (run build.sh)"; return 2; }
  mkdir -p "$RUN_DIR" "$LOG_DIR"
  [ -f "$CONSOLE_LOG" ] && mv "$CONSOLE_LOG" "$CONSOLE_LOG.$(date +%Y%m%d-%H%M%S)"
  rm -f "$ADDR_FILE" "$ADMIN_FILE" "$STATUS_FILE"
  # pproxy-server execs node on $MAIN with the proxy's V8 flags, in this process
  NODE=$NODE PPROXY_STATUS_FILE=$STATUS_FILE nohup "$SERVER" "$config" >"$CONSOLE_LOG" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$PID_FILE"
  local waited=0
  while [ "$waited" -lt $((START_TIMEOUT * 10)) ]; do
    if ! kill -0 "$pid" 2>/dev/null; then
      say "failed to start; $CONSOLE_LOG says:"
      tail -n 20 "$CONSOLE_LOG" | sed 's/^/  /'
      rm -f "$PID_FILE"
      return 2
    fi
    local line
    line=$(grep -m1 ' listening on ' "$CONSOLE_LOG" 2>/dev/null)
    if [ -n "$line" ]; then
      echo "$line" | sed -E 's/.* listening on ([^ ]+) .*/\1/' >"$ADDR_FILE"
      case "$line" in *", admin on http://"*) echo "${line##*, admin on http://}" >"$ADMIN_FILE" ;; esac
      say "started (pid $pid): ${line#pproxy }"
      return 0
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
  say "not listening after ${START_TIMEOUT}s (pid $pid); see $CONSOLE_LOG"
  return 2
}

stop() {
  local pid
  if ! pid=$(running_pid); then
    rm -f "$PID_FILE" "$ADDR_FILE" "$ADMIN_FILE" "$STATUS_FILE"
    say "not running"
    return 0
  fi
  kill -TERM "$pid"
  say "stopping (pid $pid): draining requests"
  local waited=0
  while kill -0 "$pid" 2>/dev/null; do
    if [ "$waited" -ge $((STOP_TIMEOUT * 10)) ]; then
      kill -KILL "$pid" 2>/dev/null
      say "still running after ${STOP_TIMEOUT}s: killed with SIGKILL (pid $pid)"
      rm -f "$PID_FILE" "$ADDR_FILE" "$ADMIN_FILE" "$STATUS_FILE"
      return 2
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
  rm -f "$PID_FILE" "$ADDR_FILE" "$ADMIN_FILE" "$STATUS_FILE"
  say "stopped"
  return 0
}

reload() {
  local pid
  if ! pid=$(running_pid); then
    say "not running"
    return 3
  fi
  kill -HUP "$pid"
  say "reload signalled (pid $pid); the outcome is in the proxy's log"
  return 0
}

# What the proxy reports about its configuration: GET /status of its admin listener when it has
# one, else (no listener, or one that refuses, fails, answers other than 200 or not within 2 s)
# the status file it writes.
describe_status() {
  local admin
  admin=$(cat "$ADMIN_FILE" 2>/dev/null)
  [ -n "$admin" ] || [ -f "$STATUS_FILE" ] || return 0
  "$NODE" -e '
    const [admin, file] = process.argv.slice(1);
    const print = (s) => {
      const origin = { file: "config file", zookeeper: "ZooKeeper", cache: "cached ZooKeeper config (ZooKeeper unreachable)", none: "no config" }[s.configOrigin];
      const plugins = (s.storagePlugins || []).map((p) => `${p.kind} ${p.version} (${p.source})`).join(", ");
      process.stdout.write((s.waitingFor
        ? `; not bound: waiting for ZooKeeper node ${s.waitingFor}`
        : `; ${s.topics.length} topic(s) from ${origin}`) + (plugins ? `; storage plugins: ${plugins}` : "")
        + (s.phase && s.phase !== "serving" ? `; ${s.phase}` : ""));
    };
    let done = false;
    const fromFile = () => {
      if (done) return;
      done = true;
      try { print(JSON.parse(require("fs").readFileSync(file, "utf8"))); } catch {}
    };
    const fromAdmin = () => {
      const request = require("http").get(`http://${admin}/status`, { timeout: 2000 }, (res) => {
        let body = "";
        res.on("data", (d) => (body += d)).on("error", fromFile).on("end", () => {
          let status;
          try { status = res.statusCode === 200 ? JSON.parse(body) : undefined; } catch {}
          if (!status || !Array.isArray(status.topics)) return fromFile();
          if (!done) print(status);
          done = true;
        });
      });
      request.on("error", fromFile).on("timeout", () => { request.destroy(); fromFile(); });
    };
    try {
      if (admin) fromAdmin();
      else fromFile();
    } catch {
      fromFile(); // an address that makes no URL
    }
  ' "$admin" "$STATUS_FILE" 2>/dev/null
}

status() {
  local pid
  if ! pid=$(running_pid); then
    if [ -f "$PID_FILE" ]; then
      say "not running, but $PID_FILE names pid $(cat "$PID_FILE") (it died; see $CONSOLE_LOG)"
      return 1
    fi
    say "not running"
    return 3
  fi
  local addr host port
  addr=$(cat "$ADDR_FILE" 2>/dev/null)
  host=${addr%:*}
  port=${addr##*:}
  [ "$host" = "0.0.0.0" ] && host=127.0.0.1
  if [ -n "$addr" ] && "$NODE" "$CLI" send --host "$host" --port "$port" --timeout 1000 --topic carrera_heartbeat --body ping >/dev/null 2>&1; then
    say "running (pid $pid), answering on $addr$(describe_status)"
    return 0
  fi
  say "running (pid $pid), but not answering${addr:+ on $addr}"
  return 4
}

case "${1:-}" in
  start) start "${2:-}" ;;
  stop) stop ;;
  restart) stop; start "${2:-}" ;;
  reload) reload ;;
  status) status ;;
  *) echo "usage: $0 start [config] | stop | restart [config] | reload | status" >&2; exit 64 ;;
esac
