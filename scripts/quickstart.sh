#!/usr/bin/env bash
# One-command local FinOps: installs dependencies, builds, and runs a control plane and a
# data plane on this machine.
#
#   bash scripts/quickstart.sh          # install deps, build, (re)start both, wait until ready
#   bash scripts/quickstart.sh stop     # stop both
#   bash scripts/quickstart.sh status   # show whether they run, and /readyz
#
# State lives in var/: finops.db (SQLite), admin-token, *.log, *.pid.
# Control plane (admin gRPC API): 127.0.0.1:50051. Data plane (OpenAI API): 0.0.0.0:8080,
# plain HTTP (--allow-plaintext; see docs/security.md for HTTPS).
# Re-running it while both run stops them and starts them again (after a rebuild).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO="$(pwd)"
VAR="$REPO/var"
BIN="$REPO/build/bin"
CP_LISTEN="127.0.0.1:50051"
DP_LISTEN="0.0.0.0:8080"
READY_URL="http://127.0.0.1:8080/readyz"
READY_TIMEOUT=30     # seconds to wait for the data plane's /readyz
STOP_TIMEOUT=40      # seconds to wait for a process to exit after SIGTERM (drain is 30 s)

say() { printf '==> %s\n' "$*"; }

# Prints the pid recorded in var/NAME.pid if that process is alive and is really
# finops-NAME (a stale pid file or a reused pid is ignored). Returns 1 otherwise.
running_pid() {
  local name="$1" pidfile="$VAR/$1.pid" pid
  [[ -f "$pidfile" ]] || return 1
  pid="$(cat "$pidfile" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "finops-$name" || return 1
  echo "$pid"
}

stop_one() {
  local name="$1" pid i
  if pid="$(running_pid "$name")"; then
    say "stopping finops-$name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < STOP_TIMEOUT * 10; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      say "finops-$name did not exit within ${STOP_TIMEOUT}s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$VAR/$name.pid"
}

stop_all() {
  # Data plane first, so it does not spend its time reconnecting to a vanished control plane.
  stop_one dataplane
  stop_one controlplane
}

show_logs() {
  local name
  for name in controlplane dataplane; do
    if [[ -f "$VAR/$name.log" ]]; then
      echo "----- last lines of var/$name.log -----" >&2
      tail -n 40 "$VAR/$name.log" >&2
    fi
  done
}

fail() {
  echo "error: $*" >&2
  show_logs
  stop_all
  exit 1
}

status() {
  local name pid
  for name in controlplane dataplane; do
    if pid="$(running_pid "$name")"; then
      echo "finops-$name: running (pid $pid)"
    else
      echo "finops-$name: not running"
    fi
  done
  echo "readyz: $(curl -sS --max-time 2 "$READY_URL" 2>&1 || true)"
}

start() {
  say "installing dependencies"
  bash "$REPO/scripts/install-deps.sh"
  say "building"
  bash "$REPO/scripts/build.sh"

  stop_all
  mkdir -p "$VAR"
  chmod 700 "$VAR"   # holds the database, the admin token and logs that may show it

  say "starting finops-controlplane on $CP_LISTEN"
  nohup "$BIN/finops-controlplane" --db "$VAR/finops.db" --listen "$CP_LISTEN" \
    --admin-token-file "$VAR/admin-token" \
    </dev/null >"$VAR/controlplane.log" 2>&1 &
  echo $! >"$VAR/controlplane.pid"

  # Wait for the gRPC listener so the data plane's first connection succeeds.
  local i
  for ((i = 0; i < 100; i++)); do
    grep -q "listening on" "$VAR/controlplane.log" 2>/dev/null && break
    running_pid controlplane >/dev/null || fail "finops-controlplane exited during startup"
    sleep 0.1
  done

  say "starting finops-dataplane on $DP_LISTEN"
  # Plain HTTP on all interfaces needs --allow-plaintext: fine for a try-out on a trusted
  # network; for anything else serve HTTPS (--tls-cert/--tls-key, docs/security.md).
  nohup "$BIN/finops-dataplane" --control-plane "$CP_LISTEN" --listen "$DP_LISTEN" --allow-plaintext \
    </dev/null >"$VAR/dataplane.log" 2>&1 &
  echo $! >"$VAR/dataplane.pid"

  say "waiting for $READY_URL (up to ${READY_TIMEOUT}s)"
  local deadline=$((SECONDS + READY_TIMEOUT))
  until curl -fsS --max-time 2 -o /dev/null "$READY_URL" 2>/dev/null; do
    running_pid controlplane >/dev/null || fail "finops-controlplane exited"
    running_pid dataplane >/dev/null || fail "finops-dataplane exited"
    ((SECONDS < deadline)) || fail "data plane not ready after ${READY_TIMEOUT}s"
    sleep 0.5
  done

  local token
  if [[ -s "$VAR/admin-token" ]]; then
    token="$(head -n 1 "$VAR/admin-token")"
  else
    token="(var/admin-token is missing; see var/controlplane.log)"
  fi

  cat <<MSG

FinOps is running.
  control plane (admin gRPC API): $CP_LISTEN     log: var/controlplane.log
  data plane (OpenAI-compatible): http://127.0.0.1:8080/v1   log: var/dataplane.log
  request logs:                   http://127.0.0.1:8080/logs (sign in with the admin token)
  metrics:                        http://127.0.0.1:8080/metrics, http://127.0.0.1:9091/metrics

Admin token: $token
(stored in var/admin-token; keep it secret)

Next steps:
  export PATH="$BIN:\$PATH"
  export FINOPS_TOKEN="\$(cat $VAR/admin-token)"

  # add an upstream provider; finopsctl reads the key from the named environment variable
  export OPENAI_API_KEY=sk-...
  finopsctl providers add openai --api-key-env OPENAI_API_KEY

  # create a virtual key for your clients (shown once: copy the sk-fo-... value)
  finopsctl keys create --name team-a

  curl http://127.0.0.1:8080/v1/chat/completions \\
    -H "Authorization: Bearer sk-fo-..." \\
    -H "Content-Type: application/json" \\
    -d '{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"Hello!"}]}'

  # every request, with its content, searchable
  finopsctl logs --since 1h

Stop with: bash scripts/quickstart.sh stop
MSG
}

case "${1:-start}" in
  start|restart) start ;;
  stop) stop_all; say "stopped" ;;
  status) status ;;
  -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' ;;
  *) echo "usage: bash scripts/quickstart.sh [start|stop|status]" >&2; exit 2 ;;
esac
