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

  What the guest sees of the device's failures: failed ioctls, failed
  ptp_kvm hypercalls and the kernel log lines they cause (the driver's
  pr_err_ratelimited(), each call site with its own printk ratelimit
  state), the basic reading ioctls a reader makes, and the first reading
  the host answers after an outage.  The counts go into the truth log as
  `counts` events (at the grid point after a change) and into the end and
  exit events.
  */

#include <stdio.h>

#include "sim.h"

/* printk ratelimit defaults (include/linux/ratelimit_types.h) */
#define RATELIMIT_INTERVAL 5.0   /* DEFAULT_RATELIMIT_INTERVAL = 5 * HZ */
#define RATELIMIT_BURST 10       /* DEFAULT_RATELIMIT_BURST */

static unsigned long long failed_ioctls, failed_hypercalls, klog_lines, basic_ioctls;
static unsigned long long logged[4];
static struct {
  int started, printed, missed;
  SIM_Time begin;
} rl[SIM_KLOG_SITES];
static int want_good;           /* log the first good reading after an outage */

/* ================================================== */

void
SIM_CountFailedIoctl(void)
{
  failed_ioctls++;
}

void
SIM_CountBasicIoctl(void)
{
  basic_ioctls++;
}

/* ================================================== */

/* A failed ptp_kvm hypercall: the guest driver logs it with
   pr_err_ratelimited() (drivers/ptp/ptp_kvm_x86.c): at most
   RATELIMIT_BURST lines per RATELIMIT_INTERVAL of jiffies (guest
   MONOTONIC), and a "callbacks suppressed" line when a call after a window
   with suppressed messages opens a new one (lib/ratelimit.c) */
void
SIM_KernelLog(int site)
{
  SIM_Time now = SIM_MonoNow();

  failed_hypercalls++;
  if (!rl[site].started) {
    rl[site].started = 1;
    rl[site].begin = now;
  }
  if (now > rl[site].begin + RATELIMIT_INTERVAL) {
    if (rl[site].missed) {
      klog_lines++;
      rl[site].missed = 0;
    }
    rl[site].begin = now;
    rl[site].printed = 0;
  }
  if (rl[site].printed < RATELIMIT_BURST) {
    rl[site].printed++;
    klog_lines++;
  } else {
    rl[site].missed++;
  }
}

/* ================================================== */

/* A hostfail or gone window ended: the next good reading is an event */
void
SIM_OutageEnded(void)
{
  want_good = 1;
}

/* Outcome of one reading of a PHC (ok = the host answered every access) */
void
SIM_ReadOutcome(int ok)
{
  if (ok && want_good) {
    want_good = 0;
    SIM_LogEvent("good_read");
  }
}

/* ================================================== */

const char *
SIM_CountsText(void)
{
  static char buf[160];

  snprintf(buf, sizeof (buf), "failed_ioctls=%llu failed_hypercalls=%llu "
           "kernel_log_lines=%llu basic_ioctls=%llu", failed_ioctls, failed_hypercalls,
           klog_lines, basic_ioctls);
  return buf;
}

/* Called at each grid point: a `counts` event if anything changed */
void
SIM_LogCounts(void)
{
  if (failed_ioctls == logged[0] && failed_hypercalls == logged[1] &&
      klog_lines == logged[2] && basic_ioctls == logged[3])
    return;
  SIM_LogEvent("counts %s", SIM_CountsText());
  logged[0] = failed_ioctls;
  logged[1] = failed_hypercalls;
  logged[2] = klog_lines;
  logged[3] = basic_ioctls;
}
