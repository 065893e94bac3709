/*
  chrony-ptpkvm - ptpkvm-doctor

  SPDX-License-Identifier: GPL-2.0-only
  Copyright (C) 2026 The chrony-ptpkvm authors

  This program is free software; you can redistribute it and/or modify
  it under the terms of version 2 of the GNU General Public License as
  published by the Free Software Foundation.

  =======================================================================

  Check "chrony.update": does the distribution offer a newer chrony than
  the one chrony-ptpkvm's chrony is built on?  Our chrony's version is the
  distribution's with "+ptpkvmN" appended and chrony-ptpkvm depends on it
  exactly, so apt keeps every newer chrony (security fixes too) back until
  the packages are rebuilt.  Read-only: `apt-cache policy chrony` (apt's
  lists as they are, never updated; the inspected tree's with --root) and
  `dpkg --compare-versions`.
  */

#include <stdio.h>
#include <string.h>

#include "doctor.h"

#define OUR_SUFFIX "+ptpkvm"

/* ================================================== */

static int
newer(DOC_Context *ctx, const char *a, const char *b)
{
  char *argv[] = { "dpkg", "--compare-versions", (char *)a, "gt", (char *)b, NULL }, out[256];
  int status = 1;

  return DOC_RunCommand(argv, out, sizeof (out), ctx->timeout, &status) >= 0 && status == 0;
}

/* ================================================== */

void
DOC_CheckUpdate(DOC_Context *ctx)
{
  static char out[16384];
  char dir[4200], *argv[] = { "apt-cache", "-o", dir, "policy", "chrony", NULL };
  char installed[128] = "", base[128], best[128] = "", v[128], *line, *save = NULL, *p;
  int n, status = 0;

  snprintf(dir, sizeof (dir), "Dir=%s/", ctx->root);
  n = DOC_RunCommand(argv, out, sizeof (out), ctx->timeout, &status);
  for (line = strtok_r(n >= 0 ? out : "", "\n", &save); line;
       line = strtok_r(NULL, "\n", &save)) {
    /* "  Installed: V", then the version table: " *** V PRIO" or "     V PRIO" */
    if ((p = strstr(line, "Installed: ")) != NULL)
      sscanf(p + 11, "%127s", installed);
    else if ((!strncmp(line, " *** ", 5) || !strncmp(line, "     ", 5)) && line[5] != ' ' &&
             sscanf(line + 5, "%127s", v) == 1 && !strstr(v, OUR_SUFFIX) &&
             (!best[0] || newer(ctx, v, best)))
      snprintf(best, sizeof (best), "%s", v);
  }
  p = strstr(installed, OUR_SUFFIX);
  if (n < 0 || status || !installed[0] || !strcmp(installed, "(none)") || !p) {
    DOC_AddResult(ctx->report, "chrony.update", DOC_SKIP, NULL,
                  "installed chrony: %s, not chrony-ptpkvm's package (apt-cache policy chrony)",
                  installed[0] ? installed : "(none)");
    return;
  }
  snprintf(base, sizeof (base), "%.*s", (int)(p - installed), installed);
  if (best[0] && newer(ctx, best, base))
    DOC_AddResult(ctx->report, "chrony.update", DOC_WARN,
                  DOC_REBUILD " (it builds on the newest chrony apt offers)",
                  "the distribution offers chrony %s, newer than %s that chrony %s is built on: "
                  "apt keeps chrony back (its fixes too) until chrony-ptpkvm is rebuilt", best,
                  base, installed);
  else
    DOC_AddResult(ctx->report, "chrony.update", DOC_OK, NULL,
                  "chrony %s is built on the newest chrony apt knows (%s)", installed, base);
}
