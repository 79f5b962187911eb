#!/usr/bin/env bash
# Demo of pam_pvetotp's code generation (initial version: libtotp's crypto core).
#   scripts/demo.sh
# Builds the tree exactly as scripts/test.sh does, prints an otpauth URI for a fixed demo
# secret, then shows the current code from libtotp (via the dev-only pvetotp-testcodes) next
# to oathtool's for SHA1, SHA256 and SHA512. Exits non-zero if any line says MISMATCH.
# The demo secret is public and printed on purpose; never use it for a real account.
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=build
cmake_args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
[ "${CI:-}" = "true" ] && cmake_args+=(-DPVETOTP_WERROR=ON)

bash scripts/deps.sh
cmake -S . -B "$build_dir" "${cmake_args[@]}" >/dev/null
cmake --build "$build_dir" -j"$(nproc)" --target pvetotp-testcodes >/dev/null
testcodes="$build_dir/tests/support/pvetotp-testcodes"

# 20 random-looking bytes (the RFC-recommended 160-bit key size), base32 without padding.
secret=$(printf 'pvetotp demo secret!' | base32 -w 0 | tr -d '=')
label="pvetotp-demo:demo@pve"
echo "demo otpauth URI (scan it with an authenticator app to follow the SHA1 line):"
echo "  otpauth://totp/${label}?secret=${secret}&issuer=pvetotp-demo&algorithm=SHA1&digits=6&period=30"
echo

# One timestamp for both tools, so a 30-second boundary cannot fall between the two calls.
now=$(date +%s)
echo "codes at unix time $now (period 30 s, 6 digits):"
status=0
for algorithm in SHA1 SHA256 SHA512; do
  ours=$("$testcodes" --secret "$secret" --algorithm "$algorithm" --digits 6 --period 30 \
    --time "$now")
  mode=$(echo "$algorithm" | tr 'A-Z' 'a-z')
  theirs=$(oathtool --base32 --totp="$mode" --digits=6 --time-step-size=30s --now="@$now" \
    "$secret")
  if [ "$ours" = "$theirs" ]; then
    verdict=MATCH
  else
    verdict=MISMATCH
    status=1
  fi
  printf '  %-7s pvetotp %s   oathtool %s   %s\n' "$algorithm" "$ours" "$theirs" "$verdict"
done
exit "$status"
