/*
  chrony-ptpkvm -- options of the PTPKVM reference clock driver

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

  The driver's options: names, defaults, limits, and parsing with messages
  naming the valid form.  The table of refclock_ptpkvm_opts.c is the one
  definition of every default and limit; chrony-free, so ptpkvm-doctor
  links the same parser.
  */

#ifndef REFCLOCK_PTPKVM_OPTS_H
#define REFCLOCK_PTPKVM_OPTS_H

#include <stddef.h>

#include "phcr.h"

/* Limits that size arrays (the others are in the table) */
#define PKP_MAX_CONFIRM 10
#define PKP_CLOCKNAME_MAX 64

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

#endif
