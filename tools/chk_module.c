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
  no device alias, so only a modules-load.d entry (or /etc/modules), a
  unit that runs modprobe, or chrony-ptpkvm's drop-in of chrony's unit
  (which pulls in modprobe@ptp_kvm.service) loads it.  What happened is
  judged from the running kernel (and, for modprobe@ptp_kvm.service, from
  systemd), never from the presence of such a file: an entry on a
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
/* What loads ptp_kvm at boot: a modules-load.d entry (*.conf), a unit
   (*.service) that runs modprobe on it, or a drop-in of chrony's unit that
   pulls in systemd's modprobe@ptp_kvm.service (ConditionVirtualization=kvm
   in that unit's drop-in) */

enum { ENTRY, UNIT, PULL, COND, N_KINDS };

typedef struct {
  DOC_Context *ctx;
  const char *dir;
  int kind;
  char found[N_KINDS][256];
} BootScan;

static int
matches(int kind, const char *line)
{
  switch (kind) {
    case ENTRY: return !strcmp(line, "ptp_kvm") || !strcmp(line, "ptp-kvm");
    case UNIT: return strstr(line, "modprobe") && strstr(line, "ptp_kvm") && !strstr(line, "@");
    case PULL: return (!strncmp(line, "Wants=", 6) || !strncmp(line, "Requires=", 9)) &&
                      strstr(line, "modprobe@ptp_kvm.service");
    default: return !strcmp(line, "ConditionVirtualization=kvm");
  }
}

static int
scan_file(const char *name, void *arg)
{
  BootScan *s = arg;
  char path[512], buf[8192], *line, *save = NULL;
  const char *suffix = s->kind == UNIT ? ".service" : ".conf";
  size_t nl = strlen(name), sl = strlen(suffix);

  if (s->found[s->kind][0] || nl <= sl || strcmp(name + nl - sl, suffix))
    return 0;
  snprintf(path, sizeof (path), "%s/%s", s->dir, name);
  if (DOC_ReadFile(s->ctx, path, buf, sizeof (buf)) < 0)
    return 0;
  for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    if (matches(s->kind, DOC_Trim(line)))
      snprintf(s->found[s->kind], sizeof (s->found[0]), "%s", path);
  }
  return 0;
}

static void
boot_config(DOC_Context *ctx, BootScan *s)
{
  static const char *ml[] = { "/etc/modules-load.d", "/run/modules-load.d",
                              "/usr/local/lib/modules-load.d", "/usr/lib/modules-load.d",
                              "/lib/modules-load.d" };
  static const char *units[] = { "/etc/systemd/system", "/run/systemd/system",
                                 "/usr/local/lib/systemd/system",
                                 "/usr/lib/systemd/system", "/lib/systemd/system" };
  static const char *sub[N_KINDS] = { NULL, "", "/chrony.service.d",
                                      "/modprobe@ptp_kvm.service.d" };
  char dir[256];
  unsigned int i;

  memset(s, 0, sizeof (*s));
  s->ctx = ctx;
  for (i = 0; i < sizeof (ml) / sizeof (ml[0]); i++) {
    s->dir = ml[i];
    DOC_ListDir(ctx, ml[i], scan_file, s);
  }
  if (!s->found[ENTRY][0] && file_has(ctx, "/etc/modules", "ptp_kvm") > 0)
    snprintf(s->found[ENTRY], sizeof (s->found[0]), "/etc/modules");
  for (s->kind = UNIT; s->kind < N_KINDS; s->kind++) {
    for (i = 0; i < sizeof (units) / sizeof (units[0]); i++) {
      snprintf(dir, sizeof (dir), "%s%s", units[i], sub[s->kind]);
      s->dir = dir;
      DOC_ListDir(ctx, dir, scan_file, s);
      if (s->kind == PULL && !s->found[PULL][0]) {
        snprintf(dir, sizeof (dir), "%s/chronyd.service.d", units[i]);
        DOC_ListDir(ctx, dir, scan_file, s);
      }
    }
  }
}

/* What systemd says about modprobe@ptp_kvm.service in this boot (running
   system only): "condition failed", "ran", "not run" or "" if unknown */

static const char *
unit_outcome(DOC_Context *ctx)
{
  char *argv[] = { "systemctl", "show", "-p", "ConditionResult", "-p",
                   "ConditionTimestampMonotonic", "modprobe@ptp_kvm.service", NULL };
  char out[512];
  int status = 1;

  if (ctx->fixture || DOC_RunCommand(argv, out, sizeof (out), ctx->timeout, &status) < 0 ||
      status)
    return "";
  if (strstr(out, "ConditionTimestampMonotonic=0\n") ||
      !strstr(out, "ConditionTimestampMonotonic="))
    return "not run";
  return strstr(out, "ConditionResult=yes") ? "ran" : "condition failed";
}

/* ================================================== */

void
DOC_CheckModule(DOC_Context *ctx)
{
  char release[128] = "", path[512], by[600] = "";
  int loaded, builtin, available, lists, dep, blt, have_phc = ctx->kvm_phc[0] != '\0';
  int modules = DOC_Exists(ctx, "/proc/modules");
  const char *outcome = "", *journal = "systemd-modules-load";
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
  if (boot.found[ENTRY][0] || boot.found[UNIT][0]) {
    snprintf(by, sizeof (by), "%s", boot.found[ENTRY][0] ? boot.found[ENTRY] : boot.found[UNIT]);
    journal = boot.found[ENTRY][0] ? journal : strrchr(by, '/') + 1;
  } else if (boot.found[PULL][0]) {
    snprintf(by, sizeof (by), "modprobe@ptp_kvm.service (pulled in by %s%s)", boot.found[PULL],
             boot.found[COND][0] ? ", only under KVM" : "");
    journal = "modprobe@ptp_kvm";
    outcome = loaded || builtin ? "" : unit_outcome(ctx);
  }

  if (loaded || builtin) {
    DOC_AddResult(ctx->report, "kernel.ptp_kvm", DOC_OK, NULL, "ptp_kvm %s kernel %s",
                  loaded ? "module loaded in" : "built into", release);
  } else if (ctx->not_kvm && !have_phc) {
    DOC_AddResult(ctx->report, "kernel.ptp_kvm", DOC_SKIP, NULL,
                  "not loaded, and cannot be here: not a KVM guest, so PTPKVM cannot work; "
                  "chronyd keeps its other sources");
  } else if (available && outcome[0] && strcmp(outcome, "ran")) {
    DOC_AddResult(ctx->report, "kernel.ptp_kvm", have_phc ? DOC_WARN : DOC_FAIL,
                  strcmp(outcome, "not run") ? "modprobe ptp_kvm; if that works, drop the "
                  "condition (systemctl edit modprobe@ptp_kvm.service)"
                  : "systemctl restart chrony (its start loads ptp_kvm)",
                  "ptp_kvm is not loaded: %s %s", by, strcmp(outcome, "not run") ?
                  "was skipped (systemd sees no KVM: ConditionVirtualization=kvm)" :
                  "has not run in this boot");
  } else if (available && by[0]) {
    snprintf(path, sizeof (path), "the host offers no ptp_kvm (modprobe ptp_kvm: 'Operation not "
             "supported'; journalctl -b -u %s): PTPKVM cannot work on this host; chronyd keeps "
             "its other sources", journal);
    DOC_AddResult(ctx->report, "kernel.ptp_kvm", have_phc ? DOC_WARN : DOC_FAIL, path,
                  "%s should load ptp_kvm at boot, but it is not loaded: the load failed", by);
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
  else if (ctx->not_kvm && boot.found[ENTRY][0])
    DOC_AddResult(ctx->report, "kernel.ptp_kvm_boot", DOC_WARN,
                  "remove that entry: chrony-ptpkvm loads ptp_kvm through "
                  "modprobe@ptp_kvm.service, only under KVM",
                  "%s makes systemd-modules-load.service fail at every boot here (not a KVM "
                  "guest)", boot.found[ENTRY]);
  else if (ctx->not_kvm && !loaded)
    DOC_AddResult(ctx->report, "kernel.ptp_kvm_boot", DOC_SKIP, NULL,
                  "not a KVM guest: nothing to load at boot%s%s", by[0] ? "; skipped: " : "", by);
  else if (loaded && by[0])
    DOC_AddResult(ctx->report, "kernel.ptp_kvm_boot", DOC_OK, NULL,
                  "loaded, and loaded at boot by %s", by);
  else if (by[0])
    DOC_AddResult(ctx->report, "kernel.ptp_kvm_boot", DOC_SKIP, NULL,
                  "%s loads ptp_kvm at boot, but it is not loaded now (see kernel.ptp_kvm)", by);
  else if (loaded || (available && !ctx->not_kvm))
    DOC_AddResult(ctx->report, "kernel.ptp_kvm_boot", DOC_WARN,
                  "install chrony-ptpkvm (its chrony drop-in pulls in modprobe@ptp_kvm.service, "
                  "which loads ptp_kvm under KVM)",
                  "nothing loads ptp_kvm at boot: it will be missing after reboot");
  else
    DOC_AddResult(ctx->report, "kernel.ptp_kvm_boot", DOC_SKIP, NULL,
                  "no loadable ptp_kvm module to configure");
}
