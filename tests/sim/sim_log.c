/*
  chrony-ptpkvm guest simulator

  Copyright (C) 2026 The chrony-ptpkvm authors

  This program is free software; you can redistribute it and/or modify
  it under the terms of version 2 of the GNU General Public License as
  published by the Free Software Foundation.

  This program is distributed in the hope that it will be useful, but
  WITHOUT ANY WARRANTY; without even the implied warranty of
  MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE.  See the GNU
  General Public License for more details.

  SPDX-License-Identifier: GPL-2.0-only

  =======================================================================

  A tap on the process's log output: chronyd writes its log lines (with
  -d) to stderr through fprintf (or __fprintf_chk with _FORTIFY_SOURCE).
  The lines that change chronyd's source selection ("Selected source X",
  "Reset all sources", "Can't synchronise: ...") are copied into the
  truth log as `selection` events at the true time they were written, so
  that the time until chronyd selects its source again after a pause can
  be measured at the resolution of virtual time instead of the 1 s of the
  log's timestamps.  chronyd's jump detector ("Backward/Forward time jump
  detected!", sched.c) becomes a `jump_detected` event: the moment
  chronyd noticed a step of its clock made by someone else.  This is chronyd's own state, recorded as chronyd
  reports it; no error metric is derived from it.  Everything is passed
  on to the real stream unchanged.
  */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "sim.h"

static int (*real_vfprintf)(FILE *, const char *, va_list);
static int (*real_vfprintf_chk)(FILE *, int, const char *, va_list);
static int busy;

/* ================================================== */

static void
note_source(const char *p)
{
  char src[64];
  size_t n = strcspn(p, " \t\r\n");

  if (n >= sizeof (src))
    n = sizeof (src) - 1;
  memcpy(src, p, n);
  src[n] = '\0';
  SIM_LogEvent("selection state=selected source=%s", n ? src : "?");
}

static void
tap(FILE *f, const char *fmt, va_list ap)
{
  static const char selected[] = "Selected source ";
  char msg[512];
  const char *p;
  va_list aq;

  if (f != stderr || busy || !fmt || !SIM_Routed() || !SIM_IsActive())
    return;
  busy = 1;
  va_copy(aq, ap);
  vsnprintf(msg, sizeof (msg), fmt, aq);
  va_end(aq);
  if ((p = strstr(msg, selected)))
    note_source(p + sizeof (selected) - 1);
  else if (strstr(msg, "Reset all sources"))
    SIM_LogEvent("selection state=reset");
  else if (strstr(msg, "Can't synchronise"))
    SIM_LogEvent("selection state=none");
  else if (strstr(msg, "Backward time jump detected!"))
    SIM_LogEvent("jump_detected dir=backward");
  else if (strstr(msg, "Forward time jump detected!"))
    SIM_LogEvent("jump_detected dir=forward");
  busy = 0;
}

/* ================================================== */

int
vfprintf(FILE *f, const char *fmt, va_list ap)
{
  if (!real_vfprintf)
    real_vfprintf = dlsym(RTLD_NEXT, "vfprintf");
  tap(f, fmt, ap);
  return real_vfprintf(f, fmt, ap);
}

int
fprintf(FILE *f, const char *fmt, ...)
{
  va_list ap;
  int r;

  va_start(ap, fmt);
  r = vfprintf(f, fmt, ap);
  va_end(ap);
  return r;
}

int
__vfprintf_chk(FILE *f, int flag, const char *fmt, va_list ap)
{
  if (!real_vfprintf_chk)
    real_vfprintf_chk = dlsym(RTLD_NEXT, "__vfprintf_chk");
  tap(f, fmt, ap);
  return real_vfprintf_chk(f, flag, fmt, ap);
}

int
__fprintf_chk(FILE *f, int flag, const char *fmt, ...)
{
  va_list ap;
  int r;

  va_start(ap, fmt);
  r = __vfprintf_chk(f, flag, fmt, ap);
  va_end(ap);
  return r;
}
