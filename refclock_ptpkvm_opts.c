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
  refclock_ptpkvm_opts.h).  Plain C, no chrony headers, no I/O.
  */

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "refclock_ptpkvm_opts.h"

#define STR_(x) #x
#define STR(x) STR_(x)

typedef struct {
  const char *name;
  const char *form;
} OptionInfo;

static const OptionInfo options[] = {
  { "nocrossts", "nocrossts" },
  { "noextended", "noextended" },
  { "samples", "samples=<1-" STR(PHCR_MAX_SAMPLES) ">" },
  { "step", "step=<seconds, 0 = never step, up to " STR(PKP_MAX_STEP) ">" },
  { "jump", "jump=<seconds, " STR(PKP_MIN_JUMP) "-" STR(PKP_MAX_JUMP) ">" },
  { "confirm", "confirm=<1-" STR(PKP_MAX_CONFIRM) ">" },
  { "maxsteps", "maxsteps=<count up to " STR(PKP_MAX_MAXSTEPS) ", -1 = unlimited>" },
  { "sentinel", "sentinel=<seconds, 0 = off, " STR(PKP_MIN_SENTINEL) "-"
    STR(PKP_MAX_SENTINEL) ">" },
  { "reprobe", "reprobe=<seconds, 0 = never, up to " STR(PKP_MAX_REPROBE) ">" },
  { "clockname", "clockname=<clock_name of 1-63 characters, '_' for space>" },
  { NULL, NULL }
};

/* ================================================== */

const char **
PKP_OptionNames(void)
{
  static const char *names[sizeof (options) / sizeof (options[0])];
  int i;

  for (i = 0; options[i].name; i++)
    names[i] = options[i].name;
  names[i] = NULL;

  return names;
}

/* ================================================== */

const char *
PKP_OptionForm(const char *name)
{
  int i;

  for (i = 0; name && options[i].name; i++) {
    if (!strcmp(options[i].name, name))
      return options[i].form;
  }

  return NULL;
}

/* ================================================== */

void
PKP_DefaultOptions(PKP_Options *opts)
{
  memset(opts, 0, sizeof (*opts));
  opts->samples = PHCR_DEFAULT_SAMPLES;
  opts->step = PKP_DEFAULT_STEP;
  opts->jump = PKP_DEFAULT_JUMP;
  opts->confirm = PKP_DEFAULT_CONFIRM;
  opts->maxsteps = PKP_DEFAULT_MAXSTEPS;
  opts->sentinel = PKP_DEFAULT_SENTINEL;
  opts->reprobe = PHCR_DEFAULT_REPROBE;
}

/* ================================================== */

static int
bad_option(const char *name, const char *value, char *err, size_t err_len)
{
  snprintf(err, err_len, "invalid refclock PTPKVM option %s%s%s: valid form is %s",
           name, value && *value ? "=" : "", value ? value : "", PKP_OptionForm(name));
  return 0;
}

/* ================================================== */

static int
get_flag(const char *name, int *flag, PKP_OptionGetter get, void *arg,
         char *err, size_t err_len)
{
  const char *v = get(arg, name);

  if (!v)
    return 1;
  if (*v)
    return bad_option(name, v, err, err_len);
  *flag = 1;
  return 1;
}

/* ================================================== */

static int
get_int(const char *name, int *value, int min, int max, PKP_OptionGetter get,
        void *arg, char *err, size_t err_len)
{
  const char *v = get(arg, name);
  char *end;
  long x;

  if (!v)
    return 1;
  errno = 0;
  x = strtol(v, &end, 10);
  if (!*v || errno || *end || x < min || x > max)
    return bad_option(name, v, err, err_len);
  *value = (int)x;
  return 1;
}

/* ================================================== */

static int
get_double(const char *name, double *value, double min, double max, int zero_ok,
           PKP_OptionGetter get, void *arg, char *err, size_t err_len)
{
  const char *v = get(arg, name);
  char *end;
  double x;

  if (!v)
    return 1;
  errno = 0;
  x = strtod(v, &end);
  if (!*v || errno || *end || !isfinite(x) || x > max || (x < min && !(zero_ok && x == 0.0)))
    return bad_option(name, v, err, err_len);
  *value = x;
  return 1;
}

/* ================================================== */

static int
get_clockname(PKP_Options *opts, PKP_OptionGetter get, void *arg, char *err,
              size_t err_len)
{
  const char *v = get(arg, "clockname");
  size_t i, n;

  if (!v)
    return 1;
  n = strlen(v);
  if (n == 0 || n >= sizeof (opts->clockname))
    return bad_option("clockname", v, err, err_len);

  /* chrony splits the directive at white space: '_' stands for a space */
  for (i = 0; i <= n; i++)
    opts->clockname[i] = v[i] == '_' ? ' ' : v[i];
  return 1;
}

/* ================================================== */

int
PKP_ParseOptions(PKP_Options *opts, PKP_OptionGetter get, void *arg, char *err,
                 size_t err_len)
{
  PKP_DefaultOptions(opts);
  if (err_len > 0)
    err[0] = '\0';

  return get_flag("nocrossts", &opts->nocrossts, get, arg, err, err_len) &&
         get_flag("noextended", &opts->noextended, get, arg, err, err_len) &&
         get_int("samples", &opts->samples, 1, PHCR_MAX_SAMPLES, get, arg, err, err_len) &&
         get_double("step", &opts->step, 0.0, PKP_MAX_STEP, 1, get, arg, err, err_len) &&
         get_double("jump", &opts->jump, PKP_MIN_JUMP, PKP_MAX_JUMP, 0,
                    get, arg, err, err_len) &&
         get_int("confirm", &opts->confirm, 1, PKP_MAX_CONFIRM, get, arg, err, err_len) &&
         get_int("maxsteps", &opts->maxsteps, -1, PKP_MAX_MAXSTEPS, get, arg, err, err_len) &&
         get_double("sentinel", &opts->sentinel, PKP_MIN_SENTINEL, PKP_MAX_SENTINEL, 1,
                    get, arg, err, err_len) &&
         get_double("reprobe", &opts->reprobe, 0.0, PKP_MAX_REPROBE, 1, get, arg, err, err_len) &&
         get_clockname(opts, get, arg, err, err_len);
}
