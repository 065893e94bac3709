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

  cmocka tests of phc_reader's validation and filter:
  every rejection rule, whole-reading rejection of non-monotonic sequences,
  the filter on synthetic delay distributions with a known true offset
  (the error bound must contain it), min-delay selection, the mean of
  every triplet under noise the delays do not bound, outlier rejection,
  PRECISE samples, exact nanoseconds at 10 years.
  */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>

#include "fake_phc.h"
#include "phcr_internal.h"

#define NS 1000000000LL
#define BASE_NS (1700000000LL * NS)

static void
set_ts(struct timespec *ts, int64_t ns)
{
  PHCR_NsToTimespec(ns, ts);
}

/* A reading of n triplets: delays d[i] ns, PHC read at fraction a[i] of the
   interval, true offset off_ns, PHC rate error freq */
static void
make_reading(PHCR_Reading *r, PHCR_Mode mode, int n, const double *d,
             const double *a, int64_t off_ns, double freq, int64_t *t)
{
  int64_t b, ph;
  int i;

  memset(r, 0, sizeof (*r));
  r->mode = mode;
  r->n = n;
  for (i = 0; i < n; i++) {
    b = *t;
    ph = b + (int64_t)llround(a[i] * d[i]);
    set_ts(&r->t[i].sys_before, b);
    set_ts(&r->t[i].phc, ph + off_ns + (int64_t)llround(freq * (double)(ph - BASE_NS)));
    set_ts(&r->t[i].sys_after, b + (int64_t)llround(d[i]));
    *t = b + (int64_t)llround(d[i]) + 50;
  }
}

/* ================================================== */

static void
test_time_helpers(void **state)
{
  struct timespec ts;

  (void)state;
  PHCR_NsToTimespec(-1, &ts);
  assert_int_equal(ts.tv_sec, -1);
  assert_int_equal(ts.tv_nsec, 999999999);
  PHCR_NsToTimespec(BASE_NS + 5, &ts);
  assert_true(PHCR_TimespecToNs(&ts) == BASE_NS + 5);
  ts.tv_sec = (time_t)1 << 62;
  assert_true(PHCR_TimespecToNs(&ts) == INT64_MAX);
}

/* ================================================== */

static void
good_reading(PHCR_Reading *r, int n)
{
  double d[PHCR_MAX_SAMPLES], a[PHCR_MAX_SAMPLES];
  int64_t t = BASE_NS;
  int i;

  for (i = 0; i < n; i++) {
    d[i] = 1500 + 10 * i;
    a[i] = 0.5;
  }
  make_reading(r, PHCR_MODE_EXTENDED, n, d, a, 1000, 0.0, &t);
}

/* One bad triplet among three: it alone is dropped */
static void
check_one_dropped(PHCR_Reading *r)
{
  assert_int_equal(PHCR_ValidateReading(r), PHCR_OK);
  assert_int_equal(r->n, 2);
}

static void
test_validate_classes(void **state)
{
  PHCR_Reading r;

  (void)state;

  good_reading(&r, 10);
  assert_int_equal(PHCR_ValidateReading(&r), PHCR_OK);
  assert_int_equal(r.n, 10);

  /* each rule alone */
  good_reading(&r, 3);
  r.t[1].phc.tv_nsec = 1000000000;
  check_one_dropped(&r);
  good_reading(&r, 3);
  r.t[1].sys_before.tv_nsec = -1;
  check_one_dropped(&r);
  good_reading(&r, 3);
  r.t[1].phc.tv_sec = -5;
  check_one_dropped(&r);
  good_reading(&r, 3);
  set_ts(&r.t[1].sys_after, PHCR_TimespecToNs(&r.t[1].sys_before) - 1);
  check_one_dropped(&r);
  good_reading(&r, 3);
  r.t[1].sys_before.tv_sec -= 2;
  check_one_dropped(&r);
  good_reading(&r, 3);
  memset(&r.t[1], 0, sizeof (r.t[1]));
  check_one_dropped(&r);

  /* each class once, in different triplets */
  good_reading(&r, 10);
  r.t[1].phc.tv_nsec = 1000000000;        /* NSEC */
  r.t[2].sys_before.tv_nsec = -1;         /* NSEC */
  r.t[3].phc.tv_sec = -5;                 /* ABSURD */
  set_ts(&r.t[4].sys_after, PHCR_TimespecToNs(&r.t[4].sys_before) - 1); /* ORDER */
  r.t[5].sys_before.tv_sec -= 2;          /* DELAY 2 s */
  memset(&r.t[6], 0, sizeof (r.t[6]));    /* ABSURD zero times */
  assert_int_equal(PHCR_ValidateReading(&r), PHCR_OK);
  assert_int_equal(r.n, 4);

  /* the delay limit is 1 s */
  good_reading(&r, 3);
  set_ts(&r.t[0].sys_after, PHCR_TimespecToNs(&r.t[0].sys_before) + NS - 1);
  set_ts(&r.t[1].sys_after, PHCR_TimespecToNs(&r.t[1].sys_before) + NS + 1);
  set_ts(&r.t[1].phc, PHCR_TimespecToNs(&r.t[1].sys_before) + 1000);
  set_ts(&r.t[2].sys_before, PHCR_TimespecToNs(&r.t[1].sys_after) + 10);
  set_ts(&r.t[2].phc, PHCR_TimespecToNs(&r.t[2].sys_before) + 1000);
  set_ts(&r.t[2].sys_after, PHCR_TimespecToNs(&r.t[2].sys_before) + 1500);
  assert_int_equal(PHCR_ValidateReading(&r), PHCR_OK);
  assert_int_equal(r.n, 2);
}

/* Guest kernels < 5.0 copy the system timestamp into the PHC slot when the
   host cannot answer: such triplets are rejected, and a reading made only
   of them says the host cannot answer.  PRECISE readings are exempt (their
   two timestamps come from one counter value). */
static void
test_validate_syscopy(void **state)
{
  PHCR_Reading r;
  int i;

  (void)state;

  good_reading(&r, 5);
  r.t[1].phc = r.t[1].sys_before;
  assert_int_equal(PHCR_ValidateReading(&r), PHCR_OK);
  assert_int_equal(r.n, 4);

  good_reading(&r, 5);
  for (i = 0; i < 5; i++)
    r.t[i].phc = r.t[i].sys_before;
  assert_int_equal(PHCR_ValidateReading(&r), PHCR_ERR_HOST_NOTSUPP);
  assert_int_equal(r.n, 0);

  /* garbage and copies together: invalid, not a host failure */
  good_reading(&r, 2);
  r.t[0].phc = r.t[0].sys_before;
  r.t[1].phc.tv_nsec = -1;
  assert_int_equal(PHCR_ValidateReading(&r), PHCR_ERR_INVALID);

  good_reading(&r, 1);
  r.mode = PHCR_MODE_PRECISE;
  r.t[0].phc = r.t[0].sys_before;
  r.t[0].sys_after = r.t[0].sys_before;
  assert_int_equal(PHCR_ValidateReading(&r), PHCR_OK);
}

static void
test_validate_nonmonotonic(void **state)
{
  PHCR_Reading r;

  (void)state;

  /* system time going backwards between triplets: whole reading */
  good_reading(&r, 5);
  r.t[3].sys_before.tv_sec -= 1;
  r.t[3].phc.tv_sec -= 1;
  r.t[3].sys_after.tv_sec -= 1;
  assert_int_equal(PHCR_ValidateReading(&r), PHCR_ERR_INVALID);
  assert_int_equal(r.n, 0);

  /* PHC going backwards */
  good_reading(&r, 5);
  r.t[2].phc.tv_sec -= 1;
  assert_int_equal(PHCR_ValidateReading(&r), PHCR_ERR_INVALID);
  assert_int_equal(r.n, 0);

  /* timestamps of consecutive triplets overlapping (timestamp
     noise larger than their spacing): each triplet stands on its own */
  good_reading(&r, 5);
  r.t[2].sys_before.tv_nsec -= 3000;
  r.t[2].sys_after.tv_nsec -= 3000;
  r.t[3].sys_before.tv_nsec -= 4000;
  r.t[4].phc.tv_nsec -= 5000;
  assert_int_equal(PHCR_ValidateReading(&r), PHCR_OK);
  assert_int_equal(r.n, 5);
}

/* ================================================== */

/* Synthetic delay distributions with a known true offset: the error bound
   contains the truth for every reading */
static void
test_filter_bound_contains_truth(void **state)
{
  double d[PHCR_MAX_SAMPLES], a[PHCR_MAX_SAMPLES], err_ns, sum_err = 0.0;
  int64_t t = BASE_NS, off, truth;
  PHCR_Reading r;
  PHCR_Sample s;
  FAKE_Rng rng;
  int i, k, n, dist, misses = 0;

  (void)state;
  FAKE_RngSeed(&rng, 2026);

  for (k = 0; k < 20000; k++) {
    dist = k % 4;
    n = 1 + (int)(FAKE_RngNext(&rng) % PHCR_MAX_SAMPLES);
    for (i = 0; i < n; i++) {
      switch (dist) {
        case 0:   /* uniform 1-2 us, centred */
          d[i] = 1000 + 1000 * FAKE_RngUniform(&rng);
          a[i] = 0.5;
          break;
        case 1:   /* exponential tail, random read position */
          d[i] = 1200 - 800 * log(1.0 - FAKE_RngUniform(&rng));
          a[i] = FAKE_RngUniform(&rng);
          break;
        case 2:   /* 5 % spikes 50-500 us, asymmetric */
          d[i] = 1500 + 100 * FAKE_RngUniform(&rng);
          if (FAKE_RngUniform(&rng) < 0.05)
            d[i] += 50000 + 450000 * FAKE_RngUniform(&rng);
          a[i] = 0.9;
          break;
        default:  /* fully asymmetric: PHC read at the start */
          d[i] = 1000 + 5000 * FAKE_RngUniform(&rng);
          a[i] = 0.0;
          break;
      }
    }
    off = (int64_t)(FAKE_RngNext(&rng) % (2 * NS)) - NS;
    make_reading(&r, PHCR_MODE_BASIC, n, d, a, off, 100e-6, &t);
    assert_int_equal(PHCR_ValidateReading(&r), PHCR_OK);
    assert_int_equal(PHCR_FilterReading(&r, NULL, &s), PHCR_OK);

    truth = off + (int64_t)llround(100e-6 * (double)(PHCR_TimespecToNs(&s.sys) - BASE_NS));
    err_ns = fabs((double)(s.offset_ns - truth));
    if (err_ns > s.error * 1e9)
      misses++;
    sum_err += s.error;
    assert_true(s.n_used >= 1 && s.n_used <= n);
    assert_int_equal(s.n_total, n);
    assert_true(s.error > 0.0);
    assert_true(PHCR_TimespecToNs(&s.phc) - PHCR_TimespecToNs(&s.sys) == s.offset_ns);
    assert_true(fabs(s.offset - (double)s.offset_ns * 1e-9) < 1e-15 + 1e-9 * fabs(s.offset));
  }
  print_message("filter: 20000 readings, mean error bound %.0f ns, %d misses\n",
                sum_err / 20000 * 1e9, misses);
  assert_int_equal(misses, 0);
}

/* Gaussian noise of standard deviation sd (ns) on a timestamp */
static void
add_noise(struct timespec *ts, double sd, FAKE_Rng *rng)
{
  double u1 = 1.0 - FAKE_RngUniform(rng), u2 = FAKE_RngUniform(rng);

  PHCR_NsToTimespec(PHCR_TimespecToNs(ts) +
                    llround(sd * sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2)), ts);
}

/* A noisy device: the timestamps of each triplet carry Gaussian noise
   (5 us on the PHC's, or 5 us on each system timestamp, which also leaves
   triplets with sys_after < sys_before), larger than the delays show; the
   system timestamps are each triplet's own (PTP_SYS_OFFSET_EXTENDED) or
   shared by neighbours (PTP_SYS_OFFSET: one timestamp between two PHC
   reads).  With the noise averaged over the readings, the bound contains
   the truth in >= 99 % of the readings (all for shared timestamps),
   and is not more than 8 times the typical error (6 for shared
   timestamps: only the kept neighbours that share one are correlated).
   A reading's scatter alone (no average) misses more with system noise:
   fewer valid triplets are left to show it. */
static void
test_filter_bound_noisy(void **state)
{
  double d[PHCR_MAX_SAMPLES], a[PHCR_MAX_SAMPLES], e[PHCR_MAX_SAMPLES + 1], err_ns,
         ratio[2000], median;
  PHCR_FilterState st;
  int64_t t = BASE_NS;
  PHCR_Reading r;
  PHCR_Sample s;
  FAKE_Rng rng;
  int i, k, n, kind, averaged, misses, alone_misses[3];

  (void)state;
  FAKE_RngSeed(&rng, 7);

  for (averaged = 1; averaged >= 0; averaged--) {
    for (kind = 0; kind < 3; kind++) {
      memset(&st, 0, sizeof (st));
      for (k = n = misses = 0; k < 2000; k++) {
        for (i = 0; i < 10; i++) {
          d[i] = 1500 + 100 * FAKE_RngUniform(&rng);
          a[i] = 0.5;
        }
        make_reading(&r, kind == 1 ? PHCR_MODE_EXTENDED : PHCR_MODE_BASIC, 10, d, a, 0, 0.0,
                     &t);
        for (i = 0; i <= 10; i++)
          e[i] = 5000.0 * sqrt(-2.0 * log(1.0 - FAKE_RngUniform(&rng))) *
                 cos(2.0 * M_PI * FAKE_RngUniform(&rng));
        for (i = 0; i < 10; i++) {
          if (kind == 1) {
            add_noise(&r.t[i].sys_before, 5000.0, &rng);
            add_noise(&r.t[i].sys_after, 5000.0, &rng);
          } else if (i > 0) {
            /* PTP_SYS_OFFSET: one timestamp is the last triplet's after */
            r.t[i].sys_before = r.t[i - 1].sys_after;
          } else if (kind == 2) {
            PHCR_NsToTimespec(PHCR_TimespecToNs(&r.t[i].sys_before) + llround(e[i]),
                              &r.t[i].sys_before);
          }
          if (kind == 0)
            add_noise(&r.t[i].phc, 5000.0, &rng);
          if (kind == 2)
            PHCR_NsToTimespec(PHCR_TimespecToNs(&r.t[i].sys_after) + llround(e[i + 1]),
                              &r.t[i].sys_after);
        }
        if (PHCR_ValidateReading(&r) != PHCR_OK)
          continue;
        assert_int_equal(PHCR_FilterReading(&r, averaged ? &st : NULL, &s),
                         PHCR_OK);
        /* the truth is offset 0 */
        err_ns = fabs((double)s.offset_ns);
        misses += err_ns > s.error * 1e9;
        ratio[n++] = s.error * 1e9 / (err_ns > 1.0 ? err_ns : 1.0);
      }
      median = PHCR_MedianDouble(ratio, n);
      print_message("filter, noisy %s timestamps, %s: %d of %d readings not covered,"
                    " median bound/error %.1f\n", kind == 0 ? "PHC" : kind == 1 ? "system" :
                    "shared system",
                    averaged ? "noise averaged" : "one reading's scatter", misses, n,
                    median);
      assert_true(n >= 1900);
      if (averaged) {
        assert_true(kind == 2 ? misses == 0 : misses <= n / 100);
        /* independent PHC noise: the mean of k has 1 / k of the variance */
        assert_true(median <= (kind == 2 ? 6.0 : 8.0));
      } else {
        alone_misses[kind] = misses;
      }
    }
  }
  /* the average is what covers system noise */
  assert_true(alone_misses[1] > n / 100 && alone_misses[2] > n / 100);
}

/* Noise on the PHC timestamps of sd ns (delays 1.5-1.6 us): the RMS error
   of the samples of 2000 readings of 10 triplets (noise averaged), and the
   number of triplets the last one combined */
static double
phc_noise_run(double sd, int *n_used)
{
  double d[10], a[10], sum2 = 0.0;
  PHCR_FilterState st;
  int64_t t = BASE_NS;
  PHCR_Reading r;
  PHCR_Sample s;
  FAKE_Rng rng;
  int i, k;

  FAKE_RngSeed(&rng, 5);
  memset(&st, 0, sizeof (st));
  for (k = 0; k < 2000; k++) {
    for (i = 0; i < 10; i++) {
      d[i] = 1500 + 100 * FAKE_RngUniform(&rng);
      a[i] = 0.5;
    }
    make_reading(&r, PHCR_MODE_BASIC, 10, d, a, 0, 0.0, &t);
    for (i = 0; i < 10; i++)
      add_noise(&r.t[i].phc, sd, &rng);
    assert_int_equal(PHCR_FilterReading(&r, &st, &s), PHCR_OK);
    sum2 += (double)s.offset_ns * (double)s.offset_ns;
  }
  *n_used = s.n_used;
  return sqrt(sum2 / 2000);
}

/* The noise grows 25-fold (200 ns to 5 us on the PHC timestamps): the
   bound follows at once, from the readings' own scatter, while the average
   over readings still holds the old noise */
static void
test_filter_noise_grows(void **state)
{
  double d[10], a[10], sd;
  PHCR_FilterState st;
  int64_t t = BASE_NS;
  PHCR_Reading r;
  PHCR_Sample s;
  FAKE_Rng rng;
  int i, k, misses = 0;

  (void)state;
  FAKE_RngSeed(&rng, 11);
  memset(&st, 0, sizeof (st));
  for (k = 0; k < 4000; k++) {
    sd = k % 400 < 360 ? 200.0 : 5000.0;
    for (i = 0; i < 10; i++) {
      d[i] = 1500 + 100 * FAKE_RngUniform(&rng);
      a[i] = 0.5;
    }
    make_reading(&r, PHCR_MODE_BASIC, 10, d, a, 0, 0.0, &t);
    for (i = 0; i < 10; i++) {
      if (i > 0)
        r.t[i].sys_before = r.t[i - 1].sys_after;
      add_noise(&r.t[i].phc, sd, &rng);
    }
    assert_int_equal(PHCR_FilterReading(&r, &st, &s), PHCR_OK);
    misses += k % 400 >= 360 && fabs((double)s.offset_ns) > s.error * 1e9;
  }
  print_message("filter, noise growing 25-fold 10 times: %d of 400 noisy readings not "
                "covered\n", misses);
  assert_true(misses <= 4);
}

/* Noise the delays do not bound (larger than half the shortest delay) is
   averaged over every triplet: the error of the mean of 10; noise within
   the delays leaves the lowest-delay 40 % */
static void
test_filter_noise_mean(void **state)
{
  double sd[] = { 20.0, 5000.0, 100000.0 }, rms;
  int i, n_used;

  (void)state;
  for (i = 0; i < 3; i++) {
    rms = phc_noise_run(sd[i], &n_used);
    print_message("filter, PHC noise %.0f ns: RMS error %.0f ns, %d triplets combined\n",
                  sd[i], rms, n_used);
    if (sd[i] < 750.0) {
      assert_int_equal(n_used, 4);
    } else {
      assert_true(n_used >= 9);
      assert_true(rms < 1.2 * sd[i] / sqrt(10.0));
    }
  }
}

/* Min-delay selection: the 40 % shortest triplets (4 of 10, exact ones
   scattered among long ones read off-centre) are combined */
static void
test_filter_min_delay(void **state)
{
  double d[10], a[10];
  int64_t t = BASE_NS;
  PHCR_Reading r;
  PHCR_Sample s;
  int i;

  (void)state;
  for (i = 0; i < 10; i++) {
    d[i] = 200000;        /* 200 us, PHC read at the start: 100 us off */
    a[i] = 0.0;
  }
  for (i = 1; i < 10; i += 3) {
    d[i] = 1000 + i;
    a[i] = 0.5;
  }
  d[8] = 999;
  a[8] = 0.5;
  make_reading(&r, PHCR_MODE_BASIC, 10, d, a, 5000, 0.0, &t);
  assert_int_equal(PHCR_FilterReading(&r, NULL, &s), PHCR_OK);
  assert_int_equal(s.n_used, 4);
  assert_true(llabs(s.offset_ns - 5000) <= 1);
  assert_true(fabs(s.delay - 999e-9) < 1e-12);
  assert_true(s.error < 600e-9);
}

/* Outlier rejection: a short triplet with an impossible offset */
static void
test_filter_outlier(void **state)
{
  double d[10], a[10];
  int64_t t = BASE_NS;
  PHCR_Reading r;
  PHCR_Sample s;
  int i;

  (void)state;
  for (i = 0; i < 10; i++) {
    d[i] = 1500 + i;
    a[i] = 0.5;
  }
  make_reading(&r, PHCR_MODE_EXTENDED, 10, d, a, -777, 0.0, &t);
  set_ts(&r.t[0].phc, PHCR_TimespecToNs(&r.t[0].phc) + 20000);   /* +20 us */
  assert_int_equal(PHCR_FilterReading(&r, NULL, &s), PHCR_OK);
  assert_int_equal(s.n_used, 3);    /* of the lowest-delay 4 */
  assert_int_equal(s.n_total, 10);
  assert_true(llabs(s.offset_ns + 777) <= 2);
}

/* PRECISE: one cross-timestamp, fixed error bound */
static void
test_filter_precise(void **state)
{
  PHCR_Reading r;
  PHCR_Sample s;

  (void)state;
  memset(&r, 0, sizeof (r));
  r.mode = PHCR_MODE_PRECISE;
  r.n = 1;
  set_ts(&r.t[0].sys_before, BASE_NS);
  set_ts(&r.t[0].sys_after, BASE_NS);
  set_ts(&r.t[0].phc, BASE_NS - 42);
  assert_int_equal(PHCR_FilterReading(&r, NULL, &s), PHCR_OK);
  assert_true(s.offset_ns == -42);
  assert_true(s.delay == 0.0);
  assert_true(fabs(s.error - 101e-9) < 1e-15);
  assert_int_equal(s.mode, PHCR_MODE_PRECISE);
}

/* PRECISE cross-timestamps with Gaussian noise of sd ns, 0.2 s apart, the
   offset drifting at 10 ppm and stepped by 360 s in the middle: the number
   of the last 1800 not covered, and the median bound (ns) */
static void
precise_run(double sd, int *misses, double *median)
{
  double bound[1800];
  int64_t t = BASE_NS, truth, off;
  PHCR_FilterState st;
  PHCR_Reading r;
  PHCR_Sample s;
  FAKE_Rng rng;
  int k;

  FAKE_RngSeed(&rng, 11);
  memset(&st, 0, sizeof (st));
  for (k = *misses = 0; k < 2000; k++) {
    truth = llround(10e-6 * (double)(t - BASE_NS)) + (k >= 1000 ? 360 * NS : 0);
    memset(&r, 0, sizeof (r));
    r.mode = PHCR_MODE_PRECISE;
    r.n = 1;
    set_ts(&r.t[0].sys_before, t);
    set_ts(&r.t[0].sys_after, t);
    set_ts(&r.t[0].phc, t + truth);
    add_noise(&r.t[0].phc, sd, &rng);
    assert_int_equal(PHCR_FilterReading(&r, &st, &s), PHCR_OK);
    if (k >= 200) {
      off = s.offset_ns - truth;
      *misses += fabs((double)off) > s.error * 1e9;
      bound[k - 200] = s.error * 1e9;
    }
    t += NS / 5;
  }
  *median = PHCR_MedianDouble(bound, 1800);
}

/* PRECISE: 100 ns, or more when the device's cross-timestamps are noisier
   (learnt from their residuals; a step is a discontinuity, not noise) */
static void
test_filter_precise_noise(void **state)
{
  double sd[] = { 20.0, 100.0, 1000.0 }, median;
  int i, misses;

  (void)state;
  for (i = 0; i < 3; i++) {
    precise_run(sd[i], &misses, &median);
    print_message("filter, PRECISE noise %.0f ns: %d of 1800 not covered, median bound %.0f ns\n",
                  sd[i], misses, median);
    assert_true(misses <= 18);
    /* no looser than needed: 100 ns for quiet devices, < 10 sd otherwise */
    assert_true(median <= (sd[i] <= 25.0 ? 102.0 : 10.0 * sd[i]));
  }
}

/* 10 years + 1 ns is exact in integer ns */
static void
test_filter_exact_10y(void **state)
{
  double d[5] = { 1500, 1500, 1500, 1500, 1500 }, a[5] = { .5, .5, .5, .5, .5 };
  int64_t t = BASE_NS, j = 3652LL * 86400 * NS + 1;
  PHCR_Reading r;
  PHCR_Sample s;

  (void)state;
  make_reading(&r, PHCR_MODE_BASIC, 5, d, a, j, 0.0, &t);
  assert_int_equal(PHCR_FilterReading(&r, NULL, &s), PHCR_OK);
  assert_true(s.offset_ns == j);
  make_reading(&r, PHCR_MODE_BASIC, 5, d, a, -j, 0.0, &t);
  assert_int_equal(PHCR_FilterReading(&r, NULL, &s), PHCR_OK);
  assert_true(s.offset_ns == -j);
}

static void
test_filter_args(void **state)
{
  PHCR_Reading r;
  PHCR_Sample s;

  (void)state;
  memset(&r, 0, sizeof (r));
  assert_int_equal(PHCR_FilterReading(&r, NULL, &s), PHCR_ERR_INVALID);
  assert_int_equal(PHCR_FilterReading(NULL, NULL, &s), PHCR_ERR_ARGS);
  assert_int_equal(PHCR_FilterReading(&r, NULL, NULL), PHCR_ERR_ARGS);
}

int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_time_helpers),
    cmocka_unit_test(test_validate_classes),
    cmocka_unit_test(test_validate_syscopy),
    cmocka_unit_test(test_validate_nonmonotonic),
    cmocka_unit_test(test_filter_bound_contains_truth),
    cmocka_unit_test(test_filter_bound_noisy),
    cmocka_unit_test(test_filter_precise_noise),
    cmocka_unit_test(test_filter_noise_mean),
    cmocka_unit_test(test_filter_noise_grows),
    cmocka_unit_test(test_filter_min_delay),
    cmocka_unit_test(test_filter_outlier),
    cmocka_unit_test(test_filter_precise),
    cmocka_unit_test(test_filter_exact_10y),
    cmocka_unit_test(test_filter_args),
  };

  return cmocka_run_group_tests_name("phcr_filter", tests, NULL, NULL);
}
