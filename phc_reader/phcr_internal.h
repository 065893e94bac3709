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

  Internal helpers shared by the phc_reader modules (not installed): path
  building with the root-dir prefix, bounded string appends, order
  statistics, and the ioctl-level operations of the reader.
  */

#ifndef PHCR_INTERNAL_H
#define PHCR_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "phcr.h"

/* ops of an env, never NULL */
extern const PHCR_Ops *PHCR_EnvOps(const PHCR_Env *env);

/* <root><path> into buf; returns 0, or -1 if it does not fit */
extern int PHCR_JoinPath(const char *root, const char *path, char *buf,
                         size_t len);

/* Append formatted text to buf (NUL-terminated, truncated at len) */
extern void PHCR_Append(char *buf, size_t len, const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));

/* Copy a string, truncating */
extern void PHCR_CopyString(char *dst, size_t len, const char *src);

/* k-th smallest (0-based) of v[0..n-1], n >= 1, 0 <= k < n; reorders v */
extern int64_t PHCR_SelectKthI64(int64_t *v, int n, int k);
extern double PHCR_SelectKthDouble(double *v, int n, int k);
/* Median of v[0..n-1], n >= 1 (mean of the two middle values for even n);
   reorders v */
extern double PHCR_MedianDouble(double *v, int n);

#endif
