/*
  chrony-ptpkvm - ptpkvm-doctor

  SPDX-License-Identifier: GPL-2.0-only
  Copyright (C) 2026 The chrony-ptpkvm authors

  This program is free software; you can redistribute it and/or modify
  it under the terms of version 2 of the GNU General Public License as
  published by the Free Software Foundation.

  =======================================================================

  Check "chrony.sync": ask the running chronyd with `chronyc -n -c
  tracking` (CSV: reference ID, name, stratum, reference time, system
  time offset, last offset, RMS offset, frequency, residual frequency,
  skew, root delay, root dispersion, update interval, leap status) whether
  it is synchronised, to what, and how far the clock still has to go.
  Not being able to ask is a WARN, never a FAIL.
  */

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doctor.h"

#define N_FIELDS 14
#define LOCAL_REFID 0x7F7F0101UL

/* ================================================== */

static int
split_csv(char *line, char **fields, int max)
{
  int n = 0;
  char *p = line;

  while (n < max) {
    fields[n++] = p;
    p = strchr(p, ',');
    if (!p)
      break;
    *p++ = '\0';
  }
  return n;
}

/* ================================================== */

void
DOC_CheckSync(DOC_Context *ctx)
{
  char out[4096], *argv[] = { (char *)ctx->chronyc, "-n", "-c", "tracking", NULL };
  char *fields[N_FIELDS + 2], *nl;
  double correction, rms;
  unsigned long refid;
  int n, status = 0, synced, is_ip;
  DOC_Result *r;
  char fix[DOC_TEXT_LEN];

  snprintf(fix, sizeof (fix), "chronyc sources -v; see %s", DOC_DocPath(ctx, "troubleshooting.md"));
  if (!ctx->chronyc) {
    DOC_AddResult(ctx->report, "chrony.sync", DOC_SKIP, NULL, "not asked (--no-chronyc)");
    return;
  }
  n = DOC_RunCommand(argv, out, sizeof (out), ctx->timeout, &status);
  if (n == -ENOENT) {
    DOC_AddResult(ctx->report, "chrony.sync", DOC_WARN, "install chrony (provides chronyc)",
                  "%s not found: synchronisation not checked", ctx->chronyc);
    return;
  }
  if (n < 0 || status != 0) {
    nl = strchr(out, '\n');
    if (nl)
      *nl = '\0';
    DOC_AddResult(ctx->report, "chrony.sync", DOC_WARN,
                  "is chronyd running? systemctl status chrony (RHEL: chronyd)",
                  "chronyc could not ask chronyd (%s%s)",
                  n < 0 ? strerror(-n) : "exit status", n < 0 ? "" : (out[0] ? "" : " != 0"));
    return;
  }

  nl = strchr(out, '\n');
  if (nl)
    *nl = '\0';
  if (split_csv(out, fields, N_FIELDS + 1) != N_FIELDS) {
    DOC_AddResult(ctx->report, "chrony.sync", DOC_WARN,
                  "check that chronyc matches chronyd's version",
                  "unexpected chronyc tracking output");
    return;
  }

  refid = strtoul(fields[0], NULL, 16);
  correction = atof(fields[4]);
  rms = atof(fields[6]);
  synced = strcmp(fields[13], "Not synchronised") && refid != 0;
  is_ip = strchr(fields[1], '.') || strchr(fields[1], ':');

  if (!synced) {
    r = DOC_AddResult(ctx->report, "chrony.sync", DOC_FAIL,
                      fix,
                      "chronyd is not synchronised (leap status '%s')", fields[13]);
  } else if (refid == LOCAL_REFID) {
    r = DOC_AddResult(ctx->report, "chrony.sync", DOC_WARN,
                      "the local reference is a fallback: check the refclock with chronyc "
                      "sources -v", "synchronised to the local clock only (stratum %s)",
                      fields[2]);
  } else if (is_ip && ctx->chrony_refclock) {
    r = DOC_AddResult(ctx->report, "chrony.sync", DOC_WARN,
                      "chronyc sources -v: why is the refclock not selected?",
                      "synchronised to NTP server %s, not to the KVM PHC refclock", fields[1]);
  } else if (!is_ip && ctx->refclock_name[0]) {
    r = DOC_AddResult(ctx->report, "chrony.sync", DOC_WARN,
                      "point the refclock at the KVM PHC (see chrony.refclock)",
                      "synchronised to refclock %s, a PHC with clock_name '%s': not the host's "
                      "clock (chronyd warns \"not the expected clock name\")", fields[1],
                      ctx->refclock_name);
  } else if (fabs(correction) > 1e-3) {
    r = DOC_AddResult(ctx->report, "chrony.sync", DOC_WARN,
                      "wait, or step once with chronyc makestep if it is large",
                      "synchronised to %s, but the clock is still %+.6f s from it (slewing)",
                      fields[1], correction);
  } else {
    r = DOC_AddResult(ctx->report, "chrony.sync", DOC_OK, NULL,
                      "synchronised to %s (stratum %s), offset %+.9f s, RMS offset %.9f s, "
                      "frequency %s ppm", fields[1], fields[2], correction, rms, fields[7]);
  }
  DOC_AddMetric(r, "chrony_synchronised", synced);
  DOC_AddMetric(r, "chrony_system_offset_seconds", correction);
  DOC_AddMetric(r, "chrony_rms_offset_seconds", rms);
  DOC_AddMetric(r, "chrony_frequency_ppm", atof(fields[7]));
  DOC_AddMetric(r, "chrony_stratum", atof(fields[2]));
}
