#!/usr/bin/env bash
# Builds the .deb, installs it with dpkg -i, logs in through a real /etc/pam.d service of its
# own with pamtester and a code from oathtool, removes the package with dpkg -r and checks
# that nothing it installed is left. Needs root; changes the system only for the duration.
#   scripts/package-test.sh [BUILD_DIR]           (default build-pkg; configured with tests off)
#   scripts/package-test.sh --reuse BUILD_DIR     package an already built tree as it is
#                                                 (ctest does this with the main build: only
#                                                 the products have install rules)
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "package-test: needs root, skipped"; exit 77; }

reuse=false
if [ "${1:-}" = "--reuse" ]; then
  reuse=true
  shift
fi
build_dir=${1:-build-pkg}
service=pvetotp-pkgtest
work=$(mktemp -d /tmp/pvetotp-pkgtest.XXXXXX)
cleanup() {
  rm -f "/etc/pam.d/$service"
  dpkg -s pam-pvetotp >/dev/null 2>&1 && dpkg -r pam-pvetotp >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

if dpkg -s pam-pvetotp >/dev/null 2>&1; then
  echo "package-test: pam-pvetotp is already installed on this machine; not touching it" >&2
  exit 1
fi
if ! $reuse; then
  cmake -S . -B "$build_dir" -DPVETOTP_BUILD_TESTS=OFF -DPVETOTP_BENCH=OFF >/dev/null
  cmake --build "$build_dir" -j"$(nproc)" >/dev/null
fi
(cd "$build_dir" && rm -f pam-pvetotp_*.deb && cpack -G DEB >/dev/null 2>&1)
deb=$(ls "$build_dir"/pam-pvetotp_*.deb)
echo "package-test: built $(basename "$deb")"
dpkg-deb -f "$deb" Depends | sed 's/^/package-test: Depends: /'
if command -v lintian >/dev/null; then
  echo "package-test: lintian: $(lintian "$deb" 2>&1 | grep -v 'root privileges' | grep -c . || true) finding(s)"
  lintian "$deb" 2>&1 | grep -v 'root privileges' | sed 's/^/package-test:   /' || true
fi

dpkg -i "$deb" >/dev/null
mapfile -t installed < <(dpkg -L pam-pvetotp | while read -r f; do [ -f "$f" ] && echo "$f"; done)
echo "package-test: installed ${#installed[@]} files"
pamdir=$(dirname "$(dpkg -L pam-pvetotp | grep '/pam_pvetotp.so$')")
[ -f "$pamdir/pam_pvetotp.so" ] || { echo "package-test: module not installed" >&2; exit 1; }
pvetotp-enroll --version

secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP
printf '%s\n" TOTP_AUTH\n" DISALLOW_REUSE\n' "$secret" > "$work/secret"
chmod 600 "$work/secret"
cat > "/etc/pam.d/$service" <<PAM
# Written by pam_pvetotp's scripts/package-test.sh; removed when it ends.
auth     required pam_pvetotp.so secret=$work/secret user=root
account  required pam_permit.so
PAM
code=$(oathtool --totp -b "$secret")
echo "$code" | pamtester "$service" root authenticate
if echo "$code" | pamtester "$service" root authenticate 2>/dev/null; then
  echo "package-test: a replayed code was accepted" >&2; exit 1
fi
echo "package-test: login with the installed module OK, replay refused"

dpkg -r pam-pvetotp >/dev/null
left=0
for f in "${installed[@]}"; do
  if [ -e "$f" ]; then echo "package-test: left behind: $f" >&2; left=1; fi
done
[ $left -eq 0 ] || exit 1
[ -e /usr/share/pam-configs/pvetotp ] && { echo "package-test: profile left behind" >&2; exit 1; }
echo "package-test: removed cleanly, nothing left behind"
