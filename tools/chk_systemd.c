/*
  chrony-ptpkvm - ptpkvm-doctor

  SPDX-License-Identifier: GPL-2.0-only
  Copyright (C) 2026 The chrony-ptpkvm authors

  This program is free software; you can redistribute it and/or modify
  it under the terms of version 2 of the GNU General Public License as
  published by the Free Software Foundation.

  =======================================================================

  Check "systemd.wait_sync": will applications ordered after
  time-sync.target really wait until the clock is right?  Only if
  chrony-wait.service (shipped with chrony, disabled by default) is
  installed and enabled; chrony's own unit reaches the target as soon as
  chronyd has started.  Reads the unit directories and the .wants
  symlinks of /etc/systemd/system, never asks systemd itself.
  */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "doctor.h"

#define UNIT "chrony-wait.service"

static const char *const unit_dirs[] = {
  "/etc/systemd/system", "/run/systemd/system", "/usr/local/lib/systemd/system",
  "/usr/lib/systemd/system", "/lib/systemd/system", NULL
};

typedef struct {
  DOC_Context *ctx;
  char wanted_by[128];
} WantsScan;

/* ================================================== */

static int
scan_wants(const char *name, void *arg)
{
  WantsScan *s = arg;
  char path[512];
  size_t n = strlen(name);

  if (s->wanted_by[0] || n < 7 || strcmp(name + n - 6, ".wants"))
    return 0;
  snprintf(path, sizeof (path), "/etc/systemd/system/%s/" UNIT, name);
  if (DOC_Exists(s->ctx, path))
    snprintf(s->wanted_by, sizeof (s->wanted_by), "%.*s", (int)(n - 6), name);
  return 0;
}

/* ================================================== */

void
DOC_CheckSystemd(DOC_Context *ctx)
{
  char path[512], link[256], dropin[256] = "";
  const char *unit_dir = NULL;
  WantsScan s;
  int i;

  if (!DOC_Exists(ctx, "/run/systemd/system")) {
    DOC_AddResult(ctx->report, "systemd.wait_sync", DOC_SKIP, NULL,
                  "not booted with systemd: order applications after the clock by other means");
    return;
  }

  if (DOC_ResolveLink(ctx, "/etc/systemd/system/" UNIT, link, sizeof (link)) == 0 &&
      !strcmp(link, "/dev/null")) {
    DOC_AddResult(ctx->report, "systemd.wait_sync", DOC_WARN,
                  "systemctl unmask " UNIT " && systemctl enable " UNIT,
                  UNIT " is masked: time-sync.target does not wait for synchronisation");
    return;
  }

  for (i = 0; unit_dirs[i]; i++) {
    snprintf(path, sizeof (path), "%s/" UNIT, unit_dirs[i]);
    if (!unit_dir && DOC_Exists(ctx, path))
      unit_dir = unit_dirs[i];
    snprintf(path, sizeof (path), "%s/" UNIT ".d/50-ptpkvm.conf", unit_dirs[i]);
    if (!dropin[0] && DOC_Exists(ctx, path))
      snprintf(dropin, sizeof (dropin), "; drop-in %s", path);
  }
  if (!unit_dir) {
    DOC_AddResult(ctx->report, "systemd.wait_sync", DOC_WARN,
                  "install chrony's " UNIT " (in chrony's examples/), then systemctl enable "
                  UNIT, "no " UNIT ": applications ordered After=time-sync.target may start "
                  "before the clock is right");
    return;
  }

  memset(&s, 0, sizeof (s));
  s.ctx = ctx;
  DOC_ListDir(ctx, "/etc/systemd/system", scan_wants, &s);
  if (!s.wanted_by[0]) {
    DOC_AddResult(ctx->report, "systemd.wait_sync", DOC_WARN,
                  "systemctl enable " UNIT " (and order applications After=time-sync.target)",
                  UNIT " (in %s) is not enabled: time-sync.target is reached before chronyd "
                  "has synchronised%s", unit_dir, dropin);
    return;
  }
  DOC_AddResult(ctx->report, "systemd.wait_sync", DOC_OK, NULL,
                UNIT " enabled (%s): time-sync.target waits for synchronisation%s",
                s.wanted_by, dropin);
}
