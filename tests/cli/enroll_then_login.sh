#!/usr/bin/env bash
# Enrolls a TOTP secret into a throw-away home directory with the built pvetotp-enroll and
# prints what a login test needs, one `key=value` per line:
#   secret_file=<path>   the written file (mode 0400, owned by the caller)
#   home=<dir>           the directory it lives in (the caller removes it)
#   secret=<BASE32>      the printed secret, for `oathtool --totp -b`
#   scratch=<code>       the first scratch code
# Usage: enroll_then_login.sh BUILD_DIR [extra pvetotp-enroll options...]
# Example: eval "$(tests/cli/enroll_then_login.sh build -l alice@pam)"
#          pamtester ... "$(oathtool --totp -b "$secret")"
set -euo pipefail
build_dir=${1:?usage: $0 BUILD_DIR [pvetotp-enroll options...]}
shift
tool="$build_dir/tools/pvetotp-enroll"
[ -x "$tool" ] || { echo "$0: $tool is not built" >&2; exit 1; }

home=$(mktemp -d /tmp/pvetotp-enroll-home-XXXXXX)
chmod 0755 "$home"
out=$(HOME="$home" "$tool" -t -d -f -C -r 3 -R 30 -w 3 -Q none -e 5 "$@")
file="$home/.google_authenticator"
secret=$(printf '%s\n' "$out" | sed -n 's/^Your new secret key is: //p')
scratch=$(sed -n '/^[1-9][0-9]\{7\}$/{p;q}' "$file")
printf 'secret_file=%s\nhome=%s\nsecret=%s\nscratch=%s\n' "$file" "$home" "$secret" "$scratch"
