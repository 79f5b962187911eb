#!/usr/bin/env bash
# Builds, tests, packages and installs pam_pvetotp inside a minimal Debian 13 (trixie) root,
# the base of Proxmox VE 9, from this Debian 12 machine.
#
#   scripts/trixie.sh            run everything (root needed)
#
# The root is created once with `debootstrap --variant=minbase trixie` and kept in
# $PVETOTP_TRIXIE_CACHE (default /var/cache/pvetotp/trixie-root, outside the repository);
# later runs reuse it. Inside it: scripts/deps.sh, configure, build, the whole ctest suite
# (which includes the .deb install/login/remove test), then the .deb built on Debian 12 is
# tried in the Debian 13 root and the reverse, and the Depends lines of both are printed.
#
# All mounts (/proc, /dev, /dev/pts, a private /tmp) are made in a private mount namespace,
# so they disappear with it even if this script is killed; they are also unmounted on exit.
# When the archive cannot be reached, the run is skipped with a message (exit 0); a build or
# test failure inside the root fails the script.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
root=${PVETOTP_TRIXIE_CACHE:-/var/cache/pvetotp/trixie-root}
mirror=${PVETOTP_DEBIAN_MIRROR:-http://deb.debian.org/debian}
started=$(date +%s)

if [ "$(id -u)" -ne 0 ]; then
  echo "trixie: needs root (debootstrap, chroot); skipped" >&2
  exit 0
fi

if [ "${1:-}" != "--inside-namespace" ]; then
  bash scripts/deps.sh
  command -v debootstrap >/dev/null || apt-get install -y -qq debootstrap >/dev/null
  if [ ! -f "$root/.pvetotp-ready" ]; then
    echo "trixie: creating $root with debootstrap (about 2 minutes)"
    rm -rf "$root.partial"
    mkdir -p "$(dirname "$root")"
    if ! debootstrap --variant=minbase trixie "$root.partial" "$mirror" > /tmp/pvetotp-debootstrap.log 2>&1; then
      if grep -qiE "couldn't download|failed to download|temporary failure|could not resolve|unable to fetch|connection (refused|timed out)" /tmp/pvetotp-debootstrap.log; then
        echo "trixie: SKIPPED: debootstrap cannot reach $mirror (see /tmp/pvetotp-debootstrap.log)"
        rm -rf "$root.partial"
        exit 0
      fi
      echo "trixie: debootstrap failed:" >&2
      tail -20 /tmp/pvetotp-debootstrap.log >&2
      exit 1
    fi
    rm -rf "$root"
    mv "$root.partial" "$root"
    touch "$root/.pvetotp-ready"
  fi
  exec unshare --mount --propagation private -- bash "$0" --inside-namespace
fi

# ---- inside a private mount namespace from here on ----
mounts=()
cleanup() {
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do umount -l "${mounts[$i]}" 2>/dev/null || true; done
}
trap cleanup EXIT
bind() { mount "$@"; mounts+=("${@: -1}"); }
bind -t proc proc "$root/proc"
bind --bind /dev "$root/dev"
bind -t devpts -o newinstance,ptmxmode=0666 devpts "$root/dev/pts"
bind -t tmpfs -o mode=1777 tmpfs "$root/tmp"
bind -t sysfs sysfs "$root/sys"
cp /etc/resolv.conf "$root/etc/resolv.conf"

# The source as tracked by git (the working-tree version of each tracked file).
rm -rf "$root/src" && mkdir -p "$root/src"
git -C "$repo" ls-files -z | (cd "$repo" && tar --null -T - -cf -) | tar -xf - -C "$root/src"

in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
  LANG=C.UTF-8 CI="${CI:-}" bash -o pipefail -e -c "$1"; }

echo "trixie: $(in_root 'cat /etc/debian_version') root at $root"
in_root 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends git ca-certificates >/dev/null'
in_root 'cd /src && bash scripts/deps.sh'
in_root 'rm -rf /build && cd /src && cmake -S . -B /build -DPVETOTP_BENCH=OFF -DPVETOTP_WERROR=ON >/build-configure.log 2>&1 || { cat /build-configure.log; exit 1; }; grep -E "Linux-PAM|OpenSSL|libqrencode|compiler" /build-configure.log'
in_root 'cmake --build /build -j"$(nproc)" >/build.log 2>&1 || { grep -E "error|Error" /build.log | head -40; exit 1; }; echo "trixie: build OK"'
echo "trixie: running the whole ctest suite inside Debian 13"
in_root 'cd /build && ctest --output-on-failure -j"$(nproc)"'

# Packages across releases: does each release's .deb install on the other?
in_root 'cd /build && rm -f pam-pvetotp_*.deb && cpack -G DEB >/dev/null 2>&1 && ls pam-pvetotp_*.deb' 
trixie_deb=$(ls "$root"/build/pam-pvetotp_*.deb)
echo "trixie: Debian 13 package Depends: $(dpkg-deb -f "$trixie_deb" Depends)"
bookworm_build=$(mktemp -d /tmp/pvetotp-bookworm-pkg.XXXXXX)
cmake -S "$repo" -B "$bookworm_build" -DPVETOTP_BUILD_TESTS=OFF -DPVETOTP_BENCH=OFF >/dev/null
cmake --build "$bookworm_build" -j"$(nproc)" >/dev/null
(cd "$bookworm_build" && cpack -G DEB >/dev/null 2>&1)
bookworm_deb=$(ls "$bookworm_build"/pam-pvetotp_*.deb)
echo "trixie: Debian 12 package Depends: $(dpkg-deb -f "$bookworm_deb" Depends)"
cp "$bookworm_deb" "$root/tmp/bookworm.deb"
if in_root 'apt-get install --simulate -qq /tmp/bookworm.deb >/tmp/sim.log 2>&1'; then
  echo "trixie: Debian 12 package on Debian 13: dependencies resolve"
else
  echo "trixie: Debian 12 package on Debian 13: dependencies do NOT resolve (use the Debian 13 build):"
  grep -E "Depends|unmet|E:" "$root/tmp/sim.log" | head -5 | sed 's/^/trixie:   /'
fi
if apt-get install --simulate -qq "$trixie_deb" >/tmp/pvetotp-sim12.log 2>&1; then
  echo "trixie: Debian 13 package on Debian 12: dependencies resolve"
else
  echo "trixie: Debian 13 package on Debian 12: dependencies do NOT resolve (use the Debian 12 build):"
  grep -E "Depends|unmet|E:" /tmp/pvetotp-sim12.log | head -5 | sed 's/^/trixie:   /'
fi
rm -rf "$bookworm_build"
echo "trixie: done in $(( $(date +%s) - started )) s"
