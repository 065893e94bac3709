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

  cmocka tests of the jump detector of refclock_ptpkvm_decide.c (included,
  fed directly with points of the watched offset): zero false confirmations
  (and zero suspects) over 10^6 noisy samples with 0.1-1 % spikes of
  50-500 us, detection of 1 ms ... 10 year jumps of both signs with the
  configured number of confirmations, exact J, dismissal of wild readings,
  reset semantics and the cold-start first-sample rule.
  */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <math.h>
#include <cmocka.h>

#include "fake_phc.h"
#include "refclock_ptpkvm_decide.c"
#include "refclock_ptpkvm_opts.c"

/* ================================================== */
/* The detector alone, with its threshold and confirmations */

typedef struct {
  double threshold;
  int confirmations;
} JdConfig;

typedef struct {
  PKS_Action state;      /* ADD (normal), CONFIRM (suspect), STEP (confirmed) */
  int64_t jump_ns;
  double jump;
} JdResult;

typedef struct {
  PKP_Options opts;
  PKD_State d;
} *Jd;

static void
jd_defaults(JdConfig *c)
{
  PKP_Options o;

  default_options(&o);
  c->threshold = o.jump;
  c->confirmations = o.confirm;
}

static Jd
jd_create(const JdConfig *c)
{
  Jd j = calloc(1, sizeof (*j));

  assert_non_null(j);
  default_options(&j->opts);
  if (c) {
    j->opts.jump = c->threshold;
    j->opts.confirm = c->confirmations;
  }
  PKD_Init(&j->d, &j->opts, 0.0);
  return j;
}

static PKS_Action
jd_feed(Jd j, const PKD_Point *p, JdResult *res)
{
  JdResult local;

  if (!res)
    res = &local;
  res->state = detect(&j->d, p, &res->jump_ns);
  res->jump = (double)res->jump_ns * 1e-9;
  return res->state;
}

static void
jd_reset(Jd j, int cold)
{
  restart(&j->d, cold);
}

#define NS 1000000000LL
#define DAY_NS (86400LL * NS)
#define YEAR10_NS (3652LL * DAY_NS)

/* A simple noisy offset source: drift with random walk, gaussian noise */
typedef struct {
  FAKE_Rng rng;
  double t;
  double offset;      /* true offset (s) relative to base */
  int64_t base_ns;
  double drift;       /* s/s */
  double noise;       /* std-dev of measurement noise (s) */
  double error;       /* error bound reported (s) */
} Source;

static void
source_init(Source *s, uint64_t seed, double noise)
{
  FAKE_RngSeed(&s->rng, seed);
  s->t = 1000.0;
  s->offset = 0.0;
  s->base_ns = 0;
  s->drift = 5e-6;
  s->noise = noise;
  s->error = 2.0 * noise + 1e-6;
}

/* Advance by dt and produce a measurement with noise */
static PKD_Point
source_next(Source *s, double dt)
{
  PKD_Point in;

  s->t += dt;
  s->offset += s->drift * dt;
  in.time = s->t;
  in.offset_ns = s->base_ns +
                 (int64_t)llround((s->offset + s->noise * FAKE_RngNormal(&s->rng)) * 1e9);
  in.error = s->error;
  return in;
}

static Jd
warm_detector(const JdConfig *cfg, Source *s, int n)
{
  Jd d = jd_create(cfg);
  PKD_Point in;
  int i;

  assert_non_null(d);
  for (i = 0; i < n; i++) {
    in = source_next(s, 1.0);
    assert_int_equal(jd_feed(d, &in, NULL), PKS_ACTION_ADD);
  }
  return d;
}

/* ================================================== */

static long
soak_samples(void)
{
  const char *e = getenv("PHCR_SOAK_SAMPLES");
  long n = e ? atol(e) : 0;

  return n > 0 ? n : 1000000;
}

/* 10^6 samples: drift random walk (< 1 ppm/s changes), 1 us gaussian noise,
   poll gaps 1..16 s, spikes of 50..500 us at 0.1 % (first half) and 1 %
   (second half), reported with a small (dishonest) error bound: the worst
   case.  No spike may even become a suspect.  Every 50000 samples a real
   jump of 10 ms .. 1 day (alternating signs) is injected, followed by two
   fast confirming reads: each must be confirmed, the caller "steps" and
   resets, so the detector is shown to stay sensitive in this noise. */
static void
test_soak_no_false_confirmations(void **state)
{
  static const double gaps[] = { 1.0, 1.0, 1.0, 2.0, 4.0, 8.0, 16.0 };
  static const int64_t jumps[] = { 10000000LL, NS, 360 * NS, DAY_NS };
  long i, n = soak_samples(), spikes = 0, false_events = 0, injected = 0;
  long detected = 0;
  Jd d;
  JdResult res;
  PKD_Point in;
  Source s;
  double p, dt, spike;
  int64_t j;
  int k;

  (void)state;
  source_init(&s, 12345, 1e-6);
  d = jd_create(NULL);
  assert_non_null(d);

  for (i = 0; i < n; i++) {
    s.drift += 0.2e-6 * FAKE_RngNormal(&s.rng);
    if (fabs(s.drift) > 50e-6)
      s.drift *= 0.9;

    if (i % 50000 == 49999) {
      /* a real jump, read at once three times */
      j = jumps[injected % 4] * (injected % 2 ? -1 : 1);
      injected++;
      s.base_ns += j;
      for (k = 0; k < 3; k++) {
        in = source_next(&s, k ? 0.002 : 1.0);
        jd_feed(d, &in, &res);
      }
      if (res.state == PKS_ACTION_STEP && llabs(res.jump_ns - j) < 1000000) {
        detected++;
        s.base_ns -= res.jump_ns;
        jd_reset(d, 0);
      }
      continue;
    }

    dt = gaps[FAKE_RngNext(&s.rng) % 7];
    in = source_next(&s, dt);

    p = i < n / 2 ? 0.001 : 0.01;
    if (FAKE_RngUniform(&s.rng) < p) {
      spike = 50e-6 + FAKE_RngUniform(&s.rng) * 450e-6;
      if (FAKE_RngNext(&s.rng) & 1)
        spike = -spike;
      in.offset_ns += (int64_t)llround(spike * 1e9);
      spikes++;
    }

    if (jd_feed(d, &in, &res) != PKS_ACTION_ADD)
      false_events++;
  }

  print_message("soak: %ld samples, %ld spikes, %ld false suspects/confirmations, "
                "%ld/%ld injected jumps confirmed\n", n, spikes, false_events,
                detected, injected);
  assert_true(spikes > n / 400);
  assert_int_equal(false_events, 0);
  assert_int_equal(detected, injected);
  free(d);
}

/* Spikes with honest error bounds (offset error <= delay / 2 = error) and a
   threshold of 200 us: the noise margin must keep them out. */
static void
test_spikes_honest_low_threshold(void **state)
{
  JdConfig cfg;
  Jd d;
  PKD_Point in;
  Source s;
  double delay, asym;
  long i, suspects = 0;

  (void)state;
  jd_defaults(&cfg);
  cfg.threshold = 200e-6;
  source_init(&s, 777, 0.5e-6);
  d = warm_detector(&cfg, &s, 20);

  for (i = 0; i < 200000; i++) {
    in = source_next(&s, 1.0);
    if (FAKE_RngUniform(&s.rng) < 0.01) {
      delay = 50e-6 + FAKE_RngUniform(&s.rng) * 450e-6;
      asym = FAKE_RngUniform(&s.rng) - 0.5;   /* read position */
      in.offset_ns += (int64_t)llround(asym * delay * 1e9);
      in.error = delay / 2.0 + 1e-6;
    }
    if (jd_feed(d, &in, NULL) != PKS_ACTION_ADD)
      suspects++;
  }
  assert_int_equal(suspects, 0);
  free(d);
}

/* ================================================== */

static void
check_jump(int64_t jump_ns, int confirmations, double noise, int exact)
{
  JdConfig cfg;
  Jd d;
  JdResult res;
  PKD_Point in;
  PKS_Action st;
  Source s;
  int k;

  jd_defaults(&cfg);
  cfg.confirmations = confirmations;
  source_init(&s, (uint64_t)(jump_ns ^ confirmations), noise);
  if (exact)
    s.drift = 0.0;
  d = warm_detector(&cfg, &s, 24);

  s.base_ns += jump_ns;
  for (k = 0; k <= confirmations; k++) {
    in = source_next(&s, k == 0 ? 1.0 : 0.002);
    st = jd_feed(d, &in, &res);
    assert_int_equal(st, k < confirmations ? PKS_ACTION_CONFIRM : PKS_ACTION_STEP);
  }

  if (exact)
    assert_true(res.jump_ns == jump_ns);
  else
    assert_true(llabs(res.jump_ns - jump_ns) <= 20000);
  assert_true((res.jump > 0) == (jump_ns > 0));

  /* The caller steps by J and resets: the detector starts clean */
  jd_reset(d, 0);
  s.base_ns -= res.jump_ns;
  for (k = 0; k < 30; k++) {
    in = source_next(&s, 1.0);
    assert_int_equal(jd_feed(d, &in, NULL), PKS_ACTION_ADD);
  }
  free(d);
}

static const int64_t jump_sizes[] = {
  NS / 1000, NS, 360 * NS, DAY_NS, YEAR10_NS
};

static void
test_jumps_detected_both_signs(void **state)
{
  size_t i;

  (void)state;
  for (i = 0; i < sizeof (jump_sizes) / sizeof (jump_sizes[0]); i++) {
    check_jump(jump_sizes[i], 2, 1e-6, 0);
    check_jump(-jump_sizes[i], 2, 1e-6, 0);
  }
}

static void
test_jumps_exact_ns(void **state)
{
  size_t i;

  (void)state;
  for (i = 0; i < sizeof (jump_sizes) / sizeof (jump_sizes[0]); i++) {
    check_jump(jump_sizes[i] + 123, 2, 0.0, 1);
    check_jump(-jump_sizes[i] - 7, 2, 0.0, 1);
  }
}

static void
test_confirmation_count_respected(void **state)
{
  int c;

  (void)state;
  for (c = 1; c <= 6; c++) {
    check_jump(360 * NS, c, 1e-6, 0);
    check_jump(-NS / 1000 - NS / 2000, c, 1e-6, 0);
  }
}

/* ================================================== */

/* One wild reading of any size never confirms */
static void
test_single_wild_reading_dismissed(void **state)
{
  Jd d;
  JdResult res;
  PKD_Point in;
  Source s;
  size_t i;

  (void)state;
  source_init(&s, 99, 1e-6);
  d = warm_detector(NULL, &s, 20);

  for (i = 0; i < sizeof (jump_sizes) / sizeof (jump_sizes[0]); i++) {
    in = source_next(&s, 1.0);
    in.offset_ns += (i % 2 ? -1 : 1) * jump_sizes[i];
    assert_int_equal(jd_feed(d, &in, &res), PKS_ACTION_CONFIRM);

    in = source_next(&s, 0.002);
    assert_int_equal(jd_feed(d, &in, &res), PKS_ACTION_ADD);
    assert_true(res.jump_ns == 0);
  }

  /* the wild readings left the estimate where it was */
  for (i = 0; i < 20; i++) {
    in = source_next(&s, 1.0);
    assert_int_equal(jd_feed(d, &in, &res), PKS_ACTION_ADD);
  }
  free(d);
}

/* A sample that agrees with the suspect's J within the tolerance (50 us)
   still does not confirm it unless it is a jump itself: a 1 ms suspect,
   then samples 40 us closer to the old estimate, below 3/4 of the
   threshold plus the margin */
static void
test_confirming_samples_must_be_jumps(void **state)
{
  Jd d;
  JdResult res;
  PKD_Point in;
  Source s;
  int k;

  (void)state;
  source_init(&s, 1234, 0.0);
  s.drift = 0.0;
  d = warm_detector(NULL, &s, 20);
  in = source_next(&s, 1.0);
  in.offset_ns += NS / 1000;
  assert_int_equal(jd_feed(d, &in, &res), PKS_ACTION_CONFIRM);
  for (k = 0; k < 3; k++) {
    in = source_next(&s, 0.002);
    in.offset_ns += NS / 1000 - 40000;
    assert_int_equal(jd_feed(d, &in, &res), PKS_ACTION_ADD);
  }
  free(d);
}

/* Frequent sub-threshold outliers (15 % at 700 us) must not inflate the
   noise estimate so much that a 1 ms jump goes unseen */
static void
test_outliers_do_not_blind(void **state)
{
  Jd d;
  JdResult res;
  PKD_Point in;
  Source s;
  long i;
  int k;

  (void)state;
  source_init(&s, 555, 1e-6);
  s.drift = 0.0;
  d = warm_detector(NULL, &s, 20);
  for (i = 0; i < 5000; i++) {
    in = source_next(&s, 1.0);
    if (FAKE_RngUniform(&s.rng) < 0.15)
      in.offset_ns += 700000;
    assert_int_equal(jd_feed(d, &in, &res), PKS_ACTION_ADD);
  }
  s.base_ns += NS / 1000;
  for (k = 0; k < 3; k++) {
    in = source_next(&s, k ? 0.002 : 1.0);
    jd_feed(d, &in, &res);
  }
  assert_int_equal(res.state, PKS_ACTION_STEP);
  free(d);
}

/* Wild readings of different sizes in a row replace each other and never
   confirm; two equal wild readings do not reach 2 confirmations */
static void
test_inconsistent_wild_readings(void **state)
{
  Jd d;
  JdResult res;
  PKD_Point in;
  Source s;
  int i;

  (void)state;
  source_init(&s, 4242, 1e-6);
  d = warm_detector(NULL, &s, 20);

  for (i = 0; i < 50; i++) {
    in = source_next(&s, 0.002);
    in.offset_ns += (i + 1) * 3 * NS / 1000 * (i % 2 ? -1 : 1);
    assert_int_equal(jd_feed(d, &in, &res), PKS_ACTION_CONFIRM);
    /* each one replaces the previous suspect */
    assert_true(llabs(res.jump_ns - (i + 1) * 3 * NS / 1000 * (i % 2 ? -1 : 1)) < 20000);
  }

  /* back to normal */
  in = source_next(&s, 0.002);
  assert_int_equal(jd_feed(d, &in, &res), PKS_ACTION_ADD);

  /* Twice the same wild value, then normal: not confirmed */
  for (i = 0; i < 2; i++) {
    in = source_next(&s, 0.002);
    in.offset_ns += 5 * NS;
    assert_int_equal(jd_feed(d, &in, &res), PKS_ACTION_CONFIRM);
  }
  in = source_next(&s, 0.002);
  assert_int_equal(jd_feed(d, &in, &res), PKS_ACTION_ADD);
  free(d);
}

/* ================================================== */

/* After a confirmed jump the detector restarts (warm) and follows the new
   level; a caller step by -J then needs the reset, otherwise it is
   (rightly) seen as another jump */
static void
test_reset_semantics(void **state)
{
  Jd d;
  JdResult res;
  PKD_Point in;
  Source s;
  int k;

  (void)state;
  source_init(&s, 5, 1e-6);
  d = warm_detector(NULL, &s, 20);

  s.base_ns += 360 * NS;
  for (k = 0; k < 3; k++) {
    in = source_next(&s, k ? 0.002 : 1.0);
    jd_feed(d, &in, &res);
  }
  assert_int_equal(res.state, PKS_ACTION_STEP);

  /* no action by the caller: the new level is normal */
  for (k = 0; k < 40; k++) {
    in = source_next(&s, 1.0);
    assert_int_equal(jd_feed(d, &in, &res), PKS_ACTION_ADD);
  }

  /* the caller steps without reset: a jump of -J */
  s.base_ns -= 360 * NS;
  in = source_next(&s, 1.0);
  assert_int_equal(jd_feed(d, &in, &res), PKS_ACTION_CONFIRM);
  assert_true(llabs(res.jump_ns + 360 * NS) < 100000);

  /* with the reset, it is normal at once */
  jd_reset(d, 0);
  for (k = 0; k < 20; k++) {
    in = source_next(&s, 1.0);
    assert_int_equal(jd_feed(d, &in, &res), PKS_ACTION_ADD);
  }
  free(d);
}

/* Cold start: no history and |offset| > threshold is a suspect (J = the
   offset), confirmed like any jump; small offsets are normal; Reset does
   not re-arm the rule, ResetCold does */
static void
test_first_sample_rule(void **state)
{
  Jd d;
  JdResult res;
  PKD_Point in = { 10.0, 360 * NS + 5, 2e-6 };
  int k;

  (void)state;
  d = jd_create(NULL);
  for (k = 0; k < 3; k++) {
    in.time += 0.002;
    jd_feed(d, &in, &res);
    assert_int_equal(res.state, k < 2 ? PKS_ACTION_CONFIRM : PKS_ACTION_STEP);
    assert_true(res.jump_ns == 360 * NS + 5);
  }
  assert_true(res.jump_ns == 360 * NS + 5);

  /* after Reset, a far first sample only seeds the history */
  jd_reset(d, 0);
  assert_int_equal(jd_feed(d, &in, &res), PKS_ACTION_ADD);

  /* ResetCold re-arms it; a wild first reading is dismissed */
  jd_reset(d, 1);
  assert_int_equal(jd_feed(d, &in, &res), PKS_ACTION_CONFIRM);
  in.offset_ns = 20000;
  assert_int_equal(jd_feed(d, &in, &res), PKS_ACTION_ADD);

  /* small first offset: normal */
  jd_reset(d, 1);
  in.offset_ns = 500000;
  assert_int_equal(jd_feed(d, &in, &res), PKS_ACTION_ADD);
  free(d);
}

/* A step below the threshold is absorbed without suspects: a later jump is
   measured from the new level */
static void
test_subthreshold_step_absorbed(void **state)
{
  Jd d;
  JdResult res;
  PKD_Point in;
  Source s;
  int k;

  (void)state;
  source_init(&s, 31, 1e-6);
  s.drift = 0.0;
  d = warm_detector(NULL, &s, 20);
  s.base_ns += 600000;
  for (k = 0; k < 40; k++) {
    in = source_next(&s, 1.0);
    assert_int_equal(jd_feed(d, &in, NULL), PKS_ACTION_ADD);
  }
  s.base_ns += 2 * NS / 1000;
  for (k = 0; k < 3; k++) {
    in = source_next(&s, k ? 0.002 : 1.0);
    jd_feed(d, &in, &res);
  }
  assert_int_equal(res.state, PKS_ACTION_STEP);
  assert_true(llabs(res.jump_ns - 2 * NS / 1000) < 20000);
  free(d);
}

/* Noisy source (50 us) and a 100 us threshold: the noise margin keeps
   noise out, a 5 ms jump is still confirmed */
static void
test_noise_margin(void **state)
{
  JdConfig cfg;
  Jd d;
  JdResult res;
  PKD_Point in;
  Source s;
  long i, suspects = 0;
  int k;

  (void)state;
  jd_defaults(&cfg);
  cfg.threshold = 100e-6;
  source_init(&s, 8, 50e-6);
  s.error = 1e-6;
  d = jd_create(&cfg);
  for (i = 0; i < 100000; i++) {
    in = source_next(&s, 1.0);
    /* the noise is unknown during the first samples */
    if (jd_feed(d, &in, NULL) != PKS_ACTION_ADD && i >= 10)
      suspects++;
  }
  assert_int_equal(suspects, 0);

  s.base_ns -= 5 * NS / 1000;
  for (k = 0; k < 3; k++) {
    in = source_next(&s, k ? 0.002 : 1.0);
    jd_feed(d, &in, &res);
  }
  assert_int_equal(res.state, PKS_ACTION_STEP);
  assert_true(llabs(res.jump_ns + 5 * NS / 1000) < 500000);
  free(d);
}

/* chronyd steering: frequency changes of 1 ppm/s for minutes */
static void
test_frequency_ramps(void **state)
{
  Jd d;
  PKD_Point in;
  Source s;
  long i, suspects = 0;

  (void)state;
  source_init(&s, 21, 1e-6);
  d = warm_detector(NULL, &s, 20);
  for (i = 0; i < 20000; i++) {
    /* triangle wave between -100 and +100 ppm at 1 ppm/s */
    s.drift += ((i / 200) % 2 ? -1e-6 : 1e-6);
    in = source_next(&s, 1.0);
    if (jd_feed(d, &in, NULL) != PKS_ACTION_ADD)
      suspects++;
  }
  assert_int_equal(suspects, 0);
  free(d);
}

/* Garbage inputs do not crash and cannot confirm alone */
static void
test_garbage_inputs(void **state)
{
  Jd d = jd_create(NULL);
  PKD_Point in = { NAN, INT64_MAX, -1.0 };
  JdResult res;

  (void)state;
  jd_feed(d, &in, &res);
  in.offset_ns = INT64_MIN;
  in.time = INFINITY;
  jd_feed(d, &in, &res);
  in.offset_ns = 0;
  in.error = NAN;
  jd_feed(d, &in, &res);
  assert_int_not_equal(res.state, PKS_ACTION_STEP);
  free(d);
}

int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_soak_no_false_confirmations),
    cmocka_unit_test(test_spikes_honest_low_threshold),
    cmocka_unit_test(test_jumps_detected_both_signs),
    cmocka_unit_test(test_jumps_exact_ns),
    cmocka_unit_test(test_confirmation_count_respected),
    cmocka_unit_test(test_single_wild_reading_dismissed),
    cmocka_unit_test(test_inconsistent_wild_readings),
    cmocka_unit_test(test_confirming_samples_must_be_jumps),
    cmocka_unit_test(test_outliers_do_not_blind),
    cmocka_unit_test(test_reset_semantics),
    cmocka_unit_test(test_first_sample_rule),
    cmocka_unit_test(test_subthreshold_step_absorbed),
    cmocka_unit_test(test_noise_margin),
    cmocka_unit_test(test_frequency_ramps),
    cmocka_unit_test(test_garbage_inputs),
  };

  return cmocka_run_group_tests_name("ptpkvm_jump", tests, NULL, NULL);
}
