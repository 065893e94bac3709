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

  cmocka tests of refclock_ptpkvm_decide.c, driven the way the driver
  drives it: a small guest model (host minus guest offset, chronyd's
  correction, REALTIME/BOOTTIME against MONOTONIC) produces the readings,
  the verdicts are executed as the driver executes them (a step changes
  the offset and REALTIME, chronyd's handler calls come back while the
  verdict runs).  Covers steady state, the confirm/reset sequence of a
  pause, a wild reading, host steps, steps of the guest clock by other
  programs (noticed by chronyd or not), chronyd's own steps and slews, an
  outage with a pause inside, suspend, noselect, the offset option, step=0
  and chronyd outside its normal mode.
  */

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "refclock_ptpkvm_decide.h"

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
  PKP_DefaultOptions(&g.opts);
  g.now = 100.0;
  g.rt_mono = 1.7e9;
  g.boot_mono = 10.0;
  g.may_step = g.normal_mode = g.full = 1;
  g.seed = 1;
  assert_true(PKD_Init(&g.d, &g.opts, g.now));
  *state = &g;
  return 0;
}

static int
teardown(void **state)
{
  Guest *g = *state;

  PKD_Fini(&g->d);
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

static PKD_Action
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
  g->added += v->add;
  return v->action;
}

static PKD_Action
poll_once(Guest *g)
{
  PKD_Verdict v;
  int i;

  for (i = 0; read_once(g, &v) == PKD_CONFIRM && i < 10; i++)
    g->now += 0.001;

  switch (v.action) {
    case PKD_STEP:
      /* chronyd's handlers run while the verdict executes: the flush is an
         unknown step, the step a known one; both are the driver's own */
      PKD_ClockChanged(&g->d, PKD_CHANGE_UNKNOWN_STEP, 0.0);
      PKD_ClockChanged(&g->d, PKD_CHANGE_STEP, -v.step);
      guest_step(g, v.step);
      PKD_Acted(&g->d, &v, 1, g->now);
      g->steps++;
      g->last = v;
      break;
    case PKD_FLUSH:
      PKD_ClockChanged(&g->d, PKD_CHANGE_UNKNOWN_STEP, 0.0);
      PKD_Acted(&g->d, &v, 0, g->now);
      g->flushes++;
      g->last = v;
      break;
    case PKD_NOTE:
      g->notes++;
      g->last = v;
      break;
    default:
      break;
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

  assert_int_equal(read_once(g, &v), PKD_CONFIRM);
  assert_int_equal(v.add, 0);
  g->now += 0.001;
  assert_int_equal(read_once(g, &v), PKD_CONFIRM);
  g->now += 0.001;
  assert_int_equal(read_once(g, &v), PKD_STEP);
  assert_int_equal(v.add, 0);
  assert_true(fabs(v.step - 360.000123456) < 100e-9);
  assert_true(fabs(v.jump - 360.000123456) < 100e-9);
  assert_int_equal(v.cause, PKD_CAUSE_HOST_AHEAD);
  assert_true(v.latency < 1.01);
  assert_true(v.gap == 0.0);

  PKD_ClockChanged(&g->d, PKD_CHANGE_UNKNOWN_STEP, 0.0);
  PKD_ClockChanged(&g->d, PKD_CHANGE_STEP, -v.step);
  guest_step(g, v.step);
  PKD_Acted(&g->d, &v, 1, g->now);

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
  assert_int_equal(poll_once(g), PKD_STEP);
  assert_true(fabs(g->last.step + 1.0) < 100e-9);
  assert_int_equal(g->last.cause, PKD_CAUSE_HOST_BACK);
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
  assert_int_equal(read_once(g, &v), PKD_CONFIRM);
  g->offset_ns -= 500 * NS;
  g->now += 0.001;
  assert_int_equal(read_once(g, &v), PKD_NONE);
  assert_int_equal(v.add, 1);
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
  assert_int_equal(poll_once(g), PKD_STEP);
  assert_true(fabs(g->last.step - 30.0) < 100e-9);
  assert_int_equal(g->last.cause, PKD_CAUSE_GUEST_STEP);
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
  assert_int_equal(poll_once(g), PKD_STEP);
  assert_true(fabs(g->last.step + s) < 100e-9);
  assert_int_equal(g->last.cause, PKD_CAUSE_GUEST_STEP);
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
  assert_int_equal(poll_once(g), PKD_STEP);
  assert_true(fabs(g->last.step + 0.050) < 100e-9);
  assert_int_equal(g->last.cause, PKD_CAUSE_CHRONYD_STEP);
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
  assert_int_equal(poll_once(g), PKD_STEP);
  assert_true(fabs(g->last.step - 10.0) < 100e-9);
  assert_int_equal(g->last.cause, PKD_CAUSE_HOST_AHEAD);
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
  assert_int_equal(poll_once(g), PKD_STEP);
  assert_true(fabs(g->last.step - 0.4) < 100e-9);
  assert_int_equal(g->last.cause, PKD_CAUSE_SUSPEND);
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
  assert_int_equal(poll_once(g), PKD_NOTE);
  assert_int_equal(g->last.why, PKP_WHY_NOSELECT);
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
  assert_int_equal(poll_once(g), PKD_STEP);
  assert_int_equal(g->last.cause, PKD_CAUSE_START);
  assert_true(fabs(g->last.step - 1000.0) < 100e-9);
  assert_true(llabs(g->offset_ns + 1000 * NS) < 1000);

  run(g, 30.0, 1.0);
  g->offset_ns += 60 * NS;
  assert_int_equal(poll_once(g), PKD_STEP);
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
  assert_int_equal(poll_once(g), PKD_FLUSH);
  assert_int_equal(g->last.why, PKP_WHY_DISABLED);
  run(g, 30.0, 1.0);
  assert_int_equal(g->flushes, 1);
  assert_int_equal(g->steps, 0);

  g->opts.step = 1.0;
  g->offset_ns += 2000000;
  assert_int_equal(poll_once(g), PKD_FLUSH);
  assert_int_equal(g->last.why, PKP_WHY_BELOW);
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
  assert_int_equal(read_once(g, &v), PKD_CONFIRM);
  g->now += 0.001;
  assert_int_equal(read_once(g, &v), PKD_CONFIRM);
  g->now += 0.001;
  assert_int_equal(read_once(g, &v), PKD_NOTE);
  assert_int_equal(v.why, PKP_WHY_NOT_NORMAL);
  assert_int_equal(v.add, 1);
  assert_int_equal(v.cause, PKD_CAUSE_START);
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
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
