#!/bin/sh
# ensure-packages.sh PKG...: install the Debian packages that are missing.
#
# As root it runs apt-get (one 'apt-get update' per machine and day at most);
# otherwise it names the missing packages and the command that installs them.
# Nothing is installed that is already present.
set -eu

missing=""
for pkg in "$@"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
  [ "$status" = "installed" ] || missing="$missing $pkg"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "error: missing Debian packages:$missing" >&2
  echo "       install them with: sudo apt-get install$missing" >&2
  exit 1
fi

retry="$(dirname "$0")/archive-retry.sh"
stamp=/var/lib/apt/periodic/chrony-ptpkvm-update-stamp
if [ ! -e "$stamp" ] || [ -n "$(find "$stamp" -mmin +1440 2>/dev/null)" ]; then
  echo "ensure-packages: apt-get update" >&2
  # An index that fails to download is only a warning to apt-get update:
  # retried as an error first, then accepted (an entry of another vendor
  # may fail every time without hiding Debian's packages).
  "$retry" apt-get update -qq --error-on=any >&2 || apt-get update -qq >&2 ||
    { echo "error: apt-get update failed" >&2; exit 1; }
  mkdir -p "$(dirname "$stamp")" && touch "$stamp"
fi
echo "ensure-packages: installing$missing" >&2
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive "$retry" apt-get install -y -qq --no-install-recommends $missing >&2 || {
  echo "error: could not install:$missing" >&2
  exit 1
}
