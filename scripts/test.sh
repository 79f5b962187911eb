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
sanitize=false
while [ $# -gt 0 ]; do
  case "$1" in
    --sanitize)
      build_dir=build-sanitize
      sanitize=true
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
if ! $sanitize; then
  ctest --output-on-failure -j"$(nproc)" "${ctest_args[@]}"
  exit 0
fi

# --sanitize: every instrumented process writes its sanitizer reports to a file, because the
# integration tests run the module inside pvetotp-pamclient, whose stderr no test reads and
# whose LeakSanitizer report comes after the result the test checks. Any report fails the run.
#  - verify_asan_link_order=0: the harness preloads libnss_wrapper.so and the test shim ahead
#    of libasan; neither replaces malloc, so ASan still intercepts everything it needs.
#  - NSS_WRAPPER_DISABLE_DEEPBIND / PAM_WRAPPER_DISABLE_DEEPBIND: the wrappers dlopen libc with
#    RTLD_DEEPBIND, which ASan aborts on (google/sanitizers#611).
#  - The package test builds and installs an uninstrumented .deb in its own tree: nothing
#    of it runs under the sanitizers, so it is left to the normal run.
logs="$PWD/sanitizer-logs"
rm -rf "$logs"
mkdir -p "$logs"
export ASAN_OPTIONS="verify_asan_link_order=0:detect_leaks=1:detect_stack_use_after_return=1:check_initialization_order=1:log_path=$logs/asan"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$logs/ubsan"
export NSS_WRAPPER_DISABLE_DEEPBIND=1 PAM_WRAPPER_DISABLE_DEEPBIND=1
status=0
# Left to the normal run: `package` (an uninstrumented .deb), `ssh` (the system's sshd cannot
# load an ASan module) and `pmxcfs` (its LD_PRELOAD emulation of the cluster file system
# overrides statfs, which ASan intercepts first; the cluster code itself runs here in the
# ClusterStore unit tests).
ctest --output-on-failure -j"$(nproc)" -LE '^(package|ssh|pmxcfs)$' "${ctest_args[@]}" || status=$?
reports=$(find "$logs" -type f -size +0 | sort)
# The robustness tests SIGKILL authenticating processes at random moments; one killed during
# its exit-time leak check leaves only LeakSanitizer's tracer complaint. Such a file holds no
# finding: it is shown, not counted. Any other line in it still fails the run.
kept=""
for f in $reports; do
  if ! grep -qvE '^==[0-9]+==Unable to get registers from thread [0-9]+\.?$' "$f"; then
    echo "test.sh --sanitize: ignoring $(basename "$f"): $(head -c 120 "$f") (process killed during its leak check)" >&2
  else
    kept="$kept $f"
  fi
done
reports=$(echo $kept | tr ' ' '\n' | sed '/^$/d')
if [ -n "$reports" ]; then
  echo "test.sh --sanitize: $(echo "$reports" | wc -l) process(es) wrote sanitizer reports:" >&2
  # Group identical reports (the same finding in many child processes) and show each once.
  for f in $reports; do
    grep -E '^(SUMMARY|.*runtime error)' "$f" | sed 's/==[0-9]*==//' | head -1
  done | sort | uniq -c | sort -rn >&2
  for f in $(echo "$reports" | head -3); do
    echo "--- $f" >&2
    head -n 40 "$f" >&2
  done
  status=1
fi
exit "$status"
