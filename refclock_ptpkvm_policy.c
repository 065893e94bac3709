/*
  chrony-ptpkvm -- policy of the PTPKVM reference clock driver

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

  Implementation of the PTPKVM driver's pure decisions (see
  refclock_ptpkvm_policy.h): option parsing and validation, jump action,
  sample quality, failure/recovery state, backoffs and sentinel timing.  Plain C, no chrony headers, no I/O.
  */

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "refclock_ptpkvm_policy.h"

/* ================================================== */

typedef struct {
  const char *name;
  const char *form;
} OptionInfo;

static const OptionInfo options[] = {
  { "nocrossts", "nocrossts" },
  { "noextended", "noextended" },
  { "samples", "samples=<1-25>" },
  { "step", "step=<seconds, 0 = never step, up to 1e9>" },
  { "jump", "jump=<seconds, 0.00001-1e9>" },
  { "confirm", "confirm=<1-10>" },
  { "maxsteps", "maxsteps=<count up to 1000000000, -1 = unlimited>" },
  { "sentinel", "sentinel=<seconds, 0 = off, 0.01-60>" },
  { "reprobe", "reprobe=<seconds, 0 = never, up to 1e6>" },
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
  opts->samples = PKP_DEFAULT_SAMPLES;
  opts->step = PKP_DEFAULT_STEP;
  opts->jump = PKP_DEFAULT_JUMP;
  opts->confirm = PKP_DEFAULT_CONFIRM;
  opts->maxsteps = PKP_DEFAULT_MAXSTEPS;
  opts->sentinel = PKP_DEFAULT_SENTINEL;
  opts->reprobe = PKP_DEFAULT_REPROBE;
  opts->clockname[0] = '\0';
}

/* ================================================== */

static int
parse_double(const char *s, double *value)
{
  char *end;
  double v;

  if (!s || !*s)
    return 0;
  errno = 0;
  v = strtod(s, &end);
  if (errno || *end || !isfinite(v))
    return 0;
  *value = v;
  return 1;
}

/* ================================================== */

static int
parse_int(const char *s, int *value)
{
  char *end;
  long v;

  if (!s || !*s)
    return 0;
  errno = 0;
  v = strtol(s, &end, 10);
  if (errno || *end || v < -1000000000L || v > 1000000000L)
    return 0;
  *value = (int)v;
  return 1;
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
  int x;

  if (!v)
    return 1;
  if (!parse_int(v, &x) || x < min || x > max)
    return bad_option(name, v, err, err_len);
  *value = x;
  return 1;
}

/* ================================================== */

static int
get_double(const char *name, double *value, double min, double max, int zero_ok,
           PKP_OptionGetter get, void *arg, char *err, size_t err_len)
{
  const char *v = get(arg, name);
  double x;

  if (!v)
    return 1;
  if (!parse_double(v, &x) || x > max || (x < min && !(zero_ok && x == 0.0)))
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
         get_int("samples", &opts->samples, 1, PKP_MAX_SAMPLES, get, arg, err, err_len) &&
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

/* ================================================== */

PKP_Action
PKP_DecideJump(const PKP_Options *opts, double jump, int steps_done,
               int normal_mode, int may_step, PKP_Reason *why)
{
  PKP_Reason r;
  PKP_Action a;

  if (!normal_mode) {
    r = PKP_WHY_NOT_NORMAL;
    a = PKP_ACT_IGNORE;
  } else if (!may_step) {
    r = PKP_WHY_NOSELECT;
    a = PKP_ACT_IGNORE;
  } else if (opts->step <= 0.0) {
    r = PKP_WHY_DISABLED;
    a = PKP_ACT_FLUSH;
  } else if (fabs(jump) < opts->step) {
    r = PKP_WHY_BELOW;
    a = PKP_ACT_FLUSH;
  } else if (opts->maxsteps >= 0 && steps_done >= opts->maxsteps) {
    r = PKP_WHY_LIMIT;
    a = PKP_ACT_FLUSH;
  } else {
    r = PKP_WHY_STEP;
    a = PKP_ACT_STEP;
  }

  if (why)
    *why = r;
  return a;
}

/* ================================================== */

const char *
PKP_ReasonText(PKP_Reason why)
{
  switch (why) {
    case PKP_WHY_NOT_NORMAL:
      return "not acting outside chronyd's normal mode";
    case PKP_WHY_NOSELECT:
      return "not stepping: the source may not move the clock (noselect)";
    case PKP_WHY_DISABLED:
      return "stepping disabled (step=0), slewing";
    case PKP_WHY_BELOW:
      return "below the step threshold, slewing";
    case PKP_WHY_LIMIT:
      return "step limit (maxsteps) reached, slewing";
    case PKP_WHY_STEP_FAILED:
      return "could not step the clock, slewing";
    default:
      return "stepping";
  }
}

/* ================================================== */

void
PKP_QualityInit(PKP_QualityTracker *q)
{
  memset(q, 0, sizeof (*q));
  q->mode = -1;
}

/* ================================================== */

int
PKP_QualityAssess(PKP_QualityTracker *q, double error, int mode)
{
  double min_error;
  int i, quality;

  if (mode != q->mode) {
    q->n = q->pos = 0;
    q->mode = mode;
  }

  if (q->n < 4) {
    quality = 2;
  } else {
    for (i = 0, min_error = q->error[0]; i < q->n; i++) {
      if (q->error[i] < min_error)
        min_error = q->error[i];
    }
    if (error <= 3.0 * min_error + 0.1e-6)
      quality = 2;
    else if (error <= 20.0 * min_error + 1.0e-6)
      quality = 1;
    else
      quality = 0;
  }

  /* Record every error, so that a lasting change of the delay is
     accepted after one window */
  q->error[q->pos] = error;
  q->pos = (q->pos + 1) % PKP_QUALITY_WINDOW;
  if (q->n < PKP_QUALITY_WINDOW)
    q->n++;

  return quality;
}

/* ================================================== */

void
PKP_HealthInit(PKP_Health *h)
{
  memset(h, 0, sizeof (*h));
}

/* ================================================== */

PKP_HealthEvent
PKP_HealthUpdate(PKP_Health *h, int ok, double now)
{
  if (ok) {
    if (!h->failing)
      return PKP_HEALTH_SAME;
    h->failing = 0;
    if (h->logged)
      return PKP_HEALTH_RECOVERED;
    h->unlogged++;
    return PKP_HEALTH_SAME;
  }

  if (h->failing) {
    h->failures++;
    if (h->logged || now - h->since < PKP_HEALTH_QUIET)
      return PKP_HEALTH_SAME;
  } else {
    h->failing = 1;
    h->logged = 0;
    h->failures = 1;
    h->since = now;
    if (h->have_logged && now >= h->last_logged &&
        now - h->last_logged < PKP_HEALTH_QUIET)
      return PKP_HEALTH_SAME;
  }

  h->logged = 1;
  h->have_logged = 1;
  h->last_logged = now;
  h->skipped = h->unlogged;
  h->unlogged = 0;
  return PKP_HEALTH_FAILING;
}

/* ================================================== */

double
PKP_Backoff(int n)
{
  if (n < 1)
    n = 1;
  if (n > 4)
    n = 4;
  return (double)(1 << (n - 1));
}

/* ================================================== */

double
PKP_RetryDelay(int n)
{
  double d;

  if (n < 1)
    n = 1;
  if (n > 6)
    return PKP_MAX_RETRY_DELAY;
  d = (double)(1 << n);
  return d < PKP_MAX_RETRY_DELAY ? d : PKP_MAX_RETRY_DELAY;
}

/* ================================================== */

int
PKP_SentinelDue(const PKP_Options *opts, double interval, double since, int usable)
{
  double margin;

  if (opts->sentinel <= 0.0 || !usable)
    return 0;

  margin = opts->sentinel / 2.0;
  if (since < margin)
    return 0;
  if (fabs(since - interval) < margin)
    return 0;
  return 1;
}
