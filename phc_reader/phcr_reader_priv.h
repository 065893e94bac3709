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

  Private declarations shared by the reader's modules (reader state
  machine and device I/O); not installed.
  */

#ifndef PHCR_READER_PRIV_H
#define PHCR_READER_PRIV_H

#include "phcr_internal.h"

struct PHCR_Reader_Record {
  const PHCR_Ops *ops;
  char root[PHCR_ROOT_MAX];
  char spec[PHCR_PATH_MAX];
  char clock_name[PHCR_NAME_MAX];
  PHCR_Config config;

  int fd;
  char path[PHCR_PATH_MAX];
  PHCR_Caps caps;

  unsigned int allowed;       /* bit per mode: allowed by flags and caps */
  unsigned int disabled;      /* bit per mode: not implemented by device */
  PHCR_Mode mode;             /* where reads start */
  PHCR_Mode last_ok_mode;     /* mode of the last successful read */

  int reads_below_best;       /* reads since falling below the best mode */
  double below_since;         /* caller time of that fall / last reprobe */
  int below_since_valid;

  PHCR_Counters counters;
};

/* One mode, with bounded retries and validation, into res->reading;
   updates res->attempt[mode], counters and reject counts. */
extern PHCR_Error PHCR_ReadMode(PHCR_Reader r, PHCR_Mode mode, int n,
                                PHCR_Result *res);

#endif
