#!/usr/bin/env bash
# deb-chroot.sh SUITE VARIANT PACKAGES WORKDIR CMD [ARG...]: create a clean
# chroot of Debian SUITE with mmdebstrap (VARIANT: buildd, important, ...;
# PACKAGES: comma-separated extra packages or ""), run "CMD ARG... ROOT" on
# this machine while it exists (ROOT is the chroot's directory), then remove it.
#
# The archive is the one configured in /etc/apt (fetch-chrony.sh
# --archive-entries: URIs and keyrings of the Debian entries; no host name in
# the repository).  The chroot is a temporary directory under WORKDIR;
# mmdebstrap mounts /dev, /proc and /sys in it for CMD and unmounts them and
# deletes the directory afterwards, also when CMD fails.  Services are not
# started in it (mmdebstrap's policy-rc.d).  Exits with CMD's status.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
die() { echo "deb-chroot: error: $*" >&2; exit 1; }

[ $# -ge 5 ] || die "usage: deb-chroot.sh SUITE VARIANT PACKAGES WORKDIR CMD [ARG...]"
suite=$1 variant=$2 packages=$3 workdir=$4
shift 4

mirrors=()
while read -r uri key; do
  if [ "$key" = - ]; then
    mirrors+=("deb $uri $suite main")
  else
    mirrors+=("deb [signed-by=$key] $uri $suite main")
  fi
done < <("$top/scripts/fetch-chrony.sh" --archive-entries)
[ ${#mirrors[@]} -gt 0 ] || die "no Debian archive configured in /etc/apt"

hook=$(printf '%q ' "$@")'"$1"'
mkdir -p "$workdir"
echo "deb-chroot: mmdebstrap --variant=$variant $suite${packages:+ (+$packages)}"
t0=$SECONDS
# TMPDIR: the chroot directory is created under WORKDIR (build/), not /tmp.
TMPDIR=$(cd "$workdir" && pwd) mmdebstrap --mode=root --variant="$variant" \
  ${packages:+--include="$packages"} --quiet \
  --customize-hook='echo "deb-chroot: chroot ready in $1"' \
  --customize-hook="$hook" \
  "$suite" /dev/null "${mirrors[@]}"
echo "deb-chroot: chroot of $suite created, used and removed in $((SECONDS - t0)) s"
