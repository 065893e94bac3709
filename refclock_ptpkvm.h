/*
  chrony-ptpkvm -- the chrony-free units of the PTPKVM reference clock driver

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

  What the PTPKVM driver (refclock_ptpkvm.c) does without chrony, built
  and unit-tested without it: its options (PKP_), its status file (PKS_;
  both linked by ptpkvm-doctor too) and its decisions (PKD_), which read
  no clock: the caller passes the times.
  */

#ifndef REFCLOCK_PTPKVM_H
#define REFCLOCK_PTPKVM_H

#include "phcr.h"

/* ================================================== */
/* Options */

/* Limits that size arrays (the others are in the table) */
#define PKP_MAX_CONFIRM 10

typedef struct {
  int nocrossts;          /* never use PTP_SYS_OFFSET_PRECISE */
  int noextended;         /* never use PTP_SYS_OFFSET_EXTENDED */
  int samples;            /* device readings per full read */
  double step;            /* step when |jump| >= step (s); 0 = never step */
  double jump;            /* smallest offset jump acted upon (s) */
  int confirm;            /* agreeing reads needed after a suspect one */
  int maxsteps;           /* steps allowed; -1 = unlimited */
  double sentinel;        /* interval of 1-reading checks (s); 0 = off */
  double reprobe;         /* re-try better reading modes after (s); 0 = no */
  char clockname[PHCR_NAME_MAX]; /* clock_name matched by "auto" */
} PKP_Options;

/* Option names, NULL-terminated (for RCL_CheckDriverOptions); taken from
   the same table as the valid forms */
extern const char **PKP_OptionNames(void);

/* Return the value of an option: "" for a bare flag, NULL if absent */
typedef const char *(*PKP_OptionGetter)(void *arg, const char *name);

/* Parse and validate all options.  Returns 1, or 0 with a message naming
   the option and its valid form in err. */
extern int PKP_ParseOptions(PKP_Options *opts, PKP_OptionGetter get, void *arg,
                            char *err, size_t err_len);

/* ================================================== */
/* Status file */

#define PKS_FORMAT_VERSION 1
#define PKS_RING 16             /* disruptions kept */
#define PKS_MODE_MAX 16         /* reading mode name */
#define PKS_FILE_MAX 16384      /* upper bound of a status file */
#define PKS_FILE_PREFIX "ptpkvm-"
#define PKS_FILE_SUFFIX ".status"

/* Causes of a disruption (refclock_ptpkvm_decide.c finds them) */
typedef enum {
  PKS_CAUSE_PAUSE = 0,    /* the VM was paused (host clock ahead) */
  PKS_CAUSE_HOST_STEP,    /* the host's clock was stepped */
  PKS_CAUSE_GUEST_STEP,   /* the guest's clock was stepped by another program */
  PKS_CAUSE_SUSPEND,      /* the guest resumed from suspend */
  PKS_CAUSE_OUTAGE,       /* first reading after an outage of readings */
  PKS_CAUSE_COLD_START,   /* offset found at the first reading */
  PKS_CAUSE_CHRONYD_STEP, /* chronyd stepped the clock for another source */
  PKS_CAUSE_OTHER,        /* a keyword this version does not know */
  PKS_CAUSE_COUNT
} PKS_Cause;

/* What the driver does with a reading (refclock_ptpkvm_decide.c decides
   it); a disruption's action is NONE, FLUSH or STEP */
typedef enum {
  PKS_ACTION_NONE = 0,    /* nothing (a sentinel reading, a jump only
                             recorded) */
  PKS_ACTION_FLUSH,       /* drop all samples as after an unknown step */
  PKS_ACTION_STEP,        /* flush, then step the clock */
  PKS_ACTION_ADD,         /* give the reading to chronyd */
  PKS_ACTION_CONFIRM      /* a suspect jump: read again at once */
} PKS_Action;

typedef struct {
  struct timespec when;   /* realtime (UTC) when it was acted upon */
  double size;            /* offset change (s), host minus guest */
  PKS_Cause cause;
  double delay;           /* detection delay (s of running time) */
  PKS_Action action;      /* written with the cause's text */
} PKS_Disruption;

typedef struct {
  unsigned long reads;          /* full and sentinel reads */
  unsigned long read_failures;
  unsigned long samples;        /* samples given to chronyd */
  unsigned long steps;
  unsigned long flushes;
} PKS_Counters;

typedef struct {
  long pid;                     /* chronyd */
  int running;                  /* 0 once chronyd has stopped */
  char device[PHCR_PATH_MAX];   /* device in use, or the configured one */
  char mode[PKS_MODE_MAX];      /* mode of the last successful read */
  char best_mode[PKS_MODE_MAX]; /* best mode the device offers */
  struct timespec mode_since;   /* realtime of the last mode change */
  int failing;                  /* reads are failing now */
  PKS_Counters counters;
  unsigned long disruptions[PKS_CAUSE_COUNT]; /* totals per cause */
  int n_ring;                   /* disruptions in the ring */
  PKS_Disruption ring[PKS_RING];  /* oldest first */
} PKS_Status;

extern void PKS_Init(PKS_Status *st, long pid, const char *device);

/* Record the driver's state.  mode_since follows mode changes.  Returns 1
   if the device, a mode or failing changed (news to write at once). */
extern int PKS_SetState(PKS_Status *st, const char *device, const char *mode,
                         const char *best_mode, int failing,
                         const struct timespec *now);

/* Record a disruption the driver acted upon (the oldest is dropped from
   a full ring; the totals per cause count every one) */
extern void PKS_AddDisruption(PKS_Status *st, const struct timespec *when,
                              double size, PKS_Cause cause, double delay,
                              PKS_Action action);

/* Names of the causes and of a disruption's actions (NONE, FLUSH, STEP) as
   the file writes them; the human text of a cause, e.g. "host clock jumped
   ahead (VM paused?)" */
extern const char *const PKS_CauseNames[PKS_CAUSE_COUNT];
extern const char *const PKS_ActionNames[PKS_ACTION_STEP + 1];
extern const char *const PKS_CauseTexts[PKS_CAUSE_COUNT];

/* Path of the status file of the index-th PTPKVM refclock: in the
   directory of chronyd's command socket.  Returns 0 if there is none or
   the path does not fit. */
extern int PKS_MakePath(char *buf, size_t len, const char *socket_path, int index);

/* Write the file atomically (a temporary file in the same directory,
   mode 0644, renamed over path).  Returns 1 written, -errno on error. */
extern int PKS_Write(const PKS_Status *st, const char *path);

/* Parse the text of a status file.  Returns 1, or 0 with a message naming
   the line and the problem in err. */
extern int PKS_Parse(const char *text, PKS_Status *st, char *err, size_t err_len);

/* ================================================== */
/* Decisions */

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
