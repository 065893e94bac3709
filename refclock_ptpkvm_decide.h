/*
  chrony-ptpkvm -- decisions of the PTPKVM reference clock driver

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

  Everything the driver decides, without chrony: what to do with each
  reading (add it with a quality, read again at once to confirm a suspect
  jump, flush, step by x; the actions of refclock_ptpkvm_status.h) and the
  cause of a jump, from a jump detector on the offset between the host
  clock and chronyd's cooked time; when the failures of reads are worth a
  log line; the retry backoffs and when a sentinel read is due.  The
  driver (refclock_ptpkvm.c) executes the verdicts with chrony's
  functions.  The decisions read no clock: the caller passes the times.
  */

#ifndef REFCLOCK_PTPKVM_DECIDE_H
#define REFCLOCK_PTPKVM_DECIDE_H

#include <stdint.h>

#include "refclock_ptpkvm_opts.h"
#include "refclock_ptpkvm_status.h"

/* Shortest time without a good reading, with failed reads in it, after
   which the next reading is judged as at a cold start */
#define PKD_OUTAGE_MIN 2.0

/* After a flush, poll this many times at this interval (s): chronyd
   selects a source with at least 3 samples, so it is synchronised again
   0.3 s after a step instead of 3 s */
#define PKD_BURST_POLLS 3
#define PKD_BURST_INTERVAL 0.1

/* How chronyd changed its clock (its parameter change handler) */
typedef enum {
  PKD_CHANGE_ADJUST = 0,   /* slew or frequency change */
  PKD_CHANGE_STEP,         /* the clock was stepped by a known offset */
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
  PKS_Action action;       /* NONE, ADD, CONFIRM, FLUSH or STEP */
  int quality;             /* with ADD: 2 good, 1 worse than usual, 0 drop */
  int jumped;              /* a jump was confirmed: log and record it */
  double jump;             /* the jump of the offset (s), tentative with
                              CONFIRM */
  double step;             /* with STEP: move the clock forward by this (s) */
  PKS_Cause cause;         /* of the jump */
  const char *why;         /* with a jump not stepped: what is done
                              instead, e.g. "below the step threshold,
                              slewing" */
  double latency;          /* running time since the last reading that
                              agreed with the estimate (s) */
  double gap;              /* > 0: first reading after this many seconds
                              without readings */
} PKD_Verdict;

/* The jump detector's view: a reading of the watched offset */
typedef struct {
  double time;             /* monotonic time (s) */
  int64_t offset_ns;       /* exact ns */
  double error;            /* error bound (s), >= 0 */
} PKD_Point;

/* A robust line through the detector's history */
typedef struct {
  int valid;
  int warmup;              /* no drift estimate yet */
  double t_ref;            /* time of the reference point */
  int64_t off_ref_ns;      /* offset at t_ref */
  double drift, drift_err; /* s/s */
  double noise;            /* robust std-dev of the residuals (s) */
  double hist_err;         /* mean error bound of the history (s) */
} PKD_Model;

#define PKD_HISTORY 16
#define PKD_QUALITY_WINDOW 16

typedef struct {
  const PKP_Options *opts;

  /* Jump detector: the last normal readings, a pending suspect (cand[0])
     and its confirming readings */
  PKD_Point hist[PKD_HISTORY];
  int n, first;
  int first_armed;         /* the next reading may be a jump from 0 */
  PKD_Point cand[PKP_MAX_CONFIRM + 1];
  int64_t cand_dev[PKP_MAX_CONFIRM + 1];
  int n_cand;
  PKD_Model cand_model;
  double pred_noise;       /* slow estimate of the prediction error (s) */
  unsigned long pred_noise_n;
  double prior_drift;      /* drift before the last reset: a step changes
                              the offset, not the rates */
  int have_prior;

  /* Quality: the error bounds of the recent readings of one mode */
  double q_error[PKD_QUALITY_WINDOW];
  int q_n, q_pos, q_mode;

  long long adjusted_ns;   /* chronyd's doffsets since the history started */
  int fed;                 /* readings fed since the history started */
  int steps;               /* steps done */
  int started;             /* a reading was judged since start */
  int own_flush;           /* the last verdict's flush and step, until they */
  double own_step;         /* come back through chronyd's handler */

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

extern void PKD_Init(PKD_State *d, const PKP_Options *opts, double now);

/* Judge a reading.  With CONFIRM, read again at once and pass that
   reading (until another action comes or reads fail).  A STEP or FLUSH is
   executed before chronyd's handler is called again. */
extern void PKD_Process(PKD_State *d, const PKD_Input *in, PKD_Verdict *v);

/* A read failed (or the device is missing) */
extern void PKD_ReadFailed(PKD_State *d);

/* chronyd changed its clock (doffset as given to its handlers) */
extern void PKD_ClockChanged(PKD_State *d, PKD_Change change, double doffset);

/* ================================================== */
/* Device/read failures: log one line when they start, one at recovery.
   A failure that starts less than PKD_HEALTH_QUIET seconds after the last
   logged one is logged (with its recovery) only if it lasts that long. */

#define PKD_HEALTH_QUIET 60.0

typedef enum {
  PKD_HEALTH_SAME = 0,
  PKD_HEALTH_FAILING,     /* failure to log */
  PKD_HEALTH_RECOVERED    /* first success after a logged failure */
} PKD_HealthEvent;

typedef struct {
  int failing;
  int logged;             /* the current failure was logged */
  unsigned long failures; /* failed reads of the current (or last) failure */
  double since;           /* time of its first failed read */
  double quiet_until;     /* a failure starting before is not logged at once */
} PKD_Health;

extern PKD_HealthEvent PKD_HealthUpdate(PKD_Health *h, int ok, double now);

/* Delay after n consecutive failures (n >= 1): first, doubled each time,
   at most max.  Open attempts: 1, 2, 4, 8 s (a failed one only lists
   /sys/class/ptp).  Reads: 2, 4 ... 32, then 60 s (every failed hypercall
   makes the guest kernel log a line). */
#define PKD_OPEN_DELAY 1.0
#define PKD_OPEN_DELAY_MAX 8.0
#define PKD_READ_DELAY 2.0
#define PKD_READ_DELAY_MAX 60.0
extern double PKD_Backoff(int n, double first, double max);

/* Is a sentinel read due?  interval = the driver's poll interval, since =
   time since the last full read.  Skipped when off, when the device is not
   usable, and when the last or the next full read is less than half a
   sentinel interval away (it looks anyway). */
extern int PKD_SentinelDue(const PKP_Options *opts, double interval,
                           double since, int usable);

#endif
