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

  Jump detector of phc_reader: pure logic fed with samples {time, offset,
  error bound}.  It keeps a robust estimate of offset and drift, and
  classifies each sample as NORMAL, SUSPECT (a discontinuity beyond the
  threshold plus a noise margin) or CONFIRMED (the suspect and the
  configured number of following samples agree on the same jump J, exact
  integer nanoseconds).  A single wild reading never confirms; consistent
  jumps from the threshold up to decades confirm with either sign.
  Deterministic: it reads no clock, the caller passes the times.
  */

#ifndef PHCR_JUMP_H
#define PHCR_JUMP_H

#include <stdint.h>

typedef enum {
  PHCR_JUMP_NORMAL = 0,    /* consistent with the estimate (also a sample
                              that dismisses a pending suspect) */
  PHCR_JUMP_SUSPECT = 1,   /* possible jump: take the confirming reads now
                              and feed them */
  PHCR_JUMP_CONFIRMED = 2  /* jump J confirmed: act, then PHCR_JumpReset() */
} PHCR_JumpState;

typedef struct {
  double threshold;      /* smallest jump reported (s); default 1e-3.  A
                            sample is a suspect when its deviation exceeds
                            the noise margin u and reaches threshold -
                            min(u, threshold / 4) */
  int confirmations;     /* agreeing samples needed after the suspect one;
                            default 2, 1..15 */
} PHCR_JumpConfig;

/* One input sample. */
typedef struct {
  double time;           /* caller's monotonic time of the sample (s) */
  int64_t offset_ns;     /* phc - sys, exact ns */
  double error;          /* error bound of the offset (s), >= 0 */
} PHCR_JumpInput;

typedef struct {
  PHCR_JumpState state;
  int64_t jump_ns;             /* J (offset change, exact ns): tentative for
                                  SUSPECT, final for CONFIRMED, else 0 */
  double jump;                 /* J in seconds */
} PHCR_JumpResult;

typedef struct PHCR_JumpDetector_Record *PHCR_JumpDetector;

extern void PHCR_JumpConfigDefaults(PHCR_JumpConfig *config);

/* config may be NULL (defaults).  Returns NULL on allocation failure. */
extern PHCR_JumpDetector PHCR_JumpCreate(const PHCR_JumpConfig *config);
extern void PHCR_JumpDestroy(PHCR_JumpDetector d);

/* Classify one sample (res may be NULL). */
extern PHCR_JumpState PHCR_JumpFeed(PHCR_JumpDetector d,
                                    const PHCR_JumpInput *in,
                                    PHCR_JumpResult *res);

/* Forget history and any pending suspect (call after acting on a confirmed
   jump: the caller's own step changes the offset by -J).  The first-sample
   rule stays disarmed. */
extern void PHCR_JumpReset(PHCR_JumpDetector d);

/* Like PHCR_JumpReset, and re-arm the first-sample rule: the first sample
   after create or ResetCold with |offset| beyond the threshold is a
   SUSPECT of J = offset (confirmed like any jump). */
extern void PHCR_JumpResetCold(PHCR_JumpDetector d);

#endif
