/*
  chrony-ptpkvm - ptpkvm-doctor

  SPDX-License-Identifier: GPL-2.0-only
  Copyright (C) 2026 The chrony-ptpkvm authors

  This program is free software; you can redistribute it and/or modify
  it under the terms of version 2 of the GNU General Public License as
  published by the Free Software Foundation.

  =======================================================================

  Check "services.time": which programs that set the system clock are
  running (from /proc/PID/comm), so that two of them fighting over the
  clock (chronyd and ntpd, systemd-timesyncd, phc2sys, or a second
  chronyd) is caught.  Child processes of a chronyd (its NTS-KE helpers)
  are not counted as separate instances.
  */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doctor.h"

#define MAX_PROCS 64

/* comm values: 15 characters at most, so systemd-timesyncd is truncated */
static const char *const services[] = {
  "chronyd", "ntpd", "systemd-timesyn", "phc2sys", "openntpd", "ntpdate", "sntp",
  "htpdate", "timemaster", NULL
};

typedef struct {
  DOC_Context *ctx;
  int n;
  long pid[MAX_PROCS];
  long ppid[MAX_PROCS];
  int service[MAX_PROCS];
  int visible;
} Scan;

/* ================================================== */

static int
scan_pid(const char *name, void *arg)
{
  Scan *s = arg;
  char path[64], comm[64], stat[512], *p;
  int i;

  if (name[strspn(name, "0123456789")] != '\0')
    return 0;
  s->visible++;
  snprintf(path, sizeof (path), "/proc/%s/comm", name);
  if (DOC_ReadLine(s->ctx, path, comm, sizeof (comm)) < 0)
    return 0;
  for (i = 0; services[i]; i++) {
    if (strcmp(comm, services[i]))
      continue;
    if (s->n >= MAX_PROCS)
      return 0;
    s->pid[s->n] = atol(name);
    s->ppid[s->n] = 0;
    s->service[s->n] = i;
    snprintf(path, sizeof (path), "/proc/%s/stat", name);
    if (DOC_ReadLine(s->ctx, path, stat, sizeof (stat)) == 0 &&
        (p = strrchr(stat, ')')) != NULL)
      sscanf(p + 1, " %*c %ld", &s->ppid[s->n]);
    s->n++;
    return 0;
  }
  return 0;
}

/* ================================================== */

void
DOC_CheckServices(DOC_Context *ctx)
{
  char list[DOC_TEXT_LEN] = "", note[128] = "";
  int i, j, chronyd = 0, others = 0, child;
  DOC_Result *r;
  Scan s;

  memset(&s, 0, sizeof (s));
  s.ctx = ctx;
  if (DOC_ListDir(ctx, "/proc", scan_pid, &s) < 0 || !s.visible) {
    DOC_AddResult(ctx->report, "services.time", DOC_SKIP, NULL, "cannot list /proc");
    return;
  }
  if (!DOC_Exists(ctx, "/proc/1"))
    snprintf(note, sizeof (note), " (process list incomplete: /proc mounted with hidepid?)");

  for (i = 0; i < s.n; i++) {
    child = 0;
    for (j = 0; j < s.n; j++)
      child |= s.service[i] == 0 && s.service[j] == 0 && s.ppid[i] == s.pid[j];
    if (child)
      continue;
    if (s.service[i] == 0)
      chronyd++;
    else
      others++;
    snprintf(list + strlen(list), sizeof (list) - strlen(list), "%s%s[%ld]",
             list[0] ? ", " : "", services[s.service[i]], s.pid[i]);
  }

  if (chronyd + others == 0) {
    r = DOC_AddResult(ctx->report, "services.time", DOC_WARN,
                      "systemctl enable --now chrony (RHEL: chronyd)",
                      "no time synchronisation service is running%s", note);
  } else if (chronyd > 1 || (chronyd && others) || others > 1) {
    r = DOC_AddResult(ctx->report, "services.time", DOC_FAIL,
                      "run exactly one: stop and disable the others (e.g. systemctl disable "
                      "--now systemd-timesyncd ntp)",
                      "several programs set the clock at once: %s%s", list, note);
  } else if (others) {
    r = DOC_AddResult(ctx->report, "services.time", DOC_WARN,
                      "replace it with chrony and 'refclock PTPKVM auto'",
                      "%s runs instead of chronyd: it cannot use the KVM PHC%s", list, note);
  } else {
    r = DOC_AddResult(ctx->report, "services.time", DOC_OK, NULL, "only %s%s", list, note);
  }
  DOC_AddMetric(r, "time_services_running", chronyd + others);
  DOC_AddMetric(r, "chronyd_instances", chronyd);
}
