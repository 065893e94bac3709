/*
  chrony-ptpkvm: phc_reader tests
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

  End-to-end cmocka test of phc_reader on the fake device, the way the
  chrony driver uses it: a poll loop of full reads (and 1-sample sentinel
  reads) feeding the jump detector, with 1 % delay spikes of 50-500 us, a
  PHC rate error, the guest clocksource flipping (PRECISE failing with
  ENODEV), VM pauses (the PHC jumps ahead) handled by confirming reads,
  a step and a reset, and a cold start far off.
  */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <math.h>
#include <cmocka.h>

#include "fake_phc.h"

#define NS 1000000000LL

typedef struct {
  FAKE_Phc *f;
  int dev;
  PHCR_Reader r;
  PHCR_JumpDetector d;
  double now;
  long confirmed, false_events, suspects;
  int64_t last_jump;
} Loop;

static void
loop_init(Loop *l, uint64_t seed, int64_t offset)
{
  PHCR_Config cfg;
  PHCR_Env env;
  FAKE_Noise noise;

  l->f = FAKE_Create(seed);
  assert_non_null(l->f);
  FAKE_Env(l->f, &env);
  FAKE_AddSysfsPtp(l->f, 1, "KVM virtual PTP");
  l->dev = FAKE_AddDevice(l->f, "/dev/ptp1");
  FAKE_NoiseDefaults(&noise);
  noise.spike_prob = 0.01;
  noise.asymmetry = -1.0;
  noise.freq_ppm = 3.0;
  FAKE_SetNoise(l->f, l->dev, &noise);
  FAKE_SetOffset(l->f, l->dev, offset);
  FAKE_SetModeErrno(l->f, l->dev, PHCR_MODE_EXTENDED, EOPNOTSUPP);
  PHCR_ConfigDefaults(&cfg);
  cfg.reprobe_interval = 30.0;
  assert_int_equal(PHCR_Open(&env, "auto", NULL, &cfg, &l->r, NULL), PHCR_OK);
  l->d = PHCR_JumpCreate(NULL);
  l->now = 0.0;
  l->confirmed = l->false_events = l->suspects = 0;
}

static void
loop_fini(Loop *l)
{
  PHCR_JumpDestroy(l->d);
  PHCR_Close(l->r);
  FAKE_Destroy(l->f);
}

static PHCR_JumpState
feed(Loop *l, const PHCR_Result *res, PHCR_JumpResult *jr)
{
  PHCR_JumpInput in = { l->now, res->sample.offset_ns, res->sample.error };

  return PHCR_JumpFeed(l->d, &in, jr);
}

/* One poll: advance 1 s, a sentinel or full read, confirming reads at once
   on a suspect; on a confirmed jump "step" the guest (the fake offset
   drops by J) and reset.  Returns the final state. */
static PHCR_JumpState
poll_once(Loop *l, int sentinel)
{
  PHCR_JumpResult jr;
  PHCR_JumpState st;
  PHCR_Result res;
  int i;

  l->now += 1.0;
  FAKE_AdvanceSysTime(l->f, NS);
  if (sentinel)
    assert_int_equal(PHCR_ReadSentinel(l->r, l->now, &res), PHCR_OK);
  else
    assert_int_equal(PHCR_Read(l->r, 10, l->now, &res), PHCR_OK);
  st = feed(l, &res, &jr);

  for (i = 0; st == PHCR_JUMP_SUSPECT && i < 6; i++) {
    l->suspects++;
    l->now += 0.001;
    FAKE_AdvanceSysTime(l->f, NS / 1000);
    assert_int_equal(PHCR_Read(l->r, 10, l->now, &res), PHCR_OK);
    st = feed(l, &res, &jr);
  }

  if (st == PHCR_JUMP_CONFIRMED) {
    l->confirmed++;
    l->last_jump = jr.jump_ns;
    FAKE_SetOffset(l->f, l->dev, FAKE_GetOffset(l->f, l->dev) - jr.jump_ns);
    PHCR_JumpReset(l->d);
  }
  return st;
}

/* ================================================== */

static void
test_pauses_and_clocksource_flips(void **state)
{
  static const int64_t pauses[] = { 2 * NS / 1000, 200 * NS / 1000, 5 * NS,
                                    360 * NS, 86400 * NS };
  PHCR_Counters c;
  Loop l;
  long i, confirmed_before;
  size_t p;
  int64_t before;

  (void)state;
  loop_init(&l, 42, 0);

  for (p = 0; p < sizeof (pauses) / sizeof (pauses[0]); p++) {
    /* steady state, sentinel reads between full reads, and the guest
       clocksource leaving kvm-clock for a while */
    for (i = 0; i < 2000; i++) {
      if (i == 500)
        FAKE_SetModeErrno(l.f, l.dev, PHCR_MODE_PRECISE, ENODEV);
      if (i == 1500)
        FAKE_SetModeErrno(l.f, l.dev, PHCR_MODE_PRECISE, 0);
      if (poll_once(&l, i % 4 != 0) != PHCR_JUMP_NORMAL)
        l.false_events++;
    }
    assert_int_equal(l.false_events, 0);
    assert_int_equal(l.suspects, 0);
    assert_int_equal(PHCR_GetMode(l.r), PHCR_MODE_PRECISE);

    /* VM pause: the PHC (host time) is ahead by the pause length */
    before = FAKE_GetOffset(l.f, l.dev);
    FAKE_SetOffset(l.f, l.dev, before + pauses[p]);
    confirmed_before = l.confirmed;
    assert_int_equal(poll_once(&l, 1), PHCR_JUMP_CONFIRMED);
    assert_int_equal(l.confirmed, confirmed_before + 1);
    assert_true(llabs(l.last_jump - pauses[p]) < 10000);
    l.suspects = 0;
  }

  /* PRECISE was used again after each flip; EXTENDED was disabled once */
  PHCR_GetCounters(l.r, &c);
  assert_true(c.mode_reads[PHCR_MODE_BASIC] > 0);
  assert_true(c.mode_reads[PHCR_MODE_PRECISE] > 0);
  assert_int_equal(c.mode_reads[PHCR_MODE_EXTENDED], 0);
  print_message("scenario: %lu reads, %lu mode changes, %lu hypercalls, "
                "%ld jumps confirmed\n", c.reads, c.mode_changes,
                c.device_samples, l.confirmed);
  loop_fini(&l);
}

/* Cold start 360 s off: the first-sample rule reports it and the
   confirming reads confirm it; afterwards all is normal */
static void
test_cold_start(void **state)
{
  Loop l;
  int i;

  (void)state;
  loop_init(&l, 43, -360 * NS - 12345);
  assert_int_equal(poll_once(&l, 0), PHCR_JUMP_CONFIRMED);
  assert_true(llabs(l.last_jump + 360 * NS + 12345) < 10000);
  for (i = 0; i < 1000; i++)
    assert_int_equal(poll_once(&l, i % 2), PHCR_JUMP_NORMAL);
  loop_fini(&l);
}

int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_pauses_and_clocksource_flips),
    cmocka_unit_test(test_cold_start),
  };

  return cmocka_run_group_tests_name("phcr_scenario", tests, NULL, NULL);
}
