/*
  chrony-ptpkvm - ptpkvm-doctor

  SPDX-License-Identifier: GPL-2.0-only
  Copyright (C) 2026 The chrony-ptpkvm authors

  This program is free software; you can redistribute it and/or modify
  it under the terms of version 2 of the GNU General Public License as
  published by the Free Software Foundation.

  =======================================================================

  PHC checks, on phc_reader: "phc.devices" (the KVM PHC among all PHCs,
  the /dev/ptp_kvm symlink), "phc.access" (can chronyd, after dropping
  root, reopen the device?), "phc.ioctls" (which PTP ioctls answer right
  now and what each failure means) and "phc.stats" (delay and offset
  PHC - CLOCK_REALTIME over N readings).  Tests run these checks on the
  fake device backend (tests/unit/fake_phc.h).
  */

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "doctor.h"
#include "phcr.h"

/* ================================================== */

void
DOC_ScanPhcs(DOC_Context *ctx)
{
  int i, n;

  n = PHCR_ListDevices(ctx->phcs, PHCR_MAX_DEVICES);
  ctx->n_phcs = n < 0 ? 0 : (n > PHCR_MAX_DEVICES ? PHCR_MAX_DEVICES : n);
  for (i = 0; i < ctx->n_phcs && !ctx->kvm_phc[0]; i++) {
    if (!strcmp(ctx->phcs[i].clock_name, PHCR_DEFAULT_CLOCK_NAME))
      snprintf(ctx->kvm_phc, sizeof (ctx->kvm_phc), "%s", ctx->phcs[i].dev_path);
  }
}

/* ================================================== */
/* "/dev/ptp0 'name', ..." of the PHCs listed by DOC_ScanPhcs */

static void
list_phcs(const DOC_Context *ctx, char *buf, size_t len)
{
  int i;

  buf[0] = '\0';
  for (i = 0; i < ctx->n_phcs; i++)
    snprintf(buf + strlen(buf), len - strlen(buf), "%s%s '%s'", i ? ", " : "",
             ctx->phcs[i].dev_path, ctx->phcs[i].clock_name[0] ? ctx->phcs[i].clock_name : "?");
}

/* ================================================== */

void
DOC_CheckPhcDevices(DOC_Context *ctx)
{
  char list[1024], link[256], note[512] = "";
  const char *kvm = ctx->kvm_phc;
  DOC_Result *r;
  int i, err;

  list_phcs(ctx, list, sizeof (list));

  if (!kvm[0]) {
    r = DOC_AddResult(ctx->report, "phc.devices", DOC_FAIL,
                      ctx->not_kvm ? "none here: not a KVM guest, so there is no KVM PHC; "
                                     "other PHCs are not the host clock"
                                   : "load ptp_kvm (see kernel.ptp_kvm); other PHCs are not "
                                     "the host clock",
                      "no PHC with clock_name '%s' (PHCs found: %s)", PHCR_DEFAULT_CLOCK_NAME,
                      ctx->n_phcs ? list : "none");
    DOC_AddMetric(r, "phc_count", ctx->n_phcs);
    DOC_AddMetric(r, "phc_kvm_present", 0);
    return;
  }

  for (i = 0; i < ctx->n_phcs; i++) {
    if (!strcmp(ctx->phcs[i].dev_path, "/dev/ptp0") &&
        strcmp(ctx->phcs[i].clock_name, PHCR_DEFAULT_CLOCK_NAME))
      snprintf(note, sizeof (note), "; note: /dev/ptp0 is '%s', not the KVM clock",
               ctx->phcs[i].clock_name);
  }

  err = DOC_ResolveLink(ctx, PHCR_KVM_SYMLINK, link, sizeof (link));
  if (err == -ENOENT || err == -EINVAL) {
    r = DOC_AddResult(ctx->report, "phc.devices", DOC_WARN,
                      "install the udev rule (make install-guest) or use 'refclock PTPKVM auto'",
                      "KVM PHC is %s, but " PHCR_KVM_SYMLINK " is missing%s (PHCs: %s)%s",
                      kvm, err == -EINVAL ? " (not a symlink)" : "", list, note);
  } else if (err < 0) {
    r = DOC_AddResult(ctx->report, "phc.devices", DOC_WARN,
                      "run as root to check " PHCR_KVM_SYMLINK,
                      "KVM PHC is %s; cannot read " PHCR_KVM_SYMLINK ": %s (PHCs: %s)", kvm,
                      strerror(-err), list);
  } else if (strcmp(link, kvm)) {
    r = DOC_AddResult(ctx->report, "phc.devices", DOC_FAIL,
                      "fix the udev rule that creates " PHCR_KVM_SYMLINK " (match ATTR{clock_name}"
                      "==\"KVM virtual PTP\"), then udevadm trigger -s ptp",
                      PHCR_KVM_SYMLINK " points to %s, but the KVM PHC is %s (PHCs: %s)",
                      link, kvm, list);
  } else {
    r = DOC_AddResult(ctx->report, "phc.devices", DOC_OK, NULL,
                      "KVM PHC %s, " PHCR_KVM_SYMLINK " -> %s (PHCs: %s)%s", kvm, link, list,
                      note);
  }
  DOC_AddMetric(r, "phc_count", ctx->n_phcs);
  DOC_AddMetric(r, "phc_kvm_present", 1);
}

/* ================================================== */
/* Users and groups of the inspected tree's /etc, read by glibc's parsers */

static FILE *
open_db(DOC_Context *ctx, const char *file)
{
  char full[4096];
  FILE *f;

  DOC_Path(ctx, file, full, sizeof (full));
  f = fopen(full, "re");
  if (!f)
    DOC_NoteUnreadable(ctx->report, file, errno);
  return f;
}

static int
find_user(DOC_Context *ctx, const char *name, uid_t *uid, gid_t *gid)
{
  FILE *f = open_db(ctx, "/etc/passwd");
  struct passwd *pw;
  int found = 0;

  while (f && !found && (pw = fgetpwent(f)) != NULL) {
    found = !strcmp(pw->pw_name, name);
    *uid = pw->pw_uid;
    *gid = pw->pw_gid;
  }
  if (f)
    fclose(f);
  return found;
}

/* Is the user a member of group gid?  Fills its name (the number if unknown) */
static int
in_group(DOC_Context *ctx, const char *user, gid_t gid, char *name, size_t len)
{
  FILE *f = open_db(ctx, "/etc/group");
  struct group *gr;
  int member = 0;
  char **m;

  snprintf(name, len, "%ld", (long)gid);
  while (f && (gr = fgetgrent(f)) != NULL) {
    if (gr->gr_gid != gid)
      continue;
    snprintf(name, len, "%s", gr->gr_name);
    for (m = gr->gr_mem; user && *m; m++)
      member |= !strcmp(*m, user);
    break;
  }
  if (f)
    fclose(f);
  return member;
}

/* ================================================== */

void
DOC_CheckPhcAccess(DOC_Context *ctx)
{
  static const char *users[] = { "_chrony", "chrony" };
  char path[4096], gname[64];
  const char *user = ctx->chrony_user;
  uid_t uid;
  gid_t gid;
  struct stat st;
  unsigned int i;
  int readable, found, member;
  /* The device chronyd's refclock (re)opens, else the KVM PHC */
  const char *dev = ctx->refclock_dev[0] ? ctx->refclock_dev : ctx->kvm_phc;

  if (!dev[0]) {
    DOC_AddResult(ctx->report, "phc.access", DOC_SKIP, NULL, "no KVM PHC");
    return;
  }
  DOC_Path(ctx, dev, path, sizeof (path));
  if (stat(path, &st) < 0) {
    DOC_AddResult(ctx->report, "phc.access", DOC_SKIP, NULL, "cannot stat %s: %s",
                  dev, strerror(errno));
    return;
  }

  found = user[0] && find_user(ctx, user, &uid, &gid);
  for (i = 0; !ctx->chrony_user[0] && !found && i < sizeof (users) / sizeof (users[0]); i++) {
    user = users[i];
    found = find_user(ctx, user, &uid, &gid);
  }
  if (!found) {
    in_group(ctx, NULL, st.st_gid, gname, sizeof (gname));
    DOC_AddResult(ctx->report, "phc.access", DOC_SKIP, NULL,
                  "%s mode %04o group %s; no chrony user (_chrony/chrony) in /etc/passwd",
                  dev, (unsigned int)(st.st_mode & 07777), gname);
    return;
  }

  member = in_group(ctx, user, st.st_gid, gname, sizeof (gname)) || gid == st.st_gid;
  if (uid == 0 || (st.st_mode & S_IROTH))
    readable = 1;
  else if (uid == st.st_uid)
    readable = !!(st.st_mode & S_IRUSR);
  else
    readable = member && (st.st_mode & S_IRGRP);

  if (readable) {
    DOC_AddResult(ctx->report, "phc.access", DOC_OK, NULL,
                  "chronyd's user %s can reopen %s (mode %04o, group %s)", user,
                  dev, (unsigned int)(st.st_mode & 07777), gname);
  } else {
    DOC_AddResult(ctx->report, "phc.access", DOC_WARN,
                  "install the udev rule (make install-guest) giving the chrony group read "
                  "access, then udevadm trigger -s ptp",
                  "chronyd's user %s cannot open %s (mode %04o, group %s): after dropping "
                  "root it cannot reopen the device", user, dev,
                  (unsigned int)(st.st_mode & 07777), gname);
  }
}

/* ================================================== */
/* Which reading modes answer right now, by phc_reader: readers that may use
   all modes, then none better than EXTENDED, then basic only, one reading
   each, until every mode was tried (a failing mode falls back within a read) */

typedef struct {
  int tried;
  PHCR_Error error;
  int sys_errno;
} Probe;

static PHCR_Error
probe_modes(DOC_Context *ctx, Probe *probes, PHCR_Discovery *disc)
{
  static const unsigned int flags[] = {
    0, PHCR_FLAG_NOCROSSTS, PHCR_FLAG_NOCROSSTS | PHCR_FLAG_NOEXTENDED
  };
  PHCR_Config config;
  PHCR_Reader reader;
  PHCR_Result res;
  PHCR_Error err;
  unsigned int i;
  int m;

  PHCR_ConfigDefaults(&config);
  config.reprobe_interval = 0.0;
  for (i = 0; i < sizeof (flags) / sizeof (flags[0]); i++) {
    if (probes[PHCR_MODE_BASIC].tried)
      break;
    config.flags = flags[i];
    err = PHCR_Open(ctx->kvm_phc, NULL, &config, &reader, disc);
    if (err != PHCR_OK)
      return err;
    PHCR_Read(reader, 1, 0.0, &res);
    PHCR_Close(reader);
    for (m = PHCR_MODE_BASIC; m < PHCR_MODE_COUNT; m++) {
      if (probes[m].tried || !res.attempt[m].attempts)
        continue;
      probes[m].tried = 1;
      probes[m].error = res.attempt[m].error;
      probes[m].sys_errno = res.attempt[m].sys_errno;
    }
  }
  return PHCR_OK;
}

/* The ioctl answers (invalid readings are judged by phc.stats) */
static int
answers(const Probe *p)
{
  return p->tried && (p->error == PHCR_OK || p->error == PHCR_ERR_INVALID);
}

static void
describe_probe(char *buf, size_t len, PHCR_Mode mode, const Probe *p, int crossts)
{
  static const char *names[PHCR_MODE_COUNT] = { "", "SYS_OFFSET", "EXTENDED", "PRECISE" };
  const char *name = names[mode];

  if (!p->tried)
    snprintf(buf + strlen(buf), len - strlen(buf), "; %s not tried%s", name,
             mode == PHCR_MODE_PRECISE && !crossts ? " (cross_timestamping=0)" : "");
  else if (p->error == PHCR_OK)
    snprintf(buf + strlen(buf), len - strlen(buf), "; %s works", name);
  else if (mode == PHCR_MODE_EXTENDED && p->sys_errno == EOPNOTSUPP)
    snprintf(buf + strlen(buf), len - strlen(buf), "; %s: EOPNOTSUPP, not implemented by "
             "ptp_kvm (normal)", name);
  else
    snprintf(buf + strlen(buf), len - strlen(buf), "; %s: %s%s%s", name,
             PHCR_ErrorString(p->error), p->error == PHCR_ERR_OTHER ? ": " : "",
             p->error == PHCR_ERR_OTHER ? strerror(p->sys_errno) : "");
}

static int
compare_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;

  return x < y ? -1 : x > y;
}

/* ================================================== */

static void
check_stats(DOC_Context *ctx)
{
  static double delays[PHCR_MAX_SAMPLES * 1000], offsets[1000];
  int i, j, n_delays = 0, n_offsets = 0, failed = 0, samples = ctx->samples;
  int mode_count[PHCR_MODE_COUNT] = { 0 };
  PHCR_Discovery disc;
  PHCR_Config config;
  PHCR_Reader reader;
  PHCR_Result res;
  PHCR_Error err, last_error = PHCR_OK;
  int last_errno = 0;
  DOC_Result *r;
  DOC_Status status;
  double med_off, med_delay;
  char delay_text[160], far[DOC_TEXT_LEN];
  const char *fix;

  if (samples > 1000)
    samples = 1000;
  memset(&disc, 0, sizeof (disc));
  PHCR_ConfigDefaults(&config);
  config.reprobe_interval = 0.0;
  err = PHCR_Open(ctx->kvm_phc, NULL, &config, &reader, &disc);
  if (err != PHCR_OK) {
    DOC_AddResult(ctx->report, "phc.stats", DOC_SKIP, NULL, "phc_reader cannot open %s: %s",
                  ctx->kvm_phc, disc.error[0] ? disc.error : PHCR_ErrorString(err));
    return;
  }

  for (i = 0; i < samples; i++) {
    if (PHCR_Read(reader, 5, 0.0, &res) != PHCR_OK) {
      last_error = res.error;
      last_errno = res.sys_errno;
      failed++;
      continue;
    }
    mode_count[res.mode]++;
    offsets[n_offsets++] = res.sample.offset;
    for (j = 0; res.mode != PHCR_MODE_PRECISE && j < res.reading.n; j++) {
      const PHCR_Triplet *t = &res.reading.t[j];
      delays[n_delays++] = (t->sys_after.tv_sec - t->sys_before.tv_sec) +
                           (t->sys_after.tv_nsec - t->sys_before.tv_nsec) * 1e-9;
    }
  }
  PHCR_Close(reader);

  /* With most reads failing, the few that passed prove nothing (a garbage
     reading can look consistent): report the failures, not their values */
  if (!n_offsets || failed * 2 > samples) {
    r = DOC_AddResult(ctx->report, "phc.stats", DOC_FAIL,
                      "see phc.ioctls for what the failures mean; rerun to see if it persists",
                      "%s %d readings of %s failed (last: %s%s%s)",
                      n_offsets ? "most of" : "all", samples, ctx->kvm_phc,
                      PHCR_ErrorString(last_error), last_errno ? ", " : "",
                      last_errno ? strerror(last_errno) : "");
    DOC_AddMetric(r, "phc_reads_ok", n_offsets);
    DOC_AddMetric(r, "phc_reads_failed", failed);
    return;
  }

  qsort(offsets, n_offsets, sizeof (double), compare_double);
  qsort(delays, n_delays, sizeof (double), compare_double);
  med_off = offsets[n_offsets / 2];
  med_delay = n_delays ? delays[n_delays / 2] : 0.0;

  status = DOC_OK;
  fix = NULL;
  if (fabs(med_off) > 1.0) {
    status = DOC_FAIL;
    snprintf(far, sizeof (far), "the guest clock is far from the host's: check chronyd "
             "(makestep, refclock) and %s, \"Offsets after pauses\"",
             DOC_DocPath(ctx, "troubleshooting.md"));
    fix = far;
  } else if (fabs(med_off) > 1e-3) {
    status = DOC_WARN;
    fix = "the guest clock is not synchronised to the KVM PHC: check chronyd's refclock";
  } else if (med_delay > 100e-6) {
    status = DOC_WARN;
    fix = "slow PHC reads: the host is overloaded or the vCPU is preempted often";
  } else if (failed) {
    status = DOC_WARN;
    fix = "intermittent read failures: see phc.ioctls";
  }

  if (n_delays)
    snprintf(delay_text, sizeof (delay_text), "delay min/median/max %.3f/%.3f/%.3f us over %d "
             "readings", delays[0] * 1e6, med_delay * 1e6, delays[n_delays - 1] * 1e6, n_delays);
  else
    snprintf(delay_text, sizeof (delay_text), "no delay (PRECISE cross-timestamps)");
  r = DOC_AddResult(ctx->report, "phc.stats", status, fix,
                    "%d/%d reads (PRECISE %d, EXTENDED %d, basic %d); %s; offset PHC-REALTIME "
                    "min/median/max %+.9f/%+.9f/%+.9f s", n_offsets, samples,
                    mode_count[PHCR_MODE_PRECISE], mode_count[PHCR_MODE_EXTENDED],
                    mode_count[PHCR_MODE_BASIC], delay_text,
                    offsets[0], med_off, offsets[n_offsets - 1]);
  if (n_delays) {
    DOC_AddMetric(r, "phc_delay_min_seconds", delays[0]);
    DOC_AddMetric(r, "phc_delay_median_seconds", med_delay);
    DOC_AddMetric(r, "phc_delay_max_seconds", delays[n_delays - 1]);
  }
  DOC_AddMetric(r, "phc_offset_min_seconds", offsets[0]);
  DOC_AddMetric(r, "phc_offset_median_seconds", med_off);
  DOC_AddMetric(r, "phc_offset_max_seconds", offsets[n_offsets - 1]);
  DOC_AddMetric(r, "phc_reads_ok", n_offsets);
  DOC_AddMetric(r, "phc_reads_failed", failed);
}

/* ================================================== */

void
DOC_CheckPhcClock(DOC_Context *ctx)
{
  Probe probes[PHCR_MODE_COUNT];
  char text[DOC_TEXT_LEN];
  PHCR_Discovery disc;
  PHCR_Error err;
  DOC_Result *r;
  int m, precise_ok, basic_ok;

  if (!ctx->kvm_phc[0]) {
    DOC_AddResult(ctx->report, "phc.ioctls", DOC_SKIP, NULL, "no KVM PHC");
    DOC_AddResult(ctx->report, "phc.stats", DOC_SKIP, NULL, "no KVM PHC");
    return;
  }
  memset(probes, 0, sizeof (probes));
  err = probe_modes(ctx, probes, &disc);
  if (err == PHCR_ERR_ACCESS) {
    DOC_AddResult(ctx->report, "phc.ioctls", DOC_SKIP, NULL,
                  "as uid %ld: %s (run as root or a member of its group)", (long)ctx->uid,
                  disc.error);
    DOC_NoteUnreadable(ctx->report, ctx->kvm_phc, disc.sys_errno);
  } else if (err != PHCR_OK) {
    DOC_AddResult(ctx->report, "phc.ioctls", DOC_FAIL,
                  err == PHCR_ERR_NOTPHC
                    ? "the device is not a working PHC: check dmesg for ptp_kvm errors"
                    : "check that udev created the device node (ls -l /dev/ptp*; udevadm "
                      "trigger -s ptp)", "GETCAPS: %s", disc.error);
  }
  if (err != PHCR_OK) {
    DOC_AddResult(ctx->report, "phc.stats", DOC_SKIP, NULL, "device not readable");
    return;
  }

  snprintf(text, sizeof (text), "GETCAPS works (cross_timestamping=%d)",
           disc.cross_timestamping);
  for (m = PHCR_MODE_PRECISE; m >= PHCR_MODE_BASIC; m--)
    describe_probe(text, sizeof (text), m, &probes[m], disc.cross_timestamping);
  precise_ok = answers(&probes[PHCR_MODE_PRECISE]);
  basic_ok = answers(&probes[PHCR_MODE_BASIC]);

  if (probes[PHCR_MODE_BASIC].error == PHCR_ERR_HOST_NOTSUPP && !precise_ok) {
    r = DOC_AddResult(ctx->report, "phc.ioctls", DOC_FAIL,
                      "host side: use a TSC clocksource on the host (and TSC scaling across "
                      "migrations); meanwhile use NTP", "%s", text);
  } else if (!basic_ok && !precise_ok) {
    r = DOC_AddResult(ctx->report, "phc.ioctls", DOC_FAIL,
                      "reload ptp_kvm (modprobe -r ptp_kvm; modprobe ptp_kvm) and rerun",
                      "%s", text);
  } else if (!basic_ok) {
    r = DOC_AddResult(ctx->report, "phc.ioctls", DOC_WARN,
                      "PRECISE works but stops if the clocksource changes: check the host",
                      "%s", text);
  } else {
    r = DOC_AddResult(ctx->report, "phc.ioctls", DOC_OK, NULL, "%s", text);
  }
  DOC_AddMetric(r, "phc_precise_works", precise_ok);
  DOC_AddMetric(r, "phc_sys_offset_works", basic_ok);

  if (ctx->samples <= 0)
    DOC_AddResult(ctx->report, "phc.stats", DOC_SKIP, NULL, "not requested (--samples 0)");
  else if (basic_ok || precise_ok)
    check_stats(ctx);
  else
    DOC_AddResult(ctx->report, "phc.stats", DOC_SKIP, NULL, "no reading ioctl works");
}
