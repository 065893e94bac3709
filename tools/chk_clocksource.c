/*
  chrony-ptpkvm - ptpkvm-doctor

  SPDX-License-Identifier: GPL-2.0-only
  Copyright (C) 2026 The chrony-ptpkvm authors

  This program is free software; you can redistribute it and/or modify
  it under the terms of version 2 of the GNU General Public License as
  published by the Free Software Foundation.

  =======================================================================

  Checks "clocksource.current" and "kernel.clock_log": which clocksource
  the guest kernel uses (PTP_SYS_OFFSET_PRECISE works on ptp_kvm only
  while it is kvm-clock; on tsc it fails with ENODEV and readings fall
  back to PTP_SYS_OFFSET; a tsc clocksource needs an invariant TSC), and
  whether the kernel log reports an unstable clocksource.  The kernel log
  is read with `journalctl -k`, else `dmesg` (the fixture's /dev/kmsg as
  a file with --root); it is never required.
  */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "doctor.h"

#define CS_DIR "/sys/devices/system/clocksource/clocksource0"
#define LOG_SIZE (1 << 20)

/* ================================================== */
/* The x86 CPU flags lacking for an invariant TSC, "" if none; NULL if the
   flags are unknown */

static const char *
tsc_lacks(DOC_Context *ctx, char *buf, size_t len)
{
  static char info[LOG_SIZE];
  char *flags;

  if (DOC_ReadFile(ctx, "/proc/cpuinfo", info, sizeof (info)) < 0)
    return NULL;
  flags = !strncmp(info, "flags", 5) ? info : strstr(info, "\nflags");
  if (!flags || !(flags = strchr(flags, ':')))
    return NULL;
  flags[strcspn(flags, "\n")] = '\0';
  snprintf(buf, len, "%s%s", DOC_HasWord(flags + 1, "constant_tsc") ? "" : " constant_tsc",
           DOC_HasWord(flags + 1, "nonstop_tsc") ? "" : " nonstop_tsc");
  return buf;
}

/* ================================================== */

static void
check_current(DOC_Context *ctx)
{
  char cur[64], avail[256], lacks[64];
  const char *tsc = NULL;
  DOC_Result *r;

  if (DOC_ReadLine(ctx, CS_DIR "/current_clocksource", cur, sizeof (cur)) < 0) {
    DOC_AddResult(ctx->report, "clocksource.current", DOC_SKIP, NULL,
                  "cannot read " CS_DIR "/current_clocksource");
    return;
  }
  if (DOC_ReadLine(ctx, CS_DIR "/available_clocksource", avail, sizeof (avail)) < 0)
    snprintf(avail, sizeof (avail), "?");
  if (!strcmp(cur, "tsc"))
    tsc = tsc_lacks(ctx, lacks, sizeof (lacks));

  if (tsc && tsc[0]) {
    r = DOC_AddResult(ctx->report, "clocksource.current", DOC_WARN,
                      "give the guest an invariant TSC (libvirt: <feature policy='require' "
                      "name='invtsc'/>) or switch to kvm-clock",
                      "current tsc, but the vCPU lacks%s: the TSC may drift or stop", tsc);
  } else if (!strcmp(cur, "kvm-clock") || !strcmp(cur, "arch_sys_counter") ||
             !strcmp(cur, "tsc")) {
    /* what it means for the KVM PHC, only when there is one */
    r = DOC_AddResult(ctx->report, "clocksource.current", DOC_OK, NULL,
                      "current %s (available: %s)%s", cur, avail, !ctx->kvm_phc[0] ? "" :
                      strcmp(cur, "tsc") ? ": PRECISE cross-timestamps of the KVM PHC can work" :
                      ": PRECISE reads of the KVM PHC fail with ENODEV, PTP_SYS_OFFSET is used "
                      "(a few us of delay); fine for chrony");
  } else if (!strcmp(cur, "jiffies") || !strcmp(cur, "refined-jiffies")) {
    r = DOC_AddResult(ctx->report, "clocksource.current", DOC_FAIL,
                      "boot with clocksource=kvm-clock, or echo kvm-clock > "
                      CS_DIR "/current_clocksource",
                      "current %s (available: %s): tick-resolution clock, no usable timekeeping",
                      cur, avail);
  } else {
    r = DOC_AddResult(ctx->report, "clocksource.current", DOC_WARN,
                      DOC_HasWord(avail, "kvm-clock")
                        ? "echo kvm-clock > " CS_DIR "/current_clocksource (and boot with "
                          "clocksource=kvm-clock)"
                        : "enable kvm-clock in the guest kernel (CONFIG_KVM_GUEST)",
                      "current %s (available: %s): slow clocksource, usually tsc was marked "
                      "unstable", cur, avail);
  }
  DOC_AddMetric(r, "clocksource_kvm_clock", !strcmp(cur, "kvm-clock") ? 1.0 : 0.0);
  DOC_AddMetric(r, "clocksource_tsc", !strcmp(cur, "tsc") ? 1.0 : 0.0);
}

/* ================================================== */
/* The kernel's messages into log; returns its source, NULL if unreadable */

static const char *
read_log(DOC_Context *ctx, char *log, size_t len, int *err)
{
  static char *const cmds[][8] = {
    { "journalctl", "-k", "-b", "-q", "-o", "cat", "--no-pager", NULL },
    { "dmesg", NULL },
  };
  unsigned int i;
  int n, status;

  if (ctx->fixture) {
    *err = DOC_ReadFile(ctx, "/dev/kmsg", log, len);
    return *err >= 0 ? "/dev/kmsg" : NULL;
  }
  for (i = 0; i < sizeof (cmds) / sizeof (cmds[0]); i++) {
    n = DOC_RunCommand(cmds[i], log, len, ctx->timeout, &status);
    *err = n < 0 ? n : -EACCES;
    if (n > 0 && status == 0)
      return cmds[i][0];
  }
  return NULL;
}

static const char *const unstable_patterns[] = {
  "clocksource tsc unstable",
  "Marking clocksource 'tsc' as unstable",
  "Marking TSC unstable",
  "TSC found unstable",
  "clocksource watchdog",
  "timekeeping watchdog",
  "Switched to clocksource hpet",
  "Switched to clocksource acpi_pm",
  NULL
};

static void
check_log(DOC_Context *ctx)
{
  static char log[LOG_SIZE];
  char last[DOC_TEXT_LEN] = "", fix[DOC_TEXT_LEN], *line, *save = NULL;
  const char *src;
  int i, hits = 0, err = 0;
  DOC_Result *r;

  if (!(src = read_log(ctx, log, sizeof (log), &err))) {
    DOC_AddResult(ctx->report, "kernel.clock_log", DOC_SKIP, NULL,
                  "kernel messages not readable (%s); run as root to include them",
                  strerror(-err));
    return;
  }
  for (line = strtok_r(log, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    for (i = 0; unstable_patterns[i] && !strstr(line, unstable_patterns[i]); i++)
      ;
    if (unstable_patterns[i]) {
      hits++;
      snprintf(last, sizeof (last), "%s", DOC_Trim(line));
    }
  }

  snprintf(fix, sizeof (fix), "find what disturbed the TSC (VF driver reload, host "
           "overcommit, CPU hotplug); see %s, \"clocksource tsc unstable\"",
           DOC_DocPath(ctx, "troubleshooting.md"));
  if (hits)
    r = DOC_AddResult(ctx->report, "kernel.clock_log", DOC_WARN, fix,
                      "%d kernel message(s) about an unstable clocksource (%s); last: %s",
                      hits, src, last);
  else
    r = DOC_AddResult(ctx->report, "kernel.clock_log", DOC_OK, NULL,
                      "no unstable-clocksource messages in the kernel log (%s)", src);
  DOC_AddMetric(r, "kernel_unstable_clock_messages", hits);
}

/* ================================================== */

void
DOC_CheckClocksource(DOC_Context *ctx)
{
  check_current(ctx);
  check_log(ctx);
}
