/*
  chrony-ptpkvm - ptpkvm-doctor

  SPDX-License-Identifier: GPL-2.0-only
  Copyright (C) 2026 The chrony-ptpkvm authors

  This program is free software; you can redistribute it and/or modify
  it under the terms of version 2 of the GNU General Public License as
  published by the Free Software Foundation.

  =======================================================================

  Shared declarations of ptpkvm-doctor: the check context (root
  directory of the inspected system, options), the report that collects
  one OK/WARN/FAIL/SKIP result per check with a one-line fix, and the
  entry points of the individual check modules.
  */

#ifndef DOCTOR_H
#define DOCTOR_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "phcr.h"

#define DOC_VERSION "0.1"
#define DOC_SCHEMA_VERSION 1

/* Results, ordered by severity except SKIP (check could not run) */
typedef enum {
  DOC_OK = 0,
  DOC_WARN = 1,
  DOC_FAIL = 2,
  DOC_SKIP = 3
} DOC_Status;

#define DOC_MAX_RESULTS 48
#define DOC_MAX_METRICS 12
#define DOC_MAX_UNREADABLE 32
#define DOC_TEXT_LEN 640

typedef struct {
  char name[64];                /* Prometheus-safe suffix, e.g. phc_delay_min_seconds */
  double value;
} DOC_Metric;

typedef struct {
  char id[40];                  /* stable identifier, e.g. "kvm.guest" */
  DOC_Status status;
  char message[DOC_TEXT_LEN];   /* what was found */
  char fix[DOC_TEXT_LEN];       /* one line; empty when status is OK */
  int n_metrics;
  DOC_Metric metrics[DOC_MAX_METRICS];
  /* Optional, owned by the check (static, valid until it runs again):
     lines printed under the result, its JSON details, lines appended to
     the Prometheus file (own metric names) */
  const char *details_text;
  const char *details_json;     /* a JSON object, the result's "details" */
  const char *prometheus;
} DOC_Result;

typedef struct {
  int n_results;
  DOC_Result results[DOC_MAX_RESULTS];
  int n_unreadable;
  char unreadable[DOC_MAX_UNREADABLE][160];
} DOC_Report;

typedef struct {
  const char *root;             /* "" means the running system ("/") */
  int fixture;                  /* root is not "/" */
  const char *config;           /* chrony.conf to read, NULL = Debian's, else RHEL's */
  const char *chronyc;          /* command used for tracking, NULL = none */
  const char *chronyd;          /* binary asked about the configuration (a path
                                   of the inspected system) */
  int samples;                  /* PHC readings for statistics */
  double timeout;               /* limit for helper programs (chronyc, journalctl), s */
  int clock_check;              /* run PHC ioctl and statistics checks */
  uid_t uid;
  DOC_Report *report;

  /* Found by a check for the later ones (run_checks runs them in order) */
  int n_phcs;                   /* DOC_ScanPhcs: the PHCs of /sys/class/ptp */
  PHCR_DeviceInfo phcs[PHCR_MAX_DEVICES];
  char kvm_phc[PHCR_PATH_MAX];  /* "/dev/ptpN" of the KVM PHC, "" if none */
  int chrony_refclock;          /* DOC_CheckChronyConfig: 0 none, 1 stock PHC on the
                                   KVM PHC, 2 PTPKVM */
  char refclock_dev[PHCR_PATH_MAX]; /* device of that refclock, "" if unknown */
  char refclock_name[PHCR_NAME_MAX]; /* clock_name of a refclock's PHC that is not
                                        the wanted one, "" if none */
  int not_kvm;                  /* DOC_CheckKvm: CPUID says this is no KVM guest */
  char chrony_user[32];         /* 'user' directive of chrony.conf, "" if none */
} DOC_Context;

/* ---- report (doc_report.c) ---- */
extern DOC_Result *DOC_AddResult(DOC_Report *report, const char *id, DOC_Status status,
                                 const char *fix, const char *fmt, ...)
  __attribute__((format(printf, 5, 6)));
extern void DOC_AddMetric(DOC_Result *result, const char *name, double value);
extern void DOC_NoteUnreadable(DOC_Report *report, const char *path, int err);
extern DOC_Status DOC_OverallStatus(const DOC_Report *report);
extern const char *DOC_StatusName(DOC_Status status);
extern const DOC_Result *DOC_FindResult(const DOC_Report *report, const char *id);
extern void DOC_PrintText(const DOC_Report *report, FILE *f, int verbose);
extern void DOC_JsonString(FILE *f, const char *s);
extern void DOC_PrintJson(const DOC_Report *report, const DOC_Context *ctx, FILE *f);
/* Replace path atomically; returns 0 or -errno */
extern int DOC_WritePrometheus(const DOC_Report *report, const char *path);

/* ---- access to the inspected tree (doc_root.c) ---- */
extern void DOC_Path(const DOC_Context *ctx, const char *path, char *buf, size_t len);
/* Read a whole file (NUL-terminated, truncated to len - 1); returns bytes or -errno.
   Permission errors are noted in the report's unreadable list. */
extern ssize_t DOC_ReadFile(const DOC_Context *ctx, const char *path, char *buf, size_t len);
/* First line without the newline; returns 0 or -errno */
extern int DOC_ReadLine(const DOC_Context *ctx, const char *path, char *buf, size_t len);
extern int DOC_Exists(const DOC_Context *ctx, const char *path);
/* Resolve a symlink inside the tree (one level, relative or absolute target); returns
   the target as a path of the inspected system, or -errno */
extern int DOC_ResolveLink(const DOC_Context *ctx, const char *path, char *buf, size_t len);
/* Call cb for each entry but . and .. (it returns non-zero to stop); 0 or -errno */
typedef int (*DOC_ListDirCallback)(const char *name, void *arg);
extern int DOC_ListDir(const DOC_Context *ctx, const char *path, DOC_ListDirCallback cb,
                       void *arg);
/* Is word (whitespace-delimited) in text? */
extern int DOC_HasWord(const char *text, const char *word);
extern char *DOC_Trim(char *s);

/* Where a page of our documentation is: installed, else the source tree's */
extern const char *DOC_DocPath(const DOC_Context *ctx, const char *page);

/* The one command that brings back (or updates) chrony-ptpkvm's chrony */
#define DOC_REBUILD "run `make deb` in the chrony-ptpkvm source tree and install the two " \
  "packages it builds (chrony, chrony-ptpkvm)"

/* ---- checks ---- */
extern void DOC_CheckKvm(DOC_Context *ctx);
extern void DOC_CheckModule(DOC_Context *ctx);
extern void DOC_ScanPhcs(DOC_Context *ctx);
extern void DOC_CheckPhcDevices(DOC_Context *ctx);
extern void DOC_CheckPhcAccess(DOC_Context *ctx);
extern void DOC_CheckPhcClock(DOC_Context *ctx);
extern void DOC_CheckClocksource(DOC_Context *ctx);
extern void DOC_CheckChronyConfig(DOC_Context *ctx);
extern void DOC_CheckUpdate(DOC_Context *ctx);
extern void DOC_CheckServices(DOC_Context *ctx);
extern void DOC_CheckSync(DOC_Context *ctx);
extern void DOC_CheckStatus(DOC_Context *ctx);


/* ---- helper programs (doc_exec.c) ---- */
/* Run argv (no shell) with a time limit; its output and errors go to out
   (NUL-terminated).  Returns the number of bytes and sets *status to the
   exit status; -ENOENT if the program could not be run, -ETIMEDOUT if it
   was killed after timeout seconds, other -errno on failure. */
extern int DOC_RunCommand(char *const argv[], char *out, size_t len, double timeout,
                          int *status);

/* ---- driver (doctor.c) ---- */
/* Full command line. Returns the exit code. */
extern int DOC_Main(int argc, char **argv);
/* Report of the last DOC_Main() run (for tests) */
extern const DOC_Report *DOC_LastReport(void);

#endif
