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

  Running statistics of phc_reader for diagnostics: a ring of the last
  samples' delays and offsets, summarised as min/median delay and jitter
  (robust std-dev of consecutive offset changes).  Not on the decision
  path: the jump detector keeps its own estimate.
  */

#include <math.h>
#include <string.h>

#include "phcr_internal.h"

/* ================================================== */

void
PHCR_StatsInit(PHCR_Stats *s)
{
  memset(s, 0, sizeof (*s));
  s->min_delay_ever = HUGE_VAL;
}

/* ================================================== */

void
PHCR_StatsAdd(PHCR_Stats *s, const PHCR_Sample *sample)
{
  int64_t d;

  if (s->n == 0 && s->total == 0)
    s->base_ns = sample->offset_ns;
  if (__builtin_sub_overflow(sample->offset_ns, s->base_ns, &d)) {
    /* Offsets moved by centuries: restart the window */
    s->n = s->pos = 0;
    s->base_ns = sample->offset_ns;
    d = 0;
  }

  s->delay[s->pos] = sample->delay;
  s->offset[s->pos] = (double)d * 1e-9;
  s->pos = (s->pos + 1) % PHCR_STATS_WINDOW;
  if (s->n < PHCR_STATS_WINDOW)
    s->n++;
  s->total++;
  if (sample->delay < s->min_delay_ever)
    s->min_delay_ever = sample->delay;
}

/* ================================================== */

void
PHCR_StatsGet(const PHCR_Stats *s, PHCR_StatsSummary *out)
{
  double v[PHCR_STATS_WINDOW];
  int i, first, cur, prev;

  memset(out, 0, sizeof (*out));
  out->total = s->total;
  out->n = s->n;
  out->min_delay_ever = s->n ? s->min_delay_ever : 0.0;
  if (s->n == 0)
    return;

  first = (s->pos - s->n + PHCR_STATS_WINDOW) % PHCR_STATS_WINDOW;
  for (i = 0, out->min_delay = HUGE_VAL; i < s->n; i++) {
    v[i] = s->delay[(first + i) % PHCR_STATS_WINDOW];
    if (v[i] < out->min_delay)
      out->min_delay = v[i];
  }
  out->median_delay = PHCR_MedianDouble(v, s->n);

  if (s->n < 3)
    return;

  /* Robust std-dev of consecutive differences (median of their absolute
     values, not centred: the drift over one sample is negligible), scaled
     to one sample */
  for (i = 1; i < s->n; i++) {
    cur = (first + i) % PHCR_STATS_WINDOW;
    prev = (first + i - 1) % PHCR_STATS_WINDOW;
    v[i - 1] = s->offset[cur] - s->offset[prev];
  }
  for (i = 0; i < s->n - 1; i++)
    v[i] = fabs(v[i]);
  out->jitter = 1.4826 * PHCR_MedianDouble(v, s->n - 1) / sqrt(2.0);
}
