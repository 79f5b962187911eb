#!/usr/bin/env bash
# Benchmarks pam_pvetotp.so against Debian's pam_google_authenticator.so (issue 8).
#
#   scripts/bench.sh [--quick] [pam_bench options...]
#
# Installs the dependencies (scripts/deps.sh), builds a Release tree in build-bench/ with the
# benchmarks and the test support (the clock shim lives in tests/support), runs the libtotp
# microbenchmarks (saved to build-bench/micro_bench.txt) and the end-to-end comparison
# through libpam, and prints one table. Exit status: 0 when every target is met, 1 when one
# is missed, 2 on a setup error. --quick runs about a tenth of the iterations (a smoke test;
# its numbers are noisy). Run it on an otherwise idle machine: the ratios come from
# interleaved runs, but the parallel rows measure the whole machine.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build="$repo/build-bench"
jobs=$(($(nproc) < 2 ? 1 : 2))

quick=0
pam_args=()
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1 ;;
    *) pam_args+=("$arg") ;;
  esac
done
if [ "$quick" = 1 ]; then
  pam_args=(--scale 0.1 --blocks 6 "${pam_args[@]}")
  micro_time=0.05
else
  micro_time=0.5
fi

bash "$repo/scripts/deps.sh" >&2

reference=""
for dir in /lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu /lib /usr/lib; do
  if [ -f "$dir/security/pam_google_authenticator.so" ]; then
    reference="$dir/security/pam_google_authenticator.so"
    break
  fi
done
if [ -z "$reference" ]; then
  reference=$(dpkg -L libpam-google-authenticator 2>/dev/null | grep '/pam_google_authenticator\.so$' | head -1 || true)
fi
[ -n "$reference" ] || { echo "bench.sh: pam_google_authenticator.so not found" >&2; exit 2; }

echo "bench.sh: configuring and building a Release tree in $build" >&2
cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=Release -DPVETOTP_BENCH=ON \
  -DPVETOTP_BUILD_TESTS=ON >/dev/null
cmake --build "$build" -j"$jobs" \
  --target pam_pvetotp pvetotp_testshim pvetotp-micro-bench pvetotp-pam-bench >/dev/null

module="$build/pam_module/pam_pvetotp.so"
shim="$build/tests/support/libpvetotp_testshim.so"
for f in "$module" "$shim" "$build/bench/pvetotp-micro-bench" "$build/bench/pvetotp-pam-bench"; do
  [ -e "$f" ] || { echo "bench.sh: build did not produce $f" >&2; exit 2; }
done

echo "bench.sh: libtotp microbenchmarks -> $build/micro_bench.txt" >&2
"$build/bench/pvetotp-micro-bench" --benchmark_min_time="$micro_time" \
  >"$build/micro_bench.txt" 2>&1

echo "bench.sh: end-to-end comparison (takes about a minute)..." >&2
set +e
"$build/bench/pvetotp-pam-bench" --ours "$module" --reference "$reference" --shim "$shim" \
  "${pam_args[@]}" >"$build/pam_bench.txt"
status=$?
set -e
[ "$status" -le 1 ] || { echo "bench.sh: pam bench failed ($status)" >&2; exit 2; }

debian=$(cat /etc/debian_version 2>/dev/null || echo unknown)
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
echo
echo "pam_pvetotp $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?') vs $(dpkg-query -W -f='${Package} ${Version}' libpam-google-authenticator 2>/dev/null || echo "$reference")"
echo "machine: $(nproc) CPUs, ${cpu:-unknown CPU}, Debian $debian, kernel $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"
cat "$build/pam_bench.txt"
echo
echo "Microbenchmarks (Google Benchmark) in $build/micro_bench.txt"
exit "$status"
