/*
  chrony-ptpkvm: phc_reader
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

  The reader of phc_reader (see phcr.h) and the device I/O under it: the
  reading ioctl of a mode (original numbers), errno classes, validation
  of the triplets, bounded retries of transient failures and garbage,
  fallback to worse modes; phcr_filter.c makes the sample.
  */

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/ptp_clock.h>

#include "phcr_internal.h"

/* EINTR/EAGAIN/EBUSY/garbage retries per mode and read */
#define MAX_RETRIES 3
/* Largest delay of a valid triplet */
#define MAX_DELAY_NS PHCR_NS_PER_S
/* Timestamp noise tolerated between consecutive PHC timestamps of one
   ioctl; more is a step of the clock or garbage (a jump of 1 ms or more is
   what the driver acts on) */
#define MAX_PHC_BACKWARDS_NS 1000000

#define MODE_BIT(m) (1U << (m))

struct PHCR_Reader_Record {
  char spec[PHCR_PATH_MAX];
  char clock_name[PHCR_NAME_MAX];
  PHCR_Config config;

  int fd;
  char path[PHCR_PATH_MAX];

  unsigned int allowed;       /* bit per mode: allowed by flags and caps and
                                 implemented by the device */
  PHCR_Mode mode;             /* where reads start */
  PHCR_Mode last_ok_mode;     /* mode of the last successful read */

  double below_since;         /* caller time of the fall below the best
                                 mode / of the last re-probe */
  int below_since_valid;

  PHCR_FilterState filter;    /* noise learnt over readings */
  int new_kernel;             /* answers PTP_SYS_OFFSET_EXTENDED (5.0) */

  PHCR_Counters counters;
};

/* ================================================== */

static const char *const error_strings[PHCR_ERR_COUNT] = {
  "success",
  "host cannot answer (EOPNOTSUPP, or PHC timestamps copied from system "
    "time by a guest kernel < 5.0: host clocksource not TSC or no TSC "
    "scaling, e.g. after migration; or the driver lacks this mode)",
  "cross-timestamp unavailable (ENODEV on PRECISE: guest clocksource is "
    "not kvm-clock/arch counter)",
  "device busy or interrupted (EINTR/EAGAIN/EBUSY, EINVAL on PRECISE), "
    "retries exhausted",
  "device gone (ENODEV on basic/EXTENDED: posix_clock_ioctl() of a removed "
    "clock), reopen needed",
  "device returned invalid readings",
  "no matching PHC device found",
  "not a PTP hardware clock (PTP_CLOCK_GETCAPS failed)",
  "permission denied (EACCES/EPERM)",
  "invalid arguments",
  "unexpected error"
};

/* ================================================== */

const char *
PHCR_ErrorString(PHCR_Error code)
{
  if ((unsigned int)code >= PHCR_ERR_COUNT)
    return "unknown error";
  return error_strings[code];
}

/* ================================================== */

const char *
PHCR_ModeName(PHCR_Mode mode)
{
  static const char *const names[PHCR_MODE_COUNT] = { "none", "basic", "extended", "precise" };

  return (unsigned int)mode < PHCR_MODE_COUNT ? names[mode] : "none";
}

/* ================================================== */

static void
set_triplet(PHCR_Triplet *t, const struct ptp_clock_time *before,
            const struct ptp_clock_time *phc, const struct ptp_clock_time *after)
{
  t->sys_before = (struct timespec){ before->sec, before->nsec };
  t->phc = (struct timespec){ phc->sec, phc->nsec };
  t->sys_after = (struct timespec){ after->sec, after->nsec };
}

/* ================================================== */

/* The reading ioctl of a mode into out; 0, or -1 with errno */

static int
issue(int fd, PHCR_Mode mode, int n, PHCR_Reading *out)
{
  union {
    struct ptp_sys_offset_precise precise;
    struct ptp_sys_offset_extended ext;
    struct ptp_sys_offset basic;
  } p;
  int i;

  memset(out, 0, sizeof (*out));
  memset(&p, 0, sizeof (p));
  out->mode = mode;

  if (mode == PHCR_MODE_PRECISE) {
    if (ioctl(fd, PTP_SYS_OFFSET_PRECISE, &p.precise) < 0)
      return -1;
    n = 1;
    set_triplet(&out->t[0], &p.precise.sys_realtime, &p.precise.device,
                &p.precise.sys_realtime);
  } else if (mode == PHCR_MODE_EXTENDED) {
    p.ext.n_samples = (unsigned int)n;
    if (ioctl(fd, PTP_SYS_OFFSET_EXTENDED, &p.ext) < 0)
      return -1;
    for (i = 0; i < n; i++)
      set_triplet(&out->t[i], &p.ext.ts[i][0], &p.ext.ts[i][1], &p.ext.ts[i][2]);
  } else {
    p.basic.n_samples = (unsigned int)n;
    if (ioctl(fd, PTP_SYS_OFFSET, &p.basic) < 0)
      return -1;
    /* ts[] = sys, phc, sys, phc, ..., sys */
    for (i = 0; i < n; i++)
      set_triplet(&out->t[i], &p.basic.ts[2 * i], &p.basic.ts[2 * i + 1],
                  &p.basic.ts[2 * i + 2]);
  }

  out->n = n;
  return 0;
}

/* ================================================== */

PHCR_Error
PHCR_ErrorFromErrno(int sys_errno, PHCR_Mode mode)
{
  switch (sys_errno) {
    case 0:
      return PHCR_OK;
    case EOPNOTSUPP:
      return PHCR_ERR_HOST_NOTSUPP;
    case ENODEV:
      /* The kernel's get_device_system_crosststamp() fails with ENODEV
         when the current clocksource does not match the device's;
         posix_clock_ioctl() when the clock was removed */
      return mode == PHCR_MODE_PRECISE ? PHCR_ERR_CLOCKSOURCE : PHCR_ERR_GONE;
    case EINVAL:
      /* PRECISE: the device's counter value lies before the current
         timekeeping interval and ptp_kvm passes no history
         (get_device_system_crosststamp()): transient.  Elsewhere a bug. */
      return mode == PHCR_MODE_PRECISE ? PHCR_ERR_RETRY : PHCR_ERR_OTHER;
    case EINTR:
    case EAGAIN:
    case EBUSY:
      /* e.g. a NIC driver's gettimex64 that cannot take its lock */
      return PHCR_ERR_RETRY;
    default:
      return PHCR_ERR_OTHER;
  }
}

/* ================================================== */

/* A time of the int64 ns range after 0, with a valid tv_nsec */

static int
time_ok(const struct timespec *ts)
{
  return ts->tv_nsec >= 0 && ts->tv_nsec < PHCR_NS_PER_S && ts->tv_sec >= 0 &&
         (int64_t)ts->tv_sec <= PHCR_MAX_SEC && (ts->tv_sec != 0 || ts->tv_nsec != 0);
}

/* ================================================== */

/* A triplet's times in ns; TRIPLET_OK, or why it is rejected: a bad
   time, sys_after < sys_before, a delay above 1 s, a copied PHC time */

#define TRIPLET_OK 0
#define TRIPLET_INVALID 1
#define TRIPLET_COPIED 2

static int
check_triplet(const PHCR_Triplet *t, int precise, int64_t *before, int64_t *phc,
              int64_t *after)
{
  if (!time_ok(&t->sys_before) || !time_ok(&t->phc) || !time_ok(&t->sys_after))
    return TRIPLET_INVALID;

  /* in range: no saturation, no overflow */
  *before = (int64_t)t->sys_before.tv_sec * PHCR_NS_PER_S + t->sys_before.tv_nsec;
  *phc = (int64_t)t->phc.tv_sec * PHCR_NS_PER_S + t->phc.tv_nsec;
  *after = (int64_t)t->sys_after.tv_sec * PHCR_NS_PER_S + t->sys_after.tv_nsec;
  if (*after < *before)
    return TRIPLET_INVALID;
  /* Guest kernels < 5.0 ignore a failed PHC read in PTP_SYS_OFFSET and
     copy the system timestamp just read (ptp_chardev.c) */
  if (!precise && *phc == *before)
    return TRIPLET_COPIED;
  return *after - *before > MAX_DELAY_NS ? TRIPLET_INVALID : TRIPLET_OK;
}

/* ================================================== */

PHCR_Error
PHCR_ValidateReading(PHCR_Reading *r)
{
  int64_t before = 0, phc = 0, after = 0, prev_phc = 0;
  int i, j, check, monotonic = 1, copied = 0;

  for (i = j = 0; i < r->n; i++) {
    check = check_triplet(&r->t[i], r->mode == PHCR_MODE_PRECISE, &before, &phc, &after);
    if (check != TRIPLET_OK) {
      copied += check == TRIPLET_COPIED;
      continue;
    }
    /* a PHC going back by more than noise: not read in order (system
       timestamps of consecutive triplets may overlap, being noisier) */
    if (j > 0 && phc < prev_phc - MAX_PHC_BACKWARDS_NS)
      monotonic = 0;
    prev_phc = phc;
    r->t[j++] = r->t[i];
  }
  r->n = monotonic ? j : 0;

  if (r->n > 0)
    return PHCR_OK;
  return copied > 0 && copied == i ? PHCR_ERR_HOST_NOTSUPP : PHCR_ERR_INVALID;
}

/* ================================================== */

/* One mode, with bounded retries and validation, into res->reading;
   updates res->attempt[mode] */

static PHCR_Error
read_mode(int fd, PHCR_Mode mode, int n, int new_kernel, PHCR_Result *res)
{
  PHCR_ModeAttempt *att = &res->attempt[mode];
  PHCR_Error cls;
  int try;

  for (try = 0; ; try++) {
    att->attempts++;

    if (issue(fd, mode, n, &res->reading) < 0) {
      att->sys_errno = errno;
      cls = PHCR_ErrorFromErrno(att->sys_errno, mode);
    } else {
      cls = PHCR_ValidateReading(&res->reading);
      /* PHC times equal to the system times are copies where the kernel
         makes them (< 5.0), else a coincidence of timestamp noise */
      if (cls == PHCR_ERR_HOST_NOTSUPP && new_kernel)
        cls = PHCR_ERR_INVALID;
      if (cls == PHCR_OK) {
        att->error = PHCR_OK;
        return PHCR_OK;
      }
    }

    att->error = cls;
    if ((cls != PHCR_ERR_RETRY && cls != PHCR_ERR_INVALID) || try >= MAX_RETRIES)
      return cls;
  }
}

/* ================================================== */

void
PHCR_ConfigDefaults(PHCR_Config *config)
{
  memset(config, 0, sizeof (*config));
  config->n_samples = PHCR_DEFAULT_SAMPLES;
  config->reprobe_interval = PHCR_DEFAULT_REPROBE;
}

/* ================================================== */

static int
clamp_samples(int n)
{
  return n < 1 ? 1 : n > PHCR_MAX_SAMPLES ? PHCR_MAX_SAMPLES : n;
}

/* ================================================== */

static int
usable(PHCR_Reader r, PHCR_Mode m)
{
  return m > PHCR_MODE_NONE && m < PHCR_MODE_COUNT && (r->allowed & MODE_BIT(m));
}

/* ================================================== */

static PHCR_Mode
lower_usable(PHCR_Reader r, PHCR_Mode m)
{
  for (m--; m > PHCR_MODE_NONE; m--)
    if (usable(r, m))
      return m;
  return PHCR_MODE_NONE;
}

/* ================================================== */

PHCR_Mode
PHCR_GetBestMode(PHCR_Reader r)
{
  return lower_usable(r, PHCR_MODE_COUNT);
}

/* ================================================== */

static void
set_allowed(PHCR_Reader r, int cross_timestamping)
{
  r->allowed = MODE_BIT(PHCR_MODE_BASIC);
  if (!(r->config.flags & PHCR_FLAG_NOEXTENDED))
    r->allowed |= MODE_BIT(PHCR_MODE_EXTENDED);
  if (!(r->config.flags & PHCR_FLAG_NOCROSSTS) && cross_timestamping)
    r->allowed |= MODE_BIT(PHCR_MODE_PRECISE);
  r->mode = PHCR_GetBestMode(r);
  r->below_since_valid = 0;
}

/* ================================================== */

PHCR_Error
PHCR_Open(const char *spec, const char *clock_name, const PHCR_Config *config,
          PHCR_Reader *reader, PHCR_Discovery *disc)
{
  PHCR_Reader r;
  PHCR_Error res;

  *reader = NULL;
  r = calloc(1, sizeof (*r));
  if (!r)
    return PHCR_ERR_OTHER;

  snprintf(r->spec, sizeof (r->spec), "%s", spec ? spec : "");
  snprintf(r->clock_name, sizeof (r->clock_name), "%s", clock_name ? clock_name : "");
  r->config = *config;
  r->config.n_samples = clamp_samples(r->config.n_samples);
  r->fd = -1;

  res = PHCR_Reopen(r, disc);
  if (res != PHCR_OK) {
    free(r);
    return res;
  }

  *reader = r;
  return PHCR_OK;
}

/* ================================================== */

void
PHCR_Close(PHCR_Reader r)
{
  if (!r)
    return;
  if (r->fd >= 0)
    close(r->fd);
  free(r);
}

/* ================================================== */

PHCR_Error
PHCR_Reopen(PHCR_Reader r, PHCR_Discovery *disc)
{
  PHCR_Discovery local;
  PHCR_Error res;

  if (!disc)
    disc = &local;
  if (r->fd >= 0)
    close(r->fd);
  res = PHCR_FindAndOpenDevice(r->spec, r->clock_name, disc, &r->fd);
  if (res != PHCR_OK)
    return res;

  snprintf(r->path, sizeof (r->path), "%s", disc->path);
  set_allowed(r, disc->cross_timestamping);
  return PHCR_OK;
}

/* ================================================== */

static PHCR_Mode
start_mode(PHCR_Reader r, int sentinel, double now)
{
  PHCR_Mode best = PHCR_GetBestMode(r), m = r->mode;
  double reprobe = r->config.reprobe_interval;

  if (!sentinel && m < best && reprobe > 0.0 && r->below_since_valid &&
      (now < r->below_since || now - r->below_since >= reprobe)) {
    r->below_since = now;
    return best;
  }
  return m;
}

/* ================================================== */

static void
finish_ok(PHCR_Reader r, PHCR_Mode m, int disable_ext, double now,
          PHCR_Result *res)
{
  PHCR_Mode best;

  /* EXTENDED failed with EOPNOTSUPP while a worse mode works: the driver
     does not implement it (e.g. ptp_kvm has no gettimex64) */
  if (disable_ext && m < PHCR_MODE_EXTENDED)
    r->allowed &= ~MODE_BIT(PHCR_MODE_EXTENDED);

  best = PHCR_GetBestMode(r);
  if (m < best && (r->mode >= best || !r->below_since_valid)) {
    r->below_since = now;
    r->below_since_valid = 1;
  } else if (m >= best) {
    r->below_since_valid = 0;
  }
  r->mode = m;

  r->last_ok_mode = m;
  res->mode = m;
  PHCR_FilterReading(&res->reading, &r->filter, &res->sample);
}

/* ================================================== */

/* Kinds of read */
#define READ_FULL 0
#define READ_SENTINEL 1       /* one sample, no re-probe */
#define READ_PROBE 2          /* one sample, stop where the host cannot
                                 answer (each failed hypercall is logged by
                                 the guest kernel) */

static PHCR_Error
do_read(PHCR_Reader r, int n, int kind, double now, PHCR_Result *res)
{
  PHCR_Error err = PHCR_ERR_GONE;
  PHCR_Mode m, last = PHCR_MODE_NONE, transient = PHCR_MODE_NONE;
  int disable_ext = 0, sentinel = kind != READ_FULL;

  memset(res, 0, sizeof (*res));
  res->prev_mode = r->last_ok_mode;
  r->counters.reads++;
  if (sentinel)
    r->counters.sentinel_reads++;

  /* BASIC is always usable: at least one mode is tried on an open device */
  for (m = r->fd >= 0 ? start_mode(r, sentinel, now) : PHCR_MODE_NONE;
       m != PHCR_MODE_NONE; m = lower_usable(r, m)) {
    last = m;
    err = read_mode(r->fd, m, n, r->new_kernel, res);
    if (m == PHCR_MODE_EXTENDED && (err == PHCR_OK || err == PHCR_ERR_HOST_NOTSUPP))
      r->new_kernel = 1;
    if (err == PHCR_OK) {
      finish_ok(r, m, disable_ext, now, res);
      /* A transient failure of a better mode: start there next time */
      if (transient != PHCR_MODE_NONE)
        r->mode = transient;
      res->error = PHCR_OK;
      return PHCR_OK;
    }
    if (err == PHCR_ERR_GONE || (kind == READ_PROBE && err == PHCR_ERR_HOST_NOTSUPP))
      break;
    if (err == PHCR_ERR_RETRY && transient == PHCR_MODE_NONE)
      transient = m;
    if (m == PHCR_MODE_EXTENDED && err == PHCR_ERR_HOST_NOTSUPP)
      disable_ext = 1;
  }

  res->error = err;
  res->sys_errno = last != PHCR_MODE_NONE ? res->attempt[last].sys_errno : 0;
  r->counters.failed_reads++;
  return err;
}

/* ================================================== */

PHCR_Error
PHCR_Read(PHCR_Reader r, int n_samples, double now, PHCR_Result *res)
{
  return do_read(r, n_samples > 0 ? clamp_samples(n_samples) :
                 r->config.n_samples, READ_FULL, now, res);
}

/* ================================================== */

PHCR_Error
PHCR_ReadOne(PHCR_Reader r, int probe, double now, PHCR_Result *res)
{
  return do_read(r, 1, probe ? READ_PROBE : READ_SENTINEL, now, res);
}

/* ================================================== */

PHCR_Mode
PHCR_GetMode(PHCR_Reader r)
{
  return r->mode;
}

/* ================================================== */

const char *
PHCR_GetPath(PHCR_Reader r)
{
  return r->path;
}

/* ================================================== */

void
PHCR_GetCounters(PHCR_Reader r, PHCR_Counters *counters)
{
  *counters = r->counters;
}
