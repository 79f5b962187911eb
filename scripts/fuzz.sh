#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan+UBSan+fuzzer) in build-fuzz/ and runs each one for
# SECONDS (default 60) on a scratch copy of its checked-in corpus, so the repository's corpus
# stays small and minimised. Prints the executions of each target from libFuzzer's final
# stats and fails on any crash, sanitizer report, property violation, leak or timeout.
#   scripts/fuzz.sh [SECONDS]
# Minimising a corpus after a long run (by hand, then commit the result):
#   build-fuzz/tests/fuzz/<t> -merge=1 tests/fuzz/corpus/<t>.new tests/fuzz/corpus/<t> <work dir>
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
case "$seconds" in
  '' | *[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;;
esac
targets=(secret_file_fuzz base32_fuzz module_options_fuzz pattern_fuzz uri_fuzz code_input_fuzz)

bash scripts/deps.sh --with-fuzz
clang_version=$(clang --version | sed -n 's/.*clang version \([0-9]*\).*/\1/p' | head -1)
rt="$(clang -print-resource-dir)/lib/linux/libclang_rt.fuzzer-x86_64.a"
if [ ! -e "$rt" ] && ! ls "$(clang -print-resource-dir)"/lib/*/libclang_rt.fuzzer* >/dev/null 2>&1; then
  echo "fuzz.sh: libFuzzer runtime not found; install libclang-rt-${clang_version}-dev" >&2
  exit 1
fi

CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DPVETOTP_FUZZ=ON -DPVETOTP_SANITIZE="address;undefined" -DPVETOTP_BENCH=OFF >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target "${targets[@]}"

work=$(mktemp -d /tmp/pvetotp-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=()
printf '%-22s %12s %10s %8s\n' target executions exec/s corpus
for t in "${targets[@]}"; do
  mkdir -p "$work/$t/corpus" "$work/$t/artifacts"
  cp tests/fuzz/corpus/"$t"/* "$work/$t/corpus/"
  log="$work/$t.log"
  # -timeout: one input taking >10 s is a finding (a hang in a parser fed from a PAM line).
  # -rss_limit_mb: the parsers cap their inputs; growing past this is a finding as well.
  if ! build-fuzz/tests/fuzz/"$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$work/$t/artifacts/" \
      "$work/$t/corpus" tests/fuzz/corpus/"$t" >"$log" 2>&1; then
    failed+=("$t")
    echo "== $t FAILED; last lines of its log:" >&2
    tail -n 60 "$log" >&2
    for a in "$work/$t"/artifacts/*; do
      [ -e "$a" ] || continue
      mkdir -p build-fuzz/artifacts
      cp "$a" build-fuzz/artifacts/
      echo "   reproducer kept in build-fuzz/artifacts/$(basename "$a")" >&2
    done
  fi
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  printf '%-22s %12s %10s %8s\n' "$t" "${execs:-?}" "${rate:-?}" "$(ls "$work/$t/corpus" | wc -l)"
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: failures in: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz.sh: all ${#targets[@]} targets ran ${seconds}s each without findings"
