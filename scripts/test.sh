#!/usr/bin/env bash
# Everything CI runs: dependencies, build, unit tests (ctest), integration tests (node), the
# same tests again on a sanitizer build (ASan + UBSan, build-asan/), and the fuzzers
# (scripts/fuzz.sh, build-fuzz/).
#
#   bash scripts/test.sh
#   FINOPS_SKIP_SANITIZE=1 FINOPS_SKIP_FUZZ=1 bash scripts/test.sh   # quick local run
#
# Exits non-zero as soon as a step fails. CI (.ci/run) runs every step.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO="$(pwd)"

step=0
banner() {
  step=$((step + 1))
  printf '\n==================================================================\n'
  printf '== step %d: %s\n' "$step" "$*"
  printf '==================================================================\n'
}
on_exit() {
  local rc=$?
  if ((rc != 0)); then
    printf '\n== FAILED in step %d (exit %d)\n' "$step" "$rc" >&2
  fi
}
trap on_exit EXIT

banner "install dependencies (scripts/install-deps.sh --test)"
bash "$REPO/scripts/install-deps.sh" --test

banner "build (scripts/build.sh)"
bash "$REPO/scripts/build.sh"

banner "unit tests (ctest)"
ctest --test-dir "$REPO/build" --output-on-failure -j2

banner "integration tests (node --test, tests/integration)"
cd "$REPO/tests/integration"
if [[ -f package-lock.json ]]; then
  npm ci --no-audit --no-fund
else
  echo "warning: tests/integration/package-lock.json is missing; using npm install" >&2
  npm install --no-audit --no-fund
fi
shopt -s nullglob
test_files=(*.test.mjs)
if ((${#test_files[@]} == 0)); then
  echo "error: no *.test.mjs files in tests/integration" >&2
  exit 1
fi
FINOPS_BIN_DIR="$REPO/build/bin" node --test --test-concurrency=2 "${test_files[@]}"

# ---- The sanitizer build: unit and integration tests once more, with ASan + UBSan (gcc, -O1).
# Any report fails the step: UBSan is compiled not to recover, ASan halts on the first error,
# LeakSanitizer checks every process at exit (tests/sanitizers/lsan.supp lists the only leaks
# allowed, inside third-party libraries). Reports go to files in build-asan/sanitizer-logs/
# (log_path), so that one from a child process whose stderr a test swallowed still fails the
# step and is printed.
if [[ "${FINOPS_SKIP_SANITIZE:-0}" == 1 ]]; then
  printf '\n== skipping the sanitizer build (FINOPS_SKIP_SANITIZE=1)\n'
else
  banner "sanitizer build (ASan + UBSan, build-asan)"
  cd "$REPO"
  export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/ccache}"
  if [[ ! -f build-asan/CMakeCache.txt ]]; then
    cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFINOPS_SANITIZE=ON \
      -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g -DNDEBUG" -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g -DNDEBUG"
  fi
  cmake --build build-asan -j"$(nproc)"

  san_logs="$REPO/build-asan/sanitizer-logs"
  rm -rf "$san_logs"
  mkdir -p "$san_logs"
  export ASAN_OPTIONS="halt_on_error=1:abort_on_error=0:print_stacktrace=1:detect_leaks=1:check_initialization_order=1:log_path=$san_logs/asan:log_exe_name=1"
  export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$san_logs/ubsan"
  export LSAN_OPTIONS="suppressions=$REPO/tests/sanitizers/lsan.supp:print_suppressions=0"
  # Prints every sanitizer report written so far; fails when there is one.
  sanitizer_reports() {
    local reports=()
    mapfile -t reports < <(find "$san_logs" -type f | sort)
    ((${#reports[@]} == 0)) && return 0
    for f in "${reports[@]}"; do
      printf '\n----- sanitizer report %s\n' "$f"
      cat "$f"
    done
    echo "error: ${#reports[@]} sanitizer report(s), above" >&2
    return 1
  }

  banner "unit tests, sanitizer build (ctest --test-dir build-asan)"
  rc=0
  ctest --test-dir "$REPO/build-asan" --output-on-failure -j2 || rc=$?
  sanitizer_reports || rc=1
  ((rc == 0)) || exit "$rc"

  banner "integration tests, sanitizer build (FINOPS_BIN_DIR=build-asan/bin)"
  cd "$REPO/tests/integration"
  rc=0
  FINOPS_BIN_DIR="$REPO/build-asan/bin" node --test --test-concurrency=2 "${test_files[@]}" || rc=$?
  sanitizer_reports || rc=1
  ((rc == 0)) || exit "$rc"
  unset ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS
fi

# ---- The fuzzers: clang + libFuzzer, each target for a bounded time (scripts/fuzz.sh).
if [[ "${FINOPS_SKIP_FUZZ:-0}" == 1 ]]; then
  printf '\n== skipping the fuzzers (FINOPS_SKIP_FUZZ=1)\n'
else
  banner "fuzz (scripts/fuzz.sh)"
  bash "$REPO/scripts/fuzz.sh"
fi

printf '\n== all steps passed\n'
