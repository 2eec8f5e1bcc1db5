#!/usr/bin/env bash
# Installs what FinOps needs to build (and, with --test, to run its tests) on Debian 12.
#
#   bash scripts/install-deps.sh          # build dependencies
#   bash scripts/install-deps.sh --test   # plus Node.js >= 18.19 with npm, and wrk
#
# Idempotent: packages already installed are left alone, and when nothing is missing no
# network access happens at all (not even `apt-get update`). Meant to run as root; as
# another user it uses sudo when something has to be installed.
set -euo pipefail

want_test=0
for arg in "$@"; do
  case "$arg" in
    --test) want_test=1 ;;
    -h|--help)
      sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
      exit 0 ;;
    *) echo "install-deps.sh: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

export DEBIAN_FRONTEND=noninteractive

build_pkgs=(
  build-essential make cmake ccache pkg-config
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libboost1.74-dev nlohmann-json3-dev libyaml-cpp-dev
  libsqlitecpp-dev libsqlite3-dev libssl-dev
  libgtest-dev libgmock-dev googletest
  curl ca-certificates
)
test_pkgs=(wrk openssl chromium clang libclang-rt-14-dev)

is_installed() {
  [[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" == "installed" ]]
}

# The integration tests use `node --test --test-concurrency`, which needs Node.js 18.19+.
node_ok() {
  command -v node >/dev/null 2>&1 || return 1
  node -e '
    const [maj, min] = process.versions.node.split(".").map(Number);
    process.exit(maj > 18 || (maj === 18 && min >= 19) ? 0 : 1);
  ' 2>/dev/null
}

missing=()
for p in "${build_pkgs[@]}"; do
  is_installed "$p" || missing+=("$p")
done
if (( want_test )); then
  for p in "${test_pkgs[@]}"; do
    is_installed "$p" || missing+=("$p")
  done
  # Node.js may come from elsewhere than Debian (e.g. a vendor package that bundles npm):
  # judge by what is on PATH, not by dpkg, so as not to fight an existing install.
  if ! node_ok; then
    missing+=(nodejs)
    command -v npm >/dev/null 2>&1 || missing+=(npm)
  elif ! command -v npm >/dev/null 2>&1; then
    missing+=(npm)
  fi
fi

if (( ${#missing[@]} == 0 )); then
  echo "install-deps: all dependencies present"
  exit 0
fi

SUDO=()
if [[ "$(id -u)" != 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo --preserve-env=DEBIAN_FRONTEND)
  else
    echo "install-deps: missing packages (${missing[*]}) and not root; run as root" >&2
    exit 1
  fi
fi

echo "install-deps: installing ${missing[*]}"
"${SUDO[@]}" apt-get update
"${SUDO[@]}" apt-get install -y --no-install-recommends "${missing[@]}"

if (( want_test )) && ! node_ok; then
  echo "install-deps: node on PATH is still missing or older than 18.19: $(node --version 2>/dev/null || echo none)" >&2
  exit 1
fi
echo "install-deps: done"
