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

  Error classes of phc_reader.  Every failure of discovery or of a
  reading is mapped to one stable PHCR_Error code (the numeric values
  never change; new codes are only appended), with a stable name and a
  human message.
  */

#ifndef PHCR_ERROR_H
#define PHCR_ERROR_H

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

#endif
