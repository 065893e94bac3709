/*
  chrony-ptpkvm - ptpkvm-doctor

  SPDX-License-Identifier: GPL-2.0-only
  Copyright (C) 2026 The chrony-ptpkvm authors

  This program is free software; you can redistribute it and/or modify
  it under the terms of version 2 of the GNU General Public License as
  published by the Free Software Foundation.

  =======================================================================

  Check "ptpkvm.status": the state files the PTPKVM driver keeps in
  chronyd's run directory (ptpkvm-N.status, parsed with the driver's own
  PKS_Parse).  Shows each file's device, reading mode, counters and last
  disruptions as the result's JSON details and as Prometheus metrics with
  their own names (ptpkvm_reads_total, ...; both schemas in
  docs/monitoring.md).  WARN when reads are failing, when the clock was
  stepped in the last hour, when a file cannot be parsed, or when the
  chronyd that wrote "running" is gone.
  */

#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "doctor.h"
#include "phcr.h"
#include "refclock_ptpkvm.h"

#define RUN_DIR "/run/chrony"
#define MAX_FILES 8
#define RECENT 3600.0           /* a step this recent is a warning (s) */

typedef struct {
  char name[64];                /* ptpkvm-N.status */
  char index[16];               /* N */
  char error[320];              /* parse or read error, "" if none */
  PKS_Status st;
  int stale;                    /* "running", but that chronyd is gone */
  double updated;               /* mtime */
} StatusFile;

static StatusFile files[MAX_FILES];
static int n_files;
/* the result's JSON details and Prometheus lines */
static char *json_buf, *prom_buf;

/* ================================================== */

static double
ts_seconds(const struct timespec *ts)
{
  return ts->tv_sec + 1.0e-9 * ts->tv_nsec;
}

/* ================================================== */

static int dir_errno;          /* why RUN_DIR could not be read, 0 if it could */

static int
dir_error(const char *path, int err)
{
  (void)path;
  dir_errno = err;
  return 0;
}

/* The files ptpkvm-N.status (glob's order) */
static void
collect(DOC_Context *ctx)
{
  size_t pl = strlen(PKS_FILE_PREFIX), sl = strlen(PKS_FILE_SUFFIX), i;
  char pattern[4200], *name;
  StatusFile *f;
  glob_t g;

  snprintf(pattern, sizeof (pattern), "%s" RUN_DIR "/" PKS_FILE_PREFIX "*" PKS_FILE_SUFFIX,
           ctx->root);
  dir_errno = 0;
  if (glob(pattern, 0, dir_error, &g))
    return;
  for (i = 0; i < g.gl_pathc && n_files < MAX_FILES; i++) {
    name = strrchr(g.gl_pathv[i], '/') + 1;
    f = &files[n_files++];
    memset(f, 0, sizeof (*f));
    snprintf(f->name, sizeof (f->name), "%s", name);
    snprintf(f->index, sizeof (f->index), "%.*s", (int)(strlen(name) - pl - sl), name + pl);
  }
  globfree(&g);
}

/* ================================================== */

static void
load_file(DOC_Context *ctx, StatusFile *f)
{
  static char text[PKS_FILE_MAX + 1];
  char path[128], full[4096], err[256], comm[64];
  struct stat sb;
  ssize_t n;

  snprintf(path, sizeof (path), RUN_DIR "/%s", f->name);
  n = DOC_ReadFile(ctx, path, text, sizeof (text));
  if (n < 0) {
    snprintf(f->error, sizeof (f->error), "%s: %s", path, strerror(-n));
    return;
  }
  if (!PKS_Parse(text, &f->st, err, sizeof (err))) {
    snprintf(f->error, sizeof (f->error), "%s: %s", path, err);
    return;
  }
  DOC_Path(ctx, path, full, sizeof (full));
  f->updated = stat(full, &sb) == 0 ? sb.st_mtim.tv_sec + 1e-9 * sb.st_mtim.tv_nsec : 0.0;
  /* "running", but is the chronyd that wrote it still there? */
  snprintf(path, sizeof (path), "/proc/%ld/comm", f->st.pid);
  f->stale = f->st.running && (DOC_ReadLine(ctx, path, comm, sizeof (comm)) < 0 ||
                               strcmp(comm, "chronyd"));
}

/* ================================================== */
/* One line per file for the result's message; returns its severity */

static DOC_Status
summarise(const StatusFile *f, double now, FILE *msg)
{
  const PKS_Status *st = &f->st;
  const PKS_Disruption *d = NULL;
  DOC_Status status = DOC_OK;
  unsigned long total = 0;
  int i;

  fprintf(msg, "%s", ftell(msg) ? "; " : "");
  if (f->error[0]) {
    fprintf(msg, "%s", f->error);
    return DOC_WARN;
  }
  for (i = 0; i < PKS_CAUSE_COUNT; i++)
    total += st->disruptions[i];
  /* the last step */
  for (i = st->n_ring - 1; i >= 0 && !d; i--)
    d = st->ring[i].action == PKS_ACTION_STEP ? &st->ring[i] : NULL;

  fprintf(msg, "%s: %s, mode %s, %lu reads (%lu failed), %lu steps, %lu flushes, "
          "%lu disruptions", f->name, st->device, st->mode, st->counters.reads,
          st->counters.read_failures, st->counters.steps, st->counters.flushes, total);
  if (!st->running) {
    fprintf(msg, " (chronyd stopped)");
  } else if (f->stale) {
    fprintf(msg, " (stale: chronyd pid %ld is not running)", st->pid);
    status = DOC_WARN;
  }
  if (st->failing) {
    fprintf(msg, "; reads are failing");
    status = DOC_WARN;
  }
  if (d && now - ts_seconds(&d->when) < RECENT) {
    fprintf(msg, "; clock stepped by %+.6f s (%s) %.0f min ago", d->size,
            PKS_CauseNames[d->cause], (now - ts_seconds(&d->when)) / 60.0);
    status = DOC_WARN;
  }
  return status;
}

/* ================================================== */
/* JSON details: {"dir": ..., "files": [one object per file]} */

static void
json_file(const StatusFile *f, FILE *o)
{
  const PKS_Status *st = &f->st;
  const PKS_Counters *c = &st->counters;
  const PKS_Disruption *d;
  int i;

  fprintf(o, "{\"file\": ");
  DOC_JsonString(o, f->name);
  if (f->error[0]) {
    fprintf(o, ", \"error\": ");
    DOC_JsonString(o, f->error);
    fprintf(o, "}");
    return;
  }
  fprintf(o, ", \"refclock\": ");
  DOC_JsonString(o, f->index);
  fprintf(o, ", \"pid\": %ld, \"state\": \"%s\", \"stale\": %s, \"updated\": %.9f, "
          "\"device\": ", st->pid, st->running ? "running" : "stopped",
          f->stale ? "true" : "false", f->updated);
  DOC_JsonString(o, st->device);
  fprintf(o, ", \"mode\": ");
  DOC_JsonString(o, st->mode);
  fprintf(o, ", \"best_mode\": ");
  DOC_JsonString(o, st->best_mode);
  fprintf(o, ", \"mode_since\": %.9f, \"failing\": %s, \"counters\": {\"reads\": %lu, "
          "\"read_failures\": %lu, \"samples\": %lu, \"steps\": %lu, \"flushes\": %lu}, "
          "\"disruptions_total\": {", ts_seconds(&st->mode_since),
          st->failing ? "true" : "false", c->reads, c->read_failures, c->samples, c->steps,
          c->flushes);
  for (i = 0; i < PKS_CAUSE_COUNT; i++)
    fprintf(o, "%s\"%s\": %lu", i ? ", " : "", PKS_CauseNames[i], st->disruptions[i]);
  fprintf(o, "}, \"disruptions\": [");
  for (i = 0, d = st->ring; i < st->n_ring; i++, d++) {
    fprintf(o, "%s{\"when\": %ld.%09ld, \"size\": %.9f, \"cause\": \"%s\", \"delay\": %.6f, "
            "\"action\": \"%s\", \"text\": ", i ? ", " : "", (long)d->when.tv_sec,
            d->when.tv_nsec, d->size, PKS_CauseNames[d->cause], d->delay,
            PKS_ActionNames[d->action]);
    DOC_JsonString(o, PKS_CauseTexts[d->cause]);
    fprintf(o, "}");
  }
  fprintf(o, "]}");
}

/* ================================================== */
/* Prometheus: one family at a time over all parsed files */

typedef enum {
  M_INFO, M_UPDATED, M_READS, M_FAILURES, M_SAMPLES, M_STEPS, M_FLUSHES, M_MODE, M_FALLBACK,
  M_SINCE, M_FAILING, M_DISRUPTIONS, M_LAST_WHEN, M_LAST_SIZE, M_LAST_DELAY, M_LAST_STEPPED,
  M_COUNT
} Family;

/* Their names after "ptpkvm_" (a counter's ends in "_total"; their meaning
   is in docs/monitoring.md) */
static const char *families[M_COUNT] = {
  "info", "status_updated_timestamp_seconds", "reads_total", "read_failures_total",
  "samples_total", "steps_total", "flushes_total", "reading_mode", "reading_mode_fallback",
  "reading_mode_since_timestamp_seconds", "reading_failing", "disruptions_total",
  "last_disruption_timestamp_seconds", "last_disruption_size_seconds",
  "last_disruption_detection_delay_seconds", "last_disruption_stepped"
};

/* Value of family k for a file (sub: the mode or cause of the sample);
   returns 0 if the file has none */
static int
value(const StatusFile *f, Family k, int sub, double *v)
{
  const PKS_Status *st = &f->st;
  const PKS_Disruption *d = st->n_ring ? &st->ring[st->n_ring - 1] : NULL;
  const double values[M_COUNT] = {
    1.0, f->updated, st->counters.reads, st->counters.read_failures, st->counters.samples,
    st->counters.steps, st->counters.flushes, !strcmp(PHCR_ModeName(sub), st->mode),
    strcmp(st->mode, st->best_mode) != 0, ts_seconds(&st->mode_since), st->failing,
    sub < PKS_CAUSE_COUNT ? st->disruptions[sub] : 0, d ? ts_seconds(&d->when) : 0.0,
    d ? d->size : 0.0, d ? d->delay : 0.0, d && d->action == PKS_ACTION_STEP
  };

  *v = values[k];
  return !f->error[0] && (d || k < M_LAST_WHEN);
}

static void
prom_label(FILE *o, const char *name, const char *s)
{
  /* label values: quotes, backslashes and line breaks left out */
  fprintf(o, ",%s=\"", name);
  for (; *s; s++) {
    if (*s != '"' && *s != '\\' && *s != '\n')
      fprintf(o, "%c", *s);
  }
  fprintf(o, "\"");
}

static void
prometheus(FILE *o)
{
  int i, k, sub, subs;
  double v;

  for (k = 0; k < M_COUNT; k++) {
    fprintf(o, "# TYPE ptpkvm_%s %s\n", families[k],
            strstr(families[k], "_total") ? "counter" : "gauge");
    subs = k == M_MODE ? PHCR_MODE_COUNT : k == M_DISRUPTIONS ? PKS_CAUSE_COUNT : 1;
    for (i = 0; i < n_files; i++) {
      for (sub = 0; sub < subs && value(&files[i], k, sub, &v); sub++) {
        fprintf(o, "ptpkvm_%s{refclock=\"%s\"", families[k], files[i].index);
        if (k == M_INFO) {
          prom_label(o, "device", files[i].st.device);
          prom_label(o, "state", files[i].st.running ? (files[i].stale ? "gone" : "running")
                                                     : "stopped");
        } else if (subs > 1) {
          prom_label(o, k == M_MODE ? "mode" : "cause",
                     k == M_MODE ? PHCR_ModeName(sub) : PKS_CauseNames[sub]);
        }
        /* counts as integers, times and sizes to the nanosecond */
        fprintf(o, v == (double)(long long)v ? "} %.0f\n" : "} %.9f\n", v);
      }
    }
  }
}

/* ================================================== */

void
DOC_CheckStatus(DOC_Context *ctx)
{
  char fix[DOC_TEXT_LEN], *msg_buf = NULL;
  size_t msg_len, json_len, prom_len;
  DOC_Status status = DOC_OK, s;
  FILE *msg, *json, *prom;
  DOC_Result *r;
  double now = time(NULL);
  int i;

  n_files = 0;
  collect(ctx);
  if (n_files == 0) {
    DOC_AddResult(ctx, "ptpkvm.status", DOC_SKIP, NULL,
                  "no PTPKVM status file in " RUN_DIR " (%s): %s", dir_errno ?
                  strerror(dir_errno) : "none there", dir_errno == EACCES ?
                  "run the doctor as root or as a member of chrony's group to read it" :
                  "the patched chronyd writes ptpkvm-N.status there while it runs "
                  "refclock PTPKVM");
    return;
  }

  msg = open_memstream(&msg_buf, &msg_len);
  json = open_memstream(&json_buf, &json_len);
  prom = open_memstream(&prom_buf, &prom_len);
  if (!msg || !json || !prom)
    abort();
  fprintf(json, "{\"dir\": \"" RUN_DIR "\", \"files\": [");
  for (i = 0; i < n_files; i++) {
    load_file(ctx, &files[i]);
    s = summarise(&files[i], now, msg);
    status = s > status ? s : status;
    fprintf(json, "%s", i ? ", " : "");
    json_file(&files[i], json);
  }
  fprintf(json, "]}");
  prometheus(prom);
  fclose(msg);
  fclose(json);
  fclose(prom);

  snprintf(fix, sizeof (fix), "see the disruption lines in chronyd's log and %s",
           DOC_DocPath(ctx, "monitoring.md"));
  r = DOC_AddResult(ctx, "ptpkvm.status", status, fix, "%s", msg_buf);
  free(msg_buf);
  r->details_json = json_buf;
  r->prometheus = prom_buf;
}
