/*
  chrony-ptpkvm -- decisions of the PTPKVM reference clock driver

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

  Implementation of the driver's decisions (see refclock_ptpkvm.h).
  The jump detector keeps the last normal readings of the watched offset,
  estimates offset and drift robustly (medians of the older and newer
  halves, MAD of the residuals) and finds a suspect when a reading's
  deviation from the prediction is clearly beyond the noise margin and
  reaches the jump threshold; the next readings must agree on the same
  jump J (exact integer nanoseconds) to confirm it, a reading that agrees
  with the old estimate dismisses it.  The watched offset is the host
  clock minus chronyd's cooked time, with chronyd's own corrections taken
  out and the generic options' offset put in; after start, a step of the
  clock not made by this driver and an outage of readings the next reading
  is judged as at a cold start (a jump from offset 0).  REALTIME against
  MONOTONIC and BOOTTIME tells who moved the clock.  Plain C on phc_reader's
  order statistics; no chrony headers, no clock reads, no I/O.
  */

#include <math.h>
#include <string.h>

#include "refclock_ptpkvm.h"

/* Largest value handled as a correction or an option offset (s) */
#define MAX_CORRECTION 9.0e9

/* Confirming readings agree with the suspect's J within TOLERANCE + both
   error bounds + 3 x noise + the drift allowance (s) */
#define TOLERANCE 50e-6
/* Noise margin = NOISE_K x robust std-dev of the residuals + the error
   bounds, + MIN_MARGIN, + DRIFT_TOLERANCE (s/s) per second since the last
   normal reading (unmodelled drift) */
#define NOISE_K 8.0
#define MIN_MARGIN 1e-6
#define DRIFT_TOLERANCE 10e-6
/* Shortest span between the halves of the history for a drift estimate */
#define MIN_DRIFT_SPAN 2.0
#define MAX_DRIFT 0.1
/* Weight of a new deviation in the slow noise estimate, after the first
   PRED_NOISE_START readings (plain mean until then) */
#define PRED_NOISE_ALPHA (1.0 / 32.0)
#define PRED_NOISE_START 8
/* mean |x| of a gaussian is sqrt(2 / pi) sigma */
#define MEAN_ABS_TO_SIGMA 1.2533

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

/* Median of x[0..n-1], which is left unchanged (tmp receives a copy) */

static double
median_of(const double *x, int n, double *tmp)
{
  memcpy(tmp, x, sizeof (double) * n);
  return PHCR_MedianDouble(tmp, n);
}

/* ================================================== */

static const PKD_Point *
hist_at(PKD_State *d, int i)
{
  return &d->hist[(d->first + i) % PKD_HISTORY];
}

/* ================================================== */
/* Robust line through the history: offsets relative to the newest
   sample (exact), times relative to the newest time. */

static void
fit_model(PKD_State *d, PKD_Model *m)
{
  double t[PKD_HISTORY], o[PKD_HISTORY], v[PKD_HISTORY];
  double ta = 0.0, tb = 0.0, oa, ob, off, err_sum;
  const PKD_Point *last;
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
    ta = median_of(t, h, v);
    tb = median_of(t + h, n - h, v);
    if (tb - ta >= MIN_DRIFT_SPAN) {
      oa = median_of(o, h, v);
      ob = median_of(o + h, n - h, v);
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
predict(const PKD_Model *m, double time)
{
  if (!m->valid)
    return 0;
  return sat_add_double(m->off_ref_ns, m->drift * (time - m->t_ref) * 1e9);
}

/* ================================================== */

static void
update_pred_noise(PKD_State *d, double dev)
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
margin(PKD_State *d, const PKD_Model *m, const PKD_Point *in)
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
is_jump(PKD_State *d, double dev, double u)
{
  double thr = d->opts->jump, slack = u < thr / 4.0 ? u : thr / 4.0;

  dev = fabs(dev);
  return dev > u && dev >= thr - slack;
}

/* ================================================== */

static void
hist_add(PKD_State *d, const PKD_Point *p)
{
  d->hist[(d->first + d->n) % PKD_HISTORY] = *p;
  if (d->n < PKD_HISTORY)
    d->n++;
  else
    d->first = (d->first + 1) % PKD_HISTORY;
}

/* ================================================== */

static void
start_suspect(PKD_State *d, const PKD_Model *m, const PKD_Point *p, int64_t dev)
{
  d->cand_model = *m;
  d->cand[0] = *p;
  d->cand_dev[0] = dev;
  d->n_cand = 1;
}

/* ================================================== */
/* Forget the history of the detector and any pending suspect.  cold: the
   next reading is judged against chronyd's own time, as at start, and the
   drift learnt before is forgotten. */

static void
restart(PKD_State *d, int cold)
{
  PKD_Model m;

  fit_model(d, &m);
  if (m.valid && !m.warmup) {
    d->prior_drift = m.drift;
    d->have_prior = 1;
  }
  if (cold) {
    d->have_prior = 0;
    d->prior_drift = 0.0;
    d->first_armed = 1;
  }
  d->n = d->first = d->n_cand = 0;
  d->adjusted_ns = 0;
  d->fed = 0;
}

/* ================================================== */
/* The detector's verdict on a reading: ADD (agrees with the estimate, or
   dismisses a pending suspect), CONFIRM (a suspect, *jump_ns tentative)
   or STEP (the jump *jump_ns is confirmed; the history restarts, warm:
   the jump is acted upon or taken as the new level) */

static PKS_Action
feed_pending(PKD_State *d, const PKD_Point *p, int64_t *jump_ns)
{
  const PKD_Model *m = &d->cand_model;
  int64_t pred = predict(m, p->time), dev = sat_sub(p->offset_ns, pred);
  double u = margin(d, m, p), tol, dt = fabs(p->time - d->cand[0].time);
  int n;

  tol = TOLERANCE + p->error + d->cand[0].error + DRIFT_TOLERANCE * dt +
        3.0 * m->noise;

  if (!is_jump(d, (double)dev * 1e-9, u)) {
    /* Agrees with the old estimate: the suspect was a wild reading */
    d->n_cand = 0;
    hist_add(d, p);
    return PKS_ACTION_ADD;
  }

  if (fabs((double)sat_sub(dev, d->cand_dev[0]) * 1e-9) > tol) {
    /* Another, different jump: it becomes the suspect */
    start_suspect(d, m, p, dev);
    *jump_ns = dev;
    return PKS_ACTION_CONFIRM;
  }

  /* A confirming reading is itself a jump from the old estimate, and
     agrees with the suspect's J */
  d->cand[d->n_cand] = *p;
  d->cand_dev[d->n_cand] = dev;
  n = ++d->n_cand;
  if (n - 1 < d->opts->confirm) {
    *jump_ns = d->cand_dev[0];
    return PKS_ACTION_CONFIRM;
  }

  /* the lower median of their deviations (reordered: the history restarts) */
  *jump_ns = PHCR_SelectKthI64(d->cand_dev, n, (n - 1) / 2);
  restart(d, 0);
  return PKS_ACTION_STEP;
}

/* ================================================== */

static PKS_Action
detect(PKD_State *d, const PKD_Point *in, int64_t *jump_ns)
{
  PKD_Point p = *in;
  PKD_Model m;
  int64_t dev;
  double u;
  int cold;

  *jump_ns = 0;
  if (!isfinite(p.time))
    p.time = 0.0;
  if (!(p.error >= 0.0 && isfinite(p.error)))
    p.error = 1.0;

  if (d->n_cand > 0)
    return feed_pending(d, &p, jump_ns);

  fit_model(d, &m);

  /* Without history, the model is "offset 0" for the first-reading rule */
  cold = d->n == 0 && d->first_armed;
  d->first_armed = 0;
  dev = sat_sub(p.offset_ns, predict(&m, p.time));
  u = margin(d, &m, &p);

  if ((m.valid || cold) && is_jump(d, (double)dev * 1e-9, u)) {
    start_suspect(d, &m, &p, dev);
    *jump_ns = dev;
    return PKS_ACTION_CONFIRM;
  }

  if (m.valid && !m.warmup)
    update_pred_noise(d, (double)dev * 1e-9);
  hist_add(d, &p);
  return PKS_ACTION_ADD;
}

/* ================================================== */
/* Quality of a reading: its error bound against the recent ones of the
   same reading mode (a mode change restarts the window); every one is
   recorded, so that a lasting change of the delay is accepted after one
   window */

static int
assess_quality(PKD_State *d, double error, int mode)
{
  double min_error;
  int i, quality;

  if (mode != d->q_mode) {
    d->q_n = d->q_pos = 0;
    d->q_mode = mode;
  }

  if (d->q_n < 4) {
    quality = 2;
  } else {
    for (i = 0, min_error = d->q_error[0]; i < d->q_n; i++) {
      if (d->q_error[i] < min_error)
        min_error = d->q_error[i];
    }
    if (error <= 3.0 * min_error + 0.1e-6)
      quality = 2;
    else if (error <= 20.0 * min_error + 1.0e-6)
      quality = 1;
    else
      quality = 0;
  }

  d->q_error[d->q_pos] = error;
  d->q_pos = (d->q_pos + 1) % PKD_QUALITY_WINDOW;
  if (d->q_n < PKD_QUALITY_WINDOW)
    d->q_n++;

  return quality;
}

/* ================================================== */

static long long
to_ns(double x)
{
  if (!isfinite(x) || fabs(x) >= MAX_CORRECTION)
    return 0;
  return llround(x * 1.0e9);
}

/* ================================================== */

void
PKD_Init(PKD_State *d, const PKP_Options *opts, double now)
{
  memset(d, 0, sizeof (*d));
  d->opts = opts;
  d->first_armed = 1;
  d->q_mode = -1;
  d->last_normal = d->last_good = now;
}

/* ================================================== */

void
PKD_ReadFailed(PKD_State *d)
{
  d->failed = 1;
}

/* ================================================== */
/* The flush and the step of the driver's last verdict come back here:
   the step moved the clock as chronyd's own steps do, and neither is news.
   Any other step is judged again as at start. */

void
PKD_ClockChanged(PKD_State *d, PKD_Change change, double doffset)
{
  switch (change) {
    case PKD_CHANGE_STEP:
      d->known_steps += doffset;
      if (d->own_step != 0.0 && doffset == -d->own_step) {
        d->own_step = 0.0;
        d->steps++;
        break;
      }
      /* A step by chronyd for another reason (e.g. makestep) */
      d->chronyd_stepped = 1;
      restart(d, 1);
      break;
    case PKD_CHANGE_UNKNOWN_STEP:
      /* chronyd's view of its clock is lost (its own jump detector,
         another driver's flush) */
      if (d->own_flush)
        d->own_flush = 0;
      else
        restart(d, 1);
      break;
    default:
      if (d->fed)
        d->adjusted_ns += to_ns(doffset);
      break;
  }
}

/* ================================================== */
/* Follow REALTIME - MONOTONIC and BOOTTIME - MONOTONIC: a change not
   explained by chronyd's own steps was made by somebody else (chrony's
   convention: a change with doffset d moves the clock by -d) */

static void
track_clocks(PKD_State *d, const PKD_Input *in)
{
  if (d->have_clocks) {
    d->ext_step += in->rt_mono - d->rt_mono + d->known_steps;
    d->slept += in->boot_mono - d->boot_mono;
  }
  d->have_clocks = 1;
  d->rt_mono = in->rt_mono;
  d->boot_mono = in->boot_mono;
  d->known_steps = 0.0;
}

/* ================================================== */
/* An outage of readings makes the history useless: judge the next reading
   as at a cold start */

/* Shortest time without a good reading, with failed reads in it, after
   which the next reading is judged as at a cold start */
#define OUTAGE_MIN 2.0

static void
check_outage(PKD_State *d, double now)
{
  if (d->failed && now - d->last_good >= OUTAGE_MIN) {
    d->gap = now - d->last_good;
    restart(d, 1);
  }
  d->failed = 0;
  d->last_good = now;
}

/* ================================================== */

static PKS_Cause
find_cause(const PKD_State *d, double jump)
{
  if (!d->started)
    return PKS_CAUSE_COLD_START;
  if (d->slept >= d->opts->jump)
    return PKS_CAUSE_SUSPEND;
  if (d->chronyd_stepped)
    return PKS_CAUSE_CHRONYD_STEP;
  /* A step of the guest clock by S changes the offset by -S */
  if (fabs(d->ext_step) >= d->opts->jump / 2.0 &&
      fabs(jump + d->ext_step) <= fabs(jump) / 2.0)
    return PKS_CAUSE_GUEST_STEP;
  /* With no other evidence, a jump across an outage of readings */
  if (d->gap > 0.0)
    return PKS_CAUSE_OUTAGE;
  return jump > 0.0 ? PKS_CAUSE_PAUSE : PKS_CAUSE_HOST_STEP;
}

/* ================================================== */
/* What to do with a confirmed jump, and why */

static PKS_Action
jump_action(const PKD_State *d, const PKD_Input *in, double jump, const char **why)
{
  const PKP_Options *o = d->opts;

  if (!in->normal_mode) {
    /* -q, -Q: the reading is the new truth for chronyd */
    *why = "not acting outside chronyd's normal mode";
    return in->full ? PKS_ACTION_ADD : PKS_ACTION_NONE;
  }
  if (!in->may_step) {
    *why = "not stepping: the source may not move the clock (noselect)";
    return PKS_ACTION_NONE;
  }
  if (o->step <= 0.0)
    *why = "stepping disabled (step=0), slewing";
  else if (fabs(jump) < o->step)
    *why = "below the step threshold, slewing";
  else if (o->maxsteps >= 0 && d->steps >= o->maxsteps)
    *why = "step limit (maxsteps) reached, slewing";
  else
    return PKS_ACTION_STEP;
  return PKS_ACTION_FLUSH;
}

/* ================================================== */

static void
judge_jump(PKD_State *d, const PKD_Input *in, PKD_Verdict *v)
{
  v->jumped = 1;
  v->cause = find_cause(d, v->jump);
  v->latency = in->now - d->last_normal;
  v->gap = d->gap;
  v->action = jump_action(d, in, v->jump, &v->why);

  if (v->action == PKS_ACTION_STEP) {
    /* The whole offset of the confirming reading: chronyd's pending
       correction is cancelled by the flush that comes first */
    v->step = (double)in->offset_ns * 1.0e-9 + in->options_offset;
    d->own_step = v->step;
  }
  d->own_flush = v->action == PKS_ACTION_STEP || v->action == PKS_ACTION_FLUSH;
}

/* ================================================== */

void
PKD_Process(PKD_State *d, const PKD_Input *in, PKD_Verdict *v)
{
  PKD_Point p;
  int64_t jump_ns;

  memset(v, 0, sizeof (*v));
  /* A step that failed never came back */
  d->own_flush = 0;
  d->own_step = 0.0;
  track_clocks(d, in);
  check_outage(d, in->now);

  p.time = in->now;
  p.offset_ns = in->offset_ns - to_ns(in->correction) - d->adjusted_ns +
                to_ns(in->options_offset);
  p.error = in->error;
  d->fed = 1;

  v->action = detect(d, &p, &jump_ns);
  v->jump = (double)jump_ns * 1.0e-9;
  if (v->action == PKS_ACTION_CONFIRM)
    return;

  if (v->action == PKS_ACTION_STEP)
    judge_jump(d, in, v);
  if (v->action == PKS_ACTION_ADD && !in->full)
    v->action = PKS_ACTION_NONE;
  if (v->action == PKS_ACTION_ADD)
    v->quality = assess_quality(d, in->error, in->mode);

  d->started = 1;
  d->last_normal = in->now;
  d->ext_step = d->slept = d->gap = 0.0;
  d->chronyd_stepped = 0;
}

/* ================================================== */

PKD_HealthEvent
PKD_HealthUpdate(PKD_Health *h, int ok, double now)
{
  int was_logged = h->failing && h->logged;

  if (ok) {
    h->failing = 0;
    return was_logged ? PKD_HEALTH_RECOVERED : PKD_HEALTH_SAME;
  }

  if (!h->failing) {
    h->failing = 1;
    h->logged = 0;
    h->failures = 0;
    h->since = now;
  }
  h->failures++;
  if (h->logged || (h->since < h->quiet_until && now - h->since < PKD_HEALTH_QUIET))
    return PKD_HEALTH_SAME;

  h->logged = 1;
  h->quiet_until = now + PKD_HEALTH_QUIET;
  return PKD_HEALTH_FAILING;
}

/* ================================================== */

double
PKD_Backoff(int n, double first, double max)
{
  double d = first;

  for (; n > 1 && d < max; n--)
    d *= 2.0;
  return d < max ? d : max;
}

/* ================================================== */

int
PKD_SentinelDue(const PKP_Options *opts, double interval, double since, int usable)
{
  double margin = opts->sentinel / 2.0;

  return opts->sentinel > 0.0 && usable && since >= margin &&
         fabs(since - interval) >= margin;
}
