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

  Parsing and validation of the PTPKVM driver's options (see
  refclock_ptpkvm.h).  Plain C, no chrony headers, no I/O.
  */

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "refclock_ptpkvm.h"

#define STR_(x) #x
#define STR(x) STR_(x)

/* Limits, written as the valid forms show them */
#define MIN_JUMP 0.00001
#define MAX_JUMP 1e9
#define MAX_STEP 1e9
#define MAX_MAXSTEPS 1000000000
#define MIN_SENTINEL 0.01
#define MAX_SENTINEL 60
#define MAX_REPROBE 1e6

typedef enum { FLAG, COUNT, SECONDS, NAME } OptionType;

typedef struct {
  const char *name;
  OptionType type;
  size_t field;           /* offset of the value in PKP_Options */
  double def, min, max;   /* default and valid range (COUNT, SECONDS) */
  int zero_ok;            /* 0 (off) is valid too */
  const char *form;
} Option;

#define FIELD(f) offsetof(PKP_Options, f)

/* Defaults as documented in docs/configuration.md */
static const Option options[] = {
  { "nocrossts", FLAG, FIELD(nocrossts), 0, 0, 0, 0, "nocrossts" },
  { "noextended", FLAG, FIELD(noextended), 0, 0, 0, 0, "noextended" },
  { "samples", COUNT, FIELD(samples), PHCR_DEFAULT_SAMPLES, 1, PHCR_MAX_SAMPLES, 0,
    "samples=<1-" STR(PHCR_MAX_SAMPLES) ">" },
  { "step", SECONDS, FIELD(step), 1.0e-3, 0.0, MAX_STEP, 1,
    "step=<seconds, 0 = never step, up to " STR(MAX_STEP) ">" },
  { "jump", SECONDS, FIELD(jump), 1.0e-3, MIN_JUMP, MAX_JUMP, 0,
    "jump=<seconds, " STR(MIN_JUMP) "-" STR(MAX_JUMP) ">" },
  { "confirm", COUNT, FIELD(confirm), 2, 1, PKP_MAX_CONFIRM, 0,
    "confirm=<1-" STR(PKP_MAX_CONFIRM) ">" },
  { "maxsteps", COUNT, FIELD(maxsteps), -1, -1, MAX_MAXSTEPS, 0,
    "maxsteps=<count up to " STR(MAX_MAXSTEPS) ", -1 = unlimited>" },
  { "sentinel", SECONDS, FIELD(sentinel), 0.2, MIN_SENTINEL, MAX_SENTINEL, 1,
    "sentinel=<seconds, 0 = off, " STR(MIN_SENTINEL) "-" STR(MAX_SENTINEL) ">" },
  { "reprobe", SECONDS, FIELD(reprobe), PHCR_DEFAULT_REPROBE, 0.0, MAX_REPROBE, 1,
    "reprobe=<seconds, 0 = never, up to " STR(MAX_REPROBE) ">" },
  { "clockname", NAME, FIELD(clockname), 0, 0, 0, 0,
    "clockname=<clock_name of 1-63 characters, '_' for space>" }
};

#define N_OPTIONS (int)(sizeof (options) / sizeof (options[0]))

/* ================================================== */

const char **
PKP_OptionNames(void)
{
  static const char *names[N_OPTIONS + 1];
  int i;

  for (i = 0; i < N_OPTIONS; i++)
    names[i] = options[i].name;
  names[i] = NULL;

  return names;
}

/* ================================================== */

static void
set_value(PKP_Options *opts, const Option *o, double x)
{
  void *field = (char *)opts + o->field;

  if (o->type == SECONDS)
    *(double *)field = x;
  else if (o->type != NAME)
    *(int *)field = x;
}

/* ================================================== */

static void
default_options(PKP_Options *opts)
{
  const Option *o;

  memset(opts, 0, sizeof (*opts));
  for (o = options; o < options + N_OPTIONS; o++)
    set_value(opts, o, o->def);
}

/* ================================================== */
/* Is v a valid value of the option?  x receives a number. */

static int
check_value(const Option *o, const char *v, double *x)
{
  char *end;

  errno = 0;
  switch (o->type) {
    case FLAG:
      *x = 1.0;
      return *v == '\0';
    case NAME:
      return *v != '\0' && strlen(v) < PHCR_NAME_MAX;
    case COUNT:
      *x = strtol(v, &end, 10);
      break;
    default:
      *x = strtod(v, &end);
      break;
  }
  return *v && !errno && !*end && isfinite(*x) && *x <= o->max &&
         (*x >= o->min || (o->zero_ok && *x == 0.0));
}

/* ================================================== */

int
PKP_ParseOptions(PKP_Options *opts, PKP_OptionGetter get, void *arg, char *err,
                 size_t err_len)
{
  const Option *o;
  const char *v;
  double x;
  size_t i;

  default_options(opts);
  if (err_len > 0)
    err[0] = '\0';

  for (o = options; o < options + N_OPTIONS; o++) {
    if (!(v = get(arg, o->name)))
      continue;
    if (!check_value(o, v, &x)) {
      snprintf(err, err_len, "invalid refclock PTPKVM option %s%s%s: valid form is %s",
               o->name, *v ? "=" : "", v, o->form);
      return 0;
    }
    set_value(opts, o, x);
    /* chrony splits the directive at white space: '_' stands for a space */
    for (i = 0; o->type == NAME && i <= strlen(v); i++)
      opts->clockname[i] = v[i] == '_' ? ' ' : v[i];
  }
  return 1;
}
