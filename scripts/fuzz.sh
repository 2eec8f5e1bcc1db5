#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz, clang, ASan + UBSan) into build-fuzz/, replays
# every committed corpus file once, then fuzzes each target for a bounded time.
#
#   bash scripts/fuzz.sh                      # every target, FUZZ_SECONDS each
#   FUZZ_SECONDS=600 bash scripts/fuzz.sh sse # one target for ten minutes
#
# Environment:
#   FUZZ_SECONDS  fuzzing time per target (default 55: ten targets, two at a time, about five
#                 minutes on two cores)
#   FUZZ_JOBS     targets fuzzed at the same time (default: the number of cores, at most 4)
#   FUZZ_MAX_LEN  largest input the fuzzer tries, in bytes (default 4096)
#   FUZZ_FLAGS    more libFuzzer flags for every target (e.g. "-only_ascii=1")
#
# Each target fuzzes a copy of its corpus (tests/fuzz/corpus/<target>/) in a temporary
# directory: the committed corpus never grows here. Any crash, sanitizer report, leak, slow
# input (-timeout) or memory blow-up (-rss_limit_mb) fails the script; the input that caused
# it is kept under build-fuzz/artifacts/<target>/ and the command that reproduces it is
# printed. A regression input worth keeping goes to tests/fuzz/corpus/<target>/regress-<what>.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO="$(pwd)"
BUILD="$REPO/build-fuzz"

FUZZ_SECONDS="${FUZZ_SECONDS:-55}"
FUZZ_MAX_LEN="${FUZZ_MAX_LEN:-4096}"
cores="$(nproc)"
FUZZ_JOBS="${FUZZ_JOBS:-$((cores < 4 ? cores : 4))}"

all_targets=(http_request json_request sse eventstream
             translate_openai_compat translate_openai_anthropic translate_anthropic_front
             translate_openai_gemini translate_gemini_front translate_count_tokens)
if (($# > 0)); then targets=("$@"); else targets=("${all_targets[@]}"); fi
for t in "${targets[@]}"; do
  if [[ ! -d "$REPO/tests/fuzz/corpus/$t" ]]; then
    echo "fuzz: unknown target '$t' (targets: ${all_targets[*]})" >&2
    exit 2
  fi
done

dict_for() {
  case "$1" in
    translate_*) echo "$REPO/tests/fuzz/dict/translate.dict" ;;
    json_request) echo "$REPO/tests/fuzz/dict/json.dict" ;;
    http_request) echo "$REPO/tests/fuzz/dict/http.dict" ;;
    *) echo "$REPO/tests/fuzz/dict/$1.dict" ;;
  esac
}

# ---- build -----------------------------------------------------------------------------------
for tool in clang clang++; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "fuzz: $tool is missing (Debian: apt-get install clang libclang-rt-14-dev," \
         "or bash scripts/install-deps.sh --test)" >&2
    exit 1
  fi
done
export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/ccache}"
mkdir -p "$CCACHE_DIR"
if [[ ! -f "$BUILD/CMakeCache.txt" ]]; then
  echo "fuzz: configuring $BUILD (clang, ASan + UBSan + libFuzzer)"
  CC=clang CXX=clang++ cmake -S "$REPO" -B "$BUILD" -DFINOPS_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
echo "fuzz: building with $cores jobs"
cmake --build "$BUILD" -j"$cores"

# Sanitizer reports abort the fuzzer (it saves the input); leaks are checked after each input
# that allocated more than it freed.
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:strict_string_checks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"

# ---- replay the committed corpus ----------------------------------------------------------------
echo "fuzz: replaying the committed corpus (regression inputs included)"
for t in "${targets[@]}"; do
  mkdir -p "$BUILD/artifacts/$t"
  if ! out="$("$BUILD/bin/fuzz_$t" -runs=0 -artifact_prefix="$BUILD/artifacts/$t/" \
                "$REPO/tests/fuzz/corpus/$t" 2>&1)"; then
    printf '%s\n' "$out" | tail -60
    echo "fuzz: FAILED: fuzz_$t fails on a committed corpus input (see above); reproduce with:" >&2
    echo "  $BUILD/bin/fuzz_$t $REPO/tests/fuzz/corpus/$t/<file>" >&2
    exit 1
  fi
  printf '  %-28s %s\n' "$t" "$(printf '%s\n' "$out" | grep -E '^#[0-9]+[[:space:]]+INITED' |
                                 tail -1 | sed -E 's/^#([0-9]+)[[:space:]]+INITED/\1 inputs,/')"
done

# ---- fuzz --------------------------------------------------------------------------------------
work="$(mktemp -d "${TMPDIR:-/tmp}/finops-fuzz.XXXXXX")"
trap 'rm -rf "$work"' EXIT
mkdir -p "$BUILD/artifacts"

run_one() {
  local t="$1" dir="$work/$1"
  mkdir -p "$dir/corpus" "$BUILD/artifacts/$t"
  cp "$REPO/tests/fuzz/corpus/$t/." "$dir/corpus/" -R
  "$BUILD/bin/fuzz_$t" "$dir/corpus" \
    -max_total_time="$FUZZ_SECONDS" -max_len="$FUZZ_MAX_LEN" \
    -rss_limit_mb=2048 -malloc_limit_mb=1024 -timeout=10 \
    -dict="$(dict_for "$t")" -print_final_stats=1 \
    -artifact_prefix="$BUILD/artifacts/$t/" ${FUZZ_FLAGS:-} >"$dir/log" 2>&1
}

echo "fuzz: ${#targets[@]} targets, ${FUZZ_SECONDS}s each, $FUZZ_JOBS at a time"
declare -A pid_of=()
failed=()
finish() {  # waits for target $1 and reports it
  local t="$1" rc=0
  wait "${pid_of[$t]}" || rc=$?
  local log="$work/$t/log"
  local final execs rss
  final="$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1 |
            sed -E 's/^#[0-9]+[[:space:]]+DONE[[:space:]]+//' || true)"
  execs="$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}' || true)"
  rss="$(grep -E '^stat::peak_rss_mb' "$log" | awk '{print $2}' || true)"
  if ((rc == 0)); then
    printf '  %-28s ok: %s runs, peak %s MB; %s\n' "$t" "${execs:-?}" "${rss:-?}" "${final:-}"
  else
    failed+=("$t")
    echo "----- fuzz_$t FAILED (exit $rc); log tail:" >&2
    tail -60 "$log" >&2
    local artifact
    artifact="$(grep -oE "Test unit written to [^ ]+" "$log" | tail -1 | sed 's/Test unit written to //' || true)"
    if [[ -n "$artifact" ]]; then
      echo "----- reproducer: $artifact" >&2
      echo "----- reproduce with: $BUILD/bin/fuzz_$t $artifact" >&2
    fi
  fi
}
running=()
for t in "${targets[@]}"; do
  run_one "$t" &
  pid_of[$t]=$!
  running+=("$t")
  if ((${#running[@]} >= FUZZ_JOBS)); then
    finish "${running[0]}"
    running=("${running[@]:1}")
  fi
done
for t in "${running[@]}"; do finish "$t"; done

if ((${#failed[@]} > 0)); then
  echo "fuzz: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: all ${#targets[@]} targets ran ${FUZZ_SECONDS}s without a finding"
