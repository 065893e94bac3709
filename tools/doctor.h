/*
  chrony-ptpkvm - ptpkvm-doctor

  SPDX-License-Identifier: GPL-2.0-only
  Copyright (C) 2026 The chrony-ptpkvm authors

  This program is free software; you can redistribute it and/or modify
  it under the terms of version 2 of the GNU General Public License as
  published by the Free Software Foundation.

  =======================================================================

  Shared declarations of ptpkvm-doctor: the check context (the running
  system, or with --root the files of an inspected tree), the report that
  collects one OK/WARN/FAIL/SKIP result per check with a one-line fix,
  and the entry points of the check modules.
  */

#ifndef DOCTOR_H
#define DOCTOR_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "phcr.h"

#define DOC_SCHEMA_VERSION 2

/* Results, ordered by severity except SKIP (check could not run) */
typedef enum {
  DOC_OK = 0,
  DOC_WARN = 1,
  DOC_FAIL = 2,
  DOC_SKIP = 3
} DOC_Status;

#define DOC_MAX_RESULTS 24
#define DOC_TEXT_LEN 640

typedef struct {
  char id[32];                  /* stable identifier, e.g. "kvm.guest" */
  DOC_Status status;
  char message[DOC_TEXT_LEN];   /* what was found */
  char fix[DOC_TEXT_LEN];       /* one line; empty when status is OK or SKIP */
  /* Optional, owned by the check: its JSON details (an object), lines
     appended to the Prometheus file */
  const char *details_json;
  const char *prometheus;
} DOC_Result;

typedef struct {
  const char *root;             /* "" = the running system, else an inspected tree */
  const char *config;           /* chrony.conf to check, NULL = Debian's, else RHEL's */
  const char *chronyc;          /* command asked for tracking, NULL = none */
  const char *chronyd;          /* binary asked about the configuration */
  int samples;                  /* PHC readings for statistics */
  int n_results;
  DOC_Result results[DOC_MAX_RESULTS];

  /* Found by a check for the later ones (main runs them in order) */
  int not_kvm;                  /* CPUID says this is no KVM guest */
  char kvm_phc[PHCR_PATH_MAX];  /* "/dev/ptpN" of the KVM PHC, "" if none */
  int has_refclock;             /* a PTPKVM or PHC refclock line */
  char refclock_name[PHCR_NAME_MAX]; /* clock_name of a refclock's PHC that is not
                                        the wanted one, "" if none */
} DOC_Context;

/* With --root: the checks of the running system's devices and kernel */
#define DOC_ROOT_SKIP "skipped: --root (devices are checked on the running system)"

/* The one command that brings back (or updates) chrony-ptpkvm's chrony */
#define DOC_REBUILD "run `make deb` in the chrony-ptpkvm source tree and install the two " \
  "packages it builds (chrony, chrony-ptpkvm)"

/* ---- report (doctor.c) ---- */
extern DOC_Result *DOC_AddResult(DOC_Context *ctx, const char *id, DOC_Status status,
                                 const char *fix, const char *fmt, ...)
  __attribute__((format(printf, 5, 6)));
extern void DOC_JsonString(FILE *f, const char *s);

/* ---- files of the inspected system, helper programs (doctor.c) ---- */
extern void DOC_Path(const DOC_Context *ctx, const char *path, char *buf, size_t len);
/* Read a whole file (NUL-terminated, truncated to len - 1); returns bytes or -errno */
extern ssize_t DOC_ReadFile(const DOC_Context *ctx, const char *path, char *buf, size_t len);
/* First line, trimmed; returns 0 or -errno */
extern int DOC_ReadLine(const DOC_Context *ctx, const char *path, char *buf, size_t len);
extern int DOC_Exists(const DOC_Context *ctx, const char *path);
extern char *DOC_Trim(char *s);
/* Where a page of our documentation is installed (one buffer, reused) */
extern const char *DOC_DocPath(const DOC_Context *ctx, const char *page);
/* Run argv (no shell) for at most 8 s; output and errors go to out
   (NUL-terminated).  Returns the number of bytes and sets *status to the
   exit status; -ENOENT if the program could not be run, -ETIMEDOUT if it
   was killed at the limit, other -errno on failure. */
extern int DOC_RunCommand(char *const argv[], char *out, size_t len, int *status);

/* ---- checks, in the order main runs them ---- */
extern void DOC_CheckKvm(DOC_Context *ctx);           /* chk_system.c */
extern void DOC_CheckPhc(DOC_Context *ctx);
extern void DOC_CheckModule(DOC_Context *ctx);
extern void DOC_CheckChronyConfig(DOC_Context *ctx);  /* chk_chrony.c */
extern void DOC_CheckUpdate(DOC_Context *ctx);
extern void DOC_CheckPhcRead(DOC_Context *ctx);       /* chk_system.c */
extern void DOC_CheckClocksource(DOC_Context *ctx);
extern void DOC_CheckSync(DOC_Context *ctx);          /* chk_chrony.c */
extern void DOC_CheckStatus(DOC_Context *ctx);        /* chk_status.c */

#endif
