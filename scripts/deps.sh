#!/usr/bin/env bash
# Installs everything the build, the tests, the demo and the benchmarks need, from Debian's
# own packages. Idempotent: runs `apt-get update` only when something is missing.
# Works on Debian 12 (bookworm) and Debian 13 (trixie).
set -euo pipefail

required=(
  build-essential cmake pkg-config
  libpam0g-dev libssl-dev libqrencode-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  pamtester oathtool libpam-wrapper libnss-wrapper zbar-tools
  libpam-google-authenticator libpam-modules
  expect openssh-server openssh-client procps
)
# Nice to have (fuzzing with clang/libFuzzer, lintian, man-page checks); missing ones are
# reported, not fatal, so a release without them still builds and tests.
optional=(clang lintian man-db groff-base)
if [ "${1:-}" = "--with-fuzz" ]; then
  # libFuzzer and the sanitizer runtimes come in libclang-rt-<N>-dev, N being the major version
  # of the distribution's default clang: 14 on Debian 12, 19 on Debian 13. Taken from the
  # release, since clang itself may not be installed yet; an installed clang decides otherwise.
  clang_major=$(clang --version 2>/dev/null | sed -n 's/.*clang version \([0-9]*\).*/\1/p' | head -1)
  if [ -z "$clang_major" ]; then
    case "$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")" in
      bookworm) clang_major=14 ;;
      trixie) clang_major=19 ;;
    esac
  fi
  [ -n "$clang_major" ] && optional+=("libclang-rt-${clang_major}-dev")
fi

missing() {
  local out=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || out+=("$p")
  done
  echo "${out[@]:-}"
}

need=$(missing "${required[@]}")
want=$(missing "${optional[@]}")
if [ -z "$need" ] && [ -z "$want" ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "deps.sh: missing packages: $need $want (run as root to install them)" >&2
  [ -z "$need" ] && exit 0 || exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
if [ -n "$need" ]; then
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $need >/dev/null
fi
for p in $want; do
  apt-get install -y -qq --no-install-recommends "$p" >/dev/null 2>&1 ||
    echo "deps.sh: optional package $p is not available here; skipping it" >&2
done
