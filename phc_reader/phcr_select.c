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

  Order statistics for the filter (exact integer nanoseconds) and the jump
  detector (seconds): the k-th smallest element by Hoare's selection, O(n)
  on average, in place and without allocation.  One definition serves
  both element types; the median of doubles (the mean of the two middle
  values for an even count) is built on it.
  */

#include <stdint.h>

#include "phcr_internal.h"

#define DEFINE_SELECT_KTH(name, type)                                   \
  type                                                                  \
  name(type *v, int n, int k)                                           \
  {                                                                     \
    int lo = 0, hi = n - 1, i, j;                                       \
    type pivot, tmp;                                                    \
                                                                        \
    while (lo < hi) {                                                   \
      pivot = v[lo + (hi - lo) / 2];                                    \
      i = lo;                                                           \
      j = hi;                                                           \
      while (i <= j) {                                                  \
        while (v[i] < pivot)                                            \
          i++;                                                          \
        while (v[j] > pivot)                                            \
          j--;                                                          \
        if (i <= j) {                                                   \
          tmp = v[i];                                                   \
          v[i] = v[j];                                                  \
          v[j] = tmp;                                                   \
          i++;                                                          \
          j--;                                                          \
        }                                                               \
      }                                                                 \
      if (k <= j)                                                       \
        hi = j;                                                         \
      else if (k >= i)                                                  \
        lo = i;                                                         \
      else                                                              \
        break;                                                          \
    }                                                                   \
    return v[k];                                                        \
  }

DEFINE_SELECT_KTH(PHCR_SelectKthI64, int64_t)
DEFINE_SELECT_KTH(PHCR_SelectKthDouble, double)

/* ================================================== */

double
PHCR_MedianDouble(double *v, int n)
{
  double hi = PHCR_SelectKthDouble(v, n, n / 2), lo;
  int i;

  if (n % 2)
    return hi;
  /* The lower middle is the largest element left of n / 2 */
  for (i = 1, lo = v[0]; i < n / 2; i++)
    if (v[i] > lo)
      lo = v[i];
  return 0.5 * (lo + hi);
}
