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

  The jump detector of phc_reader.  It keeps the last normal samples,
  estimates offset and drift robustly (medians of the older and newer
  halves, MAD of the residuals), and flags a sample as SUSPECT when its
  deviation from the prediction is clearly beyond the noise margin and
  reaches the threshold.  The next samples must agree on the same jump
  (exact integer nanoseconds) to CONFIRM it; a sample that agrees with the
  old estimate dismisses the suspect.  Pure logic: times come from the
  caller, nothing is allocated after creation.
  */

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "phcr_internal.h"

/* Normal samples kept */
#define HISTORY 16
#define MAX_CONFIRMATIONS 15
/* Confirming samples agree with the suspect's J within TOLERANCE + both
   error bounds + 3 x noise + the drift allowance (s) */
#define TOLERANCE 50e-6
/* Noise margin = NOISE_K x robust std-dev of the residuals + the error
   bounds, + MIN_MARGIN, + DRIFT_TOLERANCE (s/s) per second since the last
   normal sample (unmodelled drift) */
#define NOISE_K 8.0
#define MIN_MARGIN 1e-6
#define DRIFT_TOLERANCE 10e-6
/* Shortest span between the halves of the history for a drift estimate */
#define MIN_DRIFT_SPAN 2.0
#define MAX_DRIFT 0.1
/* Weight of a new deviation in the slow noise estimate, after the first
   PRED_NOISE_START samples (plain mean until then) */
#define PRED_NOISE_ALPHA (1.0 / 32.0)
#define PRED_NOISE_START 8
/* mean |x| of a gaussian is sqrt(2 / pi) sigma */
#define MEAN_ABS_TO_SIGMA 1.2533

typedef struct {
  double time;
  int64_t offset_ns;
  double error;
} Point;

typedef struct {
  int valid;
  int warmup;
  double t_ref;          /* time of the reference point */
  int64_t off_ref_ns;    /* offset at t_ref */
  double drift;
  double drift_err;      /* uncertainty of drift (s/s) */
  double noise;          /* robust std-dev of residuals (s) */
  double hist_err;       /* median error bound of the history (s) */
} Model;

struct PHCR_JumpDetector_Record {
  PHCR_JumpConfig cfg;

  Point hist[HISTORY];   /* ring, chronological from first */
  int n, first;
  int first_armed;

  /* Pending suspect: cand[0] is the suspect sample */
  Point cand[MAX_CONFIRMATIONS + 1];
  int64_t cand_dev[MAX_CONFIRMATIONS + 1];
  int n_cand;
  Model cand_model;

  /* Slow robust estimate of the one-step prediction error (s): clipped
     running mean of |deviation| of normal samples, scaled to a std-dev */
  double pred_noise;
  unsigned long pred_noise_n;

  /* Drift known before the last reset/jump: a step changes the offset, not
     the rates, so it is the drift of the warm-up after it */
  double prior_drift;
  int have_prior;
};

/* ================================================== */

void
PHCR_JumpConfigDefaults(PHCR_JumpConfig *c)
{
  c->threshold = 1e-3;
  c->confirmations = 2;
}

/* ================================================== */

static void
sanitise(PHCR_JumpConfig *c)
{
  PHCR_JumpConfig d;

  PHCR_JumpConfigDefaults(&d);
  if (!(c->threshold > 0.0) || !isfinite(c->threshold))
    c->threshold = d.threshold;
  if (c->confirmations < 1)
    c->confirmations = 1;
  if (c->confirmations > MAX_CONFIRMATIONS)
    c->confirmations = MAX_CONFIRMATIONS;
}

/* ================================================== */

PHCR_JumpDetector
PHCR_JumpCreate(const PHCR_JumpConfig *config)
{
  PHCR_JumpDetector d = calloc(1, sizeof (*d));

  if (!d)
    return NULL;
  if (config)
    d->cfg = *config;
  else
    PHCR_JumpConfigDefaults(&d->cfg);
  sanitise(&d->cfg);
  d->first_armed = 1;
  return d;
}

/* ================================================== */

void
PHCR_JumpDestroy(PHCR_JumpDetector d)
{
  free(d);
}

/* ================================================== */

static void fit_model(PHCR_JumpDetector d, Model *m);

static void
save_prior(PHCR_JumpDetector d)
{
  Model m;

  fit_model(d, &m);
  if (m.valid && !m.warmup) {
    d->prior_drift = m.drift;
    d->have_prior = 1;
  }
}

/* ================================================== */

void
PHCR_JumpReset(PHCR_JumpDetector d)
{
  save_prior(d);
  d->n = d->first = 0;
  d->n_cand = 0;
}

/* ================================================== */

void
PHCR_JumpResetCold(PHCR_JumpDetector d)
{
  PHCR_JumpReset(d);
  d->have_prior = 0;
  d->prior_drift = 0.0;
  d->first_armed = 1;
}

/* ================================================== */

static int64_t
sat_sub(int64_t a, int64_t b)
{
  int64_t r;

  if (__builtin_sub_overflow(a, b, &r))
    return b < 0 ? INT64_MAX : INT64_MIN;
  return r;
}

/* ================================================== */

static int64_t
sat_add_double(int64_t a, double x_ns)
{
  int64_t r;

  if (!(fabs(x_ns) < 9.0e18))
    return x_ns > 0 ? INT64_MAX : INT64_MIN;
  if (__builtin_add_overflow(a, (int64_t)(x_ns + (x_ns >= 0.0 ? 0.5 : -0.5)), &r))
    return x_ns > 0 ? INT64_MAX : INT64_MIN;
  return r;
}

/* ================================================== */

/* Median of times, which are normally in order already (then no selection
   is needed); tmp receives a copy otherwise */

static double
median_of_times(const double *t, int n, double *tmp)
{
  int i;

  for (i = 1; i < n; i++)
    if (t[i] < t[i - 1])
      break;
  if (i < n) {
    memcpy(tmp, t, sizeof (double) * n);
    return PHCR_MedianDouble(tmp, n);
  }
  return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

/* ================================================== */

static const Point *
hist_at(PHCR_JumpDetector d, int i)
{
  return &d->hist[(d->first + i) % HISTORY];
}

/* ================================================== */
/* Robust line through the history: offsets relative to the newest
   sample (exact), times relative to the newest time. */

static void
fit_model(PHCR_JumpDetector d, Model *m)
{
  double t[HISTORY], o[HISTORY], v[HISTORY];
  double ta = 0.0, tb = 0.0, oa, ob, off, err_sum;
  const Point *last;
  int i, n = d->n, h;

  memset(m, 0, sizeof (*m));
  if (n == 0)
    return;

  last = hist_at(d, n - 1);
  for (i = 0, err_sum = 0.0; i < n; i++) {
    t[i] = hist_at(d, i)->time - last->time;
    o[i] = (double)sat_sub(hist_at(d, i)->offset_ns, last->offset_ns) * 1e-9;
    err_sum += hist_at(d, i)->error;
  }
  m->valid = 1;
  m->t_ref = last->time;
  m->hist_err = err_sum / n;

  /* Drift: between the medians of the older and newer halves (for a line,
     the median offset of a half belongs to its median time, whatever the
     spacing of the samples) */
  h = n / 2;
  m->warmup = 1;
  if (n >= 3) {
    ta = median_of_times(t, h, v);
    tb = median_of_times(t + h, n - h, v);
    if (tb - ta >= MIN_DRIFT_SPAN) {
      memcpy(v, o, sizeof (double) * h);
      oa = PHCR_MedianDouble(v, h);
      memcpy(v, o + h, sizeof (double) * (n - h));
      ob = PHCR_MedianDouble(v, n - h);
      m->drift = (ob - oa) / (tb - ta);
      if (m->drift > MAX_DRIFT)
        m->drift = MAX_DRIFT;
      else if (m->drift < -MAX_DRIFT)
        m->drift = -MAX_DRIFT;
      m->warmup = 0;
    }
  }

  if (m->warmup && d->have_prior)
    m->drift = d->prior_drift;

  /* Offset at t_ref: median of the drift-corrected offsets */
  for (i = 0; i < n; i++)
    v[i] = o[i] - m->drift * t[i];
  off = PHCR_MedianDouble(v, n);
  m->off_ref_ns = sat_add_double(last->offset_ns, off * 1e9);

  /* Noise: MAD of the residuals */
  for (i = 0; i < n; i++)
    v[i] = fabs(o[i] - m->drift * t[i] - off);
  m->noise = n >= 3 ? 1.4826 * PHCR_MedianDouble(v, n) : 0.0;

  if (!m->warmup)
    m->drift_err = 2.0 * (m->noise + m->hist_err) / (tb - ta);
}

/* ================================================== */

static int64_t
predict(const Model *m, double time)
{
  if (!m->valid)
    return 0;
  return sat_add_double(m->off_ref_ns, m->drift * (time - m->t_ref) * 1e9);
}

/* ================================================== */

static void
update_pred_noise(PHCR_JumpDetector d, double dev)
{
  double x = MEAN_ABS_TO_SIGMA * fabs(dev), alpha;

  if (d->pred_noise_n < PRED_NOISE_START) {
    alpha = 1.0 / (double)(d->pred_noise_n + 1);
  } else {
    alpha = PRED_NOISE_ALPHA;
    if (x > 4.0 * d->pred_noise)
      x = 4.0 * d->pred_noise;
  }
  d->pred_noise += alpha * (x - d->pred_noise);
  d->pred_noise_n++;
}

/* ================================================== */
/* Noise margin of a sample against a model */

static double
margin(PHCR_JumpDetector d, const Model *m, const PHCR_JumpInput *in)
{
  double dt = m->valid ? fabs(in->time - m->t_ref) : 0.0, drift_allow;
  double noise = m->noise > d->pred_noise ? m->noise : d->pred_noise;

  /* Without a drift estimate, allow 4 times the drift tolerance (2 times
     with the drift known from before a reset) */
  drift_allow = m->warmup ? (d->have_prior ? 2.0 : 4.0) : 1.0;

  return NOISE_K * (noise + m->drift_err * dt) + m->hist_err +
         in->error + MIN_MARGIN + drift_allow * DRIFT_TOLERANCE * dt;
}

/* ================================================== */

/* A jump must be clearly beyond the noise margin u, and reach the
   threshold up to a slack of min(u, threshold / 4), so that a jump of
   exactly the threshold is found despite noise, while deviations below
   3/4 of the threshold never count whatever the noise */

static int
is_jump(PHCR_JumpDetector d, double dev, double u)
{
  double thr = d->cfg.threshold, slack = u < thr / 4.0 ? u : thr / 4.0;

  dev = fabs(dev);
  return dev > u && dev >= thr - slack;
}

/* ================================================== */

static void
hist_add(PHCR_JumpDetector d, const Point *p)
{
  if (d->n < HISTORY) {
    d->hist[(d->first + d->n) % HISTORY] = *p;
    d->n++;
  } else {
    d->hist[d->first] = *p;
    d->first = (d->first + 1) % HISTORY;
  }
}

/* ================================================== */

/* Lower median of the candidates' deviations (x is left unchanged) */

static int64_t
median_i64(const int64_t *x, int n)
{
  int64_t v[MAX_CONFIRMATIONS + 1];

  memcpy(v, x, n * sizeof (v[0]));
  return PHCR_SelectKthI64(v, n, (n - 1) / 2);
}

/* ================================================== */

static void
start_suspect(PHCR_JumpDetector d, const Model *m, const Point *p, int64_t dev)
{
  d->cand_model = *m;
  d->cand[0] = *p;
  d->cand_dev[0] = dev;
  d->n_cand = 1;
}

/* ================================================== */

static PHCR_JumpState
set_result(PHCR_JumpResult *res, PHCR_JumpState state, int64_t jump_ns)
{
  res->state = state;
  if (state != PHCR_JUMP_NORMAL) {
    res->jump_ns = jump_ns;
    res->jump = (double)jump_ns * 1e-9;
  }
  return state;
}

/* ================================================== */

static PHCR_JumpState
feed_pending(PHCR_JumpDetector d, const Point *p, const PHCR_JumpInput *in,
             PHCR_JumpResult *res)
{
  const Model *m = &d->cand_model;
  int64_t pred = predict(m, p->time), dev = sat_sub(p->offset_ns, pred), j;
  double u = margin(d, m, in), tol, dt = fabs(p->time - d->cand[0].time);
  int i;

  tol = TOLERANCE + p->error + d->cand[0].error + DRIFT_TOLERANCE * dt +
        3.0 * m->noise;

  /* A confirming sample is itself a jump from the old estimate, and agrees
     with the suspect's J */
  if (is_jump(d, (double)dev * 1e-9, u) &&
      fabs((double)sat_sub(dev, d->cand_dev[0]) * 1e-9) <= tol) {
    d->cand[d->n_cand] = *p;
    d->cand_dev[d->n_cand] = dev;
    d->n_cand++;
    if (d->n_cand - 1 < d->cfg.confirmations)
      return set_result(res, PHCR_JUMP_SUSPECT, d->cand_dev[0]);

    /* Confirmed: the history restarts on the new level */
    j = median_i64(d->cand_dev, d->n_cand);
    save_prior(d);
    d->n = d->first = 0;
    for (i = 0; i < d->n_cand; i++)
      hist_add(d, &d->cand[i]);
    d->n_cand = 0;
    return set_result(res, PHCR_JUMP_CONFIRMED, j);
  }

  if (!is_jump(d, (double)dev * 1e-9, u)) {
    /* Agrees with the old estimate: the suspect was a wild reading */
    d->n_cand = 0;
    hist_add(d, p);
    return set_result(res, PHCR_JUMP_NORMAL, 0);
  }

  /* Another, different jump: it becomes the suspect */
  start_suspect(d, m, p, dev);
  return set_result(res, PHCR_JUMP_SUSPECT, dev);
}

/* ================================================== */

PHCR_JumpState
PHCR_JumpFeed(PHCR_JumpDetector d, const PHCR_JumpInput *in,
              PHCR_JumpResult *res)
{
  PHCR_JumpResult local;
  Point p;
  Model m;
  int64_t pred, dev;
  double u;
  int cold;

  if (!res)
    res = &local;
  memset(res, 0, sizeof (*res));

  p.time = isfinite(in->time) ? in->time : 0.0;
  p.offset_ns = in->offset_ns;
  p.error = in->error >= 0.0 && isfinite(in->error) ? in->error : 1.0;

  if (d->n_cand > 0)
    return feed_pending(d, &p, in, res);

  fit_model(d, &m);

  /* Without history, the model is "offset 0" for the first-sample rule */
  cold = d->n == 0 && d->first_armed;
  d->first_armed = 0;
  pred = predict(&m, p.time);
  dev = sat_sub(p.offset_ns, pred);
  u = margin(d, &m, in);

  if ((m.valid || cold) && is_jump(d, (double)dev * 1e-9, u)) {
    start_suspect(d, &m, &p, dev);
    return set_result(res, PHCR_JUMP_SUSPECT, dev);
  }

  if (m.valid && !m.warmup)
    update_pred_noise(d, (double)dev * 1e-9);
  hist_add(d, &p);
  return set_result(res, PHCR_JUMP_NORMAL, 0);
}
