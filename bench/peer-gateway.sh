#!/usr/bin/env bash
# Runs FinOps as the "gateway" peer of ../shared/bench/run-peers.sh: a control plane in the
# background, a provider pointing at the harness's mock, then the data plane in the
# foreground (the harness measures and stops this process group).
#
#   GATEWAY_CMD='bash bench/peer-gateway.sh' \
#   GATEWAY_HEADERS='x-finops-provider: openai' \
#   PEERS="direct nginx gateway" bash ../shared/bench/run-peers.sh /tmp/peers.json
#
# The harness sends bare model names ("gpt-4o-mini") and a fixed key, so this runs with
# key checking off (enforce_keys=false) and routes with the x-finops-provider header.
# bench/run.sh measures with key checking on.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${BIN_DIR:-$here/build/bin}"
work="$(mktemp -d /tmp/finops-peer.XXXXXX)"
cp_port=$((GATEWAY_PORT + 1000))
"$bin/finops-controlplane" --db "$work/finops.db" --listen "127.0.0.1:$cp_port" \
  >"$work/cp.out" 2>"$work/cp.log" &
export FINOPS_ADDR="127.0.0.1:$cp_port" XDG_CONFIG_HOME="$work"
for _ in $(seq 100); do [[ -s "$work/admin-token" ]] && break; sleep 0.05; done
export FINOPS_TOKEN="$(cat "$work/admin-token")"
for _ in $(seq 100); do "$bin/finopsctl" whoami >/dev/null 2>&1 && break; sleep 0.05; done
"$bin/finopsctl" providers add openai --base-url "$UPSTREAM_URL/v1" --no-list-models >/dev/null
"$bin/finopsctl" settings set enforce_keys=false >/dev/null
exec "$bin/finops-dataplane" --control-plane "127.0.0.1:$cp_port" \
  --listen "127.0.0.1:$GATEWAY_PORT" --threads "${GW_THREADS:-1}" --access-log off
