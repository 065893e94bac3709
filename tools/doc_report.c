/*
  chrony-ptpkvm - ptpkvm-doctor

  SPDX-License-Identifier: GPL-2.0-only
  Copyright (C) 2026 The chrony-ptpkvm authors

  This program is free software; you can redistribute it and/or modify
  it under the terms of version 2 of the GNU General Public License as
  published by the Free Software Foundation.

  =======================================================================

  The doctor's report: collecting check results and writing them as
  human text, as JSON (schema documented in docs/troubleshooting.md),
  and as a Prometheus textfile-collector file that is replaced
  atomically (write to a temporary file in the same directory, fsync,
  rename).
  */

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
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

void
DOC_AddMetric(DOC_Result *result, const char *name, double value)
{
  DOC_Metric *m;

  if (result->n_metrics >= DOC_MAX_METRICS)
    return;
  m = &result->metrics[result->n_metrics++];
  snprintf(m->name, sizeof (m->name), "%s", name);
  m->value = value;
}

/* ================================================== */

void
DOC_NoteUnreadable(DOC_Report *report, const char *path, int err)
{
  int i;

  for (i = 0; i < report->n_unreadable; i++) {
    if (!strncmp(report->unreadable[i], path, strlen(path)))
      return;
  }
  if (report->n_unreadable >= DOC_MAX_UNREADABLE)
    return;
  snprintf(report->unreadable[report->n_unreadable++], sizeof (report->unreadable[0]),
           "%s (%s)", path, strerror(err));
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

int
DOC_ExitCode(const DOC_Report *report)
{
  return (int)DOC_OverallStatus(report);
}

/* ================================================== */

const char *
DOC_StatusName(DOC_Status status)
{
  switch (status) {
    case DOC_OK:
      return "OK";
    case DOC_WARN:
      return "WARN";
    case DOC_FAIL:
      return "FAIL";
    default:
      return "SKIP";
  }
}

/* ================================================== */

const DOC_Result *
DOC_FindResult(const DOC_Report *report, const char *id)
{
  int i;

  for (i = 0; i < report->n_results; i++) {
    if (!strcmp(report->results[i].id, id))
      return &report->results[i];
  }
  return NULL;
}

/* ================================================== */
/* Small buffered writer on a file descriptor */

typedef struct {
  int fd;
  int error;
  size_t used;
  char buf[4096];
} Writer;

static void
flush_writer(Writer *w)
{
  size_t done = 0;
  ssize_t n;

  while (done < w->used) {
    n = write(w->fd, w->buf + done, w->used - done);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      w->error = errno;
      break;
    }
    done += n;
  }
  w->used = 0;
}

static void
wprintf(Writer *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
wprintf(Writer *w, const char *fmt, ...)
{
  char tmp[2 * DOC_TEXT_LEN];
  va_list ap;
  int n;

  va_start(ap, fmt);
  n = vsnprintf(tmp, sizeof (tmp), fmt, ap);
  va_end(ap);
  if (n < 0)
    return;
  if ((size_t)n >= sizeof (tmp))
    n = sizeof (tmp) - 1;
  if (w->used + n > sizeof (w->buf))
    flush_writer(w);
  memcpy(w->buf + w->used, tmp, n);
  w->used += n;
}

/* Text of any length, unformatted */
static void
wraw(Writer *w, const char *s)
{
  size_t n = strlen(s), room;

  while (n > 0) {
    if (w->used == sizeof (w->buf))
      flush_writer(w);
    room = sizeof (w->buf) - w->used;
    if (room > n)
      room = n;
    memcpy(w->buf + w->used, s, room);
    w->used += room;
    s += room;
    n -= room;
  }
}

/* ================================================== */

void
DOC_PrintText(const DOC_Report *report, int fd, int verbose)
{
  const DOC_Result *r;
  Writer w = { .fd = fd };
  int i, j, counts[4] = { 0, 0, 0, 0 };

  for (i = 0; i < report->n_results; i++) {
    r = &report->results[i];
    counts[r->status]++;
    wprintf(&w, "[%-4s] %-20s %s\n", DOC_StatusName(r->status), r->id, r->message);
    if (r->fix[0])
      wprintf(&w, "       %-20s fix: %s\n", "", r->fix);
    for (j = 0; verbose && j < r->n_metrics; j++)
      wprintf(&w, "       %-20s %s = %.9g\n", "", r->metrics[j].name, r->metrics[j].value);
    if (r->details_text)
      wraw(&w, r->details_text);
  }
  for (i = 0; i < report->n_unreadable; i++)
    wprintf(&w, "note: could not read %s\n", report->unreadable[i]);
  wprintf(&w, "summary: %s (%d OK, %d WARN, %d FAIL, %d SKIP)\n",
          DOC_StatusName(DOC_OverallStatus(report)), counts[DOC_OK], counts[DOC_WARN],
          counts[DOC_FAIL], counts[DOC_SKIP]);
  flush_writer(&w);
}

/* ================================================== */

char *
DOC_JsonQuote(char *buf, size_t len, const char *s)
{
  const unsigned char *p;
  size_t used = 0;
  char esc[8];
  int n;

  if (len < 3)
    return len ? (buf[0] = '\0', buf) : buf;
  buf[used++] = '"';
  for (p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\')
      n = snprintf(esc, sizeof (esc), "\\%c", *p);
    else if (*p == '\n')
      n = snprintf(esc, sizeof (esc), "\\n");
    else if (*p == '\t')
      n = snprintf(esc, sizeof (esc), "\\t");
    else if (*p < 0x20 || *p == 0x7f)
      n = snprintf(esc, sizeof (esc), "\\u%04x", *p);
    else
      n = snprintf(esc, sizeof (esc), "%c", *p);
    if (used + n + 2 > len)
      break;
    memcpy(buf + used, esc, n);
    used += n;
  }
  buf[used++] = '"';
  buf[used] = '\0';
  return buf;
}

static void
json_string(Writer *w, const char *s)
{
  char buf[6 * DOC_TEXT_LEN + 3];

  wraw(w, DOC_JsonQuote(buf, sizeof (buf), s));
}

static void
json_number(Writer *w, double v)
{
  if (isfinite(v))
    wprintf(w, "%.9g", v);
  else
    wprintf(w, "null");
}

/* ================================================== */

void
DOC_PrintJson(const DOC_Report *report, const DOC_Context *ctx, int fd)
{
  const DOC_Result *r;
  Writer w = { .fd = fd };
  int i, j;

  wprintf(&w, "{\n  \"tool\": \"ptpkvm-doctor\",\n  \"version\": \"%s\",\n", DOC_VERSION);
  wprintf(&w, "  \"schema\": %d,\n  \"root\": ", DOC_SCHEMA_VERSION);
  json_string(&w, ctx->root[0] ? ctx->root : "/");
  wprintf(&w, ",\n  \"uid\": %ld,\n", (long)ctx->uid);
  wprintf(&w, "  \"status\": \"%s\",\n  \"exit_code\": %d,\n",
          DOC_StatusName(DOC_OverallStatus(report)), DOC_ExitCode(report));
  wprintf(&w, "  \"checks\": [");
  for (i = 0; i < report->n_results; i++) {
    r = &report->results[i];
    wprintf(&w, "%s\n    {\"id\": ", i ? "," : "");
    json_string(&w, r->id);
    wprintf(&w, ", \"status\": \"%s\", \"message\": ", DOC_StatusName(r->status));
    json_string(&w, r->message);
    wprintf(&w, ", \"fix\": ");
    json_string(&w, r->fix);
    wprintf(&w, ", \"metrics\": {");
    for (j = 0; j < r->n_metrics; j++) {
      wprintf(&w, "%s", j ? ", " : "");
      json_string(&w, r->metrics[j].name);
      wprintf(&w, ": ");
      json_number(&w, r->metrics[j].value);
    }
    wprintf(&w, "}");
    if (r->details_json) {
      wprintf(&w, ", \"details\": ");
      wraw(&w, r->details_json);
    }
    wprintf(&w, "}");
  }
  wprintf(&w, "\n  ],\n  \"unreadable\": [");
  for (i = 0; i < report->n_unreadable; i++) {
    wprintf(&w, "%s", i ? ", " : "");
    json_string(&w, report->unreadable[i]);
  }
  wprintf(&w, "]\n}\n");
  flush_writer(&w);
}

/* ================================================== */

static void
prom_label(Writer *w, const char *s)
{
  for (; *s; s++) {
    if (*s == '"' || *s == '\\')
      wprintf(w, "\\%c", *s);
    else if (*s == '\n')
      wprintf(w, "\\n");
    else
      wprintf(w, "%c", *s);
  }
}

static void
write_prometheus(const DOC_Report *report, Writer *w)
{
  const DOC_Result *r;
  int i, j;

  wprintf(w, "# HELP ptpkvm_doctor_status Overall result: 0 OK, 1 WARN, 2 FAIL.\n");
  wprintf(w, "# TYPE ptpkvm_doctor_status gauge\n");
  wprintf(w, "ptpkvm_doctor_status %d\n", DOC_ExitCode(report));
  wprintf(w, "# HELP ptpkvm_doctor_check_status Result per check: 0 OK, 1 WARN, 2 FAIL, 3 SKIP.\n");
  wprintf(w, "# TYPE ptpkvm_doctor_check_status gauge\n");
  for (i = 0; i < report->n_results; i++) {
    wprintf(w, "ptpkvm_doctor_check_status{check=\"");
    prom_label(w, report->results[i].id);
    wprintf(w, "\"} %d\n", (int)report->results[i].status);
  }
  for (i = 0; i < report->n_results; i++) {
    r = &report->results[i];
    for (j = 0; j < r->n_metrics; j++) {
      if (!isfinite(r->metrics[j].value))
        continue;
      wprintf(w, "# TYPE ptpkvm_doctor_%s gauge\n", r->metrics[j].name);
      wprintf(w, "ptpkvm_doctor_%s %.9g\n", r->metrics[j].name, r->metrics[j].value);
    }
    if (r->prometheus)
      wraw(w, r->prometheus);
  }
  wprintf(w, "# HELP ptpkvm_doctor_unreadable_paths Paths the doctor could not read.\n");
  wprintf(w, "# TYPE ptpkvm_doctor_unreadable_paths gauge\n");
  wprintf(w, "ptpkvm_doctor_unreadable_paths %d\n", report->n_unreadable);
}

/* ================================================== */

int
DOC_WritePrometheus(const DOC_Report *report, const char *path)
{
  char tmp[4096];
  Writer w;
  int fd, err;

  if (snprintf(tmp, sizeof (tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof (tmp))
    return -ENAMETOOLONG;

  fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return -errno;

  memset(&w, 0, sizeof (w));
  w.fd = fd;
  write_prometheus(report, &w);
  flush_writer(&w);
  err = w.error;
  if (!err && fsync(fd) < 0)
    err = errno;
  if (close(fd) < 0 && !err)
    err = errno;
  if (!err && rename(tmp, path) < 0)
    err = errno;
  if (err) {
    unlink(tmp);
    return -err;
  }
  return 0;
}
