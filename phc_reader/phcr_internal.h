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

  Declarations shared by the phc_reader modules and their tests, not
  installed: each group is defined by the file named above it.  The
  read path is phcr_reader.c (modes, fallback, re-probe, ioctl, errno
  class, validation, retries) -> phcr_filter.c (one sample).
  */

#ifndef PHCR_INTERNAL_H
#define PHCR_INTERNAL_H

#include "phcr.h"

#define PHCR_NS_PER_S 1000000000LL
/* Largest seconds value whose ns still fits in int64 (year 2262) */
#define PHCR_MAX_SEC (INT64_MAX / PHCR_NS_PER_S - 1)

/* ================================================== */
/* phcr_device.c */

/* Like PHCR_FindDevice, but on success the verified descriptor is left
   open in *fd. */
extern PHCR_Error PHCR_FindAndOpenDevice(const char *spec, const char *clock_name,
                                         PHCR_Discovery *out, int *fd);

/* ================================================== */
/* phcr_reader.c */

/* Map an errno of a reading ioctl in a mode to its class. */
extern PHCR_Error PHCR_ErrorFromErrno(int sys_errno, PHCR_Mode mode);

/* Remove invalid triplets from a reading in place (check_triplet()); a PHC
   timestamp going backwards by more than 1 ms invalidates the whole
   reading.  Returns PHCR_OK if a triplet is left, PHCR_ERR_HOST_NOTSUPP if
   every triplet carried a copied system timestamp (the host did not
   answer), else PHCR_ERR_INVALID (r->n is then 0). */
extern PHCR_Error PHCR_ValidateReading(PHCR_Reading *r);

/* ================================================== */
/* phcr_filter.c */

/* What the filter learns of a device over its readings (all zero at
   first) */
typedef struct {
  double noise_var;       /* timestamp noise of the triplets, ns^2 */
  double diff_var;        /* of the difference of neighbours sharing a
                             system timestamp, ns^2 */
  double precise_var;     /* noise of the cross-timestamps, ns^2 */
  int64_t mid[2];         /* the last two cross-timestamps: system time */
  int64_t offset[2];      /* and offset (ns) */
  int n_precise;          /* of them held (0..2) */
} PHCR_FilterState;

/* Combine a validated reading (n >= 1) into one sample, updating *state
   (NULL: this reading alone).  Returns PHCR_ERR_INVALID for an empty
   reading, PHCR_ERR_ARGS for NULL args. */
extern PHCR_Error PHCR_FilterReading(const PHCR_Reading *r, PHCR_FilterState *state,
                                     PHCR_Sample *sample);

/* Exact, saturating at the int64 ns range */
extern int64_t PHCR_TimespecToNs(const struct timespec *ts);
extern void PHCR_NsToTimespec(int64_t ns, struct timespec *ts);

/* k-th smallest (0-based) of v[0..n-1], n >= 1, 0 <= k < n; reorders v */
extern double PHCR_SelectKthDouble(double *v, int n, int k);

#endif
