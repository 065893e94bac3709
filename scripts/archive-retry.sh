#!/bin/sh
# archive-retry.sh CMD...: run CMD, which downloads from the Debian archive or
# installs from it, up to three times, 20 s and then 60 s apart.  apt retries
# a single file (Acquire::Retries), not an update whose indexes disagree
# while a mirror syncs, a proxy that refuses for a moment, or the dpkg lock
# another apt-get holds; those pass within a minute or two.  Each retry is
# said on stderr with CMD's exit status; the exit status is CMD's last.
set -u
for wait in 20 60 ""; do
  "$@" && exit 0
  rc=$?
  [ -n "$wait" ] || exit "$rc"
  echo "archive-retry: '$*' failed (exit $rc); trying again in $wait s" >&2
  sleep "$wait"
done
