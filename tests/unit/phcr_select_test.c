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

  Tests of the order statistics shared by the filter and the jump
  detector: for every k of random arrays (with and without duplicates,
  sorted, reversed, constant), the selected element equals the k-th of
  the sorted array, and the array is partitioned around it.
  */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "phcr_internal.h"

#define MAXN 40

static unsigned int rng = 12345;

static unsigned int
next_rand(void)
{
  rng = rng * 1103515245u + 12345u;
  return rng >> 8;
}

static int
cmp_i64(const void *a, const void *b)
{
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

  return (x > y) - (x < y);
}

static int
cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;

  return (x > y) - (x < y);
}

/* Fill v with n values of one of several shapes */
static void
fill(int64_t *v, int n, int shape)
{
  int i;

  for (i = 0; i < n; i++) {
    switch (shape) {
      case 0: v[i] = (int64_t)next_rand() * 1000003 - (INT64_C(1) << 40); break;
      case 1: v[i] = next_rand() % 4; break;          /* many duplicates */
      case 2: v[i] = i; break;                         /* sorted */
      case 3: v[i] = n - i; break;                     /* reversed */
      default: v[i] = 7; break;                        /* constant */
    }
  }
}

static void
check_one(int n, int k, int shape)
{
  int64_t v[MAXN], sorted[MAXN], got_i;
  double d[MAXN], dsorted[MAXN], got_d;
  int i;

  fill(v, n, shape);
  for (i = 0; i < n; i++)
    d[i] = (double)v[i] * 1e-9;
  memcpy(sorted, v, sizeof (v[0]) * n);
  memcpy(dsorted, d, sizeof (d[0]) * n);
  qsort(sorted, n, sizeof (sorted[0]), cmp_i64);
  qsort(dsorted, n, sizeof (dsorted[0]), cmp_double);

  got_i = PHCR_SelectKthI64(v, n, k);
  assert_true(got_i == sorted[k]);
  assert_true(v[k] == sorted[k]);
  for (i = 0; i < k; i++)
    assert_true(v[i] <= v[k]);
  for (i = k + 1; i < n; i++)
    assert_true(v[i] >= v[k]);

  got_d = PHCR_SelectKthDouble(d, n, k);
  assert_true(got_d == dsorted[k]);
  for (i = 0; i < k; i++)
    assert_true(d[i] <= d[k]);
  for (i = k + 1; i < n; i++)
    assert_true(d[i] >= d[k]);
}

static void
test_select_all_k(void **state)
{
  int n, k, shape, rep;

  (void)state;
  for (shape = 0; shape < 5; shape++)
    for (n = 1; n <= MAXN; n++)
      for (k = 0; k < n; k++)
        for (rep = 0; rep < 3; rep++)
          check_one(n, k, shape);
}

/* The median is the middle element, or the mean of the two middle ones */
static void
test_median(void **state)
{
  int64_t v[MAXN];
  double d[MAXN], sorted[MAXN], want;
  int n, shape, i;

  (void)state;
  for (shape = 0; shape < 5; shape++) {
    for (n = 1; n <= MAXN; n++) {
      fill(v, n, shape);
      for (i = 0; i < n; i++)
        d[i] = sorted[i] = (double)v[i] * 1e-9;
      qsort(sorted, n, sizeof (sorted[0]), cmp_double);
      want = n % 2 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
      assert_true(PHCR_MedianDouble(d, n) == want);
    }
  }
}

int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_select_all_k),
    cmocka_unit_test(test_median),
  };

  return cmocka_run_group_tests_name("phcr_select", tests, NULL, NULL);
}
