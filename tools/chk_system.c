/*
  chrony-ptpkvm - ptpkvm-doctor

  SPDX-License-Identifier: GPL-2.0-only
  Copyright (C) 2026 The chrony-ptpkvm authors

  This program is free software; you can redistribute it and/or modify
  it under the terms of version 2 of the GNU General Public License as
  published by the Free Software Foundation.

  =======================================================================

  Checks of the running guest: "kvm.guest" (CPUID: a KVM signature among
  the hypervisor leaves); through phc_reader's public calls "phc.devices"
  (the KVM PHC among all PHCs, the /dev/ptp_kvm link of the udev rule,
  which also gives chrony's group read access) and "phc.read" (which
  reading mode works, what the better ones answered, and the offset PHC -
  CLOCK_REALTIME and delay over N reads); "kernel.ptp_kvm" (is the driver
  loaded or built in, and if not, why), "kernel.ptp_kvm_boot" (what loads
  it at boot: a modules-load.d entry, or chrony-ptpkvm's drop-in of
  chrony's unit pulling in modprobe@ptp_kvm.service; read from the files,
  so also under --root), and "clocksource.current".  What happened is judged from the
  running kernel, never from the presence of a file: an entry on a guest
  where the module is not loaded means the load failed, and a
  modules-load.d entry on a machine without KVM fails
  systemd-modules-load.service at every boot.
  */

#include <errno.h>
#include <glob.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define HAVE_CPUID 1
#endif

#include "doctor.h"

#define KVM_SIGNATURE "KVMKVMKVM"
#define CS_DIR "/sys/devices/system/clocksource/clocksource0"
#define BIG_FILE (1 << 20)
#define MAX_READS 1000

/* ================================================== */

void
DOC_CheckKvm(DOC_Context *ctx)
{
#ifdef HAVE_CPUID
  unsigned int eax, ebx, ecx = 0, edx, base, sig[3];
  char list[256] = "";
  int kvm = 0;

  ctx->not_kvm = 1;
  __get_cpuid(1, &eax, &ebx, &ecx, &edx);
  /* KVM may sit behind another hypervisor's leaves (Hyper-V enlightenments) */
  for (base = 0x40000000; ecx & (1U << 31) && base < 0x40010000; base += 0x100) {
    __cpuid(base, eax, sig[0], sig[1], sig[2]);
    if (eax < base || eax > base + 0xff)
      continue;
    snprintf(list + strlen(list), sizeof (list) - strlen(list), "%s0x%08x '%.12s'",
             list[0] ? ", " : "", base, (char *)sig);
    kvm |= !memcmp(sig, KVM_SIGNATURE, strlen(KVM_SIGNATURE));
  }
  if (!kvm) {
    DOC_AddResult(ctx, "kvm.guest", DOC_FAIL,
                  "none: PTPKVM cannot work here (ptp_kvm exists only in KVM guests); chronyd "
                  "keeps its other sources; another hypervisor's clock (ptp_hyperv, ptp_vmw) "
                  "may serve", "no KVM signature in CPUID (%s)", ecx & (1U << 31) ?
                  list : "hypervisor bit clear: not a virtual machine");
    return;
  }
  ctx->not_kvm = 0;
  DOC_AddResult(ctx, "kvm.guest", DOC_OK, NULL,
                "KVM guest (CPUID hypervisor bit, signature at %s)", list);
#else
  DOC_AddResult(ctx, "kvm.guest", DOC_SKIP, NULL, "no CPUID on this architecture");
#endif
}

/* ================================================== */
/* Does a modules.* list of the kernel name ptp_kvm.ko (in any directory,
   with any compression)?  */

static int
lists_ptp_kvm(DOC_Context *ctx, const char *path)
{
  static char buf[BIG_FILE];
  char *p;

  for (p = DOC_ReadFile(ctx, path, buf, sizeof (buf)) < 0 ? NULL : buf;
       p && (p = strstr(p, "ptp_kvm.ko")) != NULL; p++) {
    if (p == buf || p[-1] == '/' || p[-1] == '\n')
      return 1;
  }
  return 0;
}

/* ================================================== */
/* What loads ptp_kvm at boot: a modules-load.d entry (or /etc/modules), or
   a drop-in of chrony's unit that pulls in modprobe@ptp_kvm.service (with
   ConditionVirtualization=kvm in that unit's drop-in) */

enum { ENTRY, PULL, COND, N_KINDS };

typedef struct {
  char found[N_KINDS][256];     /* the first file with each kind of line */
} BootScan;

static int
kind_of(const char *line)
{
  if (!strcmp(line, "ptp_kvm") || !strcmp(line, "ptp-kvm"))
    return ENTRY;
  if ((!strncmp(line, "Wants=", 6) || !strncmp(line, "Requires=", 9)) &&
      strstr(line, "modprobe@ptp_kvm.service"))
    return PULL;
  return !strcmp(line, "ConditionVirtualization=kvm") ? COND : N_KINDS;
}

static void
scan_file(DOC_Context *ctx, BootScan *s, const char *path)
{
  char buf[8192], *line, *save = NULL;
  int k;

  if (DOC_ReadFile(ctx, path, buf, sizeof (buf)) < 0)
    return;
  for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    if ((k = kind_of(DOC_Trim(line))) < N_KINDS && !s->found[k][0])
      snprintf(s->found[k], sizeof (s->found[k]), "%s", path);
  }
}

static void
boot_config(DOC_Context *ctx, BootScan *s, char *by, size_t len)
{
  static const char *dirs[] = { "/etc", "/run", "/usr/local/lib", "/usr/lib", "/lib" };
  static const char *sub[] = { "modules-load.d", "systemd/system/chrony.service.d",
                               "systemd/system/modprobe@ptp_kvm.service.d",
                               "systemd/system/chronyd.service.d" };
  char pattern[4400];
  unsigned int i, k;
  size_t j;
  glob_t g;

  memset(s, 0, sizeof (*s));
  for (k = 0; k < sizeof (sub) / sizeof (sub[0]); k++) {
    for (i = 0; i < sizeof (dirs) / sizeof (dirs[0]); i++) {
      snprintf(pattern, sizeof (pattern), "%s%s/%s/*.conf", ctx->root, dirs[i], sub[k]);
      if (glob(pattern, 0, NULL, &g))
        continue;
      for (j = 0; j < g.gl_pathc; j++)
        scan_file(ctx, s, g.gl_pathv[j] + strlen(ctx->root));
      globfree(&g);
    }
  }
  if (!s->found[ENTRY][0])
    scan_file(ctx, s, "/etc/modules");
  if (s->found[ENTRY][0])
    snprintf(by, len, "%s", s->found[ENTRY]);
  else if (s->found[PULL][0])
    snprintf(by, len, "modprobe@ptp_kvm.service (pulled in by %s%s)", s->found[PULL],
             s->found[COND][0] ? ", only under KVM" : "");
  else
    by[0] = '\0';
}

/* ================================================== */

static void
check_boot(DOC_Context *ctx, const BootScan *boot, const char *by, int loaded, int builtin,
           int available)
{
  const char *id = "kernel.ptp_kvm_boot";

  if (builtin)
    DOC_AddResult(ctx, id, DOC_OK, NULL, "built in: present at every boot");
  else if (ctx->not_kvm && boot->found[ENTRY][0])
    DOC_AddResult(ctx, id, DOC_WARN,
                  "remove that entry: chrony-ptpkvm loads ptp_kvm through "
                  "modprobe@ptp_kvm.service, only under KVM",
                  "%s makes systemd-modules-load.service fail at every boot here (not a KVM "
                  "guest)", boot->found[ENTRY]);
  else if (ctx->not_kvm && !loaded)
    DOC_AddResult(ctx, id, DOC_SKIP, NULL,
                  "not a KVM guest: nothing to load at boot%s%s", by[0] ? "; skipped: " : "", by);
  else if ((loaded || ctx->root[0]) && by[0])
    DOC_AddResult(ctx, id, DOC_OK, NULL, "loaded at boot by %s", by);
  else if (by[0])
    DOC_AddResult(ctx, id, DOC_SKIP, NULL,
                  "%s loads ptp_kvm at boot, but it is not loaded now (see kernel.ptp_kvm)", by);
  else if (loaded || available || ctx->root[0])
    DOC_AddResult(ctx, id, DOC_WARN,
                  "install chrony-ptpkvm (its chrony drop-in pulls in modprobe@ptp_kvm.service, "
                  "which loads ptp_kvm under KVM)",
                  "nothing loads ptp_kvm at boot: it will be missing after reboot");
  else
    DOC_AddResult(ctx, id, DOC_SKIP, NULL, "no loadable ptp_kvm module to configure");
}

/* ================================================== */

void
DOC_CheckModule(DOC_Context *ctx)
{
  char release[128] = "", path[512], by[600];
  int loaded, builtin, available;
  DOC_Status bad = ctx->kvm_phc[0] ? DOC_WARN : DOC_FAIL;
  BootScan boot;

  boot_config(ctx, &boot, by, sizeof (by));
  if (ctx->root[0]) {
    DOC_AddResult(ctx, "kernel.ptp_kvm", DOC_SKIP, NULL, DOC_ROOT_SKIP);
    check_boot(ctx, &boot, by, 0, 0, 0);
    return;
  }
  DOC_ReadLine(ctx, "/proc/sys/kernel/osrelease", release, sizeof (release));
  /* as kmod tells them apart: initstate exists for a loaded module only */
  loaded = DOC_Exists(ctx, "/sys/module/ptp_kvm/initstate");
  snprintf(path, sizeof (path), "/lib/modules/%s/modules.builtin", release);
  builtin = !loaded && (DOC_Exists(ctx, "/sys/module/ptp_kvm") || lists_ptp_kvm(ctx, path));
  snprintf(path, sizeof (path), "/lib/modules/%s/modules.dep", release);
  available = lists_ptp_kvm(ctx, path);

  if (loaded || builtin || ctx->kvm_phc[0]) {
    DOC_AddResult(ctx, "kernel.ptp_kvm", DOC_OK, NULL, "ptp_kvm %s kernel %s",
                  loaded ? "module loaded in" : builtin ? "built into" : "present in", release);
  } else if (ctx->not_kvm) {
    DOC_AddResult(ctx, "kernel.ptp_kvm", DOC_SKIP, NULL,
                  "not loaded, and cannot be here: not a KVM guest, so PTPKVM cannot work; "
                  "chronyd keeps its other sources");
  } else if (available && by[0]) {
    DOC_AddResult(ctx, "kernel.ptp_kvm", bad, "the host offers no ptp_kvm (modprobe "
                  "ptp_kvm: 'Operation not supported'; see the boot's journal): PTPKVM cannot "
                  "work on this host; chronyd keeps its other sources",
                  "%s should load ptp_kvm at boot, but it is not loaded: the load failed", by);
  } else if (available) {
    DOC_AddResult(ctx, "kernel.ptp_kvm", bad,
                  "modprobe ptp_kvm (and install chrony-ptpkvm for boot)",
                  "ptp_kvm is available for kernel %s but not loaded", release);
  } else {
    DOC_AddResult(ctx, "kernel.ptp_kvm", bad,
                  "install a kernel with CONFIG_PTP_1588_CLOCK_KVM (modinfo ptp_kvm must "
                  "find it; some distributions ship it in an extra-modules package)",
                  "kernel %s has no ptp_kvm (not loaded, not built in, not in modules.dep)",
                  release);
  }
  check_boot(ctx, &boot, by, loaded, builtin, available && !ctx->not_kvm);
}

/* ================================================== */
/* Which clocksource the kernel uses (PRECISE reads of ptp_kvm work only on
   kvm-clock, phc.read says which mode does); tsc needs an invariant TSC */

void
DOC_CheckClocksource(DOC_Context *ctx)
{
  static char info[BIG_FILE];
  char cur[64], avail[256], lacks[64] = "", *flags;

  if (DOC_ReadLine(ctx, CS_DIR "/current_clocksource", cur, sizeof (cur)) < 0) {
    DOC_AddResult(ctx, "clocksource.current", DOC_SKIP, NULL,
                  "cannot read " CS_DIR "/current_clocksource");
    return;
  }
  DOC_ReadLine(ctx, CS_DIR "/available_clocksource", avail, sizeof (avail));
  if (!strcmp(cur, "tsc") && DOC_ReadFile(ctx, "/proc/cpuinfo", info, sizeof (info)) >= 0 &&
      (flags = strstr(info, "\nflags")) && (flags = strchr(flags, ':'))) {
    flags[strcspn(flags, "\n")] = '\0';
    snprintf(lacks, sizeof (lacks), "%s%s", strstr(flags, "constant_tsc") ? "" :
             " constant_tsc", strstr(flags, "nonstop_tsc") ? "" : " nonstop_tsc");
  }

  if (lacks[0]) {
    DOC_AddResult(ctx, "clocksource.current", DOC_WARN,
                  "give the guest an invariant TSC (libvirt: <feature policy='require' "
                  "name='invtsc'/>) or switch to kvm-clock",
                  "current tsc, but the vCPU lacks%s: the TSC may drift or stop", lacks);
  } else if (!strcmp(cur, "kvm-clock") || !strcmp(cur, "arch_sys_counter") ||
             !strcmp(cur, "tsc")) {
    DOC_AddResult(ctx, "clocksource.current", DOC_OK, NULL,
                  "current %s (available: %s)", cur, avail);
  } else {
    DOC_AddResult(ctx, "clocksource.current",
                  strstr(cur, "jiffies") ? DOC_FAIL : DOC_WARN,
                  strstr(avail, "kvm-clock")
                    ? "echo kvm-clock > " CS_DIR "/current_clocksource (and boot with "
                      "clocksource=kvm-clock)"
                    : "enable kvm-clock in the guest kernel (CONFIG_KVM_GUEST)",
                  "current %s (available: %s): %s", cur, avail, strstr(cur, "jiffies") ?
                  "tick-resolution clock, no usable timekeeping" :
                  "slow clocksource, usually tsc was marked unstable");
  }
}

/* ================================================== */

void
DOC_CheckPhc(DOC_Context *ctx)
{
  PHCR_DeviceInfo phcs[PHCR_MAX_DEVICES];
  char list[1024] = "", link[PHCR_PATH_MAX];
  const char *kvm = ctx->kvm_phc;
  int i, n;
  ssize_t l;

  n = PHCR_ListDevices(phcs, PHCR_MAX_DEVICES);
  n = n < 0 ? 0 : n > PHCR_MAX_DEVICES ? PHCR_MAX_DEVICES : n;
  for (i = 0; i < n; i++) {
    snprintf(list + strlen(list), sizeof (list) - strlen(list), "%s%s '%s'", i ? ", " : "",
             phcs[i].dev_path, phcs[i].clock_name);
    if (!strcmp(phcs[i].clock_name, PHCR_DEFAULT_CLOCK_NAME) && !kvm[0])
      snprintf(ctx->kvm_phc, sizeof (ctx->kvm_phc), "%s", phcs[i].dev_path);
  }

  l = readlink(PHCR_KVM_SYMLINK, link, sizeof (link) - 1);
  link[l > 0 ? l : 0] = '\0';
  if (!kvm[0])
    DOC_AddResult(ctx, "phc.devices", DOC_FAIL,
                  ctx->not_kvm ? "none here: not a KVM guest, so there is no KVM PHC; "
                                     "other PHCs are not the host clock"
                                   : "load ptp_kvm (see kernel.ptp_kvm); other PHCs are not "
                                     "the host clock",
                  "no PHC with clock_name '%s' (PHCs found: %s)", PHCR_DEFAULT_CLOCK_NAME,
                  n ? list : "none");
  else if (l < 0)
    DOC_AddResult(ctx, "phc.devices", DOC_WARN,
                  "install the udev rule (chrony-ptpkvm): it makes the link and gives "
                  "chrony's group read access",
                  "KVM PHC is %s, but " PHCR_KVM_SYMLINK " is %s (PHCs: %s)", kvm,
                  errno == EINVAL ? "not a symlink" : "missing", list);
  else if (strcmp(kvm, link) && strcmp(kvm + 5, link))
    DOC_AddResult(ctx, "phc.devices", DOC_FAIL,
                  "fix the udev rule that creates " PHCR_KVM_SYMLINK " (match ATTR{clock_name}"
                  "==\"KVM virtual PTP\"), then udevadm trigger -s ptp",
                  PHCR_KVM_SYMLINK " points to %s, but the KVM PHC is %s (PHCs: %s)",
                  link, kvm, list);
  else
    DOC_AddResult(ctx, "phc.devices", DOC_OK, NULL,
                  "KVM PHC %s, " PHCR_KVM_SYMLINK " -> %s (PHCs: %s)", kvm, link, list);
}

/* ================================================== */
/* What each reading mode answered in the first read (a failing mode falls
   back within the read, so every mode down to the working one is tried) */

static void
describe_modes(const PHCR_Result *res, int crossts, char *buf, size_t len)
{
  const PHCR_ModeAttempt *a;
  int m;

  snprintf(buf, len, "reading mode %s", PHCR_ModeName(res->mode));
  for (m = PHCR_MODE_PRECISE; m > PHCR_MODE_NONE; m--) {
    a = &res->attempt[m];
    if (m == PHCR_MODE_PRECISE && !crossts)
      snprintf(buf + strlen(buf), len - strlen(buf), "; precise not offered "
               "(cross_timestamping=0)");
    else if (!a->attempts || a->error == PHCR_OK)
      continue;
    else if (m == PHCR_MODE_EXTENDED && a->sys_errno == EOPNOTSUPP)
      snprintf(buf + strlen(buf), len - strlen(buf), "; extended: EOPNOTSUPP, not "
               "implemented by ptp_kvm (normal)");
    else
      snprintf(buf + strlen(buf), len - strlen(buf), "; %s: %s%s%s", PHCR_ModeName(m),
               PHCR_ErrorString(a->error), a->error == PHCR_ERR_OTHER ? ": " : "",
               a->error == PHCR_ERR_OTHER ? strerror(a->sys_errno) : "");
  }
}

static int
compare_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;

  return x < y ? -1 : x > y;
}

/* ================================================== */

void
DOC_CheckPhcRead(DOC_Context *ctx)
{
  static double offsets[MAX_READS], delays[MAX_READS];
  int i, n = ctx->samples > 0 ? ctx->samples : 1, ok = 0, failed = 0;
  char modes[DOC_TEXT_LEN], far[DOC_TEXT_LEN];
  PHCR_Result res, first;
  PHCR_Discovery disc;
  PHCR_Config config;
  PHCR_Reader reader;
  PHCR_Error err, last = PHCR_OK;
  const char *fix = NULL;
  DOC_Status status = DOC_OK;
  double med, med_delay;

  if (!ctx->kvm_phc[0]) {
    DOC_AddResult(ctx, "phc.read", DOC_SKIP, NULL, "no KVM PHC");
    return;
  }
  PHCR_ConfigDefaults(&config);
  config.reprobe_interval = 0.0;
  err = PHCR_Open(ctx->kvm_phc, NULL, &config, &reader, &disc);
  if (err == PHCR_ERR_ACCESS) {
    DOC_AddResult(ctx, "phc.read", DOC_SKIP, NULL,
                  "as uid %ld: %s (run as root or a member of its group)", (long)getuid(),
                  disc.error);
    return;
  } else if (err != PHCR_OK) {
    DOC_AddResult(ctx, "phc.read", DOC_FAIL,
                  err == PHCR_ERR_NOTPHC ? "the device is not a working PHC: check dmesg for "
                  "ptp_kvm errors" : "check that udev created the device node (ls -l "
                  "/dev/ptp*; udevadm trigger -s ptp)", "%s", disc.error);
    return;
  }
  for (i = 0; i < n; i++) {
    if (PHCR_Read(reader, 5, 0.0, &res) == PHCR_OK) {
      offsets[ok] = res.sample.offset;
      delays[ok++] = res.sample.delay;
    } else {
      failed++;
      last = res.error;
    }
    if (i == 0)
      first = res;
  }
  PHCR_Close(reader);
  describe_modes(&first, disc.cross_timestamping, modes, sizeof (modes));

  /* With most reads failing, the few that passed prove nothing (a garbage
     reading can look consistent): report the failures, not their values */
  if (!ok || failed * 2 > n) {
    DOC_AddResult(ctx, "phc.read", DOC_FAIL,
                  last == PHCR_ERR_HOST_NOTSUPP ? "host side: use a TSC clocksource on "
                  "the host (and TSC scaling across migrations); meanwhile use NTP" :
                  "reload ptp_kvm (modprobe -r ptp_kvm; modprobe ptp_kvm) and rerun",
                  "%s: %s %d readings failed (last: %s); %s", ctx->kvm_phc,
                  ok ? "most of" : "all", n, PHCR_ErrorString(last), modes);
    return;
  }
  if (ctx->samples <= 0) {
    DOC_AddResult(ctx, "phc.read", DOC_OK, NULL, "%s: %s (no statistics: --samples 0)",
                  ctx->kvm_phc, modes);
    return;
  }

  qsort(offsets, ok, sizeof (double), compare_double);
  qsort(delays, ok, sizeof (double), compare_double);
  med = offsets[ok / 2];
  med_delay = delays[ok / 2];
  if (fabs(med) > 1.0) {
    status = DOC_FAIL;
    snprintf(far, sizeof (far), "the guest clock is far from the host's: check chronyd "
             "(makestep, refclock) and %s, \"Offsets after pauses\"",
             DOC_DocPath(ctx, "troubleshooting.md"));
    fix = far;
  } else if (fabs(med) > 1e-3) {
    status = DOC_WARN;
    fix = "the guest clock is not synchronised to the KVM PHC: check chronyd's refclock";
  } else if (med_delay > 100e-6) {
    status = DOC_WARN;
    fix = "slow PHC reads: the host is overloaded or the vCPU is preempted often";
  } else if (failed) {
    status = DOC_WARN;
    fix = "intermittent read failures: rerun to see if they persist";
  }
  DOC_AddResult(ctx, "phc.read", status, fix,
                "%s: %s; %d/%d reads; offset PHC-REALTIME min/median/max %+.9f/%+.9f/%+.9f "
                "s; delay min/median %.3f/%.3f us", ctx->kvm_phc, modes, ok, n, offsets[0],
                med, offsets[ok - 1], delays[0] * 1e6, med_delay * 1e6);
}
