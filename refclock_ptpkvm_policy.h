/*
  chrony-ptpkvm -- policy of the PTPKVM reference clock driver

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

  The pure decisions of the PTPKVM driver, kept apart from chrony so that
  they build and are unit-tested without it: the driver options (names,
  defaults, parsing and validation with messages naming the valid form),
  what to do with a confirmed jump (step, flush only, or nothing), the
  quality of a sample, the open and read retry backoffs, when a sentinel
  read is due, and the failure/recovery log state.
  Nothing here reads a clock or touches a device.
  */

#ifndef REFCLOCK_PTPKVM_POLICY_H
#define REFCLOCK_PTPKVM_POLICY_H

#include <stddef.h>

/* Defaults of the driver options (see docs/configuration.md) */
#define PKP_DEFAULT_SAMPLES 10
#define PKP_DEFAULT_STEP 1.0e-3
#define PKP_DEFAULT_JUMP 1.0e-3
#define PKP_DEFAULT_CONFIRM 2
#define PKP_DEFAULT_MAXSTEPS (-1)
#define PKP_DEFAULT_SENTINEL 0.2
#define PKP_DEFAULT_REPROBE 60.0

/* Limits of the option values */
#define PKP_MAX_SAMPLES 25
#define PKP_MIN_JUMP 10.0e-6
#define PKP_MAX_CONFIRM 10
#define PKP_MIN_SENTINEL 0.01
#define PKP_MAX_SENTINEL 60.0
#define PKP_MAX_STEP 1.0e9
#define PKP_MAX_JUMP 1.0e9
#define PKP_MAX_MAXSTEPS 1000000000
#define PKP_MAX_REPROBE 1.0e6

#define PKP_CLOCKNAME_MAX 64

/* After a flush, poll this many times at this interval (s): chronyd
   selects a source with at least 3 samples, so it is synchronised again
   0.3 s after a step instead of 3 s */
#define PKP_BURST_POLLS 3
#define PKP_BURST_INTERVAL 0.1

typedef struct {
  int nocrossts;          /* never use PTP_SYS_OFFSET_PRECISE */
  int noextended;         /* never use PTP_SYS_OFFSET_EXTENDED */
  int samples;            /* device readings per full read (1..25) */
  double step;            /* step when |jump| >= step (s); 0 = never step */
  double jump;            /* smallest offset jump acted upon (s) */
  int confirm;            /* agreeing reads needed after a suspect one */
  int maxsteps;           /* steps allowed; -1 = unlimited */
  double sentinel;        /* interval of 1-reading checks (s); 0 = off */
  double reprobe;         /* re-try better reading modes after (s); 0 = no */
  char clockname[PKP_CLOCKNAME_MAX]; /* clock_name matched by "auto" */
} PKP_Options;

/* Option names, NULL-terminated (for RCL_CheckDriverOptions); taken from
   the same table as the valid forms */
extern const char **PKP_OptionNames(void);

/* Valid form of an option, e.g. "samples=<1-25>", or NULL if unknown */
extern const char *PKP_OptionForm(const char *name);

extern void PKP_DefaultOptions(PKP_Options *opts);

/* Return the value of an option: "" for a bare flag, NULL if absent */
typedef const char *(*PKP_OptionGetter)(void *arg, const char *name);

/* Parse and validate all options.  Returns 1, or 0 with a message naming
   the option and its valid form in err. */
extern int PKP_ParseOptions(PKP_Options *opts, PKP_OptionGetter get, void *arg,
                            char *err, size_t err_len);

/* ================================================== */
/* What to do with a confirmed jump */

typedef enum {
  PKP_ACT_IGNORE = 0,     /* only restart the detector (chronyd not in its
                             normal mode, e.g. -q/-Q: it handles offsets;
                             or a source that may not move the clock) */
  PKP_ACT_FLUSH = 1,      /* drop all samples as after an unknown step */
  PKP_ACT_STEP = 2        /* flush, then step the clock */
} PKP_Action;

typedef enum {
  PKP_WHY_STEP = 0,       /* |jump| >= step threshold, limit not reached */
  PKP_WHY_NOT_NORMAL,     /* chronyd not in normal mode */
  PKP_WHY_DISABLED,       /* step=0 */
  PKP_WHY_BELOW,          /* |jump| < step threshold */
  PKP_WHY_LIMIT,          /* maxsteps steps done already */
  PKP_WHY_NOSELECT,       /* the source may not move the clock (noselect) */
  PKP_WHY_STEP_FAILED     /* the step was decided, but chronyd could not
                             step the clock */
} PKP_Reason;

/* may_step: the source may move the clock (chronyd's generic options) */
extern PKP_Action PKP_DecideJump(const PKP_Options *opts, double jump,
                                 int steps_done, int normal_mode,
                                 int may_step, PKP_Reason *why);

/* What a flush or a note did instead of a step, for the log line */
extern const char *PKP_ReasonText(PKP_Reason why);

/* ================================================== */
/* Sample quality: 2 good, 1 usable but worse than usual, 0 drop it */

#define PKP_QUALITY_WINDOW 16

typedef struct {
  double error[PKP_QUALITY_WINDOW];
  int n, pos;
  int mode;
} PKP_QualityTracker;

extern void PKP_QualityInit(PKP_QualityTracker *q);

/* Assess a sample's error bound against the recent ones of the same
   reading mode (a mode change restarts the window), then record it. */
extern int PKP_QualityAssess(PKP_QualityTracker *q, double error, int mode);

/* ================================================== */
/* Device/read failures: log one line when they start, one at recovery.
   A failure that starts less than PKP_HEALTH_QUIET seconds after the last
   logged one is not logged (nor its recovery) unless it lasts that long;
   the next logged failure says how many were left out. */

#define PKP_HEALTH_QUIET 60.0

typedef enum {
  PKP_HEALTH_SAME = 0,
  PKP_HEALTH_FAILING,     /* failure to log (first after working, or a
                             quiet one that lasted PKP_HEALTH_QUIET) */
  PKP_HEALTH_RECOVERED    /* first success after a logged failure */
} PKP_HealthEvent;

typedef struct {
  int failing;
  int logged;             /* the current failure was logged */
  unsigned long failures; /* consecutive failed reads */
  double since;           /* time of the first failure */
  int have_logged;
  double last_logged;     /* time of the last logged failure */
  unsigned long unlogged; /* failures not logged since then */
  unsigned long skipped;  /* with PKP_HEALTH_FAILING: failures left out
                             before this one */
} PKP_Health;

extern void PKP_HealthInit(PKP_Health *h);
extern PKP_HealthEvent PKP_HealthUpdate(PKP_Health *h, int ok, double now);

/* Delay before the next open/reopen attempt after n consecutive failed
   attempts (n >= 1): 1, 2, 4, then 8 s (a failed attempt only lists
   /sys/class/ptp and tries to open a file). */
extern double PKP_Backoff(int n);

/* Delay before the next read after n consecutive failed reads (n >= 1):
   2, 4, 8, 16, 32, then 60 s.  Every failed hypercall makes the guest
   kernel log a line; a host that cannot answer may never answer again. */
#define PKP_MAX_RETRY_DELAY 60.0
extern double PKP_RetryDelay(int n);

/* Is a sentinel read due?  interval = the driver's poll interval, since =
   time since the last full read.  Skipped when off, when the device is not
   usable, and when the last or the next full read is less than half a
   sentinel interval away (it looks anyway). */
extern int PKP_SentinelDue(const PKP_Options *opts, double interval,
                           double since, int usable);

#endif
