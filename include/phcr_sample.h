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

  Readings and samples of phc_reader.  A reading is what one ioctl returned
  (1..25 system/PHC/system triplets, or one PRECISE cross-timestamp); the
  validator rejects garbage in it, the filter turns it into one sample
  (offset in exact integer nanoseconds and in double seconds, delay, error
  bound).  All functions here are pure: no I/O, no clock reads, no
  allocation.
  */

#ifndef PHCR_SAMPLE_H
#define PHCR_SAMPLE_H

#include <stdint.h>
#include <time.h>

#include "phcr_error.h"

/* Same as PTP_MAX_SAMPLES of <linux/ptp_clock.h>. */
#define PHCR_MAX_SAMPLES 25

/* Reading modes, ordered by quality (a higher value is better). */
typedef enum {
  PHCR_MODE_NONE = 0,     /* no successful reading yet / all failed */
  PHCR_MODE_BASIC = 1,    /* PTP_SYS_OFFSET (ioctl 5) */
  PHCR_MODE_EXTENDED = 2, /* PTP_SYS_OFFSET_EXTENDED (ioctl 9) */
  PHCR_MODE_PRECISE = 3,  /* PTP_SYS_OFFSET_PRECISE (ioctl 8) */
  PHCR_MODE_COUNT
} PHCR_Mode;

/* "none", "basic", "extended", "precise" (never NULL). */
extern const char *PHCR_ModeName(PHCR_Mode mode);

/* One measurement: system time before, PHC time, system time after
   (CLOCK_REALTIME as read by the kernel).  For PRECISE, sys_before ==
   sys_after == the cross-timestamp's sys_realtime. */
typedef struct {
  struct timespec sys_before;
  struct timespec phc;
  struct timespec sys_after;
} PHCR_Triplet;

/* What one ioctl returned (after conversion from the kernel structures). */
typedef struct {
  PHCR_Mode mode;
  int n;                                /* valid entries in t[] */
  PHCR_Triplet t[PHCR_MAX_SAMPLES];
  struct timespec sys_monoraw;          /* PRECISE only, else zero */
} PHCR_Reading;

/* Validation limits. */
typedef struct {
  double max_delay;        /* reject triplets with a larger delay (s);
                              default 1.0 */
} PHCR_ValidateConfig;

/* Remove invalid triplets from a reading in place, counting each reject in
   rejects[class] (rejects may be NULL).  System timestamps of consecutive
   triplets may overlap (timestamp noise larger than their spacing); a PHC
   timestamp going backwards by more than 1 ms invalidates the whole
   reading, as it cannot be told which is wrong.  Returns PHCR_OK if at least one triplet is left,
   PHCR_ERR_HOST_NOTSUPP if every triplet carried a copied system timestamp
   (the host did not answer), PHCR_ERR_INVALID otherwise (r->n is then 0). */
extern PHCR_Error PHCR_ValidateReading(PHCR_Reading *r,
                                       const PHCR_ValidateConfig *config,
                                       unsigned long rejects[PHCR_REJ_COUNT]);

/* ================================================== */
/* Filter: one reading -> one sample. */

typedef struct {
  double quantile;       /* fraction (0, 1] of the lowest-delay triplets
                            combined; default 0.4 (at least 1 is used) */
  double outlier_k;      /* drop selected triplets whose offset is further
                            than outlier_k * (their delay / 2) plus the best
                            triplet's delay / 2 from the median; default 2 */
  double precise_error;  /* error bound given to a PRECISE cross-timestamp
                            (s); default 100e-9 */
  double resolution;     /* added to every error bound (s), covers the PHC's
                            and the rounding's resolution; default 1e-9 */
} PHCR_FilterConfig;

/* One filtered sample. */
typedef struct {
  struct timespec sys;   /* system time of the sample (CLOCK_REALTIME as
                            read by the kernel, middle of the combined
                            triplets) */
  struct timespec phc;   /* PHC time at sys: sys + offset_ns */
  int64_t offset_ns;     /* phc - sys, exact integer nanoseconds (safe for
                            jumps of centuries) */
  double offset;         /* phc - sys in seconds (same value, rounded) */
  double delay;          /* smallest delay among the used triplets (s);
                            0 for PRECISE */
  double error;          /* bound: |true offset - offset| <= error (s), if
                            each used triplet's PHC read happened between its
                            two system reads */
  int n_used;            /* triplets combined */
  int n_total;           /* valid triplets in the reading */
  int n_outliers;        /* triplets dropped as outliers */
  PHCR_Mode mode;
} PHCR_Sample;

extern void PHCR_FilterConfigDefaults(PHCR_FilterConfig *config);

/* Combine a validated reading (n >= 1) into one sample.  Outliers are
   counted in rejects[PHCR_REJ_OUTLIER] if rejects is not NULL.  Returns
   PHCR_ERR_INVALID for an empty reading, PHCR_ERR_ARGS for NULL args. */
extern PHCR_Error PHCR_FilterReading(const PHCR_Reading *r,
                                     const PHCR_FilterConfig *config,
                                     PHCR_Sample *sample,
                                     unsigned long rejects[PHCR_REJ_COUNT]);

/* ================================================== */
/* Time helpers (exact, saturating at the int64 ns range). */

extern int64_t PHCR_TimespecToNs(const struct timespec *ts);
extern void PHCR_NsToTimespec(int64_t ns, struct timespec *ts);

#endif
