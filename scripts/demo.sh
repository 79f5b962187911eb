#!/usr/bin/env bash
# pam_pvetotp's main job, end to end, in a throw-away directory (nothing in /etc changes):
#   1. libtotp's codes next to oathtool's for SHA1, SHA256 and SHA512;
#   2. enroll a demo user with pvetotp-enroll (the guide's flags, QR code shown);
#   3. log in through real libpam (pamtester, with pam_wrapper for a private service
#      directory and nss_wrapper for the demo users) with the current code from oathtool;
#   4. the same code replayed is refused; a scratch code works once, then never again;
#   5. a user outside the groups= filter is skipped (PAM_IGNORE): no prompt, no file read.
# Exits non-zero if any step does not behave as shown. The demo secrets are throw-away.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

build_dir=build
cmake_args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
[ "${CI:-}" = "true" ] && cmake_args+=(-DPVETOTP_WERROR=ON)
bash scripts/deps.sh
cmake -S . -B "$build_dir" "${cmake_args[@]}" >/dev/null
cmake --build "$build_dir" -j"$(nproc)" \
  --target pam_pvetotp pvetotp-enroll pvetotp-testcodes >/dev/null
build=$(cd "$build_dir" && pwd)
module="$build/pam_module/pam_pvetotp.so"
enroll="$build/tools/pvetotp-enroll"
testcodes="$build/tests/support/pvetotp-testcodes"
multiarch=$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
libdir=/usr/lib/$multiarch

failures=0
step() { printf '\n== %s\n' "$*"; }
expect() {  # expect <description> <wanted: ok|fail> <actual exit status>
  local got=fail; [ "$3" -eq 0 ] && got=ok
  if [ "$got" = "$2" ]; then printf '   -> %s: as expected (%s)\n' "$1" "$got"
  else printf '   -> %s: UNEXPECTED (%s, wanted %s)\n' "$1" "$got" "$2"; failures=$((failures + 1)); fi
}

step "1. libtotp next to oathtool (one timestamp for both)"
secret=$(printf 'pvetotp demo secret!' | base32 -w 0 | tr -d '=')
now=$(date +%s)
for algorithm in SHA1 SHA256 SHA512; do
  ours=$("$testcodes" --secret "$secret" --algorithm "$algorithm" --digits 6 --period 30 --time "$now")
  theirs=$(oathtool --base32 --totp="${algorithm,,}" --digits=6 --now="@$now" "$secret")
  verdict=MATCH; [ "$ours" = "$theirs" ] || { verdict=MISMATCH; failures=$((failures + 1)); }
  printf '   %-7s pvetotp %s   oathtool %s   %s\n' "$algorithm" "$ours" "$theirs" "$verdict"
done

# A private world: two users (alice in group totp, bob not), homes under a temp dir.
world=$(mktemp -d /tmp/pvetotp-demo.XXXXXX)
trap 'rm -rf "$world"' EXIT
chmod 755 "$world"
mkdir -p "$world/home/alice" "$world/home/bob" "$world/pam.d"
cat > "$world/passwd" <<PASSWD
root:x:0:0:root:/root:/bin/bash
alice:x:4101:4101:Demo Alice:$world/home/alice:/bin/bash
bob:x:4102:4102:Demo Bob:$world/home/bob:/bin/bash
PASSWD
cat > "$world/group" <<GROUP
root:x:0:
alice:x:4101:
bob:x:4102:
totp:x:4200:alice
GROUP
chown 4101:4101 "$world/home/alice"; chown 4102:4102 "$world/home/bob"
cat > "$world/pam.d/demo-login" <<PAM
# auth: our module for members of group totp, then pam_permit standing in for pam_unix.
auth    required $module groups=totp debug
auth    required pam_permit.so
account required pam_permit.so
PAM
export NSS_WRAPPER_PASSWD="$world/passwd" NSS_WRAPPER_GROUP="$world/group"
preload="$libdir/libnss_wrapper.so"
# pam_wrapper (debug level 2) prints every pam_syslog line as `SYSLOG(<prio>): <text>`; the
# demo shows the module's own lines, without the debug chatter, as `log:`.
pam_env=(LD_PRELOAD="$libdir/libpam_wrapper.so:$preload" PAM_WRAPPER=1 PAM_WRAPPER_DEBUGLEVEL=2
         PAM_WRAPPER_SERVICE_DIR="$world/pam.d")
login() {  # login <user> <answer>: pamtester through real libpam; prints prompts and log lines
  local out status
  out=$(printf '%s\n' "$2" | env "${pam_env[@]}" pamtester demo-login "$1" authenticate 2>&1)
  status=$?
  printf '%s\n' "$out" | sed -E 's/(Verification code: )PWRAP_/\1\n PWRAP_/' |
    grep -vE 'pwrap_|copy_confdir|_pam_init_handlers|^$|SYSLOG\([0-9]\): debug: (start|end|"|shared|pam_pvetotp for|no scratch)' |
    sed -E 's/.*SYSLOG\([0-9]\): /   log: /; /^   log: /!s/^ ?/   | /'
  return "$status"
}

step "2. enroll alice as the guide does (pvetotp-enroll -t -d -f -r 5 -R 30 -w 3 -Q utf8 ...)"
LD_PRELOAD="$preload" "$enroll" -t -d -f -C -r 5 -R 30 -w 3 -Q utf8 -i pve.demo.lan \
  -l alice@pam --user alice </dev/null
file="$world/home/alice/.google_authenticator"
echo "   written: $file ($(stat -c '%A, owner %u:%g, %s bytes' "$file"))"

step "3. alice logs in with the current code from oathtool"
alice_secret=$(head -n 1 "$file")
code=$(oathtool --totp -b "$alice_secret")
echo "   code from oathtool: $code"
set +e
login alice "$code"; expect "correct code" ok $?

step "4a. the same code again (DISALLOW_REUSE)"
login alice "$code"; expect "replayed code" fail $?

scratch=$(grep -E '^[1-9][0-9]{7}$' "$file" | head -n 1)
step "4b. a scratch code ($scratch), twice"
login alice "$scratch"; expect "scratch code, first use" ok $?
login alice "$scratch"; expect "scratch code, second use" fail $?
grep -q "^$scratch\$" "$file" && { echo "   scratch code still in the file!"; failures=$((failures + 1)); } ||
  echo "   the used scratch code is gone from the file; $(grep -cE '^[1-9][0-9]{7}$' "$file") left"

step "5. bob is not in group totp: skipped, no prompt, no file read"
chmod 000 "$world/home/bob"   # a read of bob's home would fail: the module must not try
login bob ""; expect "bob with the password only" ok $?
set -e

echo
echo "state file of alice now (secret and scratch codes masked):"
sed -E '1s/.*/<secret>/; s/^[1-9][0-9]{7}$/<scratch code>/' "$file" | sed 's/^/   /'
if [ "$failures" -ne 0 ]; then echo "demo: $failures step(s) did not behave as expected"; exit 1; fi
echo "demo: all steps behaved as expected"
