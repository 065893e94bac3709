/*
  chrony-ptpkvm - ptpkvm-doctor

  SPDX-License-Identifier: GPL-2.0-only
  Copyright (C) 2026 The chrony-ptpkvm authors

  This program is free software; you can redistribute it and/or modify
  it under the terms of version 2 of the GNU General Public License as
  published by the Free Software Foundation.

  =======================================================================

  Checks "kernel.ptp_kvm" and "kernel.ptp_kvm_boot": is the ptp_kvm
  driver loaded or built in now, and what loads it at boot?  ptp_kvm has
  no device alias, so only a modules-load.d entry (or /etc/modules) or a
  unit that runs modprobe loads it.  What happened is judged from the
  running kernel, never from the presence of such a file: an entry on a
  guest where the module is not loaded means the load failed (no KVM, or
  a host that offers no ptp_kvm), and a modules-load.d entry on a machine
  without KVM fails systemd-modules-load.service at every boot.
  */

#include <stdio.h>
#include <string.h>

#include "doctor.h"

#define BIG_FILE (1 << 20)

/* ================================================== */
/* Does the file have a line starting with prefix, or naming ptp_kvm.ko
   (modules.* lists: any directory, any compression)?  -1 if unreadable */

static int
file_has(DOC_Context *ctx, const char *path, const char *prefix)
{
  static char buf[BIG_FILE];
  size_t pl = strlen(prefix);
  char *p;

  if (DOC_ReadFile(ctx, path, buf, sizeof (buf)) < 0)
    return -1;
  for (p = buf; !pl && (p = strstr(p, "ptp_kvm.ko")) != NULL; p++) {
    if (p == buf || p[-1] == '/' || p[-1] == '\n')
      return 1;
  }
  for (p = buf; pl && p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
    if (!strncmp(p, prefix, pl))
      return 1;
  }
  return 0;
}

/* ================================================== */
/* What loads ptp_kvm at boot: a modules-load.d entry (*.conf) or a unit
   (*.service) that runs modprobe on it */

typedef struct {
  DOC_Context *ctx;
  const char *dir;
  char found[256];
  int unit;                     /* found is a unit, not a modules-load.d entry */
} BootScan;

static int
scan_file(const char *name, void *arg)
{
  BootScan *s = arg;
  char path[512], buf[8192], *line, *save = NULL;
  size_t nl = strlen(name);
  int unit = nl > 8 && !strcmp(name + nl - 8, ".service");

  if (s->found[0] || !(unit || (nl > 5 && !strcmp(name + nl - 5, ".conf"))))
    return 0;
  snprintf(path, sizeof (path), "%s/%s", s->dir, name);
  if (DOC_ReadFile(s->ctx, path, buf, sizeof (buf)) < 0)
    return 0;
  for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    DOC_Trim(line);
    if (unit ? strstr(line, "modprobe") && strstr(line, "ptp_kvm")
             : !strcmp(line, "ptp_kvm") || !strcmp(line, "ptp-kvm")) {
      snprintf(s->found, sizeof (s->found), "%s", path);
      s->unit = unit;
    }
  }
  return 0;
}

static void
boot_config(DOC_Context *ctx, BootScan *s)
{
  static const char *dirs[] = { "/etc/modules-load.d", "/run/modules-load.d",
                                "/usr/local/lib/modules-load.d", "/usr/lib/modules-load.d",
                                "/lib/modules-load.d", "/etc/systemd/system",
                                "/usr/lib/systemd/system", "/lib/systemd/system" };
  unsigned int i;

  memset(s, 0, sizeof (*s));
  s->ctx = ctx;
  for (i = 0; i < sizeof (dirs) / sizeof (dirs[0]) && !s->found[0]; i++) {
    s->dir = dirs[i];
    DOC_ListDir(ctx, dirs[i], scan_file, s);
  }
  if (!s->found[0] && file_has(ctx, "/etc/modules", "ptp_kvm") > 0)
    snprintf(s->found, sizeof (s->found), "/etc/modules");
}

/* ================================================== */

void
DOC_CheckModule(DOC_Context *ctx)
{
  char release[128] = "", path[512];
  int loaded, builtin, available, lists, dep, blt, have_phc = ctx->kvm_phc[0] != '\0';
  int modules = DOC_Exists(ctx, "/proc/modules");
  BootScan boot;

  DOC_ReadLine(ctx, "/proc/sys/kernel/osrelease", release, sizeof (release));
  loaded = file_has(ctx, "/proc/modules", "ptp_kvm ") > 0;
  snprintf(path, sizeof (path), "/lib/modules/%s/modules.builtin", release);
  blt = release[0] ? file_has(ctx, path, "") : -1;
  snprintf(path, sizeof (path), "/lib/modules/%s/modules.dep", release);
  dep = release[0] ? file_has(ctx, path, "") : -1;
  builtin = !loaded && (DOC_Exists(ctx, "/sys/module/ptp_kvm") || blt > 0);
  available = dep > 0;
  lists = blt >= 0 || dep >= 0;
  boot_config(ctx, &boot);

  if (loaded || builtin) {
    DOC_AddResult(ctx->report, "kernel.ptp_kvm", DOC_OK, NULL, "ptp_kvm %s kernel %s",
                  loaded ? "module loaded in" : "built into", release);
  } else if (ctx->not_kvm && !have_phc) {
    DOC_AddResult(ctx->report, "kernel.ptp_kvm", DOC_SKIP, NULL,
                  "not loaded, and cannot be here: not a KVM guest, so PTPKVM cannot work; "
                  "chronyd keeps its other sources");
  } else if (available && boot.found[0]) {
    DOC_AddResult(ctx->report, "kernel.ptp_kvm", have_phc ? DOC_WARN : DOC_FAIL,
                  "the host offers no ptp_kvm (modprobe ptp_kvm: 'Operation not supported'; "
                  "journalctl -b -u systemd-modules-load): PTPKVM cannot work on this host; "
                  "chronyd keeps its other sources",
                  "%s should load ptp_kvm at boot, but it is not loaded: the load failed",
                  boot.found);
  } else if (available) {
    DOC_AddResult(ctx->report, "kernel.ptp_kvm", have_phc ? DOC_WARN : DOC_FAIL,
                  "modprobe ptp_kvm (and install chrony-ptpkvm for boot)",
                  "ptp_kvm is available for kernel %s but not loaded", release);
  } else if (lists || !modules) {
    DOC_AddResult(ctx->report, "kernel.ptp_kvm", have_phc ? DOC_WARN : DOC_FAIL,
                  "install a kernel with CONFIG_PTP_1588_CLOCK_KVM (modinfo ptp_kvm must "
                  "find it; some distributions ship it in an extra-modules package)",
                  "kernel %s has no ptp_kvm (not loaded, not built in, %s)",
                  release[0] ? release : "(unknown)",
                  modules ? "not in modules.dep" : "no module support");
  } else {
    DOC_AddResult(ctx->report, "kernel.ptp_kvm", have_phc ? DOC_OK : DOC_SKIP, NULL,
                  have_phc ? "KVM PHC present; module lists unreadable"
                           : "cannot tell: /proc/modules and /lib/modules unreadable");
  }

  if (builtin)
    DOC_AddResult(ctx->report, "kernel.ptp_kvm_boot", DOC_OK, NULL,
                  "built in: present at every boot");
  else if (ctx->not_kvm && boot.found[0] && !boot.unit)
    DOC_AddResult(ctx->report, "kernel.ptp_kvm_boot", DOC_WARN,
                  "remove that entry: chrony-ptpkvm's own unit loads ptp_kvm only under KVM",
                  "%s makes systemd-modules-load.service fail at every boot here (not a KVM "
                  "guest)", boot.found);
  else if (ctx->not_kvm && !loaded)
    DOC_AddResult(ctx->report, "kernel.ptp_kvm_boot", DOC_SKIP, NULL,
                  "not a KVM guest: nothing to load at boot");
  else if (loaded && boot.found[0])
    DOC_AddResult(ctx->report, "kernel.ptp_kvm_boot", DOC_OK, NULL,
                  "loaded, and loaded at boot by %s", boot.found);
  else if (boot.found[0])
    DOC_AddResult(ctx->report, "kernel.ptp_kvm_boot", DOC_SKIP, NULL,
                  "%s loads ptp_kvm at boot, but it is not loaded now (see kernel.ptp_kvm)",
                  boot.found);
  else if (loaded || (available && !ctx->not_kvm))
    DOC_AddResult(ctx->report, "kernel.ptp_kvm_boot", DOC_WARN,
                  "install chrony-ptpkvm (its unit loads ptp_kvm at boot under KVM), or echo "
                  "ptp_kvm > /etc/modules-load.d/ptp_kvm.conf",
                  "nothing loads ptp_kvm at boot: it will be missing after reboot");
  else
    DOC_AddResult(ctx->report, "kernel.ptp_kvm_boot", DOC_SKIP, NULL,
                  "no loadable ptp_kvm module to configure");
}
