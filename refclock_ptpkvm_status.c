/*
  chrony-ptpkvm -- machine-readable state of the PTPKVM reference clock driver

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

  The PTPKVM driver's status file (see refclock_ptpkvm.h): the writer and
  the parser are the only definition of the format.
  */

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "refclock_ptpkvm.h"

const char *const PKS_CauseNames[PKS_CAUSE_COUNT] = {
  "pause", "host_step", "guest_step", "suspend", "outage", "cold_start", "chronyd_step",
  "other"
};

const char *const PKS_CauseTexts[PKS_CAUSE_COUNT] = {
  "host clock jumped ahead (VM paused?)", "host clock jumped back (host clock stepped?)",
  "the guest clock was stepped by another program", "the guest resumed from suspend",
  "the host clock moved while there were no readings", "initial offset from the host clock",
  "chronyd stepped the clock away from the host clock", "unknown cause"
};

#define DISRUPTION_ACTIONS (PKS_ACTION_STEP + 1)
const char *const PKS_ActionNames[DISRUPTION_ACTIONS] = { "none", "flush", "step" };

#define N_COUNTERS 5
static const char *const counter_names[N_COUNTERS] = {
  "reads", "read_failures", "samples", "steps", "flushes"
};
static const size_t counter_offsets[N_COUNTERS] = {
  offsetof(PKS_Counters, reads), offsetof(PKS_Counters, read_failures),
  offsetof(PKS_Counters, samples), offsetof(PKS_Counters, steps),
  offsetof(PKS_Counters, flushes)
};

#define STR_(x) #x
#define STR(x) STR_(x)

/* ================================================== */

static void
copy_line(char *dst, size_t len, const char *src)
{
  size_t i;

  /* One line of printable text: control characters become spaces */
  for (i = 0; src && src[i] && i + 1 < len; i++)
    dst[i] = (unsigned char)src[i] < 0x20 || src[i] == 0x7f ? ' ' : src[i];
  dst[i] = '\0';
}

/* ================================================== */

void
PKS_Init(PKS_Status *st, long pid, const char *device)
{
  memset(st, 0, sizeof (*st));
  st->pid = pid;
  st->running = 1;
  copy_line(st->device, sizeof (st->device), device);
  copy_line(st->mode, sizeof (st->mode), "none");
  copy_line(st->best_mode, sizeof (st->best_mode), "none");
}

/* ================================================== */

static int
set_line(char *dst, size_t len, const char *src)
{
  char line[PHCR_PATH_MAX];

  copy_line(line, len < sizeof (line) ? len : sizeof (line), src);
  if (!strcmp(line, dst))
    return 0;
  strcpy(dst, line);
  return 1;
}

/* ================================================== */

int
PKS_SetState(PKS_Status *st, const char *device, const char *mode, const char *best_mode,
             int failing, const struct timespec *now)
{
  int changed = 0;

  if (set_line(st->mode, sizeof (st->mode), mode)) {
    st->mode_since = *now;
    changed = 1;
  }
  changed |= set_line(st->best_mode, sizeof (st->best_mode), best_mode);
  changed |= set_line(st->device, sizeof (st->device), device);
  changed |= st->failing != (failing != 0);
  st->failing = failing != 0;
  return changed;
}

/* ================================================== */

void
PKS_AddDisruption(PKS_Status *st, const struct timespec *when, double size,
                  PKS_Cause cause, double delay, PKS_Action action)
{
  PKS_Disruption *d;

  if (st->n_ring == PKS_RING)
    memmove(st->ring, st->ring + 1, sizeof (st->ring[0]) * --st->n_ring);
  d = &st->ring[st->n_ring++];
  d->when = *when;
  d->size = size;
  d->cause = cause;
  d->delay = delay;
  d->action = action;
  st->disruptions[cause]++;
}

/* ================================================== */

int
PKS_MakePath(char *buf, size_t len, const char *socket_path, int index)
{
  const char *slash;
  int n;

  if (!socket_path || !(slash = strrchr(socket_path, '/')))
    return 0;
  n = snprintf(buf, len, "%.*s/" PKS_FILE_PREFIX "%d" PKS_FILE_SUFFIX,
               (int)(slash - socket_path), socket_path, index);
  return n > 0 && (size_t)n < len;
}

/* ================================================== */

static void
format_status(const PKS_Status *st, FILE *f)
{
  const PKS_Disruption *d;
  int i;

  fprintf(f, "ptpkvm-status %d\npid %ld\nstate %s\ndevice %s\n", PKS_FORMAT_VERSION, st->pid,
          st->running ? "running" : "stopped", st->device);
  fprintf(f, "mode %s\nbest_mode %s\nmode_since %lld.%09ld\nfailing %d\n", st->mode,
          st->best_mode, (long long)st->mode_since.tv_sec, st->mode_since.tv_nsec,
          st->failing);
  for (i = 0; i < N_COUNTERS; i++)
    fprintf(f, "%s %lu\n", counter_names[i],
            *(const unsigned long *)((const char *)&st->counters + counter_offsets[i]));
  for (i = 0; i < PKS_CAUSE_COUNT; i++)
    fprintf(f, "disruptions %s %lu\n", PKS_CauseNames[i], st->disruptions[i]);
  for (i = 0, d = st->ring; i < st->n_ring; i++, d++)
    fprintf(f, "disruption %lld.%09ld %+.9f %s %.6f %s %s\n", (long long)d->when.tv_sec,
            d->when.tv_nsec, d->size, PKS_CauseNames[d->cause], d->delay,
            PKS_ActionNames[d->action], PKS_CauseTexts[d->cause]);
  fprintf(f, "end\n");
}

/* ================================================== */
/* A temporary file next to path, then rename: a reader sees the old or the
   new file, never a part.  open and fdopen as chronyd's own files (its
   seccomp filter allows their calls); chmod, not fchmod, is in the filter
   and makes the mode independent of the umask. */

int
PKS_Write(const PKS_Status *st, const char *path)
{
  char tmp[PHCR_PATH_MAX + 16];
  FILE *f = NULL;
  int fd, err = 0;

  if (snprintf(tmp, sizeof (tmp), "%s.tmp", path) >= (int)sizeof (tmp))
    return -ENAMETOOLONG;
  fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0 || !(f = fdopen(fd, "w"))) {
    err = -errno;
    if (fd >= 0)
      close(fd);
  } else {
    format_status(st, f);
    if ((ferror(f) | fclose(f)) && !(err = -errno))
      err = -EIO;
  }
  if (!err && chmod(tmp, 0644) < 0)
    err = -errno;
  if (!err && rename(tmp, path) < 0)
    err = -errno;
  if (err)
    unlink(tmp);
  return err < 0 ? err : 1;
}

/* ================================================== */
/* Parser */

static int
parse_count(const char *s, unsigned long *v)
{
  char *end;

  errno = 0;
  *v = strtoul(s, &end, 10);
  return *s >= '0' && *s <= '9' && !errno && *end == '\0';
}

/* ================================================== */
/* "<seconds>.<9 digits>", then the end or a space; returns the rest */

static const char *
parse_time(const char *s, struct timespec *ts)
{
  char frac[10];
  long long sec;
  int n = 0;

  if (*s < '0' || *s > '9' || sscanf(s, "%lld.%9[0-9]%n", &sec, frac, &n) != 2 ||
      strlen(frac) != 9 || (s[n] != '\0' && s[n] != ' '))
    return NULL;
  ts->tv_sec = sec;
  ts->tv_nsec = atol(frac);
  return s + n;
}

/* ================================================== */

static int
lookup(const char *const *names, int n, const char *name)
{
  int i;

  for (i = 0; i < n && strcmp(names[i], name); i++)
    ;
  return i < n ? i : -1;
}

/* ================================================== */

static const char *
parse_disruption(PKS_Status *st, const char *s)
{
  char cause[32], action[8];
  PKS_Disruption *d;
  int i, n = 0;

  if (st->n_ring >= PKS_RING)
    return "more than " STR(PKS_RING);
  d = &st->ring[st->n_ring];
  memset(d, 0, sizeof (*d));
  if (!(s = parse_time(s, &d->when)))
    return "bad time (want <seconds>.<9 digits>)";
  if (sscanf(s, "%lf %31s %lf %7s%n", &d->size, cause, &d->delay, action, &n) != 4 ||
      !isfinite(d->size) || !(d->delay >= 0.0) || (s[n] != '\0' && s[n] != ' '))
    return "want <when> <size> <cause> <delay> <action> <text>";
  if ((i = lookup(PKS_ActionNames, DISRUPTION_ACTIONS, action)) < 0)
    return "action is not none, flush or step";
  d->action = i;
  i = lookup(PKS_CauseNames, PKS_CAUSE_COUNT, cause);
  d->cause = i < 0 ? PKS_CAUSE_OTHER : i;
  st->n_ring++;
  return NULL;
}

/* ================================================== */
/* One "key value" line.  Unknown keys are skipped: version 1 readers
   accept files with fields added later. */

static const char *
parse_line(PKS_Status *st, const char *key, const char *v)
{
  char name[32];
  unsigned long u;
  int i, n = 0;

  if ((i = lookup(counter_names, N_COUNTERS, key)) >= 0) {
    if (!parse_count(v, (unsigned long *)((char *)&st->counters + counter_offsets[i])))
      return "not a count";
  } else if (!strcmp(key, "pid")) {
    if (!parse_count(v, &u) || u == 0 || u > 0x7fffffffUL)
      return "not a process id";
    st->pid = u;
  } else if (!strcmp(key, "state")) {
    if (strcmp(v, "running") && strcmp(v, "stopped"))
      return "not running or stopped";
    st->running = !strcmp(v, "running");
  } else if (!strcmp(key, "device")) {
    copy_line(st->device, sizeof (st->device), v);
  } else if (!strcmp(key, "mode") || !strcmp(key, "best_mode")) {
    copy_line(key[0] == 'm' ? st->mode : st->best_mode, PKS_MODE_MAX, v);
  } else if (!strcmp(key, "mode_since")) {
    if (!parse_time(v, &st->mode_since))
      return "bad time (want <seconds>.<9 digits>)";
  } else if (!strcmp(key, "failing")) {
    if (strcmp(v, "0") && strcmp(v, "1"))
      return "not 0 or 1";
    st->failing = v[0] == '1';
  } else if (!strcmp(key, "disruptions")) {
    if (sscanf(v, "%31s %n", name, &n) != 1 || !n || !parse_count(v + n, &u))
      return "want <cause> <count>";
    i = lookup(PKS_CauseNames, PKS_CAUSE_COUNT, name);
    st->disruptions[i < 0 ? PKS_CAUSE_OTHER : i] += u;
  } else if (!strcmp(key, "disruption")) {
    return parse_disruption(st, v);
  }
  return NULL;
}

/* ================================================== */

int
PKS_Parse(const char *text, PKS_Status *st, char *err, size_t err_len)
{
  char line[512], *v = NULL;
  const char *s = text, *nl, *problem = NULL;
  int n = 0, have_state = 0, have_end = 0;

  memset(st, 0, sizeof (*st));
  while (*s && !have_end && !problem) {
    n++;
    nl = strchr(s, '\n');
    if (!nl || nl - s >= (long)sizeof (line)) {
      problem = nl ? "line too long" : "incomplete line (file truncated?)";
      break;
    }
    memcpy(line, s, nl - s);
    line[nl - s] = '\0';
    s = nl + 1;

    v = strchr(line, ' ');
    if (v)
      *v++ = '\0';
    if (n == 1 && (strcmp(line, "ptpkvm-status") || !v))
      problem = "not a PTPKVM status file (no 'ptpkvm-status' header)";
    else if (n == 1 && strcmp(v, STR(PKS_FORMAT_VERSION)))
      problem = "not format version " STR(PKS_FORMAT_VERSION) " (written by a newer driver?)";
    else if (n > 1 && !strcmp(line, "end") && !v)
      have_end = 1;
    else if (n > 1 && !v)
      problem = "a key without a value";
    else if (n > 1 && (problem = parse_line(st, line, v)))
      break;
    have_state |= n > 1 && !strcmp(line, "state");
    v = NULL;
  }

  if (!problem) {
    n++;
    if (n == 1)
      problem = "empty file";
    else if (!have_end)
      problem = "no 'end' line (file truncated?)";
    else if (*s)
      problem = "text after the 'end' line";
    else if (!st->pid || !have_state)
      problem = st->pid ? "no state line" : "no pid line";
  }
  /* A bad value is named by its key */
  if (problem)
    snprintf(err, err_len, "line %d: %s%s%s", n, v ? line : "", v ? ": " : "", problem);
  return !problem;
}
