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

  phc_reader, the library that reads a PTP hardware clock (ptp_kvm in
  particular) reliably (docs/phc_reader.md).  Discovery chooses a PHC of
  /sys/class/ptp by path or clock_name and says why.  A reader is an open
  device plus its reading-mode state machine: a read tries PRECISE ->
  EXTENDED -> basic PTP_SYS_OFFSET, falls back within the same call,
  periodically re-probes better modes, and reports every mode change and
  failure in the result, so it never goes silent.  Each successful read is
  validated and filtered into one sample.  No allocation and no clock
  reads on the read path: the caller passes its own monotonic time.  The
  library uses only open/read/close/ioctl/fstat and
  opendir/readdir/closedir, which chronyd's seccomp filter allows.
  */

#ifndef PHCR_H
#define PHCR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/* Error classes (the errno each stands for is in its PHCR_ErrorString()).
   The numbers are stable: a new class gets a new number. */
typedef enum {
  PHCR_OK = 0,
  PHCR_ERR_HOST_NOTSUPP = 1, /* the host cannot answer, or no such mode */
  PHCR_ERR_CLOCKSOURCE = 2,  /* no PRECISE with the guest's clocksource */
  PHCR_ERR_RETRY = 3,        /* transient failure after the retries */
  PHCR_ERR_GONE = 4,         /* device removed: the caller reopens */
  PHCR_ERR_INVALID = 5,      /* the device returned garbage readings */
  PHCR_ERR_NODEVICE = 6,     /* discovery found no matching device */
  PHCR_ERR_NOTPHC = 7,       /* the file is not a PHC (GETCAPS failed) */
  PHCR_ERR_ACCESS = 8,       /* EACCES/EPERM opening the device */
  PHCR_ERR_ARGS = 9,         /* invalid arguments */
  PHCR_ERR_OTHER = 10,       /* any other errno (see the attempt record) */
  PHCR_ERR_COUNT             /* number of codes, not a code */
} PHCR_Error;

/* Short human message of an error code (never NULL) */
extern const char *PHCR_ErrorString(PHCR_Error code);

#define PHCR_DEFAULT_CLOCK_NAME "KVM virtual PTP"
#define PHCR_KVM_SYMLINK "/dev/ptp_kvm"

#define PHCR_PATH_MAX 256
#define PHCR_NAME_MAX 64
#define PHCR_ERRTEXT_MAX 1024
#define PHCR_MAX_DEVICES 32

/* One PHC listed in /sys/class/ptp. */
typedef struct {
  int index;                      /* N of ptpN */
  char dev_path[PHCR_PATH_MAX];   /* "/dev/ptpN" */
  char clock_name[PHCR_NAME_MAX]; /* "" if unreadable */
} PHCR_DeviceInfo;

/* Result of discovery. */
typedef struct {
  char path[PHCR_PATH_MAX];        /* chosen device */
  char clock_name[PHCR_NAME_MAX];  /* its clock_name if known, else "" */
  dev_t rdev;                      /* its device number */
  int cross_timestamping;          /* from PTP_CLOCK_GETCAPS */
  char why[320];                   /* e.g. "/dev/ptp2: clock_name 'KVM
                                      virtual PTP'" */
  char error[PHCR_ERRTEXT_MAX];    /* on failure: what was tried and the
                                      PHCs found with their clock_names */
  int sys_errno;                   /* errno of the decisive failure, or 0 */
} PHCR_Discovery;

/* List the PHCs of /sys/class/ptp sorted by index.  Fills at most max
   entries and returns the number found (which may exceed max), or -1 if
   the directory cannot be read. */
extern int PHCR_ListDevices(PHCR_DeviceInfo *devices, int max);

/* Is spec a device that discovery can ever resolve: "auto" or an absolute
   path?  Returns 1, or 0 with a message naming the valid forms in err. */
extern int PHCR_CheckSpec(const char *spec, char *err, size_t err_len);

/* Choose a device: spec is one PHCR_CheckSpec accepts (NULL means
   "auto"): the first PHC whose clock_name is clock_name (NULL or "" means
   PHCR_DEFAULT_CLOCK_NAME), then, for that name only, PHCR_KVM_SYMLINK
   unless it leads to a PHC with another clock_name.  The device is
   verified with PTP_CLOCK_GETCAPS, then closed.  Returns PHCR_OK and fills
   out, or an error code with out->error explaining it. */
extern PHCR_Error PHCR_FindDevice(const char *spec, const char *clock_name,
                                  PHCR_Discovery *out);

/* Same as PTP_MAX_SAMPLES of <linux/ptp_clock.h>. */
#define PHCR_MAX_SAMPLES 25
/* Defaults of PHCR_Config */
#define PHCR_DEFAULT_SAMPLES 10
#define PHCR_DEFAULT_REPROBE 60.0

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

/* What one ioctl returned, after validation. */
typedef struct {
  PHCR_Mode mode;
  int n;                                /* valid entries in t[] */
  PHCR_Triplet t[PHCR_MAX_SAMPLES];
} PHCR_Reading;

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
  PHCR_Mode mode;
} PHCR_Sample;

/* Mode exclusion flags (PHCR_Config.flags). */
#define PHCR_FLAG_NOCROSSTS   0x1  /* never use PRECISE */
#define PHCR_FLAG_NOEXTENDED  0x2  /* never use EXTENDED */

typedef struct {
  unsigned int flags;        /* PHCR_FLAG_* */
  int n_samples;             /* samples per read for EXTENDED/basic when
                                PHCR_Read is given 0; 1..PHCR_MAX_SAMPLES */
  double reprobe_interval;   /* re-try better modes after this many seconds
                                of caller time in a worse mode; 0 = never */
} PHCR_Config;

extern void PHCR_ConfigDefaults(PHCR_Config *config);

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
  PHCR_Mode mode;        /* mode of this sample (NONE if failed) */
  PHCR_Mode prev_mode;   /* mode of the previous successful read */
  PHCR_ModeAttempt attempt[PHCR_MODE_COUNT];  /* indexed by PHCR_Mode */
  PHCR_Reading reading;  /* the validated reading the sample came from */
  PHCR_Sample sample;    /* valid if error == PHCR_OK */
} PHCR_Result;

/* Cumulative counters of a reader. */
typedef struct {
  unsigned long reads;            /* PHCR_Read, sentinel and probe calls */
  unsigned long sentinel_reads;   /* sentinel and probe calls */
  unsigned long failed_reads;
} PHCR_Counters;

typedef struct PHCR_Reader_Record *PHCR_Reader;

/* Discover (see PHCR_FindDevice), open and verify the device, and create a
   reader.  disc may be NULL; if given it receives the choice and its
   reason or the error text.  Modes that GETCAPS says are unsupported (no
   cross_timestamping -> no PRECISE) are excluded like the flags. */
extern PHCR_Error PHCR_Open(const char *spec, const char *clock_name,
                            const PHCR_Config *config, PHCR_Reader *reader,
                            PHCR_Discovery *disc);

extern void PHCR_Close(PHCR_Reader reader);

/* After PHCR_ERR_GONE: close the fd and discover/open again with the same
   spec; the mode state restarts from the best allowed mode, counters are
   kept.  On failure the reader stays usable for another PHCR_Reopen (reads
   return PHCR_ERR_GONE meanwhile).  disc may be NULL. */
extern PHCR_Error PHCR_Reopen(PHCR_Reader reader, PHCR_Discovery *disc);

/* One full read: n_samples triplets (0 = config default, clamped to
   1..25; PRECISE always takes one cross-timestamp), validated and
   filtered into res->sample.  now is the caller's monotonic time in
   seconds (used for the re-probe interval only).  Returns PHCR_OK or the
   error of the last mode tried; res is always filled. */
extern PHCR_Error PHCR_Read(PHCR_Reader reader, int n_samples, double now,
                            PHCR_Result *res);

/* One device sample in the current mode, falling back like PHCR_Read but
   never re-probing: a sentinel read (probe 0), or the retry after failures
   (probe 1), which stops at a mode whose host cannot answer (one failed
   hypercall, one guest kernel log line, per probe). */
extern PHCR_Error PHCR_ReadOne(PHCR_Reader reader, int probe, double now,
                               PHCR_Result *res);

/* Mode the next read starts in. */
extern PHCR_Mode PHCR_GetMode(PHCR_Reader reader);
/* Best mode the reader may still use (after flags, caps and disabling). */
extern PHCR_Mode PHCR_GetBestMode(PHCR_Reader reader);
extern const char *PHCR_GetPath(PHCR_Reader reader);
extern void PHCR_GetCounters(PHCR_Reader reader, PHCR_Counters *counters);

/* Order statistics of v[0..n-1], n >= 1 (reorder v): the k-th smallest
   (0 <= k < n), the median (mean of the two middle values for even n) */
extern int64_t PHCR_SelectKthI64(int64_t *v, int n, int k);
extern double PHCR_MedianDouble(double *v, int n);

#endif
