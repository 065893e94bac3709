/*
  chrony-ptpkvm - ptpkvm-doctor

  SPDX-License-Identifier: GPL-2.0-only
  Copyright (C) 2026 The chrony-ptpkvm authors

  This program is free software; you can redistribute it and/or modify
  it under the terms of version 2 of the GNU General Public License as
  published by the Free Software Foundation.

  =======================================================================

  Checks "kernel.ptp_kvm" and "kernel.ptp_kvm_boot": is the ptp_kvm
  driver loaded, built in, or at least available as a module for the
  running kernel, and will it be loaded at the next boot?  ptp_kvm has
  no device alias, so nothing loads it automatically: a guest that
  worked after a manual modprobe loses its PHC at the next reboot unless
  a modules-load.d entry names it.
  */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doctor.h"

#define BIG_FILE (1 << 20)

typedef enum {
  MOD_UNKNOWN,
  MOD_LOADED,
  MOD_BUILTIN,
  MOD_AVAILABLE,
  MOD_MISSING
} ModState;

/* ================================================== */

static int
file_has_line_start(DOC_Context *ctx, const char *path, const char *prefix, int *readable)
{
  static char buf[BIG_FILE];
  char *p;
  size_t pl = strlen(prefix);

  *readable = DOC_ReadFile(ctx, path, buf, sizeof (buf)) >= 0;
  if (!*readable)
    return 0;
  for (p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
    if (!strncmp(p, prefix, pl))
      return 1;
  }
  return 0;
}

/* ================================================== */
/* Does a modules.* list name ptp_kvm.ko (any directory, any compression)? */

static int
list_has_ptp_kvm(DOC_Context *ctx, const char *path, int *readable)
{
  static char buf[BIG_FILE];
  char *p;

  *readable = DOC_ReadFile(ctx, path, buf, sizeof (buf)) >= 0;
  if (!*readable)
    return 0;
  for (p = buf; (p = strstr(p, "ptp_kvm.ko")) != NULL; p++) {
    if (p == buf || p[-1] == '/' || p[-1] == '\n')
      return 1;
  }
  return 0;
}

/* ================================================== */

typedef struct {
  DOC_Context *ctx;
  const char *dir;
  char found[256];
} BootScan;

static int
scan_conf(const char *name, void *arg)
{
  BootScan *s = arg;
  char path[512], buf[8192], *line, *save = NULL;
  size_t nl = strlen(name);

  if (s->found[0] || nl < 6 || strcmp(name + nl - 5, ".conf"))
    return 0;
  snprintf(path, sizeof (path), "%s/%s", s->dir, name);
  if (DOC_ReadFile(s->ctx, path, buf, sizeof (buf)) < 0)
    return 0;
  for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    DOC_Trim(line);
    if (!strcmp(line, "ptp_kvm") || !strcmp(line, "ptp-kvm")) {
      snprintf(s->found, sizeof (s->found), "%s", path);
      return 0;
    }
  }
  return 0;
}

static int
boot_config(DOC_Context *ctx, char *where, size_t len)
{
  static const char *dirs[] = { "/etc/modules-load.d", "/run/modules-load.d",
                                "/usr/local/lib/modules-load.d", "/usr/lib/modules-load.d",
                                "/lib/modules-load.d" };
  BootScan s;
  unsigned int i;
  int readable;

  memset(&s, 0, sizeof (s));
  s.ctx = ctx;
  for (i = 0; i < sizeof (dirs) / sizeof (dirs[0]) && !s.found[0]; i++) {
    s.dir = dirs[i];
    DOC_ListDir(ctx, dirs[i], scan_conf, &s);
  }
  if (!s.found[0] && file_has_line_start(ctx, "/etc/modules", "ptp_kvm", &readable))
    snprintf(s.found, sizeof (s.found), "/etc/modules");
  snprintf(where, len, "%s", s.found);
  return s.found[0] != '\0';
}

/* ================================================== */

void
DOC_CheckModule(DOC_Context *ctx)
{
  char release[128], path[512], where[256];
  int readable_mods, readable_builtin, readable_dep, loaded, builtin = 0, available = 0;
  int have_phc = ctx->kvm_phc[0] != '\0';
  ModState state;

  if (DOC_ReadLine(ctx, "/proc/sys/kernel/osrelease", release, sizeof (release)) < 0)
    release[0] = '\0';

  loaded = file_has_line_start(ctx, "/proc/modules", "ptp_kvm ", &readable_mods);
  if (!loaded && DOC_Exists(ctx, "/sys/module/ptp_kvm"))
    builtin = 1;
  if (release[0]) {
    snprintf(path, sizeof (path), "/lib/modules/%s/modules.builtin", release);
    if (list_has_ptp_kvm(ctx, path, &readable_builtin))
      builtin = 1;
    snprintf(path, sizeof (path), "/lib/modules/%s/modules.dep", release);
    available = list_has_ptp_kvm(ctx, path, &readable_dep);
  } else {
    readable_builtin = readable_dep = 0;
  }

  if (loaded)
    state = MOD_LOADED;
  else if (builtin)
    state = MOD_BUILTIN;
  else if (available)
    state = MOD_AVAILABLE;
  else if (readable_dep || readable_builtin || !DOC_Exists(ctx, "/proc/modules"))
    state = MOD_MISSING;
  else
    state = MOD_UNKNOWN;

  switch (state) {
    case MOD_LOADED:
      DOC_AddResult(ctx->report, "kernel.ptp_kvm", DOC_OK, NULL,
                    "ptp_kvm module loaded (kernel %s)", release);
      break;
    case MOD_BUILTIN:
      DOC_AddResult(ctx->report, "kernel.ptp_kvm", DOC_OK, NULL,
                    "ptp_kvm built into kernel %s", release);
      break;
    case MOD_AVAILABLE:
      DOC_AddResult(ctx->report, "kernel.ptp_kvm", have_phc ? DOC_WARN : DOC_FAIL,
                    "modprobe ptp_kvm (and install modules-load.d/ptp_kvm.conf for boot)",
                    "ptp_kvm is available for kernel %s but not loaded", release);
      break;
    case MOD_MISSING:
      DOC_AddResult(ctx->report, "kernel.ptp_kvm", have_phc ? DOC_WARN : DOC_FAIL,
                    "install a kernel with CONFIG_PTP_1588_CLOCK_KVM (modinfo ptp_kvm must "
                    "find it; some distributions ship it in an extra-modules package)",
                    "kernel %s has no ptp_kvm (not loaded, not built in, %s)",
                    release[0] ? release : "(unknown)",
                    DOC_Exists(ctx, "/proc/modules") ? "not in modules.dep"
                                                     : "no module support");
      break;
    default:
      DOC_AddResult(ctx->report, "kernel.ptp_kvm", have_phc ? DOC_OK : DOC_SKIP, NULL,
                    have_phc ? "KVM PHC present; module lists unreadable"
                             : "cannot tell: /proc/modules and /lib/modules unreadable");
      break;
  }

  if (state == MOD_BUILTIN) {
    DOC_AddResult(ctx->report, "kernel.ptp_kvm_boot", DOC_OK, NULL,
                  "built in: present at every boot");
  } else if (boot_config(ctx, where, sizeof (where))) {
    DOC_AddResult(ctx->report, "kernel.ptp_kvm_boot", DOC_OK, NULL,
                  "loaded at boot by %s", where);
  } else if (state == MOD_LOADED || state == MOD_AVAILABLE) {
    DOC_AddResult(ctx->report, "kernel.ptp_kvm_boot", DOC_WARN,
                  "echo ptp_kvm > /etc/modules-load.d/ptp_kvm.conf (make install-guest does this)",
                  "no modules-load.d entry for ptp_kvm: it will be missing after reboot");
  } else {
    DOC_AddResult(ctx->report, "kernel.ptp_kvm_boot", DOC_SKIP, NULL,
                  "no loadable ptp_kvm module to configure");
  }
}
