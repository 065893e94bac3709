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

  Device I/O of the phc_reader reader: issues one reading ioctl in a given
  mode (PTP_SYS_OFFSET_PRECISE, PTP_SYS_OFFSET_EXTENDED or PTP_SYS_OFFSET,
  original numbers), converts the kernel structures into a PHCR_Reading,
  maps errno to an error class, validates the triplets (tv_nsec outside
  [0, 1e9), absurd values, sys_after < sys_before, delays above 1 s, PHC
  timestamps copied from the system timestamp by old kernels when the host
  cannot answer, and whole readings whose PHC timestamps go backwards by
  more than noise), and retries transient failures and garbage a bounded
  number of times.  Also the names and messages of the error classes.
  */

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
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

/* ================================================== */

static void
to_timespec(const struct ptp_clock_time *pt, struct timespec *ts)
{
  ts->tv_sec = (time_t)pt->sec;
  ts->tv_nsec = (long)pt->nsec;
}

/* ================================================== */

static void
set_triplet(PHCR_Reading *out, int i, const struct ptp_clock_time *before,
            const struct ptp_clock_time *phc, const struct ptp_clock_time *after)
{
  to_timespec(before, &out->t[i].sys_before);
  to_timespec(phc, &out->t[i].phc);
  to_timespec(after, &out->t[i].sys_after);
}

/* ================================================== */

static int
ioctl_precise(int fd, PHCR_Reading *out)
{
  struct ptp_sys_offset_precise p;

  memset(&p, 0, sizeof (p));
  if (ioctl(fd, PTP_SYS_OFFSET_PRECISE, &p) < 0)
    return -1;

  out->n = 1;
  set_triplet(out, 0, &p.sys_realtime, &p.device, &p.sys_realtime);
  return 0;
}

/* ================================================== */

static int
ioctl_extended(int fd, int n, PHCR_Reading *out)
{
  struct ptp_sys_offset_extended p;
  int i;

  memset(&p, 0, sizeof (p));
  p.n_samples = (unsigned int)n;
  if (ioctl(fd, PTP_SYS_OFFSET_EXTENDED, &p) < 0)
    return -1;

  out->n = n;
  for (i = 0; i < n; i++)
    set_triplet(out, i, &p.ts[i][0], &p.ts[i][1], &p.ts[i][2]);
  return 0;
}

/* ================================================== */

static int
ioctl_basic(int fd, int n, PHCR_Reading *out)
{
  struct ptp_sys_offset p;
  int i;

  memset(&p, 0, sizeof (p));
  p.n_samples = (unsigned int)n;
  if (ioctl(fd, PTP_SYS_OFFSET, &p) < 0)
    return -1;

  /* ts[] = sys, phc, sys, phc, ..., sys */
  out->n = n;
  for (i = 0; i < n; i++)
    set_triplet(out, i, &p.ts[2 * i], &p.ts[2 * i + 1], &p.ts[2 * i + 2]);
  return 0;
}

/* ================================================== */

static int
issue(int fd, PHCR_Mode mode, int n, PHCR_Reading *out)
{
  memset(out, 0, sizeof (*out));
  out->mode = mode;
  if (mode == PHCR_MODE_PRECISE)
    return ioctl_precise(fd, out);
  if (mode == PHCR_MODE_EXTENDED)
    return ioctl_extended(fd, n, out);
  return ioctl_basic(fd, n, out);
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

static int
nsec_ok(const struct timespec *ts)
{
  return ts->tv_nsec >= 0 && ts->tv_nsec < PHCR_NS_PER_S;
}

/* ================================================== */

static int
value_ok(const struct timespec *ts)
{
  return ts->tv_sec >= 0 && (int64_t)ts->tv_sec <= PHCR_MAX_SEC &&
         (ts->tv_sec != 0 || ts->tv_nsec != 0);
}

/* ================================================== */

static int
classify_triplet(const PHCR_Triplet *t, int precise, int64_t *before,
                 int64_t *phc, int64_t *after)
{
  if (!nsec_ok(&t->sys_before) || !nsec_ok(&t->phc) || !nsec_ok(&t->sys_after))
    return PHCR_REJ_NSEC;
  if (!value_ok(&t->sys_before) || !value_ok(&t->phc) || !value_ok(&t->sys_after))
    return PHCR_REJ_ABSURD;

  /* in range: no saturation, no overflow */
  *before = (int64_t)t->sys_before.tv_sec * PHCR_NS_PER_S + t->sys_before.tv_nsec;
  *phc = (int64_t)t->phc.tv_sec * PHCR_NS_PER_S + t->phc.tv_nsec;
  *after = (int64_t)t->sys_after.tv_sec * PHCR_NS_PER_S + t->sys_after.tv_nsec;
  if (*after < *before)
    return PHCR_REJ_ORDER;
  /* Guest kernels < 5.0 ignore a failed PHC read in PTP_SYS_OFFSET and
     copy the system timestamp just read (ptp_chardev.c) */
  if (!precise && *phc == *before)
    return PHCR_REJ_SYSCOPY;
  if (*after - *before > MAX_DELAY_NS)
    return PHCR_REJ_DELAY;
  return -1;
}

/* ================================================== */

PHCR_Error
PHCR_ValidateReading(PHCR_Reading *r, unsigned long rejects[PHCR_REJ_COUNT])
{
  int64_t before = 0, phc = 0, after = 0, prev_phc = 0;
  int i, j, cls, monotonic = 1, copied = 0;

  for (i = j = 0; i < r->n; i++) {
    cls = classify_triplet(&r->t[i], r->mode == PHCR_MODE_PRECISE, &before,
                           &phc, &after);
    if (cls >= 0) {
      if (rejects)
        rejects[cls]++;
      copied += cls == PHCR_REJ_SYSCOPY;
      continue;
    }
    /* Timestamps of consecutive triplets may overlap (noise larger than
       their spacing): each triplet stands on its own, the filter weighs
       them.  A PHC going back by more than noise is not read in order. */
    if (j > 0 && phc < prev_phc - MAX_PHC_BACKWARDS_NS)
      monotonic = 0;
    prev_phc = phc;
    if (i != j)
      r->t[j] = r->t[i];
    j++;
  }
  r->n = j;

  /* a PHC going backwards by more than noise invalidates the whole
     reading: it cannot be told which timestamp is wrong */
  if (!monotonic) {
    if (rejects)
      rejects[PHCR_REJ_NONMONOTONIC] += (unsigned long)r->n;
    r->n = 0;
  }

  if (r->n > 0)
    return PHCR_OK;
  return copied > 0 && copied == i ? PHCR_ERR_HOST_NOTSUPP : PHCR_ERR_INVALID;
}

/* ================================================== */

PHCR_Error
PHCR_ReadMode(int fd, PHCR_Mode mode, int n, PHCR_Result *res)
{
  PHCR_ModeAttempt *att = &res->attempt[mode];
  unsigned long rej[PHCR_REJ_COUNT];
  PHCR_Error cls;
  int i, try;

  for (try = 0; ; try++) {
    att->attempts++;

    if (issue(fd, mode, n, &res->reading) < 0) {
      att->sys_errno = errno;
      cls = PHCR_ErrorFromErrno(att->sys_errno, mode);
    } else {
      memset(rej, 0, sizeof (rej));
      cls = PHCR_ValidateReading(&res->reading, rej);
      for (i = 0; i < PHCR_REJ_COUNT; i++)
        res->rejected += (int)rej[i];
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

static const char *const error_names[PHCR_ERR_COUNT] = {
  "OK", "HOST_NOTSUPP", "CLOCKSOURCE", "RETRY", "GONE", "INVALID",
  "NODEVICE", "NOTPHC", "ACCESS", "ARGS", "OTHER"
};

static const char *const error_strings[PHCR_ERR_COUNT] = {
  "success",
  "host cannot answer (EOPNOTSUPP, or PHC timestamps copied from system "
    "time by a guest kernel < 5.0: host clocksource not TSC or no TSC "
    "scaling, e.g. after migration; or the driver lacks this mode)",
  "cross-timestamp unavailable (ENODEV on PRECISE: guest clocksource is "
    "not kvm-clock/arch counter)",
  "device busy or interrupted (EINTR/EAGAIN/EBUSY, EINVAL on PRECISE), "
    "retries exhausted",
  "device gone (ENODEV), reopen needed",
  "device returned invalid readings",
  "no matching PHC device found",
  "not a PTP hardware clock (PTP_CLOCK_GETCAPS failed)",
  "permission denied (EACCES/EPERM)",
  "invalid device",
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
PHCR_ErrorName(PHCR_Error code)
{
  if ((unsigned int)code >= PHCR_ERR_COUNT)
    return "UNKNOWN";
  return error_names[code];
}
