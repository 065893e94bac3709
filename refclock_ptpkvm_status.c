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

  The PTPKVM driver's status file: the state it records, the text format
  (version 1, one "key value" line each, docs/monitoring.md), the atomic
  write, and the parser ptpkvm-doctor uses.  The writer and the parser
  are the only definition of the format.  Nothing here reads a clock or
  knows chrony.
  */

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "refclock_ptpkvm_status.h"

static const char *const cause_names[PKS_CAUSE_COUNT] = {
  "pause", "host_step", "guest_step", "suspend", "outage", "cold_start", "leap",
  "chronyd_step", "other"
};

static const char *const cause_texts[PKS_CAUSE_COUNT] = {
  "host clock jumped ahead (VM paused?)", "host clock jumped back (host clock stepped?)",
  "the guest clock was stepped by another program", "the guest resumed from suspend",
  "the host clock moved while there were no readings", "initial offset from the host clock",
  "leap second", "chronyd stepped the clock away from the host clock", "unknown cause"
};

/* The actions a disruption records */
#define DISRUPTION_ACTIONS (PKS_ACTION_STEP + 1)
static const char *const action_names[DISRUPTION_ACTIONS] = { "none", "flush", "step" };

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
  char line[PKS_NAME_MAX];

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
                  PKS_Cause cause, double delay, PKS_Action action, const char *text)
{
  PKS_Disruption *d;

  if ((unsigned int)cause >= PKS_CAUSE_COUNT)
    cause = PKS_CAUSE_OTHER;
  if ((unsigned int)action >= DISRUPTION_ACTIONS)
    action = PKS_ACTION_NONE;

  if (st->n_ring < PKS_RING) {
    d = &st->ring[(st->ring_head + st->n_ring++) % PKS_RING];
  } else {
    d = &st->ring[st->ring_head];
    st->ring_head = (st->ring_head + 1) % PKS_RING;
  }

  d->when = *when;
  d->size = size;
  d->cause = cause;
  d->delay = delay;
  d->action = action;
  copy_line(d->text, sizeof (d->text), text);
  st->disruptions[cause]++;
}

/* ================================================== */

const PKS_Disruption *
PKS_GetDisruption(const PKS_Status *st, int i)
{
  if (i < 0 || i >= st->n_ring)
    return NULL;
  return &st->ring[(st->ring_head + i) % PKS_RING];
}

/* ================================================== */

const char *
PKS_CauseName(PKS_Cause cause)
{
  return (unsigned int)cause < PKS_CAUSE_COUNT ? cause_names[cause] : "other";
}

/* ================================================== */

const char *
PKS_CauseText(PKS_Cause cause)
{
  return cause_texts[(unsigned int)cause < PKS_CAUSE_COUNT ? cause : PKS_CAUSE_OTHER];
}

/* ================================================== */

const char *
PKS_ActionName(PKS_Action action)
{
  return (unsigned int)action < DISRUPTION_ACTIONS ? action_names[action] : "none";
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
/* Formatting into a fixed buffer; overflow is remembered */

typedef struct {
  char *buf;
  size_t len, used;
  int overflow;
} Text;

static void
text_add(Text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
text_add(Text *t, const char *fmt, ...)
{
  va_list ap;
  int n;

  if (t->overflow)
    return;
  va_start(ap, fmt);
  n = vsnprintf(t->buf + t->used, t->len - t->used, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= t->len - t->used)
    t->overflow = 1;
  else
    t->used += n;
}

/* ================================================== */

static void
format_disruption(Text *t, const PKS_Disruption *d)
{
  text_add(t, "disruption %lld.%09ld %+.9f %s %.6f %s %s\n", (long long)d->when.tv_sec,
           d->when.tv_nsec, d->size, PKS_CauseName(d->cause), d->delay,
           PKS_ActionName(d->action), d->text);
}

/* ================================================== */
/* The whole file; returns its length or -1 if it does not fit */

static int
format_status(const PKS_Status *st, char *buf, size_t len)
{
  Text t = { buf, len, 0, 0 };
  const PKS_Counters *c = &st->counters;
  int i;

  text_add(&t, "ptpkvm-status %d\n", PKS_FORMAT_VERSION);
  text_add(&t, "pid %ld\nstate %s\ndevice %s\n", st->pid, st->running ? "running" : "stopped",
           st->device);
  text_add(&t, "mode %s\nbest_mode %s\nmode_since %lld.%09ld\nfailing %d\n", st->mode,
           st->best_mode, (long long)st->mode_since.tv_sec, st->mode_since.tv_nsec,
           st->failing);
  text_add(&t, "reads %lu\nread_failures %lu\nsamples %lu\nsteps %lu\nflushes %lu\n",
           c->reads, c->read_failures, c->samples, c->steps, c->flushes);
  for (i = 0; i < PKS_CAUSE_COUNT; i++)
    text_add(&t, "disruptions %s %lu\n", cause_names[i], st->disruptions[i]);
  for (i = 0; i < st->n_ring; i++)
    format_disruption(&t, PKS_GetDisruption(st, i));
  text_add(&t, "end\n");

  return t.overflow ? -1 : (int)t.used;
}

/* ================================================== */

static int
write_all(int fd, const char *buf, size_t len)
{
  ssize_t n;

  while (len > 0) {
    n = write(fd, buf, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return -errno;
    buf += n;
    len -= n;
  }
  return 0;
}

/* ================================================== */
/* Temporary file next to path, then rename: a reader sees the old or the
   new file, never a part.  chmod, not fchmod, is in chronyd's seccomp
   list; it makes the mode independent of the umask. */

static int
replace_file(const char *path, const char *buf, size_t len)
{
  char tmp[PKS_NAME_MAX + 16];
  int fd, err;

  if (snprintf(tmp, sizeof (tmp), "%s.tmp", path) >= (int)sizeof (tmp))
    return -ENAMETOOLONG;

  fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0)
    return -errno;
  err = write_all(fd, buf, len);
  if (close(fd) < 0 && !err)
    err = -errno;
  if (!err && chmod(tmp, 0644) < 0)
    err = -errno;
  if (!err && rename(tmp, path) < 0)
    err = -errno;
  if (err)
    unlink(tmp);
  return err;
}

/* ================================================== */

int
PKS_Write(PKS_Status *st, const char *path)
{
  static char buf[PKS_FILE_MAX];
  int len, err;

  len = format_status(st, buf, sizeof (buf));
  if (len < 0)
    return -EOVERFLOW;

  err = replace_file(path, buf, len);
  return err < 0 ? err : 1;
}

/* ================================================== */
/* Parser: one line at a time, the key selects the field */

typedef struct {
  char *err;
  size_t err_len;
  int line;
} Parser;

static int
fail(Parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
fail(Parser *p, const char *fmt, ...)
{
  char msg[256];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(msg, sizeof (msg), fmt, ap);
  va_end(ap);
  snprintf(p->err, p->err_len, "line %d: %s", p->line, msg);
  return 0;
}

/* ================================================== */

static int
parse_ulong(const char *s, unsigned long *v)
{
  char *end;

  if (*s < '0' || *s > '9')
    return 0;
  errno = 0;
  *v = strtoul(s, &end, 10);
  return !errno && *end == '\0';
}

/* ================================================== */
/* "<seconds>.<9 digits>", the next character must be end or a space */

static const char *
parse_time(const char *s, struct timespec *ts)
{
  char *end;
  long long sec;
  long ns = 0;
  int i;

  if (*s < '0' || *s > '9')
    return NULL;
  errno = 0;
  sec = strtoll(s, &end, 10);
  if (errno || *end != '.')
    return NULL;
  for (i = 1; i <= 9; i++) {
    if (end[i] < '0' || end[i] > '9')
      return NULL;
    ns = ns * 10 + (end[i] - '0');
  }
  if (end[10] != '\0' && end[10] != ' ')
    return NULL;
  ts->tv_sec = sec;
  ts->tv_nsec = ns;
  return end + 10;
}

/* ================================================== */

static const char *
parse_double(const char *s, double *v)
{
  char *end;

  errno = 0;
  *v = strtod(s, &end);
  if (end == s || errno || !isfinite(*v) || (*end != '\0' && *end != ' '))
    return NULL;
  return end;
}

/* ================================================== */
/* Next space-delimited word into buf; returns the rest or NULL */

static const char *
parse_word(const char *s, char *buf, size_t len)
{
  size_t n = 0;

  while (*s == ' ')
    s++;
  while (s[n] && s[n] != ' ')
    n++;
  if (n == 0 || n >= len)
    return NULL;
  memcpy(buf, s, n);
  buf[n] = '\0';
  return s + n;
}

/* ================================================== */

static int
lookup(const char *const *names, int n, const char *name)
{
  int i;

  for (i = 0; i < n; i++) {
    if (!strcmp(names[i], name))
      return i;
  }
  return -1;
}

/* ================================================== */

static int
parse_disruption(Parser *p, PKS_Status *st, const char *s)
{
  PKS_Disruption d;
  char word[32];
  int i;

  memset(&d, 0, sizeof (d));
  if (!(s = parse_time(s, &d.when)))
    return fail(p, "disruption: bad time (want <seconds>.<9 digits>)");
  if (!(s = parse_double(s, &d.size)))
    return fail(p, "disruption: bad size");
  if (!(s = parse_word(s, word, sizeof (word))))
    return fail(p, "disruption: missing cause");
  i = lookup(cause_names, PKS_CAUSE_COUNT, word);
  d.cause = i < 0 ? PKS_CAUSE_OTHER : i;
  if (!(s = parse_double(s, &d.delay)) || d.delay < 0.0)
    return fail(p, "disruption: bad detection delay");
  if (!(s = parse_word(s, word, sizeof (word))) ||
      (i = lookup(action_names, DISRUPTION_ACTIONS, word)) < 0)
    return fail(p, "disruption: action is not none, flush or step");
  d.action = i;
  copy_line(d.text, sizeof (d.text), *s == ' ' ? s + 1 : s);

  if (st->n_ring >= PKS_RING)
    return fail(p, "more than %d disruptions", PKS_RING);
  st->ring[st->n_ring++] = d;
  return 1;
}

/* ================================================== */

static int
parse_totals(Parser *p, PKS_Status *st, const char *s)
{
  char name[32];
  unsigned long v;
  int i;

  if (!(s = parse_word(s, name, sizeof (name))) || *s != ' ' || !parse_ulong(s + 1, &v))
    return fail(p, "disruptions: want <cause> <count>");
  i = lookup(cause_names, PKS_CAUSE_COUNT, name);
  st->disruptions[i < 0 ? PKS_CAUSE_OTHER : i] += v;
  return 1;
}

/* ================================================== */
/* One "key value" line.  Unknown keys are skipped: version 1 readers
   accept files with fields added later. */

static int
parse_line(Parser *p, PKS_Status *st, const char *key, const char *v)
{
  static const char *const counters[] = { "reads", "read_failures", "samples", "steps",
                                          "flushes" };
  unsigned long *cv[] = { &st->counters.reads, &st->counters.read_failures,
                          &st->counters.samples, &st->counters.steps, &st->counters.flushes };
  unsigned long u;
  int i;

  if ((i = lookup(counters, 5, key)) >= 0) {
    if (!parse_ulong(v, cv[i]))
      return fail(p, "%s: not a count", key);
  } else if (!strcmp(key, "pid")) {
    if (!parse_ulong(v, &u) || u == 0 || u > 0x7fffffffUL)
      return fail(p, "pid: not a process id");
    st->pid = u;
  } else if (!strcmp(key, "state")) {
    if (strcmp(v, "running") && strcmp(v, "stopped"))
      return fail(p, "state is not running or stopped");
    st->running = !strcmp(v, "running");
  } else if (!strcmp(key, "device")) {
    copy_line(st->device, sizeof (st->device), v);
  } else if (!strcmp(key, "mode") || !strcmp(key, "best_mode")) {
    if (!*v || strlen(v) >= PKS_MODE_MAX || strchr(v, ' '))
      return fail(p, "%s: not a mode name", key);
    copy_line(key[0] == 'm' ? st->mode : st->best_mode, PKS_MODE_MAX, v);
  } else if (!strcmp(key, "mode_since")) {
    if (!parse_time(v, &st->mode_since))
      return fail(p, "mode_since: bad time (want <seconds>.<9 digits>)");
  } else if (!strcmp(key, "failing")) {
    if (strcmp(v, "0") && strcmp(v, "1"))
      return fail(p, "failing is not 0 or 1");
    st->failing = v[0] == '1';
  } else if (!strcmp(key, "disruptions")) {
    return parse_totals(p, st, v);
  } else if (!strcmp(key, "disruption")) {
    return parse_disruption(p, st, v);
  }
  return 1;
}

/* ================================================== */

int
PKS_Parse(const char *text, PKS_Status *st, char *err, size_t err_len)
{
  Parser p = { err, err_len, 0 };
  char line[PKS_TEXT_MAX + 128], *v;
  const char *s = text, *nl;
  size_t n;
  int have_pid = 0, have_state = 0, have_end = 0;

  memset(st, 0, sizeof (*st));
  while (*s && !have_end) {
    p.line++;
    nl = strchr(s, '\n');
    if (!nl)
      return fail(&p, "incomplete line (file truncated?)");
    n = nl - s;
    if (n >= sizeof (line))
      return fail(&p, "line too long");
    memcpy(line, s, n);
    line[n] = '\0';
    s = nl + 1;

    if (p.line == 1) {
      if (strncmp(line, "ptpkvm-status ", 14))
        return fail(&p, "not a PTPKVM status file (no 'ptpkvm-status' header)");
      if (strcmp(line + 14, "1"))
        return fail(&p, "format version %s, this reader knows version %d", line + 14,
                    PKS_FORMAT_VERSION);
      continue;
    }
    if (!strcmp(line, "end")) {
      have_end = 1;
      continue;
    }
    v = strchr(line, ' ');
    if (!v)
      return fail(&p, "'%s' without a value", line);
    *v++ = '\0';
    have_pid |= !strcmp(line, "pid");
    have_state |= !strcmp(line, "state");
    if (!parse_line(&p, st, line, v))
      return 0;
  }

  p.line++;
  if (p.line == 1)
    return fail(&p, "empty file");
  if (!have_end)
    return fail(&p, "no 'end' line (file truncated?)");
  if (*s)
    return fail(&p, "text after the 'end' line");
  if (!have_pid || !have_state)
    return fail(&p, "no %s line", have_pid ? "state" : "pid");
  return 1;
}
