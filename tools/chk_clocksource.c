/*
  chrony-ptpkvm - ptpkvm-doctor

  SPDX-License-Identifier: GPL-2.0-only
  Copyright (C) 2026 The chrony-ptpkvm authors

  This program is free software; you can redistribute it and/or modify
  it under the terms of version 2 of the GNU General Public License as
  published by the Free Software Foundation.

  =======================================================================

  Checks "clocksource.current", "cpu.tsc_flags" and "kernel.clock_log":
  which clocksource the guest kernel uses (PTP_SYS_OFFSET_PRECISE works
  on ptp_kvm only while it is kvm-clock; on tsc it fails with ENODEV and
  readings fall back to PTP_SYS_OFFSET), whether the virtual CPU
  advertises an invariant TSC, and whether the kernel log reports an
  unstable clocksource.  The kernel log is read from /dev/kmsg, or from
  `journalctl -k` when /dev/kmsg is restricted; it is never required.
  */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "doctor.h"

#define CS_DIR "/sys/devices/system/clocksource/clocksource0"
#define LOG_SIZE (1 << 20)

/* ================================================== */

static void
check_current(DOC_Context *ctx)
{
  char cur[64], avail[256];
  DOC_Result *r;

  if (DOC_ReadLine(ctx, CS_DIR "/current_clocksource", cur, sizeof (cur)) < 0) {
    DOC_AddResult(ctx->report, "clocksource.current", DOC_SKIP, NULL,
                  "cannot read " CS_DIR "/current_clocksource");
    return;
  }
  if (DOC_ReadLine(ctx, CS_DIR "/available_clocksource", avail, sizeof (avail)) < 0)
    snprintf(avail, sizeof (avail), "?");

  /* what it means for the KVM PHC, only when there is one */
  if (!strcmp(cur, "kvm-clock") || !strcmp(cur, "arch_sys_counter") || !strcmp(cur, "tsc")) {
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

static int
cpu_flags(DOC_Context *ctx, char *flags, size_t len)
{
  static char buf[LOG_SIZE];
  char *p, *nl;

  if (DOC_ReadFile(ctx, "/proc/cpuinfo", buf, sizeof (buf)) < 0)
    return -1;
  for (p = buf; p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
    if (strncmp(p, "flags", 5))
      continue;
    p = strchr(p, ':');
    if (!p)
      return -1;
    nl = strchr(p, '\n');
    if (nl)
      *nl = '\0';
    snprintf(flags, len, " %s ", p + 1);
    return 0;
  }
  return -1;
}

static void
check_tsc_flags(DOC_Context *ctx)
{
  char flags[4096], cur[64] = "";
  int constant, nonstop;

  if (cpu_flags(ctx, flags, sizeof (flags)) < 0) {
    DOC_AddResult(ctx->report, "cpu.tsc_flags", DOC_SKIP, NULL,
                  "no x86 CPU flags in /proc/cpuinfo");
    return;
  }
  constant = DOC_HasWord(flags, "constant_tsc");
  nonstop = DOC_HasWord(flags, "nonstop_tsc");
  DOC_ReadLine(ctx, CS_DIR "/current_clocksource", cur, sizeof (cur));

  if (constant && nonstop) {
    DOC_AddResult(ctx->report, "cpu.tsc_flags", DOC_OK, NULL,
                  "constant_tsc and nonstop_tsc: invariant TSC");
  } else if (!strcmp(cur, "tsc")) {
    DOC_AddResult(ctx->report, "cpu.tsc_flags", DOC_WARN,
                  "give the guest an invariant TSC (libvirt: <feature policy='require' "
                  "name='invtsc'/>) or switch to kvm-clock",
                  "clocksource is tsc but the vCPU lacks%s%s: the TSC may drift or stop",
                  constant ? "" : " constant_tsc", nonstop ? "" : " nonstop_tsc");
  } else {
    DOC_AddResult(ctx->report, "cpu.tsc_flags", DOC_OK, NULL,
                  "vCPU lacks%s%s; harmless while the clocksource is %s",
                  constant ? "" : " constant_tsc", nonstop ? "" : " nonstop_tsc",
                  cur[0] ? cur : "not tsc");
  }
}

/* ================================================== */
/* Read kernel messages: /dev/kmsg (records, or a plain file in fixtures) */

static int
read_kmsg(DOC_Context *ctx, char *buf, size_t len)
{
  char path[4096], rec[8192], *msg;
  size_t used = 0;
  struct stat st;
  ssize_t n;
  int fd, err;

  DOC_Path(ctx, "/dev/kmsg", path, sizeof (path));
  fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
    close(fd);
    n = DOC_ReadFile(ctx, "/dev/kmsg", buf, len);
    return n < 0 ? (int)n : 0;
  }
  buf[0] = '\0';
  for (;;) {
    n = read(fd, rec, sizeof (rec) - 1);
    if (n < 0) {
      err = errno;
      if (err == EINTR || err == EPIPE)
        continue;
      if (err == EAGAIN)
        break;
      close(fd);
      return used ? 0 : -err;
    }
    if (n == 0)
      break;
    rec[n] = '\0';
    msg = strchr(rec, ';');
    msg = msg ? msg + 1 : rec;
    n = strlen(msg);
    if (used + n + 1 >= len) {
      /* Keep the newest messages: drop the older half */
      memmove(buf, buf + used / 2, used - used / 2 + 1);
      used -= used / 2;
    }
    if (used + n + 1 < len) {
      memcpy(buf + used, msg, n);
      used += n;
      buf[used] = '\0';
    }
  }
  close(fd);
  return 0;
}

static int
read_journal(DOC_Context *ctx, char *buf, size_t len)
{
  char *argv[] = { "journalctl", "-k", "-b", "-q", "-o", "cat", "--no-pager", NULL };
  int status = 0, n;

  n = DOC_RunCommand(argv, buf, len, ctx->timeout, &status);
  if (n < 0)
    return n;
  return status == 0 && n > 0 ? 0 : -EACCES;
}

/* ================================================== */

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
  char last[DOC_TEXT_LEN] = "", *line, *save = NULL, *src = "/dev/kmsg";
  int i, hits = 0, err;

  err = read_kmsg(ctx, log, sizeof (log));
  if (err == -EACCES || err == -EPERM)
    DOC_NoteUnreadable(ctx->report, "/dev/kmsg", -err);
  if (err < 0 && !ctx->fixture) {
    src = "journalctl -k";
    err = read_journal(ctx, log, sizeof (log));
  }
  if (err < 0) {
    DOC_AddResult(ctx->report, "kernel.clock_log", DOC_SKIP, NULL,
                  "kernel messages not readable (%s); run as root to include them",
                  strerror(-err));
    return;
  }

  for (line = strtok_r(log, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    for (i = 0; unstable_patterns[i]; i++) {
      if (!strstr(line, unstable_patterns[i]))
        continue;
      hits++;
      snprintf(last, sizeof (last), "%s", DOC_Trim(line));
      break;
    }
  }

  if (hits) {
    char fix[DOC_TEXT_LEN];

    snprintf(fix, sizeof (fix), "find what disturbed the TSC (VF driver reload, host "
             "overcommit, CPU hotplug); see %s, \"clocksource tsc unstable\"",
             DOC_DocPath(ctx, "troubleshooting.md"));
    DOC_Result *r = DOC_AddResult(ctx->report, "kernel.clock_log", DOC_WARN, fix,
                  "%d kernel message(s) about an unstable clocksource (%s); last: %s",
                  hits, src, last);
    DOC_AddMetric(r, "kernel_unstable_clock_messages", hits);
  } else {
    DOC_Result *r = DOC_AddResult(ctx->report, "kernel.clock_log", DOC_OK, NULL,
                  "no unstable-clocksource messages in the kernel log (%s)", src);
    DOC_AddMetric(r, "kernel_unstable_clock_messages", 0);
  }
}

/* ================================================== */

void
DOC_CheckClocksource(DOC_Context *ctx)
{
  check_current(ctx);
  check_tsc_flags(ctx);
  check_log(ctx);
}
