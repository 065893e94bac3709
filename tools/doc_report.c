/*
  chrony-ptpkvm - ptpkvm-doctor

  SPDX-License-Identifier: GPL-2.0-only
  Copyright (C) 2026 The chrony-ptpkvm authors

  This program is free software; you can redistribute it and/or modify
  it under the terms of version 2 of the GNU General Public License as
  published by the Free Software Foundation.

  =======================================================================

  The doctor's report: collecting check results and writing them as
  human text, as JSON (schema in docs/troubleshooting.md, the details of
  ptpkvm.status in docs/monitoring.md), and as a Prometheus
  textfile-collector file replaced atomically (temporary file in the same
  directory, fsync, rename).  Check ids and metric names are plain identifiers: they need
  no escaping.
  */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "doctor.h"

/* ================================================== */

DOC_Result *
DOC_AddResult(DOC_Report *report, const char *id, DOC_Status status, const char *fix,
              const char *fmt, ...)
{
  DOC_Result *r;
  va_list ap;

  if (report->n_results >= DOC_MAX_RESULTS)
    return &report->results[DOC_MAX_RESULTS - 1];

  r = &report->results[report->n_results++];
  memset(r, 0, sizeof (*r));
  snprintf(r->id, sizeof (r->id), "%s", id);
  r->status = status;
  snprintf(r->fix, sizeof (r->fix), "%s", fix && status != DOC_OK ? fix : "");
  va_start(ap, fmt);
  vsnprintf(r->message, sizeof (r->message), fmt, ap);
  va_end(ap);
  return r;
}

/* ================================================== */

DOC_Status
DOC_OverallStatus(const DOC_Report *report)
{
  DOC_Status worst = DOC_OK;
  int i;

  for (i = 0; i < report->n_results; i++) {
    if (report->results[i].status == DOC_SKIP)
      continue;
    if (report->results[i].status > worst)
      worst = report->results[i].status;
  }
  return worst;
}

/* ================================================== */

static const char *
status_name(DOC_Status status)
{
  static const char *names[] = { "OK", "WARN", "FAIL", "SKIP" };

  return names[status];
}

/* ================================================== */

void
DOC_PrintText(const DOC_Report *report, FILE *f)
{
  const DOC_Result *r;
  int i, counts[4] = { 0, 0, 0, 0 };

  for (i = 0; i < report->n_results; i++) {
    r = &report->results[i];
    counts[r->status]++;
    fprintf(f, "[%-4s] %-20s %s\n", status_name(r->status), r->id, r->message);
    if (r->fix[0])
      fprintf(f, "       %-20s fix: %s\n", "", r->fix);
  }
  fprintf(f, "summary: %s (%d OK, %d WARN, %d FAIL, %d SKIP)\n",
          status_name(DOC_OverallStatus(report)), counts[DOC_OK], counts[DOC_WARN],
          counts[DOC_FAIL], counts[DOC_SKIP]);
}

/* ================================================== */

void
DOC_JsonString(FILE *f, const char *s)
{
  const unsigned char *p;

  fputc('"', f);
  for (p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\')
      fprintf(f, "\\%c", *p);
    else if (*p < 0x20 || *p == 0x7f)
      fprintf(f, "\\u%04x", *p);
    else
      fputc(*p, f);
  }
  fputc('"', f);
}

void
DOC_PrintJson(const DOC_Report *report, const char *root, FILE *f)
{
  const DOC_Result *r;
  int i;

  fprintf(f, "{\n  \"tool\": \"ptpkvm-doctor\",\n  \"version\": \"%s\",\n", DOC_VERSION);
  fprintf(f, "  \"schema\": %d,\n  \"root\": ", DOC_SCHEMA_VERSION);
  DOC_JsonString(f, root[0] ? root : "/");
  fprintf(f, ",\n  \"uid\": %ld,\n  \"status\": \"%s\",\n  \"exit_code\": %d,\n  \"checks\": [",
          (long)getuid(), status_name(DOC_OverallStatus(report)),
          (int)DOC_OverallStatus(report));
  for (i = 0; i < report->n_results; i++) {
    r = &report->results[i];
    fprintf(f, "%s\n    {\"id\": \"%s\", \"status\": \"%s\", \"message\": ", i ? "," : "",
            r->id, status_name(r->status));
    DOC_JsonString(f, r->message);
    fprintf(f, ", \"fix\": ");
    DOC_JsonString(f, r->fix);
    fprintf(f, "%s%s}", r->details_json ? ", \"details\": " : "",
            r->details_json ? r->details_json : "");
  }
  fprintf(f, "\n  ]\n}\n");
}

/* ================================================== */

static void
write_prometheus(const DOC_Report *report, FILE *f)
{
  int i;

  fprintf(f, "# HELP ptpkvm_doctor_status Overall result: 0 OK, 1 WARN, 2 FAIL.\n"
          "# TYPE ptpkvm_doctor_status gauge\nptpkvm_doctor_status %d\n"
          "# HELP ptpkvm_doctor_check_status Result per check: 0 OK, 1 WARN, 2 FAIL, 3 SKIP.\n"
          "# TYPE ptpkvm_doctor_check_status gauge\n", (int)DOC_OverallStatus(report));
  for (i = 0; i < report->n_results; i++)
    fprintf(f, "ptpkvm_doctor_check_status{check=\"%s\"} %d\n", report->results[i].id,
            (int)report->results[i].status);
  for (i = 0; i < report->n_results; i++)
    fputs(report->results[i].prometheus ? report->results[i].prometheus : "", f);
}

/* ================================================== */

int
DOC_WritePrometheus(const DOC_Report *report, const char *path)
{
  char tmp[4096];
  FILE *f;
  int err = 0;

  if (snprintf(tmp, sizeof (tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof (tmp))
    return -ENAMETOOLONG;
  f = fopen(tmp, "we");
  if (!f)
    return -errno;
  write_prometheus(report, f);
  if (fflush(f) || ferror(f) || fsync(fileno(f)) < 0)
    err = errno ? errno : EIO;
  if (fclose(f) && !err)
    err = errno;
  if (!err && rename(tmp, path) < 0)
    err = errno;
  if (err)
    unlink(tmp);
  return -err;
}
