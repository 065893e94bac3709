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

  The PHC reader: an open device plus its reading-mode state machine.  A
  read tries PRECISE -> EXTENDED -> basic PTP_SYS_OFFSET (original ioctl
  numbers only; GETCAPS only at open), falls back within the same call
  when the current mode fails, periodically re-probes better modes, and
  reports every mode change and failure in the result, so it never goes
  silent.  Each successful read is validated and filtered into one sample.
  No allocation and no clock reads on the read path: the caller passes its
  own monotonic time.
  */

#ifndef PHCR_READER_H
#define PHCR_READER_H

#include "phcr_device.h"
#include "phcr_error.h"
#include "phcr_ops.h"
#include "phcr_sample.h"

/* Mode exclusion flags (PHCR_Config.flags). */
#define PHCR_FLAG_NOCROSSTS   0x1  /* never use PRECISE */
#define PHCR_FLAG_NOEXTENDED  0x2  /* never use EXTENDED */

typedef struct {
  unsigned int flags;        /* PHCR_FLAG_* */
  int n_samples;             /* samples per read for EXTENDED/basic when
                                PHCR_Read is given 0; 1..25, default 10 */
  int reprobe_reads;         /* re-try better modes after this many reads in
                                a worse mode; 0 = never by count;
                                default 16 */
  double reprobe_interval;   /* ... or after this many seconds of caller
                                time; 0 = never by time; default 60 */
  int max_retries;           /* EINTR/EAGAIN/EBUSY/garbage retries per mode
                                and read; default 3 */
  PHCR_ValidateConfig validate;
  PHCR_FilterConfig filter;
} PHCR_Config;

extern void PHCR_ConfigDefaults(PHCR_Config *config);

/* Event flags of one read (PHCR_Result.events). */
#define PHCR_EVENT_MODE_CHANGED 0x01 /* mode differs from the previous
                                        successful read's (prev_mode) */
#define PHCR_EVENT_FALLBACK     0x02 /* a better mode failed in this call and
                                        a worse one was used */
#define PHCR_EVENT_REPROBE      0x04 /* better modes were re-probed */
#define PHCR_EVENT_UPGRADE      0x08 /* a re-probe succeeded */
#define PHCR_EVENT_DISABLED     0x10 /* a mode was disabled for good (the
                                        device does not implement it) */
#define PHCR_EVENT_RETRIED      0x20 /* transient errors were retried */
#define PHCR_EVENT_REJECTS      0x40 /* validation rejected triplets */
#define PHCR_EVENT_FAILED       0x80 /* no mode produced a sample */

/* What happened to one mode during one read. */
typedef struct {
  int attempts;          /* ioctls issued in this mode (0 = not tried) */
  PHCR_Error error;      /* PHCR_OK if it succeeded or was not tried */
  int sys_errno;         /* errno of the last failure, 0 if none */
} PHCR_ModeAttempt;

typedef struct {
  PHCR_Error error;      /* same as the return value of the read */
  int sys_errno;         /* on failure: errno of the last mode tried (the
                            error's cause), 0 if none (e.g. invalid data) */
  unsigned int events;   /* PHCR_EVENT_* */
  PHCR_Mode mode;        /* mode of this sample (NONE if failed) */
  PHCR_Mode prev_mode;   /* mode of the previous successful read */
  PHCR_ModeAttempt attempt[PHCR_MODE_COUNT];  /* indexed by PHCR_Mode */
  int retries;           /* retried ioctls in this call */
  int rejected;          /* triplets rejected by validation in this call */
  int device_samples;    /* device readings requested (hypercalls) */
  PHCR_Reading reading;  /* the validated reading the sample came from */
  PHCR_Sample sample;    /* valid if error == PHCR_OK */
} PHCR_Result;

/* Cumulative counters of a reader. */
typedef struct {
  unsigned long reads;                       /* PHCR_Read + sentinel calls */
  unsigned long ok_reads;
  unsigned long failed_reads;
  unsigned long sentinel_reads;
  unsigned long mode_reads[PHCR_MODE_COUNT]; /* successful reads per mode */
  unsigned long errors[PHCR_ERR_COUNT];      /* failed ioctls per class */
  unsigned long rejects[PHCR_REJ_COUNT];     /* rejected triplets per class */
  unsigned long retries;
  unsigned long ioctls;                      /* reading ioctls issued */
  unsigned long device_samples;              /* device readings (hypercalls
                                                for ptp_kvm) */
  unsigned long mode_changes;
  unsigned long reprobes;
  unsigned long reopens;
} PHCR_Counters;

typedef struct PHCR_Reader_Record *PHCR_Reader;

/* Discover (see PHCR_FindDevice), open and verify the device, and create a
   reader.  env and config may be NULL (defaults); env->root is copied.
   disc may be NULL; if given it receives the choice and its reason or the
   error text.  Modes that GETCAPS says are unsupported (no
   cross_timestamping -> no PRECISE) are excluded like the flags. */
extern PHCR_Error PHCR_Open(const PHCR_Env *env, const char *spec,
                            const char *clock_name, const PHCR_Config *config,
                            PHCR_Reader *reader, PHCR_Discovery *disc);

extern void PHCR_Close(PHCR_Reader reader);

/* After PHCR_ERR_GONE: close the fd and discover/open again with the same
   spec; the mode state restarts from the best allowed mode, counters are
   kept.  On failure the reader stays usable for another PHCR_Reopen (reads
   return PHCR_ERR_GONE meanwhile). */
extern PHCR_Error PHCR_Reopen(PHCR_Reader reader, PHCR_Discovery *disc);

/* One full read: n_samples triplets (0 = config default, clamped to
   1..25; PRECISE always takes one cross-timestamp), validated and
   filtered into res->sample.  now is the caller's monotonic time in
   seconds (used for the re-probe interval only).  Returns PHCR_OK or the
   error of the last mode tried; res is always filled. */
extern PHCR_Error PHCR_Read(PHCR_Reader reader, int n_samples, double now,
                            PHCR_Result *res);

/* Cheap read: one device sample in the current mode (falls back like
   PHCR_Read, never re-probes). */
extern PHCR_Error PHCR_ReadSentinel(PHCR_Reader reader, double now,
                                   PHCR_Result *res);

/* Retry after failures: one device sample in the current mode, falling
   back like PHCR_ReadSentinel except past a mode whose host cannot answer
   (one failed hypercall, one guest kernel log line, per probe). */
extern PHCR_Error PHCR_ReadProbe(PHCR_Reader reader, double now,
                                 PHCR_Result *res);

extern PHCR_Mode PHCR_GetMode(PHCR_Reader reader);
/* Best mode the reader may still use (after flags, caps and disabling). */
extern PHCR_Mode PHCR_GetBestMode(PHCR_Reader reader);
extern const char *PHCR_GetPath(PHCR_Reader reader); /* without root */
extern void PHCR_GetCounters(PHCR_Reader reader, PHCR_Counters *counters);

/* Map an errno of a reading ioctl in a mode to its class. */
extern PHCR_Error PHCR_ErrorFromErrno(int sys_errno, PHCR_Mode mode);

#endif
