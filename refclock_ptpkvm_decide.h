/*
  chrony-ptpkvm -- decision loop of the PTPKVM reference clock driver

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

  What the driver does with each reading, without chrony: the reading, the
  correction chronyd applies to the clock and the time go in; "add this
  sample with this quality", "read again now", "flush", "step by x" and
  the cause of a jump come out.  This unit alone owns the jump detector's
  input: the offset watched (host clock minus chronyd's cooked time, with
  chronyd's own corrections taken out and the generic options' offset put
  in), the moments when the next reading must be judged as at a cold start
  (start, a step of the clock not made by this driver, an outage of
  readings), and the evidence of who moved the clock (REALTIME against
  MONOTONIC and BOOTTIME).  The driver (refclock_ptpkvm.c) executes the
  verdicts with chrony's functions.
  */

#ifndef REFCLOCK_PTPKVM_DECIDE_H
#define REFCLOCK_PTPKVM_DECIDE_H

#include <stdint.h>

#include "phcr.h"
#include "refclock_ptpkvm_policy.h"

/* Shortest time without a good reading, with failed reads in it, after
   which the next reading is judged as at a cold start */
#define PKD_OUTAGE_MIN 2.0

typedef enum {
  PKD_CAUSE_START = 0,     /* first reading after chronyd started */
  PKD_CAUSE_HOST_AHEAD,    /* host clock jumped ahead (VM paused) */
  PKD_CAUSE_HOST_BACK,     /* host clock jumped back (host clock stepped) */
  PKD_CAUSE_GUEST_STEP,    /* the guest clock was stepped by another program */
  PKD_CAUSE_SUSPEND,       /* the guest resumed from suspend */
  PKD_CAUSE_CHRONYD_STEP   /* chronyd stepped the clock for another source */
} PKD_Cause;

typedef enum {
  PKD_NONE = 0,            /* nothing to do about a jump */
  PKD_CONFIRM,             /* suspect jump: read again at once */
  PKD_FLUSH,               /* drop all samples as after an unknown step */
  PKD_STEP,                /* flush, then step the clock by step */
  PKD_NOTE                 /* a jump to log only (see why) */
} PKD_Action;

/* How chronyd changed its clock (its parameter change handler) */
typedef enum {
  PKD_CHANGE_ADJUST = 0,   /* slew or frequency change */
  PKD_CHANGE_STEP,         /* chronyd stepped the clock by a known offset */
  PKD_CHANGE_UNKNOWN_STEP  /* the clock jumped by an unknown amount */
} PKD_Change;

/* One reading as the driver saw it */
typedef struct {
  int64_t offset_ns;       /* phc - sys, exact ns */
  double error;            /* error bound of the offset (s) */
  int mode;                /* reading mode (PHCR_Mode) */
  int full;                /* a full read (may go to chronyd), not a sentinel */
  double correction;       /* chronyd's offset correction at the sys time (s):
                              cooked = raw + correction */
  double options_offset;   /* what the generic options (offset, tai) add to
                              the offset (s) */
  int may_step;            /* the source may move the clock (not noselect) */
  int normal_mode;         /* chronyd is in its normal mode */
  double now;              /* monotonic time of the reading (s) */
  double rt_mono;          /* REALTIME - MONOTONIC at the reading (s) */
  double boot_mono;        /* BOOTTIME - MONOTONIC at the reading (s) */
} PKD_Input;

typedef struct {
  PKD_Action action;
  int add;                 /* give the reading to chronyd (full reads) */
  int quality;             /* with add: 2 good, 1 worse than usual, 0 drop */
  double step;             /* PKD_STEP: move the clock forward by this (s) */
  double jump;             /* the confirmed jump of the offset (s) */
  PKD_Cause cause;
  PKP_Reason why;          /* why a jump was only flushed or noted */
  double latency;          /* running time since the last reading that
                              agreed with the estimate (s) */
  double gap;              /* > 0: first reading after this many seconds
                              without readings */
} PKD_Verdict;

typedef struct {
  const PKP_Options *opts;
  PHCR_JumpDetector detector;
  PKP_QualityTracker quality;

  long long adjusted_ns;   /* chronyd's doffsets since the history started */
  int fed;                 /* readings fed since the history started */
  int acting;              /* a FLUSH/STEP verdict is being executed */
  int steps;               /* steps done */
  int started;             /* a reading was judged since start */

  double last_normal;      /* time of the last reading agreeing with the
                              estimate */
  double last_good;        /* time of the last reading */
  int failed;              /* reads failed since the last reading */
  double gap;              /* of the pending cold judgement after an outage */

  /* Who moved the clock: REALTIME - MONOTONIC and BOOTTIME - MONOTONIC
     change only when the clock is stepped (by chronyd, this driver or
     another program) or the guest resumes from suspend */
  int have_clocks;
  double rt_mono, boot_mono;
  double known_steps;      /* chronyd's own steps since the last reading */
  double ext_step;         /* steps by others since the last normal reading */
  double slept;            /* suspend time since the last normal reading */
  int chronyd_stepped;     /* chronyd stepped the clock since then */
} PKD_State;

/* Returns 0 if the detector cannot be created */
extern int PKD_Init(PKD_State *d, const PKP_Options *opts, double now);
extern void PKD_Fini(PKD_State *d);

/* Judge a reading.  With PKD_CONFIRM, read again at once and pass that
   reading (until another action comes or reads fail). */
extern void PKD_Process(PKD_State *d, const PKD_Input *in, PKD_Verdict *v);

/* A read failed (or the device is missing) */
extern void PKD_ReadFailed(PKD_State *d);

/* chronyd changed its clock (ignored while a verdict is executed) */
extern void PKD_ClockChanged(PKD_State *d, PKD_Change change, double doffset);

/* The verdict v (PKD_FLUSH or PKD_STEP) was executed; stepped = the clock
   was stepped by v->step */
extern void PKD_Acted(PKD_State *d, const PKD_Verdict *v, int stepped, double now);

/* Short text of a cause, e.g. "host clock jumped ahead (VM paused?)" */
extern const char *PKD_CauseText(PKD_Cause cause);

#endif
