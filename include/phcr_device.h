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

  Error classes and PHC discovery of phc_reader.  Every failure of
  discovery or of a reading is mapped to one stable PHCR_Error code (the
  numeric values never change; new codes are only appended), with a stable
  name and a human message.  Discovery: list the PHCs of /sys/class/ptp with their
  clock_name, choose a device from a spec (a path, or "auto" = the first
  PHC whose clock_name matches, then, for the KVM clock's name, /dev/ptp_kvm
  unless it leads to a PHC with another clock_name), verify the descriptor
  with PTP_CLOCK_GETCAPS, and explain the choice ("why") or the failure
  (listing every PHC found with its clock_name).
  */

#ifndef PHCR_DEVICE_H
#define PHCR_DEVICE_H

#include <stddef.h>
#include <sys/types.h>

#include "phcr_ops.h"

/* Stable error codes.  Values are part of the API and never renumbered. */
typedef enum {
  PHCR_OK = 0,
  PHCR_ERR_HOST_NOTSUPP = 1, /* EOPNOTSUPP: the host cannot answer (host
                                clocksource not TSC, no TSC scaling, e.g.
                                after live migration), or the driver lacks
                                the ioctl */
  PHCR_ERR_CLOCKSOURCE = 2,  /* ENODEV on PRECISE: the guest's current
                                clocksource is not kvm-clock/arch counter */
  PHCR_ERR_RETRY = 3,        /* EINTR/EAGAIN/EBUSY (or EINVAL on PRECISE)
                                persisted after the bounded internal
                                retries */
  PHCR_ERR_GONE = 4,         /* ENODEV/ENXIO/EBADF on basic or on the fd:
                                the device went away, caller reopens */
  PHCR_ERR_INVALID = 5,      /* the device returned garbage readings */
  PHCR_ERR_NODEVICE = 6,     /* discovery found no matching device */
  PHCR_ERR_NOTPHC = 7,       /* the file is not a PHC (GETCAPS failed) */
  PHCR_ERR_NOMODE = 8,       /* every reading mode is excluded/unsupported */
  PHCR_ERR_ACCESS = 9,       /* EACCES/EPERM opening or using the device */
  PHCR_ERR_ARGS = 10,        /* invalid argument passed to phc_reader */
  PHCR_ERR_OTHER = 11,       /* any other errno (see the attempt record) */
  PHCR_ERR_COUNT             /* number of codes, not a code */
} PHCR_Error;

/* Short, stable, human message of an error code (never NULL). */
extern const char *PHCR_ErrorString(PHCR_Error code);

/* Stable identifier of an error code, e.g. "HOST_NOTSUPP" (never NULL). */
extern const char *PHCR_ErrorName(PHCR_Error code);

#define PHCR_DEFAULT_CLOCK_NAME "KVM virtual PTP"
#define PHCR_SPEC_AUTO "auto"
#define PHCR_KVM_SYMLINK "/dev/ptp_kvm"

#define PHCR_PATH_MAX 256
#define PHCR_NAME_MAX 64
#define PHCR_WHY_MAX 320
#define PHCR_ERRTEXT_MAX 1024
#define PHCR_MAX_DEVICES 32

/* One PHC listed in /sys/class/ptp. */
typedef struct {
  int index;                      /* N of ptpN */
  char dev_path[PHCR_PATH_MAX];   /* "/dev/ptpN" (without root prefix) */
  char clock_name[PHCR_NAME_MAX]; /* "" if unreadable */
} PHCR_DeviceInfo;

/* Result of discovery. */
typedef struct {
  char path[PHCR_PATH_MAX];        /* chosen device, without root prefix */
  char clock_name[PHCR_NAME_MAX];  /* its clock_name if known, else "" */
  int index;                       /* N of /dev/ptpN if known, else -1 */
  dev_t rdev;                      /* its device number, 0 if unknown */
  int cross_timestamping;          /* from PTP_CLOCK_GETCAPS */
  char why[PHCR_WHY_MAX];          /* e.g. "/dev/ptp2: clock_name 'KVM
                                      virtual PTP'" */
  char error[PHCR_ERRTEXT_MAX];    /* on failure: what was tried and the
                                      PHCs found with their clock_names */
  int sys_errno;                   /* errno of the decisive failure, or 0 */
} PHCR_Discovery;

/* List the PHCs of <root>/sys/class/ptp sorted by index.  Fills at most
   max entries and returns the number found (which may exceed max), or -1
   with *error set (PHCR_ERR_NODEVICE if the directory cannot be read). */
extern int PHCR_ListDevices(const PHCR_Env *env, PHCR_DeviceInfo *devices,
                            int max, PHCR_Error *error);

/* Is spec a device that discovery can ever resolve: "auto" or an absolute
   path?  Returns 1, or 0 with a message naming the valid forms in err. */
extern int PHCR_CheckSpec(const char *spec, char *err, size_t err_len);

/* Choose a device.  spec is a path or "auto" (NULL means "auto");
   clock_name is the name matched by "auto" (NULL or "" means
   PHCR_DEFAULT_CLOCK_NAME; matched exactly after stripping a trailing
   newline).  The chosen device is opened and verified with
   PTP_CLOCK_GETCAPS, then closed.  Returns PHCR_OK and fills out, or an
   error code with out->error explaining it:
   PHCR_ERR_NODEVICE (nothing matches / path missing), PHCR_ERR_NOTPHC
   (GETCAPS failed), PHCR_ERR_ACCESS (EACCES/EPERM), PHCR_ERR_ARGS. */
extern PHCR_Error PHCR_FindDevice(const PHCR_Env *env, const char *spec,
                                  const char *clock_name,
                                  PHCR_Discovery *out);

#endif
