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

  The filter of phc_reader: turns one validated reading (1..25 triplets or
  one PRECISE cross-timestamp) into one sample.  It keeps the lowest-delay
  40 % of the triplets (all but the long ones on a device whose timestamp
  noise is more than the delays show), drops those whose offset is
  inconsistent with the median given their delays and that noise, averages
  the rest in exact integer nanoseconds, and derives an error bound that
  contains the true offset whenever each PHC read happened between its two
  system reads (widened by the noise learnt from the offsets' scatter).
  Also the exact timespec <-> int64 ns helpers and the order statistics (k-th
  smallest by Hoare's selection, in place, for int64 ns and for seconds)
  that the filter and the jump detector use.
  */

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "phcr_internal.h"

/* Largest rate difference between the PHC and the system clock assumed
   within one ioctl when moving a triplet's offset to the sample time */
#define MAX_RATE 500e-6
/* Fraction (0, 1] of the lowest-delay triplets combined (at least 1) */
#define QUANTILE 0.4
/* Selected triplets are dropped when their offset is further than
   OUTLIER_K x (their delay / 2) plus the worst selected triplet's delay / 2
   from the median, plus NOISE_K standard deviations of the noise the
   delays do not bound */
#define OUTLIER_K 2.0
/* Error bound of a PRECISE cross-timestamp (s), at least: a device whose
   cross-timestamps are noisier shows it in their residuals from the line
   through the two before (the clocks' rates hold over a few readings); with
   NOISE_WEIGHT and NOISE_K as below, each residual's variance capped at
   PRECISE_CAP times the estimate so far, and a residual beyond
   PRECISE_JUMP (ns) or readings further apart than PRECISE_SPAN (ns) taken
   for a discontinuity, not noise */
#define PRECISE_ERROR 100e-9
#define PRECISE_CAP 16.0
#define PRECISE_JUMP 1e6
#define PRECISE_SPAN 4000000000LL
/* Added to every error bound (s): the PHC's and the rounding's resolution */
#define RESOLUTION 1e-9
/* Timestamp noise the delays do not show (a noisy device) scatters the
   triplets' offsets (robust standard deviation, of at least SCATTER_MIN_N
   triplets).  One reading's scatter is rough (system noise leaves few
   valid triplets) and tells nothing of its mean's error, so the caller
   keeps the variance averaged over readings (weight NOISE_WEIGHT each);
   a reading scattered more than BURST times that average (the noise grew)
   counts with its own scatter until the average follows.  The bound
   is at least NOISE_K such standard deviations (>99 % of a Gaussian
   mean's errors), scaled to the mean of the k triplets by
   sqrt(k + 2 m rho) / k: the m pairs of them that share a system
   timestamp (PTP_SYS_OFFSET) are correlated by rho, learnt from the
   scatter of their differences (0 for noise on the PHC's timestamps, 1/2
   on the system's, assumed until learnt). */
#define SCATTER_MIN_N 5
#define BURST 2.0
#define NOISE_WEIGHT (1.0 / 16.0)
#define NOISE_K 4.0

typedef struct {
  int64_t delay;   /* ns */
  int64_t mid;     /* ns, system time in the middle */
  int64_t offset;  /* ns, phc - mid */
  int index;       /* in the reading */
} Point;

/* ================================================== */

int64_t
PHCR_TimespecToNs(const struct timespec *ts)
{
  int64_t sec = ts->tv_sec;

  if (sec > PHCR_MAX_SEC)
    return INT64_MAX;
  if (sec < -PHCR_MAX_SEC)
    return INT64_MIN;
  return sec * PHCR_NS_PER_S + ts->tv_nsec;
}

/* ================================================== */

void
PHCR_NsToTimespec(int64_t ns, struct timespec *ts)
{
  int64_t sec = ns / PHCR_NS_PER_S, nsec = ns % PHCR_NS_PER_S;

  if (nsec < 0) {
    nsec += PHCR_NS_PER_S;
    sec--;
  }
  ts->tv_sec = (time_t)sec;
  ts->tv_nsec = (long)nsec;
}

#define DEFINE_SELECT_KTH(name, type)                                   \
  type                                                                  \
  name(type *v, int n, int k)                                           \
  {                                                                     \
    int lo = 0, hi = n - 1, i, j;                                       \
    type pivot, tmp;                                                    \
                                                                        \
    while (lo < hi) {                                                   \
      pivot = v[lo + (hi - lo) / 2];                                    \
      i = lo;                                                           \
      j = hi;                                                           \
      while (i <= j) {                                                  \
        while (v[i] < pivot)                                            \
          i++;                                                          \
        while (v[j] > pivot)                                            \
          j--;                                                          \
        if (i <= j) {                                                   \
          tmp = v[i];                                                   \
          v[i] = v[j];                                                  \
          v[j] = tmp;                                                   \
          i++;                                                          \
          j--;                                                          \
        }                                                               \
      }                                                                 \
      if (k <= j)                                                       \
        hi = j;                                                         \
      else if (k >= i)                                                  \
        lo = i;                                                         \
      else                                                              \
        break;                                                          \
    }                                                                   \
    return v[k];                                                        \
  }

DEFINE_SELECT_KTH(PHCR_SelectKthI64, int64_t)
DEFINE_SELECT_KTH(PHCR_SelectKthDouble, double)

/* ================================================== */

double
PHCR_MedianDouble(double *v, int n)
{
  double hi = PHCR_SelectKthDouble(v, n, n / 2), lo;
  int i;

  if (n % 2)
    return hi;
  /* The lower middle is the largest element left of n / 2 */
  for (i = 1, lo = v[0]; i < n / 2; i++)
    if (v[i] > lo)
      lo = v[i];
  return 0.5 * (lo + hi);
}

/* ================================================== */

/* Move the k lowest-delay points to the front, the lowest first and the
   highest of them last (the rest of their order is unspecified) */

static void
select_lowest_delays(Point *p, int n, int k)
{
  int64_t d[PHCR_MAX_SAMPLES], kth;
  int i, m, lo, hi;
  Point tmp;

  for (i = 0; i < n; i++)
    d[i] = p[i].delay;
  kth = PHCR_SelectKthI64(d, n, k - 1);

  /* points below kth, then as many equal to kth as needed */
  for (i = m = 0; i < n; i++) {
    if (p[i].delay < kth) {
      tmp = p[m];
      p[m++] = p[i];
      p[i] = tmp;
    }
  }
  for (i = m; i < n && m < k; i++) {
    if (p[i].delay == kth) {
      tmp = p[m];
      p[m++] = p[i];
      p[i] = tmp;
    }
  }

  for (i = 1, lo = hi = 0; i < k; i++) {
    if (p[i].delay < p[lo].delay)
      lo = i;
    if (p[i].delay > p[hi].delay)
      hi = i;
  }
  tmp = p[0];
  p[0] = p[lo];
  p[lo] = tmp;
  if (hi == 0)
    hi = lo;
  if (k > 1) {
    tmp = p[k - 1];
    p[k - 1] = p[hi];
    p[hi] = tmp;
  }
}

/* ================================================== */

static double
abs_diff(int64_t a, int64_t b)
{
  int64_t d;

  if (__builtin_sub_overflow(a, b, &d))
    return HUGE_VAL;
  return fabs((double)d);
}

/* ================================================== */

/* Bit i of the result: triplet i's system time before is the last one's
   after */

static uint32_t
make_points(const PHCR_Reading *r, Point *p)
{
  int64_t before, after = 0;
  uint32_t shared = 0;
  int i;

  for (i = 0; i < r->n; i++) {
    before = PHCR_TimespecToNs(&r->t[i].sys_before);
    shared |= (uint32_t)(i > 0 && before == after) << i;
    after = PHCR_TimespecToNs(&r->t[i].sys_after);
    p[i].index = i;
    p[i].delay = after - before;
    p[i].mid = before + p[i].delay / 2;
    p[i].offset = PHCR_TimespecToNs(&r->t[i].phc) - p[i].mid;
  }
  return shared;
}

/* ================================================== */
/* Robust standard deviation of n values (ns), reordering them */

static double
robust_sd(int64_t *v, int n)
{
  double d[PHCR_MAX_SAMPLES];
  int64_t med = PHCR_SelectKthI64(v, n, (n - 1) / 2);
  int i;

  for (i = 0; i < n; i++)
    d[i] = abs_diff(v[i], med);
  return 1.4826 * PHCR_MedianDouble(d, n);
}

/* ================================================== */
/* Drop selected points whose offset is inconsistent with the median; keep
   at least the best one.  Returns the number kept (at the front). */

static int
drop_outliers(Point *p, int k, double sd)
{
  double limit, max_half = 0.5 * (double)p[k - 1].delay;
  int64_t v[PHCR_MAX_SAMPLES], med;
  int i, kept;

  for (i = 0; i < k; i++)
    v[i] = p[i].offset;
  /* Lower middle for even k: no overflow, no rounding */
  med = PHCR_SelectKthI64(v, k, (k - 1) / 2);
  for (i = kept = 0; i < k; i++) {
    limit = OUTLIER_K * (0.5 * (double)p[i].delay + max_half) + NOISE_K * sd + 1.0;
    if (abs_diff(p[i].offset, med) > limit)
      continue;
    p[kept++] = p[i];
  }

  return kept > 0 ? kept : 1;
}

/* ================================================== */
/* Mean of offsets and mids relative to the first kept point (exact) */

static void
combine(const Point *p, int n, int64_t *offset, int64_t *mid)
{
  int64_t so = 0, sm = 0, d, e;
  int i;

  for (i = 0; i < n; i++) {
    if (__builtin_sub_overflow(p[i].offset, p[0].offset, &d) ||
        __builtin_sub_overflow(p[i].mid, p[0].mid, &e) ||
        __builtin_add_overflow(so, d, &so) || __builtin_add_overflow(sm, e, &sm)) {
      /* Absurdly spread reading: use the best triplet alone */
      so = sm = 0;
      n = 1;
      break;
    }
  }
  *offset = p[0].offset + so / n;
  *mid = p[0].mid + sm / n;
}

/* ================================================== */

static double
error_bound(const Point *p, int n, int64_t offset, int64_t mid)
{
  double e, best = HUGE_VAL;
  int i;

  for (i = 0; i < n; i++) {
    e = abs_diff(offset, p[i].offset) + 0.5 * (double)p[i].delay + 1.0 +
        MAX_RATE * abs_diff(mid, p[i].mid);
    if (e < best)
      best = e;
  }
  return best * 1e-9;
}

/* ================================================== */

static void
fill_sample(PHCR_Sample *s, PHCR_Mode mode, int64_t offset, int64_t mid)
{
  int64_t phc;

  s->mode = mode;
  s->offset_ns = offset;
  s->offset = (double)offset * 1e-9;
  PHCR_NsToTimespec(mid, &s->sys);
  if (__builtin_add_overflow(mid, offset, &phc))
    phc = offset > 0 ? INT64_MAX : INT64_MIN;
  PHCR_NsToTimespec(phc, &s->phc);
}

/* ================================================== */

static void
average(double *avg, double x)
{
  *avg = *avg > 0.0 ? *avg + NOISE_WEIGHT * (x - *avg) : x;
}

/* ================================================== */
/* Correlation of neighbours sharing a system timestamp from the variances
   of an offset and of their difference: Var(o1 - o2) = 2 (var - cov) */

static double
correlation(double var, double dvar)
{
  double rho = dvar > 0.0 && var > 0.0 ? 1.0 - 0.5 * dvar / var : 0.5;

  return rho < 0.0 ? 0.0 : rho > 0.5 ? 0.5 : rho;
}

/* ================================================== */
/* Update the averaged noise variances (ns^2) with one reading's scatter
   and return the noise term of the bound for one triplet (ns), and in
   *rho the correlation of neighbours sharing a system timestamp (0 if
   none do) */

static double
noise_term(const Point *p, int n_all, uint32_t shared, PHCR_FilterState *st, double *rho)
{
  double var, dvar, scatter = 0.0, diff = 0.0;
  int64_t v[PHCR_MAX_SAMPLES];
  int i, m;

  for (i = 1, m = 0; i < n_all; i++)
    if (shared >> i & 1 && !__builtin_sub_overflow(p[i - 1].offset, p[i].offset, &v[m]))
      m++;
  if (m >= SCATTER_MIN_N)
    diff = robust_sd(v, m);
  for (i = 0; i < n_all; i++)
    v[i] = p[i].offset;
  /* About the reading's own mean, the m correlated pairs hide what they
     share: E(scatter^2) = var (1 - 2 m rho / (n (n - 1))) */
  *rho = st ? correlation(st->noise_var, st->diff_var) : 0.5;
  if (n_all >= SCATTER_MIN_N)
    scatter = robust_sd(v, n_all) / sqrt(1.0 - 2.0 * m * *rho / (n_all * (n_all - 1.0)));
  if (st && n_all >= SCATTER_MIN_N)
    average(&st->noise_var, scatter * scatter);
  if (st && m >= SCATTER_MIN_N)
    average(&st->diff_var, diff * diff);
  var = st ? st->noise_var : scatter * scatter;
  dvar = st ? st->diff_var : diff * diff;
  *rho = m == 0 ? 0.0 : correlation(var, dvar);
  return NOISE_K * (scatter > BURST * sqrt(var) ? scatter : sqrt(var));
}

/* ================================================== */
/* How many triplets to combine: the lowest-delay QUANTILE, or, when the
   timestamp noise (term / NOISE_K, its standard deviation) is more than
   half the shortest delay can bound, also every other triplet whose longer
   delay adds less than the noise: their mean is what reduces it.  The
   noise the delays do not bound (ns, or 0) is left in *sd. */

static int
n_to_combine(const Point *p, int n, double term, double *sd)
{
  int64_t min_delay = p[0].delay;
  int i, k, wide = 0;

  for (i = 1; i < n; i++)
    if (p[i].delay < min_delay)
      min_delay = p[i].delay;
  *sd = term / NOISE_K > 0.5 * (double)min_delay ? term / NOISE_K : 0.0;
  for (i = 0; i < n && *sd > 0.0; i++)
    wide += 0.5 * (double)(p[i].delay - min_delay) <= *sd;

  k = (int)ceil(QUANTILE * n);
  k = k > wide ? k : wide;
  return k < 1 ? 1 : k > n ? n : k;
}

/* ================================================== */
/* Learn the cross-timestamps' noise from one more and return the bound of
   this one (s) */

static double
precise_bound(PHCR_FilterState *st, int64_t mid, int64_t offset)
{
  double a, r, v, cap, floor_var = pow(PRECISE_ERROR * 1e9 / NOISE_K, 2.0);

  if (!st)
    return PRECISE_ERROR;

  if (st->n_precise == 2 && mid > st->mid[1] && st->mid[1] > st->mid[0] &&
      mid - st->mid[0] <= PRECISE_SPAN) {
    a = (double)(mid - st->mid[0]) / (double)(st->mid[1] - st->mid[0]);
    /* in double: offsets of centuries apart must not overflow */
    r = ((double)offset - (double)st->offset[0]) -
        a * ((double)st->offset[1] - (double)st->offset[0]);
    if (fabs(r) > PRECISE_JUMP) {
      st->n_precise = 0;
    } else {
      /* r = n2 - (1 - a) n0 - a n1 for independent noises n0, n1, n2 */
      v = r * r / (1.0 + a * a + (1.0 - a) * (1.0 - a));
      cap = PRECISE_CAP * (st->precise_var > floor_var ? st->precise_var : floor_var);
      st->precise_var += NOISE_WEIGHT * ((v < cap ? v : cap) - st->precise_var);
    }
  } else if (st->n_precise > 0 && (mid <= st->mid[st->n_precise - 1] ||
                                   mid - st->mid[0] > PRECISE_SPAN)) {
    st->n_precise = 0;
  }

  if (st->n_precise == 2) {
    st->mid[0] = st->mid[1];
    st->offset[0] = st->offset[1];
    st->n_precise = 1;
  }
  st->mid[st->n_precise] = mid;
  st->offset[st->n_precise++] = offset;

  return NOISE_K * sqrt(st->precise_var) * 1e-9 > PRECISE_ERROR ?
         NOISE_K * sqrt(st->precise_var) * 1e-9 : PRECISE_ERROR;
}

/* ================================================== */

PHCR_Error
PHCR_FilterReading(const PHCR_Reading *r, PHCR_FilterState *state,
                   PHCR_Sample *sample)
{
  Point p[PHCR_MAX_SAMPLES];
  int64_t offset, mid, best;
  uint32_t shared, kept_bits;
  double bound, noise, sd, rho;
  int i, k, kept;

  if (!r || !sample)
    return PHCR_ERR_ARGS;
  memset(sample, 0, sizeof (*sample));
  if (r->n < 1 || r->n > PHCR_MAX_SAMPLES)
    return PHCR_ERR_INVALID;

  shared = make_points(r, p);
  sample->n_total = r->n;

  if (r->mode == PHCR_MODE_PRECISE) {
    fill_sample(sample, r->mode, p[0].offset, p[0].mid);
    sample->delay = 0.0;
    sample->error = precise_bound(state, p[0].mid, p[0].offset) + RESOLUTION;
    sample->n_used = 1;
    return PHCR_OK;
  }

  noise = noise_term(p, r->n, shared, state, &rho);
  k = n_to_combine(p, r->n, noise, &sd);
  select_lowest_delays(p, r->n, k);
  kept = drop_outliers(p, k, sd);

  /* drop_outliers keeps the order: p[0] is still the best if kept */
  combine(p, kept, &offset, &mid);
  fill_sample(sample, r->mode, offset, mid);
  for (i = 1, best = p[0].delay; i < kept; i++)
    if (p[i].delay < best)
      best = p[i].delay;
  sample->delay = (double)best * 1e-9;
  bound = error_bound(p, kept, offset, mid);
  /* the kept neighbours that share a system timestamp */
  for (i = 0, kept_bits = 0; i < kept; i++)
    kept_bits |= 1U << p[i].index;
  shared &= kept_bits & kept_bits << 1;
  noise *= 1e-9 * sqrt(kept + 2.0 * __builtin_popcount(shared) * rho) / kept;
  if (noise > bound)
    bound = noise;
  sample->error = bound + RESOLUTION;
  sample->n_used = kept;
  return PHCR_OK;
}
