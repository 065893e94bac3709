/*
  chrony-ptpkvm -- decision loop of the PTPKVM reference clock driver

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

  Implementation of the driver's decision loop (see
  refclock_ptpkvm_decide.h): the detector input, cold judgements after
  start, foreign steps and outages, the verdict for each reading and the
  cause of a confirmed jump.  Plain C on phc_reader's jump detector and the
  policy; no chrony headers, no clock reads, no I/O.
  */

#include <math.h>
#include <string.h>

#include "refclock_ptpkvm_decide.h"

/* Largest value handled as a correction or an option offset (s) */
#define MAX_CORRECTION 9.0e9

/* ================================================== */

static long long
to_ns(double x)
{
  if (!isfinite(x) || fabs(x) >= MAX_CORRECTION)
    return 0;
  return llround(x * 1.0e9);
}

/* ================================================== */
/* Forget the detector's history.  cold: the next reading is judged
   against chronyd's own time, as at start. */

static void
restart(PKD_State *d, int cold)
{
  if (cold)
    PHCR_JumpResetCold(d->detector);
  else
    PHCR_JumpReset(d->detector);
  d->adjusted_ns = 0;
  d->fed = 0;
}

/* ================================================== */

int
PKD_Init(PKD_State *d, const PKP_Options *opts, double now)
{
  PHCR_JumpConfig jc;

  memset(d, 0, sizeof (*d));
  d->opts = opts;

  PHCR_JumpConfigDefaults(&jc);
  jc.threshold = opts->jump;
  jc.confirmations = opts->confirm;
  d->detector = PHCR_JumpCreate(&jc);

  PKP_QualityInit(&d->quality);
  d->last_normal = d->last_good = now;
  return d->detector != NULL;
}

/* ================================================== */

void
PKD_Fini(PKD_State *d)
{
  PHCR_JumpDestroy(d->detector);
  d->detector = NULL;
}

/* ================================================== */

void
PKD_ReadFailed(PKD_State *d)
{
  d->failed = 1;
}

/* ================================================== */

void
PKD_ClockChanged(PKD_State *d, PKD_Change change, double doffset)
{
  if (d->acting)
    return;

  switch (change) {
    case PKD_CHANGE_STEP:
      /* A step by chronyd for another reason (e.g. makestep): what the host
         clock says is judged again as at start */
      d->known_steps += doffset;
      d->chronyd_stepped = 1;
      restart(d, 1);
      break;
    case PKD_CHANGE_UNKNOWN_STEP:
      /* chronyd's view of its clock is lost (its own jump detector, another
         driver's flush) */
      restart(d, 1);
      break;
    default:
      if (!isfinite(doffset) || fabs(doffset) >= MAX_CORRECTION)
        restart(d, 1);
      else if (d->fed)
        d->adjusted_ns += llround(doffset * 1.0e9);
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

static void
check_outage(PKD_State *d, double now)
{
  if (d->failed && now - d->last_good >= PKD_OUTAGE_MIN) {
    d->gap = now - d->last_good;
    restart(d, 1);
  }
  d->failed = 0;
  d->last_good = now;
}

/* ================================================== */
/* The detector watches the host clock minus chronyd's cooked time, plus
   what the generic options add, without chronyd's own corrections since
   its history started */

static PHCR_JumpState
feed(PKD_State *d, const PKD_Input *in, PHCR_JumpResult *jr)
{
  PHCR_JumpInput j;

  j.time = in->now;
  j.offset_ns = in->offset_ns - to_ns(in->correction) - d->adjusted_ns +
                to_ns(in->options_offset);
  j.error = in->error;
  d->fed = 1;

  return PHCR_JumpFeed(d->detector, &j, jr);
}

/* ================================================== */

static PKD_Cause
find_cause(const PKD_State *d, double jump)
{
  if (!d->started)
    return PKD_CAUSE_START;
  if (d->slept >= d->opts->jump)
    return PKD_CAUSE_SUSPEND;
  if (d->chronyd_stepped)
    return PKD_CAUSE_CHRONYD_STEP;
  /* A step of the guest clock by S changes the offset by -S */
  if (fabs(d->ext_step) >= d->opts->jump / 2.0 &&
      fabs(jump + d->ext_step) <= fabs(jump) / 2.0)
    return PKD_CAUSE_GUEST_STEP;
  return jump > 0.0 ? PKD_CAUSE_HOST_AHEAD : PKD_CAUSE_HOST_BACK;
}

/* ================================================== */

static void
add_sample(PKD_State *d, const PKD_Input *in, PKD_Verdict *v)
{
  if (!in->full)
    return;
  v->add = 1;
  v->quality = PKP_QualityAssess(&d->quality, in->error, in->mode);
}

/* ================================================== */

static void
judge_jump(PKD_State *d, const PKD_Input *in, const PHCR_JumpResult *jr,
           PKD_Verdict *v)
{
  PKP_Action act;

  v->jump = jr->jump;
  v->cause = find_cause(d, jr->jump);
  v->latency = in->now - d->last_normal;
  v->gap = d->gap;

  act = PKP_DecideJump(d->opts, jr->jump, d->steps, in->normal_mode, in->may_step, &v->why);
  if (act == PKP_ACT_STEP) {
    /* The whole offset of the confirming reading: chronyd's pending
       correction is cancelled by the flush that comes first */
    v->action = PKD_STEP;
    v->step = (double)in->offset_ns * 1.0e-9 + in->options_offset;
    d->acting = 1;
  } else if (act == PKP_ACT_FLUSH) {
    v->action = PKD_FLUSH;
    d->acting = 1;
  } else {
    v->action = PKD_NOTE;
    /* Outside normal mode the reading is the new truth for chronyd */
    if (!in->normal_mode)
      add_sample(d, in, v);
    PKD_Acted(d, v, 0, in->now);
  }
}

/* ================================================== */

void
PKD_Process(PKD_State *d, const PKD_Input *in, PKD_Verdict *v)
{
  PHCR_JumpResult jr;

  memset(v, 0, sizeof (*v));
  track_clocks(d, in);
  check_outage(d, in->now);

  switch (feed(d, in, &jr)) {
    case PHCR_JUMP_NORMAL:
      d->last_normal = in->now;
      d->started = 1;
      d->ext_step = d->slept = d->gap = 0.0;
      d->chronyd_stepped = 0;
      add_sample(d, in, v);
      break;
    case PHCR_JUMP_SUSPECT:
      v->action = PKD_CONFIRM;
      v->jump = jr.jump;
      break;
    case PHCR_JUMP_CONFIRMED:
      judge_jump(d, in, &jr, v);
      break;
  }
}

/* ================================================== */

void
PKD_Acted(PKD_State *d, const PKD_Verdict *v, int stepped, double now)
{
  d->acting = 0;
  if (stepped) {
    d->steps++;
    /* LCL_ApplyStepOffset(-step): a change with doffset -step */
    d->known_steps -= v->step;
  }
  restart(d, 0);
  d->started = 1;
  d->last_normal = now;
  d->ext_step = d->slept = d->gap = 0.0;
  d->chronyd_stepped = 0;
}

/* ================================================== */

const char *
PKD_CauseText(PKD_Cause cause)
{
  switch (cause) {
    case PKD_CAUSE_START:
      return "initial offset from the host clock";
    case PKD_CAUSE_HOST_AHEAD:
      return "host clock jumped ahead (VM paused?)";
    case PKD_CAUSE_HOST_BACK:
      return "host clock jumped back (host clock stepped?)";
    case PKD_CAUSE_GUEST_STEP:
      return "the guest clock was stepped by another program";
    case PKD_CAUSE_SUSPEND:
      return "the guest resumed from suspend";
    case PKD_CAUSE_CHRONYD_STEP:
      return "chronyd stepped the clock away from the host clock";
    default:
      return "unknown cause";
  }
}
