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
  classifies errno, retries transient failures a bounded number of times,
  and validates the result.
  */

#include <errno.h>
#include <string.h>
#include <linux/ptp_clock.h>

#include "phcr_reader_priv.h"

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
ioctl_precise(const PHCR_Ops *ops, int fd, PHCR_Reading *out)
{
  struct ptp_sys_offset_precise p;

  memset(&p, 0, sizeof (p));
  if (ops->ioctl(ops->ctx, fd, PTP_SYS_OFFSET_PRECISE, &p) < 0)
    return -1;

  out->n = 1;
  set_triplet(out, 0, &p.sys_realtime, &p.device, &p.sys_realtime);
  to_timespec(&p.sys_monoraw, &out->sys_monoraw);
  return 0;
}

/* ================================================== */

static int
ioctl_extended(const PHCR_Ops *ops, int fd, int n, PHCR_Reading *out)
{
  struct ptp_sys_offset_extended p;
  int i;

  memset(&p, 0, sizeof (p));
  p.n_samples = (unsigned int)n;
  if (ops->ioctl(ops->ctx, fd, PTP_SYS_OFFSET_EXTENDED, &p) < 0)
    return -1;

  out->n = n;
  for (i = 0; i < n; i++)
    set_triplet(out, i, &p.ts[i][0], &p.ts[i][1], &p.ts[i][2]);
  return 0;
}

/* ================================================== */

static int
ioctl_basic(const PHCR_Ops *ops, int fd, int n, PHCR_Reading *out)
{
  struct ptp_sys_offset p;
  int i;

  memset(&p, 0, sizeof (p));
  p.n_samples = (unsigned int)n;
  if (ops->ioctl(ops->ctx, fd, PTP_SYS_OFFSET, &p) < 0)
    return -1;

  /* ts[] = sys, phc, sys, phc, ..., sys */
  out->n = n;
  for (i = 0; i < n; i++)
    set_triplet(out, i, &p.ts[2 * i], &p.ts[2 * i + 1], &p.ts[2 * i + 2]);
  return 0;
}

/* ================================================== */

static int
issue(PHCR_Reader r, PHCR_Mode mode, int n, PHCR_Reading *out)
{
  memset(out, 0, sizeof (*out));
  out->mode = mode;
  switch (mode) {
    case PHCR_MODE_PRECISE:
      return ioctl_precise(r->ops, r->fd, out);
    case PHCR_MODE_EXTENDED:
      return ioctl_extended(r->ops, r->fd, n, out);
    case PHCR_MODE_BASIC:
      return ioctl_basic(r->ops, r->fd, n, out);
    default:
      errno = EINVAL;
      return -1;
  }
}

/* ================================================== */

PHCR_Error
PHCR_ReadMode(PHCR_Reader r, PHCR_Mode mode, int n, PHCR_Result *res)
{
  PHCR_ModeAttempt *att = &res->attempt[mode];
  unsigned long rej[PHCR_REJ_COUNT];
  PHCR_Error cls;
  int i, try, samples = mode == PHCR_MODE_PRECISE ? 1 : n, rejected;

  for (try = 0; ; try++) {
    r->counters.ioctls++;
    r->counters.device_samples += (unsigned long)samples;
    res->device_samples += samples;
    att->attempts++;

    if (issue(r, mode, n, &res->reading) < 0) {
      att->sys_errno = errno;
      cls = PHCR_ErrorFromErrno(att->sys_errno, mode);
    } else {
      memset(rej, 0, sizeof (rej));
      cls = PHCR_ValidateReading(&res->reading, &r->config.validate, rej);
      for (i = rejected = 0; i < PHCR_REJ_COUNT; i++) {
        r->counters.rejects[i] += rej[i];
        rejected += (int)rej[i];
      }
      res->rejected += rejected;
      if (rejected)
        res->events |= PHCR_EVENT_REJECTS;
      if (cls == PHCR_OK) {
        att->error = PHCR_OK;
        return PHCR_OK;
      }
    }

    att->error = cls;
    r->counters.errors[cls]++;
    if ((cls != PHCR_ERR_RETRY && cls != PHCR_ERR_INVALID) ||
        try >= r->config.max_retries)
      return cls;

    res->retries++;
    r->counters.retries++;
    res->events |= PHCR_EVENT_RETRIED;
  }
}
