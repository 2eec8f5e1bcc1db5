#!/usr/bin/env bash
# Configures (once) and builds FinOps into build/. Binaries land in build/bin/.
#
#   bash scripts/build.sh
#
# Configure runs only when build/CMakeCache.txt is missing; delete build/ to start over.
# ccache is used when installed (CMakeLists.txt picks it up); its cache defaults to
# $HOME/.cache/ccache unless CCACHE_DIR is set.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/ccache}"
mkdir -p "$CCACHE_DIR"

if [[ ! -f build/CMakeCache.txt ]]; then
  echo "build: configuring (RelWithDebInfo)"
  cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi

echo "build: compiling with $(nproc) jobs"
cmake --build build -j"$(nproc)"
echo "build: binaries in $(pwd)/build/bin"
