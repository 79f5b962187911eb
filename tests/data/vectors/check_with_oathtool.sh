#!/usr/bin/env bash
# Re-checks every vector in this directory with independent tools: oathtool (OATH Toolkit)
# for the HOTP/TOTP files and coreutils base32 for the RFC 4648 file. The vectors were typed
# in from the RFCs; this script proves no digit was mistyped. Exit status 1 on a mismatch.
set -euo pipefail
cd "$(dirname "$0")"

failures=0
checked=0
hex() { printf %s "$1" | od -An -tx1 -v | tr -d ' \n'; }
report() { # expected actual description
  checked=$((checked + 1))
  if [ "$1" != "$2" ]; then
    echo "MISMATCH: $3: file says $1, tool says $2" >&2
    failures=$((failures + 1))
  fi
}

while read -r key counter digits code; do
  case "$key" in '#'* | '') continue ;; esac
  got=$(oathtool --hotp --digits="$digits" --counter="$counter" "$(hex "$key")")
  report "$code" "$got" "rfc4226 counter $counter"
done <rfc4226_hotp.txt

while read -r algorithm key time period digits code; do
  case "$algorithm" in '#'* | '') continue ;; esac
  mode=$(echo "$algorithm" | tr 'A-Z' 'a-z')
  got=$(oathtool --totp="$mode" --digits="$digits" --time-step-size="${period}s" \
    --now="@$time" "$(hex "$key")")
  report "$code" "$got" "rfc6238 $algorithm t=$time"
done <rfc6238_totp.txt

while read -r input encoded; do
  case "$input" in '#'* | '') continue ;; esac
  input=${input#\"} input=${input%\"} encoded=${encoded#\"} encoded=${encoded%\"}
  got=$(printf %s "$input" | base32 -w 0)
  report "$encoded" "$got" "rfc4648 base32 of '$input'"
done <rfc4648_base32.txt

echo "check_with_oathtool.sh: $checked vectors checked, $failures mismatches"
[ "$failures" -eq 0 ]
