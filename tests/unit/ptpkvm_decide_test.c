/*
  chrony-ptpkvm -- unit tests of the PTPKVM driver's decision loop

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

  cmocka tests of refclock_ptpkvm_decide.c (included), driven the way the
  driver drives it: a small guest model (host minus guest offset,
  chronyd's correction, REALTIME/BOOTTIME against MONOTONIC) produces the
  readings, the verdicts are executed as the driver executes them (a step
  changes the offset and REALTIME, chronyd's handler calls come back while
  the verdict runs).  Covers steady state, the confirm sequence of a
  pause, a wild reading, host steps, steps of the guest clock by other
  programs (noticed by chronyd or not), chronyd's own steps and slews, the
  driver's own step and a step that failed, an outage with a pause inside,
  suspend, noselect, the offset option, step=0 and chronyd outside its
  normal mode; then the jump action with its thresholds, sample quality,
  the failure log state, backoffs and sentinel timing.  The jump
  detector's statistics are tested in ptpkvm_jump_test.c.
  */

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "refclock_ptpkvm_decide.c"
#include "refclock_ptpkvm_opts.c"

#define NS 1000000000LL

typedef struct {
  PKP_Options opts;
  PKD_State d;
  double now;             /* monotonic (s) */
  int64_t offset_ns;      /* host - guest REALTIME (phc - sys) */
  double rt_mono, boot_mono;
  double correction;      /* chronyd's pending correction */
  double options_offset;
  int may_step, normal_mode, full;
  unsigned seed;
  int steps, flushes, notes, added;
  PKD_Verdict last;       /* last verdict with an action */
} Guest;

/* ================================================== */

static int
setup(void **state)
{
  static Guest g;

  memset(&g, 0, sizeof (g));
  default_options(&g.opts);
  g.now = 100.0;
  g.rt_mono = 1.7e9;
  g.boot_mono = 10.0;
  g.may_step = g.normal_mode = g.full = 1;
  g.seed = 1;
  PKD_Init(&g.d, &g.opts, g.now);
  *state = &g;
  return 0;
}

static int
teardown(void **state)
{
  return 0;
}

/* ================================================== */
/* Reading noise of +-20 ns (deterministic) */

static int64_t
noise_ns(Guest *g)
{
  g->seed = g->seed * 1103515245U + 12345U;
  return (int64_t)((g->seed >> 16) % 41) - 20;
}

/* ================================================== */
/* A step of REALTIME by s seconds (by whoever): the offset changes by -s */

static void
guest_step(Guest *g, double s)
{
  g->rt_mono += s;
  g->offset_ns -= llround(s * 1.0e9);
}

/* ================================================== */
/* One reading and its verdict, executed like the driver does (confirming
   reads come at once, 1 ms later) */

static PKS_Action
read_once(Guest *g, PKD_Verdict *v)
{
  PKD_Input in;

  memset(&in, 0, sizeof (in));
  in.offset_ns = g->offset_ns + noise_ns(g);
  in.error = 50e-9;
  in.mode = PHCR_MODE_PRECISE;
  in.full = g->full;
  in.correction = g->correction;
  in.options_offset = g->options_offset;
  in.may_step = g->may_step;
  in.normal_mode = g->normal_mode;
  in.now = g->now;
  in.rt_mono = g->rt_mono;
  in.boot_mono = g->boot_mono;
  PKD_Process(&g->d, &in, v);
  g->added += v->action == PKS_ACTION_ADD;
  return v->action;
}

/* Execute a verdict: chronyd's handlers run while it executes, the flush
   is an unknown step, the step a known one; both are the driver's own */
static void
execute(Guest *g, const PKD_Verdict *v)
{
  if (v->action == PKS_ACTION_STEP || v->action == PKS_ACTION_FLUSH)
    PKD_ClockChanged(&g->d, PKD_CHANGE_UNKNOWN_STEP, 0.0);
  if (v->action == PKS_ACTION_STEP) {
    PKD_ClockChanged(&g->d, PKD_CHANGE_STEP, -v->step);
    guest_step(g, v->step);
  }
}

static PKS_Action
poll_once(Guest *g)
{
  PKD_Verdict v;
  int i;

  for (i = 0; read_once(g, &v) == PKS_ACTION_CONFIRM && i < 10; i++)
    g->now += 0.001;

  execute(g, &v);
  if (v.jumped) {
    g->last = v;
    if (v.action == PKS_ACTION_STEP)
      g->steps++;
    else if (v.action == PKS_ACTION_FLUSH)
      g->flushes++;
    else
      g->notes++;
  }
  return v.action;
}

static void
run(Guest *g, double seconds, double interval)
{
  double end = g->now + seconds;

  while (g->now < end) {
    poll_once(g);
    g->now += interval;
  }
}

/* A guest at the host's time since start */
static void
settle(Guest *g)
{
  run(g, 30.0, 1.0);
  assert_int_equal(g->steps + g->flushes + g->notes, 0);
  g->added = 0;
}

/* ================================================== */

static void
test_steady(void **state)
{
  Guest *g = *state;

  run(g, 600.0, 0.2);
  assert_int_equal(g->steps + g->flushes + g->notes, 0);
  assert_int_equal(g->added, 3000);

  /* sentinel readings are judged but never given to chronyd */
  g->full = 0;
  g->added = 0;
  run(g, 10.0, 0.2);
  assert_int_equal(g->added, 0);
}

/* ================================================== */
/* A 360 s pause: the host clock is 360 s ahead at the next reading.
   suspect, two confirming reads, then one step by the whole offset. */

static void
test_pause(void **state)
{
  Guest *g = *state;
  PKD_Verdict v;

  settle(g);
  g->offset_ns += 360 * NS + 123456;

  assert_int_equal(read_once(g, &v), PKS_ACTION_CONFIRM);
  g->now += 0.001;
  assert_int_equal(read_once(g, &v), PKS_ACTION_CONFIRM);
  g->now += 0.001;
  assert_int_equal(read_once(g, &v), PKS_ACTION_STEP);
  assert_true(v.jumped);
  assert_true(fabs(v.step - 360.000123456) < 100e-9);
  assert_true(fabs(v.jump - 360.000123456) < 100e-9);
  assert_int_equal(v.cause, PKS_CAUSE_PAUSE);
  assert_true(v.latency < 1.01);
  assert_true(v.gap == 0.0);
  execute(g, &v);

  /* After the step the guest is at the host's time: no second action */
  g->added = 0;
  run(g, 60.0, 1.0);
  assert_int_equal(g->steps + g->flushes + g->notes, 0);
  assert_int_equal(g->added, 60);
  assert_true(llabs(g->offset_ns) < 1000);
}

/* ================================================== */

static void
test_host_step_back(void **state)
{
  Guest *g = *state;

  settle(g);
  g->offset_ns -= 1 * NS;
  assert_int_equal(poll_once(g), PKS_ACTION_STEP);
  assert_true(fabs(g->last.step + 1.0) < 100e-9);
  assert_int_equal(g->last.cause, PKS_CAUSE_HOST_STEP);
  run(g, 30.0, 1.0);
  assert_int_equal(g->steps, 1);
  assert_true(llabs(g->offset_ns) < 1000);
}

/* ================================================== */
/* One wild reading never moves the clock */

static void
test_wild_reading(void **state)
{
  Guest *g = *state;
  PKD_Verdict v;

  settle(g);
  g->offset_ns += 500 * NS;
  assert_int_equal(read_once(g, &v), PKS_ACTION_CONFIRM);
  g->offset_ns -= 500 * NS;
  g->now += 0.001;
  assert_int_equal(read_once(g, &v), PKS_ACTION_ADD);
  run(g, 30.0, 1.0);
  assert_int_equal(g->steps + g->flushes + g->notes, 0);
}

/* ================================================== */
/* Another program steps the guest clock back by 30 s, chronyd does not
   notice: the driver steps it forward and says who moved it */

static void
test_guest_step_unnoticed(void **state)
{
  Guest *g = *state;

  settle(g);
  guest_step(g, -30.0);
  assert_int_equal(poll_once(g), PKS_ACTION_STEP);
  assert_true(fabs(g->last.step - 30.0) < 100e-9);
  assert_int_equal(g->last.cause, PKS_CAUSE_GUEST_STEP);
  run(g, 30.0, 1.0);
  assert_int_equal(g->steps, 1);
  assert_true(llabs(g->offset_ns) < 1000);
}

/* ================================================== */
/* Another program steps the guest clock by -360 s or +360 s and chronyd's
   own jump detector notices first (an unknown step, chronyd resets its
   sources): the next reading is judged as at a cold start and stepped */

static void
guest_step_noticed(Guest *g, double s)
{
  settle(g);
  guest_step(g, s);
  PKD_ClockChanged(&g->d, PKD_CHANGE_UNKNOWN_STEP, s);
  assert_int_equal(poll_once(g), PKS_ACTION_STEP);
  assert_true(fabs(g->last.step + s) < 100e-9);
  assert_int_equal(g->last.cause, PKS_CAUSE_GUEST_STEP);
  run(g, 30.0, 1.0);
  assert_int_equal(g->steps, 1);
  assert_true(llabs(g->offset_ns) < 1000);
}

static void
test_guest_step_back_noticed(void **state)
{
  guest_step_noticed(*state, -360.0);
}

static void
test_guest_step_ahead_noticed(void **state)
{
  guest_step_noticed(*state, 360.0);
}

/* ================================================== */
/* chronyd steps the clock 50 ms away for another source (makestep): the
   host clock is judged again as at start, and the driver steps back */

static void
test_chronyd_step(void **state)
{
  Guest *g = *state;

  settle(g);
  PKD_ClockChanged(&g->d, PKD_CHANGE_STEP, -0.050);
  guest_step(g, 0.050);
  assert_int_equal(poll_once(g), PKS_ACTION_STEP);
  assert_true(fabs(g->last.step + 0.050) < 100e-9);
  assert_int_equal(g->last.cause, PKS_CAUSE_CHRONYD_STEP);
}

/* ================================================== */
/* chronyd slews its clock 5 ms back (e.g. for another source): never a
   jump of the host clock */

static void
test_slew_is_no_jump(void **state)
{
  Guest *g = *state;
  int i;

  settle(g);

  /* LCL_AccumulateOffset(+5 ms): the cooked time moves 5 ms back at once,
     the raw time follows while the correction shrinks */
  PKD_ClockChanged(&g->d, PKD_CHANGE_ADJUST, 5.0e-3);
  g->correction = -5.0e-3;
  for (i = 0; i < 50; i++) {
    poll_once(g);
    g->now += 1.0;
    g->correction += 1.0e-4;
    g->offset_ns += 100000;
  }
  assert_int_equal(g->steps + g->flushes + g->notes, 0);
  assert_int_equal(g->added, 50);
}

/* ================================================== */
/* Readings fail for 22 s, with a 10 s pause inside: the first good reading
   is judged as at a cold start and the gap is reported */

static void
test_outage_with_pause(void **state)
{
  Guest *g = *state;
  int i;

  settle(g);
  for (i = 0; i < 12; i++) {
    PKD_ReadFailed(&g->d);
    g->now += 1.0;
  }
  g->offset_ns += 10 * NS;
  for (i = 0; i < 10; i++) {
    PKD_ReadFailed(&g->d);
    g->now += 1.0;
  }
  assert_int_equal(poll_once(g), PKS_ACTION_STEP);
  assert_true(fabs(g->last.step - 10.0) < 100e-9);
  assert_int_equal(g->last.cause, PKS_CAUSE_OUTAGE);
  assert_true(g->last.gap > 21.9 && g->last.gap < 23.1);
}

/* An outage without a jump changes nothing */
static void
test_outage_without_jump(void **state)
{
  Guest *g = *state;
  int i;

  settle(g);
  for (i = 0; i < 300; i++) {
    PKD_ReadFailed(&g->d);
    g->now += 1.0;
  }
  run(g, 30.0, 1.0);
  assert_int_equal(g->steps + g->flushes + g->notes, 0);
  assert_int_equal(g->added, 30);
}

/* ================================================== */
/* The kernel injects the sleep time on resume from suspend, 0.4 s short */

static void
test_suspend(void **state)
{
  Guest *g = *state;

  settle(g);
  g->boot_mono += 3600.0;
  guest_step(g, 3600.0);
  g->offset_ns += 3600 * NS + 400000000;
  assert_int_equal(poll_once(g), PKS_ACTION_STEP);
  assert_true(fabs(g->last.step - 0.4) < 100e-9);
  assert_int_equal(g->last.cause, PKS_CAUSE_SUSPEND);
}

/* ================================================== */
/* noselect: a jump is noted, never acted upon, and noted once */

static void
test_noselect(void **state)
{
  Guest *g = *state;

  g->may_step = 0;
  settle(g);
  g->offset_ns += 360 * NS;
  assert_int_equal(poll_once(g), PKS_ACTION_NONE);
  assert_non_null(strstr(g->last.why, "noselect"));
  run(g, 60.0, 1.0);
  assert_int_equal(g->steps + g->flushes, 0);
  assert_int_equal(g->notes, 1);
}

/* ================================================== */
/* offset 1000: the source says the time is the host's + 1000 s.  A guest
   at the host's time is stepped 1000 s ahead at start, and a pause puts it
   back there */

static void
test_options_offset(void **state)
{
  Guest *g = *state;

  g->options_offset = 1000.0;
  assert_int_equal(poll_once(g), PKS_ACTION_STEP);
  assert_int_equal(g->last.cause, PKS_CAUSE_COLD_START);
  assert_true(fabs(g->last.step - 1000.0) < 100e-9);
  assert_true(llabs(g->offset_ns + 1000 * NS) < 1000);

  run(g, 30.0, 1.0);
  g->offset_ns += 60 * NS;
  assert_int_equal(poll_once(g), PKS_ACTION_STEP);
  assert_true(fabs(g->last.step - 60.0) < 100e-9);
  assert_true(llabs(g->offset_ns + 1000 * NS) < 1000);
  assert_int_equal(g->steps, 2);
}

/* ================================================== */
/* step=0: the jump is flushed, chronyd slews; a small jump likewise */

static void
test_flush_only(void **state)
{
  Guest *g = *state;

  g->opts.step = 0.0;
  settle(g);
  g->offset_ns += 5 * NS;
  assert_int_equal(poll_once(g), PKS_ACTION_FLUSH);
  assert_non_null(strstr(g->last.why, "step=0"));
  run(g, 30.0, 1.0);
  assert_int_equal(g->flushes, 1);
  assert_int_equal(g->steps, 0);

  g->opts.step = 1.0;
  g->offset_ns += 2000000;
  assert_int_equal(poll_once(g), PKS_ACTION_FLUSH);
  assert_non_null(strstr(g->last.why, "below the step threshold"));
}

/* ================================================== */
/* chronyd outside its normal mode (-q, -Q): the reading goes to chronyd,
   which handles the offset itself */

static void
test_not_normal_mode(void **state)
{
  Guest *g = *state;
  PKD_Verdict v;

  g->normal_mode = 0;
  g->offset_ns = 360 * NS;
  assert_int_equal(read_once(g, &v), PKS_ACTION_CONFIRM);
  g->now += 0.001;
  assert_int_equal(read_once(g, &v), PKS_ACTION_CONFIRM);
  g->now += 0.001;
  assert_int_equal(read_once(g, &v), PKS_ACTION_ADD);
  assert_true(v.jumped);
  assert_non_null(strstr(v.why, "normal mode"));
  assert_int_equal(v.cause, PKS_CAUSE_COLD_START);
}

/* ================================================== */
/* The driver's own step comes back through chronyd's handler as a known
   step: counted, not judged as a foreign step.  A step that failed never
   comes back, and a later step by chronyd is foreign again. */

static void
test_own_step(void **state)
{
  Guest *g = *state;
  PKD_Verdict v;

  settle(g);
  g->offset_ns += 5 * NS;
  assert_int_equal(poll_once(g), PKS_ACTION_STEP);
  assert_int_equal(g->d.steps, 1);
  assert_false(g->d.chronyd_stepped);
  assert_false(g->d.first_armed);
  assert_false(g->d.own_flush);
  assert_true(g->d.own_step == 0.0);

  /* A step that failed: neither handler call comes */
  run(g, 30.0, 1.0);
  g->offset_ns += 5 * NS;
  while (read_once(g, &v) == PKS_ACTION_CONFIRM)
    g->now += 0.001;
  assert_int_equal(v.action, PKS_ACTION_STEP);
  g->now += 1.0;
  read_once(g, &v);
  assert_int_equal(g->d.steps, 1);

  /* chronyd steps by the same amount later: not the driver's */
  PKD_ClockChanged(&g->d, PKD_CHANGE_STEP, -v.step);
  assert_true(g->d.chronyd_stepped);
  assert_int_equal(g->d.steps, 1);
}

/* ================================================== */

static void
test_jump_action(void **state)
{
  PKP_Options o;
  PKD_State d;
  PKD_Input in = { .normal_mode = 1, .may_step = 1, .full = 1 };
  const char *why;

  default_options(&o);
  PKD_Init(&d, &o, 0.0);

  assert_int_equal(jump_action(&d, &in, 360.0, &why), PKS_ACTION_STEP);
  assert_int_equal(jump_action(&d, &in, -0.2, &why), PKS_ACTION_STEP);
  assert_int_equal(jump_action(&d, &in, 1.0e-3, &why), PKS_ACTION_STEP);

  /* Below the threshold: flush only */
  assert_int_equal(jump_action(&d, &in, 0.9e-3, &why), PKS_ACTION_FLUSH);
  assert_non_null(strstr(why, "below the step threshold"));
  assert_int_equal(jump_action(&d, &in, -0.9e-3, &why), PKS_ACTION_FLUSH);

  /* Not in normal mode (-q, -Q, initstepslew): the reading goes to chronyd,
     a sentinel nowhere, whatever the size */
  in.normal_mode = 0;
  assert_int_equal(jump_action(&d, &in, 360.0, &why), PKS_ACTION_ADD);
  assert_non_null(strstr(why, "normal mode"));
  in.full = 0;
  assert_int_equal(jump_action(&d, &in, 360.0, &why), PKS_ACTION_NONE);
  in.normal_mode = in.full = 1;

  /* step=0: never step */
  o.step = 0.0;
  assert_int_equal(jump_action(&d, &in, 86400.0, &why), PKS_ACTION_FLUSH);
  assert_non_null(strstr(why, "step=0"));

  /* maxsteps */
  o.step = 0.1;
  o.maxsteps = 2;
  assert_int_equal(jump_action(&d, &in, 1.0, &why), PKS_ACTION_STEP);
  d.steps = 1;
  assert_int_equal(jump_action(&d, &in, 1.0, &why), PKS_ACTION_STEP);
  d.steps = 2;
  assert_int_equal(jump_action(&d, &in, 1.0, &why), PKS_ACTION_FLUSH);
  assert_non_null(strstr(why, "maxsteps"));
  o.maxsteps = 0;
  d.steps = 0;
  assert_int_equal(jump_action(&d, &in, 1.0, &why), PKS_ACTION_FLUSH);
  o.maxsteps = -1;
  d.steps = 1000000;
  assert_int_equal(jump_action(&d, &in, 1.0, &why), PKS_ACTION_STEP);

  /* A source that may not move the clock (noselect): nothing, whatever
     the size and the other options */
  in.may_step = 0;
  assert_int_equal(jump_action(&d, &in, 360.0, &why), PKS_ACTION_NONE);
  assert_non_null(strstr(why, "noselect"));
  assert_int_equal(jump_action(&d, &in, 1.0e-4, &why), PKS_ACTION_NONE);
}

/* ================================================== */

static void
test_quality(void **state)
{
  PKP_Options o;
  PKD_State q;
  int i;

  default_options(&o);
  PKD_Init(&q, &o, 0.0);

  /* Warm-up: everything is good */
  for (i = 0; i < 4; i++)
    assert_int_equal(assess_quality(&q, 0.6e-6 + i * 1e-8, 1), 2);

  assert_int_equal(assess_quality(&q, 0.7e-6, 1), 2);
  /* A reading where every triplet hit a delay spike */
  assert_int_equal(assess_quality(&q, 100e-6, 1), 0);
  /* Somewhat worse than usual */
  assert_int_equal(assess_quality(&q, 5e-6, 1), 1);

  /* A mode change restarts the window */
  assert_int_equal(assess_quality(&q, 100e-9, 3), 2);
  for (i = 0; i < 5; i++)
    assess_quality(&q, 100e-9, 3);
  assert_int_equal(assess_quality(&q, 50e-6, 3), 0);

  /* A lasting change of the delay is accepted after one window */
  for (i = 0; i < PKD_QUALITY_WINDOW; i++)
    assess_quality(&q, 50e-6, 3);
  assert_int_equal(assess_quality(&q, 50e-6, 3), 2);
}

/* ================================================== */

static void
test_health(void **state)
{
  PKD_Health h;

  memset(&h, 0, sizeof (h));
  assert_int_equal(PKD_HealthUpdate(&h, 1, 1.0), PKD_HEALTH_SAME);
  assert_int_equal(PKD_HealthUpdate(&h, 0, 2.0), PKD_HEALTH_FAILING);
  assert_true(h.since == 2.0);
  /* A storm of failures logs nothing more */
  assert_int_equal(PKD_HealthUpdate(&h, 0, 3.0), PKD_HEALTH_SAME);
  assert_int_equal(PKD_HealthUpdate(&h, 0, 4.0), PKD_HEALTH_SAME);
  assert_int_equal(h.failures, 3);
  assert_int_equal(PKD_HealthUpdate(&h, 1, 5.0), PKD_HEALTH_RECOVERED);
  assert_int_equal(h.failures, 3);
  assert_int_equal(PKD_HealthUpdate(&h, 1, 6.0), PKD_HEALTH_SAME);

  /* Failures starting within PKD_HEALTH_QUIET of the last logged one are
     quiet, and so are their recoveries */
  assert_int_equal(PKD_HealthUpdate(&h, 0, 7.0), PKD_HEALTH_SAME);
  assert_int_equal(h.failures, 1);
  assert_int_equal(PKD_HealthUpdate(&h, 1, 8.0), PKD_HEALTH_SAME);
  assert_int_equal(PKD_HealthUpdate(&h, 0, 9.0), PKD_HEALTH_SAME);
  assert_int_equal(PKD_HealthUpdate(&h, 1, 10.0), PKD_HEALTH_SAME);

  /* After the quiet time the next failure is logged */
  assert_int_equal(PKD_HealthUpdate(&h, 0, 2.0 + PKD_HEALTH_QUIET), PKD_HEALTH_FAILING);
  assert_int_equal(PKD_HealthUpdate(&h, 1, 63.0), PKD_HEALTH_RECOVERED);

  /* A quiet failure that lasts is logged late, once */
  assert_int_equal(PKD_HealthUpdate(&h, 0, 70.0), PKD_HEALTH_SAME);
  assert_int_equal(PKD_HealthUpdate(&h, 0, 70.0 + PKD_HEALTH_QUIET - 1.0),
                   PKD_HEALTH_SAME);
  assert_int_equal(PKD_HealthUpdate(&h, 0, 70.0 + PKD_HEALTH_QUIET), PKD_HEALTH_FAILING);
  assert_true(h.since == 70.0);
  assert_int_equal(h.failures, 3);
  assert_int_equal(PKD_HealthUpdate(&h, 0, 200.0), PKD_HEALTH_SAME);
  assert_int_equal(PKD_HealthUpdate(&h, 1, 201.0), PKD_HEALTH_RECOVERED);
  assert_int_equal(h.failures, 4);
}

static void
test_backoff(void **state)
{
  assert_true(PKD_Backoff(0, PKD_OPEN_DELAY, PKD_OPEN_DELAY_MAX) == 1.0);
  assert_true(PKD_Backoff(1, PKD_OPEN_DELAY, PKD_OPEN_DELAY_MAX) == 1.0);
  assert_true(PKD_Backoff(2, PKD_OPEN_DELAY, PKD_OPEN_DELAY_MAX) == 2.0);
  assert_true(PKD_Backoff(3, PKD_OPEN_DELAY, PKD_OPEN_DELAY_MAX) == 4.0);
  assert_true(PKD_Backoff(4, PKD_OPEN_DELAY, PKD_OPEN_DELAY_MAX) == 8.0);
  assert_true(PKD_Backoff(5, PKD_OPEN_DELAY, PKD_OPEN_DELAY_MAX) == 8.0);
  assert_true(PKD_Backoff(1000, PKD_OPEN_DELAY, PKD_OPEN_DELAY_MAX) == 8.0);
}

/* A host that cannot answer for an hour: the retries (one failed ioctl,
   one guest kernel log line each) stay below 70, and a host that answers
   again is read within a minute */
static void
test_retry_delay(void **state)
{
  double t = 0.0, d;
  int n;

  for (n = 1; t < 3600.0; n++) {
    d = PKD_Backoff(n, PKD_READ_DELAY, PKD_READ_DELAY_MAX);
    assert_true(d > 0.0);
    assert_true(d <= 60.0);
    assert_true(n == 1 || d >= PKD_Backoff(n - 1, PKD_READ_DELAY, PKD_READ_DELAY_MAX));
    t += d;
  }
  assert_true(n - 1 <= 68);
  assert_true(PKD_Backoff(0, PKD_READ_DELAY, PKD_READ_DELAY_MAX) == PKD_Backoff(1, PKD_READ_DELAY, PKD_READ_DELAY_MAX));
  assert_true(PKD_Backoff(1000000, PKD_READ_DELAY, PKD_READ_DELAY_MAX) == 60.0);
}

/* With the defaults (poll 1 s, sentinel 0.2 s), 4 sentinels per poll:
   the reads are never more than 0.2 s apart */
static void
test_sentinel(void **state)
{
  PKP_Options o;
  int i, due;

  default_options(&o);

  assert_int_equal(PKD_SentinelDue(&o, 1.0, 0.2, 1), 1);
  assert_int_equal(PKD_SentinelDue(&o, 1.0, 0.8, 1), 1);
  /* Just before or just after the poll's full read */
  assert_int_equal(PKD_SentinelDue(&o, 1.0, 0.99999, 1), 0);
  assert_int_equal(PKD_SentinelDue(&o, 1.0, 0.00001, 1), 0);
  /* Poll overdue (e.g. after failures): check anyway */
  assert_int_equal(PKD_SentinelDue(&o, 1.0, 1.5, 1), 1);
  assert_int_equal(PKD_SentinelDue(&o, 1.0, 1.00001, 1), 0);
  /* Not usable, or off */
  assert_int_equal(PKD_SentinelDue(&o, 1.0, 0.4, 0), 0);
  o.sentinel = 0.0;
  assert_int_equal(PKD_SentinelDue(&o, 1.0, 0.4, 1), 0);

  /* Count over one poll interval in 0.2 s steps, with rounding jitter */
  o.sentinel = 0.2;
  for (i = 1, due = 0; i <= 5; i++)
    due += PKD_SentinelDue(&o, 1.0, 0.2 * i + (i % 2 ? 1e-9 : -1e-9), 1);
  assert_int_equal(due, 4);
}

/* ================================================== */

int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_steady, setup, teardown),
    cmocka_unit_test_setup_teardown(test_pause, setup, teardown),
    cmocka_unit_test_setup_teardown(test_host_step_back, setup, teardown),
    cmocka_unit_test_setup_teardown(test_wild_reading, setup, teardown),
    cmocka_unit_test_setup_teardown(test_guest_step_unnoticed, setup, teardown),
    cmocka_unit_test_setup_teardown(test_guest_step_back_noticed, setup, teardown),
    cmocka_unit_test_setup_teardown(test_guest_step_ahead_noticed, setup, teardown),
    cmocka_unit_test_setup_teardown(test_chronyd_step, setup, teardown),
    cmocka_unit_test_setup_teardown(test_slew_is_no_jump, setup, teardown),
    cmocka_unit_test_setup_teardown(test_outage_with_pause, setup, teardown),
    cmocka_unit_test_setup_teardown(test_outage_without_jump, setup, teardown),
    cmocka_unit_test_setup_teardown(test_suspend, setup, teardown),
    cmocka_unit_test_setup_teardown(test_noselect, setup, teardown),
    cmocka_unit_test_setup_teardown(test_options_offset, setup, teardown),
    cmocka_unit_test_setup_teardown(test_flush_only, setup, teardown),
    cmocka_unit_test_setup_teardown(test_not_normal_mode, setup, teardown),
    cmocka_unit_test_setup_teardown(test_own_step, setup, teardown),
    cmocka_unit_test(test_jump_action),
    cmocka_unit_test(test_quality),
    cmocka_unit_test(test_health),
    cmocka_unit_test(test_backoff),
    cmocka_unit_test(test_retry_delay),
    cmocka_unit_test(test_sentinel),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
