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

  The reader of phc_reader (see phcr.h): an open PHC and its reading-mode
  state machine; reads and failures are counted.  One mode is read by
  phcr_readio.c, the reading is filtered by phcr_filter.c.
  */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "phcr_internal.h"

#define MODE_BIT(m) (1U << (m))

struct PHCR_Reader_Record {
  char spec[PHCR_PATH_MAX];
  char clock_name[PHCR_NAME_MAX];
  PHCR_Config config;

  int fd;
  char path[PHCR_PATH_MAX];
  int cross_timestamping;     /* from GETCAPS */

  unsigned int allowed;       /* bit per mode: allowed by flags and caps */
  unsigned int disabled;      /* bit per mode: not implemented by device */
  PHCR_Mode mode;             /* where reads start */
  PHCR_Mode last_ok_mode;     /* mode of the last successful read */

  double below_since;         /* caller time of the fall below the best
                                 mode / of the last re-probe */
  int below_since_valid;

  PHCR_FilterState filter;    /* noise learnt over readings */

  PHCR_Counters counters;
};

/* ================================================== */

const char *
PHCR_ModeName(PHCR_Mode mode)
{
  switch (mode) {
    case PHCR_MODE_BASIC:
      return "basic";
    case PHCR_MODE_EXTENDED:
      return "extended";
    case PHCR_MODE_PRECISE:
      return "precise";
    default:
      return "none";
  }
}

/* ================================================== */

void
PHCR_ConfigDefaults(PHCR_Config *config)
{
  memset(config, 0, sizeof (*config));
  config->n_samples = PHCR_DEFAULT_SAMPLES;
  config->reprobe_interval = PHCR_DEFAULT_REPROBE;
}

/* ================================================== */

static int
clamp_samples(int n)
{
  return n < 1 ? 1 : n > PHCR_MAX_SAMPLES ? PHCR_MAX_SAMPLES : n;
}

/* ================================================== */

static void
sanitise_config(PHCR_Config *c)
{
  c->n_samples = clamp_samples(c->n_samples);
  if (!(c->reprobe_interval > 0.0))
    c->reprobe_interval = 0.0;
}

/* ================================================== */

static int
usable(PHCR_Reader r, PHCR_Mode m)
{
  return m > PHCR_MODE_NONE && m < PHCR_MODE_COUNT &&
         (r->allowed & ~r->disabled & MODE_BIT(m));
}

/* ================================================== */

static PHCR_Mode
lower_usable(PHCR_Reader r, PHCR_Mode m)
{
  for (m--; m > PHCR_MODE_NONE; m--)
    if (usable(r, m))
      return m;
  return PHCR_MODE_NONE;
}

/* ================================================== */

PHCR_Mode
PHCR_GetBestMode(PHCR_Reader r)
{
  return lower_usable(r, PHCR_MODE_COUNT);
}

/* ================================================== */

static void
set_allowed(PHCR_Reader r)
{
  r->allowed = MODE_BIT(PHCR_MODE_BASIC);
  if (!(r->config.flags & PHCR_FLAG_NOEXTENDED))
    r->allowed |= MODE_BIT(PHCR_MODE_EXTENDED);
  if (!(r->config.flags & PHCR_FLAG_NOCROSSTS) && r->cross_timestamping)
    r->allowed |= MODE_BIT(PHCR_MODE_PRECISE);
  r->disabled = 0;
  r->mode = PHCR_GetBestMode(r);
  r->below_since_valid = 0;
}

/* ================================================== */

/* Find and open the reader's device (its spec and clock name), and take
   it with its capabilities */

static PHCR_Error
open_device(PHCR_Reader r, PHCR_Discovery *disc)
{
  PHCR_Discovery local;
  PHCR_Error res;

  if (!disc)
    disc = &local;
  if (r->fd >= 0)
    close(r->fd);
  res = PHCR_FindAndOpenDevice(r->spec, r->clock_name, disc, &r->fd);
  if (res != PHCR_OK)
    return res;

  snprintf(r->path, sizeof (r->path), "%s", disc->path);
  r->cross_timestamping = disc->cross_timestamping;
  set_allowed(r);
  return PHCR_OK;
}

/* ================================================== */

PHCR_Error
PHCR_Open(const char *spec, const char *clock_name, const PHCR_Config *config,
          PHCR_Reader *reader, PHCR_Discovery *disc)
{
  PHCR_Reader r;
  PHCR_Error res;

  *reader = NULL;
  r = calloc(1, sizeof (*r));
  if (!r)
    return PHCR_ERR_OTHER;

  snprintf(r->spec, sizeof (r->spec), "%s", spec ? spec : "");
  snprintf(r->clock_name, sizeof (r->clock_name), "%s", clock_name ? clock_name : "");
  if (config)
    r->config = *config;
  else
    PHCR_ConfigDefaults(&r->config);
  sanitise_config(&r->config);
  r->fd = -1;

  res = open_device(r, disc);
  if (res != PHCR_OK) {
    free(r);
    return res;
  }

  *reader = r;
  return PHCR_OK;
}

/* ================================================== */

void
PHCR_Close(PHCR_Reader r)
{
  if (!r)
    return;
  if (r->fd >= 0)
    close(r->fd);
  free(r);
}

/* ================================================== */

PHCR_Error
PHCR_Reopen(PHCR_Reader r, PHCR_Discovery *disc)
{
  return open_device(r, disc);
}

/* ================================================== */

static void
note_below_best(PHCR_Reader r, double now)
{
  r->below_since = now;
  r->below_since_valid = 1;
}

/* ================================================== */

static PHCR_Mode
start_mode(PHCR_Reader r, int sentinel, double now)
{
  PHCR_Mode best = PHCR_GetBestMode(r), m = r->mode;
  double reprobe = r->config.reprobe_interval;

  if (!usable(r, m))
    m = lower_usable(r, m);
  if (m == PHCR_MODE_NONE)
    m = best;

  if (!sentinel && m < best && reprobe > 0.0 && r->below_since_valid &&
      (now < r->below_since || now - r->below_since >= reprobe)) {
    note_below_best(r, now);
    return best;
  }
  return m;
}

/* ================================================== */

static void
finish_ok(PHCR_Reader r, PHCR_Mode m, int disable_ext, double now,
          PHCR_Result *res)
{
  PHCR_Mode best;

  /* EXTENDED failed with EOPNOTSUPP while a worse mode works: the driver
     does not implement it (e.g. ptp_kvm has no gettimex64) */
  if (disable_ext && m < PHCR_MODE_EXTENDED)
    r->disabled |= MODE_BIT(PHCR_MODE_EXTENDED);

  best = PHCR_GetBestMode(r);
  if (m < best && (r->mode >= best || !r->below_since_valid))
    note_below_best(r, now);
  else if (m >= best)
    r->below_since_valid = 0;
  r->mode = m;

  res->prev_mode = r->last_ok_mode;
  res->mode_changed = r->last_ok_mode != PHCR_MODE_NONE && m != r->last_ok_mode;
  r->last_ok_mode = m;
  res->mode = m;
  PHCR_FilterReading(&res->reading, &r->filter, &res->sample);
}

/* ================================================== */

/* Kinds of read */
#define READ_FULL 0
#define READ_SENTINEL 1       /* one sample, no re-probe */
#define READ_PROBE 2          /* one sample, stop where the host cannot
                                 answer (each failed hypercall is logged by
                                 the guest kernel) */

static PHCR_Error
do_read(PHCR_Reader r, int n, int kind, double now, PHCR_Result *res)
{
  PHCR_Error err = PHCR_ERR_GONE;
  PHCR_Mode m, last = PHCR_MODE_NONE, transient = PHCR_MODE_NONE;
  int disable_ext = 0, sentinel = kind != READ_FULL;

  memset(res, 0, sizeof (*res));
  res->prev_mode = r->last_ok_mode;
  r->counters.reads++;
  if (sentinel)
    r->counters.sentinel_reads++;

  /* BASIC is always usable: at least one mode is tried on an open device */
  for (m = r->fd >= 0 ? start_mode(r, sentinel, now) : PHCR_MODE_NONE;
       m != PHCR_MODE_NONE; m = lower_usable(r, m)) {
    last = m;
    err = PHCR_ReadMode(r->fd, m, n, res);
    r->counters.device_samples +=
      (unsigned long)res->attempt[m].attempts * (m == PHCR_MODE_PRECISE ? 1 : n);
    if (err == PHCR_OK) {
      finish_ok(r, m, disable_ext, now, res);
      /* A transient failure of a better mode: start there next time */
      if (transient != PHCR_MODE_NONE)
        r->mode = transient;
      res->error = PHCR_OK;
      return PHCR_OK;
    }
    if (err == PHCR_ERR_GONE || (kind == READ_PROBE && err == PHCR_ERR_HOST_NOTSUPP))
      break;
    if (err == PHCR_ERR_RETRY && transient == PHCR_MODE_NONE)
      transient = m;
    if (m == PHCR_MODE_EXTENDED && err == PHCR_ERR_HOST_NOTSUPP)
      disable_ext = 1;
  }

  res->error = err;
  res->sys_errno = last != PHCR_MODE_NONE ? res->attempt[last].sys_errno : 0;
  r->counters.failed_reads++;
  return err;
}

/* ================================================== */

PHCR_Error
PHCR_Read(PHCR_Reader r, int n_samples, double now, PHCR_Result *res)
{
  return do_read(r, n_samples > 0 ? clamp_samples(n_samples) :
                 r->config.n_samples, READ_FULL, now, res);
}

/* ================================================== */

PHCR_Error
PHCR_ReadSentinel(PHCR_Reader r, double now, PHCR_Result *res)
{
  return do_read(r, 1, READ_SENTINEL, now, res);
}

/* ================================================== */

PHCR_Error
PHCR_ReadProbe(PHCR_Reader r, double now, PHCR_Result *res)
{
  return do_read(r, 1, READ_PROBE, now, res);
}

/* ================================================== */

PHCR_Mode
PHCR_GetMode(PHCR_Reader r)
{
  return r->mode;
}

/* ================================================== */

const char *
PHCR_GetPath(PHCR_Reader r)
{
  return r->path;
}

/* ================================================== */

void
PHCR_GetCounters(PHCR_Reader r, PHCR_Counters *counters)
{
  *counters = r->counters;
}
