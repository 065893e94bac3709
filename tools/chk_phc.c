/*
  chrony-ptpkvm - ptpkvm-doctor

  SPDX-License-Identifier: GPL-2.0-only
  Copyright (C) 2026 The chrony-ptpkvm authors

  This program is free software; you can redistribute it and/or modify
  it under the terms of version 2 of the GNU General Public License as
  published by the Free Software Foundation.

  =======================================================================

  PHC checks of the running guest, through phc_reader's public calls:
  "phc.devices" (the KVM PHC among all PHCs, the /dev/ptp_kvm link of the
  udev rule, which also gives chrony's group read access) and "phc.read"
  (which reading mode works, what the better ones answered, and the
  offset PHC - CLOCK_REALTIME and delay over N reads).
  */

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "doctor.h"

#define MAX_READS 1000

/* ================================================== */

void
DOC_CheckPhc(DOC_Context *ctx)
{
  PHCR_DeviceInfo phcs[PHCR_MAX_DEVICES];
  char list[1024] = "", link[PHCR_PATH_MAX], note[256] = "";
  const char *kvm = ctx->kvm_phc;
  int i, n;
  ssize_t l;

  if (ctx->root[0]) {
    DOC_AddResult(ctx->report, "phc.devices", DOC_SKIP, NULL, DOC_ROOT_SKIP);
    return;
  }
  n = PHCR_ListDevices(NULL, phcs, PHCR_MAX_DEVICES, NULL);
  n = n < 0 ? 0 : n > PHCR_MAX_DEVICES ? PHCR_MAX_DEVICES : n;
  for (i = 0; i < n; i++) {
    snprintf(list + strlen(list), sizeof (list) - strlen(list), "%s%s '%s'", i ? ", " : "",
             phcs[i].dev_path, phcs[i].clock_name);
    if (strcmp(phcs[i].clock_name, PHCR_DEFAULT_CLOCK_NAME)) {
      if (!strcmp(phcs[i].dev_path, "/dev/ptp0"))
        snprintf(note, sizeof (note), "; note: /dev/ptp0 is '%s', not the KVM clock",
                 phcs[i].clock_name);
    } else if (!kvm[0]) {
      snprintf(ctx->kvm_phc, sizeof (ctx->kvm_phc), "%s", phcs[i].dev_path);
    }
  }

  l = readlink(PHCR_KVM_SYMLINK, link, sizeof (link) - 1);
  link[l > 0 ? l : 0] = '\0';
  if (!kvm[0])
    DOC_AddResult(ctx->report, "phc.devices", DOC_FAIL,
                      ctx->not_kvm ? "none here: not a KVM guest, so there is no KVM PHC; "
                                     "other PHCs are not the host clock"
                                   : "load ptp_kvm (see kernel.ptp_kvm); other PHCs are not "
                                     "the host clock",
                      "no PHC with clock_name '%s' (PHCs found: %s)", PHCR_DEFAULT_CLOCK_NAME,
                      n ? list : "none");
  else if (l < 0)
    DOC_AddResult(ctx->report, "phc.devices", DOC_WARN,
                      "install the udev rule (chrony-ptpkvm): it makes the link and gives chrony's group read "
                      "access",
                      "KVM PHC is %s, but " PHCR_KVM_SYMLINK " is %s (PHCs: %s)%s", kvm,
                      errno == EINVAL ? "not a symlink" : "missing", list, note);
  else if (strcmp(kvm, link) && strcmp(kvm + 5, link))
    DOC_AddResult(ctx->report, "phc.devices", DOC_FAIL,
                      "fix the udev rule that creates " PHCR_KVM_SYMLINK " (match ATTR{clock_name}"
                      "==\"KVM virtual PTP\"), then udevadm trigger -s ptp",
                      PHCR_KVM_SYMLINK " points to %s, but the KVM PHC is %s (PHCs: %s)",
                      link, kvm, list);
  else
    DOC_AddResult(ctx->report, "phc.devices", DOC_OK, NULL,
                      "KVM PHC %s, " PHCR_KVM_SYMLINK " -> %s (PHCs: %s)%s", kvm, link, list,
                      note);
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

  if (ctx->root[0] || !ctx->kvm_phc[0]) {
    DOC_AddResult(ctx->report, "phc.read", DOC_SKIP, NULL, "%s",
                  ctx->root[0] ? DOC_ROOT_SKIP : "no KVM PHC");
    return;
  }
  PHCR_ConfigDefaults(&config);
  config.reprobe_interval = 0.0;
  err = PHCR_Open(NULL, ctx->kvm_phc, NULL, &config, &reader, &disc);
  if (err == PHCR_ERR_ACCESS) {
    DOC_AddResult(ctx->report, "phc.read", DOC_SKIP, NULL,
                  "as uid %ld: %s (run as root or a member of its group)", (long)getuid(),
                  disc.error);
    return;
  } else if (err != PHCR_OK) {
    DOC_AddResult(ctx->report, "phc.read", DOC_FAIL,
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
    DOC_AddResult(ctx->report, "phc.read", DOC_FAIL,
                      last == PHCR_ERR_HOST_NOTSUPP ? "host side: use a TSC clocksource on "
                      "the host (and TSC scaling across migrations); meanwhile use NTP" :
                      "reload ptp_kvm (modprobe -r ptp_kvm; modprobe ptp_kvm) and rerun",
                      "%s: %s %d readings failed (last: %s); %s", ctx->kvm_phc,
                      ok ? "most of" : "all", n, PHCR_ErrorName(last), modes);
    return;
  }
  if (ctx->samples <= 0) {
    DOC_AddResult(ctx->report, "phc.read", DOC_OK, NULL, "%s: %s (no statistics: --samples 0)",
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
  DOC_AddResult(ctx->report, "phc.read", status, fix,
                    "%s: %s; %d/%d reads; offset PHC-REALTIME min/median/max %+.9f/%+.9f/%+.9f "
                    "s; delay min/median %.3f/%.3f us", ctx->kvm_phc, modes, ok, n, offsets[0],
                    med, offsets[ok - 1], delays[0] * 1e6, med_delay * 1e6);
}
