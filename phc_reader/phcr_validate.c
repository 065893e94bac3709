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

  Validation of raw readings in phc_reader: rejects triplets with tv_nsec
  outside [0, 1e9), absurd values, sys_after < sys_before, delays above the
  limit, PHC timestamps copied from the system timestamp (old kernels when
  the host cannot answer), and whole readings whose PHC timestamps go
  backwards by more than noise within one ioctl; counts every reject per
  class.  Also the exact timespec <-> int64 ns
  helpers used everywhere.
  */

#include <stdint.h>
#include <string.h>

#include "phcr_internal.h"

#define NS_PER_S 1000000000LL
/* Timestamp noise tolerated between consecutive PHC timestamps of one
   ioctl; more is a step of the clock or garbage (a jump of 1 ms or more is
   what the driver acts on) */
#define MAX_PHC_BACKWARDS_NS 1000000
/* Largest seconds value whose ns still fits in int64 (year 2262) */
#define MAX_SEC (INT64_MAX / NS_PER_S - 1)

/* ================================================== */

int64_t
PHCR_TimespecToNs(const struct timespec *ts)
{
  int64_t sec = ts->tv_sec;

  if (sec > MAX_SEC)
    return INT64_MAX;
  if (sec < -MAX_SEC)
    return INT64_MIN;
  return sec * NS_PER_S + ts->tv_nsec;
}

/* ================================================== */

void
PHCR_NsToTimespec(int64_t ns, struct timespec *ts)
{
  int64_t sec = ns / NS_PER_S, nsec = ns % NS_PER_S;

  if (nsec < 0) {
    nsec += NS_PER_S;
    sec--;
  }
  ts->tv_sec = (time_t)sec;
  ts->tv_nsec = (long)nsec;
}

/* ================================================== */

static int
nsec_ok(const struct timespec *ts)
{
  return ts->tv_nsec >= 0 && ts->tv_nsec < NS_PER_S;
}

/* ================================================== */

static int
value_ok(const struct timespec *ts)
{
  return ts->tv_sec >= 0 && (int64_t)ts->tv_sec <= MAX_SEC &&
         (ts->tv_sec != 0 || ts->tv_nsec != 0);
}

/* ================================================== */

static int
classify_triplet(const PHCR_Triplet *t, double max_delay, int precise,
                 int64_t *before, int64_t *phc, int64_t *after)
{
  if (!nsec_ok(&t->sys_before) || !nsec_ok(&t->phc) || !nsec_ok(&t->sys_after))
    return PHCR_REJ_NSEC;
  if (!value_ok(&t->sys_before) || !value_ok(&t->phc) || !value_ok(&t->sys_after))
    return PHCR_REJ_ABSURD;

  /* in range: no saturation, no overflow */
  *before = (int64_t)t->sys_before.tv_sec * NS_PER_S + t->sys_before.tv_nsec;
  *phc = (int64_t)t->phc.tv_sec * NS_PER_S + t->phc.tv_nsec;
  *after = (int64_t)t->sys_after.tv_sec * NS_PER_S + t->sys_after.tv_nsec;
  if (*after < *before)
    return PHCR_REJ_ORDER;
  /* Guest kernels < 5.0 ignore a failed PHC read in PTP_SYS_OFFSET and
     copy the system timestamp just read (ptp_chardev.c) */
  if (!precise && *phc == *before)
    return PHCR_REJ_SYSCOPY;
  if ((double)(*after - *before) > max_delay * 1e9)
    return PHCR_REJ_DELAY;
  return -1;
}

/* ================================================== */

PHCR_Error
PHCR_ValidateReading(PHCR_Reading *r, const PHCR_ValidateConfig *config,
                     unsigned long rejects[PHCR_REJ_COUNT])
{
  double max_delay = config && config->max_delay > 0.0 ? config->max_delay : 1.0;
  int64_t before = 0, phc = 0, after = 0, prev_phc = 0;
  int i, j, cls, monotonic = 1, copied = 0;

  if (!r)
    return PHCR_ERR_ARGS;
  if (r->n < 0 || r->n > PHCR_MAX_SAMPLES) {
    r->n = 0;
    return PHCR_ERR_INVALID;
  }

  for (i = j = 0; i < r->n; i++) {
    cls = classify_triplet(&r->t[i], max_delay, r->mode == PHCR_MODE_PRECISE,
                           &before, &phc, &after);
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
