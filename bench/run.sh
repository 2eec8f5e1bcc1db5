#!/usr/bin/env bash
# FinOps data-plane benchmark: gateway vs direct-to-mock, one gateway core.
#
#   bench/run.sh [RESULTS_JSON]        (default /tmp/finops-bench/results.json)
#
# Needs the project binaries in build/bin (or $BIN_DIR): finops-controlplane, finops-dataplane,
# finopsctl; and gcc, curl, jq, taskset. Builds bench/mock_upstream.c and bench/loadgen.c into
# /tmp/finops-bench/bin. Everything runs on loopback; every process started here is stopped on
# exit. See bench/README.md for what each figure means.
#
# Knobs (environment): DUR (5, seconds per measurement), WARM (1, untimed warm-up per
# measurement), RATES ("1000 5000", open-loop rates), CONNS (50, keep-alive connections),
# CHUNKS (20, stream events), PROP_SAMPLES (5), LOAD_CPU (0: mock + loadgen + control plane),
# GW_CPU (1: data plane), MAX_SECONDS (170: measurements that would not fit are skipped),
# BIN_DIR, BASE_PORT (29080), WORKDIR (/tmp/finops-bench), ACCESS_LOG (on: the data plane's
# default; off = --access-log off), KEEP_RUNNING (0; 1 = leave the processes up at the end and
# wait for Ctrl-C, to poke at them by hand).
set -uo pipefail

T_START=$EPOCHREALTIME
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN_DIR=${BIN_DIR:-$ROOT/build/bin}
WORKDIR=${WORKDIR:-/tmp/finops-bench}
OUT=${1:-$WORKDIR/results.json}
DUR=${DUR:-5}
WARM=${WARM:-1}
RATES=${RATES:-"1000 5000"}
CONNS=${CONNS:-50}
CHUNKS=${CHUNKS:-20}
PROP_SAMPLES=${PROP_SAMPLES:-5}
LOAD_CPU=${LOAD_CPU:-0}
GW_CPU=${GW_CPU:-1}
MAX_SECONDS=${MAX_SECONDS:-170}
BASE_PORT=${BASE_PORT:-29080}
KEEP_RUNNING=${KEEP_RUNNING:-0}
ACCESS_LOG=${ACCESS_LOG:-on}
# on: the bench key carries a budget, a request-rate limit and a concurrency limit (never
# reached), so every request goes through quota admission and produces a usage record.
GOVERNANCE=${GOVERNANCE:-off}

die() { echo "run.sh: error: $*" >&2; exit 1; }
log() { printf '[%6.1fs] %s\n' "$(elapsed)" "$*" >&2; }
elapsed() { awk -v a="$T_START" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.1f", b-a}'; }

# ---------------------------------------------------------------- prerequisites
missing=()
for b in finops-controlplane finops-dataplane finopsctl; do
    [[ -x $BIN_DIR/$b ]] || missing+=("$b")
done
if ((${#missing[@]})); then
    echo "run.sh: project binaries missing in $BIN_DIR: ${missing[*]}" >&2
    echo "        build first:  cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo && cmake --build build -j2" >&2
    echo "        (or point BIN_DIR at a directory holding them)" >&2
    exit 2
fi
for t in gcc curl jq taskset timeout awk; do
    command -v "$t" >/dev/null || die "'$t' not found (apt-get install gcc curl jq util-linux coreutils gawk)"
done
NCPU=$(nproc)
((LOAD_CPU < NCPU && GW_CPU < NCPU)) || die "LOAD_CPU=$LOAD_CPU / GW_CPU=$GW_CPU: this machine has $NCPU CPUs"

TOOLS=$WORKDIR/bin
RUN=$WORKDIR/run-$(date +%Y%m%d-%H%M%S)-$$
mkdir -p "$TOOLS" "$RUN" "$(dirname "$OUT")" || die "cannot create $RUN"
log "work dir $RUN"

gcc -O2 -Wall -o "$TOOLS/mock_upstream" "$ROOT/bench/mock_upstream.c" || die "building mock_upstream failed"
gcc -O2 -Wall -o "$TOOLS/loadgen" "$ROOT/bench/loadgen.c" -lm || die "building loadgen failed"

# how busy is the machine before we start? (other builds / benchmarks make the figures noisy)
cpu_snapshot() { awk '$1 ~ /^cpu[0-9]+$/ {print $1, $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat; }
s0=$(cpu_snapshot); sleep 1; s1=$(cpu_snapshot)
BG_BUSY=$(paste -d' ' <(echo "$s0") <(echo "$s1") | awk '{d = $6 - $3; printf "%s%.0f", (NR > 1 ? "," : ""), (d > 0 ? ($5 - $2) / d * 100 : 0)}')
if awk -v l="$BG_BUSY" 'BEGIN{n = split(l, a, ","); for (i = 1; i <= n; i++) if (a[i] > 15) exit 0; exit 1}'; then
    log "WARNING: the machine is not idle before the run (busy % per CPU: $BG_BUSY): figures will be noisy"
fi

# ---------------------------------------------------------------- process handling
PIDS=()
cleanup() {
    local pid i
    trap - EXIT INT TERM
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
        pid=${PIDS[i]}
        kill -TERM "$pid" 2>/dev/null
    done
    for _ in $(seq 30); do
        local alive=0
        for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
        ((alive)) || break
        sleep 0.1
    done
    for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null; done
    wait 2>/dev/null
    # the access log is ~10 MB per second of load: keep it, compressed
    if [[ -f $RUN/dataplane.log ]] && (($(stat -c %s "$RUN/dataplane.log") > 5000000)); then
        gzip -1 "$RUN/dataplane.log"
    fi
}
trap cleanup EXIT
trap 'echo "run.sh: interrupted" >&2; exit 130' INT TERM

port_free() { ! (: >"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
NEXT_PORT=$BASE_PORT
pick_port() {
    while ! port_free "$NEXT_PORT"; do NEXT_PORT=$((NEXT_PORT + 1)); done
    echo "$NEXT_PORT"
}
MOCK_PORT=$(pick_port); NEXT_PORT=$((MOCK_PORT + 1))
CP_PORT=$(pick_port); NEXT_PORT=$((CP_PORT + 1))
DP_PORT=$(pick_port); NEXT_PORT=$((DP_PORT + 1))

# wait_for DESC TIMEOUT_S PID CMD...: poll CMD until it succeeds; fail early if PID died
wait_for() {
    local desc=$1 to=$2 pid=$3; shift 3
    local deadline=$(($(date +%s) + to))
    while ! "$@" >/dev/null 2>&1; do
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "run.sh: $desc: process $pid exited" >&2
            return 1
        fi
        (($(date +%s) >= deadline)) && { echo "run.sh: timed out waiting for $desc" >&2; return 1; }
        sleep 0.05
    done
}
show_log() { echo "---- $1 (last lines) ----" >&2; tail -n 20 "$1" >&2; }

# ---------------------------------------------------------------- start everything
taskset -c "$LOAD_CPU" "$TOOLS/mock_upstream" -p "$MOCK_PORT" -n "$CHUNKS" 2>"$RUN/mock.log" &
MOCK_PID=$!; PIDS+=("$MOCK_PID")
wait_for "mock upstream" 5 "$MOCK_PID" curl -fsS "http://127.0.0.1:$MOCK_PORT/health" || { show_log "$RUN/mock.log"; exit 1; }
log "mock upstream on :$MOCK_PORT (pid $MOCK_PID, CPU $LOAD_CPU)"

mkdir -p "$RUN/cp"
taskset -c "$LOAD_CPU" "$BIN_DIR/finops-controlplane" --db "$RUN/cp/finops.db" --listen "127.0.0.1:$CP_PORT" \
    --admin-token-file "$RUN/cp/admin-token" >"$RUN/controlplane.out" 2>"$RUN/controlplane.log" &
CP_PID=$!; PIDS+=("$CP_PID")
cp_up() { [[ -s $RUN/cp/admin-token ]] && grep -q "listening on" "$RUN/controlplane.log"; }
wait_for "control plane" 20 "$CP_PID" cp_up || { show_log "$RUN/controlplane.log"; exit 1; }
TOKEN=$(head -n1 "$RUN/cp/admin-token")
log "control plane on :$CP_PORT (pid $CP_PID)"

# XDG_CONFIG_HOME in the run dir: never read or write the user's finopsctl config
ctl() { XDG_CONFIG_HOME=$RUN/xdg timeout 30 "$BIN_DIR/finopsctl" --addr "127.0.0.1:$CP_PORT" --token "$TOKEN" "$@"; }

echo "sk-mock-upstream-0001" | ctl providers add openai --base-url "http://127.0.0.1:$MOCK_PORT/v1" \
    --api-key-stdin --models gpt-4o-mini -o json >"$RUN/provider.json" 2>"$RUN/ctl.err" \
    || { cat "$RUN/ctl.err" >&2; die "finopsctl providers add failed"; }
GOV_FLAGS=()
[[ $GOVERNANCE == on ]] && GOV_FLAGS=(--budget 1000000/1d --requests 1000000000/1m --max-concurrent 100000)
ctl keys create --name bench "${GOV_FLAGS[@]}" -o json >"$RUN/key.json" 2>"$RUN/ctl.err" \
    || { cat "$RUN/ctl.err" >&2; die "finopsctl keys create failed"; }
KEY=$(jq -r .key "$RUN/key.json")
[[ -n $KEY && $KEY != null ]] || die "no key in $(cat "$RUN/key.json")"
log "provider openai -> mock, virtual key ${KEY:0:10}... (governance $GOVERNANCE)"

DP_EXTRA=()
if "$BIN_DIR/finops-dataplane" --help 2>&1 | grep -q -- --access-log; then DP_EXTRA+=(--access-log "$ACCESS_LOG"); fi
taskset -c "$GW_CPU" "$BIN_DIR/finops-dataplane" --control-plane "127.0.0.1:$CP_PORT" --listen "127.0.0.1:$DP_PORT" \
    --threads 1 --node-id bench-dp --drain-timeout 1 "${DP_EXTRA[@]}" >"$RUN/dataplane.out" 2>"$RUN/dataplane.log" &
DP_PID=$!; PIDS+=("$DP_PID")
wait_for "data plane /readyz" 20 "$DP_PID" curl -fsS "http://127.0.0.1:$DP_PORT/readyz" || { show_log "$RUN/dataplane.log"; exit 1; }
log "data plane on :$DP_PORT (pid $DP_PID, CPU $GW_CPU, --threads 1 ${DP_EXTRA[*]})"

DIRECT_URL="http://127.0.0.1:$MOCK_PORT/v1/chat/completions"
GW_URL="http://127.0.0.1:$DP_PORT/v1/chat/completions"
BODY_DIRECT='{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello in one short sentence."}],"max_tokens":64}'
BODY_GW='{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"Say hello in one short sentence."}],"max_tokens":64}'
AUTH="Authorization: Bearer $KEY"

# the key must be live at the data plane before measuring
"$TOOLS/loadgen" -u "$GW_URL" -H "$AUTH" -b "$BODY_GW" --poll-ok "$EPOCHREALTIME" -T 15 --poll-interval-us 2000 \
    >"$RUN/first-key.json" || {
        cat "$RUN/first-key.json" >&2; show_log "$RUN/dataplane.log"
        echo "---- response ----" >&2
        curl -sS -i -H "$AUTH" -H 'Content-Type: application/json' -d "$BODY_GW" "$GW_URL" 2>&1 | head -c 800 >&2; echo >&2
        die "the gateway never answered 2xx with the new virtual key"
    }

# functional checks
code=$(curl -sS -o "$RUN/check-nonstream.out" -w '%{http_code}' -H "$AUTH" -H 'Content-Type: application/json' -d "$BODY_GW" "$GW_URL")
if [[ $code != 200 ]] || ! grep -q '"chat.completion"' "$RUN/check-nonstream.out"; then
    echo "non-stream check: HTTP $code: $(head -c 500 "$RUN/check-nonstream.out")" >&2
    die "gateway functional check failed (non-stream)"
fi
BODY_GW_STREAM=${BODY_GW/\{/\{\"stream\":true,}
code=$(curl -sS -N -o "$RUN/check-stream.out" -w '%{http_code}' -H "$AUTH" -H 'Content-Type: application/json' -d "$BODY_GW_STREAM" "$GW_URL")
if [[ $code != 200 ]] || ! grep -q 'data: \[DONE\]' "$RUN/check-stream.out"; then
    echo "stream check: HTTP $code: $(head -c 500 "$RUN/check-stream.out")" >&2
    die "gateway functional check failed (stream)"
fi
code=$(curl -sS -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer sk-fo-not-a-key' -H 'Content-Type: application/json' -d "$BODY_GW" "$GW_URL")
KEYCHECK_401=$([[ $code == 401 ]] && echo true || echo false)
[[ $KEYCHECK_401 == true ]] || log "WARNING: an invalid key got HTTP $code (expected 401): key checking looks OFF"
ctl settings get -o json >"$RUN/settings.json" 2>/dev/null || echo '{}' >"$RUN/settings.json"
VERSION=$(ctl version 2>/dev/null | head -n1 | tr -d '"\\')
log "functional checks ok (invalid key -> $code)"

# ---------------------------------------------------------------- measurement helpers
RES=$RUN/results.json
jq -n --arg ts "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --arg host "$(hostname)" --arg kernel "$(uname -r)" \
    --arg cpu "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')" --argjson ncpu "$NCPU" \
    --arg version "$VERSION" --argjson dur "$DUR" --argjson warm "$WARM" --argjson conns "$CONNS" \
    --argjson chunks "$CHUNKS" --arg rates "$RATES" --argjson load_cpu "$LOAD_CPU" --argjson gw_cpu "$GW_CPU" \
    --argjson keycheck "$KEYCHECK_401" --slurpfile settings "$RUN/settings.json" \
    --arg dpargs "--threads 1 --drain-timeout 1 ${DP_EXTRA[*]}" --arg bg "$BG_BUSY" --arg gov "$GOVERNANCE" \
    '{timestamp:$ts, host:{name:$host, kernel:$kernel, cpu:$cpu, ncpu:$ncpu,
                           busy_pct_before_run:($bg|split(",")|map(tonumber))}, finops_version:$version,
      config:{dur_s:$dur, warm_s:$warm, conns:$conns, chunks:$chunks, rates:($rates|split(" ")|map(select(.!="")|tonumber)),
              load_cpu:$load_cpu, gw_cpu:$gw_cpu, dataplane_threads:1, dataplane_args:$dpargs, governance:$gov},
      key_checking:{invalid_key_rejected:$keycheck, settings:($settings[0] // {})},
      targets:{nonstream_rps_min:25000, added_p50_us_max_at_5000:100},
      closed_loop:{}, open_loop:{}, rss_kb:{}, propagation_ms:{}}' >"$RES"
put() { # put JQ_PATH JSON_VALUE
    jq --argjson v "$2" "$1 = \$v" "$RES" >"$RES.tmp" && mv "$RES.tmp" "$RES"
}
status_kb() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$DP_PID/status" 2>/dev/null; }
proc_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
cpu_busy_total() { awk -v c="cpu$1" '$1 == c {print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat; }
CLK_TCK=$(getconf CLK_TCK)
fits() { # fits SECONDS: does a measurement of that length still fit in MAX_SECONDS?
    awk -v a="$T_START" -v b="$EPOCHREALTIME" -v n="$1" -v m="$MAX_SECONDS" 'BEGIN{exit !((b-a)+n <= m)}'
}

# measure NAME TARGET(direct|gateway) RATE [--stream] -> prints loadgen JSON (+ cpu figures)
measure() {
    local name=$1 target=$2 rate=$3; shift 3
    local url body hdr
    if [[ $target == gateway ]]; then url=$GW_URL; body=$BODY_GW; hdr=$AUTH
    else url=$DIRECT_URL; body=$BODY_DIRECT; hdr="Authorization: Bearer sk-direct-unused"; fi
    if ! fits $((DUR + WARM + 3)); then
        echo '{"skipped":"time budget (MAX_SECONDS)"}'
        return
    fi
    local t0 g0 l0 t1 g1 l1 out
    t0=$EPOCHREALTIME; g0=$(proc_ticks "$DP_PID"); l0=$(cpu_busy_total "$LOAD_CPU")
    out=$(timeout $((DUR + WARM + 20)) taskset -c "$LOAD_CPU" "$TOOLS/loadgen" -u "$url" -r "$rate" -d "$DUR" -w "$WARM" \
        -c "$CONNS" -H "$hdr" -b "$body" "$@" 2>>"$RUN/loadgen.err")
    t1=$EPOCHREALTIME; g1=$(proc_ticks "$DP_PID"); l1=$(cpu_busy_total "$LOAD_CPU")
    [[ -n $out ]] || out='{"error":"loadgen failed (see loadgen.err)"}'
    echo "$out" >"$RUN/$name.json"
    local cpu
    cpu=$(awk -v t0="$t0" -v t1="$t1" -v g0="$g0" -v g1="$g1" -v hz="$CLK_TCK" -v l0="$l0" -v l1="$l1" 'BEGIN{
        split(l0, a, " "); split(l1, b, " ");
        gw = (g1 - g0) / hz / (t1 - t0) * 100; ld = (b[2] > a[2]) ? (b[1] - a[1]) / (b[2] - a[2]) * 100 : 0;
        printf "{\"gw_cpu_pct\":%.0f,\"load_cpu_pct\":%.0f}", gw, ld }')
    [[ $target == gateway ]] || cpu=$(echo "$cpu" | jq -c 'del(.gw_cpu_pct)')
    jq -c --argjson cpu "$cpu" '. + $cpu' <<<"$out" 2>/dev/null || echo "$out"
}

# ---------------------------------------------------------------- measurements
sleep 0.3
RSS_IDLE=$(status_kb VmRSS)
put '.rss_kb.idle_vmrss' "${RSS_IDLE:-null}"
log "data plane idle VmRSS ${RSS_IDLE:-?} kB"

for mode in nonstream stream; do
    flag=(); [[ $mode == stream ]] && flag=(--stream)
    for target in direct gateway; do
        log "closed loop  $mode  $target  (-c $CONNS, ${DUR}s)"
        r=$(measure "closed-$mode-$target" "$target" 0 "${flag[@]}")
        put ".closed_loop.$mode.$target" "$r"
    done
done
for mode in nonstream stream; do
    flag=(); [[ $mode == stream ]] && flag=(--stream)
    for rate in $RATES; do
        for target in direct gateway; do
            log "open loop    $mode  $target  ${rate} req/s"
            r=$(measure "open-$mode-$rate-$target" "$target" "$rate" "${flag[@]}")
            put ".open_loop.$mode[\"$rate\"].$target" "$r"
        done
        jq --arg m "$mode" --arg r "$rate" '
            .open_loop[$m][$r] as $x
            | if ($x.direct.p50_us // null) != null and ($x.gateway.p50_us // null) != null then
                .open_loop[$m][$r].added = ({p50_us: ($x.gateway.p50_us - $x.direct.p50_us),
                                             p90_us: ($x.gateway.p90_us - $x.direct.p90_us),
                                             p99_us: ($x.gateway.p99_us - $x.direct.p99_us)}
                   + (if $x.gateway.ttfb_p50_us then {ttfb_p50_us: ($x.gateway.ttfb_p50_us - $x.direct.ttfb_p50_us),
                                                      ttfb_p99_us: ($x.gateway.ttfb_p99_us - $x.direct.ttfb_p99_us)} else {} end))
              else . end' "$RES" >"$RES.tmp" && mv "$RES.tmp" "$RES"
    done
done
put '.rss_kb.peak_vmhwm' "$(status_kb VmHWM || echo null)"
put '.rss_kb.end_vmrss' "$(status_kb VmRSS || echo null)"

# config propagation: `keys create` returns -> the new key first gets a 2xx at the data plane
log "config propagation ($PROP_SAMPLES samples)"
# The poller is started (and connected) beforehand and gets "SINCE KEY" lines on its stdin, so
# process start-up is not part of the figure; SINCE is taken right after finopsctl exits.
samples=()
first_try=0
coproc POLLER { exec taskset -c "$LOAD_CPU" "$TOOLS/loadgen" -u "$GW_URL" -b "$BODY_GW" --poll-stdin -T 10 \
    --poll-interval-us 500 2>>"$RUN/loadgen.err"; }
PIDS+=("$POLLER_PID")
POLL_IN=${POLLER[1]}
POLL_OUT=${POLLER[0]}
sleep 0.1
for i in $(seq "$PROP_SAMPLES"); do
    fits 12 || { log "propagation: time budget reached after $((i - 1)) samples"; break; }
    if ! ctl keys create --name "prop-$i" -o json >"$RUN/prop-$i.key.json" 2>>"$RUN/ctl.err"; then
        log "propagation sample $i: keys create failed"; continue
    fi
    ts=$EPOCHREALTIME
    read -r -d '' kj <"$RUN/prop-$i.key.json"
    [[ $kj =~ \"key\":\ ?\"([^\"]+)\" ]] || { log "propagation sample $i: no key in output"; continue; }
    echo "$ts ${BASH_REMATCH[1]}" >&"$POLL_IN"
    p=
    read -r -t 15 p <&"$POLL_OUT" || { log "propagation sample $i: no answer from the poller"; break; }
    echo "$p" >"$RUN/prop-$i.json"
    if [[ $(jq -r .ok <<<"$p") == true ]]; then
        samples+=("$(jq -r .elapsed_ms <<<"$p")")
        [[ $(jq -r .attempts <<<"$p") == 1 ]] && first_try=$((first_try + 1))
    else
        log "propagation sample $i: key not accepted within 10 s"
        samples+=(10000)
    fi
    sleep 0.2
done
exec {POLL_IN}>&- {POLL_OUT}<&-   # EOF: the poller exits
prop=$(printf '%s\n' "${samples[@]}" | jq -s --argjson ft "$first_try" '
    sort as $s | {samples: ., n: length, first_try: $ft,
    median: (if length == 0 then null elif length % 2 == 1 then $s[length/2|floor] else ($s[length/2-1] + $s[length/2]) / 2 end),
    max: (if length == 0 then null else $s[-1] end)}')
put '.propagation_ms' "$prop"

jq '.targets.met = {
      nonstream_rps: ((.closed_loop.nonstream.gateway.achieved_rps // 0) >= .targets.nonstream_rps_min),
      added_p50_at_5000: (if .open_loop.nonstream["5000"].added then
                             .open_loop.nonstream["5000"].added.p50_us < .targets.added_p50_us_max_at_5000 else null end)}
    | .elapsed_s = ('"$(elapsed)"')' "$RES" >"$RES.tmp" && mv "$RES.tmp" "$RES"
cp "$RES" "$OUT"

# ---------------------------------------------------------------- table
jq -r '
def us: if . == null then "-" elif . >= 1000000 then "\((. / 10000 | round) / 100)s"
        elif . >= 10000 then "\((. / 100 | round) / 10)ms" else "\(. | round)us" end;
def sus: if . == null then "-" elif . >= 0 then "+" + (. | us) else "-" + ((-.) | us) end;
def pad($n): tostring | if length >= $n then . + " " else . + (" " * ($n - length)) end;
def lpad($n): tostring | " " + (if length >= $n then . else (" " * ($n - length)) + . end);
def row($x): if $x == null then "-" elif $x.skipped then "skipped: \($x.skipped)" elif $x.error then "error: \($x.error)" else null end;
def pair($a; $b): "\($a | us) / \($b | us)";
def spair($a; $b): "\($a | sus) / \($b | sus)";
def r3: if type == "number" then (. * 1000 | round) / 1000 else . end;
"",
"FinOps data plane benchmark  (\(.timestamp), \(.host.cpu), \(.host.ncpu) CPUs)",
(if ((.host.busy_pct_before_run // [0]) | max) > 15 then "WARNING: machine busy before the run (per-CPU busy %: \(.host.busy_pct_before_run | map(tostring) | join(", "))): figures are noisy" else empty end),
"data plane: \(.config.dataplane_args) on CPU \(.config.gw_cpu); mock upstream + loadgen (+ control plane) on CPU \(.config.load_cpu); key checking: \(if .key_checking.invalid_key_rejected then "on" else "OFF?" end)",
"",
"Closed loop (max throughput): \(.config.conns) keep-alive conns, \(.config.dur_s)s (+\(.config.warm_s)s warm-up)",
("test" | pad(11)) + ("target" | pad(8)) + ("req/s" | lpad(9)) + ("p50" | lpad(9)) + ("p99" | lpad(9)) + ("errors" | lpad(7)) + ("gwCPU%" | lpad(7)) + ("loadCPU%" | lpad(9)),
("-" * 74),
( .closed_loop | to_entries[] | .key as $m | .value | to_entries[] | .key as $t | .value as $x |
  ($m | pad(11)) + ($t | pad(8)) +
  (row($x) // ( ($x.achieved_rps | round | lpad(9)) + ($x.p50_us | us | lpad(9)) + ($x.p99_us | us | lpad(9)) +
                ($x.errors | lpad(7)) + (($x.gw_cpu_pct // "-") | lpad(7)) + (($x.load_cpu_pct // "-") | lpad(9)) )) ),
"",
"Open loop (fixed rate; latency from the intended send time; stream: to the end of the stream, TTFB: to the first event)",
("test" | pad(11)) + ("rate" | pad(6)) + ("direct p50/p99" | lpad(19)) + ("gateway p50/p99" | lpad(19)) + ("added p50/p99" | lpad(21)) +
  ("gw err" | lpad(7)) + ("TTFB p50 dir/gw" | lpad(19)),
("-" * 106),
( .open_loop | to_entries[] | .key as $m | .value | to_entries[] | .key as $r | .value as $x |
  ($m | pad(11)) + ($r | pad(6)) +
  ( if row($x.direct) or row($x.gateway) then " direct: \(row($x.direct) // "ok")  gateway: \(row($x.gateway) // "ok")" else
    (pair($x.direct.p50_us; $x.direct.p99_us) | lpad(19)) +
    (pair($x.gateway.p50_us; $x.gateway.p99_us) | lpad(19)) +
    (spair($x.added.p50_us; $x.added.p99_us) | lpad(21)) +
    ($x.gateway.errors | lpad(7)) +
    (if $m == "stream" then (pair($x.direct.ttfb_p50_us; $x.gateway.ttfb_p50_us) | lpad(19)) else ("" | lpad(19)) end) +
    (if $x.gateway.achieved_rps < ($r | tonumber) * 0.95 then "  OVERLOADED: gateway achieved \($x.gateway.achieved_rps | round)/s" else "" end)
    | sub(" +$"; "")
    end ) ),
"",
"Data plane memory: idle VmRSS \((.rss_kb.idle_vmrss // 0) / 1024 * 10 | round / 10) MB, peak VmHWM \((.rss_kb.peak_vmhwm // 0) / 1024 * 10 | round / 10) MB",
"Config propagation (keys create returns -> new key first accepted): median \(.propagation_ms.median // "-" | r3) ms, max \(.propagation_ms.max // "-" | r3) ms (\(.propagation_ms.n) samples; \(.propagation_ms.first_try) accepted on the first try = upper bound)",
"",
"Targets: non-stream >= \(.targets.nonstream_rps_min) req/s on one core: \(if .targets.met.nonstream_rps then "MET" else "NOT MET" end) (\(.closed_loop.nonstream.gateway.achieved_rps // 0 | round) req/s)",
"         added p50 < \(.targets.added_p50_us_max_at_5000)us at 5000 req/s: \(if .targets.met.added_p50_at_5000 == null then "n/a" elif .targets.met.added_p50_at_5000 then "MET" else "NOT MET" end) (\(.open_loop.nonstream["5000"].added.p50_us // "-" | if type == "number" then sus else . end))",
""' "$OUT"
log "results: $OUT  (raw outputs and logs: $RUN)"

if [[ $KEEP_RUNNING == 1 ]]; then
    log "KEEP_RUNNING=1: mock :$MOCK_PORT (pid $MOCK_PID), control plane :$CP_PORT, data plane :$DP_PORT (pid $DP_PID), key $KEY, admin token $RUN/cp/admin-token; Ctrl-C to stop"
    wait
fi
