#!/usr/bin/env bash
# Installs what is missing, configures, builds and runs every test with ctest.
#   scripts/test.sh              normal build in build/
#   scripts/test.sh --sanitize   ASan+UBSan build of everything in build-sanitize/
# Extra arguments after `--` go to ctest (e.g. `-- -R base32`).
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=build
cmake_args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
ctest_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --sanitize)
      build_dir=build-sanitize
      cmake_args+=(-DPVETOTP_SANITIZE="address;undefined" -DPVETOTP_BENCH=OFF -DCMAKE_BUILD_TYPE=Debug)
      shift ;;
    --) shift; ctest_args+=("$@"); break ;;
    *) echo "usage: $0 [--sanitize] [-- ctest args]" >&2; exit 2 ;;
  esac
done
[ "${CI:-}" = "true" ] && cmake_args+=(-DPVETOTP_WERROR=ON)

bash scripts/deps.sh
cmake -S . -B "$build_dir" "${cmake_args[@]}"
cmake --build "$build_dir" -j"$(nproc)"
cd "$build_dir"
ctest --output-on-failure -j"$(nproc)" "${ctest_args[@]}"
