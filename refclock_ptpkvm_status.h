/*
  chrony-ptpkvm -- machine-readable state of the PTPKVM reference clock driver

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

  The state the PTPKVM driver shows to monitoring: reading mode, device,
  counters and a ring of the last PKS_RING disruptions (when, size,
  cause, detection delay, action).  The driver fills a PKS_Status and
  writes it as a small line-based text file (format version 1,
  docs/monitoring.md), replaced atomically by a rename; ptpkvm-doctor
  parses the same file with PKS_Parse.  Plain C and POSIX file calls
  only (open, write, close, rename, unlink: all in chronyd's -F 1
  seccomp list), so it builds and is unit-tested without chrony.
  */

#ifndef REFCLOCK_PTPKVM_STATUS_H
#define REFCLOCK_PTPKVM_STATUS_H

#include <stddef.h>
#include <time.h>

#define PKS_FORMAT_VERSION 1
#define PKS_RING 16             /* disruptions kept */
#define PKS_TEXT_MAX 320        /* human text of a disruption, one line */
#define PKS_NAME_MAX 256        /* device path */
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
  PKS_CAUSE_LEAP,         /* reserved keyword of the format */
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
  PKS_ACTION_CONFIRM,     /* a suspect jump: read again at once */
  PKS_ACTION_COUNT
} PKS_Action;

typedef struct {
  struct timespec when;   /* realtime (UTC) when it was acted upon */
  double size;            /* offset change (s), host minus guest */
  PKS_Cause cause;
  double delay;           /* detection delay (s of running time) */
  PKS_Action action;
  char text[PKS_TEXT_MAX];
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
  char device[PKS_NAME_MAX];    /* device in use, or the configured one */
  char mode[PKS_MODE_MAX];      /* mode of the last successful read */
  char best_mode[PKS_MODE_MAX]; /* best mode the device offers */
  struct timespec mode_since;   /* realtime of the last mode change */
  int failing;                  /* reads are failing now */
  PKS_Counters counters;
  unsigned long disruptions[PKS_CAUSE_COUNT]; /* totals per cause */
  int n_ring;                   /* disruptions in the ring */
  int ring_head;                /* index of the oldest one */
  PKS_Disruption ring[PKS_RING];
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
                              PKS_Action action, const char *text);

/* i-th disruption of the ring, 0 = oldest; NULL if out of range */
extern const PKS_Disruption *PKS_GetDisruption(const PKS_Status *st, int i);

extern const char *PKS_CauseName(PKS_Cause cause);
/* Human text of a cause, e.g. "host clock jumped ahead (VM paused?)" */
extern const char *PKS_CauseText(PKS_Cause cause);
extern const char *PKS_ActionName(PKS_Action action);

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

#endif
