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

  Error codes of phc_reader: stable names and human messages of every
  class.
  */


#include "phcr.h"

/* ================================================== */

static const char *const error_names[PHCR_ERR_COUNT] = {
  "OK", "HOST_NOTSUPP", "CLOCKSOURCE", "RETRY", "GONE", "INVALID",
  "NODEVICE", "NOTPHC", "NOMODE", "ACCESS", "ARGS", "OTHER"
};

static const char *const error_strings[PHCR_ERR_COUNT] = {
  "success",
  "host cannot answer (EOPNOTSUPP, or PHC timestamps copied from system "
    "time by a guest kernel < 5.0: host clocksource not TSC or no TSC "
    "scaling, e.g. after migration; or the driver lacks this mode)",
  "cross-timestamp unavailable (ENODEV on PRECISE: guest clocksource is "
    "not kvm-clock/arch counter)",
  "device busy or interrupted (EINTR/EAGAIN/EBUSY, EINVAL on PRECISE), "
    "retries exhausted",
  "device gone (ENODEV/ENXIO/EBADF), reopen needed",
  "device returned invalid readings",
  "no matching PHC device found",
  "not a PTP hardware clock (PTP_CLOCK_GETCAPS failed)",
  "no usable reading mode (all excluded or unsupported)",
  "permission denied (EACCES/EPERM)",
  "invalid argument",
  "unexpected error"
};

/* ================================================== */

const char *
PHCR_ErrorString(PHCR_Error code)
{
  if ((unsigned int)code >= PHCR_ERR_COUNT)
    return "unknown error";
  return error_strings[code];
}

/* ================================================== */

const char *
PHCR_ErrorName(PHCR_Error code)
{
  if ((unsigned int)code >= PHCR_ERR_COUNT)
    return "UNKNOWN";
  return error_names[code];
}
