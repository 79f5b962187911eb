#!/bin/bash
# Issue 7, "A real client": OpenSSH end to end against pam_pvetotp.
#
#   ssh_login_test.sh MODULE_SO
#
# Starts a private sshd on 127.0.0.1 and a free high port with its own config, host key, pid
# file and PAM service, configured as the hardening guide (seeds/004) says:
#   KbdInteractiveAuthentication yes, UsePAM yes,
#   Match User <root-like>    AuthenticationMethods publickey
#   Match Group <totp group>  AuthenticationMethods publickey,keyboard-interactive
#   Match Group *,!<group>    AuthenticationMethods none   (no usable method)
# and drives the real ssh client through its prompts with expect.
#
# Nothing of the host's sshd is touched: the PAM service is /etc/pam.d/<name> for a symlink
# <name> -> /usr/sbin/sshd (sshd takes its PAM service from argv[0]), created and removed here;
# /etc/ssh/sshd_config and /etc/pam.d/sshd are never read or written. sshd runs in a private
# mount namespace where /var/log/btmp, wtmp and lastlog are bind-mounted to files in the temp
# dir, so the failed logins of this test do not land in the host's records. Users and the group
# are real (sshd needs getpwnam), created with useradd and removed at exit. The sshd is always
# stopped, also on failure (trap).
#
# The module's syslog lines are not captured: sshd clears the environment of its PAM
# subprocess (auth-pam.c), so the integration tests' LD_PRELOAD syslog shim, configured by
# environment, stays silent there. The checks rely on what the client sees, on the secret file,
# and on sshd's own log (-e). The clock is real; codes come from oathtool just before use.
#
# Exit: 0 all cases passed, 1 a case failed, 77 skipped (not root / tools missing).
set -u

MODULE=${1:?usage: ssh_login_test.sh MODULE_SO}
HERE=$(cd "$(dirname "$0")" && pwd)
SECRET=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP

skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (real accounts, a root sshd)"
for tool in /usr/sbin/sshd ssh ssh-keygen expect oathtool useradd userdel groupadd groupdel unshare ss; do
  command -v "$tool" >/dev/null 2>&1 || skip "$tool not installed"
done
[ -r "$MODULE" ] || { echo "FAIL: module $MODULE not built"; exit 1; }

started=$(date +%s%N)
tag="pvt$$"                      # short: user names are limited to 32 characters
group="${tag}g"
member="${tag}m"                 # in the TOTP group: key + code
outsider="${tag}n"               # not in the group: no method at all
automation="${tag}r"             # root-like account for automated tasks: key only
service="sshd-pvetotp-$$"
pam_file="/etc/pam.d/$service"
work=$(mktemp -d /tmp/pvetotp-ssh-XXXXXX)
chmod 755 "$work"                # StrictModes: homes below must be reachable, not writable
sshd_pid=""
failures=0

cleanup() {
  local rc=$?
  if [ -n "$sshd_pid" ] && kill -0 "$sshd_pid" 2>/dev/null; then
    # Connection handlers are children of our sshd; none may outlive the test.
    for child in $(pgrep -P "$sshd_pid" 2>/dev/null); do kill -9 "$child" 2>/dev/null; done
    kill "$sshd_pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$sshd_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$sshd_pid" 2>/dev/null
  fi
  for u in "$member" "$outsider" "$automation"; do
    id "$u" >/dev/null 2>&1 && userdel -f "$u" >/dev/null 2>&1
  done
  getent group "$group" >/dev/null && groupdel "$group" >/dev/null 2>&1
  rm -f "$pam_file"
  if [ "$rc" != 0 ] && [ -f "$work/sshd.log" ]; then
    echo "--- sshd log ---"; tail -n 60 "$work/sshd.log"
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok:   $*"; }

# --- accounts, keys, secret files -----------------------------------------------------------
groupadd "$group" || exit 1
mkdir -p "$work/home"
chmod 755 "$work/home"
for u in "$member" "$outsider" "$automation"; do
  extra=()
  [ "$u" = "$member" ] && extra=(-G "$group")
  useradd -M -d "$work/home/$u" -s /bin/sh "${extra[@]}" "$u" || exit 1
  # '*': no password, but not "locked" ('!'), which sshd would refuse even for publickey.
  usermod -p '*' "$u"
  mkdir -p "$work/home/$u/.ssh"
  chmod 755 "$work/home/$u"
  chmod 700 "$work/home/$u/.ssh"
done
ssh-keygen -q -t ed25519 -N '' -C pvetotp-test -f "$work/client_key" || exit 1
ssh-keygen -q -t ed25519 -N '' -f "$work/host_key" || exit 1
for u in "$member" "$outsider" "$automation"; do
  cp "$work/client_key.pub" "$work/home/$u/.ssh/authorized_keys"
  chmod 600 "$work/home/$u/.ssh/authorized_keys"
  chown -R "$u:" "$work/home/$u"
done
write_secret() {  # user content
  local f="$work/home/$1/.google_authenticator"
  rm -f "$f"
  printf '%s' "$2" >"$f"
  chown "$1:" "$f"
  chmod 400 "$f"
}
member_secret=$(printf '%s\n" DISALLOW_REUSE\n" TOTP_AUTH\n12345678\n87654321\n' "$SECRET")
write_secret "$member" "$member_secret
"
# The outsider has a perfectly good secret: only sshd's Match block keeps them out.
write_secret "$outsider" "$(printf '%s\n" TOTP_AUTH\n' "$SECRET")
"

# --- PAM service and sshd -------------------------------------------------------------------
# As the guide: common-auth commented out, the module the only auth step.
cat >"$pam_file" <<EOF
# Temporary service of tests/ssh/ssh_login_test.sh (pid $$); removed when it ends.
auth required $MODULE
@include common-account
session required pam_permit.so
EOF

port=""
for _ in $(seq 50); do
  candidate=$((20000 + RANDOM % 40000))
  if ! ss -Htln "sport = :$candidate" | grep -q .; then port=$candidate; break; fi
done
[ -n "$port" ] || { echo "FAIL: no free port"; exit 1; }

cat >"$work/sshd_config" <<EOF
Port $port
ListenAddress 127.0.0.1
HostKey $work/host_key
PidFile $work/sshd.pid
UsePAM yes
KbdInteractiveAuthentication yes
PasswordAuthentication no
PubkeyAuthentication yes
PermitRootLogin no
AuthorizedKeysFile .ssh/authorized_keys
StrictModes yes
UseDNS no
LoginGraceTime 30
MaxAuthTries 3
LogLevel VERBOSE
PrintMotd no
Match User $automation
  AuthenticationMethods publickey
Match Group $group
  AuthenticationMethods publickey,keyboard-interactive
Match Group *,!$group
  AuthenticationMethods none
EOF

mkdir -p /run/sshd && chmod 755 /run/sshd
ln -s /usr/sbin/sshd "$work/$service"
"$work/$service" -t -f "$work/sshd_config" || { echo "FAIL: sshd -t rejects the config"; exit 1; }

# sshd refuses a btmp readable by others ("Excess permission").
for f in btmp wtmp lastlog; do : >"$work/$f"; chmod 600 "$work/$f"; done
unshare -m --propagation private sh -c '
  w=$1; shift
  for f in btmp wtmp lastlog; do
    [ -e /var/log/$f ] && mount --bind "$w/$f" /var/log/$f
  done
  exec "$@"' sh "$work" "$work/$service" -D -e -f "$work/sshd_config" \
  >"$work/sshd.log" 2>&1 &
sshd_pid=$!
for _ in $(seq 100); do
  ss -Htln "sport = :$port" | grep -q . && break
  kill -0 "$sshd_pid" 2>/dev/null || { echo "FAIL: sshd exited"; exit 1; }
  sleep 0.05
done
ss -Htln "sport = :$port" | grep -q . || { echo "FAIL: sshd does not listen on $port"; exit 1; }
echo "sshd ($service, pid $sshd_pid) on 127.0.0.1:$port"

# --- the client -----------------------------------------------------------------------------
# login USER CODE MARKER: runs `echo MARKER` remotely; sets out/status/prompts.
login() {
  local user=$1 code=$2 marker=$3
  out=$("$HERE/ssh_expect.exp" "$code" ssh -F /dev/null -p "$port" -i "$work/client_key" \
    -o IdentitiesOnly=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
    -o PreferredAuthentications=publickey,keyboard-interactive \
    -o KbdInteractiveAuthentication=yes -o PasswordAuthentication=no \
    -o NumberOfPasswordPrompts=1 -o ConnectTimeout=10 -o LogLevel=ERROR \
    "$user@127.0.0.1" "echo $marker" 2>&1)
  status=$?
  prompts=$(printf '%s\n' "$out" | sed -n 's/^PROMPTS=\([0-9]*\).*/\1/p' | tail -n 1)
}
ran() { printf '%s\n' "$out" | grep -q "^$1"; }
show() { printf '    %s\n' "$out" | tr -d '\r' | head -n 8; }

# Codes from oathtool (never from our code). A code is used right after it is computed; the
# module's window (3 steps) absorbs a step boundary in between.
totp_now() { oathtool --totp -b "$SECRET"; }
wrong_code() {  # a 6-digit code valid nowhere in the window
  local c n=0
  while :; do
    c=$(printf '%06d' $(( (RANDOM * 32768 + RANDOM + n) % 1000000 )))
    n=$((n + 1))
    oathtool --totp -b "$SECRET" -w 4 -N "@$(( $(date +%s) - 60 ))" | grep -qx "$c" || break
  done
  echo "$c"
}

# 1. member + key + right code: runs the remote command.
code=$(totp_now)
login "$member" "$code" REMOTE-OK-1
if [ "$status" = 0 ] && ran REMOTE-OK-1 && [ "$prompts" = 1 ]; then
  pass "member + key + right code runs a remote command"
else
  fail "member + key + right code (status $status, prompts $prompts)"; show
fi

# 2. member + key + wrong code: denied.
login "$member" "$(wrong_code)" REMOTE-OK-2
if [ "$status" != 0 ] && ! ran REMOTE-OK-2 && [ "${prompts:-0}" -ge 1 ]; then
  pass "wrong code denied"
else
  fail "wrong code (status $status, prompts $prompts)"; show
fi

# 3. the code of case 1 again (DISALLOW_REUSE): denied.
login "$member" "$code" REMOTE-OK-3
if [ "$status" != 0 ] && ! ran REMOTE-OK-3; then
  pass "replayed code denied"
else
  fail "replayed code accepted (status $status)"; show
fi

# 4. scratch code: accepted once, removed from the file, refused the second time.
login "$member" 12345678 REMOTE-OK-4
if [ "$status" = 0 ] && ran REMOTE-OK-4; then
  pass "scratch code accepted"
else
  fail "scratch code (status $status)"; show
fi
if grep -qx 12345678 "$work/home/$member/.google_authenticator"; then
  fail "the used scratch code is still in the file"
elif ! grep -qx 87654321 "$work/home/$member/.google_authenticator"; then
  fail "the unused scratch code is gone from the file"
else
  pass "used scratch code removed from the file, the other kept"
fi
login "$member" 12345678 REMOTE-OK-5
if [ "$status" != 0 ] && ! ran REMOTE-OK-5; then
  pass "scratch code refused the second time"
else
  fail "scratch code accepted twice (status $status)"; show
fi

# 5. non-member (has a key and a valid secret): denied, never asked for a code.
login "$outsider" "$(totp_now)" REMOTE-OK-6
if [ "$status" != 0 ] && ! ran REMOTE-OK-6 && [ "${prompts:-0}" = 0 ]; then
  pass "non-member denied without a code prompt"
else
  fail "non-member (status $status, prompts $prompts)"; show
fi

# 6. the publickey-only account: in with the key alone, no code prompt.
login "$automation" - REMOTE-OK-7
if [ "$status" = 0 ] && ran REMOTE-OK-7 && [ "${prompts:-0}" = 0 ]; then
  pass "publickey-only account gets no code prompt"
else
  fail "publickey-only account (status $status, prompts $prompts)"; show
fi

# sshd's own record: the code step went through PAM both ways, and a failed login landed in
# the private btmp, not the host's.
grep -q "Accepted keyboard-interactive/pam for $member" "$work/sshd.log" ||
  fail "sshd log has no accepted keyboard-interactive/pam login"
grep -q "Failed keyboard-interactive/pam for $member" "$work/sshd.log" ||
  fail "sshd log has no failed keyboard-interactive/pam login"
grep -q "Excess permission" "$work/sshd.log" && fail "sshd could not record to the private btmp"
if [ -s "$work/btmp" ]; then
  pass "failed logins recorded in the private btmp only"
else
  fail "private btmp is empty (the bind mount did not take)"
fi

elapsed_ms=$(( ($(date +%s%N) - started) / 1000000 ))
elapsed="$((elapsed_ms / 1000)).$(printf '%03d' $((elapsed_ms % 1000)))"
if [ "$failures" = 0 ]; then
  echo "ssh end-to-end: all checks passed (${elapsed}s)"
  exit 0
fi
echo "ssh end-to-end: $failures check(s) failed"
exit 1
