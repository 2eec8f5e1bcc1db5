#!/usr/bin/env bash
# Everything CI runs: dependencies, build, unit tests (ctest), integration tests (node).
#
#   bash scripts/test.sh
#
# Exits non-zero as soon as a step fails.
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

printf '\n== all steps passed\n'
