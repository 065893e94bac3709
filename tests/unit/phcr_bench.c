/*
  chrony-ptpkvm: phc_reader benchmark
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

  Micro-benchmark of phc_reader (make bench-reader): nanoseconds per
  validate + filter + jump-detect pass over one reading of 25 triplets (the
  driver's jump detector of refclock_ptpkvm_decide.c, included),
  per stage, and per full PHCR_Read on the fake device; with --only, one
  stage alone so that callgrind can count instructions per pass.  Prints a
  table; asserts nothing (timing is never a test).  Reads CLOCK_MONOTONIC
  only.
  */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fake_phc.h"
#include "phcr_internal.h"
#include "refclock_ptpkvm_decide.c"
#include "refclock_ptpkvm_opts.c"

#define N_READINGS 256
#define RUNS 7

static PHCR_Reading readings[N_READINGS];

static double
now_ns(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int
cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;

  return x < y ? -1 : x > y;
}

/* 25-triplet readings with 1.5 us delays, jitter and 1 % spikes */
static void
make_readings(void)
{
  int64_t t = 1700000000LL * 1000000000LL, d, a;
  FAKE_Rng rng;
  int i, k;

  FAKE_RngSeed(&rng, 1);
  for (k = 0; k < N_READINGS; k++) {
    readings[k].mode = PHCR_MODE_BASIC;
    readings[k].n = PHCR_MAX_SAMPLES;
    for (i = 0; i < PHCR_MAX_SAMPLES; i++) {
      d = 1500 + (int64_t)(FAKE_RngUniform(&rng) * 300);
      if (FAKE_RngUniform(&rng) < 0.01)
        d += 50000 + (int64_t)(FAKE_RngUniform(&rng) * 450000);
      a = (int64_t)(FAKE_RngUniform(&rng) * d);
      PHCR_NsToTimespec(t, &readings[k].t[i].sys_before);
      PHCR_NsToTimespec(t + a + 12345, &readings[k].t[i].phc);
      PHCR_NsToTimespec(t + d, &readings[k].t[i].sys_after);
      t += d + 100;
    }
    t += 1000000000;
  }
}

/* stage: 0 = validate, 1 = validate + filter, 2 = + detect */
static double
run(int stage, long iters)
{
  PKP_Options opts;
  PKD_State det;
  PKD_Point in;
  int64_t jump_ns;
  PHCR_Reading r;
  PHCR_Sample s;
  double start, sink = 0.0;
  long i;

  memset(&s, 0, sizeof (s));
  default_options(&opts);
  PKD_Init(&det, &opts, 0.0);
  start = now_ns();
  for (i = 0; i < iters; i++) {
    r = readings[i % N_READINGS];
    PHCR_ValidateReading(&r);
    if (stage >= 1)
      PHCR_FilterReading(&r, NULL, &s);
    if (stage >= 2) {
      in.time = (double)i;
      in.offset_ns = s.offset_ns;
      in.error = s.error;
      detect(&det, &in, &jump_ns);
    }
    sink += s.error;
  }
  start = (now_ns() - start) / iters;
  if (sink < 0.0)
    printf("impossible\n");
  return start;
}

static double
run_reader(long iters)
{
  FAKE_Phc *f = FAKE_Create(3);
  PHCR_Reader reader;
  PHCR_Config cfg;
  PHCR_Result res;
  double start;
  long i;

  FAKE_AddSysfsPtp(f, 0, "KVM virtual PTP");
  FAKE_AddDevice(f, "/dev/ptp0");
  PHCR_ConfigDefaults(&cfg);
  cfg.flags = PHCR_FLAG_NOCROSSTS | PHCR_FLAG_NOEXTENDED;
  if (PHCR_Open("auto", NULL, &cfg, &reader, NULL) != PHCR_OK) {
    FAKE_Destroy(f);
    return -1.0;
  }
  start = now_ns();
  for (i = 0; i < iters; i++)
    PHCR_Read(reader, PHCR_MAX_SAMPLES, (double)i, &res);
  start = (now_ns() - start) / iters;
  PHCR_Close(reader);
  FAKE_Destroy(f);
  return start;
}

int
main(int argc, char **argv)
{
  static const char *const names[] = {
    "validate (25 triplets)",
    "validate + filter",
    "validate + filter + jump detect",
    "PHCR_Read on the fake device (25 samples, basic)"
  };
  double t[4][RUNS], med, min;
  long iters = argc > 1 && argv[1][0] != '-' ? atol(argv[1]) : 1000000;
  int s, k;

  make_readings();

  /* --only STAGE N: run one stage N times, print nothing (for callgrind:
     instructions per pass = difference between two N, load-independent) */
  if (argc > 3 && strcmp(argv[1], "--only") == 0) {
    s = atoi(argv[2]);
    iters = atol(argv[3]);
    if (iters > 0)
      run(s, iters);
    return 0;
  }

  for (k = 0; k < RUNS; k++) {
    t[0][k] = run(0, iters);
    t[1][k] = run(1, iters);
    t[2][k] = run(2, iters);
    t[3][k] = run_reader(iters / 10);
  }

  printf("phc_reader micro-benchmark: %ld passes x %d runs, ns per pass\n",
         iters, RUNS);
  printf("%-52s %10s %10s\n", "stage", "min", "median");
  for (s = 0; s < 4; s++) {
    qsort(t[s], RUNS, sizeof (double), cmp_double);
    min = t[s][0];
    med = t[s][RUNS / 2];
    printf("%-52s %10.1f %10.1f\n", names[s], min, med);
  }
  printf("target: filter + detect pass over 25 readings < 2000 ns (median %.1f ns)\n",
         t[2][RUNS / 2]);
  return 0;
}
